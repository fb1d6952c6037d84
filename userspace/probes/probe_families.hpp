// SPDX-License-Identifier: Apache-2.0
// Every BPF program of the skeleton, by family, with how it is attached.
//
// Programs are named by their skeleton member (&Programs::fnw_sys_enter),
// not by a name prefix: a program renamed in bpf/ fails the build here
// instead of silently moving to another family, and a program added there
// without an entry fails the unit test that checks every skeleton member
// appears in exactly one family (tests/unit/probe_families_test.cpp).
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>

#include "fnwarden_bpf.skel.h"
#include "probes/kernel_capabilities.hpp"

namespace fnw {

using SkeletonPrograms = decltype(fnwarden_bpf::progs);
using ProgramMember = bpf_program* SkeletonPrograms::*;

enum class AttachPolicy {
    WithSkeleton,  // fnwarden_bpf__attach at load (an LSM program: only where its hook loaded)
    CgroupRoot,    // on the cgroup2 root, at load (cgroup programs have no automatic attach point)
    OnDemand,      // attached when a policy or a trace first needs the family, then kept
    // Tail-called by the raw sys_enter/sys_exit dispatchers (syscalls.bpf.c)
    // at its syscall's number: put in sys_enter_handlers/sys_exit_handlers
    // when a policy or a trace first needs the family, then kept.
    Dispatched,
    Never,         // run without a link of ours: an iterator read on demand
};

enum class ProbeFamily {
    Syscalls,          // syscalls.bpf.c: tp_btf/sys_enter, the allowlist and the dispatch
    SyscallExitDispatch, // syscalls.bpf.c: tp_btf/sys_exit, the dispatch to the exit handlers
    CgroupLifecycle,   // cgroups.bpf.c: cgroup_mkdir/rmdir
    Lineage,           // lineage.bpf.c: sched_process_exit, cgroup_attach_task (the lineage memo's epoch)
    Exec,              // exec.bpf.c: sched_process_exec
    ExecLsm,           // exec.bpf.c: bprm_check_security
    FileSyscalls,      // files.bpf.c: the enter handlers of 24 file syscalls and their exit handler
    FileLsm,           // files.bpf.c: file_open, path_*
    ObjectIdentity,    // identity.bpf.c: the task_file iterator
    LandlockReporting, // landlock.bpf.c: the sys_exit handler of a Landlock refusal
    NetCgroup,         // net.bpf.c: connect4/6, sendmsg4/6, bind4/6
    NetSyscalls,       // net.bpf.c: accept exits, unix connects (syscall handlers)
    NetLsm,            // net.bpf.c: socket_connect, socket_bind
    ProcessLsm,        // process.bpf.c: ptrace, bpf, mprotect, mmap hooks
    ProcessSyscalls,   // process.bpf.c: the syscall handlers that stand in for ProcessLsm
};

struct ProbeProgram {
    ProgramMember member;
    // An LSM program: the hook it is on (its section is "lsm/<hook>").
    const char* lsm_hook = nullptr;
    // An LSM program whose hook's argument count changed across kernels: the
    // count it is written for (it reads its arguments by position, so on
    // another count it would take the wrong one for `ret`). 0: any.
    unsigned arity = 0;
    // A syscall handler that stands in for this LSM hook: installed only
    // where the hook did not load, so one operation is reported once.
    const char* stands_in_for = nullptr;
    // A Dispatched program: the syscalls (space-separated names) at whose
    // numbers it goes, in sys_enter_handlers or sys_exit_handlers as its
    // section says; "*" for every syscall its family has an enter handler
    // for. A name this architecture lacks is skipped. None: the family's
    // own slot (landlock_exit_handler).
    const char* syscalls = nullptr;
};

struct ProbeFamilyEntry {
    ProbeFamily family;
    std::string_view name;
    AttachPolicy attach;
    std::span<const ProbeProgram> programs;
};

// The table, one entry per family.
std::span<const ProbeFamilyEntry> probe_families();
const ProbeFamilyEntry& probe_family(ProbeFamily family);

// The family and entry of the program `prog` of `skel`; nullptr when the
// table does not have it (the unit test keeps that from happening).
struct ProgramPlace {
    const ProbeFamilyEntry* family = nullptr;
    const ProbeProgram* program = nullptr;
};
ProgramPlace find_program(const fnwarden_bpf* skel, const bpf_program* prog);

// What the pre-load checks say about each LSM program of the table, and so
// about each hook: "" where it would run, else why not.
struct LsmProgramChecks {
    std::map<const ProbeProgram*, std::string> programs;
    std::map<std::string, std::string> hooks;  // a hook is in use when one of its programs is
};

// Checked before the load, per program of the table (lsm_hook_unusable,
// then the arity): each hook costs only itself.
LsmProgramChecks check_lsm_programs(const KernelCapabilities& kernel);

// "" when at least one hook is in (BPF-LSM is available), else every
// distinct reason, "; "-joined.
std::string summarize_lsm(const std::map<std::string, std::string>& hooks);

inline bpf_program* program_of(const fnwarden_bpf* skel, const ProbeProgram& program) {
    return skel->progs.*program.member;
}

}  // namespace fnw
