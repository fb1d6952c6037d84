/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * From the raw sys_enter/sys_exit to the handler of one syscall: a tail call
 * through sys_enter_handlers or sys_exit_handlers (maps.bpf.h), keyed on the
 * syscall number, in the manner of falcosecurity/libs' modern_bpf. The
 * handlers are tp_btf programs on the same hook as their dispatcher (a tail
 * call must stay on one hook's prototype, which 6.13+ checks) and read the
 * syscall's arguments from its pt_regs (fnw_syscall_arg).
 */
#ifndef FNWARDEN_DISPATCH_BPF_H
#define FNWARDEN_DISPATCH_BPF_H

#include "maps.bpf.h"

/* thread_info.status bit of a task inside an ia32 syscall (x86). */
#define FNW_TS_COMPAT 0x0002

/*
 * An ia32 syscall's number is from another table (5 is open there, fstat
 * here), so it has no handler: the per-syscall tracepoints the handlers
 * replace do not fire for one either (ARCH_TRACE_IGNORE_COMPAT_SYSCALLS).
 * Neither do x32 numbers (__X32_SYSCALL_BIT is far out of range).
 */
static __always_inline bool fnw_compat_syscall(struct task_struct *task)
{
	return task->thread_info.status & FNW_TS_COMPAT;
}

/*
 * Hands what the dispatcher found (the task, its cgroup id and entry) to
 * the handler it is about to tail-call (fnw_handler_cgroup_of reads it).
 *
 * Why one per-CPU slot is enough: a tail call is a jump inside the same
 * run of the dispatcher, and these tp_btf programs run with preemption
 * disabled from the dispatcher's first instruction to the handler's last:
 * 6.1's __DO_TRACE disables it around every tracepoint's callbacks, and
 * since 6.13, where the syscall tracepoints may fault and run preemptible,
 * their BPF probe disables it itself (__BPF_DECLARE_TRACE_SYSCALL,
 * include/trace/bpf_probe.h). Nothing else on this CPU runs a
 * sys_enter/sys_exit program in between (interrupts make no syscalls, and
 * a program does not nest in itself: prog->active). The task is in the
 * slot anyway: should a kernel ever run these programs preemptible (with
 * migration disabled only), another task's dispatcher could write the slot
 * between ours and our handler; the handler then sees a foreign task and
 * looks its own cgroup up.
 */
static __always_inline void fnw_hand_over(struct task_struct *task, __u64 cgroup_id, const struct fnw_cgroup_entry *cg)
{
	__u32 zero = 0;
	struct fnw_dispatched *slot = bpf_map_lookup_elem(&dispatched, &zero);

	if (!slot)
		return;
	slot->task = (__u64)task;
	slot->cgroup_id = cgroup_id;
	slot->entry = *cg;
}

/* Tail-calls the handler of syscall `nr` of `task` (the current task);
 * returns only where there is none. */
static __always_inline void fnw_dispatch(void *ctx, void *handlers, long nr, struct task_struct *task)
{
	if (nr < 0 || nr >= FNW_MAX_SYSCALLS || fnw_compat_syscall(task))
		return;
	bpf_tail_call(ctx, handlers, (__u32)nr);
}

/* The number of the syscall a sys_exit program sees end (syscall_get_nr). */
static __always_inline long fnw_exit_nr(const struct pt_regs *regs)
{
	return regs->orig_ax;
}

#endif /* FNWARDEN_DISPATCH_BPF_H */
