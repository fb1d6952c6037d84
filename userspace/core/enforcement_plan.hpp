// SPDX-License-Identifier: Apache-2.0
// What enforces each section of a policy, decided once.
//
// The kernel policy (compile_kernel_policy), the launcher (FunctionRunner),
// the daemon's userspace kills (KillOnViolation), `--explain` and the
// status matrix all read this plan instead of deciding again: what one of
// them says is what another one wires. Pure: the kernel's abilities come in
// as EnforcementCapabilities, which the caller fills from its
// KernelCapabilities probe and the ProbeSet's LSM load results.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/policy.hpp"

namespace fnw {

// What the kernel can do for fnwarden, as far as a plan needs to know.
struct EnforcementCapabilities {
    bool seccomp_user_notif = false;  // /proc/sys/kernel/seccomp/actions_avail lists user_notif
    int landlock_abi = 0;             // 0: no Landlock
    // Per LSM hook: "" when fnwarden's program there loaded, else why not.
    std::map<std::string, std::string> lsm_hooks;
    std::string lsm_error;  // "" when some LSM program loaded, else why none did
    // Compiling before the probes are loaded: every hook counts as loaded
    // (ProbeSet::set_policy plans again with what did load).
    bool assume_every_lsm_hook = false;

    // "" when `hook`'s program is loaded, else why not.
    std::string lsm_why_not(const std::string& hook) const;
    bool lsm(const std::string& hook) const { return lsm_why_not(hook).empty(); }
};

// What `fnwarden run` may add for a function it starts. Tests turn them
// off to see what a function the daemon only watches gets.
struct LauncherOptions {
    bool seccomp = true;
    bool landlock = true;
};

enum class PolicySection { Syscalls, Network, Files, Exec, Process };

// The first mechanism that acts on a violation of the section.
enum class Mechanism {
    None,            // not restricted, or audit: nothing acts
    BpfLsm,          // an LSM hook refuses before the operation
    Landlock,        // the function's own ruleset refuses (EACCES)
    Seccomp,         // user-notif: the launcher answers before the syscall runs
    CgroupSockHook,  // cgroup sock_addr hooks refuse (EPERM)
    SysEnterKill,    // a tracepoint at syscall entry kills; the syscall completes
    SysExitKill,     // killed at sys_exit (or sched_process_exec for exec): it happened
    UserspaceKill,   // only fnwarden can act (after the fact)
    Report,          // seen and reported, nothing acts
};

enum class Killer { Nobody, Kernel, Fnwarden };

struct SectionPlan {
    PolicySection section = PolicySection::Syscalls;
    bool restricted = false;
    ViolationAction action = ViolationAction::Report;  // onViolation in this mode
    Mechanism mechanism = Mechanism::None;
    uint32_t kernel_action = 0;  // FNW_KACTION_* the BPF side applies
    Killer killer = Killer::Nobody;
    // fnwarden sends SIGKILL on the event when the kernel only refused
    // (the network hooks, Landlock): onViolation kill in enforce mode.
    bool userspace_kill = false;
    bool landlock = false;  // Landlock enforces it (launched, and the kernel has it)
    bool seccomp = false;   // seccomp user-notif enforces it (syscalls, launched)
    std::vector<std::string> reasons;  // why this mechanism and not a stronger one
};

struct EnforcementPlan {
    Mode mode = Mode::Audit;
    bool launched = false;
    SectionPlan syscalls, network, files, exec, process;
    // exec.allow goes to bprm_check_security (FNW_POLICY_EXEC_LSM): the hook
    // is loaded and every entry is an exact path.
    bool exec_allowlist_in_lsm = false;
    // Sections the launcher puts in a Landlock ruleset (acting, launched,
    // landlock allowed), whether or not this kernel has Landlock.
    bool landlock_files = false, landlock_exec = false, landlock_network = false;
    // "" or why `fnwarden run` must not start the function.
    std::string refusal;

    const SectionPlan& section(PolicySection which) const;
    const SectionPlan* begin() const { return &syscalls; }
    const SectionPlan* end() const { return &process + 1; }
};

EnforcementPlan plan_enforcement(const FunctionPolicy& policy, Mode mode, const EnforcementCapabilities& capabilities,
                                 bool launched, LauncherOptions launcher = {});

// `policy` with only the sections the launcher's Landlock ruleset covers
// still restricted (what plan_landlock takes).
FunctionPolicy landlock_view(const FunctionPolicy& policy, const EnforcementPlan& plan);

// spec.process's kinds of operation and the LSM hook that guards each.
const std::vector<std::pair<std::string, std::string>>& process_hooks();

// The exec allowlist fits the LSM hook's exact-path lookup (no globs, short enough).
bool exec_rules_fit_lsm(const ExecRules& rules);

std::string_view to_string(PolicySection section);
std::string_view to_string(Mechanism mechanism);
std::string_view to_string(Killer killer);

}  // namespace fnw
