// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Process exec:
 *  - arming a launcher-registered cgroup at the moment its child becomes
 *    the function (see FNW_CGROUP_ARM_ON_EXEC);
 *  - checking every exec of a monitored function against exec.allow at
 *    sched_process_exec, on every kernel: the exec has succeeded, but the
 *    new image has not run an instruction yet, and a SIGKILL sent here is
 *    delivered before it does. Fileless execution (a memfd, a deleted
 *    file) is flagged whatever the policy says;
 *  - on kernels with BPF-LSM, refusing an exec outside the allowlist
 *    before it happens (lsm/bprm_check_security).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "emit.bpf.h"
#include "path.bpf.h"
#include "policy.bpf.h"

#define EPERM 1

/* The comm exec gave fnwarden-runtime's init: the basename of the path
 * it is run by, /.fnwarden/fnwarden-init (oci/oci_config.cpp). Before the
 * entrypoint only runc's own programs run in the container's cgroup, so
 * the name is enough to tell the init's exec from runc's. */
static __always_inline bool is_container_init(struct task_struct *p)
{
	static const char name[] = "fnwarden-init";

#pragma unroll
	for (int i = 0; i < (int)sizeof(name); i++)
		if (p->comm[i] != name[i])
			return false;
	return true;
}

/*
 * runc starting its init: `runc create` (or `run`) execs its own binary
 * (/proc/self/exe init) in a child it then moves into the container's
 * cgroup. Go's fork+exec returns to runc when the close-on-exec pipe
 * closes, inside the exec and before this tracepoint, and runc joins the
 * child to the cgroup right after: under load (the 6.1 VM under TCG, every
 * run) the join wins, and this exec lands in the armed cgroup. It is
 * runc's, not the function's: the new image is the very file its parent
 * runs, and the parent is runc. Read through probe reads: a cold path,
 * and the parent may be exiting (no mm: no match).
 */
static __always_inline bool is_runtime_self_exec(struct task_struct *p, struct linux_binprm *bprm)
{
	struct task_struct *parent = BPF_CORE_READ(p, real_parent);
	struct inode *parent_image = BPF_CORE_READ(parent, mm, exe_file, f_inode);
	char comm[5];

	if (!parent_image || parent_image != bprm->file->f_inode)
		return false;
	if (bpf_probe_read_kernel(comm, sizeof(comm), &parent->comm))
		return false;
	return comm[0] == 'r' && comm[1] == 'u' && comm[2] == 'n' && comm[3] == 'c' &&
	       (comm[4] == '\0' || comm[4] == ':');
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(fnw_sched_process_exec, struct task_struct *p, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	__u64 cgroup_id;
	struct fnw_cgroup_entry *cg = fnw_current_cgroup(&cgroup_id);

	if (!cg)
		return 0;
	/* The flags still in force, whatever a stale userspace rewrite of the
	 * entry put back (disarmed_cgroups). */
	const __u32 arming_flags = fnw_arming(cgroup_id, cg);
	struct file *file = bprm->file;
	struct inode *inode = file->f_inode;
	/* An unlinked program: a memfd, or a file deleted since it was opened. */
	const bool fileless = inode->i_nlink == 0;

	/* fnwarden-runtime's container: every exec up to and including
	 * fnwarden's init (runc re-executing itself, then the init) is not the
	 * function yet; the init's clears the flag, and the exec after it,
	 * the entrypoint's, arms the cgroup. */
	if ((arming_flags & FNW_CGROUP_ARM_ON_EXEC) && (arming_flags & FNW_CGROUP_ARM_SKIP_EXEC)) {
		if (is_container_init(p))
			fnw_disarm(cgroup_id, cg, FNW_CGROUP_ARM_SKIP_EXEC);
		return 0;
	}
	/* runc's two execs before the entrypoint may land in an armed cgroup,
	 * in a race that load decides (its parent joins the child to the
	 * cgroup while the child execs): its own binary, for `runc init`
	 * (is_runtime_self_exec), then 1.1's re-exec of its init from an
	 * unlinked copy of that binary (a memfd, its guard against
	 * CVE-2019-5736). Both are the runtime's; arming on either would check
	 * runc's own set-up (the copy's read, mknod of the rootfs' /dev/null,
	 * its exec fifo: refused) and fail the container's start. The
	 * function's first program is a file: the launcher execs the command
	 * it was given, runc the entrypoint's path in the container's root. */
	if ((arming_flags & FNW_CGROUP_ARM_ON_EXEC) &&
	    (fileless || is_runtime_self_exec(p, bprm)))
		return 0;
	/* The launcher's own exec of the function: from here on it is the
	 * function. The new image is the function's first program, and is
	 * checked like any other exec: under Landlock (enforce) the kernel
	 * refuses it, or its interpreter, before this point, so audit must
	 * report the same here. Only checked: an allowed first exec is not a
	 * traced event (the launcher's exec, as before). */
	const bool arming = arming_flags & FNW_CGROUP_ARM_ON_EXEC;

	if (arming)
		fnw_disarm(cgroup_id, cg, FNW_CGROUP_ARM_ON_EXEC);

	__u32 policy_id = cg->policy_id;
	struct fnw_policy *policy = fnw_policy(policy_id);
	struct fnw_counters *stats = fnw_counters();

	if (!policy || !stats)
		return 0;
	const bool traced = (cg->flags & FNW_CGROUP_TRACE) && !arming;
	/* Under BPF-LSM, bprm_check_security already decided and reported. */
	const bool restricted = (policy->flags & FNW_POLICY_EXEC_RESTRICTED) &&
				!(policy->flags & FNW_POLICY_EXEC_LSM);

	const bool hashed = policy->flags & FNW_POLICY_EXEC_HASHED;
	/* Userspace checks the program's ELF interpreter: FNW_POLICY_EXEC_INTERP. */
	const bool interp = restricted && (policy->flags & FNW_POLICY_EXEC_INTERP);

	/* A program in a pinned code directory: userspace hashes it. */
	const bool code = !fileless && (policy->flags & FNW_POLICY_CODE_PINNED) &&
			  in_code_dir(policy_id, BPF_CORE_READ(file, f_path.dentry));
	/*
	 * Birth in a new root: the first exec in a root (a mount namespace and
	 * root directory) the policy's file and exec rules were not compiled
	 * in. A container's entrypoint, a chroot's program: until the daemon
	 * compiles the rules in that root (ProbeSet::add_rules_root), no miss
	 * there is the kernel's to decide, by BPF-LSM or at sys_exit, and the
	 * first forbidden access would be matched by name after it happened.
	 * So the new image waits here, before its first instruction, for the
	 * record that makes the daemon compile the root; the daemon compiles
	 * before it lets it go (EventRouter::compile_in_root_of). In audit,
	 * only the record.
	 *
	 * Why the exec is the moment: what a process does in the cgroup
	 * before it is runc's own code, not the image's. runc's init joins
	 * the cgroup in the host's root (decided as fnwarden's own root), then
	 * unshares the mount namespace, mounts the container's root and
	 * pivots into it: each access of that set-up that the kernel cannot
	 * decide (a root not compiled) is matched by name, the task held in
	 * enforce, as before. No instruction of the image runs until runc's
	 * init execs the entrypoint, and that exec lands here. fnwarden-
	 * runtime's init (ARM_SKIP_EXEC above) is fnwarden's own program,
	 * bind-mounted read-only; the entrypoint's exec after it lands here
	 * too. A chroot(2) without an exec keeps running the code it had:
	 * matched by name until its first record compiles the root.
	 */
	const bool new_root =
		(policy->flags & (FNW_POLICY_FILES_RESTRICTED | FNW_POLICY_EXEC_RESTRICTED)) &&
		!rules_root_compiled(policy_id);
	__u32 hold_action = code && policy->code_action != FNW_KACTION_REPORT ? policy->code_action
									      : policy->exec_action;

	if (new_root) {
		__sync_fetch_and_add(&stats->new_roots, 1);
		if (hold_action == FNW_KACTION_REPORT)
			hold_action = policy->file_action;
	}
	if (!restricted && !fileless && !traced && !hashed && !code && !new_root)
		return 0;

	__u8 verdict = FNW_VERDICT_ALLOWED;
	__u32 missing = 0;

	if (fileless) {
		verdict = FNW_VERDICT_VIOLATION; /* no path can be allowed: there is none */
		missing = FNW_FILE_EXEC;
	} else if (restricted && !(granted_rights(policy_id, &file->f_path, FNW_FILE_EXEC) & FNW_FILE_EXEC)) {
		if (rules_root_rights(policy_id, policy->file_kernel_rights) & FNW_FILE_EXEC) {
			verdict = FNW_VERDICT_VIOLATION;
			missing = FNW_FILE_EXEC;
		} else {
			verdict = FNW_VERDICT_PENDING; /* a glob: userspace decides */
		}
	}
	/* exec.allow pins some programs to a sha256: userspace hashes them
	 * (it reads the file; the kernel cannot). See FNW_POLICY_EXEC_HASHED. */
	if (verdict == FNW_VERDICT_ALLOWED && (hashed || interp || code || new_root) && !fileless)
		verdict = FNW_VERDICT_PENDING;
	if (verdict == FNW_VERDICT_ALLOWED && !traced)
		return 0;

	__u8 action = FNW_ACTION_NONE, mechanism = FNW_MECH_NONE;

	if (verdict == FNW_VERDICT_VIOLATION) {
		__sync_fetch_and_add(&stats->violations, 1);
		action = FNW_ACTION_REPORTED;
		/* deny falls back to kill: the exec is done, the image must not run. */
		if (restricted && policy->exec_action != FNW_KACTION_REPORT) {
			if (fnw_kill_current(stats)) {
				action = FNW_ACTION_KILLED;
				mechanism = FNW_MECH_SIGKILL;
			}
		}
	} else if (verdict == FNW_VERDICT_PENDING) {
		__sync_fetch_and_add(&stats->file_pending, 1);
	}

	const bool alert = verdict == FNW_VERDICT_VIOLATION;
	struct fnw_file_event *ev = fnw_reserve(alert, sizeof(*ev), stats);

	if (!ev) {
		/* No room: an exec only fnwarden could decide (a glob, a
		 * pinned sha256) fails closed; see fnw_fail_closed. */
		if (verdict == FNW_VERDICT_PENDING)
			fnw_fail_closed(hold_action, policy_id, stats);
		else if (action == FNW_ACTION_REPORTED)
			fnw_count_gap(policy_id, stats);
		return 0;
	}
	fnw_fill_header(&ev->hdr, FNW_EVENT_FILE, sizeof(*ev), cgroup_id, policy_id);
	fnw_file_event_clear(ev);
	/* A glob or a pinned sha256 only fnwarden can check: where the policy
	 * acts, the new image waits for that verdict before its first
	 * instruction (fnw_hold_current), or dies if it cannot wait. */
	if (verdict == FNW_VERDICT_PENDING && hold_action != FNW_KACTION_REPORT) {
		if (fnw_hold_current(cgroup_id, policy_id, stats))
			ev->held = 1;
		else
			fnw_fail_closed(hold_action, policy_id, stats);
	}
	ev->nr = FNW_NR_EXEC;
	ev->ret = 0;
	ev->dfd = -100;
	ev->verdict = verdict;
	ev->action = action;
	ev->mechanism = mechanism;
	ev->access = FNW_FILE_EXEC;
	ev->missing = missing;
	ev->traced = traced;
	ev->object_flags = (fileless ? FNW_OBJECT_UNLINKED : 0) | (code ? FNW_OBJECT_CODE_PINNED : 0);
	ev->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	ev->ino = inode->i_ino;
	ev->generation = inode->i_generation;
	/* The name exec was given (a script's own path when an interpreter runs it). */
	long n = bpf_probe_read_kernel_str(ev->path, sizeof(ev->path), bprm->filename);

	if (n < 0)
		ev->path[0] = '\0';
	ev->path_truncated = n == sizeof(ev->path);
	ev->resolved_kind = FNW_RESOLVED_OBJECT;
	ev->resolved_truncated = !resolve_path(&file->f_path, ev->resolved);

	/* argv: the new image's, copied onto its stack by exec. Bounded: a
	 * longer command line is cut and flagged, never dropped. */
	struct mm_struct *mm = BPF_CORE_READ(bpf_get_current_task_btf(), mm);
	unsigned long arg_start = BPF_CORE_READ(mm, arg_start), arg_end = BPF_CORE_READ(mm, arg_end);
	__u64 len = arg_end > arg_start ? arg_end - arg_start : 0;

	ev->path2_truncated = len > sizeof(ev->argv);
	if (len > sizeof(ev->argv))
		len = sizeof(ev->argv);
	/* The branch is the bound the verifier needs for the size. */
	if (len > 0 && len <= sizeof(ev->argv) && bpf_probe_read_user(ev->argv, len, (const void *)arg_start) == 0)
		ev->argv_len = (__u32)len;
	/* A held process waits for this record: wake the reader now, not at
	 * the batch threshold or its next tick. */
	fnw_submit_waking(alert, ev, stats, ev->held);
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
	struct fnw_cgroup_entry *cg;
	/* NULL also for the launcher's own exec of the function. */
	struct fnw_policy *policy = fnw_current_function(&cgroup_id, &cg);

	if (!policy)
		return 0;
	__u32 policy_id = cg->policy_id;
	struct fnw_counters *stats = fnw_counters();
	__u32 zero = 0;
	struct fnw_exec_key *key = bpf_map_lookup_elem(&exec_key_scratch, &zero);

	if (!stats || !key || !(policy->flags & FNW_POLICY_EXEC_LSM))
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
	__u32 *use_bit = n > 0 ? bpf_map_lookup_elem(&exec_allowed, key) : NULL;

	if (use_bit) {
		fnw_mark_grant(policy_id, *use_bit);
		return 0;
	}

	__sync_fetch_and_add(&stats->violations, 1);
	const bool deny = policy->exec_action != FNW_KACTION_REPORT;
	struct fnw_file_event *ev = fnw_reserve(FNW_RING_ALERTS, sizeof(*ev), stats);

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
		fnw_submit(FNW_RING_ALERTS, ev, stats);
	} else if (!deny) {
		fnw_count_gap(policy_id, stats);
	}
	return deny ? -EPERM : 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
