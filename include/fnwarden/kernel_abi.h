/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Keys and values of the BPF maps that userspace writes (policy, cgroup
 * registrations) and reads (counters). Shared like events.h and checked the
 * same way against BTF.
 */
#ifndef FNWARDEN_KERNEL_ABI_H
#define FNWARDEN_KERNEL_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#include "limits.h"

/* fnw_cgroup_entry.flags */
enum fnw_cgroup_flags {
	/* Emit every event of this cgroup, not only violations (trace). */
	FNW_CGROUP_TRACE = 1u << 0,
	/*
	 * Registered by the launcher before its child execs the function. The
	 * launcher's own last syscalls (the execve) are not the function's;
	 * sched_process_exec clears the flag and checking starts with the
	 * first syscall of the new image.
	 */
	FNW_CGROUP_ARM_ON_EXEC = 1u << 1,
	/* Copied from the parent by the cgroup_mkdir probe, not registered by userspace. */
	FNW_CGROUP_INHERITED = 1u << 2,
	/* Record every syscall number seen into learned_syscalls[policy_id] (fnwarden learn). */
	FNW_CGROUP_LEARN = 1u << 3,
};

/* monitored_cgroups: cgroup id -> this */
struct fnw_cgroup_entry {
	__u32 policy_id;
	__u32 flags; /* enum fnw_cgroup_flags */
};

/* What a violation of this policy triggers in the kernel. */
enum fnw_kernel_action {
	FNW_KACTION_REPORT = 0,
	FNW_KACTION_KILL = 1,
};

/* policies[policy_id] */
struct fnw_policy {
	__u64 syscall_allow[FNW_SYSCALL_BITMAP_WORDS]; /* bit nr set = allowed */
	__u32 syscall_action;                          /* enum fnw_kernel_action */
	__u32 pad;
};

/* learned_syscalls[policy_id]: every syscall seen, aggregated in the kernel. */
struct fnw_syscall_set {
	__u64 bits[FNW_SYSCALL_BITMAP_WORDS];
};

/* Per-CPU counters; userspace sums the CPUs. */
struct fnw_counters {
	__u64 events;        /* syscalls seen in monitored cgroups */
	__u64 violations;    /* of which outside the allowlist */
	__u64 emitted;       /* records written to the ring buffer */
	__u64 ringbuf_drops; /* bpf_ringbuf_reserve failures: records lost */
	__u64 kills;         /* SIGKILLs sent */
	__u64 signal_errors; /* bpf_send_signal failures */
	__u64 cgroups_inherited; /* child cgroups that got their parent's policy at mkdir */
};

#endif /* FNWARDEN_KERNEL_ABI_H */
