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
 * The whole cost for a process outside every monitored cgroup: one helper
 * call and one load from the prefilter bitmap (a hash miss only on a bit
 * collision). Keep it that way.
 */
static __always_inline struct fnw_cgroup_entry *fnw_current_cgroup(__u64 *cgroup_id)
{
	*cgroup_id = bpf_get_current_cgroup_id();
	__u32 bit = *cgroup_id & (FNW_CGROUP_FILTER_BITS - 1);

	if (!(monitored_filter[bit / 64] & (1ull << (bit % 64))))
		return NULL;
	return bpf_map_lookup_elem(&monitored_cgroups, cgroup_id);
}

static __always_inline struct fnw_policy *fnw_policy(__u32 policy_id)
{
	return bpf_map_lookup_elem(&policies, &policy_id);
}

static __always_inline struct fnw_counters *fnw_counters(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&counters, &zero);
}

#endif /* FNWARDEN_POLICY_BPF_H */
