// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * File syscalls: every open, create, delete, rename, link, chmod/chown and
 * truncate of a monitored function, checked against its files section.
 *
 * Each syscall's enter handler and the one exit handler are tail-called from
 * the raw sys_enter/sys_exit dispatchers (syscalls.bpf.c) once the task is
 * known to be in a monitored function: a process outside every function
 * pays only their fast path. sys_enter keeps the arguments (user pointers)
 * per thread; sys_exit pairs them with the return value, so the event says
 * what happened, not what was asked.
 *
 * Deciding in the kernel. A successful open is checked by inode: its own
 * inode and every ancestor's (crossing mounts) against file_rules, which
 * userspace fills from the literal and dir + "**" patterns that existed at load.
 * Inodes do not care how the path was spelt (relative, "..", symlinks, bind
 * mounts), so the answer is the canonical one without a string compare.
 * An allowed open is remembered in file_verdicts; a repeat costs one LRU
 * lookup and crosses nothing. What the kernel cannot decide (a "*" glob, a
 * pattern whose directory did not exist, a failed or non-open operation) is
 * sent as FNW_VERDICT_PENDING with the path the kernel resolved; userspace
 * matches its compiled globs and writes the allowed verdict back.
 *
 * Enforcement here is SIGKILL from sys_exit for a violation the kernel
 * decided: the operation has happened, but the process dies before it
 * returns to user space and never gets the fd (docs/enforcement.md). What
 * only userspace can decide is held: the process is stopped before it
 * returns (fnw_hold_current) until userspace lets it go or kills it. Making
 * the operation fail needs BPF-LSM or Landlock.
 *
 * What Landlock refused is reported by landlock.bpf.c.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "emit.bpf.h"
#include "path.bpf.h"
#include "policy.bpf.h"

#define EACCES 13

/* ---- File syscalls of monitored functions ------------------------------ */

#define ENOENT 2
#define EPERM 1
#define O_PATH 010000000
/* f_mode bit do_open() sets when this open created the file (stable since 4.19). */
#define FMODE_CREATED 0x100000

/* What sys_enter saw, for sys_exit of the same thread. */
struct file_pending {
	__u64 path;  /* user pointer */
	__u64 path2; /* user pointer or 0 */
	__s32 dfd;
	__s32 dfd2;
	__u32 nr;
	__u32 open_flags;
	__u32 access;
	__u32 access2;
	__u8 is_open;
	__u8 lsm_decided; /* lsm/file_open refused it and reported it */
	__u8 active;	  /* set at sys_enter, cleared at sys_exit */
	__u8 pad;
};

/*
 * The last open this thread found allowed (in file_verdicts, or by the
 * rules and then put there): a repeat of the same key under the same
 * file_verdicts_epoch is answered here without the LRU lookup. It holds a
 * copy of a file_verdicts key, never anything looser, and a purge of
 * file_verdicts bumps the epoch after it, so it never allows what the LRU
 * and the rules would not.
 */
struct file_verdict_memo {
	struct fnw_file_verdict_key key;
	__u64 epoch; /* file_verdicts_epoch + 1 when it was read before the lookup; 0: none */
};

struct file_task {
	struct file_pending pending;
	struct file_verdict_memo memo;
};

/*
 * Private to this family: the file syscall a thread is in, in the thread's
 * own storage. A monitored open pays two pointer chases from the task
 * here, where a hash keyed on the thread id cost an update, a lookup and
 * a delete per syscall (issue 24 item 2). Freed with the thread.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct file_task);
} file_pending SEC(".maps");

/* The file state of `task` (the current thread) while it is in a file syscall, or NULL. */
static __always_inline struct file_task *task_file_in_syscall(struct task_struct *task)
{
	struct file_task *state = bpf_task_storage_get(&file_pending, task, 0, 0);

	return state && state->pending.active ? state : NULL;
}

/* The file syscall `task` (the current thread) is in, or NULL. */
static __always_inline struct file_pending *task_file_pending(struct task_struct *task)
{
	struct file_task *state = task_file_in_syscall(task);

	return state ? &state->pending : NULL;
}

static __always_inline struct file_pending *current_file_pending(void)
{
	return task_file_pending(bpf_get_current_task_btf());
}

static __always_inline int file_enter(__u32 nr, const char *path, __s32 dfd, const char *path2, __s32 dfd2,
				      __u32 open_flags, __u32 access, __u32 access2, bool is_open)
{
	__u64 cgroup_id;
	struct fnw_cgroup_entry *cg;
	struct task_struct *task = bpf_get_current_task_btf();
	struct fnw_policy *policy = fnw_handler_function_of(task, &cgroup_id, &cg);

	if (!policy)
		return 0;
	/* Code pins are checked at opens only: what runs or is imported. */
	const bool checked = (policy->flags & FNW_POLICY_FILES_RESTRICTED) ||
			     ((policy->flags & FNW_POLICY_CODE_PINNED) && is_open);

	if (!checked && !(cg->flags & FNW_CGROUP_TRACE))
		return 0;
	/* O_PATH opens nothing: reading or writing through it means a real open later. */
	if (is_open && (open_flags & O_PATH))
		return 0;

	struct file_pending pending = {
		.path = (__u64)path,
		.path2 = (__u64)path2,
		.dfd = dfd,
		.dfd2 = dfd2,
		.nr = nr,
		.open_flags = open_flags,
		.access = access,
		.access2 = access2,
		.is_open = is_open,
		.active = 1,
	};
	struct file_task *slot = bpf_task_storage_get(&file_pending, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!slot) {
		struct fnw_counters *stats = fnw_counters();

		if (stats)
			__sync_fetch_and_add(&stats->file_pending_lost, 1);
		return 0;
	}
	slot->pending = pending;
	return 0;
}

/* The key of an open's cached verdict: the inode, where it is, what was asked. */
static __always_inline void file_verdict_key(struct fnw_file_verdict_key *vkey, __u32 policy_id, __u32 access,
					     struct file *file)
{
	struct dentry *dentry = BPF_CORE_READ(file, f_path.dentry);
	struct inode *inode = BPF_CORE_READ(dentry, d_inode);

	vkey->policy_id = policy_id;
	vkey->access = access;
	vkey->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	vkey->ino = BPF_CORE_READ(inode, i_ino);
	vkey->parent_ino = BPF_CORE_READ(dentry, d_parent, d_inode, i_ino);
	vkey->generation = BPF_CORE_READ(inode, i_generation);
}

/* Whether two verdict keys are the same (all 40 bytes, pad zeroed). */
static __always_inline bool same_verdict_key(const struct fnw_file_verdict_key *a,
					     const struct fnw_file_verdict_key *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3] && x[4] == y[4];
}

static __always_inline void remember_verdict(struct file_verdict_memo *memo, const struct fnw_file_verdict_key *key,
					     __u64 epoch)
{
	memo->key = *key;
	memo->epoch = epoch;
}

static __always_inline int file_exit(long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct file_task *state = task_file_in_syscall(task);

	if (!state)
		return 0;
	struct file_pending pending = state->pending;

	state->pending.active = 0;

	__u64 cgroup_id;
	struct fnw_cgroup_entry *cg = fnw_handler_cgroup_of(task, &cgroup_id);

	if (!cg)
		return 0;
	__u32 policy_id = cg->policy_id;
	struct fnw_policy *policy = fnw_policy(policy_id);
	struct fnw_counters *stats = fnw_counters();

	if (!policy || !stats)
		return 0;
	/* Landlock refused it: fnw_sys_exit reports that, once. */
	if ((cg->flags & FNW_CGROUP_LANDLOCK) && ret == -EACCES)
		return 0;
	/* BPF-LSM refused it before it happened, and reported it. */
	if (pending.lsm_decided)
		return 0;

	const bool traced = cg->flags & FNW_CGROUP_TRACE;
	const bool restricted = policy->flags & FNW_POLICY_FILES_RESTRICTED;

	/*
	 * A failure other than a permission refusal did nothing (ENOENT from
	 * the loader's library search, EEXIST from mkdir -p): not an access.
	 */
	if (ret < 0 && ret != -EACCES && ret != -EPERM && !traced)
		return 0;
	__sync_fetch_and_add(&stats->file_checks, 1);

	struct file *file = NULL;
	__u32 access = pending.access;
	struct fnw_file_verdict_key vkey = {};

	if (pending.is_open && ret >= 0)
		file = fd_file_btf(task, (int)ret);
	if (file) {
		if ((pending.open_flags & O_CREAT) && (BPF_CORE_READ(file, f_mode) & FMODE_CREATED))
			access |= FNW_FILE_CREATE;
		file_verdict_key(&vkey, policy_id, access, file);
	} else if (ret < 0 && (pending.open_flags & O_CREAT)) {
		access |= FNW_FILE_CREATE; /* refused: it may have been a create */
	}

	__u8 verdict = FNW_VERDICT_PENDING;
	__u32 granted = 0, named = 0;
	bool replaced = false;
	/*
	 * A file of a pinned code directory opened for reading (an import, a
	 * script): only its content can say whether it may be used, so
	 * userspace decides (hash and pin, and the files
	 * section by name), before the cache: an allowed inode may have been
	 * written since, or renamed over the pinned name.
	 */
	const bool code = file && (access & FNW_FILE_READ) && (policy->flags & FNW_POLICY_CODE_PINNED) &&
			  in_code_dir(policy_id, BPF_CORE_READ(file, f_path.dentry));
	/* Whether the process waits for a pending verdict: the code pin's
	 * action where it is one, else the files section's. */
	const __u32 hold_action = code && policy->code_action != FNW_KACTION_REPORT ? policy->code_action
										    : policy->file_action;

	if (code) {
		verdict = FNW_VERDICT_PENDING;
	} else if (!restricted) {
		verdict = FNW_VERDICT_ALLOWED; /* traced only */
	} else if (file) {
		/* Read before the lookup: a purge after this read bumps it. */
		const __u64 epoch = *(volatile __u64 *)&file_verdicts_epoch + 1;

		if (state->memo.epoch == epoch && same_verdict_key(&state->memo.key, &vkey)) {
			__sync_fetch_and_add(&stats->file_cache_hits, 1);
			verdict = FNW_VERDICT_ALLOWED;
		} else if (bpf_map_lookup_elem(&file_verdicts, &vkey)) {
			__sync_fetch_and_add(&stats->file_cache_hits, 1);
			remember_verdict(&state->memo, &vkey, epoch);
			verdict = FNW_VERDICT_ALLOWED;
		} else if (!(access & ~(granted = granted_rights_named(policy_id, &file->f_path, access, &named, &replaced)))) {
			__u8 yes = 1;

			bpf_map_update_elem(&file_verdicts, &vkey, &yes, BPF_ANY);
			remember_verdict(&state->memo, &vkey, epoch);
			verdict = FNW_VERDICT_ALLOWED;
		} else if (!(access & ~rules_root_rights(policy_id, policy->file_kernel_rights)) &&
			   !(access & ~granted & named)) {
			verdict = FNW_VERDICT_VIOLATION;
		}
	}
	if (verdict == FNW_VERDICT_ALLOWED && !traced)
		return 0;

	__u8 action = FNW_ACTION_NONE, mechanism = FNW_MECH_NONE;

	if (verdict == FNW_VERDICT_VIOLATION) {
		__sync_fetch_and_add(&stats->file_violations, 1);
		__sync_fetch_and_add(&stats->violations, 1);
		action = FNW_ACTION_REPORTED;
		/* deny cannot be done from here: it falls back to kill. */
		if (policy->file_action != FNW_KACTION_REPORT) {
			if (fnw_kill_current(stats)) {
				action = FNW_ACTION_KILLED;
				mechanism = FNW_MECH_SIGKILL;
			}
		}
	} else if (verdict == FNW_VERDICT_PENDING) {
		__sync_fetch_and_add(&stats->file_pending, 1);
	}

	const bool alert = verdict == FNW_VERDICT_VIOLATION;

	if (alert) {
		/* Decided and acted on here: a repeat on the same object is only counted. */
		struct fnw_violation_key tkey = {
			.cgroup_id = cgroup_id,
			.type = FNW_EVENT_FILE,
			.what = access,
			/* the object, generation included: a file made again is another one */
			.detail = vkey.dev ^ vkey.ino ^ (__u64)vkey.generation << 32,
		};

		if (!fnw_violation_reported(&tkey, policy_id, stats))
			return 0;
	}
	struct fnw_file_event *ev = fnw_reserve(alert, sizeof(*ev), stats);

	if (!ev) {
		/*
		 * No room: an access only fnwarden could decide would go
		 * undecided. One that happened fails closed (killed where the
		 * policy acts); a refused one did nothing and is only unseen.
		 */
		if (verdict == FNW_VERDICT_PENDING && ret >= 0)
			fnw_fail_closed(hold_action, policy_id, stats);
		else if (verdict == FNW_VERDICT_PENDING || action == FNW_ACTION_REPORTED)
			fnw_count_gap(policy_id, stats);
		return 0;
	}
	fnw_fill_header(&ev->hdr, FNW_EVENT_FILE, sizeof(*ev), cgroup_id, policy_id);
	fnw_file_event_clear(ev);
	/*
	 * Done, and only fnwarden can say whether it was allowed: where the
	 * policy acts, the process waits for that verdict before it can use
	 * the result (fnw_hold_current), or dies if it cannot wait.
	 */
	if (verdict == FNW_VERDICT_PENDING && ret >= 0 && hold_action != FNW_KACTION_REPORT) {
		if (fnw_hold_current(cgroup_id, policy_id, stats))
			ev->held = 1;
		else
			fnw_fail_closed(hold_action, policy_id, stats);
	}
	ev->nr = pending.nr;
	ev->ret = (__s32)ret;
	ev->dfd = pending.dfd;
	ev->dfd2 = pending.dfd2;
	ev->verdict = verdict;
	ev->action = action;
	ev->mechanism = mechanism;
	ev->access = access;
	ev->access2 = pending.access2;
	ev->open_flags = pending.open_flags;
	ev->dev = vkey.dev;
	ev->ino = vkey.ino;
	ev->parent_ino = vkey.parent_ino;
	ev->generation = vkey.generation;
	if (replaced)
		ev->object_flags |= FNW_OBJECT_RULE_REPLACED;
	if (code)
		ev->object_flags |= FNW_OBJECT_CODE_PINNED;
	ev->traced = traced;
	if (verdict == FNW_VERDICT_VIOLATION)
		ev->missing = access & ~granted;

	long n = bpf_probe_read_user_str(ev->path, sizeof(ev->path), (const void *)pending.path);

	if (n < 0)
		ev->path[0] = '\0';
	ev->path_truncated = n == sizeof(ev->path);
	if (pending.path2) {
		n = bpf_probe_read_user_str(ev->path2, sizeof(ev->path2), (const void *)pending.path2);
		if (n < 0)
			ev->path2[0] = '\0';
		ev->path2_truncated = n == sizeof(ev->path2);
	}

	/* One walk: the object itself, or the directory a relative name starts from. */
	const struct path *where = NULL;

	if (file) {
		ev->resolved_kind = FNW_RESOLVED_OBJECT;
		where = &file->f_path;
	} else if (ev->path[0] != '/') {
		where = base_path(task, pending.dfd);
		if (where)
			ev->resolved_kind = FNW_RESOLVED_BASE;
	}
	if (where)
		ev->resolved_truncated = !resolve_path(where, ev->resolved);
	/* A held process waits for this record: wake the reader now, not at
	 * the batch threshold or its next tick. */
	fnw_submit_waking(alert, ev, stats, ev->held);
	return 0;
}

/*
 * The exit handler of every file syscall (ProbeSet::install_handlers puts it
 * at each of their numbers in sys_exit_handlers): the exit logic (two
 * bounded dentry walks) is verified once instead of once per syscall, which
 * kept probe loading from taking seconds.
 */
SEC("tp_btf/sys_exit")
int BPF_PROG(fnw_file_exit, struct pt_regs *regs, long ret)
{
	return file_exit(ret);
}

#define ARG_PTR(i) ((const char *)fnw_syscall_arg(regs, i))
#define ARG_FD(i) ((__s32)fnw_syscall_arg(regs, i))
#define ARG(i) fnw_syscall_arg(regs, i)
#define NR ((__u32)id)

/* The enter handler of `syscall`, at its number in sys_enter_handlers. */
#define FILE_ENTER(syscall, call)                                                       \
	SEC("tp_btf/sys_enter")                                                         \
	int BPF_PROG(fnw_enter_##syscall, struct pt_regs *regs, long id)                \
	{                                                                               \
		return call;                                                            \
	}

/* file_enter(nr, path, dfd, path2, dfd2, open flags, access, access2, is_open) */
FILE_ENTER(open, file_enter(NR, ARG_PTR(0), AT_FDCWD, NULL, AT_FDCWD, ARG(1), open_access(ARG(1)), 0, true))
FILE_ENTER(openat, file_enter(NR, ARG_PTR(1), ARG_FD(0), NULL, AT_FDCWD, ARG(2), open_access(ARG(2)), 0, true))
FILE_ENTER(creat, file_enter(NR, ARG_PTR(0), AT_FDCWD, NULL, AT_FDCWD, O_CREAT | O_WRONLY | O_TRUNC,
			     FNW_FILE_WRITE, 0, true))
FILE_ENTER(mkdir, file_enter(NR, ARG_PTR(0), AT_FDCWD, NULL, AT_FDCWD, 0, FNW_FILE_CREATE, 0, false))
FILE_ENTER(mkdirat, file_enter(NR, ARG_PTR(1), ARG_FD(0), NULL, AT_FDCWD, 0, FNW_FILE_CREATE, 0, false))
FILE_ENTER(mknod, file_enter(NR, ARG_PTR(0), AT_FDCWD, NULL, AT_FDCWD, 0, FNW_FILE_CREATE, 0, false))
FILE_ENTER(mknodat, file_enter(NR, ARG_PTR(1), ARG_FD(0), NULL, AT_FDCWD, 0, FNW_FILE_CREATE, 0, false))
FILE_ENTER(unlink, file_enter(NR, ARG_PTR(0), AT_FDCWD, NULL, AT_FDCWD, 0, FNW_FILE_DELETE, 0, false))
FILE_ENTER(unlinkat, file_enter(NR, ARG_PTR(1), ARG_FD(0), NULL, AT_FDCWD, 0, FNW_FILE_DELETE, 0, false))
FILE_ENTER(rmdir, file_enter(NR, ARG_PTR(0), AT_FDCWD, NULL, AT_FDCWD, 0, FNW_FILE_DELETE, 0, false))
/* A rename deletes the old name and creates the new one (moves in and out). */
FILE_ENTER(rename, file_enter(NR, ARG_PTR(0), AT_FDCWD, ARG_PTR(1), AT_FDCWD, 0, FNW_FILE_DELETE, FNW_FILE_CREATE, false))
FILE_ENTER(renameat, file_enter(NR, ARG_PTR(1), ARG_FD(0), ARG_PTR(3), ARG_FD(2), 0, FNW_FILE_DELETE, FNW_FILE_CREATE, false))
FILE_ENTER(renameat2, file_enter(NR, ARG_PTR(1), ARG_FD(0), ARG_PTR(3), ARG_FD(2), 0, FNW_FILE_DELETE, FNW_FILE_CREATE, false))
/* link and symlink create `path` (the new name); path2 is what it points at. */
FILE_ENTER(link, file_enter(NR, ARG_PTR(1), AT_FDCWD, ARG_PTR(0), AT_FDCWD, 0, FNW_FILE_CREATE, 0, false))
FILE_ENTER(linkat, file_enter(NR, ARG_PTR(3), ARG_FD(2), ARG_PTR(1), ARG_FD(0), 0, FNW_FILE_CREATE, 0, false))
FILE_ENTER(symlink, file_enter(NR, ARG_PTR(1), AT_FDCWD, ARG_PTR(0), AT_FDCWD, 0, FNW_FILE_CREATE, 0, false))
FILE_ENTER(symlinkat, file_enter(NR, ARG_PTR(2), ARG_FD(1), ARG_PTR(0), AT_FDCWD, 0, FNW_FILE_CREATE, 0, false))
/* Metadata and size changes are writes. */
FILE_ENTER(chmod, file_enter(NR, ARG_PTR(0), AT_FDCWD, NULL, AT_FDCWD, 0, FNW_FILE_WRITE, 0, false))
FILE_ENTER(fchmodat, file_enter(NR, ARG_PTR(1), ARG_FD(0), NULL, AT_FDCWD, 0, FNW_FILE_WRITE, 0, false))
FILE_ENTER(chown, file_enter(NR, ARG_PTR(0), AT_FDCWD, NULL, AT_FDCWD, 0, FNW_FILE_WRITE, 0, false))
FILE_ENTER(lchown, file_enter(NR, ARG_PTR(0), AT_FDCWD, NULL, AT_FDCWD, 0, FNW_FILE_WRITE, 0, false))
FILE_ENTER(fchownat, file_enter(NR, ARG_PTR(1), ARG_FD(0), NULL, AT_FDCWD, 0, FNW_FILE_WRITE, 0, false))
FILE_ENTER(truncate, file_enter(NR, ARG_PTR(0), AT_FDCWD, NULL, AT_FDCWD, 0, FNW_FILE_WRITE, 0, false))

/* openat2 keeps its flags in a struct in user memory. */
SEC("tp_btf/sys_enter")
int BPF_PROG(fnw_enter_openat2, struct pt_regs *regs, long id)
{
	struct open_how how = {};

	bpf_probe_read_user(&how, sizeof(how), (const void *)ARG(2));
	return file_enter(NR, ARG_PTR(1), ARG_FD(0), NULL, AT_FDCWD, (__u32)how.flags, open_access((__u32)how.flags), 0, true);
}

/* ---- BPF-LSM: refusing an open before it happens ----------------------- */

#define FMODE_READ 0x1
#define FMODE_WRITE 0x2
/* f_flags of the kernel's own open of a program being exec'd (open_exec). */
#define __FMODE_EXEC 0x20

/*
 * Loaded only where the kernel runs BPF-LSM programs (ProbeSet::load tries
 * and falls back). Called for every open on the host, io_uring's included,
 * after the path walk: `file` is the object itself, so the check is the
 * same inode walk as at sys_exit but before the caller gets an fd.
 *
 * It refuses only what the kernel can decide on its own: a violation of
 * rights whose every pattern is in file_rules (file_kernel_rights), in
 * enforce mode. Everything else (globs, report-only policies) passes here
 * and is decided by the syscall handlers and fnwarden as without LSM; allowed
 * opens go to file_verdicts, so sys_exit answers them from the cache.
 *
 * A refusal is reported here, with the syscall's own arguments when the
 * enter handler saw it (file_pending), and marked so that sys_exit does
 * not report it a second time.
 */
/* MNT_NS_INTERNAL is ERR_PTR(-EINVAL); a lazily unmounted tree has none. */
static __always_inline bool mnt_in_namespace(struct vfsmount *vfsmnt)
{
	struct mount *mnt = real_mount(vfsmnt);
	unsigned long ns = (unsigned long)BPF_CORE_READ(mnt, mnt_ns);

	return ns && ns < (unsigned long)-4095;
}

/*
 * The policy an LSM file hook acts for: a monitored process (past the
 * launcher's own exec) whose policy restricts files and acts on a
 * violation in this mode. NULL: the hook lets the operation be.
 */
static __always_inline struct fnw_policy *lsm_acting_policy(__u64 cgroup_id, struct fnw_cgroup_entry *cg)
{
	if (!cg || fnw_armed(cgroup_id, cg))
		return NULL;
	struct fnw_policy *policy = fnw_policy(cg->policy_id);

	if (!policy || !(policy->flags & FNW_POLICY_FILES_RESTRICTED) || policy->file_action == FNW_KACTION_REPORT)
		return NULL;
	return policy;
}

/*
 * Whether a miss (rights `access` asked, `granted` found) is the kernel's to
 * refuse: no single-file rule names a sibling (a replaced file is a new
 * inode: fnwarden matches the name), and the object is in a real mount: the
 * backing file an overlay opens underneath (an internal mount) is checked as
 * the overlay file it serves. The callers checked that the rules were
 * compiled in this task's root (rules_root_rights).
 */
static __always_inline bool lsm_may_refuse(__u32 access, __u32 granted, __u32 named, struct vfsmount *mnt)
{
	return !(access & ~granted & named) && mnt_in_namespace(mnt);
}

/*
 * A refusal by an LSM file hook: counted, the process killed if the policy
 * says kill (refused, and it ends before it returns to user space), the
 * syscall's file_pending entry marked so its sys_exit does not report it
 * again, and the event reserved with what every refusal says. The caller
 * adds the names and submits; NULL when the ring buffer is full (counted).
 * Reserve, fill and submit stay in one block of the caller: 6.1's verifier
 * loses track of a reservation checked twice and rejects the program.
 */
static __always_inline struct fnw_file_event *lsm_refusal(struct fnw_cgroup_entry *cg, __u64 cgroup_id,
							   struct fnw_policy *policy, struct fnw_counters *stats,
							   struct file_pending *pending, __u32 access, __u32 granted)
{
	__sync_fetch_and_add(&stats->file_checks, 1);
	__sync_fetch_and_add(&stats->file_violations, 1);
	__sync_fetch_and_add(&stats->violations, 1);
	__sync_fetch_and_add(&stats->file_lsm_denied, 1);

	__u8 action = FNW_ACTION_DENIED;

	if (policy->file_action == FNW_KACTION_KILL && fnw_kill_current(stats))
		action = FNW_ACTION_KILLED;
	if (pending)
		pending->lsm_decided = 1;

	struct fnw_file_event *ev = fnw_reserve(FNW_RING_ALERTS, sizeof(*ev), stats);

	if (!ev)
		return NULL;
	fnw_fill_header(&ev->hdr, FNW_EVENT_FILE, sizeof(*ev), cgroup_id, cg->policy_id);
	fnw_file_event_clear(ev);
	ev->dfd = AT_FDCWD;
	ev->dfd2 = AT_FDCWD;
	ev->ret = -EPERM;
	ev->verdict = FNW_VERDICT_VIOLATION;
	ev->action = action;
	ev->mechanism = FNW_MECH_BPF_LSM;
	ev->access = access;
	ev->missing = access & ~granted;
	ev->traced = !!(cg->flags & FNW_CGROUP_TRACE);
	return ev;
}

SEC("lsm/file_open")
int BPF_PROG(fnw_lsm_file_open, struct file *file, int ret)
{
	if (ret)
		return ret; /* an earlier LSM already refused: keep its verdict */

	__u64 cgroup_id;
	struct fnw_cgroup_entry *cg = fnw_current_cgroup(&cgroup_id);
	struct fnw_policy *policy = lsm_acting_policy(cgroup_id, cg);
	struct fnw_counters *stats = fnw_counters();

	if (!cg || !policy || !stats)
		return 0;
	__u32 policy_id = cg->policy_id;
	/* The rights the kernel may decide for this task's root: fnwarden's own,
	 * or one its rules were compiled in (a container's, a chroot's). */
	const __u32 decidable = rules_root_rights(policy_id, policy->file_kernel_rights);
	__u32 f_flags = BPF_CORE_READ(file, f_flags);
	__u32 f_mode = BPF_CORE_READ(file, f_mode);

	/* The program of an exec: exec.allow's, checked by bprm_check_security. */
	if (f_flags & __FMODE_EXEC)
		return 0;
	__u32 access = 0;

	if (f_mode & FMODE_READ)
		access |= FNW_FILE_READ;
	if ((f_mode & FMODE_WRITE) || (f_flags & O_TRUNC))
		access |= FNW_FILE_WRITE;
	if (f_mode & FMODE_CREATED)
		access |= FNW_FILE_CREATE;
	if (!access || (access & ~decidable))
		return 0; /* nothing asked, a glob decides, or a root not compiled: after the fact */

	struct fnw_file_verdict_key vkey = {};

	file_verdict_key(&vkey, policy_id, access, file);
	if (bpf_map_lookup_elem(&file_verdicts, &vkey))
		return 0;
	__u32 named = 0;
	/* A replaced rule object leaves `named` set: sys_exit sends it to fnwarden. */
	__u32 granted = granted_rights_named(policy_id, &file->f_path, access, &named, NULL);

	if (!(access & ~granted)) {
		__u8 yes = 1;

		bpf_map_update_elem(&file_verdicts, &vkey, &yes, BPF_ANY);
		return 0;
	}
	if (!lsm_may_refuse(access, granted, named, BPF_CORE_READ(file, f_path.mnt)))
		return 0;

	struct file_pending *pending = current_file_pending();
	struct fnw_file_event *ev = lsm_refusal(cg, cgroup_id, policy, stats, pending, access, granted);

	if (!ev)
		return -EPERM;
	ev->nr = FNW_NR_LSM_FILE_OPEN;
	ev->path[0] = '\0';
	if (pending && pending->is_open) {
		/* The syscall the open came from, with its raw name. */
		ev->nr = pending->nr;
		ev->dfd = pending->dfd;
		ev->open_flags = pending->open_flags;
		long n = bpf_probe_read_user_str(ev->path, sizeof(ev->path), (const void *)pending->path);

		if (n < 0)
			ev->path[0] = '\0';
		ev->path_truncated = n == sizeof(ev->path);
	}
	ev->dev = vkey.dev;
	ev->ino = vkey.ino;
	ev->parent_ino = vkey.parent_ino;
	ev->generation = vkey.generation;
	ev->resolved_kind = FNW_RESOLVED_OBJECT;
	ev->resolved_truncated = !resolve_path(&file->f_path, ev->resolved);
	fnw_submit(FNW_RING_ALERTS, ev, stats);
	return -EPERM;
}

/* ---- BPF-LSM: refusing creates and deletes before they happen --------- */

/*
 * The lsm/path_* hooks (CONFIG_SECURITY_PATH) run after the kernel resolved
 * the directory and before it changes anything: a refused mkdir, create
 * (open with O_CREAT of a new file comes through path_mknod), unlink, rmdir,
 * symlink or link leaves nothing behind. Same rules as file_open: only what
 * the kernel can decide, only in enforce mode, only in a root fnwarden
 * compiled the rules in (its own, a container's, a chroot's). `where` is
 * the object (delete) or the directory of the new entry (create,
 * `beneath`); `entry` is the entry's dentry.
 *
 * An allowed create or delete of a non-open syscall is marked decided in
 * file_pending: its sys_exit then has nothing to ask fnwarden.
 */
static __always_inline int lsm_path_check(const struct path *where, struct dentry *entry, bool beneath,
					  __u32 access, bool mark_decided, bool *allowed)
{
	*allowed = false;
	__u64 cgroup_id;
	struct fnw_cgroup_entry *cg = fnw_current_cgroup(&cgroup_id);
	struct fnw_policy *policy = lsm_acting_policy(cgroup_id, cg);
	struct fnw_counters *stats = fnw_counters();

	if (!cg || !policy || !stats)
		return 0;
	__u32 policy_id = cg->policy_id;

	if (access & ~rules_root_rights(policy_id, policy->file_kernel_rights))
		return 0;

	__u32 named = 0;
	__u32 granted = beneath ? granted_rights_beneath(policy_id, where, entry, access, &named, NULL)
				: granted_rights_named(policy_id, where, access, &named, NULL);
	struct file_pending *pending = current_file_pending();

	if (!(access & ~granted)) {
		*allowed = true;
		if (mark_decided && pending && !pending->is_open && !(cg->flags & FNW_CGROUP_TRACE))
			pending->lsm_decided = 1;
		return 0;
	}
	if (!lsm_may_refuse(access, granted, named, BPF_CORE_READ(where, mnt)))
		return 0;

	struct fnw_file_event *ev = lsm_refusal(cg, cgroup_id, policy, stats, pending, access, granted);

	if (!ev)
		return -EPERM;
	ev->nr = pending ? pending->nr : (access & FNW_FILE_DELETE) ? FNW_NR_LSM_DELETE : FNW_NR_LSM_CREATE;
	/* The entry's own name; with the directory (BASE) or the object
	 * itself (OBJECT) resolved below, the path is canonical. */
	long n = bpf_probe_read_kernel_str(ev->path, sizeof(ev->path), BPF_CORE_READ(entry, d_name.name));

	if (n < 0)
		ev->path[0] = '\0';
	ev->resolved_kind = beneath ? FNW_RESOLVED_BASE : FNW_RESOLVED_OBJECT;
	ev->resolved_truncated = !resolve_path(where, ev->resolved);
	fnw_submit(FNW_RING_ALERTS, ev, stats);
	return -EPERM;
}

/* The current thread's non-open file syscall needs no sys_exit check. */
static __always_inline void lsm_mark_decided(void)
{
	__u64 cgroup_id;
	struct fnw_cgroup_entry *cg = fnw_current_cgroup(&cgroup_id);
	struct file_pending *pending = current_file_pending();

	if (cg && pending && !pending->is_open && !(cg->flags & FNW_CGROUP_TRACE))
		pending->lsm_decided = 1;
}

/* A delete: the object is (the directory's mount, the entry). */
static __always_inline int lsm_delete_check(const struct path *dir, struct dentry *entry, bool mark_decided,
					    bool *allowed)
{
	struct path object = {};

	object.mnt = BPF_CORE_READ(dir, mnt);
	object.dentry = entry;
	return lsm_path_check(&object, entry, false, FNW_FILE_DELETE, mark_decided, allowed);
}

static __always_inline int lsm_create_check(const struct path *dir, struct dentry *entry)
{
	bool allowed;

	return lsm_path_check(dir, entry, true, FNW_FILE_CREATE, true, &allowed);
}

static __always_inline int lsm_remove_check(const struct path *dir, struct dentry *entry)
{
	bool allowed;

	return lsm_delete_check(dir, entry, true, &allowed);
}

SEC("lsm/path_mknod")
int BPF_PROG(fnw_lsm_path_mknod, const struct path *dir, struct dentry *dentry, umode_t mode, unsigned int dev,
	     int ret)
{
	return ret ? ret : lsm_create_check(dir, dentry);
}

SEC("lsm/path_mkdir")
int BPF_PROG(fnw_lsm_path_mkdir, const struct path *dir, struct dentry *dentry, umode_t mode, int ret)
{
	return ret ? ret : lsm_create_check(dir, dentry);
}

SEC("lsm/path_symlink")
int BPF_PROG(fnw_lsm_path_symlink, const struct path *dir, struct dentry *dentry, const char *old_name, int ret)
{
	return ret ? ret : lsm_create_check(dir, dentry);
}

SEC("lsm/path_link")
int BPF_PROG(fnw_lsm_path_link, struct dentry *old_dentry, const struct path *new_dir, struct dentry *new_dentry,
	     int ret)
{
	return ret ? ret : lsm_create_check(new_dir, new_dentry);
}

SEC("lsm/path_unlink")
int BPF_PROG(fnw_lsm_path_unlink, const struct path *dir, struct dentry *dentry, int ret)
{
	return ret ? ret : lsm_remove_check(dir, dentry);
}

SEC("lsm/path_rmdir")
int BPF_PROG(fnw_lsm_path_rmdir, const struct path *dir, struct dentry *dentry, int ret)
{
	return ret ? ret : lsm_remove_check(dir, dentry);
}

#define RENAME_EXCHANGE (1 << 1)

/*
 * A rename deletes the old name and creates the new one; an exchange does
 * both at both places. The flags argument exists since 5.19: ProbeSet checks
 * the hook's arity in the kernel's BTF before loading this (an older kernel
 * would hand `ret` in its place). The sys_exit check is spared only when
 * every part was allowed here: the last check marks it decided.
 */
SEC("lsm/path_rename")
int BPF_PROG(fnw_lsm_path_rename, const struct path *old_dir, struct dentry *old_dentry, const struct path *new_dir,
	     struct dentry *new_dentry, unsigned int flags, int ret)
{
	if (ret)
		return ret;
	const bool exchange = flags & RENAME_EXCHANGE;
	bool gone = false, made = false, gone2 = true, made2 = true;
	int refused = lsm_delete_check(old_dir, old_dentry, false, &gone);

	if (!refused)
		refused = lsm_path_check(new_dir, new_dentry, true, FNW_FILE_CREATE, false, &made);
	if (!refused && exchange)
		refused = lsm_delete_check(new_dir, new_dentry, false, &gone2);
	if (!refused && exchange)
		refused = lsm_path_check(old_dir, old_dentry, true, FNW_FILE_CREATE, false, &made2);
	if (refused)
		return refused;
	/* Every part allowed here: sys_exit has nothing left to ask. A part
	 * the kernel could not decide leaves the whole rename to it. */
	if (gone && made && gone2 && made2)
		lsm_mark_decided();
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
