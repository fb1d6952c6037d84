#include "probes/probe_set.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <vector>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "fnwarden_bpf.skel.h"

namespace fnw {
namespace {

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

// libbpf's own messages go through our logger: warnings stay visible, its
// chatty info lines (e.g. the skipped BTF-anchor section) only at debug.
int forward_libbpf_log(enum libbpf_print_level level, const char* format, va_list args) {
    // Sized to the message: a verifier log is one call and can be megabytes;
    // cutting it would hide the line that says why a program was rejected.
    va_list probe;
    va_copy(probe, args);
    int n = vsnprintf(nullptr, 0, format, probe);
    va_end(probe);
    if (n < 0) return n;
    std::string text(static_cast<size_t>(n) + 1, '\0');
    vsnprintf(text.data(), text.size(), format, args);
    text.resize(static_cast<size_t>(n));
    while (!text.empty() && text.back() == '\n') text.pop_back();
    switch (level) {
    case LIBBPF_WARN: spdlog::warn("libbpf: {}", text); break;
    case LIBBPF_INFO: spdlog::debug("libbpf: {}", text); break;
    case LIBBPF_DEBUG: spdlog::trace("libbpf: {}", text); break;
    }
    return n;
}

}  // namespace

std::variant<std::unique_ptr<ProbeSet>, ProbeError> ProbeSet::load(const ProbeOptions& options) {
    libbpf_set_print(forward_libbpf_log);
    fnwarden_bpf* skel = fnwarden_bpf__open();
    if (!skel) return ProbeError{"cannot open BPF object: " + errno_text(errno)};
    // From here on the skeleton belongs to `probes`; its destructor frees it.
    std::unique_ptr<ProbeSet> probes(new ProbeSet(skel));

    if (int err = bpf_map__set_max_entries(skel->maps.events, options.ringbuf_bytes))
        return ProbeError{"ring buffer size " + std::to_string(options.ringbuf_bytes) + ": " +
                          errno_text(err)};
    skel->rodata->ringbuf_wakeup_bytes = options.ringbuf_wakeup_bytes;

    if (int err = fnwarden_bpf__load(skel)) {
        std::string hint = (err == -EPERM || err == -EACCES)
                               ? " (needs root or CAP_BPF+CAP_PERFMON+CAP_SYS_RESOURCE)"
                               : "";
        return ProbeError{"cannot load BPF programs: " + errno_text(err) + hint};
    }
    if (int err = fnwarden_bpf__attach(skel))
        return ProbeError{"cannot attach BPF programs: " + errno_text(err)};
    return probes;
}

ProbeSet::~ProbeSet() { fnwarden_bpf__destroy(skel_); }

bool ProbeSet::set_policy(uint32_t policy_id, const fnw_policy& policy, std::string* error) {
    if (policy_id >= FNW_MAX_POLICIES) {
        if (error) *error = "policy id out of range";
        return false;
    }
    int err = bpf_map__update_elem(skel_->maps.policies, &policy_id, sizeof(policy_id), &policy,
                                   sizeof(policy), BPF_ANY);
    if (err && error) *error = "policies map update: " + errno_text(err);
    return err == 0;
}

bool ProbeSet::monitor_cgroup(uint64_t cgroup_id, const fnw_cgroup_entry& entry, std::string* error) {
    int err = bpf_map__update_elem(skel_->maps.monitored_cgroups, &cgroup_id, sizeof(cgroup_id),
                                   &entry, sizeof(entry), BPF_ANY);
    if (err && error) *error = "monitored_cgroups map update: " + errno_text(err);
    return err == 0;
}

bool ProbeSet::unmonitor_cgroup(uint64_t cgroup_id) {
    return bpf_map__delete_elem(skel_->maps.monitored_cgroups, &cgroup_id, sizeof(cgroup_id), 0) == 0;
}

std::optional<fnw_cgroup_entry> ProbeSet::monitored_cgroup(uint64_t cgroup_id) const {
    fnw_cgroup_entry entry{};
    if (bpf_map__lookup_elem(skel_->maps.monitored_cgroups, &cgroup_id, sizeof(cgroup_id), &entry,
                             sizeof(entry), 0) != 0)
        return std::nullopt;
    return entry;
}

std::optional<SyscallBitmap> ProbeSet::learned_syscalls(uint32_t policy_id) const {
    fnw_syscall_set set{};
    if (bpf_map__lookup_elem(skel_->maps.learned_syscalls, &policy_id, sizeof(policy_id), &set, sizeof(set), 0) != 0)
        return std::nullopt;
    SyscallBitmap bits;
    for (size_t nr = 0; nr < bits.size(); ++nr)
        if (set.bits[nr / 64] & (1ull << (nr % 64))) bits.set(nr);
    return bits;
}

bool ProbeSet::reset_learned_syscalls(uint32_t policy_id) {
    fnw_syscall_set empty{};
    return bpf_map__update_elem(skel_->maps.learned_syscalls, &policy_id, sizeof(policy_id), &empty, sizeof(empty),
                                BPF_ANY) == 0;
}

ProbeCounters ProbeSet::counters() const {
    ProbeCounters total;
    int ncpus = libbpf_num_possible_cpus();
    if (ncpus <= 0) return total;
    std::vector<fnw_counters> per_cpu(static_cast<size_t>(ncpus));
    uint32_t zero = 0;
    if (bpf_map__lookup_elem(skel_->maps.counters, &zero, sizeof(zero), per_cpu.data(),
                             per_cpu.size() * sizeof(fnw_counters), 0) != 0)
        return total;
    for (const auto& c : per_cpu) {
        total.events += c.events;
        total.violations += c.violations;
        total.emitted += c.emitted;
        total.ringbuf_drops += c.ringbuf_drops;
        total.kills += c.kills;
        total.signal_errors += c.signal_errors;
        total.cgroups_inherited += c.cgroups_inherited;
    }
    return total;
}

int ProbeSet::ringbuf_fd() const { return bpf_map__fd(skel_->maps.events); }

fnw_policy compile_kernel_policy(const FunctionPolicy& policy, Mode mode) {
    fnw_policy out{};
    for (size_t nr = 0; nr < policy.syscalls.allow.size(); ++nr)
        if (policy.syscalls.allow.test(nr)) out.syscall_allow[nr / 64] |= 1ull << (nr % 64);
    // The probe cannot make a syscall fail: "deny" falls back to kill there.
    // Launched functions get deny from seccomp, which runs before the probe.
    out.syscall_action = effective_syscall_action(policy, mode) == ViolationAction::Report
                             ? FNW_KACTION_REPORT
                             : FNW_KACTION_KILL;
    return out;
}

}  // namespace fnw
