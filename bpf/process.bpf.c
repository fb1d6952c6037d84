// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * spec.process: what a function may do to other processes and to its own
 * memory (ptrace, bpf(), executable memory), decided in the kernel.
 *
 * Two lines for each rule, and only one runs on a given host:
 *  - under BPF-LSM, the lsm/ programs refuse (EPERM) before the operation,
 *    or report it in report mode;
 *  - elsewhere, syscall tracepoints (fnw_proc_*) report it or kill (the
 *    syscall completes first). ProbeSet attaches one only where its LSM hook
 *    did not load, so an operation is never reported twice.
 *
 * Only violations cross the ring buffer: a traced function's syscalls are
 * already traced by fnw_sys_enter. The record is a syscall event (the
 * syscall the task is in, read from its user registers) with `rule` set.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "emit.bpf.h"
#include "policy.bpf.h"
#include "rule_use.bpf.h"

#define EPERM 1

/* uapi values vmlinux.h does not carry (they are macros). */
#define PROT_WRITE 0x2
#define PROT_EXEC 0x4
#define MAP_ANONYMOUS 0x20
#define VM_WRITE 0x2
#define PTRACE_MODE_ATTACH 0x02
#define PTRACE_TRACEME 0
#define PTRACE_ATTACH 16
#define PTRACE_SEIZE 0x4206

/*
 * The policy of the current task if it is a monitored function's and
 * restricts `deny_flag` (FNW_POLICY_DENY_*), else NULL.
 */
static __always_inline struct fnw_policy *process_policy(__u32 deny_flag, __u64 *cgroup_id,
							 struct fnw_cgroup_entry **cg, bool lsm)
{
	/* An LSM hook runs for every task; a syscall handler only for a
	 * monitored one (fnw_handler_cgroup). */
	struct fnw_policy *policy = lsm ? fnw_current_function(cgroup_id, cg) : fnw_handler_function(cgroup_id, cg);

	if (!policy)
		return NULL;
	if (policy->flags & deny_flag)
		return policy;
	/* Granted: the grant is used (counted where the hook's own filter
	 * passed; mprotect's area check comes after). */
	fnw_mark_grant((*cg)->policy_id, deny_flag == FNW_POLICY_DENY_PTRACE ? FNW_USE_PROCESS_PTRACE
					 : deny_flag == FNW_POLICY_DENY_BPF  ? FNW_USE_PROCESS_BPF
									     : FNW_USE_PROCESS_EXEC_MEMORY);
	return NULL;
}

/*
 * A violation of process rule `rule`: counted, acted on as process_action
 * says, and reported. An LSM hook (`can_refuse`) refuses for deny and kill
 * (kill also ends the process); a tracepoint can only kill. Returns whether
 * the caller must refuse.
 */
static __always_inline bool process_violation(struct fnw_policy *policy, __u32 policy_id, __u64 cgroup_id,
					      __u8 rule, bool can_refuse)
{
	struct fnw_counters *stats = fnw_counters();

	if (!stats)
		return false;
	__sync_fetch_and_add(&stats->violations, 1);
	__sync_fetch_and_add(&stats->process_violations, 1);

	bool refuse = false;
	__u8 action = FNW_ACTION_REPORTED, mechanism = FNW_MECH_NONE;

	if (policy->process_action != FNW_KACTION_REPORT) {
		if (can_refuse) {
			refuse = true;
			action = FNW_ACTION_DENIED;
			mechanism = FNW_MECH_BPF_LSM;
			__sync_fetch_and_add(&stats->process_denied, 1);
		}
		if ((!can_refuse || policy->process_action == FNW_KACTION_KILL) && fnw_kill_current(stats)) {
			action = FNW_ACTION_KILLED;
			if (!can_refuse)
				mechanism = FNW_MECH_SIGKILL;
		}
	}

	struct fnw_syscall_event *ev = fnw_reserve(FNW_RING_ALERTS, sizeof(*ev), stats);

	if (!ev) {
		if (action == FNW_ACTION_REPORTED)
			fnw_count_gap(policy_id, stats);
		return refuse;
	}
	fnw_fill_header(&ev->hdr, FNW_EVENT_SYSCALL, sizeof(*ev), cgroup_id, policy_id);
	/* The syscall the task is in, also under an LSM hook: the hook has
	 * the kernel's view of the object, the registers say what was asked. */
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	ev->nr = (__u32)regs->orig_ax;
	ev->verdict = FNW_VERDICT_VIOLATION;
	ev->action = action;
	ev->mechanism = mechanism;
	ev->rule = rule;
	fnw_copy_syscall_args(ev->args, regs);
	fnw_submit(FNW_RING_ALERTS, ev, stats);
	return refuse;
}

/* The check every process hook makes: 0, or -EPERM when it must refuse. */
static __always_inline int check_process_rule(__u32 deny_flag, __u8 rule, bool can_refuse)
{
	__u64 cgroup_id;
	struct fnw_cgroup_entry *cg = NULL;
	struct fnw_policy *policy = process_policy(deny_flag, &cgroup_id, &cg, can_refuse);

	if (!policy || !cg)
		return 0;
	return process_violation(policy, cg->policy_id, cgroup_id, rule, can_refuse) ? -EPERM : 0;
}

/*
 * Executable memory that did not come from a named file as it is: anonymous
 * memory (a JIT, shellcode), memory that is or will be writable at the same
 * time, or a file with no name left (a memfd: code loaded without a file).
 */
static __always_inline bool exec_memory_suspicious(struct file *file, bool writable)
{
	if (writable || !file)
		return true;
	return BPF_CORE_READ(file, f_inode, i_nlink) == 0;
}

/* ---- BPF-LSM: refused before it happens ---------------------------------- */

/*
 * Attach-mode checks only (ptrace attach/seize, /proc/PID/mem,
 * process_vm_readv/writev, pidfd_getfd): read-mode ones are what ps and
 * /proc/PID/stat ask for, and a function's own threads never get here.
 */
SEC("lsm/ptrace_access_check")
int BPF_PROG(fnw_lsm_ptrace_access_check, struct task_struct *child, unsigned int mode, int ret)
{
	if (ret)
		return ret; /* an earlier BPF-LSM program refused: keep its verdict */
	if (!(mode & PTRACE_MODE_ATTACH))
		return 0;
	return check_process_rule(FNW_POLICY_DENY_PTRACE, FNW_RULE_PROCESS_PTRACE, true);
}

/* PTRACE_TRACEME: the function hands itself to its parent, a tracer. */
SEC("lsm/ptrace_traceme")
int BPF_PROG(fnw_lsm_ptrace_traceme, struct task_struct *parent, int ret)
{
	if (ret)
		return ret;
	return check_process_rule(FNW_POLICY_DENY_PTRACE, FNW_RULE_PROCESS_PTRACE, true);
}

/*
 * Every bpf() command passes here. The hook gained `kernel` in 6.16 (calls
 * the kernel makes for itself, e.g. a light skeleton's loader): one program
 * per prototype, ProbeSet loads the one this kernel's BTF matches.
 */
SEC("lsm/bpf")
int BPF_PROG(fnw_lsm_bpf, int cmd, union bpf_attr *attr, unsigned int size, int ret)
{
	if (ret)
		return ret;
	return check_process_rule(FNW_POLICY_DENY_BPF, FNW_RULE_PROCESS_BPF, true);
}

SEC("lsm/bpf")
int BPF_PROG(fnw_lsm_bpf_kernel, int cmd, union bpf_attr *attr, unsigned int size, bool kernel, int ret)
{
	if (ret || kernel)
		return ret;
	return check_process_rule(FNW_POLICY_DENY_BPF, FNW_RULE_PROCESS_BPF, true);
}

/* mprotect/pkey_mprotect, once per area the range covers. */
SEC("lsm/file_mprotect")
int BPF_PROG(fnw_lsm_file_mprotect, struct vm_area_struct *vma, unsigned long reqprot, unsigned long prot,
	     int ret)
{
	if (ret)
		return ret;
	if (!(prot & PROT_EXEC))
		return 0;
	if (!exec_memory_suspicious(vma->vm_file, (vma->vm_flags & VM_WRITE) || (prot & PROT_WRITE)))
		return 0;
	return check_process_rule(FNW_POLICY_DENY_EXEC_MEMORY, FNW_RULE_PROCESS_EXEC_MEMORY, true);
}

/* mmap: `file` is NULL for anonymous memory. */
SEC("lsm/mmap_file")
int BPF_PROG(fnw_lsm_mmap_file, struct file *file, unsigned long reqprot, unsigned long prot, unsigned long flags,
	     int ret)
{
	if (ret)
		return ret;
	if (!(prot & PROT_EXEC) || !exec_memory_suspicious(file, prot & PROT_WRITE))
		return 0;
	return check_process_rule(FNW_POLICY_DENY_EXEC_MEMORY, FNW_RULE_PROCESS_EXEC_MEMORY, true);
}

/* ---- Without BPF-LSM: seen at sys_enter, reported or killed -------------- */

SEC("tp_btf/sys_enter")
int BPF_PROG(fnw_proc_enter_ptrace, struct pt_regs *regs, long id)
{
	const long request = fnw_syscall_arg(regs, 0);

	if (request != PTRACE_ATTACH && request != PTRACE_SEIZE && request != PTRACE_TRACEME)
		return 0; /* the others act on a tracee already attached */
	check_process_rule(FNW_POLICY_DENY_PTRACE, FNW_RULE_PROCESS_PTRACE, false);
	return 0;
}

/* process_vm_readv/writev on another process: ptrace's attach check. */
static __always_inline int process_vm_access(struct pt_regs *regs)
{
	if ((__u32)fnw_syscall_arg(regs, 0) == bpf_get_current_pid_tgid() >> 32)
		return 0; /* itself: the kernel does not check that either */
	check_process_rule(FNW_POLICY_DENY_PTRACE, FNW_RULE_PROCESS_PTRACE, false);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(fnw_proc_enter_process_vm_readv, struct pt_regs *regs, long id)
{
	return process_vm_access(regs);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(fnw_proc_enter_process_vm_writev, struct pt_regs *regs, long id)
{
	return process_vm_access(regs);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(fnw_proc_enter_bpf, struct pt_regs *regs, long id)
{
	check_process_rule(FNW_POLICY_DENY_BPF, FNW_RULE_PROCESS_BPF, false);
	return 0;
}

struct vma_probe {
	bool found;
	bool suspicious;
	bool writable_after; /* the new protection includes PROT_WRITE */
};

static long inspect_vma(struct task_struct *task, struct vm_area_struct *vma, struct vma_probe *probe)
{
	probe->found = true;
	probe->suspicious = exec_memory_suspicious(vma->vm_file, (vma->vm_flags & VM_WRITE) || probe->writable_after);
	return 0;
}

/*
 * The area at `start` only (the LSM hook sees each area of the range): the
 * first is where a JIT's or an injector's buffer begins.
 */
static __always_inline int mprotect_enter(struct pt_regs *regs)
{
	const unsigned long start = fnw_syscall_arg(regs, 0), prot = fnw_syscall_arg(regs, 2);

	if (!(prot & PROT_EXEC))
		return 0;
	__u64 cgroup_id;
	struct fnw_cgroup_entry *cg = NULL;
	struct fnw_policy *policy = process_policy(FNW_POLICY_DENY_EXEC_MEMORY, &cgroup_id, &cg, false);

	if (!policy || !cg)
		return 0;
	struct vma_probe probe = {.writable_after = prot & PROT_WRITE};

	if (bpf_find_vma(bpf_get_current_task_btf(), start, inspect_vma, &probe, 0) || !probe.found ||
	    !probe.suspicious)
		return 0; /* no area there: mprotect fails with ENOMEM */
	process_violation(policy, cg->policy_id, cgroup_id, FNW_RULE_PROCESS_EXEC_MEMORY, false);
	return 0;
}

/* mprotect's and pkey_mprotect's enter handler (sys_enter_handlers). */
SEC("tp_btf/sys_enter")
int BPF_PROG(fnw_proc_enter_mprotect, struct pt_regs *regs, long id)
{
	return mprotect_enter(regs);
}

/* A file mapped executable is taken as code here (no fd lookup): memfds
 * are caught under BPF-LSM only. */
SEC("tp_btf/sys_enter")
int BPF_PROG(fnw_proc_enter_mmap, struct pt_regs *regs, long id)
{
	const unsigned long prot = fnw_syscall_arg(regs, 2), flags = fnw_syscall_arg(regs, 3);

	if (!(prot & PROT_EXEC) || !((flags & MAP_ANONYMOUS) || (prot & PROT_WRITE)))
		return 0;
	check_process_rule(FNW_POLICY_DENY_EXEC_MEMORY, FNW_RULE_PROCESS_EXEC_MEMORY, false);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
