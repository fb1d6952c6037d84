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
static __always_inline bool fnw_compat_syscall(void)
{
	struct task_struct *task = bpf_get_current_task_btf();

	return task->thread_info.status & FNW_TS_COMPAT;
}

/* Tail-calls the handler of syscall `nr`; returns only where there is none. */
static __always_inline void fnw_dispatch(void *ctx, void *handlers, long nr)
{
	if (nr < 0 || nr >= FNW_MAX_SYSCALLS || fnw_compat_syscall())
		return;
	bpf_tail_call(ctx, handlers, (__u32)nr);
}

/* The number of the syscall a sys_exit program sees end (syscall_get_nr). */
static __always_inline long fnw_exit_nr(const struct pt_regs *regs)
{
	return regs->orig_ax;
}

#endif /* FNWARDEN_DISPATCH_BPF_H */
