// SPDX-License-Identifier: Apache-2.0
#include "daemon/daemon_status.hpp"

#include <filesystem>
#include <string>
#include <vector>

#include "core/file_access.hpp"
#include "runtime/process_handle.hpp"

namespace fnw {
namespace {

std::vector<std::string> flag_names(uint32_t flags) {
    std::vector<std::string> out;
    if (flags & FNW_CGROUP_TRACE) out.push_back("trace");
    if (flags & FNW_CGROUP_ARM_ON_EXEC) out.push_back("arm-on-exec");
    if (flags & FNW_CGROUP_INHERITED) out.push_back("inherited");
    if (flags & FNW_CGROUP_LEARN) out.push_back("learn");
    if (flags & FNW_CGROUP_LANDLOCK) out.push_back("landlock");
    if (flags & FNW_CGROUP_ARM_SKIP_EXEC) out.push_back("arm-after-init");
    return out;
}

}  // namespace

PinnedInfo pinned_status(const PinnedState& pinned) {
    PinnedInfo info;
    info.origin = to_string(pinned.origin);
    info.dir = pinned.dir.string();
    info.why_unpinned = pinned.why_unpinned;
    info.adopted_links = pinned.adopted_links;
    if (pinned.unread_gap) info.unread_gap_seconds.emplace(std::chrono::duration<double>(*pinned.unread_gap).count());
    for (const auto& dir : pinned.replaced) info.replaced.push_back(dir.string());
    info.unpinned_links = pinned.unpinned_links;
    return info;
}

KernelInfo kernel_status(const KernelCapabilities& features, const ProbeSet& probes) {
    KernelInfo kernel;
    kernel.release = features.release;
    kernel.seccomp_user_notif = features.seccomp_user_notif;
    if (features.landlock_abi) kernel.landlock_abi = *features.landlock_abi;
    kernel.lsm_programs = probes.lsm_available() ? "loaded" : probes.lsm_error();
    for (const auto& [hook, why] : probes.lsm_hooks()) kernel.lsm_hooks[hook] = why.empty() ? "loaded" : why;
    if (features.active_lsms) kernel.active_lsms = *features.active_lsms;  // null: securityfs not mounted
    return kernel;
}

std::vector<EnforcementInfo> enforcement_status(const KernelCapabilities& features, const ProbeSet& probes) {
    std::vector<EnforcementInfo> matrix;
    for (const auto& row : enforcement_matrix(features, LsmStatus{probes.lsm_error(), probes.lsm_hooks()}))
        matrix.push_back(EnforcementInfo{row.event_class, row.launched, row.watched, row.rejected});
    return matrix;
}

std::vector<ProgramInfo> programs_status(const ProbeSet& probes) {
    std::vector<ProgramInfo> programs;
    for (const auto& p : probes.program_stats())
        programs.push_back(ProgramInfo{p.name, p.section, p.loaded, p.attached, p.run_count, p.run_time_ns});
    return programs;
}

std::vector<CgroupInfo> cgroups_status(const KernelMaps& maps, const PolicyTable& table,
                                       const Registrations& registrations, const CgroupIdentifier& identifier,
                                       std::map<uint32_t, size_t>& per_slot) {
    std::vector<CgroupInfo> cgroups;
    for (const auto& [id, entry] : maps.monitored_cgroups()) {
        ++per_slot[entry.policy_id];
        const SlotInfo* info = table.info(entry.policy_id);
        CgroupInfo& c = cgroups.emplace_back();
        c.cgroup_id = id;
        c.policy_id = entry.policy_id;
        c.function = info ? info->function : "unknown";
        c.flags = flag_names(entry.flags);
        if (const Registration* reg = registrations.find(id)) {
            c.path = reg->path;
            c.registered_by = reg->pid;
            if (reg->released) c.launcher = reg->launcher_gone ? "gone" : "unregistered";
        } else if (const IdentifiedCgroup* found = identifier.find(id)) {
            c.path = found->path;
            c.function = found->function;
            c.found_by = found->found_by;
            if (!found->k8s_pod.empty()) c.k8s = CgroupPodInfo{found->k8s_namespace, found->k8s_pod, found->container_id};
        }
    }
    return cgroups;
}

RootInfo root_info(const CompiledRoot& root, std::string path) {
    // s_dev's encoding (kernel_dev): major in the high 12 bits, minor in the low 20.
    const std::string dev = std::to_string(root.root_dev >> 20) + ":" + std::to_string(root.root_dev & 0xfffff);
    return RootInfo{root.mnt_ns, dev, root.root_ino, root.pid, std::move(path), file_access_names(root.rights)};
}

std::vector<FunctionInfo> functions_status(const PolicySet* set, const PolicyTable& table, const KernelMaps& maps,
                                           const FunctionTally& tally, const LostRecords& lost,
                                           std::map<uint32_t, size_t>& per_slot) {
    std::vector<FunctionInfo> functions;
    if (!set) return functions;
    for (const auto& p : set->policies) {
        const uint32_t slot = *table.slot_of(p.function);
        const FunctionTally::Counts counts = tally.get(p.function);
        const Mode mode = table.info(slot)->mode;
        functions.push_back(FunctionInfo{p.function, p.name, p.source, std::string(to_string(mode)), slot,
                                         per_slot[slot], counts.events, counts.violations, lost.gaps_of(p.function)});
        if (!p.code_pins.empty()) {
            const std::optional<CodeDirs> dirs = maps.code_dirs(slot);
            functions.back().code = CodePinsInfo{p.code_pins.size(), dirs ? dirs->checked : std::vector<std::string>{},
                                                 dirs ? dirs->not_checked : std::vector<std::string>{},
                                                 mode == Mode::Enforce ? "held, then killed" : "reported"};
        }
        if (const std::vector<CompiledRoot> roots = maps.rules_roots(slot); !roots.empty()) {
            auto& listed = functions.back().roots.emplace();
            for (const CompiledRoot& root : roots) {
                // One readlink per root: where the container's root is on the host.
                std::error_code ec;
                const auto path = std::filesystem::read_symlink("/proc/" + std::to_string(root.pid) + "/root", ec);
                listed.push_back(root_info(root, ec ? std::string() : path.string()));
            }
        }
    }
    return functions;
}

void add_engine_counters(DaemonCounters& d, const ProbeSet& probes, const FileDecider& files,
                         const OutputPipeline::Stats& out, const ControlServerStats& server) {
    const auto& decided = files.stats();
    const auto hashes = files.hash_stats();
    const auto worker = files.worker_stats();
    d.file_decided_allowed = decided.allowed;
    d.file_decided_violations = decided.violations;
    d.file_verdicts_remembered = decided.remembered;
    d.file_rule_objects_replaced = decided.replaced_rule_objects;
    d.file_rule_refreshes = probes.file_rule_refreshes();
    d.violation_repeats_reported = probes.violation_repeats_reported();
    d.exec_sha256_mismatches = decided.sha256_mismatches;
    d.exec_sha256_hashed = hashes.hashed;
    d.exec_sha256_cache_hits = hashes.cache_hits;
    d.exec_sha256_not_regular = hashes.not_regular;
    d.exec_sha256_too_large = hashes.too_large;
    d.exec_sha256_late = decided.sha256_late;
    d.holds_released = decided.holds_released;
    d.holds_killed = decided.holds_killed;
    d.holds_gone = decided.holds_gone;
    d.holds_expired = decided.holds_expired;
    d.exec_sha256_pending = worker ? worker->pending : 0;
    d.exec_hash_threads_stuck = worker ? worker->stuck_threads : 0;
    const auto kills = ProcessHandle::stats();
    d.kills_sent = kills.kills;
    d.kill_target_gone = kills.kill_target_gone;
    d.kill_not_the_event_process = kills.not_the_event_process;
    d.output_written = out.written;
    d.output_dropped = out.dropped;
    d.output_queued = out.queued;
    d.client_dropped = server.dropped_messages;
    d.clients_refused = server.refused_permission + server.refused_capacity;
}

WebhookCounters webhook_counters(const WebhookSink& webhook) {
    const auto w = webhook.stats();
    return WebhookCounters{w.sent_events, w.failed_attempts, w.dropped_events(), w.queued};
}

}  // namespace fnw
