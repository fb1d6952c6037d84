/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Walking a struct path up to the root, from tracing programs: the
 * canonical name of a file the kernel opened, as the process sees it (what
 * d_path gives, which tracepoints may not call), and the rights file_rules grant on it. Shared
 * by the file syscalls (files.bpf.c), exec (exec.bpf.c) and Landlock's
 * reports (landlock.bpf.c), with what an open needs and where a relative
 * name starts.
 */
#ifndef FNWARDEN_PATH_BPF_H
#define FNWARDEN_PATH_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "maps.bpf.h"
#include "rule_use.bpf.h"

/*
 * Where fnwarden compiled file_rules: its mount namespace and root
 * directory (set by userspace before load). Inode rules name the objects
 * fnwarden's own paths led to; a function with another root (a container,
 * a chroot) sees other objects under the same names, so for it a rule miss
 * proves nothing and only userspace, matching the names the function used,
 * may call it a violation. Zero: unknown, never decide a miss.
 */
const volatile __u32 rules_mnt_ns __weak = 0;
const volatile __u64 rules_root_dev __weak = 0;
const volatile __u64 rules_root_ino __weak = 0;

/*
 * The current task's root as rules_roots keys it (for `policy_id`), and
 * whether it is fnwarden's own: the task resolves paths the way fnwarden
 * did when it compiled file_rules.
 */
static __always_inline bool current_rules_root(__u32 policy_id, struct fnw_rules_root_key *key)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct inode *root = BPF_CORE_READ(task, fs, root.dentry, d_inode);

	key->policy_id = policy_id;
	key->mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	key->root_dev = BPF_CORE_READ(root, i_sb, s_dev);
	key->root_ino = BPF_CORE_READ(root, i_ino);
	return rules_mnt_ns && key->mnt_ns == rules_mnt_ns && key->root_ino == rules_root_ino &&
	       key->root_dev == rules_root_dev;
}

/* True when the current task resolves paths the way fnwarden did. */
static __always_inline bool rules_root_is_ours(void)
{
	struct fnw_rules_root_key key;

	return current_rules_root(0, &key);
}

/*
 * The FNW_FILE_* rights whose rules are complete for the current task's
 * root: `own` (the policy's file_kernel_rights, compiled in fnwarden's
 * root) when it is fnwarden's, what the policy's rules compiled in the
 * task's own root make complete (rules_roots: a container's, a chroot's),
 * or none. A miss of any other right proves nothing here.
 */
static __always_inline __u32 rules_root_rights(__u32 policy_id, __u32 own)
{
	struct fnw_rules_root_key key;

	if (current_rules_root(policy_id, &key))
		return own;
	__u32 *rights = bpf_map_lookup_elem(&rules_roots, &key);

	return rights ? *rights : 0;
}

/*
 * Whether the policy's rules were compiled in the current task's root:
 * fnwarden's own, or one in rules_roots (with whatever rights are complete
 * there, none included). False: a root fnwarden has not seen yet.
 */
static __always_inline bool rules_root_compiled(__u32 policy_id)
{
	struct fnw_rules_root_key key;

	return current_rules_root(policy_id, &key) || bpf_map_lookup_elem(&rules_roots, &key) != NULL;
}

/* d_name.len is at most NAME_MAX (255): a mask the verifier can see. */
#define NAME_LEN_MASK 0xff

/*
 * Room to build a path right to left (names are found leaf first). Twice
 * FNW_PATH_MAX so that an offset masked to FNW_PATH_MAX - 1 plus a name
 * masked to 255 bytes is provably inside the buffer.
 */
struct path_scratch {
	char buf[FNW_PATH_MAX * 2];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_scratch);
} path_scratch SEC(".maps") __weak;

static __always_inline struct file *fd_file(struct task_struct *task, int fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file = NULL;

	if (fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

/*
 * fd_file for the exit handler's hot path (a monitored open's new fd): the
 * task's file table by BTF loads from the trusted current task instead of
 * four probe reads, each a helper call (issue 24 item 2). The slot itself
 * stays a probe read: fdt->fd is a pointer to pointers, which BTF types as
 * a scalar, and 6.1 has no bpf_rdonly_cast to make the file a typed
 * pointer again. A BTF load of a NULL or stale pointer reads 0 (PROBE_MEM),
 * as the probe read did. On 6.18 the first load (task->files) makes the
 * verifier search vmlinux's BTF by name once per path that reaches it
 * (docs/architecture.md, "Cheap to verify"): only that one call site.
 */
static __always_inline struct file *fd_file_btf(struct task_struct *task, int fd)
{
	struct fdtable *fdt = task->files->fdt;
	struct file *file = NULL;

	if (fd < 0 || (unsigned int)fd >= fdt->max_fds)
		return NULL;
	bpf_probe_read_kernel(&file, sizeof(file), &fdt->fd[fd]);
	return file;
}

#define AT_FDCWD -100
#define O_ACCMODE 00000003
#define O_WRONLY 00000001
#define O_RDWR 00000002
#define O_CREAT 00000100
#define O_TRUNC 00001000

/*
 * The FNW_FILE_* rights an open with `flags` needs, the same for the file
 * probes (files.bpf.c) and Landlock's reports (landlock.bpf.c), so both
 * name the same policy rule. FNW_FILE_CREATE is the caller's: only if the
 * open made the file.
 */
static __always_inline __u32 open_access(__u32 flags)
{
	__u32 access = 0;

	switch (flags & O_ACCMODE) {
	case O_WRONLY:
		access = FNW_FILE_WRITE;
		break;
	case O_RDWR:
		access = FNW_FILE_READ | FNW_FILE_WRITE;
		break;
	default:
		access = FNW_FILE_READ;
	}
	if (flags & O_TRUNC)
		access |= FNW_FILE_WRITE;
	return access;
}

/* A position in the mount tree while walking up from a file. */
struct walk {
	struct dentry *dentry;
	struct mount *mnt;
	/* The calling process's root (chroot, or a container's pivot_root):
	 * paths are reported as it sees them, like d_path. */
	struct dentry *root_dentry;
	struct mount *root_mnt;
};

static __always_inline struct mount *real_mount(struct vfsmount *vfsmnt)
{
	return (struct mount *)((void *)vfsmnt - bpf_core_field_offset(struct mount, mnt));
}

/* A walk from `dentry` in `mnt` (the two halves of a struct path). */
static __always_inline void walk_start_at(struct walk *w, struct dentry *dentry, struct vfsmount *mnt)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fs_struct *fs = BPF_CORE_READ(task, fs);

	w->dentry = dentry;
	w->mnt = real_mount(mnt);
	w->root_dentry = BPF_CORE_READ(fs, root.dentry);
	w->root_mnt = real_mount(BPF_CORE_READ(fs, root.mnt));
}

static __always_inline void walk_start(struct walk *w, const struct path *path)
{
	walk_start_at(w, BPF_CORE_READ(path, dentry), BPF_CORE_READ(path, mnt));
}

enum walk_step { WALK_NAME, WALK_CROSSED, WALK_ROOT };

/*
 * One step up. WALK_NAME: w->dentry is a name to report and is replaced by
 * its parent (*name_of keeps it). WALK_CROSSED: w was a mount's root and
 * moved to where that mount is attached (no name). WALK_ROOT: the root of
 * the process (its chroot, or the mount namespace), or of a detached mount.
 */
static __always_inline enum walk_step walk_up(struct walk *w, struct dentry **name_of)
{
	/* Plain locals: BPF_CORE_READ(w->dentry, ...) would relocate `w` too. */
	struct dentry *dentry = w->dentry;
	struct mount *mnt = w->mnt;

	if (dentry == w->root_dentry && mnt == w->root_mnt)
		return WALK_ROOT;
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
	struct dentry *mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);

	if (dentry == mnt_root || dentry == parent) {
		struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);

		if (dentry != mnt_root || mnt == mnt_parent)
			return WALK_ROOT;
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = mnt_parent;
		return WALK_CROSSED;
	}
	*name_of = dentry;
	w->dentry = parent;
	return WALK_NAME;
}

/*
 * Both walks below run their levels through bpf_loop(): the callback is
 * verified once, whatever the depth. As plain bounded loops, the 6.1
 * verifier explored every level's states separately and gave up
 * ("Argument list too long") where 6.18 accepted them.
 */

struct rights_walk {
	struct walk w;
	struct fnw_file_rule_key key;
	__u32 needed;
	__u32 granted;
	__u32 named; /* rights a rule names the object (or new entry) by, not by inode */
	__u32 beneath; /* the walk starts at the directory of a new entry, not at the object */
	bool replaced; /* a replaced rule object was found on the way */
};

/*
 * What one level of rights_step leaves the next: the entry it walked up
 * from, when that matched no rule. In a per-CPU map, not in rights_walk:
 * 6.1's verifier checks a bpf_loop callback once, with the state of the
 * first call, so a field the caller zeroed and only a previous iteration
 * sets reads as a constant 0 there, and the code that uses it is removed
 * as dead. A map value is unknown to it. (Programs on this path do not
 * nest on a CPU: tracepoints and LSM hooks, migration disabled.)
 */
struct rights_carry {
	__u64 unmatched; /* struct dentry * */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rights_carry);
} rights_carry SEC(".maps") __weak;

/*
 * The rights for which `entry` (a name in the directory keyed by c->key)
 * is on the way to a rule's object: file_rule_names, by name.
 */
static __always_inline __u32 rule_rights_by_name(struct rights_walk *c, struct dentry *entry)
{
	__u32 zero = 0;
	struct fnw_file_rule_name_key *nkey = bpf_map_lookup_elem(&rule_name_scratch, &zero);
	__u32 len = BPF_CORE_READ(entry, d_name.len);

	if (!nkey || len >= FNW_RULE_NAME_MAX)
		return 0; /* userspace keys no longer name */
	__builtin_memset(nkey, 0, sizeof(*nkey));
	nkey->policy_id = c->key.policy_id;
	nkey->generation = c->key.generation;
	nkey->dev = c->key.dev;
	nkey->ino = c->key.ino;
	bpf_probe_read_kernel(nkey->name, len & (FNW_RULE_NAME_MAX - 1), BPF_CORE_READ(entry, d_name.name));

	__u32 *rights = bpf_map_lookup_elem(&file_rule_names, nkey);

	return rights ? *rights : 0;
}

static long rights_step(__u32 level, void *data)
{
	struct rights_walk *c = data;
	struct dentry *dentry = c->w.dentry;
	struct inode *inode = BPF_CORE_READ(dentry, d_inode);
	struct dentry *named_entry = NULL;

	c->key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	c->key.ino = BPF_CORE_READ(inode, i_ino);
	c->key.generation = BPF_CORE_READ(inode, i_generation);
	struct fnw_file_rule *rule = bpf_map_lookup_elem(&file_rules, &c->key);
	__u32 zero = 0;
	struct rights_carry *carry = bpf_map_lookup_elem(&rights_carry, &zero);

	if (!carry)
		return 1;
	if (rule) {
		fnw_mark_file_rule_used(c->key.policy_id, rule, c->needed & ~c->granted, level == 0 && !c->beneath);
		c->granted |= rule->subtree | (level == 0 && !c->beneath ? rule->exact : 0);
		/*
		 * The entry below matched no rule, but a rule's object is, or
		 * lies under, an entry of that name: the object was deleted
		 * and made again (an editor's rename over /etc/resolv.conf).
		 * Its grant went with the old object; whether the new one is
		 * allowed is decided by name, in userspace. Any other name in
		 * this directory is the kernel's to decide: a single-file rule
		 * does not make its siblings undecided.
		 */
		if (rule->named_entries && carry->unmatched) {
			__u32 rights = rule_rights_by_name(c, (struct dentry *)carry->unmatched);

			if (rights) {
				c->named |= rights;
				c->replaced = true;
			}
		}
	}
	if (!(c->needed & ~c->granted))
		return 1;
	enum walk_step step = walk_up(&c->w, &named_entry);

	carry->unmatched = !rule && step == WALK_NAME ? (__u64)named_entry : 0;
	return step == WALK_ROOT;
}

/*
 * A question to granted_rights_walk and its answer. The path is given as
 * its two halves, read by the caller, as plain addresses: a global
 * function takes only scalars and pointers to memory (6.1 has no typed
 * kernel pointers there), and the walk reads them through probe reads
 * anyway.
 */
struct rights_query {
	__u64 dentry; /* struct dentry *: the object, or the directory of a new entry */
	__u64 mnt; /* struct vfsmount * */
	__u64 new_entry; /* struct dentry *: the new entry, or 0 */
	__u32 needed;
	__u32 named; /* out: the rights a rule names the object (or new entry) by */
	__u32 replaced; /* out: a replaced rule object was found on the way */
	__u32 pad;
};

/*
 * The rights file_rules grant `policy_id` on the object of q: its own
 * exact and subtree rules, and the subtree rules of every directory above
 * it (for a new entry, those of its directory and above). Stops as soon as
 * q->needed is covered. q->named gets the rights a single-file rule in the
 * object's directory names by name: a miss of those is not the kernel's to
 * call.
 *
 * A global function, not inlined: the verifier checks it once per program
 * that calls it, whatever the caller's state. Inlined, its walk (a bpf_loop
 * whose callback 6.18 re-verifies until its states converge) was checked
 * again on every path the caller reached it by: 40,000 of the 48,000
 * instructions the verifier processed for fnw_sched_process_exec
 * (docs/performance.md, "Daemon ready"). __weak: every object that includes
 * this header defines it, the linker keeps one.
 */
__weak __noinline __u32 granted_rights_walk(__u32 policy_id, struct rights_query *q)
{
	struct rights_walk c = {};

	if (!q)
		return 0;
	__u32 zero = 0;
	struct rights_carry *carry = bpf_map_lookup_elem(&rights_carry, &zero);

	/* The object itself has no entry below it; a new entry is the name
	 * below the directory the walk starts at, and matches no rule yet. */
	if (carry)
		carry->unmatched = q->new_entry;
	c.key.policy_id = policy_id;
	c.needed = q->needed;
	c.beneath = q->new_entry != 0;
	walk_start_at(&c.w, (struct dentry *)q->dentry, (struct vfsmount *)q->mnt);
	bpf_loop(FNW_PATH_DEPTH, rights_step, &c, 0);
	q->named = c.named;
	q->replaced = c.replaced;
	return c.granted;
}

static __always_inline __u32 granted_rights_named(__u32 policy_id, const struct path *path, __u32 needed,
						  __u32 *named, bool *replaced)
{
	struct rights_query q = {
		.dentry = (__u64)BPF_CORE_READ(path, dentry),
		.mnt = (__u64)BPF_CORE_READ(path, mnt),
		.needed = needed,
	};
	__u32 granted = granted_rights_walk(policy_id, &q);

	if (named)
		*named = q.named;
	if (replaced)
		*replaced = q.replaced;
	return granted;
}

/* The rights on `entry`, a new entry of directory `dir` (before it
 * exists): the subtree rules of dir and above; dir's own exact rule is
 * about dir. *named gets the rights a rule names `entry`'s name by. */
static __always_inline __u32 granted_rights_beneath(__u32 policy_id, const struct path *dir, struct dentry *entry,
						    __u32 needed, __u32 *named, bool *replaced)
{
	struct rights_query q = {
		.dentry = (__u64)BPF_CORE_READ(dir, dentry),
		.mnt = (__u64)BPF_CORE_READ(dir, mnt),
		.new_entry = (__u64)entry,
		.needed = needed,
	};
	__u32 granted = granted_rights_walk(policy_id, &q);

	if (named)
		*named = q.named;
	if (replaced)
		*replaced = q.replaced;
	return granted;
}

static __always_inline __u32 granted_rights(__u32 policy_id, const struct path *path, __u32 needed)
{
	return granted_rights_named(policy_id, path, needed, NULL, NULL);
}

#define FNW_S_IFMT 00170000
#define FNW_S_IFREG 0100000

/* Whether directory `dir` is a code directory of `policy_id`. */
static __always_inline bool is_code_dir(__u32 policy_id, struct dentry *dir)
{
	struct inode *inode = BPF_CORE_READ(dir, d_inode);
	struct fnw_file_rule_key key = {
		.policy_id = policy_id,
		.generation = BPF_CORE_READ(inode, i_generation),
		.dev = BPF_CORE_READ(inode, i_sb, s_dev),
		.ino = BPF_CORE_READ(inode, i_ino),
	};
	struct fnw_file_rule *rule = bpf_map_lookup_elem(&file_rules, &key);

	return rule && (rule->flags & FNW_RULE_CODE_DIR);
}

/* Whether `dir`, an entry of directory `up`, is named a code directory
 * there (FNW_NAME_CODE_DIR): the code directory, or one made in its place. */
static __always_inline bool names_code_dir(__u32 policy_id, struct dentry *up, struct dentry *dir)
{
	__u32 zero = 0;
	struct fnw_file_rule_name_key *nkey = bpf_map_lookup_elem(&rule_name_scratch, &zero);
	struct inode *inode = BPF_CORE_READ(up, d_inode);
	__u32 len = BPF_CORE_READ(dir, d_name.len);

	if (!nkey || len >= FNW_RULE_NAME_MAX)
		return false; /* userspace keys no longer name */
	__builtin_memset(nkey, 0, sizeof(*nkey));
	nkey->policy_id = policy_id;
	nkey->generation = BPF_CORE_READ(inode, i_generation);
	nkey->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	nkey->ino = BPF_CORE_READ(inode, i_ino);
	/* The _str read with the key's whole size, not `len`: inlined into a
	 * sys_exit program, the 6.1 verifier lost len's bound through a spill
	 * ("R2 unbounded memory access"). The name and its NUL fit (len < 64),
	 * and the rest stays zero: the same key userspace writes. */
	bpf_probe_read_kernel_str(nkey->name, sizeof(nkey->name), BPF_CORE_READ(dir, d_name.name));

	__u32 *value = bpf_map_lookup_elem(&file_rule_names, nkey);

	return value && (*value & FNW_NAME_CODE_DIR);
}

/*
 * Whether `dentry`, an object just opened or executed, is a regular file in
 * a directory the policy's code pins name (FNW_RULE_CODE_DIR), in one made
 * again under a code directory's name, or in a directory right below a
 * code directory. Looked up on the directories, not the file:
 * a pinned file replaced by a new inode is still caught, and so is a file
 * added next to the pinned ones (a module that shadows a library one) or
 * in a new subdirectory (a __pycache__, a package of the same name).
 */
static __always_inline bool in_code_dir(__u32 policy_id, struct dentry *dentry)
{
	struct inode *inode = BPF_CORE_READ(dentry, d_inode);

	if ((BPF_CORE_READ(inode, i_mode) & FNW_S_IFMT) != FNW_S_IFREG)
		return false;
	struct dentry *dir = BPF_CORE_READ(dentry, d_parent);
	struct dentry *up = BPF_CORE_READ(dir, d_parent);

	return is_code_dir(policy_id, dir) || is_code_dir(policy_id, up) || names_code_dir(policy_id, up, dir);
}

struct name_walk {
	struct walk w;
	__u32 off; /* where the path starts in path_scratch, filled right to left */
	bool complete;
};

static long name_step(__u32 level, void *data)
{
	struct name_walk *c = data;
	struct dentry *named = NULL;
	enum walk_step step = walk_up(&c->w, &named);

	if (step == WALK_ROOT) {
		c->complete = true;
		return 1;
	}
	if (step == WALK_CROSSED || !named)
		return 0;

	__u32 zero = 0;
	struct path_scratch *scratch = bpf_map_lookup_elem(&path_scratch, &zero);
	__u32 len = BPF_CORE_READ(named, d_name.len) & NAME_LEN_MASK;
	const unsigned char *name = BPF_CORE_READ(named, d_name.name);
	__u32 off = c->off;

	if (!scratch || len + 1 > off)
		return 1; /* longer than FNW_PATH_MAX: cut */
	off = (off - (len + 1)) & (FNW_PATH_MAX - 1);
	bpf_probe_read_kernel(&scratch->buf[off + 1], len, name);
	scratch->buf[off] = '/';
	c->off = off;
	return 0;
}

/* The path a relative name starts from: the cwd, or the directory fd. */
static __always_inline const struct path *base_path(struct task_struct *task, __s32 dfd)
{
	if (dfd == AT_FDCWD) {
		struct fs_struct *fs = BPF_CORE_READ(task, fs);

		return fs ? &fs->pwd : NULL;
	}
	struct file *dir = fd_file(task, dfd);

	return dir ? &dir->f_path : NULL;
}

/*
 * Writes the canonical path of `path` into `out` (FNW_PATH_MAX bytes),
 * the way d_path does but from a tracepoint: names leaf first, right to
 * left into per-CPU scratch, then copied out. Returns false when the walk
 * was cut (too deep or too long): `out` then holds only the lower part.
 */
static __always_inline bool resolve_path(const struct path *path, char *out)
{
	__u32 zero = 0;
	struct path_scratch *scratch = bpf_map_lookup_elem(&path_scratch, &zero);
	struct name_walk c = {};

	out[0] = '\0';
	if (!scratch)
		return false;
	scratch->buf[FNW_PATH_MAX - 1] = '\0';
	c.off = FNW_PATH_MAX - 1;
	walk_start(&c.w, path);

	/*
	 * Its own parent but not a mount's root: a pseudo file (memfd, pipe,
	 * socket) or a disconnected dentry. Its name is all the path there is
	 * ("/memfd:payload").
	 */
	struct dentry *top = c.w.dentry;
	struct mount *top_mnt = c.w.mnt;

	if (top == BPF_CORE_READ(top, d_parent) && top != BPF_CORE_READ(top_mnt, mnt.mnt_root)) {
		out[0] = '/';
		bpf_probe_read_kernel_str(out + 1, FNW_PATH_MAX - 1, BPF_CORE_READ(top, d_name.name));
		return true;
	}
	bpf_loop(FNW_PATH_DEPTH, name_step, &c, 0);

	__u32 off = c.off;

	if (off == FNW_PATH_MAX - 1) {
		/* The root itself. */
		off--;
		scratch->buf[off] = '/';
	}
	bpf_probe_read_kernel_str(out, FNW_PATH_MAX, &scratch->buf[off & (FNW_PATH_MAX - 1)]);
	return c.complete;
}

#endif /* FNWARDEN_PATH_BPF_H */
