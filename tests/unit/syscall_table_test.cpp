// SPDX-License-Identifier: Apache-2.0
#include "core/syscall_table.hpp"

#include <seccomp.h>
#include <sys/syscall.h>

#include <gtest/gtest.h>

#include <fnwarden/limits.h>

namespace fnw {
namespace {

TEST(SyscallTable, KnowsCommonSyscallsWithTheirX86_64Numbers) {
    EXPECT_EQ(SyscallTable::number("read"), 0);
    EXPECT_EQ(SyscallTable::number("write"), 1);
    EXPECT_EQ(SyscallTable::number("openat"), SYS_openat);
    EXPECT_EQ(SyscallTable::number("execve"), SYS_execve);
    EXPECT_EQ(SyscallTable::number("mkdir"), SYS_mkdir);
    EXPECT_EQ(SyscallTable::number("exit_group"), SYS_exit_group);
    EXPECT_EQ(SyscallTable::name(SYS_getppid), "getppid");
    EXPECT_EQ(SyscallTable::name(SYS_io_uring_setup), "io_uring_setup");
}

TEST(SyscallTable, RejectsUnknownNamesAndNumbers) {
    EXPECT_FALSE(SyscallTable::number("opne"));
    EXPECT_FALSE(SyscallTable::number(""));
    EXPECT_FALSE(SyscallTable::number("READ"));
    EXPECT_EQ(SyscallTable::name(-1), "");
    EXPECT_EQ(SyscallTable::name(FNW_MAX_SYSCALLS), "");
    EXPECT_EQ(SyscallTable::name(100000), "");
}

TEST(SyscallTable, IsLargeAndFitsTheBitmap) {
    EXPECT_GT(SyscallTable::size(), 300u);
    for (int nr = 0; nr < FNW_MAX_SYSCALLS; ++nr) {
        auto name = SyscallTable::name(nr);
        if (!name.empty()) EXPECT_EQ(SyscallTable::number(name), nr) << name;
    }
}

// The table comes from the kernel's uapi header; libseccomp has its own.
// They must agree on every name both know.
TEST(SyscallTable, AgreesWithLibseccomp) {
    int compared = 0;
    for (int nr = 0; nr < FNW_MAX_SYSCALLS; ++nr) {
        auto ours = SyscallTable::name(nr);
        if (ours.empty()) continue;
        int theirs = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, std::string(ours).c_str());
        if (theirs == __NR_SCMP_ERROR) continue;  // newer than this libseccomp
        EXPECT_EQ(theirs, nr) << ours;
        ++compared;
    }
    EXPECT_GT(compared, 300);
}

TEST(SyscallTable, SuggestsCloseNames) {
    auto s = SyscallTable::suggestions("opne");
    ASSERT_FALSE(s.empty());
    EXPECT_EQ(s.front(), "open");
    EXPECT_TRUE(SyscallTable::suggestions("zzzzzzzzzzzzzzzz").empty());
}

}  // namespace
}  // namespace fnw
