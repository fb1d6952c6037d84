#include "core/policy.hpp"

namespace fnw {

ViolationAction effective_syscall_action(const FunctionPolicy& policy, Mode mode) {
    // Audit mode never acts, whatever the rule says: it is how a policy is tried out.
    if (mode == Mode::Audit) return ViolationAction::Report;
    return policy.syscalls.on_violation;
}

std::string_view to_string(Mode mode) { return mode == Mode::Audit ? "audit" : "enforce"; }

std::string_view to_string(ViolationAction action) {
    switch (action) {
    case ViolationAction::Report: return "report";
    case ViolationAction::Deny: return "deny";
    case ViolationAction::Kill: return "kill";
    }
    return "report";
}

std::optional<ViolationAction> parse_violation_action(std::string_view text) {
    if (text == "report") return ViolationAction::Report;
    if (text == "deny") return ViolationAction::Deny;
    if (text == "kill") return ViolationAction::Kill;
    return std::nullopt;
}

std::optional<Mode> parse_mode(std::string_view text) {
    if (text == "audit") return Mode::Audit;
    if (text == "enforce") return Mode::Enforce;
    return std::nullopt;
}

}  // namespace fnw
