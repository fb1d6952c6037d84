#include "runtime/file_decider.hpp"

#include <signal.h>

#include <cstring>

namespace fnw {

bool FileDecider::set_policy(uint32_t policy_id, const FunctionPolicy& policy, Mode mode, std::string* error) {
    auto matcher = FileMatcher::compile(policy.files, error);
    if (!matcher) return false;
    Slot slot;
    slot.matcher = std::move(*matcher);
    slot.restricted = policy.files.restricted;
    slot.kill = effective_action(policy.files.on_violation, mode) != ViolationAction::Report;
    slots_[policy_id] = std::move(slot);
    return true;
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
        ev.missing = ev.access | ev.access2;
        return true;
    }
    const Slot& slot = found->second;
    uint32_t missing = 0;
    if (slot.restricted) {
        const EventPath path = event_path(ev);
        // A path the kernel could not walk whole is not the path: fail closed.
        missing = path.truncated ? ev.access : slot.matcher.missing(path.path, ev.access);
        if (ev.access2 && ev.path2[0] != '\0') {
            fnw_file_event second_name{};
            second_name.hdr = ev.hdr;
            second_name.dfd = ev.dfd;
            std::memcpy(second_name.path, ev.path2, sizeof(ev.path2));
            // The base the kernel resolved serves the second name too when
            // it is relative to the same directory (rename in place).
            if (ev.resolved_kind == FNW_RESOLVED_BASE) {
                second_name.resolved_kind = FNW_RESOLVED_BASE;
                std::memcpy(second_name.resolved, ev.resolved, sizeof(ev.resolved));
            }
            const EventPath path2 = event_path(second_name);
            missing |= path2.truncated || ev.path2_truncated ? ev.access2 : slot.matcher.missing(path2.path, ev.access2);
        }
    }
    if (!missing) {
        ++stats_.allowed;
        ev.verdict = FNW_VERDICT_ALLOWED;
        ev.action = FNW_ACTION_NONE;
        ev.mechanism = FNW_MECH_NONE;
        if (ev.resolved_kind == FNW_RESOLVED_OBJECT && ev.ino != 0) {
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
    if (slot.kill && ::kill(static_cast<pid_t>(ev.hdr.pid), SIGKILL) == 0) {
        ev.action = FNW_ACTION_KILLED;
        ev.mechanism = FNW_MECH_USER_KILL;
    }
    return true;
}

}  // namespace fnw
