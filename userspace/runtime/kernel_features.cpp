// SPDX-License-Identifier: Apache-2.0
#include "runtime/kernel_features.hpp"

#include <algorithm>
#include <sstream>

#include "core/policy_summary.hpp"
#include "runtime/landlock_sandbox.hpp"

namespace fnw {
namespace {

EnforcementCapabilities capabilities_of(const KernelCapabilities& features, const LsmStatus& lsm) {
    return enforcement_capabilities(features, lsm.error, lsm.hooks);
}

const char* protocol_name(uint8_t p) { return p == 6 ? " tcp" : p == 17 ? " udp" : " any"; }

void explain_syscalls(std::ostream& out, const FunctionPolicy& policy, const EnforcementPlan& plan) {
    out << "  syscalls.allow (" << policy.syscalls.allow.count() << " syscalls), onViolation "
        << to_string(policy.syscalls.on_violation);
    if (plan.mode == Mode::Audit) out << " (audit mode: report only)";
    out << "\n";
    switch (plan.syscalls.mechanism) {
    case Mechanism::None: out << "    -> not restricted (no syscalls section)\n"; break;
    case Mechanism::Report: out << "    -> tp_btf/sys_enter probe: reported, the syscall runs\n"; break;
    case Mechanism::Seccomp:
        out << "    -> seccomp user-notif: the launcher reports, then "
            << (plan.syscalls.action == ViolationAction::Deny ? "answers EPERM" : "kills the process")
            << "; the syscall never runs\n";
        out << "    -> execve (and sendmsg/write on the launcher's two fds) pass seccomp for the launcher:\n"
               "       the tp_btf/sys_enter probe kills after the fact if the policy omits them\n";
        break;
    default:
        out << "    -> tp_btf/sys_enter probe: SIGKILL, the syscall completes first"
               " (seccomp user_notif not in /proc/sys/kernel/seccomp/actions_avail)\n";
    }
}

void explain_network_rules(std::ostream& out, const NetworkRules& network) {
    for (const auto& rule : network.egress) {
        out << "    egress " << format_network(rule.network);
        if (!rule.ports.empty()) {
            out << " ports";
            for (auto p : rule.ports) out << " " << p;
        }
        out << protocol_name(rule.protocol) << "\n";
    }
    for (const auto& rule : network.listen) out << "    listen " << rule.port << protocol_name(rule.protocol) << "\n";
}

void explain_network(std::ostream& out, const FunctionPolicy& policy, const EnforcementPlan& plan,
                     const EnforcementCapabilities& caps) {
    const SectionPlan& net = plan.network;
    if (!net.restricted) {
        out << "  network: no section -> not restricted\n";
        return;
    }
    out << "  network (" << policy.network.egress.size() << " egress, " << policy.network.listen.size()
        << " listen rules), onViolation " << to_string(policy.network.on_violation) << "\n";
    explain_network_rules(out, policy.network);
    const bool acting = net.action != ViolationAction::Report;
    const bool kill = net.action == ViolationAction::Kill;
    for (const char* hook : {"socket_connect", "socket_bind"}) {
        if (!acting) break;
        const std::string why = caps.lsm_why_not(hook);
        out << "    -> bpf-lsm (" << hook << "): "
            << (why.empty() ? std::string("refuses first (EPERM") + (kill ? ", SIGKILL in the kernel" : "") +
                                  "); the cgroup hooks below see only what it let through"
                            : "not available: " + why)
            << "\n";
    }
    out << "    -> cgroup connect4/6, sendmsg4/6, bind4/6 hooks: ";
    if (!acting)
        out << "reported, the operation proceeds\n";
    else
        out << "refused in the kernel (EPERM), nothing is sent" << (kill ? "; then SIGKILL from fnwarden" : "") << "\n";
    if (net.landlock)
        out << "    -> fnwarden run: landlock (ABI " << caps.landlock_abi
            << ") also refuses TCP connect/bind to ports no rule names (EACCES, reported at sys_exit)\n";
    out << "    -> unix sockets: network.unix at connect; raw sockets are not checked yet\n";
}

// Landlock's line for the files or exec section.
void explain_landlock(std::ostream& out, const SectionPlan& section, const EnforcementCapabilities& caps) {
    if (section.action == ViolationAction::Report)
        out << "    -> report only: the file probes see every access (canonical path); nothing acts\n";
    else if (section.landlock)
        out << "    -> landlock (ABI " << caps.landlock_abi << "): EACCES before it happens, reported at sys_exit"
            << (section.action == ViolationAction::Kill ? "; then SIGKILL from fnwarden" : "") << "\n";
    else
        out << "    -> no landlock on this kernel: fnwarden run refuses to start in enforce mode\n";
}

void explain_files(std::ostream& out, const FunctionPolicy& policy, const EnforcementPlan& plan,
                   const EnforcementCapabilities& caps) {
    const SectionPlan& files = plan.files;
    if (!files.restricted) {
        out << "  files: no section -> not restricted\n";
        return;
    }
    out << "  files (read " << policy.files.read.size() << ", write " << policy.files.write.size() << ", create "
        << policy.files.create.size() << ", delete " << policy.files.remove.size() << " patterns), onViolation "
        << to_string(policy.files.on_violation) << "\n";
    const bool acting = files.action != ViolationAction::Report;
    if (acting) {
        const bool paths = caps.lsm("path_mkdir");
        if (const std::string why = caps.lsm_why_not("file_open"); !why.empty())
            out << "    -> bpf-lsm (file_open): not available: " << why << "\n";
        else
            out << "    -> bpf-lsm (file_open" << (paths ? ", path_*" : "") << "): opens"
                << (paths ? ", creates, deletes, links" : "")
                << " outside the exact and dir/** patterns refused (EPERM) before they happen, for every "
                   "monitored process; '*' globs are decided after the fact\n";
    }
    explain_landlock(out, files, caps);
    out << "    -> file probes: every open/create/delete/rename/link/chmod/truncate checked; exact and dir/** "
           "patterns by inode in the kernel, '*' globs in fnwarden"
        << (acting ? "; a violation Landlock let through is killed at sys_exit\n" : "\n");
}

void explain_exec(std::ostream& out, const FunctionPolicy& policy, const EnforcementPlan& plan,
                  const EnforcementCapabilities& caps) {
    const SectionPlan& exec = plan.exec;
    if (!exec.restricted) {
        out << "  exec: no section -> not restricted (fileless execution is still flagged)\n";
        return;
    }
    out << "  exec (" << policy.exec.allow.size() << " programs), onViolation " << to_string(policy.exec.on_violation)
        << "\n";
    for (const auto& line : describe_exec_interpreters(policy.exec)) out << "    " << line << "\n";
    const bool acting = exec.action != ViolationAction::Report;
    if (acting) {
        if (const std::string why = caps.lsm_why_not("bprm_check_security"); !why.empty())
            out << "    -> bpf-lsm (bprm_check_security): not available: " << why << "\n";
        else if (!plan.exec_allowlist_in_lsm)
            out << "    -> bpf-lsm: not used, the allowlist has globs (exact paths only)\n";
        else
            out << "    -> bpf-lsm (bprm_check_security): EPERM before the new image runs, for every "
                   "monitored process\n";
    }
    explain_landlock(out, exec, caps);
    out << "    -> sched_process_exec: every exec checked" << (acting ? "; killed before the new image runs\n" : "\n");
}

void explain_process(std::ostream& out, const FunctionPolicy& policy, const EnforcementPlan& plan,
                     const EnforcementCapabilities& caps) {
    if (!plan.process.restricted) {
        out << "  process: no section -> ptrace, bpf() and executable memory not restricted\n";
        return;
    }
    const ViolationAction action = plan.process.action;
    out << "  process (ptrace " << (policy.process.ptrace ? "allowed" : "refused") << ", bpf "
        << (policy.process.bpf ? "allowed" : "refused") << ", execMemory "
        << (policy.process.exec_memory ? "allowed" : "refused") << "), onViolation "
        << to_string(policy.process.on_violation) << "\n";
    for (const auto& [what, hook] : process_hooks()) {
        out << "    -> " << what << ": ";
        if (const std::string why = caps.lsm_why_not(hook); why.empty())
            out << "bpf-lsm " << hook
                << (action == ViolationAction::Report ? ": reported before it happens" : ": refused (EPERM) before it happens")
                << (action == ViolationAction::Kill ? ", then SIGKILL" : "") << "\n";
        else
            out << "syscall tracepoint: "
                << (action == ViolationAction::Report ? "reported" : "SIGKILL, the syscall completes first")
                << " (bpf-lsm " << hook << ": " << why << ")\n";
    }
}

void explain_kernel(std::ostream& out, const KernelCapabilities& features, const LsmStatus& lsm) {
    out << "  kernel: seccomp user_notif " << (features.seccomp_user_notif ? "yes" : "no") << "; landlock ";
    if (features.landlock_abi)
        out << "ABI " << *features.landlock_abi;
    else
        out << "unavailable";
    out << "; bpf LSM ";
    if (!features.active_lsms)
        out << "unknown (securityfs not mounted at /sys/kernel/security)";
    else
        out << (features.bpf_lsm_listed() ? "listed" : "not listed") << " in /sys/kernel/security/lsm";
    out << "; fnwarden lsm programs " << (lsm.error.empty() ? "loaded" : "not loaded (" + lsm.error + ")") << "\n";
    // One line when every hook failed for the same reason (this host: 15
    // times "refused at load"), else one per hook.
    const bool one_reason =
        !lsm.hooks.empty() && std::all_of(lsm.hooks.begin(), lsm.hooks.end(), [&](const auto& hook) {
            return !hook.second.empty() && hook.second == lsm.hooks.begin()->second;
        });
    if (one_reason)
        out << "    all " << lsm.hooks.size() << " lsm hooks: " << lsm.hooks.begin()->second << "\n";
    else
        for (const auto& [hook, why] : lsm.hooks) out << "    lsm/" << hook << ": " << (why.empty() ? "loaded" : why) << "\n";
}

// A policy that restricts every section and kills: what the matrix shows is
// the strongest each mechanism can do on this host.
FunctionPolicy strictest_policy() {
    FunctionPolicy p;
    p.syscalls.allow.set();
    p.syscalls.allow.reset(0);
    p.syscalls.on_violation = ViolationAction::Kill;
    p.network.restricted = p.files.restricted = p.exec.restricted = p.process.restricted = true;
    p.network.on_violation = p.files.on_violation = p.exec.on_violation = p.process.on_violation = ViolationAction::Kill;
    p.exec.allow = {"/bin/true"};  // exact: fits the LSM hook's lookup
    return p;
}

struct HostPlans {
    EnforcementCapabilities caps;
    EnforcementPlan launched, watched;
};

EnforcementRow syscalls_row(const HostPlans& host) {
    EnforcementRow row{"syscalls", "", "sigkill at sys_enter (the syscall completes first)", host.launched.syscalls.reasons};
    row.launched = host.launched.syscalls.seccomp ? "seccomp user-notif: denied before it runs (EPERM or kill)" : row.watched;
    return row;
}

// Inet connect/bind: BPF-LSM's socket hooks come first where they load
// (kill in the kernel, lineage from the task), the cgroup hooks else.
EnforcementRow network_row(const HostPlans& host) {
    const EnforcementCapabilities& caps = host.caps;
    const std::string connect_lsm = caps.lsm_why_not("socket_connect");
    const std::string bind_lsm = caps.lsm_why_not("socket_bind");
    std::string cgroup_sock = "cgroup sock_addr hooks: connect/sendmsg/bind refused (EPERM)";
    if (host.watched.network.mechanism == Mechanism::BpfLsm)
        cgroup_sock = std::string("bpf-lsm ") +
                      (connect_lsm.empty() && bind_lsm.empty() ? "socket_connect/socket_bind"
                       : connect_lsm.empty()                   ? "socket_connect"
                                                               : "socket_bind") +
                      " refuses first (EPERM; kill in the kernel); " + cgroup_sock;
    EnforcementRow row{"network", cgroup_sock, cgroup_sock, {}};
    if (host.launched.network.landlock)
        row.launched += "; landlock ABI " + std::to_string(caps.landlock_abi) +
                        ": TCP connect/bind by port (EACCES), holds without fnwarden";
    else
        row.rejected.push_back("landlock network rights: need ABI 4 (6.7)");
    // Unix connects and accepted connections: no cgroup hook sees them.
    const std::string after_the_fact = "accept on an unlisted port: sigkill at sys_exit (the process never gets the fd)";
    const std::string unix_line = connect_lsm.empty()
                                      ? "unix connect outside network.unix: bpf-lsm socket_connect refuses (EPERM)"
                                      : "unix connect outside network.unix: sigkill at sys_exit";
    row.watched += "; " + unix_line + "; " + after_the_fact;
    row.launched += "; " + unix_line + "; " + after_the_fact;
    if (!connect_lsm.empty()) row.rejected.push_back("bpf-lsm socket_connect: " + connect_lsm);
    if (!bind_lsm.empty() && bind_lsm != connect_lsm) row.rejected.push_back("bpf-lsm socket_bind: " + bind_lsm);
    return row;
}

std::string landlock_text(const EnforcementCapabilities& caps) {
    return "landlock ABI " + std::to_string(caps.landlock_abi) + ": refused (EACCES), reported at sys_exit";
}

EnforcementRow exec_row(const HostPlans& host) {
    EnforcementRow row{"exec", "", "", {}};
    const std::string lsm = "bpf-lsm bprm_check_security: refused (EPERM) before the new image runs";
    switch (host.launched.exec.mechanism) {
    case Mechanism::BpfLsm: row.launched = lsm; break;
    case Mechanism::Landlock: row.launched = landlock_text(host.caps); break;
    default: row.launched = "sigkill at sched_process_exec (the new image never runs)";
    }
    row.watched = host.watched.exec.mechanism == Mechanism::BpfLsm
                      ? lsm
                      : "sigkill at sched_process_exec: the exec happened, the new image never runs";
    if (host.watched.exec.mechanism == Mechanism::BpfLsm)
        row.rejected.push_back("globs in exec.allow: exact paths only under bpf-lsm, Landlock for launched functions");
    else
        row.rejected.push_back("bpf-lsm bprm_check_security: " + host.caps.lsm_why_not("bprm_check_security"));
    if (host.caps.landlock_abi <= 0) row.rejected.push_back("landlock: not available on this kernel");
    return row;
}

// What the file LSM hooks refuse before it happens, by which of them loaded.
std::string files_lsm_text(const EnforcementCapabilities& caps) {
    if (!caps.lsm("path_mkdir"))
        return "bpf-lsm file_open: opens refused (EPERM) before the fd exists (exact and dir/** patterns); "
               "create/delete/rename: sigkill at sys_exit";
    const bool rename = caps.lsm("path_rename");
    return "bpf-lsm file_open + path_*: opens, creates, deletes, links" + std::string(rename ? ", renames" : "") +
           " refused (EPERM) before they happen (exact and dir/** patterns)" +
           (rename ? "" : "; rename: sigkill at sys_exit");
}

EnforcementRow files_row(const HostPlans& host) {
    const EnforcementCapabilities& caps = host.caps;
    const std::string file_kill = "sigkill at sys_exit (the operation happened; the process never sees its result)";
    auto text = [&](Mechanism mechanism) {
        return mechanism == Mechanism::Landlock ? landlock_text(caps)
               : mechanism == Mechanism::BpfLsm ? files_lsm_text(caps)
                                                : file_kill;
    };
    EnforcementRow row{"files", text(host.launched.files.mechanism), text(host.watched.files.mechanism), {}};
    if (caps.lsm("file_open")) {
        const std::string path_lsm = caps.lsm_why_not("path_mkdir");
        if (!path_lsm.empty()) row.rejected.push_back("bpf-lsm path_* hooks: " + path_lsm);
        if (path_lsm.empty() && !caps.lsm("path_rename"))
            row.rejected.push_back("bpf-lsm path_rename: " + caps.lsm_why_not("path_rename"));
        row.rejected.push_back("'*' globs: decided by fnwarden after the fact, then killed");
    } else {
        row.rejected.push_back("bpf-lsm file_open: " + caps.lsm_why_not("file_open"));
    }
    if (caps.landlock_abi <= 0) row.rejected.push_back("landlock: not available on this kernel");
    return row;
}

// spec.process: the same mechanism for launched and watched functions.
// Kinds guarded alike share one line, hooks refused alike one reason (this
// host: four kinds, one "refused at load").
EnforcementRow process_row(const HostPlans& host) {
    EnforcementRow row{"process", "", "", {}};
    std::string lsm_kinds, lsm_hooks, sigkill_kinds;
    std::vector<std::pair<std::string, std::string>> reasons;  // why -> hooks, in hook order
    auto append = [](std::string& list, const std::string& item, const char* sep) {
        list += (list.empty() ? "" : sep) + item;
    };
    for (const auto& [what, hook] : process_hooks()) {
        const std::string why = host.caps.lsm_why_not(hook);
        if (why.empty()) {
            append(lsm_kinds, what, ", ");
            append(lsm_hooks, hook, ", ");
            continue;
        }
        append(sigkill_kinds, what, ", ");
        auto same = std::find_if(reasons.begin(), reasons.end(), [&](const auto& r) { return r.first == why; });
        if (same == reasons.end())
            reasons.emplace_back(why, hook);
        else
            append(same->second, hook, "/");
    }
    if (!lsm_kinds.empty()) row.watched = lsm_kinds + ": bpf-lsm refuses (EPERM) before it happens (" + lsm_hooks + ")";
    if (!sigkill_kinds.empty())
        append(row.watched, sigkill_kinds + ": sigkill at sys_enter (the syscall completes first)", "; ");
    for (const auto& [why, hooks] : reasons) row.rejected.push_back("bpf-lsm " + hooks + ": " + why);
    row.launched = row.watched;
    return row;
}

}  // namespace

std::string LsmStatus::why_not(const std::string& hook) const {
    if (auto it = hooks.find(hook); it != hooks.end()) return it->second;
    return error.empty() ? "not in this build" : error;
}

std::string explain_enforcement(const FunctionPolicy& policy, Mode mode, const KernelCapabilities& features,
                                const LsmStatus& lsm) {
    const EnforcementCapabilities caps = capabilities_of(features, lsm);
    const EnforcementPlan plan = plan_enforcement(policy, mode, caps, /*launched=*/true);
    std::ostringstream out;
    out << "policy " << policy.name << " (" << policy.source << "), mode " << to_string(mode) << ", kernel "
        << features.release << "\n";
    explain_syscalls(out, policy, plan);
    explain_network(out, policy, plan, caps);
    explain_files(out, policy, plan, caps);
    explain_exec(out, policy, plan, caps);
    explain_process(out, policy, plan, caps);
    if (caps.landlock_abi > 0)
        for (const auto& note : plan_landlock(landlock_view(policy, plan), caps.landlock_abi).notes)
            out << "    note: " << note << "\n";
    for (const auto& warning : policy_warnings(policy)) out << "  warning: " << warning << "\n";
    explain_kernel(out, features, lsm);
    return out.str();
}

std::vector<EnforcementRow> enforcement_matrix(const KernelCapabilities& features, const LsmStatus& lsm) {
    HostPlans host;
    host.caps = capabilities_of(features, lsm);
    const FunctionPolicy strictest = strictest_policy();
    host.launched = plan_enforcement(strictest, Mode::Enforce, host.caps, /*launched=*/true);
    host.watched = plan_enforcement(strictest, Mode::Enforce, host.caps, /*launched=*/false);
    return {syscalls_row(host), network_row(host), exec_row(host), files_row(host), process_row(host)};
}

}  // namespace fnw
