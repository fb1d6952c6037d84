// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The floor: an empty program on the hook fnwarden uses (tp_btf/sys_enter).
 * What any BPF syscall monitor pays before doing anything at all.
 *
 * The other programs split what a process outside every function pays
 * into its parts (floor_loader picks which are attached; docs/performance.md,
 * "Bystanders"): the same hook with the lookup that finds the cgroup (the
 * helper, or fnwarden's direct loads), an empty program on the raw sys_exit,
 * the same with a bit test on the syscall number first (what fnwarden's
 * sys_exit dispatcher does), and an empty pair on one per-syscall tracepoint (sys_enter_openat and
 * sys_exit_openat), which puts every syscall of every task on the perf
 * syscall callbacks.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* Nothing is ever set: every lookup is a bystander's miss. */
__u64 bench_filter[1024];

static __always_inline int filter_miss(__u64 id)
{
	__u32 bit = id & (1024 * 64 - 1);

	return !(bench_filter[bit / 64] & (1ull << (bit % 64)));
}

SEC("tp_btf/sys_enter")
int BPF_PROG(fnw_bench_floor)
{
	return 0;
}

/* The acceptance's "floor plus one helper call that finds the cgroup". */
SEC("tp_btf/sys_enter")
int BPF_PROG(fnw_bench_enter_helper)
{
	return filter_miss(bpf_get_current_cgroup_id()) ? 0 : 1;
}

/* fnwarden's own fast path: the id through the task, then the bitmap. */
static __always_inline __u64 task_cgroup_id(void)
{
	struct task_struct *task = bpf_get_current_task_btf();

	return task->cgroups->dfl_cgrp->kn->id;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(fnw_bench_enter_direct)
{
	return filter_miss(task_cgroup_id()) ? 0 : 1;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(fnw_bench_exit_empty)
{
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(fnw_bench_exit_direct)
{
	return filter_miss(task_cgroup_id()) ? 0 : 1;
}

/* fnwarden's sys_exit dispatcher for a syscall nothing pairs: a bit test
 * on the syscall number, before any cgroup lookup. */
__u64 bench_exit_handled[8];

SEC("tp_btf/sys_exit")
int BPF_PROG(fnw_bench_exit_bit, struct pt_regs *regs, long ret)
{
	__u32 nr = regs->orig_ax;

	if (ret != -13 && !(bench_exit_handled[(nr / 64) & 7] & (1ull << (nr % 64))))
		return 0;
	return filter_miss(task_cgroup_id()) ? 0 : 1;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int fnw_bench_tp_enter_openat(void *ctx)
{
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int fnw_bench_tp_exit_openat(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
