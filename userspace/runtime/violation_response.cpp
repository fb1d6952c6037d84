// SPDX-License-Identifier: Apache-2.0
#include "runtime/violation_response.hpp"

#include <cstddef>

#include <fnwarden/events.h>
#include <spdlog/spdlog.h>

#include "core/display_name.hpp"
#include "core/event_kind.hpp"
#include "probes/probe_set.hpp"
#include "runtime/path_resolver.hpp"
#include "runtime/proc_info.hpp"
#include "runtime/process_handle.hpp"

namespace fnw {

KillOnViolation KillOnViolation::from(const EnforcementPlan& plan) {
    return {plan.network.userspace_kill, plan.files.userspace_kill, plan.exec.userspace_kill};
}

KillOnViolation KillOnViolation::from(const FunctionPolicy& policy, Mode mode) {
    return from(plan_enforcement(policy, mode, EnforcementCapabilities{}, /*launched=*/false));
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

namespace {

void respond_to_network(fnw_net_event& net, const KillOnViolation& kill, const LineageLookup* lineage) {
    if (auto status = read_proc_status(static_cast<pid_t>(net.hdr.tid))) net.hdr.ppid = status->ppid;
    if (lineage && net.hdr.lineage_source == FNW_LINEAGE_FROM_PROC) fill_lineage_from_proc(net.hdr, *lineage);
    if (kill.network && net.verdict == FNW_VERDICT_VIOLATION && net.action != FNW_ACTION_KILLED) {
        // The hook (or Landlock) already refused the operation; this ends
        // the process, through a pidfd proven to be the event's (never a
        // bare pid: it may belong to someone else by now).
        if (ProcessHandle::for_event(net.hdr, lineage ? lineage->cgroup2_root : std::filesystem::path()).kill())
            net.action = FNW_ACTION_KILLED;
    }
}

// False when the record ends here: allowed and untraced, or kept by
// `files` until its hash is done.
bool respond_to_file(FileRecord& file, const KillOnViolation& kill, FileDecider* files,
                     const std::filesystem::path& cgroup2_root) {
    // Names first, once, while the process may still be there: the
    // decider matches them, and every output reports them.
    if (needs_resolving(*file))
        resolve_file_event(file.edit(), *proc_view_for_event(file->hdr, cgroup2_root), *own_root_view());
    if (files && file->mechanism == FNW_MECH_LANDLOCK && file->verdict == FNW_VERDICT_VIOLATION)
        files->explain_refusal(file.edit());
    if (file->verdict == FNW_VERDICT_PENDING) {
        if (files) return files->decide_event(file) == FileDecider::Decision::Report;
        // Nobody here can match globs: say so rather than drop it. A held
        // process waits for a verdict nobody can give: fail closed.
        fnw_file_event& ev = file.edit();
        ev.verdict = FNW_VERDICT_VIOLATION;
        ev.action = FNW_ACTION_REPORTED;
        ev.missing = ev.access | (ev.nr == FNW_NR_EXEC ? 0 : ev.access2);
        if (ev.held && ProcessHandle::for_event(ev.hdr, cgroup2_root).kill()) {
            ev.action = FNW_ACTION_KILLED;
            ev.mechanism = FNW_MECH_HELD_KILL;
        }
        return true;
    }
    if (file->verdict == FNW_VERDICT_VIOLATION && file->action != FNW_ACTION_KILLED &&
        (is_exec_event(*file) ? kill.exec : kill.files)) {
        if (ProcessHandle::for_event(file->hdr, cgroup2_root).kill()) file.edit().action = FNW_ACTION_KILLED;
    }
    return true;
}

}  // namespace

void respond_to_record(Record record, const KillOnViolation& kill, const DecodedRecordHandler& next,
                       FileDecider* files, const LineageLookup* lineage) {
    if (auto* net = std::get_if<fnw_net_event>(&record)) {
        respond_to_network(*net, kill, lineage);
    } else if (auto* file = std::get_if<FileRecord>(&record)) {
        if (!respond_to_file(*file, kill, files, lineage ? lineage->cgroup2_root : std::filesystem::path())) return;
    }
    next(record);
}

void compile_rules_in_root_of(KernelMaps& maps, const Record& record, std::string_view function) {
    const auto* file = std::get_if<FileRecord>(&record);
    if (!file || (*file)->verdict != FNW_VERDICT_PENDING) return;
    const fnw_event_header& hdr = (*file)->hdr;
    Result<bool> added = maps.add_rules_root(hdr.policy_id, static_cast<pid_t>(hdr.pid));
    if (!added)  // most often the process is gone already
        spdlog::debug("{}: file rules not compiled in the root of pid {}: {}", display_name(function), hdr.pid,
                      added.error());
    else if (*added)
        spdlog::info("{}: file rules compiled in the root of pid {} (policy slot {}): the kernel decides there",
                     display_name(function), hdr.pid, hdr.policy_id);
}

}  // namespace fnw
