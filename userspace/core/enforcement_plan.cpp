// SPDX-License-Identifier: Apache-2.0
#include "core/enforcement_plan.hpp"

#include <algorithm>

#include <fnwarden/kernel_abi.h>
#include <fnwarden/limits.h>

namespace fnw {
namespace {

uint32_t kernel_action_of(ViolationAction action) {
    switch (action) {
    case ViolationAction::Report: return FNW_KACTION_REPORT;
    case ViolationAction::Kill: return FNW_KACTION_KILL;
    case ViolationAction::Deny: break;
    }
    return FNW_KACTION_DENY;
}

// What every section shares: restricted, the action in this mode, and
// nothing acting in audit (or under onViolation report).
SectionPlan section_base(PolicySection which, bool restricted, ViolationAction on_violation, Mode mode) {
    SectionPlan s;
    s.section = which;
    s.restricted = restricted;
    s.action = effective_action(on_violation, mode);
    s.kernel_action = kernel_action_of(s.action);
    if (!restricted) {
        s.mechanism = Mechanism::None;
        s.reasons.push_back("no section: not restricted");
    } else if (s.action == ViolationAction::Report) {
        s.mechanism = Mechanism::Report;
        s.reasons.push_back(mode == Mode::Audit ? "audit mode: report only" : "onViolation report");
    }
    return s;
}

bool acts(const SectionPlan& s) { return s.restricted && s.action != ViolationAction::Report; }

// Kernel mechanisms that refuse kill in the kernel for `kill` and kill
// nobody for `deny`; those that only refuse leave the kill to fnwarden.
Killer killer_for(Mechanism mechanism, ViolationAction action) {
    if (action == ViolationAction::Report) return Killer::Nobody;
    switch (mechanism) {
    case Mechanism::SysEnterKill:
    case Mechanism::SysExitKill: return Killer::Kernel;  // deny falls back to kill there
    case Mechanism::BpfLsm: return action == ViolationAction::Kill ? Killer::Kernel : Killer::Nobody;
    case Mechanism::Landlock:
    case Mechanism::CgroupSockHook:
    case Mechanism::Seccomp:
    case Mechanism::UserspaceKill: return action == ViolationAction::Kill ? Killer::Fnwarden : Killer::Nobody;
    case Mechanism::None:
    case Mechanism::Report: break;
    }
    return Killer::Nobody;
}

SectionPlan plan_syscalls(const FunctionPolicy& policy, Mode mode, const EnforcementCapabilities& caps,
                          bool launched, const LauncherOptions& launcher) {
    SectionPlan s = section_base(PolicySection::Syscalls, !policy.syscalls.allow.all(), policy.syscalls.on_violation, mode);
    // The probe cannot make a syscall fail: "deny" falls back to kill there.
    s.kernel_action = s.action == ViolationAction::Report ? FNW_KACTION_REPORT : FNW_KACTION_KILL;
    if (!acts(s)) return s;
    if (!caps.seccomp_user_notif)
        s.reasons.push_back("seccomp: user_notif missing from /proc/sys/kernel/seccomp/actions_avail");
    else if (launched && !launcher.seccomp)
        s.reasons.push_back("seccomp: turned off for this run");
    s.seccomp = launched && launcher.seccomp && caps.seccomp_user_notif;
    s.mechanism = s.seccomp ? Mechanism::Seccomp : Mechanism::SysEnterKill;
    s.reasons.push_back("bpf-lsm: has no per-syscall hook; seccomp needs the launcher to install it");
    return s;
}

SectionPlan plan_network(const FunctionPolicy& policy, Mode mode, const EnforcementCapabilities& caps,
                         bool launched, const LauncherOptions& launcher, EnforcementPlan& plan) {
    SectionPlan s = section_base(PolicySection::Network, policy.network.restricted, policy.network.on_violation, mode);
    // The hook can refuse: deny and kill both refuse there (kill adds a SIGKILL).
    s.kernel_action = s.action == ViolationAction::Report ? FNW_KACTION_REPORT : FNW_KACTION_DENY;
    if (!acts(s)) return s;
    const bool lsm = caps.lsm("socket_connect") || caps.lsm("socket_bind");
    for (const char* hook : {"socket_connect", "socket_bind"})
        if (!caps.lsm(hook)) s.reasons.push_back(std::string("bpf-lsm ") + hook + ": " + caps.lsm_why_not(hook));
    s.mechanism = lsm ? Mechanism::BpfLsm : Mechanism::CgroupSockHook;
    s.userspace_kill = s.action == ViolationAction::Kill;
    plan.landlock_network = launched && launcher.landlock;
    s.landlock = plan.landlock_network && caps.landlock_abi >= 4;
    if (plan.landlock_network && !s.landlock) s.reasons.push_back("landlock network rights: need ABI 4 (6.7)");
    return s;
}

SectionPlan plan_files(const FunctionPolicy& policy, Mode mode, const EnforcementCapabilities& caps, bool launched,
                       const LauncherOptions& launcher, EnforcementPlan& plan) {
    SectionPlan s = section_base(PolicySection::Files, policy.files.restricted, policy.files.on_violation, mode);
    if (!acts(s)) return s;
    plan.landlock_files = launched && launcher.landlock;
    s.landlock = plan.landlock_files && caps.landlock_abi > 0;
    s.userspace_kill = s.action == ViolationAction::Kill;
    if (!caps.lsm("file_open")) s.reasons.push_back("bpf-lsm file_open: " + caps.lsm_why_not("file_open"));
    if (plan.landlock_files && !s.landlock) s.reasons.push_back("landlock: not available on this kernel");
    s.mechanism = s.landlock ? Mechanism::Landlock : caps.lsm("file_open") ? Mechanism::BpfLsm : Mechanism::SysExitKill;
    return s;
}

SectionPlan plan_exec(const FunctionPolicy& policy, Mode mode, const EnforcementCapabilities& caps, bool launched,
                      const LauncherOptions& launcher, EnforcementPlan& plan) {
    SectionPlan s = section_base(PolicySection::Exec, policy.exec.restricted, policy.exec.on_violation, mode);
    // Globs cannot be matched by the LSM hook's exact-path lookup: such
    // policies are checked after the exec only (sched_process_exec).
    plan.exec_allowlist_in_lsm =
        policy.exec.restricted && exec_rules_fit_lsm(policy.exec) && caps.lsm("bprm_check_security");
    if (!acts(s)) return s;
    plan.landlock_exec = launched && launcher.landlock;
    s.landlock = plan.landlock_exec && caps.landlock_abi > 0;
    s.userspace_kill = s.action == ViolationAction::Kill;
    if (!caps.lsm("bprm_check_security"))
        s.reasons.push_back("bpf-lsm bprm_check_security: " + caps.lsm_why_not("bprm_check_security"));
    else if (!plan.exec_allowlist_in_lsm)
        s.reasons.push_back("bpf-lsm: the allowlist has globs (exact paths only)");
    if (plan.landlock_exec && !s.landlock) s.reasons.push_back("landlock: not available on this kernel");
    s.mechanism = plan.exec_allowlist_in_lsm ? Mechanism::BpfLsm
                  : s.landlock               ? Mechanism::Landlock
                                             : Mechanism::SysExitKill;
    return s;
}

SectionPlan plan_process(const FunctionPolicy& policy, Mode mode, const EnforcementCapabilities& caps) {
    SectionPlan s = section_base(PolicySection::Process, policy.process.restricted, policy.process.on_violation, mode);
    if (!acts(s)) return s;
    // The LSM hooks refuse for deny and kill; the tracepoints that stand in
    // for them without BPF-LSM kill for both.
    bool every_hook = true;
    for (const auto& [what, hook] : process_hooks()) {
        if (caps.lsm(hook)) continue;
        every_hook = false;
        s.reasons.push_back(what + ": bpf-lsm " + hook + ": " + caps.lsm_why_not(hook));
    }
    s.mechanism = every_hook ? Mechanism::BpfLsm : Mechanism::SysEnterKill;
    return s;
}

}  // namespace

std::string EnforcementCapabilities::lsm_why_not(const std::string& hook) const {
    if (assume_every_lsm_hook) return "";
    if (auto it = lsm_hooks.find(hook); it != lsm_hooks.end()) return it->second;
    return lsm_error.empty() ? "not in this build" : lsm_error;
}

const SectionPlan& EnforcementPlan::section(PolicySection which) const {
    switch (which) {
    case PolicySection::Syscalls: return syscalls;
    case PolicySection::Network: return network;
    case PolicySection::Files: return files;
    case PolicySection::Exec: return exec;
    case PolicySection::Process: break;
    }
    return process;
}

EnforcementPlan plan_enforcement(const FunctionPolicy& policy, Mode mode, const EnforcementCapabilities& capabilities,
                                 bool launched, LauncherOptions launcher) {
    EnforcementPlan plan;
    plan.mode = mode;
    plan.launched = launched;
    plan.syscalls = plan_syscalls(policy, mode, capabilities, launched, launcher);
    plan.network = plan_network(policy, mode, capabilities, launched, launcher, plan);
    plan.files = plan_files(policy, mode, capabilities, launched, launcher, plan);
    plan.exec = plan_exec(policy, mode, capabilities, launched, launcher, plan);
    plan.process = plan_process(policy, mode, capabilities);
    for (SectionPlan* s : {&plan.syscalls, &plan.network, &plan.files, &plan.exec, &plan.process})
        s->killer = killer_for(s->mechanism, s->action);
    if ((plan.landlock_files || plan.landlock_exec) && capabilities.landlock_abi <= 0)
        plan.refusal = "the policy restricts files/exec in enforce mode but this kernel has no Landlock; "
                       "run in audit mode or drop those sections";
    return plan;
}

FunctionPolicy landlock_view(const FunctionPolicy& policy, const EnforcementPlan& plan) {
    FunctionPolicy view = policy;
    view.network.restricted &= plan.landlock_network;
    view.files.restricted &= plan.landlock_files;
    view.exec.restricted &= plan.landlock_exec;
    return view;
}

const std::vector<std::pair<std::string, std::string>>& process_hooks() {
    static const std::vector<std::pair<std::string, std::string>> hooks = {
        {"ptrace", "ptrace_access_check"},
        {"bpf()", "bpf"},
        {"exec memory (mprotect)", "file_mprotect"},
        {"exec memory (mmap)", "mmap_file"},
    };
    return hooks;
}

bool exec_rules_fit_lsm(const ExecRules& rules) {
    return std::none_of(rules.allow.begin(), rules.allow.end(), [](const std::string& pattern) {
        return pattern.find('*') != std::string::npos || pattern.size() >= FNW_EXEC_PATH_MAX;
    });
}

std::string_view to_string(PolicySection section) {
    switch (section) {
    case PolicySection::Syscalls: return "syscalls";
    case PolicySection::Network: return "network";
    case PolicySection::Files: return "files";
    case PolicySection::Exec: return "exec";
    case PolicySection::Process: break;
    }
    return "process";
}

std::string_view to_string(Mechanism mechanism) {
    switch (mechanism) {
    case Mechanism::None: return "none";
    case Mechanism::BpfLsm: return "bpf-lsm";
    case Mechanism::Landlock: return "landlock";
    case Mechanism::Seccomp: return "seccomp";
    case Mechanism::CgroupSockHook: return "cgroup socket hook";
    case Mechanism::SysEnterKill: return "sys_enter kill";
    case Mechanism::SysExitKill: return "sys_exit kill";
    case Mechanism::UserspaceKill: return "userspace kill";
    case Mechanism::Report: break;
    }
    return "report";
}

std::string_view to_string(Killer killer) {
    switch (killer) {
    case Killer::Nobody: return "nobody";
    case Killer::Kernel: return "kernel";
    case Killer::Fnwarden: break;
    }
    return "fnwarden";
}

}  // namespace fnw
