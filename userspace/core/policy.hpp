// The policy model: what a function may do. Pure data; no BPF, no I/O.
#pragma once

#include <bitset>
#include <optional>
#include <string>

#include <fnwarden/limits.h>

namespace fnw {

enum class Mode { Audit, Enforce };

// What a violation of a rule section triggers (in enforce mode).
//   Report: let it happen, emit an event.
//   Deny:   make the operation fail with an error and no side effect, where a
//           mechanism can (seccomp for launched functions); elsewhere it falls
//           back to Kill, and the event says which mechanism acted.
//   Kill:   kill the process.
enum class ViolationAction { Report, Deny, Kill };

using SyscallBitmap = std::bitset<FNW_MAX_SYSCALLS>;

struct SyscallRules {
    SyscallBitmap allow;
    ViolationAction on_violation = ViolationAction::Report;
};

struct FunctionPolicy {
    std::string name;      // metadata.name
    std::string function;  // spec.selector.function
    Mode mode = Mode::Audit;
    SyscallRules syscalls;
    std::string source;  // file it came from, for messages
};

// The action the kernel applies: kill only in enforce mode.
ViolationAction effective_syscall_action(const FunctionPolicy& policy, Mode mode);

std::string_view to_string(Mode mode);
std::string_view to_string(ViolationAction action);
std::optional<Mode> parse_mode(std::string_view text);
std::optional<ViolationAction> parse_violation_action(std::string_view text);

}  // namespace fnw
