// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What can change an emitted record's lineage behind its task's back: an
 * exit (the exiting task's children are reparented) and a cgroup migration
 * (an ancestor leaves or joins the function). Each moves lineage_epoch,
 * which ends every task's remembered lineage (fnw_lineage_walk, emit.bpf.h).
 *
 * Both fire for every task on the host, monitored or not: an exit or a
 * migration pays one atomic add. Whether the exiting task had children
 * that mattered is not worth asking: the add is cheaper than the question,
 * and an exit costs tens of microseconds (docs/performance.md, "The lineage
 * remembered").
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "maps.bpf.h"

/*
 * Before exit_notify() reparents the children (and after PF_EXITING is
 * set: see fnw_lineage_walk). The second argument (group_dead, 6.16) is
 * not read, so one program serves both prototypes.
 */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(fnw_lineage_exit, struct task_struct *task)
{
	__sync_fetch_and_add(&lineage_epoch, 1);
	return 0;
}

/* After the task (or its whole thread group) moved to `dst`. */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(fnw_lineage_migrate, struct cgroup *dst)
{
	__sync_fetch_and_add(&lineage_epoch, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
