// SPDX-License-Identifier: Apache-2.0
// The x86_64 syscall names fnwarden knows, generated at build time from the
// kernel's uapi header (cmake/gen_syscall_table.cmake).
#pragma once

#include <sys/syscall.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fnw {

// A syscall the kernel makes a process issue, not its code: restart_syscall
// resumes a sleep (nanosleep, poll, a futex wait with a timeout) that a
// signal interrupted, with the arguments it was first checked with. A
// process held until a verdict (SIGSTOP, then SIGCONT: docs/enforcement.md)
// issues it in every other thread that was asleep. Every syscall allowlist
// (the kernel's bitmap, the launcher's and the container init's seccomp
// filters) allows it, as Docker's default seccomp profile does.
inline constexpr int kKernelRestartSyscall = SYS_restart_syscall;

class SyscallTable {
public:
    // Number for a name, or nullopt for a name this architecture lacks.
    static std::optional<int> number(std::string_view name);
    // Name for a number, or "" for an unassigned number.
    static std::string_view name(int nr);
    // Known names closest to `name` (edit distance <= 2), best first.
    static std::vector<std::string_view> suggestions(std::string_view name);
    static size_t size();
};

}  // namespace fnw
