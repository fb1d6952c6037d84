#include "runtime/kernel_features.hpp"

#include "probes/probe_set.hpp"
#include "runtime/landlock_sandbox.hpp"

#include <linux/landlock.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace fnw {

bool KernelFeatures::bpf_lsm_listed() const {
    return active_lsms && std::find(active_lsms->begin(), active_lsms->end(), "bpf") != active_lsms->end();
}

KernelFeatures probe_kernel_features() {
    KernelFeatures f;
    utsname u{};
    if (uname(&u) == 0) f.release = u.release;

    std::ifstream actions("/proc/sys/kernel/seccomp/actions_avail");
    for (std::string a; actions >> a;) f.seccomp_user_notif = f.seccomp_user_notif || a == "user_notif";

    long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi > 0) f.landlock_abi = static_cast<int>(abi);

    if (std::ifstream lsm("/sys/kernel/security/lsm"); lsm) {
        std::string list;
        std::getline(lsm, list);
        std::stringstream names(list);
        f.active_lsms.emplace();
        for (std::string name; std::getline(names, name, ',');)
            if (!name.empty()) f.active_lsms->push_back(name);
    }
    return f;
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

std::string LsmStatus::why_not(const std::string& hook) const {
    if (auto it = hooks.find(hook); it != hooks.end()) return it->second;
    return error.empty() ? "not in this build" : error;
}

std::string explain_enforcement(const FunctionPolicy& policy, Mode mode, const KernelFeatures& features,
                                const LsmStatus& lsm) {
    std::ostringstream out;
    const ViolationAction action = effective_syscall_action(policy, mode);
    out << "policy " << policy.name << " (" << policy.source << "), mode " << to_string(mode) << ", kernel "
        << features.release << "\n";

    out << "  syscalls.allow (" << policy.syscalls.allow.count() << " syscalls), onViolation "
        << to_string(policy.syscalls.on_violation);
    if (mode == Mode::Audit) out << " (audit mode: report only)";
    out << "\n";
    if (policy.syscalls.allow.all()) {
        out << "    -> not restricted (no syscalls section)\n";
    } else if (action == ViolationAction::Report) {
        out << "    -> tp_btf/sys_enter probe: reported, the syscall runs\n";
    } else if (features.seccomp_user_notif) {
        out << "    -> seccomp user-notif: the launcher reports, then "
            << (action == ViolationAction::Deny ? "answers EPERM" : "kills the process")
            << "; the syscall never runs\n";
        out << "    -> execve (and sendmsg/write on the launcher's two fds) pass seccomp for the launcher:\n"
               "       the tp_btf/sys_enter probe kills after the fact if the policy omits them\n";
    } else {
        out << "    -> tp_btf/sys_enter probe: SIGKILL, the syscall completes first"
               " (seccomp user_notif not in /proc/sys/kernel/seccomp/actions_avail)\n";
    }

    out << "  network";
    if (!policy.network.restricted) {
        out << ": no section -> not restricted\n";
    } else {
        const ViolationAction net_action = effective_network_action(policy, mode);
        out << " (" << policy.network.egress.size() << " egress, " << policy.network.listen.size()
            << " listen rules), onViolation " << to_string(policy.network.on_violation) << "\n";
        auto protocol = [](uint8_t p) { return p == 6 ? " tcp" : p == 17 ? " udp" : " any"; };
        for (const auto& rule : policy.network.egress) {
            out << "    egress " << format_network(rule.network);
            if (!rule.ports.empty()) {
                out << " ports";
                for (auto p : rule.ports) out << " " << p;
            }
            out << protocol(rule.protocol) << "\n";
        }
        for (const auto& rule : policy.network.listen)
            out << "    listen " << rule.port << protocol(rule.protocol) << "\n";
        if (net_action != ViolationAction::Report) {
            for (const char* hook : {"socket_connect", "socket_bind"}) {
                const std::string why = lsm.why_not(hook);
                out << "    -> bpf-lsm (" << hook << "): "
                    << (why.empty() ? std::string("refuses first (EPERM") +
                                          (net_action == ViolationAction::Kill ? ", SIGKILL in the kernel" : "") +
                                          "); the cgroup hooks below see only what it let through"
                                    : "not available: " + why)
                    << "\n";
            }
        }
        out << "    -> cgroup connect4/6, sendmsg4/6, bind4/6 hooks: ";
        if (net_action == ViolationAction::Report)
            out << "reported, the operation proceeds\n";
        else
            out << "refused in the kernel (EPERM), nothing is sent"
                << (net_action == ViolationAction::Kill ? "; then SIGKILL from fnwarden" : "") << "\n";
        if (net_action != ViolationAction::Report && features.landlock_abi && *features.landlock_abi >= 4)
            out << "    -> fnwarden run: landlock (ABI " << *features.landlock_abi
                << ") also refuses TCP connect/bind to ports no rule names (EACCES, reported at sys_exit)\n";
        out << "    -> unix sockets: network.unix at connect; raw sockets are not checked yet\n";
    }

    const auto file_action = effective_action(policy.files.on_violation, mode);
    const auto exec_action = effective_action(policy.exec.on_violation, mode);
    auto landlock_line = [&](ViolationAction action) {
        if (action == ViolationAction::Report)
            out << "    -> report only: the file probes see every access (canonical path); nothing acts\n";
        else if (features.landlock_abi)
            out << "    -> landlock (ABI " << *features.landlock_abi << "): EACCES before it happens, reported at sys_exit"
                << (action == ViolationAction::Kill ? "; then SIGKILL from fnwarden" : "") << "\n";
        else
            out << "    -> no landlock on this kernel: fnwarden run refuses to start in enforce mode\n";
    };
    if (policy.files.restricted) {
        out << "  files (read " << policy.files.read.size() << ", write " << policy.files.write.size() << ", create "
            << policy.files.create.size() << ", delete " << policy.files.remove.size()
            << " patterns), onViolation " << to_string(policy.files.on_violation) << "\n";
        if (file_action != ViolationAction::Report) {
            if (const std::string why = lsm.why_not("file_open"); !why.empty())
                out << "    -> bpf-lsm (file_open): not available: " << why << "\n";
            else
                out << "    -> bpf-lsm (file_open" << (lsm.why_not("path_mkdir").empty() ? ", path_*" : "")
                    << "): opens" << (lsm.why_not("path_mkdir").empty() ? ", creates, deletes, links" : "")
                    << " outside the exact and dir/** patterns refused (EPERM) before they happen, for every "
                       "monitored process; '*' globs are decided after the fact\n";
        }
        landlock_line(file_action);
        out << "    -> file probes: every open/create/delete/rename/link/chmod/truncate checked; exact and dir/** "
               "patterns by inode in the kernel, '*' globs in fnwarden"
            << (file_action == ViolationAction::Report ? "\n" : "; a violation Landlock let through is killed at sys_exit\n");
    } else {
        out << "  files: no section -> not restricted\n";
    }
    if (policy.exec.restricted) {
        out << "  exec (" << policy.exec.allow.size() << " programs), onViolation " << to_string(policy.exec.on_violation)
            << "\n";
        if (exec_action != ViolationAction::Report) {
            if (const std::string why = lsm.why_not("bprm_check_security"); !why.empty())
                out << "    -> bpf-lsm (bprm_check_security): not available: " << why << "\n";
            else if (!exec_rules_fit_lsm(policy.exec))
                out << "    -> bpf-lsm: not used, the allowlist has globs (exact paths only)\n";
            else
                out << "    -> bpf-lsm (bprm_check_security): EPERM before the new image runs, for every "
                       "monitored process\n";
        }
        landlock_line(exec_action);
        out << "    -> sched_process_exec: every exec checked"
            << (exec_action == ViolationAction::Report ? "\n" : "; killed before the new image runs\n");
    } else {
        out << "  exec: no section -> not restricted (fileless execution is still flagged)\n";
    }
    if (policy.process.restricted) {
        const ViolationAction process_action = effective_action(policy.process.on_violation, mode);
        out << "  process (ptrace " << (policy.process.ptrace ? "allowed" : "refused") << ", bpf "
            << (policy.process.bpf ? "allowed" : "refused") << ", execMemory "
            << (policy.process.exec_memory ? "allowed" : "refused") << "), onViolation "
            << to_string(policy.process.on_violation) << "\n";
        for (const auto& [what, hook] : process_hooks()) {
            out << "    -> " << what << ": ";
            const std::string why = lsm.why_not(hook);
            if (why.empty())
                out << "bpf-lsm " << hook
                    << (process_action == ViolationAction::Report ? ": reported before it happens"
                                                                   : ": refused (EPERM) before it happens")
                    << (process_action == ViolationAction::Kill ? ", then SIGKILL" : "") << "\n";
            else
                out << "syscall tracepoint: "
                    << (process_action == ViolationAction::Report ? "reported" : "SIGKILL, the syscall completes first")
                    << " (bpf-lsm " << hook << ": " << why << ")\n";
        }
    } else {
        out << "  process: no section -> ptrace, bpf() and executable memory not restricted\n";
    }
    if (features.landlock_abi) {
        FunctionPolicy acting = policy;
        acting.files.restricted &= file_action != ViolationAction::Report;
        acting.exec.restricted &= exec_action != ViolationAction::Report;
        acting.network.restricted &= effective_network_action(policy, mode) != ViolationAction::Report;
        for (const auto& note : plan_landlock(acting, *features.landlock_abi).notes) out << "    note: " << note << "\n";
    }

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
        for (const auto& [hook, why] : lsm.hooks)
            out << "    lsm/" << hook << ": " << (why.empty() ? "loaded" : why) << "\n";
    return out.str();
}

std::vector<EnforcementRow> enforcement_matrix(const KernelFeatures& features, const LsmStatus& lsm_status) {
    std::vector<EnforcementRow> rows;

    EnforcementRow syscalls{"syscalls", "", "sigkill at sys_enter (the syscall completes first)", {}};
    if (features.seccomp_user_notif) {
        syscalls.launched = "seccomp user-notif: denied before it runs (EPERM or kill)";
    } else {
        syscalls.launched = syscalls.watched;
        syscalls.rejected.push_back("seccomp: user_notif missing from /proc/sys/kernel/seccomp/actions_avail");
    }
    syscalls.rejected.push_back("bpf-lsm: has no per-syscall hook; seccomp needs the launcher to install it");
    rows.push_back(syscalls);

    // Inet connect/bind: BPF-LSM's socket hooks come first where they load
    // (kill in the kernel, lineage from the task), the cgroup hooks else.
    const std::string connect_lsm = lsm_status.why_not("socket_connect");
    const std::string bind_lsm = lsm_status.why_not("socket_bind");
    std::string cgroup_sock = "cgroup sock_addr hooks: connect/sendmsg/bind refused (EPERM)";
    if (connect_lsm.empty() || bind_lsm.empty())
        cgroup_sock = std::string("bpf-lsm ") +
                      (connect_lsm.empty() && bind_lsm.empty() ? "socket_connect/socket_bind"
                       : connect_lsm.empty()                   ? "socket_connect"
                                                               : "socket_bind") +
                      " refuses first (EPERM; kill in the kernel); " + cgroup_sock;
    EnforcementRow network{"network", cgroup_sock, cgroup_sock, {}};
    if (features.landlock_abi && *features.landlock_abi >= 4)
        network.launched += "; landlock ABI " + std::to_string(*features.landlock_abi) +
                            ": TCP connect/bind by port (EACCES), holds without fnwarden";
    else
        network.rejected.push_back("landlock network rights: need ABI 4 (6.7)");
    // Unix connects and accepted connections: no cgroup hook sees them.
    const std::string unix_lsm = lsm_status.why_not("socket_connect");
    const std::string after_the_fact =
        "accept on an unlisted port: sigkill at sys_exit (the process never gets the fd)";
    const std::string unix_line = unix_lsm.empty()
                                      ? "unix connect outside network.unix: bpf-lsm socket_connect refuses (EPERM)"
                                      : "unix connect outside network.unix: sigkill at sys_exit";
    network.watched += "; " + unix_line + "; " + after_the_fact;
    network.launched += "; " + unix_line + "; " + after_the_fact;
    if (!unix_lsm.empty()) network.rejected.push_back("bpf-lsm socket_connect: " + unix_lsm);
    if (!bind_lsm.empty() && bind_lsm != unix_lsm) network.rejected.push_back("bpf-lsm socket_bind: " + bind_lsm);
    rows.push_back(network);

    const std::string landlock = features.landlock_abi
                                     ? "landlock ABI " + std::to_string(*features.landlock_abi) +
                                           ": refused (EACCES), reported at sys_exit"
                                     : "";
    EnforcementRow exec{"exec", "", "", {}};
    const std::string exec_lsm = lsm_status.why_not("bprm_check_security");
    if (exec_lsm.empty()) {
        exec.launched = exec.watched = "bpf-lsm bprm_check_security: refused (EPERM) before the new image runs";
        exec.rejected.push_back("globs in exec.allow: exact paths only under bpf-lsm, Landlock for launched functions");
    } else {
        exec.launched = landlock.empty() ? "sigkill at sched_process_exec (the new image never runs)" : landlock;
        exec.watched = "sigkill at sched_process_exec: the exec happened, the new image never runs";
        exec.rejected.push_back("bpf-lsm bprm_check_security: " + exec_lsm);
    }
    if (!features.landlock_abi) exec.rejected.push_back("landlock: not available on this kernel");
    rows.push_back(exec);

    const std::string file_kill = "sigkill at sys_exit (the operation happened; the process never sees its result)";
    EnforcementRow files{"files", landlock.empty() ? file_kill : landlock, file_kill, {}};
    const std::string file_lsm = lsm_status.why_not("file_open");
    const std::string path_lsm = lsm_status.why_not("path_mkdir");
    if (file_lsm.empty()) {
        const std::string rename_lsm = lsm_status.why_not("path_rename");
        const std::string rename = rename_lsm.empty() ? "" : "; rename: sigkill at sys_exit";
        const std::string lsm_files =
            path_lsm.empty()
                ? "bpf-lsm file_open + path_*: opens, creates, deletes, links" +
                      std::string(rename_lsm.empty() ? ", renames" : "") +
                      " refused (EPERM) before they happen (exact and dir/** patterns)" + rename
                : "bpf-lsm file_open: opens refused (EPERM) before the fd exists (exact and dir/** patterns); "
                  "create/delete/rename: sigkill at sys_exit";
        files.watched = lsm_files;
        if (landlock.empty()) files.launched = lsm_files;
        if (!path_lsm.empty()) files.rejected.push_back("bpf-lsm path_* hooks: " + path_lsm);
        if (path_lsm.empty() && !rename_lsm.empty()) files.rejected.push_back("bpf-lsm path_rename: " + rename_lsm);
        files.rejected.push_back("'*' globs: decided by fnwarden after the fact, then killed");
    } else {
        files.rejected.push_back("bpf-lsm file_open: " + file_lsm);
    }
    if (!features.landlock_abi) files.rejected.push_back("landlock: not available on this kernel");
    rows.push_back(files);

    // spec.process: the same mechanism for launched and watched functions.
    // Kinds guarded alike share one line, hooks refused alike one reason
    // (this host: four kinds, one "refused at load").
    EnforcementRow process{"process", "", "", {}};
    std::string lsm_kinds, lsm_hooks, sigkill_kinds;
    std::vector<std::pair<std::string, std::string>> reasons;  // why -> hooks, in hook order
    auto append = [](std::string& list, const std::string& item, const char* sep) {
        list += (list.empty() ? "" : sep) + item;
    };
    for (const auto& [what, hook] : process_hooks()) {
        const std::string why = lsm_status.why_not(hook);
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
    if (!lsm_kinds.empty())
        process.watched = lsm_kinds + ": bpf-lsm refuses (EPERM) before it happens (" + lsm_hooks + ")";
    if (!sigkill_kinds.empty())
        append(process.watched, sigkill_kinds + ": sigkill at sys_enter (the syscall completes first)", "; ");
    for (const auto& [why, hooks] : reasons) process.rejected.push_back("bpf-lsm " + hooks + ": " + why);
    process.launched = process.watched;
    rows.push_back(process);
    return rows;
}

}  // namespace fnw
