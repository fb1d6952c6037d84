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

#include "counters.h"
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
	/* The launcher applied Landlock: EACCES from file/exec syscalls is a denial to report. */
	FNW_CGROUP_LANDLOCK = 1u << 4,
	/*
	 * With ARM_ON_EXEC: execs before the function's are not its own. A
	 * container started through fnwarden-runtime runs runc's init (which
	 * may re-exec itself) and then fnwarden's container init before the
	 * entrypoint; sched_process_exec clears this flag at the init's exec
	 * (comm "fnwarden-init") and ARM_ON_EXEC at the next.
	 */
	FNW_CGROUP_ARM_SKIP_EXEC = 1u << 5,
};

/*
 * The flags that wait for an exec, which only the kernel clears (and also
 * records in disarmed_cgroups, maps.bpf.h, so a stale rewrite of the entry
 * cannot set them again).
 */
#define FNW_CGROUP_ARMING_FLAGS (FNW_CGROUP_ARM_ON_EXEC | FNW_CGROUP_ARM_SKIP_EXEC)

/*
 * path_args[syscall nr]: where a syscall Landlock can refuse keeps its
 * object: the path of a file/exec syscall, the sockaddr of connect/bind.
 * Filled by userspace from the syscall table by name, so no number is typed
 * twice. Low nibble: 1 + index of that argument (0 = not such a syscall);
 * bit 4: the argument before it is a directory fd (the *at variants).
 */
#define FNW_PATH_ARG_INDEX_MASK 0x0f
#define FNW_PATH_ARG_HAS_DFD 0x10
/* bit 5: an exec syscall (its denial answers to exec.onViolation). */
#define FNW_PATH_ARG_EXEC 0x20
/* bit 6: the argument is a struct sockaddr (connect, bind; fd in arg 0). */
#define FNW_PATH_ARG_SOCKADDR 0x40
/* bit 7: with SOCKADDR, the syscall is bind (else connect). */
#define FNW_PATH_ARG_BIND 0x80

/*
 * What a file syscall Landlock refused needed, so that its report names
 * the same right (files.read, files.create...) the file probes would
 * (files.bpf.c's FILE_ENTER table says the same per syscall).
 */
enum fnw_path_op {
	FNW_PATH_OP_NONE = 0,    /* connect, bind */
	FNW_PATH_OP_OPEN = 1,    /* open flags in the argument after the path */
	FNW_PATH_OP_OPENAT2 = 2, /* struct open_how in the argument after the path */
	FNW_PATH_OP_CREAT = 3,   /* creat(): O_CREAT | O_WRONLY | O_TRUNC */
	FNW_PATH_OP_CREATE = 4,  /* mkdir, mknod, symlink, link: create at the path */
	FNW_PATH_OP_DELETE = 5,  /* unlink, rmdir */
	FNW_PATH_OP_RENAME = 6,  /* delete at the path, create at path2 */
	FNW_PATH_OP_WRITE = 7,   /* truncate */
	FNW_PATH_OP_EXEC = 8,    /* execve, execveat */
};

/* path_args[syscall nr] */
struct fnw_path_arg {
	__u8 where;    /* FNW_PATH_ARG_* and 1 + the path's argument index */
	__u8 op;       /* enum fnw_path_op */
	__u8 path2_arg; /* 1 + index of the second name (rename's new one, link's old one); 0: none */
	__u8 dfd2_arg;  /* 1 + index of path2's directory fd; 0: AT_FDCWD */
};

/* monitored_cgroups: cgroup id -> this */
struct fnw_cgroup_entry {
	__u32 policy_id;
	__u32 flags; /* enum fnw_cgroup_flags */
};

/* What a violation of this policy triggers in the kernel. */
enum fnw_kernel_action {
	FNW_KACTION_REPORT = 0,
	FNW_KACTION_KILL = 1, /* bpf_send_signal(SIGKILL); after a Landlock denial too */
	/* Refuse (network: cgroup hook; exec: BPF-LSM; files and exec for
	 * launched functions: Landlock). Probes that cannot refuse kill. */
	FNW_KACTION_DENY = 2,
};

/* fnw_policy.flags */
enum fnw_policy_flags {
	/* The policy has a network section: connect/sendmsg/bind are checked
	 * against net_rules; without it network is not restricted. */
	FNW_POLICY_NET_RESTRICTED = 1u << 0,
	/* exec is checked by lsm/bprm_check_security against exec_allowed
	 * (every exec.allow entry is a literal path; see probe_set.cpp). */
	FNW_POLICY_EXEC_LSM = 1u << 1,
	/* The policy has a files section: file syscalls are checked against
	 * file_rules / file_verdicts, and userspace for globs (files.bpf.c). */
	FNW_POLICY_FILES_RESTRICTED = 1u << 2,
	/* The policy has an exec section: every exec is checked at
	 * sched_process_exec against file_rules (FNW_FILE_EXEC), unless
	 * FNW_POLICY_EXEC_LSM already checked it before the exec. */
	FNW_POLICY_EXEC_RESTRICTED = 1u << 3,
	/* Some exec.allow entries are pinned to a sha256: every exec the
	 * kernel allows goes to userspace (FNW_VERDICT_PENDING), which hashes
	 * the pinned ones. Every exec, not the pinned inodes only: a program
	 * replaced since the policy loaded has a new inode, and an inode
	 * lookup would let exactly that one through unhashed. */
	FNW_POLICY_EXEC_HASHED = 1u << 4,
	/* spec.process (process.bpf.c): what the function may not do to other
	 * processes or to its own memory; acted on with process_action. */
	FNW_POLICY_DENY_PTRACE = 1u << 5,      /* attach to or read another process */
	FNW_POLICY_DENY_BPF = 1u << 6,         /* the bpf() syscall */
	FNW_POLICY_DENY_EXEC_MEMORY = 1u << 7, /* PROT_EXEC on anonymous or writable memory */
	/* An allowed program's ELF interpreter may be one the policy refuses
	 * (an exec.allow glob implies none; files.read may miss an implied
	 * one): every exec the kernel allows goes to userspace
	 * (FNW_VERDICT_PENDING), which reads the program's PT_INTERP and checks
	 * it, since the kernel opened it on the program's behalf and Landlock
	 * refuses exactly that exec in enforce mode. */
	FNW_POLICY_EXEC_INTERP = 1u << 8,
	/* The policy came with code pins (a signed bundle's): an open or exec
	 * of a regular file in a pinned code directory (FNW_RULE_CODE_DIR)
	 * goes to userspace, which hashes it, acted on with code_action. */
	FNW_POLICY_CODE_PINNED = 1u << 9,
};

/*
 * What a file operation needs, in the policy's own terms (files.read, write,
 * create, delete). An open may need several (O_RDWR|O_CREAT on a new file:
 * read, write and create).
 */
enum fnw_file_access {
	FNW_FILE_READ = 1u << 0,
	FNW_FILE_WRITE = 1u << 1,
	FNW_FILE_CREATE = 1u << 2,
	FNW_FILE_DELETE = 1u << 3,
	FNW_FILE_EXEC = 1u << 4, /* exec.allow: checked at sched_process_exec */
};

/* policies[policy_id] */
struct fnw_policy {
	__u64 syscall_allow[FNW_SYSCALL_BITMAP_WORDS]; /* bit nr set = allowed */
	__u32 syscall_action;                          /* enum fnw_kernel_action */
	__u32 net_action;                              /* enum fnw_kernel_action */
	__u32 flags;                                   /* enum fnw_policy_flags */
	__u32 exec_action;                             /* enum fnw_kernel_action, for exec.allow */
	__u32 file_action;                             /* enum fnw_kernel_action, for FNW_POLICY_FILES_RESTRICTED */
	/*
	 * FNW_FILE_* rights whose every pattern is in file_rules (exact paths
	 * and whole-subtree (dir + "**") that existed at load): for an open needing only
	 * these, a miss is a violation the kernel acts on itself. Other rights
	 * go to userspace's glob matcher (FNW_VERDICT_PENDING).
	 */
	__u32 file_kernel_rights;
	__u32 process_action; /* enum fnw_kernel_action, for FNW_POLICY_DENY_* */
	/* enum fnw_kernel_action for FNW_POLICY_CODE_PINNED: kill in enforce
	 * mode whatever the sections say (code that is not the pinned code must
	 * not run), report in audit. */
	__u32 code_action;
};

/*
 * file_rules: (policy, object) -> the rights a policy grants on that object
 * (`exact`) or on everything beneath it, itself included (`subtree`, from a
 * dir + "**" pattern). Keyed by the object, like Landlock: the probe walks up
 * from the opened file's dentry, so symlinks, "..", relative paths and bind
 * mounts all end at the same answer without comparing strings in the kernel.
 *
 * An object is (device, inode number, generation): filesystems hand a freed
 * inode number to the next file created, so without the generation a
 * directory made after `rm -rf` would inherit the grant of the one it
 * replaced (docs/threat-model.md, "A grant that follows an inode number").
 * Userspace keys a rule only where the generation proves the identity.
 */
struct fnw_file_rule_key {
	__u32 policy_id;
	__u32 generation; /* inode->i_generation */
	__u64 dev; /* kernel dev_t: MAJOR << 20 | MINOR */
	__u64 ino;
};

struct fnw_file_rule {
	__u32 exact;   /* FNW_FILE_* */
	__u32 subtree; /* FNW_FILE_* */
	/*
	 * On a directory on the way from a rule's object up to its mount's
	 * root, the object's own directory included: rights for which one of
	 * its entries is, or leads to, a rule's object (file_rule_names has
	 * the entry's name). An entry found under that name that matches no
	 * rule is a replaced object (files get replaced: a rename over
	 * /etc/resolv.conf makes a new inode): the kernel leaves its rights to
	 * userspace's name match instead of killing on a grant the old object
	 * took with it. Every other entry is decided by inode, in the kernel.
	 */
	__u32 named_entries;
	/*
	 * Where in rule_use[policy].grants a grant of this object's exact
	 * (`use_exact`) and subtree (`use_subtree`) rights is marked: the
	 * FNW_FILE_* rights granted go to bits 8 * use_* and up (0: not
	 * counted). The number of the first pattern that keyed the object.
	 */
	__u16 use_exact;
	__u16 use_subtree;
	__u32 flags; /* enum fnw_file_rule_flags */
};

/* fnw_file_rule.flags */
enum fnw_file_rule_flags {
	/* A directory that holds files the policy's code pins name: every
	 * regular file opened or executed directly in it is checked against
	 * its pin (FNW_OBJECT_CODE_PINNED), a file without one included. Keyed
	 * on the directory, not on each file: a file replaced by a rename (a
	 * new inode) is in the same directory. */
	FNW_RULE_CODE_DIR = 1u << 0,
};

/*
 * In a file_rule_names value, beside the FNW_FILE_* rights: the entry (in
 * the directory keyed) is a code directory. A directory made again under
 * that name (a rename of the code away and a new one in its place) is a new
 * inode without FNW_RULE_CODE_DIR: its files are still checked by name.
 */
#define FNW_NAME_CODE_DIR (1u << 31)

/*
 * file_rule_names: (policy, directory, entry name) -> the rights for which
 * a rule's object is, or lies beneath, that entry. Names are NUL-padded to
 * FNW_RULE_NAME_MAX so equal names hash equal; a longer name is never a
 * kernel rule's (its pattern is matched in userspace).
 */
struct fnw_file_rule_name_key {
	__u32 policy_id;
	__u32 generation;
	__u64 dev;
	__u64 ino;
	char name[FNW_RULE_NAME_MAX];
};

/*
 * holds: thread id -> a thread the probes stopped (SIGSTOP) at the end of an
 * operation only userspace can decide, until userspace's verdict. Userspace
 * deletes the entry, then sends SIGCONT once no thread of the process is
 * held, or SIGKILL. What the sweeper needs to prove the process and to bound
 * the wait: the process, its cgroup and when it was stopped (boot clock).
 */
struct fnw_hold {
	__u64 held_ns; /* bpf_ktime_get_boot_ns() */
	__u64 cgroup_id;
	__u32 tgid;
	__u32 policy_id;
};

/* What identity.bpf.c reads for one of fnwarden's own fds: a rule key's object. */
struct fnw_object_identity {
	__u64 dev;
	__u64 ino;
	__u32 generation;
	__u32 pad;
};

/*
 * rules_roots: (policy, a root the policy's file rules were also compiled
 * in) -> the FNW_FILE_* rights complete there. A function in a container or
 * a chroot names other objects than fnwarden does; its slot's rules were
 * compiled in its root too, and a task whose mount namespace and root
 * directory are that root's may have a miss of these rights decided in the
 * kernel (path.bpf.h, rules_root_rights).
 */
struct fnw_rules_root_key {
	__u32 policy_id;
	__u32 mnt_ns; /* nsproxy->mnt_ns->ns.inum */
	__u64 root_dev; /* fs->root's inode: kernel dev_t */
	__u64 root_ino;
};

/*
 * file_verdicts (LRU): an open already found allowed, by the kernel's rules
 * or by userspace's globs, so the same access never crosses the ring buffer
 * again. parent_ino and generation keep a hard link elsewhere, or a reused
 * inode number, from inheriting the verdict.
 */
struct fnw_file_verdict_key {
	__u32 policy_id;
	__u32 access; /* FNW_FILE_* the open needed */
	__u64 dev;
	__u64 ino;
	__u64 parent_ino;
	__u32 generation;
	__u32 pad;
};

/*
 * exec_allowed: (policy, canonical path) of every program a policy allows,
 * as bpf_d_path() writes it, NUL-padded so equal paths hash equal.
 */
struct fnw_exec_key {
	__u32 policy_id;
	char path[FNW_EXEC_PATH_MAX];
};

/* fnw_net_key.direction */
enum fnw_net_direction {
	FNW_NET_EGRESS = 0, /* connect / sendmsg: the peer address */
	FNW_NET_LISTEN = 1, /* bind: the local address */
};

/*
 * net_rules: LPM trie key. The trie matches the longest prefix over the
 * bytes after prefixlen, in order, so the exact parts come first and the
 * address last: prefixlen = 64 + address prefix bits. A rule for any port
 * stores port 0, any protocol stores protocol 0; the probe looks up the
 * (protocol, port) combinations from most to least specific.
 */
struct fnw_net_key {
	__u32 prefixlen;
	__u32 policy_id; /* big endian, like every byte the trie compares */
	__u8 direction;  /* enum fnw_net_direction */
	__u8 protocol;   /* IPPROTO_TCP/UDP, 0 = any */
	__u16 port;      /* big endian, 0 = any */
	__u8 addr[16];   /* IPv6, IPv4 as v4-mapped */
};

#define FNW_NET_KEY_FIXED_BITS 64

/*
 * A unix socket a policy may connect to (network.unix): its name exactly
 * as connect() passes it, zero-padded. An abstract name keeps its leading
 * NUL; `len` tells "\0ab" from "\0ab\0".
 */
struct fnw_unix_key {
	__u32 policy_id;
	__u8 len;
	__u8 pad[3];
	char path[FNW_UNIX_PATH_MAX];
};

/*
 * slot_owners[policy_id]: which function a policy slot was written for.
 * Read by no program: it is there so that a daemon adopting a pinned set
 * (userspace/probes/pinned_set.hpp) knows whose policy each cgroup entry
 * it finds points at, and can move those cgroups to the function's new
 * slot instead of guessing. An empty name: the slot is not in use.
 */
struct fnw_slot_owner {
	char function[FNW_SLOT_OWNER_MAX];
	char policy[FNW_SLOT_OWNER_MAX]; /* metadata.name */
	__u32 mode;                       /* 0 audit, 1 enforce: the effective mode */
	__u32 pad;
};

/* learned_syscalls[policy_id]: every syscall seen, aggregated in the kernel. */
struct fnw_syscall_set {
	__u64 bits[FNW_SYSCALL_BITMAP_WORDS];
};

/*
 * rule_use[policy_id]: which grants of the policy in that slot were used
 * at least once since userspace wrote it (fnwarden policy report). Bits,
 * not counts: the kernel reads the word first and writes only the first
 * time, so after warm-up an allowed access costs one load. Cleared when a
 * policy is written into the slot.
 *  - syscalls: bit nr, set when syscalls.allow let the syscall through;
 *  - grants: FNW_USE_PROCESS_* (process permissions a policy grants),
 *    8 bits per file rule slot (fnw_file_rule.use_*: the FNW_FILE_* rights
 *    granted), and from FNW_USE_NET_BASE one bit per net_rules key (the
 *    key's value is its bit). Bit 0 means "not counted".
 */
#define FNW_USE_PROCESS_PTRACE 1
#define FNW_USE_PROCESS_BPF 2
#define FNW_USE_PROCESS_EXEC_MEMORY 3
struct fnw_rule_use {
	__u64 syscalls[FNW_SYSCALL_BITMAP_WORDS];
	__u64 grants[FNW_RULE_USE_WORDS];
};

/*
 * violation_tally (LRU): repeated identical violations of one cgroup,
 * counted in the kernel instead of one alerts record each, so a function
 * that loops on a refused connect or a denied syscall cannot fill the
 * alerts ring for everyone (docs/threat-model.md, "Flooding the ring
 * buffer"). The first violation of a key in a window of
 * FNW_VIOLATION_WINDOW_NS gets its record; the ones after it in the window
 * only bump `repeats` (which only grows), `first_ns` and `last_ns`.
 * Userspace reads the table about once a second and reports what `repeats`
 * grew by as one FNW_EVENT_VIOLATION_SUMMARY; it never writes the table.
 * Enforcement is not throttled: the kernel still kills or refuses each
 * one; only its report is aggregated.
 */
struct fnw_violation_key {
	__u64 cgroup_id;
	__u32 type;   /* enum fnw_event_type of the violation */
	__u32 what;   /* syscall: nr; net: op << 24 | protocol << 16 | port; file: access */
	__u64 detail; /* net: the address's low 8 bytes; file: dev ^ ino ^ generation << 32 */
};

struct fnw_violation_tally {
	__u64 window_start_ns; /* the record that opened the window */
	__u64 first_ns;        /* first repeat of the window (0: none yet) */
	__u64 last_ns;         /* latest repeat */
	__u64 repeats;         /* all repeats since the entry was made: only grows */
	__u32 policy_id;
	__u32 pad;
};

/*
 * violation_reported[key]: how far userspace has reported a tally's repeats
 * (summary records). Written by userspace only, next to violation_tally,
 * so that a daemon adopting a pinned set reports only the repeats nobody
 * reported before it: the earlier daemon's summaries are not sent twice.
 */
struct fnw_violation_reported {
	__u64 repeats;
	__u64 last_ns;
};

/* Per-CPU counters; the fields, and all that names them, are in counters.h. */
struct fnw_counters {
#define FNW_COUNTER_FIELD(field, cli_text, metric, help) __u64 field;
	FNW_KERNEL_COUNTERS(FNW_COUNTER_FIELD)
#undef FNW_COUNTER_FIELD
};

#endif /* FNWARDEN_KERNEL_ABI_H */
