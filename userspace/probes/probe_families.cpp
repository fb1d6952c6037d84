// SPDX-License-Identifier: Apache-2.0
#include "probes/probe_families.hpp"

#include <bpf/btf.h>

#include <algorithm>
#include <array>
#include <memory>

namespace fnw {
namespace {

using P = SkeletonPrograms;

constexpr ProbeProgram kSyscalls[] = {{&P::fnw_sys_enter}};
constexpr ProbeProgram kSyscallExitDispatch[] = {{&P::fnw_sys_exit_dispatch}};
constexpr ProbeProgram kCgroupLifecycle[] = {{&P::fnw_cgroup_mkdir}, {&P::fnw_cgroup_rmdir}};
constexpr ProbeProgram kLineage[] = {{&P::fnw_lineage_exit}, {&P::fnw_lineage_migrate}};
constexpr ProbeProgram kExec[] = {{&P::fnw_sched_process_exec}};
constexpr ProbeProgram kExecLsm[] = {{&P::fnw_lsm_bprm_check, "bprm_check_security"}};

// Each file syscall's enter handler, and the exit handler of them all.
constexpr ProbeProgram kFileSyscalls[] = {
    {&P::fnw_enter_open, nullptr, 0, nullptr, "open"},
    {&P::fnw_enter_openat, nullptr, 0, nullptr, "openat"},
    {&P::fnw_enter_creat, nullptr, 0, nullptr, "creat"},
    {&P::fnw_enter_mkdir, nullptr, 0, nullptr, "mkdir"},
    {&P::fnw_enter_mkdirat, nullptr, 0, nullptr, "mkdirat"},
    {&P::fnw_enter_mknod, nullptr, 0, nullptr, "mknod"},
    {&P::fnw_enter_mknodat, nullptr, 0, nullptr, "mknodat"},
    {&P::fnw_enter_unlink, nullptr, 0, nullptr, "unlink"},
    {&P::fnw_enter_unlinkat, nullptr, 0, nullptr, "unlinkat"},
    {&P::fnw_enter_rmdir, nullptr, 0, nullptr, "rmdir"},
    {&P::fnw_enter_rename, nullptr, 0, nullptr, "rename"},
    {&P::fnw_enter_renameat, nullptr, 0, nullptr, "renameat"},
    {&P::fnw_enter_renameat2, nullptr, 0, nullptr, "renameat2"},
    {&P::fnw_enter_link, nullptr, 0, nullptr, "link"},
    {&P::fnw_enter_linkat, nullptr, 0, nullptr, "linkat"},
    {&P::fnw_enter_symlink, nullptr, 0, nullptr, "symlink"},
    {&P::fnw_enter_symlinkat, nullptr, 0, nullptr, "symlinkat"},
    {&P::fnw_enter_chmod, nullptr, 0, nullptr, "chmod"},
    {&P::fnw_enter_fchmodat, nullptr, 0, nullptr, "fchmodat"},
    {&P::fnw_enter_chown, nullptr, 0, nullptr, "chown"},
    {&P::fnw_enter_lchown, nullptr, 0, nullptr, "lchown"},
    {&P::fnw_enter_fchownat, nullptr, 0, nullptr, "fchownat"},
    {&P::fnw_enter_truncate, nullptr, 0, nullptr, "truncate"},
    {&P::fnw_enter_openat2, nullptr, 0, nullptr, "openat2"},
    {&P::fnw_file_exit, nullptr, 0, nullptr, "*"},
};
constexpr ProbeProgram kFileLsm[] = {
    {&P::fnw_lsm_file_open, "file_open"},       {&P::fnw_lsm_path_mknod, "path_mknod"},
    {&P::fnw_lsm_path_mkdir, "path_mkdir"},     {&P::fnw_lsm_path_symlink, "path_symlink"},
    {&P::fnw_lsm_path_link, "path_link"},       {&P::fnw_lsm_path_unlink, "path_unlink"},
    {&P::fnw_lsm_path_rmdir, "path_rmdir"},
    {&P::fnw_lsm_path_rename, "path_rename", 5},  // `flags` since 5.19
};
constexpr ProbeProgram kObjectIdentity[] = {{&P::fnw_object_identity}};
constexpr ProbeProgram kLandlockReporting[] = {{&P::fnw_landlock_exit}};
constexpr ProbeProgram kNetCgroup[] = {
    {&P::fnw_connect4}, {&P::fnw_connect6}, {&P::fnw_sendmsg4}, {&P::fnw_sendmsg6}, {&P::fnw_bind4}, {&P::fnw_bind6},
};
constexpr ProbeProgram kNetSyscalls[] = {
    {&P::fnw_net_exit_accept, nullptr, 0, nullptr, "accept accept4"},
    {&P::fnw_net_enter_connect, nullptr, 0, nullptr, "connect"},
    {&P::fnw_net_exit_connect, nullptr, 0, nullptr, "connect"},
};
constexpr ProbeProgram kNetLsm[] = {
    {&P::fnw_lsm_socket_connect, "socket_connect"},
    {&P::fnw_lsm_socket_bind, "socket_bind"},
};
// Where both prototypes of a hook are in use, it has one program for each.
constexpr ProbeProgram kProcessLsm[] = {
    {&P::fnw_lsm_ptrace_access_check, "ptrace_access_check"},
    {&P::fnw_lsm_ptrace_traceme, "ptrace_traceme"},
    {&P::fnw_lsm_bpf, "bpf", 3},         // up to 6.15
    {&P::fnw_lsm_bpf_kernel, "bpf", 4},  // `kernel` since 6.16
    {&P::fnw_lsm_file_mprotect, "file_mprotect"},
    {&P::fnw_lsm_mmap_file, "mmap_file"},
};
constexpr ProbeProgram kProcessSyscalls[] = {
    {&P::fnw_proc_enter_ptrace, nullptr, 0, "ptrace_access_check", "ptrace"},
    {&P::fnw_proc_enter_process_vm_readv, nullptr, 0, "ptrace_access_check", "process_vm_readv"},
    {&P::fnw_proc_enter_process_vm_writev, nullptr, 0, "ptrace_access_check", "process_vm_writev"},
    {&P::fnw_proc_enter_bpf, nullptr, 0, "bpf", "bpf"},
    {&P::fnw_proc_enter_mprotect, nullptr, 0, "file_mprotect", "mprotect pkey_mprotect"},
    {&P::fnw_proc_enter_mmap, nullptr, 0, "mmap_file", "mmap"},
};

constexpr ProbeFamilyEntry kFamilies[] = {
    {ProbeFamily::Syscalls, "syscalls", AttachPolicy::WithSkeleton, kSyscalls},
    // The raw sys_exit costs every syscall on the host its fast path:
    // attached only once a policy needs an exit handler or Landlock reporting.
    {ProbeFamily::SyscallExitDispatch, "syscall exit dispatch", AttachPolicy::OnDemand, kSyscallExitDispatch},
    {ProbeFamily::CgroupLifecycle, "cgroup lifecycle", AttachPolicy::WithSkeleton, kCgroupLifecycle},
    // Every exit and cgroup migration on the host: one atomic add each.
    {ProbeFamily::Lineage, "lineage", AttachPolicy::WithSkeleton, kLineage},
    {ProbeFamily::Exec, "exec", AttachPolicy::WithSkeleton, kExec},
    {ProbeFamily::ExecLsm, "exec lsm", AttachPolicy::WithSkeleton, kExecLsm},
    {ProbeFamily::FileSyscalls, "file syscalls", AttachPolicy::Dispatched, kFileSyscalls},
    {ProbeFamily::FileLsm, "file lsm", AttachPolicy::WithSkeleton, kFileLsm},
    {ProbeFamily::ObjectIdentity, "object identity", AttachPolicy::Never, kObjectIdentity},
    {ProbeFamily::LandlockReporting, "landlock reporting", AttachPolicy::Dispatched, kLandlockReporting},
    {ProbeFamily::NetCgroup, "network cgroup hooks", AttachPolicy::CgroupRoot, kNetCgroup},
    {ProbeFamily::NetSyscalls, "network syscalls", AttachPolicy::Dispatched, kNetSyscalls},
    {ProbeFamily::NetLsm, "network lsm", AttachPolicy::WithSkeleton, kNetLsm},
    {ProbeFamily::ProcessLsm, "process lsm", AttachPolicy::WithSkeleton, kProcessLsm},
    {ProbeFamily::ProcessSyscalls, "process syscalls", AttachPolicy::Dispatched, kProcessSyscalls},
};

}  // namespace

std::span<const ProbeFamilyEntry> probe_families() { return kFamilies; }

const ProbeFamilyEntry& probe_family(ProbeFamily family) {
    return *std::find_if(std::begin(kFamilies), std::end(kFamilies),
                         [&](const ProbeFamilyEntry& entry) { return entry.family == family; });
}

ProgramPlace find_program(const fnwarden_bpf* skel, const bpf_program* prog) {
    for (const auto& family : kFamilies)
        for (const auto& program : family.programs)
            if (program_of(skel, program) == prog) return {&family, &program};
    return {};
}

LsmProgramChecks check_lsm_programs(const KernelCapabilities& kernel) {
    LsmProgramChecks checks;
    std::map<std::string, std::string> hook_checks;
    // Read once for all the hooks (each lookup used to parse it again).
    std::unique_ptr<btf, decltype(&btf__free)> vmlinux(btf__load_vmlinux_btf(), btf__free);
    for (const ProbeFamilyEntry& family : probe_families()) {
        for (const ProbeProgram& program : family.programs) {
            if (!program.lsm_hook) continue;
            const std::string hook = program.lsm_hook;
            if (!hook_checks.count(hook)) hook_checks[hook] = lsm_hook_unusable(hook, kernel, vmlinux.get());
            std::string why = hook_checks[hook];
            if (why.empty()) why = lsm_hook_arity_mismatch(hook, program.arity, vmlinux.get());
            checks.programs[&program] = why;
            if (auto it = checks.hooks.find(hook); it == checks.hooks.end() || !it->second.empty())
                checks.hooks[hook] = why;
        }
    }
    return checks;
}

std::string summarize_lsm(const std::map<std::string, std::string>& hooks) {
    std::string summary;
    for (const auto& [hook, why] : hooks) {
        if (why.empty()) return "";
        if (summary.find(why) == std::string::npos) summary += (summary.empty() ? "" : "; ") + why;
    }
    return summary;
}

}  // namespace fnw
