#include "runtime/violation_response.hpp"

#include <cstddef>
#include <cstring>
#include <memory>

#include <fnwarden/events.h>

#include "core/event_kind.hpp"
#include "probes/probe_set.hpp"
#include "runtime/proc_info.hpp"
#include "runtime/process_handle.hpp"

namespace fnw {

KillOnViolation KillOnViolation::from(const FunctionPolicy& policy, Mode mode) {
    KillOnViolation kill;
    kill.network = effective_network_action(policy, mode) == ViolationAction::Kill;
    kill.files = effective_action(policy.files.on_violation, mode) == ViolationAction::Kill;
    kill.exec = effective_action(policy.exec.on_violation, mode) == ViolationAction::Kill;
    return kill;
}

LineageLookup LineageLookup::from(const ProbeSet& probes, std::filesystem::path cgroup2_root) {
    return {std::move(cgroup2_root), [&probes](uint64_t cgroup_id) -> std::optional<uint32_t> {
                if (auto entry = probes.monitored_cgroup(cgroup_id)) return entry->policy_id;
                return std::nullopt;
            }};
}

void fill_lineage_from_proc(fnw_event_header& hdr, const LineageLookup& lookup) {
    hdr.lineage_source = FNW_LINEAGE_FROM_PROC;
    hdr.lineage_len = 0;
    // Where /proc cannot say (the process or an ancestor already exited),
    // the root is unknown: flagged like a chain too long to hold.
    hdr.lineage_truncated = 1;
    if (!lookup.policy_of) return;
    uint32_t pid = hdr.ppid;
    // pid 0 has no /proc entry; a cycle cannot happen (parents are older),
    // but the bound also caps the reads whatever /proc says.
    for (size_t depth = 0; pid > 0 && depth <= FNW_LINEAGE_MAX; ++depth) {
        const auto cgroup = read_proc_cgroup_id(static_cast<pid_t>(pid), lookup.cgroup2_root);
        if (!cgroup) return;
        const auto policy = lookup.policy_of(*cgroup);
        if (!policy || *policy != hdr.policy_id) {
            hdr.lineage_truncated = 0;  // the root is the last one named
            return;
        }
        if (depth == FNW_LINEAGE_MAX) return;
        hdr.lineage[hdr.lineage_len++] = pid;
        const auto status = read_proc_status(static_cast<pid_t>(pid));
        if (!status) return;
        pid = status->ppid;
    }
    if (pid == 0 && hdr.ppid != 0) hdr.lineage_truncated = 0;  // reached the top of the tree
}

void respond_to_record(std::span<const std::byte> record, const KillOnViolation& kill, const RecordHandler& next,
                       FileDecider* files, const LineageLookup* lineage) {
    fnw_event_header hdr;
    if (record.size() < sizeof(hdr)) return next(record);
    std::memcpy(&hdr, record.data(), sizeof(hdr));
    if (hdr.type == FNW_EVENT_NET && record.size() == sizeof(fnw_net_event)) {
        fnw_net_event net;
        std::memcpy(&net, record.data(), sizeof(net));
        if (auto status = read_proc_status(static_cast<pid_t>(net.hdr.tid))) net.hdr.ppid = status->ppid;
        if (lineage && net.hdr.lineage_source == FNW_LINEAGE_FROM_PROC) fill_lineage_from_proc(net.hdr, *lineage);
        if (kill.network && net.verdict == FNW_VERDICT_VIOLATION && net.action != FNW_ACTION_KILLED) {
            // The hook (or Landlock) already refused the operation; this ends
            // the process, through a pidfd proven to be the event's (never a
            // bare pid: it may belong to someone else by now).
            if (ProcessHandle::for_event(net.hdr, lineage ? lineage->cgroup2_root : std::filesystem::path()).kill())
                net.action = FNW_ACTION_KILLED;
        }
        return next(std::span(reinterpret_cast<const std::byte*>(&net), sizeof(net)));
    }
    if (hdr.type == FNW_EVENT_FILE && record.size() == sizeof(fnw_file_event)) {
        uint8_t verdict = 0;
        std::memcpy(&verdict, record.data() + offsetof(fnw_file_event, verdict), 1);
        const bool pending = verdict == FNW_VERDICT_PENDING;
        if (!pending && !kill.files && !kill.exec) return next(record);
        // The record is 12 KiB: copy only when it may have to change.
        auto file = std::make_unique<fnw_file_event>();
        std::memcpy(file.get(), record.data(), sizeof(*file));
        if (pending) {
            if (!files) {
                // Nobody here can match globs: say so rather than drop it.
                file->verdict = FNW_VERDICT_VIOLATION;
                file->action = FNW_ACTION_REPORTED;
                file->missing = file->access | (file->nr == FNW_NR_EXEC ? 0 : file->access2);
            } else {
                switch (files->decide_event(*file)) {
                case FileDecider::Decision::Drop: return;      // allowed, not traced
                case FileDecider::Decision::Deferred: return;  // its collect() reports it
                case FileDecider::Decision::Report: break;
                }
            }
        } else if (file->verdict == FNW_VERDICT_VIOLATION && file->action != FNW_ACTION_KILLED &&
                   (is_exec_event(*file) ? kill.exec : kill.files)) {
            if (ProcessHandle::for_event(file->hdr, lineage ? lineage->cgroup2_root : std::filesystem::path()).kill())
                file->action = FNW_ACTION_KILLED;
        }
        return next(std::span(reinterpret_cast<const std::byte*>(file.get()), sizeof(*file)));
    }
    next(record);
}

}  // namespace fnw
