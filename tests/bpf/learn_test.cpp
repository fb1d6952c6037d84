// SPDX-License-Identifier: Apache-2.0
// fnwarden learn: the kernel aggregates every syscall a function makes; the
// learned set, used as an allowlist, runs the same workload cleanly.
#include <sys/syscall.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "probe_fixture.hpp"

namespace fnw {
namespace {

using LearnTest = test::ProbeTest;

FunctionPolicy allow_all() {
    FunctionPolicy p;
    p.name = "learn";
    p.function = "test";
    p.syscalls.allow.set();
    return p;
}

TEST_F(LearnTest, LearnedSetHasExactlyWhatTheWorkloadDidAndEnforcesCleanly) {
    const auto dir = std::filesystem::temp_directory_path() / ("fnw-learn-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    const std::vector<std::string> steps{"getppid", "getpgid", "print:hello", "exit:0"};

    auto learning = run_workload(allow_all(), Mode::Audit, steps, {.learn = true});
    ASSERT_EQ(learning.outcome.exit_code, 0);
    EXPECT_TRUE(learning.events.empty()) << "learning must not emit events";
    auto learned = probes_->learned_syscalls(last_policy_id());
    ASSERT_TRUE(learned.has_value());
    for (int nr : {SYS_getppid, SYS_getpgid, SYS_write, SYS_exit_group})
        EXPECT_TRUE(learned->test(static_cast<size_t>(nr))) << "missing syscall " << nr;
    EXPECT_FALSE(learned->test(SYS_mkdir)) << "learned a syscall the workload never made";
    EXPECT_FALSE(learned->test(SYS_execve)) << "the launcher's own execve is not the function's";
    EXPECT_LT(learned->count(), 60u);

    FunctionPolicy enforced = allow_all();
    enforced.syscalls.allow = *learned;
    enforced.syscalls.on_violation = ViolationAction::Deny;
    auto clean = run_workload(enforced, Mode::Enforce, steps);
    EXPECT_EQ(clean.outcome.exit_code, 0);
    EXPECT_TRUE(clean.events.empty()) << "the learned policy flagged its own workload";

    // Anything new is a violation: the learned policy is an allowlist.
    auto drift = run_workload(enforced, Mode::Enforce, {"mkdir:" + dir.string(), "exit-errno"});
    EXPECT_EQ(drift.outcome.exit_code, EPERM);
    EXPECT_FALSE(std::filesystem::exists(dir));
    ASSERT_EQ(drift.events.size(), 1u);
    EXPECT_EQ(drift.events[0].nr, static_cast<uint32_t>(SYS_mkdir));
}

TEST_F(LearnTest, LearningCoversChildProcesses) {
    auto first = run(allow_all(), Mode::Audit, {"/bin/sh", "-c", std::string(FNW_TEST_WORKLOAD) + " getpgid"},
                     {.learn = true});
    ASSERT_EQ(first.outcome.exit_code, 0);
    auto learned = probes_->learned_syscalls(last_policy_id());
    ASSERT_TRUE(learned.has_value());
    EXPECT_TRUE(learned->test(SYS_getpgid)) << "a child's syscalls belong to the function";
    EXPECT_TRUE(learned->test(SYS_execve)) << "the shell's exec of the child is the function's";
}

}  // namespace
}  // namespace fnw
