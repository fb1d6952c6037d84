// SPDX-License-Identifier: Apache-2.0
// plan_enforcement: mode x kernel x launched x section -> mechanism, kernel
// action, who kills, Landlock/seccomp. And the consumers that must follow
// it: compile_kernel_policy and KillOnViolation.
#include <cctype>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <fnwarden/kernel_abi.h>

#include "core/enforcement_plan.hpp"
#include "core/kernel_policy.hpp"
#include "runtime/violation_response.hpp"
#include "../helpers/compile_policy.hpp"

namespace fnw {
namespace {

enum class Kernel { Bare, SeccompLandlock4, SeccompLandlock3, Full };

EnforcementCapabilities kernel(Kernel k) {
    EnforcementCapabilities caps;
    caps.lsm_error = "lsm programs refused at load: Invalid argument";
    if (k == Kernel::Bare) return caps;
    caps.seccomp_user_notif = true;
    caps.landlock_abi = k == Kernel::SeccompLandlock3 ? 3 : 4;
    if (k == Kernel::Full) {
        caps.lsm_error.clear();
        for (const char* hook : {"bprm_check_security", "file_open", "path_mkdir", "path_rename", "socket_connect",
                                 "socket_bind", "ptrace_access_check", "bpf", "file_mprotect", "mmap_file"})
            caps.lsm_hooks[hook] = "";
    }
    return caps;
}

// Every section restricted, each with `action`.
FunctionPolicy strict(ViolationAction action) {
    FunctionPolicy p;
    p.syscalls.allow.set();
    p.syscalls.allow.reset(59);
    p.network.restricted = p.files.restricted = p.exec.restricted = p.process.restricted = true;
    p.syscalls.on_violation = p.network.on_violation = p.files.on_violation = p.exec.on_violation =
        p.process.on_violation = action;
    p.exec.allow = {"/bin/true"};
    return p;
}

struct Case {
    PolicySection section;
    Mode mode;
    Kernel kernel;
    bool launched;
    ViolationAction action;
    Mechanism mechanism;
    Killer killer;
    uint32_t kernel_action;
    bool landlock = false;
    bool seccomp = false;
    bool userspace_kill = false;
    LauncherOptions launcher = {};
};

using S = PolicySection;
using M = Mechanism;
using K = Killer;
constexpr auto Audit = Mode::Audit;
constexpr auto Enforce = Mode::Enforce;
constexpr auto Report = ViolationAction::Report;
constexpr auto Deny = ViolationAction::Deny;
constexpr auto Kill = ViolationAction::Kill;
constexpr bool Launched = true, Watched = false;

const Case kCases[] = {
    // syscalls: seccomp only where the launcher installs it and user_notif exists
    {S::Syscalls, Audit, Kernel::Full, Launched, Kill, M::Report, K::Nobody, FNW_KACTION_REPORT},
    {S::Syscalls, Enforce, Kernel::Full, Launched, Deny, M::Seccomp, K::Nobody, FNW_KACTION_KILL, false, true},
    {S::Syscalls, Enforce, Kernel::Full, Launched, Kill, M::Seccomp, K::Fnwarden, FNW_KACTION_KILL, false, true},
    {S::Syscalls, Enforce, Kernel::Full, Watched, Kill, M::SysEnterKill, K::Kernel, FNW_KACTION_KILL},
    {S::Syscalls, Enforce, Kernel::Bare, Launched, Deny, M::SysEnterKill, K::Kernel, FNW_KACTION_KILL},
    {S::Syscalls, Enforce, Kernel::Full, Launched, Deny, M::SysEnterKill, K::Kernel, FNW_KACTION_KILL, false, false,
     false, LauncherOptions{false, true}},
    // network: the LSM socket hooks first, the cgroup hooks else; kill is fnwarden's backstop
    {S::Network, Enforce, Kernel::Full, Watched, Kill, M::BpfLsm, K::Kernel, FNW_KACTION_DENY, false, false, true},
    {S::Network, Enforce, Kernel::Bare, Watched, Kill, M::CgroupSockHook, K::Fnwarden, FNW_KACTION_DENY, false, false,
     true},
    {S::Network, Enforce, Kernel::SeccompLandlock4, Launched, Deny, M::CgroupSockHook, K::Nobody, FNW_KACTION_DENY,
     true},
    {S::Network, Enforce, Kernel::SeccompLandlock3, Launched, Deny, M::CgroupSockHook, K::Nobody, FNW_KACTION_DENY},
    {S::Network, Enforce, Kernel::SeccompLandlock4, Watched, Deny, M::CgroupSockHook, K::Nobody, FNW_KACTION_DENY},
    {S::Network, Audit, Kernel::Full, Watched, Kill, M::Report, K::Nobody, FNW_KACTION_REPORT},
    // files: Landlock for launched functions, BPF-LSM, else kill at sys_exit
    {S::Files, Enforce, Kernel::SeccompLandlock4, Launched, Kill, M::Landlock, K::Fnwarden, FNW_KACTION_KILL, true,
     false, true},
    {S::Files, Enforce, Kernel::Full, Watched, Deny, M::BpfLsm, K::Nobody, FNW_KACTION_DENY},
    {S::Files, Enforce, Kernel::Full, Launched, Deny, M::Landlock, K::Nobody, FNW_KACTION_DENY, true},
    {S::Files, Enforce, Kernel::Bare, Watched, Deny, M::SysExitKill, K::Kernel, FNW_KACTION_DENY},
    {S::Files, Enforce, Kernel::Full, Launched, Deny, M::BpfLsm, K::Nobody, FNW_KACTION_DENY, false, false, false,
     LauncherOptions{true, false}},
    {S::Files, Audit, Kernel::Full, Launched, Deny, M::Report, K::Nobody, FNW_KACTION_REPORT},
    {S::Files, Enforce, Kernel::Full, Launched, Report, M::Report, K::Nobody, FNW_KACTION_REPORT},
    // exec: an exact allowlist goes to bprm_check_security first
    {S::Exec, Enforce, Kernel::Full, Watched, Deny, M::BpfLsm, K::Nobody, FNW_KACTION_DENY},
    {S::Exec, Enforce, Kernel::Full, Launched, Kill, M::BpfLsm, K::Kernel, FNW_KACTION_KILL, true, false, true},
    {S::Exec, Enforce, Kernel::SeccompLandlock4, Launched, Kill, M::Landlock, K::Fnwarden, FNW_KACTION_KILL, true,
     false, true},
    {S::Exec, Enforce, Kernel::Bare, Watched, Kill, M::SysExitKill, K::Kernel, FNW_KACTION_KILL, false, false, true},
    // process: the LSM hooks refuse, their tracepoint stand-ins kill
    {S::Process, Enforce, Kernel::Full, Watched, Deny, M::BpfLsm, K::Nobody, FNW_KACTION_DENY},
    {S::Process, Enforce, Kernel::Full, Watched, Kill, M::BpfLsm, K::Kernel, FNW_KACTION_KILL},
    {S::Process, Enforce, Kernel::Bare, Launched, Deny, M::SysEnterKill, K::Kernel, FNW_KACTION_DENY},
    {S::Process, Audit, Kernel::Bare, Watched, Kill, M::Report, K::Nobody, FNW_KACTION_REPORT},
};

class PlanEnforcement : public ::testing::TestWithParam<Case> {};

TEST_P(PlanEnforcement, SectionGetsTheExpectedMechanism) {
    const Case& c = GetParam();
    const EnforcementPlan plan = plan_enforcement(strict(c.action), c.mode, kernel(c.kernel), c.launched, c.launcher);
    const SectionPlan& s = plan.section(c.section);
    EXPECT_EQ(s.section, c.section);
    EXPECT_EQ(to_string(s.mechanism), to_string(c.mechanism));
    EXPECT_EQ(to_string(s.killer), to_string(c.killer));
    EXPECT_EQ(s.kernel_action, c.kernel_action);
    EXPECT_EQ(s.landlock, c.landlock);
    EXPECT_EQ(s.seccomp, c.seccomp);
    EXPECT_EQ(s.userspace_kill, c.userspace_kill);
    if (s.mechanism == M::SysEnterKill || s.mechanism == M::SysExitKill || s.mechanism == M::CgroupSockHook)
        EXPECT_FALSE(s.reasons.empty()) << "an after-the-fact mechanism says why the stronger ones were not used";
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
    const Case& c = info.param;
    std::string name = std::string(to_string(c.section)) + "_" + std::string(to_string(c.mode)) + "_" +
                       std::to_string(static_cast<int>(c.kernel)) + (c.launched ? "_launched_" : "_watched_") +
                       std::string(to_string(c.action)) + "_" + std::to_string(info.index);
    for (char& ch : name)
        if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
    return name;
}

INSTANTIATE_TEST_SUITE_P(Table, PlanEnforcement, ::testing::ValuesIn(kCases), case_name);

TEST(PlanEnforcement, UnrestrictedSectionsHaveNoMechanism) {
    FunctionPolicy open;
    open.syscalls.allow.set();
    open.syscalls.on_violation = ViolationAction::Kill;
    const EnforcementPlan plan = plan_enforcement(open, Mode::Enforce, kernel(Kernel::Full), true);
    for (const SectionPlan& s : plan) {
        EXPECT_FALSE(s.restricted) << to_string(s.section);
        EXPECT_EQ(s.mechanism, M::None) << to_string(s.section);
        EXPECT_EQ(s.killer, K::Nobody) << to_string(s.section);
    }
    EXPECT_FALSE(plan.exec_allowlist_in_lsm);
    EXPECT_EQ(plan.refusal, "");
}

TEST(PlanEnforcement, LaunchedFilesInEnforceWithoutLandlockAreRefused) {
    FunctionPolicy p = strict(ViolationAction::Deny);
    EXPECT_NE(plan_enforcement(p, Mode::Enforce, kernel(Kernel::Bare), true).refusal.find("has no Landlock"),
              std::string::npos);
    EXPECT_EQ(plan_enforcement(p, Mode::Enforce, kernel(Kernel::Bare), false).refusal, "") << "watched: nothing to refuse";
    EXPECT_EQ(plan_enforcement(p, Mode::Audit, kernel(Kernel::Bare), true).refusal, "") << "audit acts on nothing";
    EXPECT_EQ(plan_enforcement(p, Mode::Enforce, kernel(Kernel::Bare), true, {true, false}).refusal, "")
        << "Landlock turned off for the run";
    EXPECT_EQ(plan_enforcement(p, Mode::Enforce, kernel(Kernel::SeccompLandlock3), true).refusal, "");
    p.files.on_violation = p.exec.on_violation = ViolationAction::Report;
    EXPECT_EQ(plan_enforcement(p, Mode::Enforce, kernel(Kernel::Bare), true).refusal, "") << "report-only sections";
}

TEST(PlanEnforcement, GlobbedExecAllowlistStaysOutOfTheLsm) {
    FunctionPolicy p = strict(ViolationAction::Deny);
    EXPECT_TRUE(plan_enforcement(p, Mode::Enforce, kernel(Kernel::Full), false).exec_allowlist_in_lsm);
    EXPECT_FALSE(plan_enforcement(p, Mode::Enforce, kernel(Kernel::Bare), false).exec_allowlist_in_lsm);
    p.exec.allow.push_back("/usr/bin/*");
    const EnforcementPlan plan = plan_enforcement(p, Mode::Enforce, kernel(Kernel::Full), false);
    EXPECT_FALSE(plan.exec_allowlist_in_lsm);
    EXPECT_EQ(plan.exec.mechanism, M::SysExitKill);
    ASSERT_FALSE(plan.exec.reasons.empty());
    EXPECT_NE(plan.exec.reasons[0].find("globs"), std::string::npos);
}

TEST(PlanEnforcement, LandlockViewKeepsOnlyTheSectionsLandlockCovers) {
    FunctionPolicy p = strict(ViolationAction::Deny);
    p.exec.on_violation = ViolationAction::Report;
    FunctionPolicy view = landlock_view(p, plan_enforcement(p, Mode::Enforce, kernel(Kernel::Full), true));
    EXPECT_TRUE(view.files.restricted);
    EXPECT_TRUE(view.network.restricted);
    EXPECT_FALSE(view.exec.restricted) << "report-only: watched by the probes, not Landlock";
    view = landlock_view(p, plan_enforcement(p, Mode::Enforce, kernel(Kernel::Full), false));
    EXPECT_FALSE(view.files.restricted || view.network.restricted || view.exec.restricted) << "not launched";
}

TEST(PlanEnforcement, LsmWhyNotFallsBackToTheSummary) {
    EnforcementCapabilities caps;
    EXPECT_EQ(caps.lsm_why_not("socket_connect"), "not in this build");
    caps.lsm_error = "kernel lacks bpf";
    EXPECT_EQ(caps.lsm_why_not("socket_connect"), "kernel lacks bpf");
    caps.lsm_hooks["socket_connect"] = "";
    EXPECT_TRUE(caps.lsm("socket_connect"));
    caps.lsm_hooks.clear();
    caps.assume_every_lsm_hook = true;
    EXPECT_TRUE(caps.lsm("bpf"));
}

// The kernel's half of a plan depends on the mode and the policy, never on
// who launched the function; only the exec-LSM flag follows the hook.
TEST(KernelPolicy, FollowsThePlanWhateverTheKernelAndLauncher) {
    for (auto action : {ViolationAction::Report, ViolationAction::Deny, ViolationAction::Kill}) {
        for (auto mode : {Mode::Audit, Mode::Enforce}) {
            const FunctionPolicy p = strict(action);
            const fnw_policy reference = compile_kernel_policy(p, mode);
            for (auto k : {Kernel::Bare, Kernel::SeccompLandlock3, Kernel::Full}) {
                for (bool launched : {false, true}) {
                    const EnforcementPlan plan = plan_enforcement(p, mode, kernel(k), launched);
                    fnw_policy compiled = compile_kernel_policy(p, plan);
                    EXPECT_EQ(bool(compiled.flags & FNW_POLICY_EXEC_LSM), k == Kernel::Full);
                    compiled.flags |= reference.flags & FNW_POLICY_EXEC_LSM;
                    EXPECT_EQ(0, std::memcmp(&compiled, &reference, sizeof(compiled)))
                        << to_string(action) << " " << to_string(mode);
                }
            }
        }
    }
}

TEST(KernelPolicy, ActionsComeFromThePlan) {
    const FunctionPolicy p = strict(ViolationAction::Deny);
    const fnw_policy compiled = compile_kernel_policy(p, Mode::Enforce);
    EXPECT_EQ(compiled.syscall_action, static_cast<uint32_t>(FNW_KACTION_KILL)) << "the probe cannot deny";
    EXPECT_EQ(compiled.net_action, static_cast<uint32_t>(FNW_KACTION_DENY));
    EXPECT_EQ(compiled.file_action, static_cast<uint32_t>(FNW_KACTION_DENY));
    EXPECT_EQ(compiled.exec_action, static_cast<uint32_t>(FNW_KACTION_DENY));
    EXPECT_EQ(compiled.process_action, static_cast<uint32_t>(FNW_KACTION_DENY));
    EXPECT_TRUE(compiled.syscall_allow[0] & 1) << "syscall 0 allowed";
    EXPECT_FALSE(compiled.syscall_allow[0] & (1ull << 59)) << "execve left out";
}

TEST(KernelPolicy, PathArgsCoverLandlockSyscalls) {
    const auto args = compile_path_args();
    std::map<uint32_t, fnw_path_arg> by_nr(args.begin(), args.end());
    EXPECT_EQ(by_nr.at(2).where, 1) << "open: path in argument 0";
    EXPECT_EQ(by_nr.at(257).where, 2 | FNW_PATH_ARG_HAS_DFD) << "openat: argument 1, with a dfd";
    EXPECT_EQ(by_nr.at(59).where, 1 | FNW_PATH_ARG_EXEC);
    EXPECT_EQ(by_nr.at(42).where, 2 | FNW_PATH_ARG_SOCKADDR) << "connect";
    EXPECT_EQ(by_nr.at(49).where, 2 | FNW_PATH_ARG_SOCKADDR | FNW_PATH_ARG_BIND) << "bind";
}

// What each refused syscall needed, so a Landlock report names the right
// the file probes would (files.read for an open, files.create for a link).
TEST(KernelPolicy, PathArgsSayWhatTheOperationNeeds) {
    const auto args = compile_path_args();
    std::map<uint32_t, fnw_path_arg> by_nr(args.begin(), args.end());
    EXPECT_EQ(by_nr.at(257).op, FNW_PATH_OP_OPEN);
    EXPECT_EQ(by_nr.at(83).op, FNW_PATH_OP_CREATE) << "mkdir";
    EXPECT_EQ(by_nr.at(87).op, FNW_PATH_OP_DELETE) << "unlink";
    EXPECT_EQ(by_nr.at(59).op, FNW_PATH_OP_EXEC);
    const fnw_path_arg renameat = by_nr.at(264);
    EXPECT_EQ(renameat.op, FNW_PATH_OP_RENAME);
    EXPECT_EQ(renameat.path2_arg, 4) << "renameat: the new name in argument 3";
    EXPECT_EQ(renameat.dfd2_arg, 3) << "its directory fd in argument 2";
    const fnw_path_arg linkat = by_nr.at(265);
    EXPECT_EQ(linkat.where, 4 | FNW_PATH_ARG_HAS_DFD) << "linkat: the new name in argument 3";
    EXPECT_EQ(linkat.path2_arg, 2) << "the existing name in argument 1";
    EXPECT_EQ(by_nr.at(42).op, FNW_PATH_OP_NONE) << "connect";
}

TEST(KillOnViolation, FollowsThePlansUserspaceKills) {
    const FunctionPolicy p = strict(ViolationAction::Kill);
    KillOnViolation kill = KillOnViolation::from(plan_enforcement(p, Mode::Enforce, kernel(Kernel::Full), false));
    EXPECT_TRUE(kill.network && kill.files && kill.exec);
    kill = KillOnViolation::from(p, Mode::Audit);
    EXPECT_FALSE(kill.any());
    kill = KillOnViolation::from(strict(ViolationAction::Deny), Mode::Enforce);
    EXPECT_FALSE(kill.any()) << "deny: the kernel refuses, nobody kills";
}

}  // namespace
}  // namespace fnw
