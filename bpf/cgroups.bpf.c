// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgroup lifecycle: policy inheritance at birth, cleanup at removal.
 *
 * A function (or its runtime) may create sub-cgroups and start processes in
 * them. Copying the parent's entry here, inside the kernel and before
 * cgroup_mkdir returns to whoever created the directory, means no process
 * can run in the new cgroup before it is guarded: there is no userspace
 * round trip to race with.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "emit.bpf.h"
#include "policy.bpf.h"

/*
 * Set by the daemon (through the skeleton's .bss) when it has selectors
 * that name cgroups by path: then every cgroup birth is reported, so a
 * function started by another runtime is found. Births are rare (container
 * starts), so this costs nothing on the syscall path.
 */
volatile __u32 report_cgroup_births = 0;

static __always_inline void report_birth(struct cgroup *cgrp, const char *path, __u64 child_id, __u64 parent_id,
					 const struct fnw_cgroup_entry *inherited)
{
	struct fnw_counters *stats = fnw_counters();

	if (!stats)
		return;
	struct fnw_cgroup_event *ev = fnw_reserve(FNW_RING_ALERTS, sizeof(*ev), stats);

	if (!ev) {
		/* The daemon rescans the cgroup tree when this moves. */
		__sync_fetch_and_add(&stats->birth_drops, 1);
		return;
	}
	fnw_fill_header(&ev->hdr, FNW_EVENT_CGROUP, sizeof(*ev), child_id, inherited ? inherited->policy_id : 0);
	ev->parent_id = parent_id;
	ev->inherited = inherited != NULL;
	ev->inherited_policy_id = inherited ? inherited->policy_id : 0;
	ev->pad[0] = ev->pad[1] = 0;
	/* The tracepoint's path starts with '/': skip it, selectors match relative paths. */
	long n = bpf_probe_read_kernel_str(ev->path, sizeof(ev->path), path + 1);

	ev->path_truncated = n == sizeof(ev->path);
	if (n < 0)
		ev->path[0] = 0;
	fnw_submit(FNW_RING_ALERTS, ev, stats);
}

/*
 * cgroup_mkdir/rmdir fire for every hierarchy, and on hybrid hosts the v1
 * hierarchies have their own kernfs ids, which may collide with v2 ids. The
 * default (v2) hierarchy is set up first at boot and gets hierarchy id 0.
 */
static __always_inline bool on_default_hierarchy(struct cgroup *cgrp)
{
	return BPF_CORE_READ(cgrp, root, hierarchy_id) == 0;
}

/* cgroup->self is the cgroup's own css; its parent css points at the parent cgroup. */
static __always_inline __u64 parent_cgroup_id(struct cgroup *cgrp)
{
	struct cgroup *parent = BPF_CORE_READ(cgrp, self.parent, cgroup);

	if (!parent)
		return 0;
	return BPF_CORE_READ(parent, kn, id);
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(fnw_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	if (!on_default_hierarchy(cgrp))
		return 0;

	__u64 parent_id = parent_cgroup_id(cgrp);
	struct fnw_cgroup_entry *parent = bpf_map_lookup_elem(&monitored_cgroups, &parent_id);
	__u64 child_id = BPF_CORE_READ(cgrp, kn, id);

	if (!parent) {
		/* Nothing to inherit; the daemon may still recognise it by path. */
		if (report_cgroup_births)
			report_birth(cgrp, path, child_id, parent_id, NULL);
		return 0;
	}

	struct fnw_cgroup_entry child = *parent;

	/* The parent's arming as the kernel knows it, not as a stale rewrite
	 * of its entry may show it. */
	child.flags = (child.flags & ~(__u32)FNW_CGROUP_ARMING_FLAGS) |
		      fnw_arming(parent_id, parent) | FNW_CGROUP_INHERITED;
	/* Entry first, then the prefilter bit that makes probes look for it. */
	/* NOEXIST: never overwrite a registration userspace already made. */
	if (bpf_map_update_elem(&monitored_cgroups, &child_id, &child, BPF_NOEXIST) == 0) {
		fnw_filter_set(child_id);
		struct fnw_counters *stats = fnw_counters();

		if (stats)
			__sync_fetch_and_add(&stats->cgroups_inherited, 1);
	}
	/* After the entry: the child is guarded before userspace hears of it. */
	if (report_cgroup_births)
		report_birth(cgrp, path, child_id, parent_id, &child);
	return 0;
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(fnw_cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	if (!on_default_hierarchy(cgrp))
		return 0;

	__u64 id = BPF_CORE_READ(cgrp, kn, id);

	/* Keeps the maps from growing under cgroup churn. */
	bpf_map_delete_elem(&monitored_cgroups, &id);
	bpf_map_delete_elem(&disarmed_cgroups, &id);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
