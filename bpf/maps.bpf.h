/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Every map of fnwarden, declared once. Each probe family (*.bpf.c) includes
 * this header and the objects are statically linked into one (bpftool gen
 * object): the maps are __weak so the identical definitions in each object
 * resolve to one map instead of conflicting.
 */
#ifndef FNWARDEN_MAPS_BPF_H
#define FNWARDEN_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include <fnwarden/events.h>
#include <fnwarden/kernel_abi.h>

/* cgroup id -> which policy guards it. A miss is the unmonitored fast path. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FNW_MAX_MONITORED_CGROUPS);
	__type(key, __u64);
	__type(value, struct fnw_cgroup_entry);
} monitored_cgroups SEC(".maps") __weak;

/*
 * cgroup id -> the arming flags (FNW_CGROUP_ARM_ON_EXEC, _ARM_SKIP_EXEC)
 * the kernel has cleared for it. Written only by BPF (exec.bpf.c), deleted
 * with the cgroup. The kernel clears those flags in the monitored_cgroups
 * entry too, but userspace rewrites whole entries (a trace flag, a policy
 * retarget): one it read before the function's first exec and writes after
 * it would set ARM_ON_EXEC again and leave the running function unchecked.
 * This set is what such a write cannot undo (fnw_arming, policy.bpf.h).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FNW_MAX_MONITORED_CGROUPS);
	__type(key, __u64);
	__type(value, __u32);
} disarmed_cgroups SEC(".maps") __weak;

/*
 * See FNW_CGROUP_FILTER_BITS. Plain global memory (.bss): the fast path reads
 * it without a map helper call, and userspace sets bits through the
 * skeleton's mmap. Bits are never cleared (a stale bit only costs a hash
 * miss), so a reader can never see a monitored cgroup's bit missing.
 */
__u64 monitored_filter[FNW_CGROUP_FILTER_WORDS] __weak;

/* Compiled allowlists, indexed by policy id. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FNW_MAX_POLICIES);
	__type(key, __u32);
	__type(value, struct fnw_policy);
} policies SEC(".maps") __weak;

/*
 * fnwarden learn: the syscalls a function made, as a bitmap per policy id
 * (all cgroups of one function share it). Aggregating in the kernel means a
 * learning run sends nothing through the ring buffer and cannot drop.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FNW_MAX_POLICIES);
	__type(key, __u32);
	__type(value, struct fnw_syscall_set);
} learned_syscalls SEC(".maps") __weak;

/* Grants each policy slot used at least once; see struct fnw_rule_use. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FNW_MAX_POLICIES);
	__type(key, __u32);
	__type(value, struct fnw_rule_use);
} rule_use SEC(".maps") __weak;

/* Allowed peers (egress) and local ports (listen) per policy; see fnw_net_key. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, FNW_MAX_NET_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fnw_net_key);
	__type(value, __u32); /* the key's bit in fnw_rule_use.grants (0: not counted) */
} net_rules SEC(".maps") __weak;

/* Unix sockets each policy may connect to (network.unix). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FNW_MAX_UNIX_RULES);
	__type(key, struct fnw_unix_key);
	__type(value, __u8);
} unix_allowed SEC(".maps") __weak;

/* Which argument of a syscall is its path, and what it needs: fnw_path_arg. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FNW_MAX_SYSCALLS);
	__type(key, __u32);
	__type(value, struct fnw_path_arg);
} path_args SEC(".maps") __weak;

/*
 * Syscall number -> the handler that the raw sys_enter and sys_exit
 * dispatchers (syscalls.bpf.c) tail-call once the task is known to be in a
 * monitored function. Filled by userspace, one family at a time, when a
 * policy first needs it (ProbeSet::install_handlers); an empty slot ends the
 * dispatch. One raw hook instead of per-syscall tracepoints: attaching any
 * of those puts every syscall of every task on the host on the perf syscall
 * callbacks (docs/performance.md, "Bystanders"). No BTF key/value types:
 * prog arrays refuse them.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, FNW_MAX_SYSCALLS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} sys_enter_handlers SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, FNW_MAX_SYSCALLS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} sys_exit_handlers SEC(".maps") __weak;

/*
 * The syscalls with a handler in sys_exit_handlers, one bit each, in .bss
 * (set by userspace through the skeleton's mmap before it installs the
 * handler, never cleared): the sys_exit dispatcher tests it before the
 * cgroup lookup, so a syscall nobody pairs (getppid, close, read, ...)
 * costs every task one load and a bit test.
 */
__u64 exit_handled[FNW_SYSCALL_BITMAP_WORDS] __weak;

/*
 * The same for sys_enter_handlers: the sys_enter dispatcher hands over and
 * tail-calls only where a bit is set, so a monitored function's getppid
 * (or read, or close) pays neither the per-CPU slot's write nor the tail
 * call into an empty slot (docs/performance.md, "Tracing").
 */
__u64 enter_handled[FNW_SYSCALL_BITMAP_WORDS] __weak;

/*
 * landlock.bpf.c's report of a refusal, tail-called by the sys_exit
 * dispatcher for an EACCES of a Landlock-restricted function before the
 * syscall's own handler (which it dispatches to in turn). Filled while a
 * Landlock-restricted function runs.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} landlock_exit_handler SEC(".maps") __weak;

/*
 * What a dispatcher found for the syscall it hands on (dispatch.bpf.h):
 * written by fnw_sys_enter and fnw_sys_exit_dispatch just before their tail
 * call and read by the handler it lands in, which then needs neither
 * bpf_get_current_cgroup_id() nor the monitored_cgroups lookup again.
 * Private to the BPF side.
 */
struct fnw_dispatched {
	__u64 task; /* whose syscall: a handler trusts the rest for this task only */
	__u64 cgroup_id;
	struct fnw_cgroup_entry entry; /* a copy: map values cannot hold pointers */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fnw_dispatched);
} dispatched SEC(".maps") __weak;

/* Programs each policy may exec, for lsm/bprm_check_security. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FNW_MAX_EXEC_RULES);
	__type(key, struct fnw_exec_key);
	__type(value, __u32); /* the entry's exec bit in fnw_rule_use.grants (0: not counted) */
} exec_allowed SEC(".maps") __weak;

/* Per-CPU room to build an exec_allowed key (too big for the BPF stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fnw_exec_key);
} exec_key_scratch SEC(".maps") __weak;

/* Inodes each policy's files section names; see fnw_file_rule_key. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FNW_MAX_FILE_RULES);
	__type(key, struct fnw_file_rule_key);
	__type(value, struct fnw_file_rule);
} file_rules SEC(".maps") __weak;

/* Entry names on the way up from each rule's object; see fnw_file_rule_name_key. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FNW_MAX_FILE_RULE_NAMES);
	__type(key, struct fnw_file_rule_name_key);
	__type(value, __u32);
} file_rule_names SEC(".maps") __weak;

/* Roots besides fnwarden's own each policy's file rules were compiled in; see fnw_rules_root_key. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FNW_MAX_RULES_ROOTS);
	__type(key, struct fnw_rules_root_key);
	__type(value, __u32); /* FNW_FILE_* rights complete in that root */
} rules_roots SEC(".maps") __weak;

/* Per-CPU room to build a file_rule_names key (the walk's stack is full). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fnw_file_rule_name_key);
} rule_name_scratch SEC(".maps") __weak;

/* Repeated identical violations per cgroup; see fnw_violation_key. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FNW_MAX_VIOLATION_TALLIES);
	__type(key, struct fnw_violation_key);
	__type(value, struct fnw_violation_tally);
} violation_tally SEC(".maps") __weak;

/* Threads stopped until userspace's verdict; see fnw_hold and fnw_hold_current(). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FNW_MAX_HOLDS);
	__type(key, __u32);
	__type(value, struct fnw_hold);
} holds SEC(".maps") __weak;

/*
 * Bumped by userspace after every purge of file_verdicts (a policy's rules
 * replaced): files.bpf.c's per-thread copy of the last allowed key is
 * valid only under the epoch it was read in (.bss, mmapped).
 */
__u64 file_verdicts_epoch __weak;

/*
 * Each task's lineage as fnw_lineage_walk last found it (emit.bpf.h), kept
 * while lineage_epoch has not moved. Created at a task's first record
 * from fnw_sys_enter (fnw_lineage_remember), freed with the task.
 */
struct fnw_lineage_memo {
	__u64 epoch; /* lineage_epoch + 1 as read before the walk; 0: none */
	__u32 policy_id;
	__u32 ppid;
	__u32 tgid[FNW_LINEAGE_MAX];
	__u32 len;
	__u32 truncated;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct fnw_lineage_memo);
} lineage_memo SEC(".maps") __weak;

/*
 * The memo last recalled or remembered on this CPU, and whose it is: the
 * first place fnw_lineage_recall looks. A task storage lookup was about a
 * tenth of a traced getppid's cost here (docs/performance.md, "Tracing");
 * a task in a tight loop finds its lineage in this slot with one per-CPU
 * load. A thread id alone does not name a task over time (ids are
 * reused), but an id is freed only after its task exited, and every exit
 * moves lineage_epoch: a slot left by a dead task never matches the epoch
 * of one that reuses its id.
 */
struct fnw_lineage_last {
	__u32 tid; /* task->pid, the kernel's thread id */
	__u32 pad;
	struct fnw_lineage_memo memo;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fnw_lineage_last);
} lineage_last SEC(".maps") __weak;

/*
 * Moved by userspace after every write to monitored_cgroups (ProbeSet::
 * monitored_cgroups_changed): the dispatchers' per-CPU copy of the last entry they
 * found (cgroup_last) is good only under the epoch it was read in. The
 * kernel's own writes need no move: cgroup_mkdir adds entries for new
 * cgroup ids, cgroup_rmdir removes those of empty cgroups (ids are never
 * reused), and fnw_disarm records what it clears in disarmed_cgroups,
 * which fnw_arming reads for any entry, a copy included. .bss, mmapped.
 */
__u64 cgroups_epoch __weak;

/*
 * The entry the sys_enter and sys_exit dispatchers last found on this CPU,
 * a copy, with its cgroup id and the cgroups_epoch read before the lookup.
 * A monitored function's syscalls come one after another from the same
 * cgroup: the copy saves each of them the hash lookup (jhash of the id and
 * a bucket walk, with a helper's call and return). A bystander never gets
 * here (monitored_filter first). Only the dispatchers use it: they only
 * read the entry (its copy is what they hand over to the handlers anyway).
 */
struct fnw_cgroup_last {
	__u64 cgroup_id;
	__u64 epoch; /* cgroups_epoch + 1 as read before the lookup; 0: none */
	struct fnw_cgroup_entry entry;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fnw_cgroup_last);
} cgroup_last SEC(".maps") __weak;

/*
 * Moved by everything that can change some task's lineage: an exit (its
 * children are reparented), a cgroup migration (lineage.bpf.c), and
 * userspace after every write to monitored_cgroups (an ancestor's policy).
 * .bss, mmapped.
 */
__u64 lineage_epoch __weak;

/* Opens found allowed, by the kernel or by userspace; see fnw_file_verdict_key. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FNW_MAX_FILE_VERDICTS);
	__type(key, struct fnw_file_verdict_key);
	__type(value, __u8);
} file_verdicts SEC(".maps") __weak;

/*
 * Traced (allowed) records and accesses only userspace can decide
 * (FNW_VERDICT_PENDING). Size set by userspace before load.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FNW_RINGBUF_DEFAULT_BYTES);
} events SEC(".maps") __weak;

/*
 * Violations and cgroup births: their own ring, so a flood of traced or
 * undecided records cannot crowd them out (emit.bpf.h). Size set by
 * userspace before load.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FNW_ALERTS_RINGBUF_DEFAULT_BYTES);
} alerts SEC(".maps") __weak;

/*
 * Per policy slot: accesses fnwarden neither decided nor saw, because the
 * ring had no room for their record and the policy only reports (see
 * fnw_counters.coverage_gaps). Never reset by the kernel; userspace keeps
 * its own baseline per slot.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FNW_MAX_POLICIES);
	__type(key, __u32);
	__type(value, __u64);
} coverage_gaps SEC(".maps") __weak;

/* See struct fnw_violation_reported: written and read by userspace only. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FNW_MAX_VIOLATION_TALLIES);
	__type(key, struct fnw_violation_key);
	__type(value, struct fnw_violation_reported);
} violation_reported SEC(".maps") __weak;

/* See struct fnw_slot_owner: written and read by userspace only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FNW_MAX_POLICIES);
	__type(key, __u32);
	__type(value, struct fnw_slot_owner);
} slot_owners SEC(".maps") __weak;

/*
 * CLOCK_BOOTTIME (ns) of the last time a daemon drained the ring buffers,
 * written through the skeleton's mmap of .bss. Pinned with the rest, it
 * tells an adopting daemon how long nobody was reading (status).
 */
__u64 reader_heartbeat_ns __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fnw_counters);
} counters SEC(".maps") __weak;

#endif /* FNWARDEN_MAPS_BPF_H */
