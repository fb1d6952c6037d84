/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel's per-CPU counters (struct fnw_counters), listed once.
 *
 * Everything that names a counter is generated from this list, so adding one
 * here is the whole change: the BPF struct field (kernel_abi.h), its sum over
 * CPUs and its field in userspace (probes/probe_counters.hpp), its key in
 * `status` (counters.kernel), its Prometheus metric when it has one
 * (output/metrics.cpp) and the words `fnwarden status` prints after it.
 *
 * X(field, cli_text, metric, help):
 *   field     the struct field and the JSON key; the order is the struct's
 *             layout (tests/unit/event_layout_test.cpp checks it against BTF)
 *   cli_text  what follows the number in `fnwarden status`
 *   metric    the Prometheus counter reading it, "" for none; its name and
 *             HELP are documented in docs/daemon.md and scraped by the e2e
 *   help      the metric's HELP, or what the counter counts
 *
 * Only the field reaches the BPF object: the strings are never expanded there.
 *
 * Ring buffer full (docs/threat-model.md, "Flooding the ring buffer").
 * fail_closed_kills: an access only userspace could decide (PENDING) had no
 * room for its record, and the policy acts: the task was killed instead of
 * let through. coverage_gaps: such an access, or a report-only violation,
 * lost with nothing done about it (per policy slot in the coverage_gaps map).
 * alert_drops: records lost from the alerts ring (violations, births);
 * birth_drops: of which cgroup births (the daemon rescans the cgroup tree
 * when it moves).
 */
#ifndef FNWARDEN_COUNTERS_H
#define FNWARDEN_COUNTERS_H

#define FNW_KERNEL_COUNTERS(X)                                                                             \
	X(events, "syscalls seen", "fnwarden_kernel_syscalls_total",                                       \
	  "Syscalls of monitored cgroups seen by the probes.")                                             \
	X(violations, "violations", "", "Syscalls outside the allowlist.")                                 \
	X(emitted, "records emitted", "", "Records written to the ring buffer.")                           \
	X(ringbuf_drops, "ring-buffer drops", "fnwarden_ringbuf_drops_total",                              \
	  "Events lost because the ring buffer was full (kernel counter).")                                \
	X(kills, "killed", "fnwarden_kernel_kills_total", "Processes killed from the sys_enter probe.")    \
	X(signal_errors, "signal errors", "", "bpf_send_signal failures.")                                 \
	X(cgroups_inherited, "cgroups inherited", "",                                                      \
	  "Child cgroups that got their parent's policy at mkdir.")                                        \
	X(net_checks, "network checks", "", "connect/sendmsg/bind checked in monitored cgroups.")          \
	X(net_violations, "network violations", "", "Network operations outside the policy.")              \
	X(net_denied, "denied", "", "Network operations refused by a cgroup hook (EPERM).")                \
	X(file_checks, "checked in the kernel", "", "File operations checked in monitored cgroups.")       \
	X(file_violations, "violations decided there", "",                                                 \
	  "File violations decided by the kernel (userspace counts its own).")                             \
	X(file_pending, "sent to userspace", "", "File operations sent to userspace's glob matcher.")      \
	X(file_cache_hits, "answered by the verdict cache", "", "Opens answered by file_verdicts.")       \
	X(file_pending_lost, "lost (pending map full)", "", "File operations entered without an exit.")   \
	X(file_held, "held for the verdict", "fnwarden_kernel_holds_total",                               \
	  "Processes stopped at an operation's end until userspace's verdict on it.")                     \
	X(file_lsm_denied, "refused by bpf-lsm", "", "Opens refused by lsm/file_open (EPERM).")            \
	X(new_roots, "execs in a new root", "",                                                            \
	  "Execs in a root the policy's rules were not compiled in yet, held (enforce) until they are.")   \
	X(process_violations, "ptrace/bpf/exec-memory violations", "",                                     \
	  "spec.process rules broken (process.bpf.c).")                                                    \
	X(process_denied, "refused by bpf-lsm", "", "Process operations refused by a BPF-LSM hook.")       \
	X(fail_closed_kills, "killed fail-closed", "fnwarden_fail_closed_kills_total",                     \
	  "Processes killed because an access only fnwarden could decide found the ring full.")            \
	X(coverage_gaps, "coverage gaps", "", "Accesses neither decided nor reported: the ring was full.") \
	X(alert_drops, "alert-ring drops", "", "Records lost from the alerts ring.")                       \
	X(birth_drops, "cgroup-birth drops", "", "Cgroup births lost from the alerts ring.")               \
	X(violations_aggregated, "violations aggregated", "",                                              \
	  "Violations counted in violation_tally instead of a record each.")

#endif /* FNWARDEN_COUNTERS_H */
