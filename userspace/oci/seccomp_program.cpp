// SPDX-License-Identifier: Apache-2.0
#include "oci/seccomp_program.hpp"

#include <seccomp.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "core/syscall_table.hpp"

namespace fnw {

Status write_seccomp_program(const SyscallBitmap& allow, ViolationAction action, int fd) {
    const uint32_t refuse = action == ViolationAction::Kill ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_ERRNO(EPERM);
    std::unique_ptr<void, void (*)(void*)> ctx(seccomp_init(refuse), [](void* c) { seccomp_release(c); });
    if (!ctx) return fail("seccomp_init failed");
    // 32-bit and x32 entry points would bypass an x86_64 allowlist.
    if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS))
        return fail(std::string("seccomp badarch: ") + std::strerror(-rc));
    for (size_t nr = 0; nr < allow.size(); ++nr) {
        if (!allow.test(nr)) continue;
        const int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, static_cast<int>(nr), 0);
        // A number libseccomp does not know here: leaving it out is stricter.
        if (rc != 0 && rc != -EINVAL && rc != -EDOM)
            return fail("seccomp rule for syscall " + std::to_string(nr) + ": " + std::strerror(-rc));
    }
    for (int nr : {SCMP_SYS(execve), SCMP_SYS(exit), SCMP_SYS(exit_group), kKernelRestartSyscall})
        if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 0))
            return fail(std::string("seccomp rule: ") + std::strerror(-rc));
    if (int rc = seccomp_export_bpf(ctx.get(), fd)) return fail(std::string("seccomp export: ") + std::strerror(-rc));
    return {};
}

}  // namespace fnw
