// Real blocking without BPF-LSM: the launcher's seccomp user-notif filter.
// Denied syscalls fail with EPERM and have no side effect; each is reported
// exactly once, by the notification (the BPF probe never sees it).
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include <gtest/gtest.h>

#include "probe_fixture.hpp"

namespace fnw {
namespace {

using test::policy_denying;

class SeccompGuardTest : public test::ProbeTest {
protected:
    void SetUp() override {
        test::ProbeTest::SetUp();
        scratch_ = std::filesystem::temp_directory_path() / ("fnw-seccomp-" + std::to_string(getpid()));
        std::filesystem::remove_all(scratch_);
        std::filesystem::create_directories(scratch_);
    }
    void TearDown() override { std::filesystem::remove_all(scratch_); }

    std::filesystem::path scratch_;
};

TEST_F(SeccompGuardTest, DeniedSyscallFailsWithEpermAndIsReportedExactlyOnce) {
    auto r = run_workload(policy_denying({SYS_getpgid}, ViolationAction::Deny), Mode::Enforce,
                          {"getppid", "getpgid", "exit-errno"});
    EXPECT_FALSE(r.outcome.term_signal.has_value());
    EXPECT_EQ(r.outcome.exit_code, EPERM) << "getpgid should have failed with EPERM";
    ASSERT_EQ(r.events.size(), 1u);
    const auto& ev = r.events[0];
    EXPECT_EQ(ev.nr, static_cast<uint32_t>(SYS_getpgid));
    EXPECT_EQ(ev.verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(ev.action, FNW_ACTION_DENIED);
    EXPECT_EQ(ev.mechanism, FNW_MECH_SECCOMP);
    EXPECT_EQ(ev.hdr.pid, static_cast<uint32_t>(r.outcome.pid));
    EXPECT_EQ(ev.hdr.tid, static_cast<uint32_t>(r.outcome.pid));
    EXPECT_EQ(ev.hdr.ppid, static_cast<uint32_t>(getpid()));
    EXPECT_EQ(ev.hdr.cgroup_id, r.outcome.cgroup_id);
    EXPECT_STREQ(std::string(ev.hdr.comm, strnlen(ev.hdr.comm, FNW_COMM_LEN)).c_str(), "fnw_test_worklo");
    EXPECT_EQ(ev.args[0], 0u);
    // seccomp stops it before sys_enter: the probe saw no violation. The
    // notification above is the only report, and it arrived: nothing lost.
    EXPECT_EQ(probes_->counters().violations, 0u);
    EXPECT_EQ(r.outcome.seccomp_violations, 1u);
}

TEST_F(SeccompGuardTest, DeniedMkdirHasNoSideEffect) {
    const auto target = scratch_ / "forbidden";
    auto r = run_workload(policy_denying({SYS_mkdir, SYS_mkdirat}, ViolationAction::Deny), Mode::Enforce,
                          {"mkdir:" + target.string(), "exit-errno"});
    EXPECT_EQ(r.outcome.exit_code, EPERM);
    EXPECT_FALSE(std::filesystem::exists(target)) << "a denied mkdir created the directory";
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].nr, static_cast<uint32_t>(SYS_mkdir));
    EXPECT_EQ(r.events[0].action, FNW_ACTION_DENIED);
}

TEST_F(SeccompGuardTest, KillActionKillsBeforeTheSyscallRuns) {
    const auto target = scratch_ / "never";
    auto r = run_workload(policy_denying({SYS_mkdir, SYS_mkdirat}, ViolationAction::Kill), Mode::Enforce,
                          {"mkdir:" + target.string(), "print:survived", "exit:0"});
    ASSERT_TRUE(r.outcome.term_signal.has_value()) << "exit code " << r.outcome.exit_code;
    EXPECT_EQ(*r.outcome.term_signal, SIGKILL);
    // Unlike kill-at-sys_enter, the syscall never ran.
    EXPECT_FALSE(std::filesystem::exists(target));
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].action, FNW_ACTION_KILLED);
    EXPECT_EQ(r.events[0].mechanism, FNW_MECH_SECCOMP);
}

TEST_F(SeccompGuardTest, AuditModeInstallsNoFilterAndChangesNothing) {
    const auto target = scratch_ / "allowed-in-audit";
    auto r = run_workload(policy_denying({SYS_mkdir, SYS_mkdirat}, ViolationAction::Kill), Mode::Audit,
                          {"mkdir:" + target.string(), "exit-errno"});
    EXPECT_EQ(r.outcome.exit_code, 0);
    EXPECT_TRUE(std::filesystem::is_directory(target));
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].action, FNW_ACTION_REPORTED);
    EXPECT_EQ(r.events[0].mechanism, FNW_MECH_NONE);
    EXPECT_EQ(r.outcome.seccomp_violations, 0u);
}

TEST_F(SeccompGuardTest, DescendantsThreeLevelsDeepAreDeniedToo) {
    // sh -> sh -> workload: the filter is inherited across fork and exec.
    const std::string inner = std::string(FNW_TEST_WORKLOAD) + " getpgid exit-errno";
    auto r = run(policy_denying({SYS_getpgid}, ViolationAction::Deny), Mode::Enforce,
                 {"/bin/sh", "-c", "/bin/sh -c '" + inner + "'; exit $?"});
    EXPECT_EQ(r.outcome.exit_code, EPERM);
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].nr, static_cast<uint32_t>(SYS_getpgid));
    EXPECT_NE(r.events[0].hdr.pid, static_cast<uint32_t>(r.outcome.pid)) << "should come from the grandchild";
    EXPECT_EQ(r.events[0].hdr.cgroup_id, r.outcome.cgroup_id);
    EXPECT_EQ(r.events[0].action, FNW_ACTION_DENIED);
    EXPECT_EQ(r.events[0].hdr.lineage_truncated, 1u) << "a grandchild must not be named the function's root";
}

TEST_F(SeccompGuardTest, ExecveLeftOutOfThePolicyIsStillCaughtByTheProbe) {
    // The filter must let the launcher's own execve through, so it lets every
    // execve through; the BPF probe checks later ones (docs/enforcement.md).
    auto r = run(policy_denying({SYS_execve, SYS_execveat}, ViolationAction::Deny), Mode::Enforce,
                 {"/bin/sh", "-c", std::string("exec ") + FNW_TEST_WORKLOAD + " print:survived"});
    ASSERT_TRUE(r.outcome.term_signal.has_value());
    EXPECT_EQ(*r.outcome.term_signal, SIGKILL);
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].nr, static_cast<uint32_t>(SYS_execve));
    EXPECT_EQ(r.events[0].action, FNW_ACTION_KILLED);
    EXPECT_EQ(r.events[0].mechanism, FNW_MECH_SIGKILL);
}

}  // namespace
}  // namespace fnw
