/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Ring-buffer reserve/submit with drop counting and batched wakeups. */
#ifndef FNWARDEN_EMIT_BPF_H
#define FNWARDEN_EMIT_BPF_H

#include "maps.bpf.h"
#include "policy.bpf.h"
#include <bpf/bpf_core_read.h>

/*
 * Wake the consumer only once this much data is pending. A wakeup per record
 * doubled the in-kernel cost of a record here (notes: 684 vs 340 ns); the
 * consumer polls with a short timeout, so latency stays bounded anyway.
 * Set by userspace before load.
 */
const volatile __u64 ringbuf_wakeup_bytes __weak = FNW_RINGBUF_DEFAULT_WAKEUP_BYTES;

/*
 * Ring-buffer records are only ever reached through void pointers, so clang
 * would emit no BTF for them. These anchors put every event struct into the
 * object's BTF (tests/unit/event_layout_test.cpp checks the layout from it).
 * Their section is not a map section: libbpf skips it, nothing is allocated.
 */
#define FNW_BTF_ANCHOR(name) struct name fnw_btf_anchor_##name SEC(".fnw.btf_anchors") __weak
FNW_BTF_ANCHOR(fnw_syscall_event);
FNW_BTF_ANCHOR(fnw_net_event);
FNW_BTF_ANCHOR(fnw_net_key);
FNW_BTF_ANCHOR(fnw_file_event);
FNW_BTF_ANCHOR(fnw_exec_key);
FNW_BTF_ANCHOR(fnw_unix_key);
FNW_BTF_ANCHOR(fnw_cgroup_event);

/* Same threshold for the alerts ring (set by userspace: at most 1/4 of it). */
const volatile __u64 alerts_wakeup_bytes __weak = FNW_RINGBUF_DEFAULT_WAKEUP_BYTES;

/*
 * Two rings. `alert`: violations and cgroup births go to `alerts`; traced
 * (allowed) and undecided (PENDING) records to `events`. A flood of traced
 * records, which any syscall of a traced function makes, fills `events`
 * only: another function's violation, or a neighbour's birth, still has
 * room. A PENDING record that finds no room is not let through either: the
 * caller fails closed (fnw_fail_closed).
 */
#define FNW_RING_EVENTS false
#define FNW_RING_ALERTS true

/*
 * Reserve a record; a failure is a drop and is counted, never silent.
 * `stats` must be non-NULL (callers check it once, up front).
 */
static __always_inline void *fnw_reserve(bool alert, __u64 size, struct fnw_counters *stats)
{
	void *rec;

	if (alert)
		rec = bpf_ringbuf_reserve(&alerts, size, 0);
	else
		rec = bpf_ringbuf_reserve(&events, size, 0);
	if (!rec) {
		__sync_fetch_and_add(&stats->ringbuf_drops, 1);
		if (alert)
			__sync_fetch_and_add(&stats->alert_drops, 1);
	}
	return rec;
}

/*
 * Where each ring's producer position was at its last forced wakeup. Once
 * the consumer fell a threshold behind, waking it on every record meant an
 * irq_work (a self-IPI: a VM exit here) per record: a traced getppid loop
 * went from 0.3 to 3-9 us a call, the producer throttled by its own
 * wakeups (docs/performance.md, "Tracing"). One forced wakeup per
 * threshold of bytes produced is enough: the ring's poll is level-
 * triggered (readable while data is pending), so a consumer that was
 * awake for a wakeup sees the data at its next epoll_wait. Racy between
 * CPUs: at worst an extra wakeup, or one a few records later.
 */
__u64 fnw_events_woken_at __weak;
__u64 fnw_alerts_woken_at __weak;

#define FNW_WAKE_CHECK_EVERY 16

/* `wake_now`: a reader is waited for (a held process): wake it whatever
 * the threshold. */
static __always_inline void fnw_submit_waking(bool alert, void *rec, struct fnw_counters *stats, bool wake_now)
{
	__u64 threshold, produced, *woken_at;
	const __u64 emitted = __sync_fetch_and_add(&stats->emitted, 1);

	/*
	 * The events ring is asked where its producer is at one record in
	 * FNW_WAKE_CHECK_EVERY of this CPU's: the query was a tenth of a traced
	 * record's cost in the kernel, and a wakeup a few records late is
	 * nothing against a threshold of 256 KiB. The alerts ring, whose
	 * records are rare, is asked at each.
	 */
	if (!wake_now && !alert && emitted % FNW_WAKE_CHECK_EVERY) {
		bpf_ringbuf_submit(rec, BPF_RB_NO_WAKEUP);
		return;
	}
	if (alert) {
		produced = bpf_ringbuf_query(&alerts, BPF_RB_PROD_POS);
		threshold = alerts_wakeup_bytes;
		woken_at = &fnw_alerts_woken_at;
	} else {
		produced = bpf_ringbuf_query(&events, BPF_RB_PROD_POS);
		threshold = ringbuf_wakeup_bytes;
		woken_at = &fnw_events_woken_at;
	}
	/* What is pending is asked only once a threshold was produced since
	 * the last wakeup: one query instead of two for nearly every record. */
	bool wake = wake_now;

	if (!wake && produced - *woken_at >= threshold)
		wake = (alert ? bpf_ringbuf_query(&alerts, BPF_RB_AVAIL_DATA)
			      : bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA)) >= threshold;
	if (wake) {
		*woken_at = produced;
		bpf_ringbuf_submit(rec, BPF_RB_FORCE_WAKEUP);
	} else {
		bpf_ringbuf_submit(rec, BPF_RB_NO_WAKEUP);
	}
}

static __always_inline void fnw_submit(bool alert, void *rec, struct fnw_counters *stats)
{
	fnw_submit_waking(alert, rec, stats, false);
}

/*
 * Whether a violation gets its own record. The first of its key in a
 * window does (and opens the window); the next ones in the window are
 * counted in violation_tally, which userspace reads and reports as
 * summaries. `repeats` only ever grows (userspace remembers how many it
 * reported), so the kernel and userspace never write the same field and
 * no repeat is lost between them. Only for violations already acted on in
 * the kernel: a record userspace must act on (a kill it sends) is never
 * left out.
 */
static __always_inline bool fnw_violation_reported(const struct fnw_violation_key *key, __u32 policy_id,
						   struct fnw_counters *stats)
{
	__u64 now = bpf_ktime_get_boot_ns();
	struct fnw_violation_tally *tally = bpf_map_lookup_elem(&violation_tally, key);

	if (tally && now - tally->window_start_ns < FNW_VIOLATION_WINDOW_NS) {
		/* Racy between CPUs for first/last: a few ns either way. */
		if (!tally->first_ns)
			tally->first_ns = now;
		tally->last_ns = now;
		__sync_fetch_and_add(&tally->repeats, 1);
		__sync_fetch_and_add(&stats->violations_aggregated, 1);
		return false;
	}
	if (tally) {
		/* A new window: this one is reported, its repeats start again. */
		tally->window_start_ns = now;
		tally->first_ns = 0;
		return true;
	}
	struct fnw_violation_tally fresh = { .window_start_ns = now, .policy_id = policy_id };

	bpf_map_update_elem(&violation_tally, key, &fresh, BPF_NOEXIST);
	return true;
}

/* Something of policy `policy_id` happened that fnwarden neither decided nor saw. */
static __always_inline void fnw_count_gap(__u32 policy_id, struct fnw_counters *stats)
{
	__u64 *gaps = bpf_map_lookup_elem(&coverage_gaps, &policy_id);

	if (gaps)
		__sync_fetch_and_add(gaps, 1);
	__sync_fetch_and_add(&stats->coverage_gaps, 1);
}

/*
 * Header fields every program type fills alike: all but the task's ids,
 * comm and lineage. ppid and the lineage need the task struct, which only
 * tracing programs may read (bpf_get_current_task_btf); cgroup socket
 * hooks leave them empty and userspace fills them in.
 */
static __always_inline void fnw_fill_header_common(struct fnw_event_header *hdr, __u32 type, __u32 size,
						   __u64 cgroup_id, __u32 policy_id)
{
	hdr->type = type;
	hdr->size = size;
	hdr->boot_ns = bpf_ktime_get_boot_ns();
	hdr->cgroup_id = cgroup_id;
	hdr->ppid = 0;
	hdr->policy_id = policy_id;
	hdr->lineage_len = 0;
	hdr->lineage_truncated = 0;
	hdr->lineage_source = FNW_LINEAGE_FROM_KERNEL;
}

/* For the cgroup socket hooks, which cannot read the task: the helpers. */
static __always_inline void fnw_fill_header_base(struct fnw_event_header *hdr, __u32 type, __u32 size,
						 __u64 cgroup_id, __u32 policy_id)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	fnw_fill_header_common(hdr, type, size, cgroup_id, policy_id);
	hdr->pid = pid_tgid >> 32;
	hdr->tid = (__u32)pid_tgid;
	bpf_get_current_comm(hdr->comm, sizeof(hdr->comm));
}

/* The parent's tgid and the ancestors fnw_lineage_walk found. */
struct fnw_lineage {
	__u32 tgid[FNW_LINEAGE_MAX];
	__u32 len;
	__u32 truncated;
	__u32 ppid;
	__u32 pad;
	/* lineage_epoch + 1 as fnw_lineage_recall read it before the walk. */
	__u64 epoch;
};

/* include/linux/sched.h: set by exit_signals() at the start of do_exit(). */
#define FNW_PF_EXITING 0x00000004

/*
 * The ancestors inside the function, up to its root: each parent of the
 * current task in turn, for as long as it runs in a monitored cgroup under
 * the same policy. Paid only by events that are emitted, never on the
 * allowed path. One map lookup per level; the bound keeps the verifier's
 * walk short. Returns whether it met an exiting task on the way (the stop
 * included): that task's children are about to move.
 *
 * Probe reads (BPF_CORE_READ), not BTF loads: on 6.18 every load of a
 * pointer through a trusted or RCU pointer (task->real_parent,
 * ->cgroups, ->dfl_cgrp, ->kn) makes the verifier search vmlinux's BTF by
 * name for "<type>__safe_trusted" and the like, 125,000 types a miss, at
 * every level of this unrolled loop: 1.5 of the 2 s the daemon spent
 * loading its programs (docs/performance.md, "Daemon ready"). And a global
 * function, not inlined, so the verifier walks its nine levels once per
 * program instead of once per path to an emit (half of what it processed
 * for fnw_file_exit). `out` is on the caller's stack, zeroed: 6.1's global
 * functions take pointers to memory, not to a ring-buffer record's field.
 * __weak: every object that includes this header defines it, the linker
 * keeps one.
 */
__weak __noinline int fnw_lineage_walk(__u32 policy_id, struct fnw_lineage *out)
{
	struct task_struct *ancestor;
	__u32 len = 0, flags = 0;

	if (!out)
		return 0;
	ancestor = BPF_CORE_READ(bpf_get_current_task_btf(), real_parent);
	out->truncated = 0;
	for (int i = 0; i < FNW_LINEAGE_MAX + 1; i++) {
		if (!ancestor)
			break;
		if (i == 0)
			out->ppid = BPF_CORE_READ(ancestor, tgid);
		/* Or'd, not tested here: a branch per level would double the
		 * verifier's paths at each. */
		flags |= BPF_CORE_READ(ancestor, flags);
		__u64 id = BPF_CORE_READ(ancestor, cgroups, dfl_cgrp, kn, id);
		struct fnw_cgroup_entry *entry = fnw_lookup_cgroup(id);

		if (!entry || entry->policy_id != policy_id)
			break;
		if (i == FNW_LINEAGE_MAX) {
			out->truncated = 1; /* one more ancestor than fits */
			break;
		}
		out->tgid[i] = i == 0 ? out->ppid : BPF_CORE_READ(ancestor, tgid);
		len++;
		ancestor = BPF_CORE_READ(ancestor, real_parent);
	}
	out->len = len;
	return (flags & FNW_PF_EXITING) != 0;
}

/*
 * The lineage remembered: the task's storage (lineage_memo) keeps what
 * fnw_lineage_walk found, reused while lineage_epoch stays where it was
 * before the walk. A traced getppid loop paid the walk's seven probe reads
 * at every record (docs/performance.md, "The lineage remembered"). The
 * memo last used on each CPU is also kept in lineage_last, looked at
 * first: a task that makes record after record on one CPU skips the task
 * storage lookup too.
 *
 * Only tp_btf/sys_enter's records (fnw_sys_enter) recall and remember,
 * the hot path that needed it: a task in a system call's entry, no lock
 * held, the context task storage is made for. Every other program that
 * emits (the BPF-LSM hooks, cgroup_mkdir under trace_cgroup_path_lock with
 * interrupts off, the file and exec tracepoints, sys_exit) walks and
 * leaves task storage alone: with the memo in all of them the Debian 6.1
 * guest soft-locked both CPUs once in four lanes (docs/architecture.md,
 * "A task's lineage is remembered"): rare records, they gain nothing.
 *
 * What a lineage is made of, and what moves the epoch when it changes:
 *  - a parent pointer, changed only by the exit of that parent (or of its
 *    thread that forked): every exit moves the epoch, at
 *    sched_process_exit. That tracepoint fires before exit_notify()
 *    reparents the children, so a walk that runs in between would
 *    remember the old parent under the new epoch; but PF_EXITING is set
 *    before the tracepoint, and a walk that meets an exiting task on the
 *    way (the stop included) is not remembered;
 *  - an ancestor's cgroup: moved at cgroup_attach_task, after the move;
 *  - an ancestor cgroup's policy: userspace moves it after each write to
 *    monitored_cgroups (cgroup_mkdir's entries are for new, empty cgroups,
 *    cgroup_rmdir's for empty ones);
 *  - the task's own policy: remembered with the lineage.
 * Moving it after the change leaves a window: a record made while a
 * cgroup migration or a registration is still in its system call may name
 * the lineage from just before it, as a walk racing it could.
 *
 * Three steps, each a global function the verifier walks once: recall
 * (1: `out` holds the remembered lineage; 0: it holds the epoch to
 * remember under), walk, remember. One function would keep a pointer
 * that may be NULL across the walk, and the verifier would walk it twice.
 */
/* Whether `memo` holds the lineage of policy `policy_id` under out->epoch;
 * if so, copies it into `out`. */
static __always_inline bool fnw_lineage_copy_current(const struct fnw_lineage_memo *memo, __u32 policy_id,
						     struct fnw_lineage *out)
{
	if (memo->epoch != out->epoch || memo->policy_id != policy_id)
		return false;
	__builtin_memcpy(out->tgid, memo->tgid, sizeof(out->tgid));
	out->len = memo->len;
	out->truncated = memo->truncated;
	out->ppid = memo->ppid;
	return true;
}

static __always_inline void fnw_lineage_fill_memo(struct fnw_lineage_memo *memo, __u32 policy_id,
						  const struct fnw_lineage *from)
{
	__builtin_memcpy(memo->tgid, from->tgid, sizeof(memo->tgid));
	memo->len = from->len;
	memo->truncated = from->truncated;
	memo->ppid = from->ppid;
	memo->policy_id = policy_id;
	memo->epoch = from->epoch;
}

/* This CPU's lineage_last slot, for fnw_sys_enter only (see fnw_lineage_recall). */
static __always_inline struct fnw_lineage_last *fnw_lineage_last_slot(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&lineage_last, &zero);
}

/*
 * One per-CPU slot is safe here for the reason fnw_hand_over's is
 * (dispatch.bpf.h): fnw_sys_enter runs with preemption disabled and does
 * not nest in itself, and no other program touches the slot.
 * `current_tid`: the current task's thread id, which the caller has read.
 */
__weak __noinline int fnw_lineage_recall(__u32 policy_id, __u32 current_tid, struct fnw_lineage *out)
{
	struct fnw_lineage_last *last;
	struct fnw_lineage_memo *memo;
	struct task_struct *task;

	if (!out)
		return 0;
	/* Read before the walk: whatever moves it from here on makes the memo
	 * written after it stale. */
	out->epoch = *(volatile __u64 *)&lineage_epoch + 1;
	barrier();
	last = fnw_lineage_last_slot();
	if (last && last->tid == current_tid && fnw_lineage_copy_current(&last->memo, policy_id, out))
		return 1;
	/* Off the hot path: a global function takes no task pointer on 6.1. */
	task = bpf_get_current_task_btf();
	memo = bpf_task_storage_get(&lineage_memo, task, 0, 0);
	if (!memo || !fnw_lineage_copy_current(memo, policy_id, out))
		return 0;
	if (last) {
		last->tid = current_tid;
		last->memo = *memo;
	}
	return 1;
}

__weak __noinline int fnw_lineage_remember(__u32 policy_id, struct fnw_lineage *out)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fnw_lineage_last *last;
	struct fnw_lineage_memo *memo;

	if (!out)
		return 0;
	memo = bpf_task_storage_get(&lineage_memo, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (memo)
		fnw_lineage_fill_memo(memo, policy_id, out);
	last = fnw_lineage_last_slot();
	if (last) {
		last->tid = task->pid;
		fnw_lineage_fill_memo(&last->memo, policy_id, out);
	}
	return 0;
}

/*
 * For tracing programs (tp_btf, BPF-LSM): also the parent and the lineage.
 * `remember`, a constant at each call: only fnw_sys_enter's records pass
 * true (see fnw_lineage_recall); the others' programs hold no call that
 * touches task storage.
 */
static __always_inline void fnw_fill_header_walked(struct fnw_event_header *hdr, __u32 type, __u32 size,
						   __u64 cgroup_id, __u32 policy_id, struct task_struct *task,
						   const bool remember)
{
	struct fnw_lineage lineage = {};

	fnw_fill_header_common(hdr, type, size, cgroup_id, policy_id);
	/*
	 * Loads from the task instead of the helpers' calls (what
	 * bpf_get_current_pid_tgid returns is task->tgid and ->pid). comm's
	 * helper, with its strscpy and padding, was 3% of a traced getppid
	 * loop's CPU. __set_task_comm pads comm with NULs (strscpy_pad since
	 * 5.2), so these are the bytes the helper would copy; a rename racing
	 * this may tear it, as it may the helper's copy.
	 */
	hdr->pid = task->tgid;
	hdr->tid = task->pid;
	__builtin_memcpy(hdr->comm, task->comm, sizeof(hdr->comm));
	if (remember) {
		if (!fnw_lineage_recall(policy_id, task->pid, &lineage) && !fnw_lineage_walk(policy_id, &lineage))
			fnw_lineage_remember(policy_id, &lineage);
	} else {
		fnw_lineage_walk(policy_id, &lineage);
	}
	hdr->ppid = lineage.ppid;
	__builtin_memcpy(hdr->lineage, lineage.tgid, sizeof(hdr->lineage));
	hdr->lineage_len = lineage.len;
	hdr->lineage_truncated = lineage.truncated;
}

/* Every tracing program's records but fnw_sys_enter's: walked each time. */
static __always_inline void fnw_fill_header(struct fnw_event_header *hdr, __u32 type, __u32 size,
					    __u64 cgroup_id, __u32 policy_id)
{
	fnw_fill_header_walked(hdr, type, size, cgroup_id, policy_id, bpf_get_current_task_btf(), false);
}

/* fnw_sys_enter's records (tp_btf/sys_enter only): the lineage remembered.
 * `task` is the current task, which the caller already has. */
static __always_inline void fnw_fill_header_remembered(struct fnw_event_header *hdr, __u32 type, __u32 size,
						       __u64 cgroup_id, __u32 policy_id, struct task_struct *task)
{
	fnw_fill_header_walked(hdr, type, size, cgroup_id, policy_id, task, true);
}

/* x86_64 syscall ABI: the arguments are in rdi rsi rdx r10 r8 r9. */
static __always_inline __u64 fnw_syscall_arg(const struct pt_regs *regs, __u32 index)
{
	switch (index) {
	case 0: return regs->di;
	case 1: return regs->si;
	case 2: return regs->dx;
	case 3: return regs->r10;
	case 4: return regs->r8;
	default: return regs->r9;
	}
}

/* All six, as direct loads (the callers have typed user registers). */
static __always_inline void fnw_copy_syscall_args(__u64 args[FNW_SYSCALL_ARGS], const struct pt_regs *regs)
{
	args[0] = regs->di;
	args[1] = regs->si;
	args[2] = regs->dx;
	args[3] = regs->r10;
	args[4] = regs->r8;
	args[5] = regs->r9;
}

#define FNW_SIGKILL 9

/*
 * SIGKILL to the current process, counted either way. The signal is
 * delivered on the way back to user space: whatever the process is doing in
 * the kernel completes first (docs/enforcement.md). Tracing programs only
 * (cgroup socket programs may not send signals).
 */
static __always_inline bool fnw_kill_current(struct fnw_counters *stats)
{
	if (bpf_send_signal(FNW_SIGKILL) == 0) {
		__sync_fetch_and_add(&stats->kills, 1);
		return true;
	}
	__sync_fetch_and_add(&stats->signal_errors, 1);
	return false;
}

#define FNW_SIGSTOP 19

/*
 * Hold the current process until userspace's verdict on an operation that
 * already happened (an open, an unlink, an exec) and that only userspace
 * can decide (a glob, a name): SIGSTOP, delivered before the task returns
 * to user space, so it never uses the fd or runs the new image, and an
 * entry in holds that userspace deletes before it lets it go (SIGCONT) or
 * kills it. SIGSTOP cannot be caught or blocked. False when it cannot hold
 * (holds full, or the signal failed): the caller fails closed.
 */
static __always_inline bool fnw_hold_current(__u64 cgroup_id, __u32 policy_id, struct fnw_counters *stats)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct fnw_hold hold = {
		.held_ns = bpf_ktime_get_boot_ns(),
		.cgroup_id = cgroup_id,
		.tgid = (__u32)(pid_tgid >> 32),
		.policy_id = policy_id,
	};

	if (bpf_map_update_elem(&holds, &tid, &hold, BPF_ANY))
		return false;
	if (bpf_send_signal(FNW_SIGSTOP)) {
		bpf_map_delete_elem(&holds, &tid);
		__sync_fetch_and_add(&stats->signal_errors, 1);
		return false;
	}
	__sync_fetch_and_add(&stats->file_held, 1);
	return true;
}

/*
 * The record of an access only userspace could decide (PENDING) found no
 * room in the ring: nobody will ever decide it. Letting it through would
 * make flooding the ring a way past every glob rule, so where the policy
 * acts (`kernel_action` is not report) the task is killed, as for a
 * violation. A report-only policy lets it be and counts a coverage gap for
 * the function; so does a kill that could not be sent.
 */
static __always_inline void fnw_fail_closed(__u32 kernel_action, __u32 policy_id, struct fnw_counters *stats)
{
	if (kernel_action != FNW_KACTION_REPORT && fnw_kill_current(stats)) {
		__sync_fetch_and_add(&stats->fail_closed_kills, 1);
		return;
	}
	fnw_count_gap(policy_id, stats);
}

/*
 * The fields of a file record its producer may not set, zeroed without
 * touching the 12 KiB of strings (each producer writes the ones it uses).
 */
static __always_inline void fnw_file_event_clear(struct fnw_file_event *ev)
{
	ev->access = 0;
	ev->access2 = 0;
	ev->open_flags = 0;
	ev->resolved_kind = FNW_RESOLVED_NONE;
	ev->resolved_truncated = 0;
	ev->path2_truncated = 0;
	ev->traced = 0;
	ev->held = 0;
	ev->dev = 0;
	ev->ino = 0;
	ev->parent_ino = 0;
	ev->generation = 0;
	ev->missing = 0;
	ev->object_flags = 0;
	ev->dfd2 = -100; /* AT_FDCWD */
	ev->sha256_check = FNW_SHA256_NOT_CHECKED;
	ev->resolve_note = FNW_RESOLVE_NOTE_NONE;
	ev->resolved[0] = '\0';
	ev->path2[0] = '\0';
}

#endif /* FNWARDEN_EMIT_BPF_H */
