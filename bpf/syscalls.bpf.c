// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The raw syscall hooks: the syscall allowlist, decided in the kernel, and
 * the dispatch of every other family's syscall handlers.
 *
 * tp_btf/sys_enter is the cheapest always-on syscall hook on this kernel
 * (notes/kernel-and-peers.md: +21 ns empty, vs +20 raw_tp but +53 for
 * cgroup-id + hash miss through raw_tp). Only violations, or every event of
 * a cgroup with tracing on, reach the ring buffer.
 *
 * The file, network and process families watch particular syscalls. They
 * used to attach to the per-syscall tracepoints (syscalls/sys_enter_openat,
 * ...), which fire only for their syscall but, once any of them is
 * attached, put every syscall of every task on the host through the perf
 * syscall callbacks and enable the sys_exit tracepoint. Now their handlers
 * are tail-called from here (dispatch.bpf.h), after the fast path: a
 * process outside every function pays the cgroup lookup at sys_enter and,
 * while some policy needs an exit handler, a bit test on the syscall number
 * at sys_exit (and the lookup for a syscall that has one): docs/performance.md,
 * "Bystanders".
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "dispatch.bpf.h"
#include "emit.bpf.h"
#include "policy.bpf.h"
#include "rule_use.bpf.h"

/*
 * The word of a syscall bitmap that holds `bit`, masked as well as range
 * checked: when clang spills the number to the stack between the check and
 * the load (register pressure changes with every edit nearby), the 6.1
 * verifier reloads it without the check's bounds and refuses the program
 * ("unbounded memory access"). The mask is a bound it cannot lose.
 */
static __always_inline __u32 fnw_bitmap_word(__u32 bit)
{
	__u32 word = bit / 64;

	/* Hide the value from clang, or it proves the mask useless (the
	 * caller checked the range) and drops it. */
	barrier_var(word);
	return word & (FNW_SYSCALL_BITMAP_WORDS - 1);
}

/*
 * Syscall `nr`'s bit in a syscall bitmap: an allowlist, or enter_handled
 * and exit_handled (whether it has a handler). Numbers outside the bitmap
 * (x32 bit, negative ids from seccomp) have none: never allowed, never
 * dispatched.
 */
static __always_inline bool syscall_bit(const __u64 *bits, long nr)
{
	if (nr < 0 || nr >= FNW_MAX_SYSCALLS)
		return false;
	__u32 bit = (__u32)nr; /* unsigned: BPF has no signed division */

	return bits[fnw_bitmap_word(bit)] & (1ull << (bit % 64));
}

static __always_inline bool syscall_allowed(const struct fnw_policy *policy, long nr)
{
	return syscall_bit(policy->syscall_allow, nr);
}

/* Sets syscall `nr`'s bit in `bits` (a learned set, or the grants used). */
static __always_inline void note_syscall(__u64 *bits, long nr)
{
	if (!bits || nr < 0 || nr >= FNW_MAX_SYSCALLS)
		return;
	__u32 bit = (__u32)nr;
	__u64 mask = 1ull << (bit % 64);

	/* Read first: after warm-up almost every syscall is already known, and
	 * a plain load is cheaper than an atomic on a shared cache line. */
	const __u32 word = fnw_bitmap_word(bit);

	if (!(bits[word] & mask))
		__sync_fetch_and_or(&bits[word], mask);
}

static __always_inline void learn_syscall(__u32 policy_id, long nr)
{
	struct fnw_syscall_set *seen = bpf_map_lookup_elem(&learned_syscalls, &policy_id);

	if (seen)
		note_syscall(seen->bits, nr);
}

/* syscalls.allow let `nr` through: that grant is used (fnw_rule_use). */
static __always_inline void use_syscall_grant(__u32 policy_id, long nr)
{
	struct fnw_rule_use *use = fnw_rule_use(policy_id);

	if (use)
		note_syscall(use->syscalls, nr);
}

/* The allowlist's check of syscall `id` of a monitored function. */
static __always_inline void check_syscall(struct pt_regs *regs, long id, struct task_struct *task,
					  const struct fnw_cgroup_entry *cg, __u64 cgroup_id)
{
	__u32 policy_id = cg->policy_id;
	struct fnw_policy *policy = fnw_policy(policy_id);
	struct fnw_counters *stats = fnw_counters();

	/*
	 * counters has one per-CPU slot and cannot miss; checking it once here
	 * keeps stats non-NULL below. Testing it again around the ring-buffer
	 * record made the 6.1 verifier lose track of the record's NULL check
	 * ("Unreleased reference") while 6.18 accepted it.
	 */
	if (!policy || !stats)
		return;
	__sync_fetch_and_add(&stats->events, 1);

	if (cg->flags & FNW_CGROUP_LEARN)
		learn_syscall(policy_id, id);

	bool allowed = syscall_allowed(policy, id);

	if (allowed)
		use_syscall_grant(policy_id, id);
	if (allowed && !(cg->flags & FNW_CGROUP_TRACE))
		return; /* allowed and not traced: no userspace work at all */

	__u8 action = FNW_ACTION_NONE;
	__u8 mechanism = FNW_MECH_NONE;

	if (!allowed) {
		__sync_fetch_and_add(&stats->violations, 1);
		action = FNW_ACTION_REPORTED;
		if (policy->syscall_action == FNW_KACTION_KILL) {
			/*
			 * The signal is delivered on return to user space: the
			 * syscall itself still runs (docs/enforcement.md).
			 */
			if (fnw_kill_current(stats)) {
				action = FNW_ACTION_KILLED;
				mechanism = FNW_MECH_SIGKILL;
			}
		}
	}

	if (!allowed) {
		/* Acted on above: a repeat of the same syscall is only counted. */
		struct fnw_violation_key vkey = { .cgroup_id = cgroup_id, .type = FNW_EVENT_SYSCALL, .what = (__u32)id };

		if (!fnw_violation_reported(&vkey, policy_id, stats))
			return;
	}

	struct fnw_syscall_event *ev = fnw_reserve(!allowed, sizeof(*ev), stats);

	if (!ev) {
		if (action == FNW_ACTION_REPORTED)
			fnw_count_gap(policy_id, stats); /* let through, and unreported */
		return;
	}
	fnw_fill_header_remembered(&ev->hdr, FNW_EVENT_SYSCALL, sizeof(*ev), cgroup_id, policy_id, task);
	ev->nr = (__u32)id;
	ev->verdict = allowed ? FNW_VERDICT_ALLOWED : FNW_VERDICT_VIOLATION;
	ev->action = action;
	ev->mechanism = mechanism;
	ev->rule = FNW_RULE_SYSCALLS_ALLOW;
	/* tp_btf gives a typed pointer to the user registers: direct loads. */
	fnw_copy_syscall_args(ev->args, regs);
	fnw_submit(!allowed, ev, stats);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(fnw_sys_enter, struct pt_regs *regs, long id)
{
	__u64 cgroup_id;
	struct task_struct *task = bpf_get_current_task_btf();
	const struct fnw_cgroup_entry *cg = fnw_task_cgroup_dispatch(task, &cgroup_id);

	if (!cg)
		return 0; /* not a monitored function: the fast path ends here */

	if (fnw_armed(cgroup_id, cg))
		return 0; /* still the launcher, before its execve completed */

	check_syscall(regs, id, task, cg, cgroup_id);
	/* The file, network or process handler of this syscall, if any. */
	if (!syscall_bit(enter_handled, id))
		return 0;
	fnw_hand_over(task, cgroup_id, cg);
	fnw_dispatch(ctx, &sys_enter_handlers, id, task);
	return 0;
}

#define EACCES 13

/*
 * Attached while some policy needs a handler at sys_exit (the file and
 * network families pair an enter with its result) or Landlock reporting:
 * every syscall on the host pays this fast path then, nothing more.
 */
SEC("tp_btf/sys_exit")
int BPF_PROG(fnw_sys_exit_dispatch, struct pt_regs *regs, long ret)
{
	const long nr = fnw_exit_nr(regs);

	/* Nothing to pair and nothing Landlock refused: done before the
	 * cgroup lookup (nearly every syscall of every task). */
	if (ret != -EACCES && !syscall_bit(exit_handled, nr))
		return 0;

	__u64 cgroup_id;
	struct task_struct *task = bpf_get_current_task_btf();
	const struct fnw_cgroup_entry *cg = fnw_task_cgroup_dispatch(task, &cgroup_id);

	if (!cg)
		return 0; /* not a monitored function: the fast path ends here */

	fnw_hand_over(task, cgroup_id, cg);
	/* Landlock's refusal is reported first; that handler dispatches on. */
	if (ret == -EACCES && (cg->flags & FNW_CGROUP_LANDLOCK))
		bpf_tail_call(ctx, &landlock_exit_handler, 0);
	fnw_dispatch(ctx, &sys_exit_handlers, nr, task);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
