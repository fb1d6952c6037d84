// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * File and exec syscalls. In this slice: reporting what Landlock refused.
 *
 * The launcher applies Landlock to a function (runtime/landlock_sandbox.*);
 * a refused open, mkdir, unlink, rename, link or execve fails with EACCES
 * and never happens. The denial would be silent, so sys_exit reports every
 * EACCES from a path syscall of a Landlock-restricted cgroup, with the path
 * read from the caller's memory (still mapped at sys_exit, even after a
 * failed execve).
 *
 * sys_exit runs for every syscall on the host: this program is attached
 * only while a Landlock-restricted function runs, and its first test is the
 * return value, a register, before any map lookup.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "emit.bpf.h"
#include "policy.bpf.h"

#define EACCES 13
#define AT_FDCWD -100

static __always_inline __u64 syscall_arg(struct pt_regs *regs, __u32 index)
{
	/* x86_64 syscall ABI: rdi rsi rdx r10 r8 r9. */
	switch (index) {
	case 0: return regs->di;
	case 1: return regs->si;
	case 2: return regs->dx;
	case 3: return regs->r10;
	case 4: return regs->r8;
	default: return regs->r9;
	}
}

SEC("tp_btf/sys_exit")
int BPF_PROG(fnw_sys_exit, struct pt_regs *regs, long ret)
{
	if (ret != -EACCES)
		return 0; /* nearly every syscall ends here, before any lookup */

	__u64 cgroup_id;
	struct fnw_cgroup_entry *cg = fnw_current_cgroup(&cgroup_id);

	if (!cg || !(cg->flags & FNW_CGROUP_LANDLOCK))
		return 0;

	__u32 nr = (__u32)regs->orig_ax;
	__u8 *where = bpf_map_lookup_elem(&path_args, &nr);
	struct fnw_counters *stats = fnw_counters();

	if (!where || !(*where & FNW_PATH_ARG_INDEX_MASK) || !stats)
		return 0;
	__u32 index = (*where & FNW_PATH_ARG_INDEX_MASK) - 1;

	struct fnw_file_event *ev = fnw_reserve(sizeof(*ev), stats);

	if (!ev)
		return 0;
	fnw_fill_header(&ev->hdr, FNW_EVENT_FILE, sizeof(*ev), cgroup_id, cg->policy_id);
	ev->nr = nr;
	ev->ret = (__s32)ret;
	ev->dfd = (*where & FNW_PATH_ARG_HAS_DFD) && index > 0 ? (__s32)syscall_arg(regs, index - 1) : AT_FDCWD;
	ev->verdict = FNW_VERDICT_VIOLATION;
	ev->action = FNW_ACTION_DENIED;
	ev->mechanism = FNW_MECH_LANDLOCK;
	long n = bpf_probe_read_user_str(ev->path, sizeof(ev->path), (const void *)syscall_arg(regs, index));

	if (n < 0)
		ev->path[0] = '\0';
	ev->path_truncated = n == sizeof(ev->path);
	fnw_submit(ev, stats);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
