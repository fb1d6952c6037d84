// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Process exec. In this slice: arming a launcher-registered cgroup at the
 * moment its child becomes the function (see FNW_CGROUP_ARM_ON_EXEC).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "policy.bpf.h"

SEC("tp_btf/sched_process_exec")
int BPF_PROG(fnw_sched_process_exec, struct task_struct *p, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	__u64 cgroup_id;
	struct fnw_cgroup_entry *cg = fnw_current_cgroup(&cgroup_id);

	if (!cg)
		return 0;
	if (cg->flags & FNW_CGROUP_ARM_ON_EXEC)
		__sync_fetch_and_and(&cg->flags, ~(__u32)FNW_CGROUP_ARM_ON_EXEC);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
