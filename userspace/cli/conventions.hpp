// SPDX-License-Identifier: Apache-2.0
// What every fnwarden command shares that needs no option parser: exit
// codes and where the daemon listens. fnwarden-run (cli/launch_main.cpp)
// includes this and not options.hpp, which brings Boost.
#pragma once

#include <cerrno>

#include "runtime/function_runner.hpp"

namespace fnw::cli {

// Exit codes of daemon, status, trace, top, unload and policy.
inline constexpr int kExitUsage = 2;     // bad arguments or an invalid policy or config
inline constexpr int kExitInternal = 1;  // BPF load, cgroup or daemon failure

// run and learn exit with the function's own status, so their own failures
// take the codes `env`, `timeout` and `chroot` use, which a function's
// status rarely does: 125 fnwarden itself failed (bad options, an invalid
// policy, probes that do not load, the cgroup), 126 the command was found
// but could not be executed, 127 it was not found.
inline constexpr int kExitRunFailed = 125;
inline constexpr int kExitCannotExecute = 126;
inline constexpr int kExitNotFound = 127;

// The exit code of a run that did not start: 126 or 127 when execve failed
// (ENOENT: not found), 125 otherwise.
inline int exit_code_for(const RunFailure& failure) {
    if (failure.exec_errno == 0) return kExitRunFailed;
    return failure.exec_errno == ENOENT ? kExitNotFound : kExitCannotExecute;
}

inline constexpr const char* kDefaultSocket = "/run/fnwarden/fnwarden.sock";

}  // namespace fnw::cli
