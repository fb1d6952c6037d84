#include "runtime/file_decider.hpp"

#include <signal.h>

#include <cstring>
#include <filesystem>
#include <memory>

namespace fnw {

bool FileDecider::set_policy(uint32_t policy_id, const FunctionPolicy& policy, Mode mode, std::string* error) {
    auto matcher = FileMatcher::compile(policy.files, policy.exec, error);
    if (!matcher) return false;
    Slot slot;
    slot.matcher = std::move(*matcher);
    slot.files_restricted = policy.files.restricted;
    slot.exec_restricted = policy.exec.restricted;
    slot.files_kill = effective_action(policy.files.on_violation, mode) != ViolationAction::Report;
    slot.exec_kill = effective_action(policy.exec.on_violation, mode) != ViolationAction::Report;
    for (const auto& [path, digest] : policy.exec.sha256) {
        // The kernel reports the executed file's resolved path: pin that
        // (/usr/bin/python3 -> python3.11). A path missing now is pinned as
        // written, and matches if it appears later under that name.
        std::error_code ec;
        const auto canonical = std::filesystem::canonical(path, ec);
        slot.sha256[ec ? path : canonical.string()] = digest;
    }
    slots_[policy_id] = std::move(slot);
    return true;
}

namespace {

// The rights `ev.access2` needs at the second name (a rename's new name)
// that the policy does not grant. Fails closed when the name could not be
// read or its base is not known for certain.
uint32_t missing_at_second_name(const FileMatcher& matcher, const fnw_file_event& ev) {
    if (ev.path2[0] == '\0' || ev.path2_truncated) return ev.access2;
    auto second = std::make_unique<fnw_file_event>();  // 12 KiB: not on the stack
    second->hdr = ev.hdr;
    second->dfd = ev.dfd2;
    std::memcpy(second->path, ev.path2, sizeof(ev.path2));
    // The base the kernel resolved is the first name's directory: it serves
    // the second only when both are relative to the same one.
    if (ev.resolved_kind == FNW_RESOLVED_BASE && ev.dfd2 == ev.dfd) {
        second->resolved_kind = FNW_RESOLVED_BASE;
        second->resolved_truncated = ev.resolved_truncated;
        std::memcpy(second->resolved, ev.resolved, sizeof(ev.resolved));
    }
    const EventPath path = event_path(*second);
    return path.truncated ? ev.access2 : matcher.missing(path.path, ev.access2);
}

}  // namespace

uint32_t FileDecider::check_sha256(const Slot& slot, fnw_file_event& ev) {
    if (slot.sha256.empty()) return 0;
    const EventPath path = event_path(ev);
    auto pin = slot.sha256.find(path.path);
    if (pin == slot.sha256.end()) return 0;  // not a pinned program
    const ExecHasher::Verdict verdict =
        hasher_.verify(static_cast<pid_t>(ev.hdr.pid), ev.dev, ev.ino, path.path, pin->second);
    ev.sha256_check = verdict.check;
    std::memcpy(ev.sha256, verdict.digest.data(), sizeof(ev.sha256));
    if (verdict.check == FNW_SHA256_MATCH) return 0;
    ++stats_.sha256_mismatches;
    return FNW_FILE_EXEC;
}

bool FileDecider::decide(fnw_file_event& ev) {
    if (ev.verdict != FNW_VERDICT_PENDING) return true;
    auto found = slots_.find(ev.hdr.policy_id);
    if (found == slots_.end()) {
        // A slot we never compiled: nothing can grant the access. Reported,
        // not acted on (the policy it ran under is unknown).
        ++stats_.unknown_policy;
        ev.verdict = FNW_VERDICT_VIOLATION;
        ev.action = FNW_ACTION_REPORTED;
        ev.missing = ev.access | (ev.nr == FNW_NR_EXEC ? 0 : ev.access2);  // exec: the union holds argv_len
        return true;
    }
    const Slot& slot = found->second;
    const bool exec = ev.nr == FNW_NR_EXEC;
    uint32_t missing = 0;
    if (exec ? slot.exec_restricted : slot.files_restricted) {
        const EventPath path = event_path(ev);
        // A path the kernel could not walk whole is not the path: fail closed.
        missing = path.truncated ? ev.access : slot.matcher.missing(path.path, ev.access);
        if (!exec && ev.access2) missing |= missing_at_second_name(slot.matcher, ev);  // exec: argv, not a name
    }
    // Allowed by path: a pinned program must also be the pinned content.
    if (exec && !missing && ev.resolved_kind == FNW_RESOLVED_OBJECT) missing = check_sha256(slot, ev);
    if (!missing) {
        ++stats_.allowed;
        ev.verdict = FNW_VERDICT_ALLOWED;
        ev.action = FNW_ACTION_NONE;
        ev.mechanism = FNW_MECH_NONE;
        // Opens only: the exec check does not consult file_verdicts.
        if (!exec && ev.resolved_kind == FNW_RESOLVED_OBJECT && ev.ino != 0) {
            fnw_file_verdict_key key{};
            key.policy_id = ev.hdr.policy_id;
            key.access = ev.access;
            key.dev = ev.dev;
            key.ino = ev.ino;
            key.parent_ino = ev.parent_ino;
            key.generation = ev.generation;
            if (remember_ && remember_(key)) ++stats_.remembered;
        }
        return ev.traced != 0;
    }
    ++stats_.violations;
    ev.verdict = FNW_VERDICT_VIOLATION;
    ev.missing = missing;
    ev.action = FNW_ACTION_REPORTED;
    ev.mechanism = FNW_MECH_NONE;
    if ((exec ? slot.exec_kill : slot.files_kill) && ::kill(static_cast<pid_t>(ev.hdr.pid), SIGKILL) == 0) {
        ev.action = FNW_ACTION_KILLED;
        ev.mechanism = FNW_MECH_USER_KILL;
    }
    return true;
}

}  // namespace fnw
