// SPDX-License-Identifier: Apache-2.0
// Real blocking without BPF-LSM: the launcher's seccomp user-notif filter.
// Denied syscalls fail with EPERM and have no side effect; each is reported
// exactly once, by the notification (the BPF probe never sees it).
#include <asm/unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <set>

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
    void TearDown() override {
        std::filesystem::remove_all(scratch_);
        test::ProbeTest::TearDown();
    }

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

// Killed at the notification, the process is gone before any line about
// it is written: the event carries the program the launcher read while the
// process waited, checked here after the process was reaped.
TEST_F(SeccompGuardTest, TheEventOfAKilledProcessNamesTheProgramItRan) {
    auto r = run_workload(policy_denying({SYS_mkdir, SYS_mkdirat}, ViolationAction::Kill), Mode::Enforce,
                          {"mkdir:" + (scratch_ / "never").string(), "exit:0"});
    ASSERT_TRUE(r.outcome.term_signal.has_value());
    ASSERT_EQ(r.events.size(), 1u);
    ASSERT_EQ(r.launcher_exes.size(), 1u);
    EXPECT_EQ(r.launcher_exes[0], std::filesystem::canonical(FNW_TEST_WORKLOAD).string());
    EXPECT_FALSE(std::filesystem::exists("/proc/" + std::to_string(r.outcome.pid) + "/exe"))
        << "the process is still there: this proves nothing";
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

// ---- Other ABIs: x32 and the 32-bit entry ---------------------------------
// docs/enforcement.md ("How the seccomp path works", step 1) and
// docs/threat-model.md ("x32 and 32-bit syscalls"): an x86_64 allowlist says
// nothing about the x32 numbers or the i386 table, so under the filter any
// non-x86_64 entry kills the process (SECCOMP_RET_KILL_PROCESS: it dies of
// SIGSYS). No notification is raised, so no event; the probe never sees the
// call either (seccomp runs before sys_enter). The denied getpgid after it
// would be an EPERM event and exit status if the process lived on.

TEST_F(SeccompGuardTest, AnX32SyscallKillsTheLaunchedFunction) {
    auto r = run_workload(policy_denying({SYS_getpgid}, ViolationAction::Deny), Mode::Enforce,
                          {"x32-getpid", "getpgid", "exit-errno"});
    ASSERT_TRUE(r.outcome.term_signal.has_value()) << "exit " << r.outcome.exit_code;
    EXPECT_EQ(*r.outcome.term_signal, SIGSYS);
    EXPECT_TRUE(r.events.empty()) << "the process ran on after the x32 call";
    EXPECT_EQ(r.outcome.seccomp_violations, 0u);
    EXPECT_EQ(probes_->counters().violations, 0u);
}

TEST_F(SeccompGuardTest, AnInt80SyscallKillsTheLaunchedFunction) {
    auto r = run_workload(policy_denying({SYS_getpgid}, ViolationAction::Deny), Mode::Enforce,
                          {"int80-getpid", "getpgid", "exit-errno"});
    ASSERT_TRUE(r.outcome.term_signal.has_value()) << "exit " << r.outcome.exit_code;
    EXPECT_EQ(*r.outcome.term_signal, SIGSYS);
    EXPECT_TRUE(r.events.empty()) << "the process ran on after int 0x80";
    EXPECT_EQ(probes_->counters().violations, 0u);
}

// Without the filter (a function fnwarden did not launch), the probe is the
// check: a number with the x32 bit is outside the 512-bit allowlist, so it is
// a violation whatever the policy allows (here: everything but getpgid).
TEST_F(SeccompGuardTest, WithoutTheFilterTheProbeCallsAnX32NumberAViolation) {
    auto r = run_workload(policy_denying({SYS_getpgid}, ViolationAction::Kill), Mode::Enforce,
                          {"x32-getpid", "exit:0"}, {.use_seccomp = false});
    ASSERT_TRUE(r.outcome.term_signal.has_value()) << "exit " << r.outcome.exit_code;
    EXPECT_EQ(*r.outcome.term_signal, SIGKILL);
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].nr, static_cast<uint32_t>(__X32_SYSCALL_BIT | SYS_getpid));
    EXPECT_EQ(r.events[0].verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(r.events[0].action, FNW_ACTION_KILLED);
    EXPECT_EQ(r.events[0].mechanism, FNW_MECH_SIGKILL);
}

// ...and an int 0x80 call reaches it with its i386 number, read as an x86_64
// one (i386 getpid is 20, x86_64 writev): the documented limit without the
// filter. Reported here because the policy leaves writev out.
TEST_F(SeccompGuardTest, WithoutTheFilterTheProbeSeesTheInt80NumberAsIs) {
    auto r = run_workload(policy_denying({SYS_writev}, ViolationAction::Report), Mode::Audit,
                          {"int80-getpid", "exit-errno"});
    EXPECT_EQ(r.outcome.exit_code, 0) << "getpid through int 0x80 failed";
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].nr, 20u);
    EXPECT_EQ(r.events[0].verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(r.events[0].action, FNW_ACTION_REPORTED);
}

// ---- The launcher's tail ---------------------------------------------------
// Between joining its cgroup and exec, the launcher's child makes syscalls
// the function's policy need not allow (seccomp(), sendmsg of the listener,
// execve). ARM_ON_EXEC keeps them out of the record (docs/architecture.md,
// "No race at birth"), and the filter lets them through after it is loaded
// (docs/enforcement.md, "Exception, by construction").

// Each of those left out of the policy: the run is still clean, and seccomp
// still stops a violation of the function's own.
TEST_F(SeccompGuardTest, TheLaunchersOwnLastSyscallsAreNotTheFunctions) {
    auto policy = policy_denying({SYS_seccomp, SYS_sendmsg, SYS_write, SYS_execve, SYS_execveat, SYS_prctl,
                                  SYS_close_range, SYS_rt_sigprocmask, SYS_getpgid},
                                 ViolationAction::Deny);
    auto clean = run_workload(policy, Mode::Enforce, {"exit:0"});
    EXPECT_FALSE(clean.outcome.term_signal.has_value()) << "signal " << clean.outcome.term_signal.value_or(0);
    EXPECT_EQ(clean.outcome.exit_code, 0);
    EXPECT_TRUE(clean.events.empty()) << "first event: syscall " << (clean.events.empty() ? 0 : clean.events[0].nr);
    EXPECT_EQ(probes_->counters().violations, 0u);

    auto violating = run_workload(policy, Mode::Enforce, {"getpgid", "exit-errno"});
    EXPECT_EQ(violating.outcome.exit_code, EPERM);
    ASSERT_EQ(violating.events.size(), 1u);
    EXPECT_EQ(violating.events[0].nr, static_cast<uint32_t>(SYS_getpgid));
    EXPECT_EQ(violating.events[0].mechanism, FNW_MECH_SECCOMP);
}

// The filter cannot tell the launcher's write/sendmsg from the function's:
// it allows them on the launcher's two fd numbers, for the life of the
// process. After exec those descriptors are closed, but the function can put
// anything at those numbers. The claim (docs/threat-model.md, "The syscall
// still completes under the probe's kill"): the probe still catches it.
// The workload tries every fd number in turn: seccomp refuses each one
// (EPERM, one event each) except the launcher's number, which passes the
// filter and reaches the probe, whose policy says kill (deny falls back to
// kill there): nothing after it runs.
class LauncherTailTest : public SeccompGuardTest,
                         public ::testing::WithParamInterface<std::pair<long, const char*>> {};

TEST_P(LauncherTailTest, TheLaunchersFdNumbersAfterExecAreStillCaughtByTheProbe) {
    const auto [nr, step] = GetParam();
    constexpr int kHighestFd = 1000;
    auto r = run_workload(policy_denying({static_cast<int>(nr)}, ViolationAction::Deny), Mode::Enforce,
                          {std::string(step) + std::to_string(kHighestFd), "exit-errno"});
    ASSERT_TRUE(r.outcome.term_signal.has_value())
        << "no fd number passed the filter to the probe; exit " << r.outcome.exit_code;
    EXPECT_EQ(*r.outcome.term_signal, SIGKILL);
    ASSERT_FALSE(r.events.empty());
    // The last event is the probe's; every one before it is seccomp's.
    const fnw_syscall_event& caught = r.events.back();
    EXPECT_EQ(caught.nr, static_cast<uint32_t>(nr));
    EXPECT_EQ(caught.verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(caught.action, FNW_ACTION_KILLED);
    EXPECT_EQ(caught.mechanism, FNW_MECH_SIGKILL);
    EXPECT_EQ(caught.hdr.pid, static_cast<uint32_t>(r.outcome.pid));
    const uint64_t through = caught.args[0];
    EXPECT_GE(through, 3u);
    EXPECT_LE(through, static_cast<uint64_t>(kHighestFd));
    std::set<uint64_t> refused;
    for (size_t i = 0; i + 1 < r.events.size(); ++i) {
        EXPECT_EQ(r.events[i].nr, static_cast<uint32_t>(nr));
        EXPECT_EQ(r.events[i].mechanism, FNW_MECH_SECCOMP);
        EXPECT_EQ(r.events[i].action, FNW_ACTION_DENIED);
        refused.insert(r.events[i].args[0]);
    }
    // Exactly one number got through: 3 .. through-1 were each refused once.
    // This process holds many fds (probes, maps), so the launcher's numbers
    // are never the lowest: some refusals must come first.
    EXPECT_FALSE(refused.empty()) << "the filter let fd " << through << " through: it lets every fd through";
    EXPECT_EQ(refused.size(), r.events.size() - 1);
    EXPECT_EQ(refused.size(), through - 3);
    if (!refused.empty()) {
        EXPECT_EQ(*refused.begin(), 3u);
        EXPECT_EQ(*refused.rbegin(), through - 1);
    }
    EXPECT_EQ(probes_->counters().violations, 1u);
}

INSTANTIATE_TEST_SUITE_P(WriteAndSendmsg, LauncherTailTest,
                         ::testing::Values(std::pair<long, const char*>{SYS_write, "write-fds:"},
                                           std::pair<long, const char*>{SYS_sendmsg, "sendmsg-fds:"}),
                         [](const auto& info) { return std::string(info.param.first == SYS_write ? "write" : "sendmsg"); });

}  // namespace
}  // namespace fnw
