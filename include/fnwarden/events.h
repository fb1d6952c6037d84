/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Records written by the BPF programs into the ring buffer. Included by both
 * the BPF objects and the C++ decoder: one definition, fixed-width fields,
 * explicit padding. tests/unit/event_layout_test.cpp compares every struct
 * here with the BTF of the compiled BPF object, so any drift fails the tests.
 */
#ifndef FNWARDEN_EVENTS_H
#define FNWARDEN_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#include "limits.h"

enum fnw_event_type {
	FNW_EVENT_SYSCALL = 1,
	FNW_EVENT_NET = 2,
	FNW_EVENT_FILE = 3,
	FNW_EVENT_CGROUP = 4, /* identity input for the daemon, not a policy event */
	/* Made by userspace from violation_tally: the repeats of one violation
	 * the kernel counted instead of reporting each (kernel_abi.h). */
	FNW_EVENT_VIOLATION_SUMMARY = 5,
};

enum fnw_verdict {
	FNW_VERDICT_ALLOWED = 0,
	FNW_VERDICT_VIOLATION = 1,
	/*
	 * File access the kernel could not decide: a glob only userspace can
	 * match. Userspace turns it into one of the two above (and writes an
	 * allowed verdict back to file_verdicts); it never leaves the process.
	 */
	FNW_VERDICT_PENDING = 2,
};

/* What the kernel side did about the event. */
enum fnw_action {
	FNW_ACTION_NONE = 0,     /* allowed, traced only */
	FNW_ACTION_REPORTED = 1, /* violation, let through (audit / report) */
	FNW_ACTION_KILLED = 2,   /* violation, the process was killed */
	FNW_ACTION_DENIED = 3,   /* violation, the operation failed with an error, no side effect */
};

/* Which mechanism acted on the event (docs/enforcement.md). */
enum fnw_mechanism {
	FNW_MECH_NONE = 0,    /* nothing acted: allowed or report-only */
	FNW_MECH_SIGKILL = 1, /* bpf_send_signal(SIGKILL) at sys_enter: the syscall completes */
	FNW_MECH_SECCOMP = 2, /* seccomp user-notif answered by the launcher: never executed */
	FNW_MECH_CGROUP_SOCK = 3, /* cgroup sock_addr hook returned "deny": the caller got EPERM */
	FNW_MECH_LANDLOCK = 4,    /* Landlock refused (EACCES), seen at sys_exit: no side effect */
	FNW_MECH_BPF_LSM = 5,     /* an lsm/ program refused (EPERM) before the operation */
	FNW_MECH_USER_KILL = 6,   /* SIGKILL from fnwarden when it read the event: asynchronous */
	/* Stopped by the probe at the operation's end (held: SIGSTOP before it
	 * returned to user space), killed on fnwarden's verdict: the process
	 * never used the result. */
	FNW_MECH_HELD_KILL = 7,
};

/* fnw_file_event.nr when the event comes from an LSM hook, not a syscall. */
#define FNW_NR_LSM_EXEC 0xffffffffu
/* fnw_file_event.nr for an exec seen at sched_process_exec (it succeeded). */
#define FNW_NR_EXEC 0xfffffffeu
/* fnw_file_event.nr for an open refused by lsm/file_open that no syscall
 * tracepoint saw enter (io_uring, or a syscall the file probes do not list). */
#define FNW_NR_LSM_FILE_OPEN 0xfffffffdu
/* ... and for a create or delete refused by the lsm/path_* hooks with no
 * syscall seen (io_uring's mkdirat/unlinkat...). */
#define FNW_NR_LSM_CREATE 0xfffffffcu
#define FNW_NR_LSM_DELETE 0xfffffffbu

/* fnw_file_event.sha256_check */
enum fnw_sha256_check {
	FNW_SHA256_NOT_CHECKED = 0,
	FNW_SHA256_MATCH = 1,      /* the executed file hashes to the pinned value */
	FNW_SHA256_MISMATCH = 2,   /* it does not: a violation */
	FNW_SHA256_UNREADABLE = 3, /* the executed file could not be found or read: a violation */
	/* A regular file in a pinned code directory that the bundle does not
	 * pin (added after the bundle was made): a violation, like a mismatch. */
	FNW_SHA256_NOT_PINNED = 4,
};

/* fnw_file_event.object_flags */
enum fnw_object_flags {
	/* The object has no name left (i_nlink == 0): a memfd, or a file
	 * deleted after it was opened. Executing one is fileless execution. */
	FNW_OBJECT_UNLINKED = 1u << 0,
	/* On the object's way up, an entry at a rule's path was not that rule's
	 * object (deleted and made again): userspace decided by name, and
	 * re-reads the rules' identities (docs/threat-model.md). */
	FNW_OBJECT_RULE_REPLACED = 1u << 1,
	/* Set whatever resolved_kind says: the task resolved names in
	 * fnwarden's own mount namespace and root when the record was made
	 * (rules_root_is_ours()), so userspace may resolve its names in its own
	 * root once the process is gone (a refused function killed, or one that
	 * simply exited before the record was read). */
	FNW_OBJECT_ROOT_IS_OURS = 1u << 2,
	/* A regular file opened or executed in a directory the policy's code
	 * pins name (FNW_RULE_CODE_DIR): userspace hashes it and compares the
	 * digest with the pin (rule code.sha256), whatever the files and exec
	 * sections allow. Never remembered in file_verdicts: its content can
	 * change under the same inode. */
	FNW_OBJECT_CODE_PINNED = 1u << 3,
};

/* Which socket operation a network event is about. */
enum fnw_net_op {
	FNW_NET_CONNECT = 1, /* connect(): TCP, or UDP default peer */
	FNW_NET_SENDMSG = 2, /* sendto/sendmsg with an address (UDP, DNS included) */
	FNW_NET_BIND = 3,    /* bind(): a listening or source port */
	FNW_NET_ACCEPT = 4,  /* accept()/accept4() returned a connection */
	FNW_NET_CONNECT_UNIX = 5, /* connect() to a unix socket succeeded */
};

/* Common prefix of every record: the decoder dispatches on `type`. */
struct fnw_event_header {
	__u32 type;      /* enum fnw_event_type */
	__u32 size;      /* sizeof the whole record */
	__u64 boot_ns;   /* bpf_ktime_get_boot_ns(): survives suspend, maps to wall time */
	__u64 cgroup_id; /* cgroup v2 id == inode of the cgroup directory */
	__u32 pid;       /* tgid */
	__u32 tid;
	__u32 ppid;      /* tgid of real_parent */
	__u32 policy_id;
	char comm[FNW_COMM_LEN];
	/*
	 * The process's ancestors that run under the same policy, nearest
	 * first: lineage[0] is ppid when the parent belongs to the function,
	 * and the last entry is the function's root process (the one whose
	 * parent is outside it). Empty when the process is the root itself.
	 * lineage_truncated: the root is not known: the chain went on beyond
	 * FNW_LINEAGE_MAX (or, from /proc, an ancestor had already exited).
	 * Tracing programs fill it from the task tree; for the cgroup socket
	 * hooks userspace fills it from /proc (FNW_LINEAGE_FROM_PROC).
	 */
	__u32 lineage[FNW_LINEAGE_MAX];
	__u8 lineage_len;
	__u8 lineage_truncated;
	__u8 lineage_source; /* enum fnw_lineage_source */
	__u8 pad[5];
};

enum fnw_lineage_source {
	FNW_LINEAGE_FROM_KERNEL = 0, /* walked in the kernel when the event happened */
	FNW_LINEAGE_FROM_PROC = 1,   /* filled by userspace from /proc, best effort */
};

/* fnw_syscall_event.rule: which policy rule a violation broke. */
enum fnw_syscall_rule {
	FNW_RULE_SYSCALLS_ALLOW = 0,       /* the syscall is not in syscalls.allow (fnw_sys_enter) */
	FNW_RULE_PROCESS_PTRACE = 1,       /* process.ptrace: attach to or read another process */
	FNW_RULE_PROCESS_BPF = 2,          /* process.bpf */
	FNW_RULE_PROCESS_EXEC_MEMORY = 3,  /* process.execMemory */
};

/*
 * A syscall: one outside syscalls.allow (or any, traced), or one that broke
 * a spec.process rule (process.bpf.c), then `rule` says which. nr and args
 * are the syscall's, read from the task's user registers, also when an LSM
 * hook saw it.
 */
struct fnw_syscall_event {
	struct fnw_event_header hdr;
	__u32 nr;
	__u8 verdict; /* enum fnw_verdict */
	__u8 action;    /* enum fnw_action */
	__u8 mechanism; /* enum fnw_mechanism */
	__u8 rule;      /* enum fnw_syscall_rule */
	__u64 args[FNW_SYSCALL_ARGS];
};

/*
 * A socket operation checked by the cgroup sock_addr hooks. Addresses are
 * always 16 bytes: IPv4 as v4-mapped IPv6 (::ffff:a.b.c.d), so one rule
 * table serves connect4 and connect6 with a mapped address alike.
 */
struct fnw_net_event {
	struct fnw_event_header hdr;
	__u8 addr[16];  /* peer (connect/sendmsg/accept) or local (bind) address */
	__u16 port;     /* host byte order: the peer's, or the local one for bind */
	__u8 family;    /* 4 or 6: the socket API used; 1 (AF_UNIX) for FNW_NET_CONNECT_UNIX */
	__u8 protocol;  /* IPPROTO_TCP / IPPROTO_UDP */
	__u8 op;        /* enum fnw_net_op */
	__u8 verdict;   /* enum fnw_verdict */
	__u8 action;    /* enum fnw_action */
	__u8 mechanism; /* enum fnw_mechanism */
	__u16 local_port;   /* accept: the listening port the connection came in on */
	__u8 unix_path_len; /* FNW_NET_CONNECT_UNIX: bytes of unix_path used */
	__u8 pad[5];
	/* FNW_NET_CONNECT_UNIX: the socket's name as passed to connect(): a
	 * path, or an abstract name (first byte NUL). Not NUL-terminated. */
	char unix_path[FNW_UNIX_PATH_MAX];
	__u8 pad2[4];
};

/* fnw_file_event.resolved_kind: what `resolved` holds. */
enum fnw_resolved_kind {
	FNW_RESOLVED_NONE = 0,   /* nothing: `path` is absolute, or the base was unreadable */
	FNW_RESOLVED_OBJECT = 1, /* the opened file itself, walked from its dentry: canonical */
	FNW_RESOLVED_BASE = 2,   /* the directory a relative `path` starts from (cwd or dfd), canonical */
	/*
	 * Set by userspace, never by the kernel: where the kernel walked no
	 * object (a refused or not yet made one), fnwarden resolved the name
	 * after the fact, symlinks and all, in the process's own root
	 * (/proc/PID/root). `resolved` holds the canonical path, and for a
	 * two-name operation (rename, link) the second name's after its NUL.
	 */
	FNW_RESOLVED_USER = 3,
};

/*
 * fnw_file_event.resolve_note: why userspace could not resolve a name
 * after the fact (it then stays as the kernel left it: BASE joined, or
 * lexical). Set by userspace only.
 */
enum fnw_resolve_note {
	FNW_RESOLVE_NOTE_NONE = 0,
	FNW_RESOLVE_NOTE_PROCESS_GONE = 1,   /* the process exited (or is not the event's any more) */
	FNW_RESOLVE_NOTE_TOO_MANY_LINKS = 2, /* more than 40 symlinks, as the kernel's ELOOP */
	FNW_RESOLVE_NOTE_BASE_UNREADABLE = 3, /* neither the kernel nor /proc could name the cwd or dirfd */
	FNW_RESOLVE_NOTE_NAME_TRUNCATED = 4, /* the name did not fit the record */
	FNW_RESOLVE_NOTE_LOOKUP_FAILED = 5,  /* a component could not be examined (permissions, I/O) */
	FNW_RESOLVE_NOTE_TOO_LONG = 6,       /* the canonical names do not fit the record */
};

/*
 * A file access, or an exec:
 *  - from the file syscall tracepoints (files.bpf.c): any open, create,
 *    delete, rename, link, chmod/chown or truncate of a monitored function
 *    whose policy restricts files (or that is traced), with `access` set;
 *  - a Landlock denial (EACCES at sys_exit) of a launched function;
 *  - an exec refused by lsm/bprm_check_security (nr == FNW_NR_LSM_EXEC);
 *  - an open refused by lsm/file_open (nr: the syscall's, or FNW_NR_LSM_FILE_OPEN).
 * `path` is always the string the caller passed; `resolved` is what the
 * kernel resolved (see fnw_resolved_kind), which userspace reports as the
 * canonical path.
 */
struct fnw_file_event {
	struct fnw_event_header hdr;
	__u32 nr;
	__s32 ret;   /* the syscall's return value (-errno) */
	__s32 dfd;   /* directory fd the path is relative to; AT_FDCWD (-100) for the cwd */
	__u8 verdict;
	__u8 action;
	__u8 mechanism;
	__u8 path_truncated; /* the user string filled the buffer */
	__u32 access;        /* FNW_FILE_* the operation needs on `path` (0: an exec refused by LSM) */
	union {
		__u32 access2;  /* FNW_FILE_* needed on `path2` (rename: create at the new name) */
		__u32 argv_len; /* nr == FNW_NR_EXEC: bytes of `argv` used */
	};
	__u32 open_flags;    /* open/openat/openat2/creat: the O_* flags */
	__u8 resolved_kind;  /* enum fnw_resolved_kind */
	__u8 resolved_truncated;
	__u8 path2_truncated; /* nr == FNW_NR_EXEC: argv did not fit */
	__u8 traced;         /* the cgroup is traced: an allowed verdict is still reported */
	/* Identity of the object when resolved_kind == FNW_RESOLVED_OBJECT (the file_verdicts key). */
	__u64 dev;        /* kernel dev_t of the superblock: MAJOR << 20 | MINOR */
	__u64 ino;
	__u64 parent_ino; /* directory the name was found in: hard links elsewhere differ */
	__u32 generation; /* i_generation: an inode number reused later differs */
	__u32 missing;    /* FNW_FILE_* rights the policy does not grant (violations) */
	__u32 object_flags; /* enum fnw_object_flags (all but ROOT_IS_OURS: when resolved_kind == FNW_RESOLVED_OBJECT) */
	__s32 dfd2;         /* directory fd `path2` is relative to (renameat/linkat/symlinkat) */
	/* Exec of a program exec.allow pins to a sha256, or a file of a pinned
	 * code directory (FNW_OBJECT_CODE_PINNED): userspace's verdict on its
	 * content (enum fnw_sha256_check) and the digest it computed.
	 * The kernel only asks (FNW_VERDICT_PENDING); it never fills these. */
	__u8 sha256_check;
	__u8 resolve_note; /* enum fnw_resolve_note (userspace) */
	/* The kernel stopped the process before it returned to user space
	 * (holds map, keyed by hdr.tid) until userspace's verdict on this record
	 * (FNW_VERDICT_PENDING): userspace releases it (SIGCONT) or kills it. */
	__u8 held;
	__u8 pad;
	__u8 sha256[32];
	/* The digest the pin expects (exec.sha256 or a code pin), when
	 * sha256_check says MATCH or MISMATCH. Userspace only. */
	__u8 expected_sha256[32];
	char path[FNW_PATH_MAX];
	char resolved[FNW_PATH_MAX];
	union {
		char path2[FNW_PATH_MAX]; /* rename/link/symlink: the other name, as passed */
		/* nr == FNW_NR_EXEC: the new image's argv, NUL-separated, as it
		 * sits on its stack (read at sched_process_exec). */
		char argv[FNW_PATH_MAX];
	};
};

/*
 * A cgroup was created on the default hierarchy while the daemon asked to
 * hear of births (it has cgroup-path or pod selectors). hdr.cgroup_id is the
 * new cgroup, hdr.pid its creator. If its parent was monitored, the child
 * already inherited the parent's entry in the kernel (no race): the daemon
 * may then upgrade it to the function's own policy.
 */
struct fnw_cgroup_event {
	struct fnw_event_header hdr;
	__u64 parent_id;
	__u32 inherited_policy_id; /* valid when inherited != 0 */
	__u8 inherited;
	__u8 path_truncated;
	__u8 pad[2];
	char path[FNW_CGROUP_PATH_MAX]; /* relative to the cgroup2 root, no leading '/' */
};

/*
 * FNW_EVENT_VIOLATION_SUMMARY: made by userspace, never by the kernel, from
 * a finished violation_tally window (kernel_abi.h): `repeats` violations
 * of one kind in one cgroup, between first_ns and last_ns, that the kernel
 * acted on but did not report one by one. hdr.boot_ns is last_ns; hdr.pid
 * and comm are empty (many processes may have done it).
 */
struct fnw_violation_summary_event {
	struct fnw_event_header hdr;
	__u32 kind;    /* enum fnw_event_type of the violations */
	__u32 what;    /* as fnw_violation_key.what */
	__u64 detail;  /* as fnw_violation_key.detail */
	__u64 first_ns;
	__u64 last_ns;
	__u64 repeats;
};

#endif /* FNWARDEN_EVENTS_H */
