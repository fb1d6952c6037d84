/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* cgroup -> policy lookup: the first thing every probe does. */
#ifndef FNWARDEN_POLICY_BPF_H
#define FNWARDEN_POLICY_BPF_H

#include "maps.bpf.h"

static __always_inline void fnw_filter_set(__u64 cgroup_id)
{
	__u32 bit = cgroup_id & (FNW_CGROUP_FILTER_BITS - 1);

	__sync_fetch_and_or(&monitored_filter[bit / 64], 1ull << (bit % 64));
}

/*
 * The whole cost for a process outside every monitored cgroup: finding the
 * cgroup id and one load from the prefilter bitmap (a hash miss only on a bit
 * collision). Keep it that way.
 */
static __always_inline bool fnw_filter_may_hold(__u64 cgroup_id)
{
	__u32 bit = cgroup_id & (FNW_CGROUP_FILTER_BITS - 1);

	return monitored_filter[bit / 64] & (1ull << (bit % 64));
}

static __always_inline struct fnw_cgroup_entry *fnw_lookup_cgroup(__u64 cgroup_id)
{
	if (!fnw_filter_may_hold(cgroup_id))
		return NULL;
	return bpf_map_lookup_elem(&monitored_cgroups, &cgroup_id);
}

/*
 * Tracing programs (tp_btf): the id read through the task, which is what
 * bpf_get_current_cgroup_id() computes (task_dfl_cgroup(current)->kn->id),
 * with direct BTF loads instead of the helper's call chain: measured 13 ns
 * less per syscall on the 6.18 host (docs/performance.md), where every call
 * out of a BPF program pays for retpolines and return thunks.
 */
static __always_inline struct fnw_cgroup_entry *fnw_task_cgroup(struct task_struct *task, __u64 *cgroup_id)
{
	*cgroup_id = task->cgroups->dfl_cgrp->kn->id;
	return fnw_lookup_cgroup(*cgroup_id);
}

/*
 * fnw_task_cgroup for the raw sys_enter and sys_exit dispatchers only: the
 * entry may be this CPU's copy in cgroup_last, valid while cgroups_epoch
 * has not moved since it was read (read before the lookup, as
 * fnw_lineage_recall reads lineage_epoch: a write that lands after the read
 * moves the epoch past what the copy was stored under). The copy is read,
 * never written through. One per-CPU slot, for the reason fnw_hand_over's
 * is enough (dispatch.bpf.h): both programs run with preemption disabled,
 * and neither nests in itself or in the other.
 */
static __always_inline const struct fnw_cgroup_entry *fnw_task_cgroup_dispatch(struct task_struct *task,
									       __u64 *cgroup_id)
{
	const __u64 id = task->cgroups->dfl_cgrp->kn->id;
	__u32 zero = 0;

	*cgroup_id = id;
	if (!fnw_filter_may_hold(id))
		return NULL; /* a bystander: nothing more than before */
	const __u64 epoch = *(volatile __u64 *)&cgroups_epoch + 1;

	barrier();
	struct fnw_cgroup_last *last = bpf_map_lookup_elem(&cgroup_last, &zero);

	if (last && last->cgroup_id == id && last->epoch == epoch)
		return &last->entry;
	struct fnw_cgroup_entry *cg = bpf_map_lookup_elem(&monitored_cgroups, &id);

	if (cg && last) {
		last->cgroup_id = id;
		last->epoch = epoch;
		last->entry = *cg;
	}
	return cg;
}

static __always_inline struct fnw_cgroup_entry *fnw_current_cgroup(__u64 *cgroup_id)
{
	return fnw_task_cgroup(bpf_get_current_task_btf(), cgroup_id);
}

/*
 * The syscall handlers tail-called from the dispatchers (dispatch.bpf.h):
 * what the dispatcher found, handed over in `dispatched` (fnw_hand_over),
 * for the task it was found for. Looking it up again cost a monitored open
 * a helper call and a hash lookup at each of its two handlers (issue 24
 * item 2). Where the slot is not this task's (nothing dispatched to this
 * handler, should a future path reach it otherwise): the helper, not the BTF
 * loads. On 6.18 each of the three pointer loads of fnw_current_cgroup makes
 * the verifier search vmlinux's BTF by name (btf_nested_type_is_trusted, two
 * misses of 125,000 types a load): 2-4 ms of verification per program, and
 * there are some 35 handlers (docs/performance.md, "Daemon ready").
 */
static __always_inline struct fnw_cgroup_entry *fnw_handler_cgroup_of(struct task_struct *task, __u64 *cgroup_id)
{
	__u32 zero = 0;
	struct fnw_dispatched *found = bpf_map_lookup_elem(&dispatched, &zero);

	if (found && found->task == (__u64)task) {
		*cgroup_id = found->cgroup_id;
		return &found->entry;
	}
	*cgroup_id = bpf_get_current_cgroup_id();
	return fnw_lookup_cgroup(*cgroup_id);
}

static __always_inline struct fnw_cgroup_entry *fnw_handler_cgroup(__u64 *cgroup_id)
{
	return fnw_handler_cgroup_of(bpf_get_current_task_btf(), cgroup_id);
}

/*
 * The arming flags still in force for a monitored cgroup: the entry's, less
 * those the kernel has cleared (disarmed_cgroups). The lookup is paid only
 * while the entry still shows one, i.e. between a launcher's registration
 * and the function's first exec, or after a stale userspace rewrite.
 */
static __always_inline __u32 fnw_arming(__u64 cgroup_id, const struct fnw_cgroup_entry *cg)
{
	const __u32 arming = cg->flags & FNW_CGROUP_ARMING_FLAGS;

	if (!arming)
		return 0;
	__u32 *cleared = bpf_map_lookup_elem(&disarmed_cgroups, &cgroup_id);

	return cleared ? arming & ~*cleared : arming;
}

/* Whether the cgroup still waits for its function's first exec. */
static __always_inline bool fnw_armed(__u64 cgroup_id, const struct fnw_cgroup_entry *cg)
{
	return fnw_arming(cgroup_id, cg) & FNW_CGROUP_ARM_ON_EXEC;
}

/*
 * Clears arming flag `flag` for good: first in disarmed_cgroups, which only
 * BPF writes, then in the entry (so the fast test above stays one load).
 */
static __always_inline void fnw_disarm(__u64 cgroup_id, struct fnw_cgroup_entry *cg, __u32 flag)
{
	__u32 *cleared = bpf_map_lookup_elem(&disarmed_cgroups, &cgroup_id);

	if (!cleared) {
		/* NOEXIST: another CPU's exec in the same cgroup may insert first. */
		bpf_map_update_elem(&disarmed_cgroups, &cgroup_id, &flag, BPF_NOEXIST);
		cleared = bpf_map_lookup_elem(&disarmed_cgroups, &cgroup_id);
	}
	if (cleared)
		__sync_fetch_and_or(cleared, flag);
	__sync_fetch_and_and(&cg->flags, ~flag);
}

/* cgroup socket programs may not read the task: they use the helper. */
static __always_inline struct fnw_cgroup_entry *fnw_current_cgroup_sock(__u64 *cgroup_id)
{
	*cgroup_id = bpf_get_current_cgroup_id();
	return fnw_lookup_cgroup(*cgroup_id);
}

static __always_inline struct fnw_policy *fnw_policy(__u32 policy_id)
{
	return bpf_map_lookup_elem(&policies, &policy_id);
}

/*
 * Tracing and LSM programs: the policy of the current task when it runs in
 * a monitored function and is past its launcher's exec (until then the
 * launcher's own calls are not the function's), else NULL. *cg is the
 * task's cgroup entry (trace/learn flags), valid when a policy is returned.
 */
static __always_inline struct fnw_policy *fnw_current_function(__u64 *cgroup_id, struct fnw_cgroup_entry **cg)
{
	*cg = fnw_current_cgroup(cgroup_id);
	if (!*cg || fnw_armed(*cgroup_id, *cg))
		return NULL;
	return fnw_policy((*cg)->policy_id);
}

/* fnw_current_function for the tail-called syscall handlers (fnw_handler_cgroup_of). */
static __always_inline struct fnw_policy *fnw_handler_function_of(struct task_struct *task, __u64 *cgroup_id,
								  struct fnw_cgroup_entry **cg)
{
	*cg = fnw_handler_cgroup_of(task, cgroup_id);
	if (!*cg || fnw_armed(*cgroup_id, *cg))
		return NULL;
	return fnw_policy((*cg)->policy_id);
}

static __always_inline struct fnw_policy *fnw_handler_function(__u64 *cgroup_id, struct fnw_cgroup_entry **cg)
{
	return fnw_handler_function_of(bpf_get_current_task_btf(), cgroup_id, cg);
}

static __always_inline struct fnw_counters *fnw_counters(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&counters, &zero);
}

#endif /* FNWARDEN_POLICY_BPF_H */
