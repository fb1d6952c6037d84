// SPDX-License-Identifier: Apache-2.0
#include "runtime/local_guard.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>

#include <spdlog/spdlog.h>

#include "runtime/cgroup.hpp"

namespace fnw {

Result<std::unique_ptr<LocalGuard>> LocalGuard::create(ProbeSet& probes, uint32_t policy_id,
                                                       const FunctionPolicy& policy, Mode mode,
                                                       DecodedRecordHandler on_record) {
    if (Status written = probes.set_policy(policy_id, policy, mode); !written) return fail(written.error());
    std::unique_ptr<LocalGuard> guard(new LocalGuard(probes, policy_id, std::move(on_record)));
    guard->capabilities_ = enforcement_capabilities(probe_kernel_capabilities(), probes.lsm_error(), probes.lsm_hooks());
    if (Status compiled = guard->files_.set_policy(policy_id, policy, mode); !compiled) return fail(compiled.error());
    guard->files_.on_rules_stale([&probes](uint32_t slot) {
        if (Status refreshed = probes.refresh_file_rules(slot); !refreshed)
            spdlog::warn("re-reading the file rules' objects failed: {}", refreshed.error());
    });
    guard->files_.on_hold_end([&probes](uint32_t tid, uint32_t tgid) { return probes.end_hold(tid, tgid); });
    const KillOnViolation kill = KillOnViolation::from(policy, mode);
    LocalGuard* self = guard.get();
    // Network events name their ancestors from /proc (the socket hooks cannot).
    LineageLookup lineage = LineageLookup::from(probes, find_cgroup2_mount().value_or(std::filesystem::path()));
    guard->consumer_ = RingBufferConsumer::create(
        probes.ringbuf_fds(), [self, kill, lineage = std::move(lineage)](std::span<const std::byte> bytes) {
            Result<Record> record = decode_record(bytes);
            if (!record) {
                ++self->malformed_;
                return;
            }
            compile_rules_in_root_of(self->probes_, *record, self->function_);
            respond_to_record(std::move(*record), kill, self->on_record_, &self->files_, &lineage);
        });
    if (!guard->consumer_) return fail(std::string("cannot set up the ring buffer consumer: ") + std::strerror(errno));
    guard->drops_reported_ = probes.counters().ringbuf_drops;
    guard->last_drop_check_ = std::chrono::steady_clock::now();
    return guard;
}

Status LocalGuard::arm(const GuardRequest& request) {
    function_ = request.function;
    if (request.landlock)
        if (Status attached = probes_.attach_landlock_reporting(); !attached) return attached;
    if (request.learn && !probes_.reset_learned_syscalls(policy_id_)) return fail("cannot reset the learned syscall set");
    fnw_cgroup_entry entry{};
    entry.policy_id = policy_id_;
    entry.flags = FNW_CGROUP_ARM_ON_EXEC | (request.trace ? uint32_t{FNW_CGROUP_TRACE} : 0u) |
                  (request.learn ? uint32_t{FNW_CGROUP_LEARN} : 0u) |
                  (request.landlock ? uint32_t{FNW_CGROUP_LANDLOCK} : 0u);
    return probes_.monitor_cgroup(request.cgroup_id, entry);
}

void LocalGuard::disarm(uint64_t cgroup_id) {
    consumer_->drain();  // everything the function emitted up to its exit
    report_violation_summaries();  // and the repeats counted since the last look
    if (after_drain_) after_drain_();
    probes_.unmonitor_cgroup(cgroup_id);
}

void LocalGuard::report_violation_summaries() {
    for (const auto& summary : probes_.take_violation_summaries())
        on_record_(Record(summary));
}

int LocalGuard::poll_fd() const { return consumer_->epoll_fd(); }

bool LocalGuard::service() {
    // Always drain: below the wakeup threshold the kernel does not wake us.
    consumer_->drain();
    if (after_drain_) after_drain_();
    // Drops are reported while they happen, not only at the end: a flood
    // that overruns the ring should be visible while it lasts.
    if (auto now = std::chrono::steady_clock::now(); now - last_drop_check_ >= std::chrono::seconds(1)) {
        last_drop_check_ = now;
        const uint64_t drops = probes_.counters().ringbuf_drops;
        if (drops > drops_reported_)
            spdlog::warn("{}: {} events lost so far: ring buffer full (raise --ringbuf-bytes)", function_, drops);
        drops_reported_ = drops;
        report_violation_summaries();
    }
    return true;
}

}  // namespace fnw
