// SPDX-License-Identifier: Apache-2.0
// The seccomp filter of a container's init, compiled by fnwarden-runtime
// into raw struct sock_filter[] (libseccomp's export), so that the init,
// which links no library, only loads it. Nobody answers user
// notifications in a container: a syscall outside the allowlist fails with
// EPERM (deny) or kills the process (kill) in the kernel, and is not
// reported as an event (seccomp runs before the probes' sys_enter).
#pragma once

#include "common/result.hpp"
#include "core/policy.hpp"

namespace fnw {

// Writes the program to `fd`. execve, exit and exit_group always pass (the
// init's own exec of the entrypoint comes after the filter).
Status write_seccomp_program(const SyscallBitmap& allow, ViolationAction action, int fd);

}  // namespace fnw
