// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Process exec: arming a launcher-registered cgroup at the moment its child
 * becomes the function (see FNW_CGROUP_ARM_ON_EXEC), and, on kernels with
 * BPF-LSM, refusing an exec outside the allowlist before the new image runs.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "emit.bpf.h"
#include "policy.bpf.h"

#define EPERM 1

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

/*
 * Loaded only where the kernel runs BPF-LSM programs (ProbeSet::load tries
 * and falls back; `run --explain` says which). The path is the kernel's own
 * (bpf_d_path of the file being executed): canonical, and not user memory a
 * racing thread could change.
 */
SEC("lsm/bprm_check_security")
int BPF_PROG(fnw_lsm_bprm_check, struct linux_binprm *bprm, int ret)
{
	if (ret)
		return ret; /* an earlier LSM already refused: keep its verdict */

	__u64 cgroup_id;
	struct fnw_cgroup_entry *cg = fnw_current_cgroup(&cgroup_id);

	if (!cg || (cg->flags & FNW_CGROUP_ARM_ON_EXEC))
		return 0; /* not monitored, or the launcher's own exec of the function */

	__u32 policy_id = cg->policy_id;
	struct fnw_policy *policy = fnw_policy(policy_id);
	struct fnw_counters *stats = fnw_counters();
	__u32 zero = 0;
	struct fnw_exec_key *key = bpf_map_lookup_elem(&exec_key_scratch, &zero);

	if (!policy || !stats || !key || !(policy->flags & FNW_POLICY_EXEC_LSM))
		return 0;

	__builtin_memset(key, 0, sizeof(*key));
	key->policy_id = policy_id;
	/* f_path is const in the kernel type; bpf_d_path only reads it. */
	long n = bpf_d_path((struct path *)&bprm->file->f_path, key->path, sizeof(key->path));

	/*
	 * bpf_d_path builds the name at the end of the buffer and moves it to
	 * the front: bytes after the NUL are left over, not zero. Clear them so
	 * equal paths make equal keys.
	 */
	for (int i = 0; i < FNW_EXEC_PATH_MAX; i++) {
		if (i >= n)
			key->path[i] = 0;
	}

	/* A path too long for a key can never have been allowed. */
	if (n > 0 && bpf_map_lookup_elem(&exec_allowed, key))
		return 0;

	__sync_fetch_and_add(&stats->violations, 1);
	const bool deny = policy->exec_action != FNW_KACTION_REPORT;
	struct fnw_file_event *ev = fnw_reserve(sizeof(*ev), stats);

	if (ev) {
		fnw_fill_header(&ev->hdr, FNW_EVENT_FILE, sizeof(*ev), cgroup_id, policy_id);
		fnw_file_event_clear(ev);
		ev->nr = FNW_NR_LSM_EXEC;
		ev->ret = deny ? -EPERM : 0;
		ev->dfd = -100;
		ev->verdict = FNW_VERDICT_VIOLATION;
		ev->action = deny ? FNW_ACTION_DENIED : FNW_ACTION_REPORTED;
		ev->mechanism = deny ? FNW_MECH_BPF_LSM : FNW_MECH_NONE;
		ev->path_truncated = n < 0;
		bpf_probe_read_kernel_str(ev->path, sizeof(key->path), key->path);
		fnw_submit(ev, stats);
	}
	return deny ? -EPERM : 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
