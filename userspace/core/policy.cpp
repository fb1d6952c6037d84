#include "core/policy.hpp"

namespace fnw {

ViolationAction effective_syscall_action(const FunctionPolicy& policy, Mode mode) {
    // Audit mode never acts, whatever the rule says: it is how a policy is tried out.
    if (mode == Mode::Audit) return ViolationAction::Report;
    return policy.syscalls.on_violation;
}

std::string_view to_string(Mode mode) { return mode == Mode::Audit ? "audit" : "enforce"; }

std::string_view to_string(ViolationAction action) {
    return action == ViolationAction::Report ? "report" : "kill";
}

std::optional<Mode> parse_mode(std::string_view text) {
    if (text == "audit") return Mode::Audit;
    if (text == "enforce") return Mode::Enforce;
    return std::nullopt;
}

}  // namespace fnw
