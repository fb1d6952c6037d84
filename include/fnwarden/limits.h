/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Sizes shared by the BPF programs and userspace. Every map size and every
 * fixed array in an event lives here, so the two sides cannot disagree.
 */
#ifndef FNWARDEN_LIMITS_H
#define FNWARDEN_LIMITS_H

/* x86_64 has < 512 syscall numbers (462 on 6.18); the bitmap covers 0..511. */
#define FNW_MAX_SYSCALLS 512
#define FNW_SYSCALL_BITMAP_WORDS (FNW_MAX_SYSCALLS / 64)

/* cgroup id -> policy entries. A host runs far fewer functions than this. */
#define FNW_MAX_MONITORED_CGROUPS 65536

/*
 * Prefilter in front of monitored_cgroups: one bit per (cgroup id mod 2^20),
 * 128 KiB of .bss. A clear bit proves "not monitored" with one load and no
 * helper call; a set bit (monitored, or a collision) falls through to the
 * exact hash lookup.
 */
#define FNW_CGROUP_FILTER_BITS (1u << 20)
#define FNW_CGROUP_FILTER_WORDS (FNW_CGROUP_FILTER_BITS / 64)

/* Policy slots; a reload writes new slots before cgroups flip to them. */
#define FNW_MAX_POLICIES 1024

/*
 * Grants counted per policy slot (fnw_rule_use.grants): process bits below
 * 8, file rule slots of 8 bits from 8 up to FNW_USE_NET_BASE, network keys
 * from there. A policy with more is counted up to the limit; the rest is
 * reported as not counted, never as unused.
 */
#define FNW_RULE_USE_BITS 4096
#define FNW_RULE_USE_WORDS (FNW_RULE_USE_BITS / 64)
#define FNW_USE_FILE_SLOTS 255 /* slots 1..255: bits 8..2047 */
#define FNW_USE_NET_BASE 2048

/* A function's or policy's name as kept in the slot_owners map, NUL included. */
#define FNW_SLOT_OWNER_MAX 128

/* Network allowlist entries (one per rule x port), all policies together. */
#define FNW_MAX_NET_RULES 65536

/* Default ring buffer: 8 MiB kept up with 2-4M events/s here (notes). */
#define FNW_RINGBUF_DEFAULT_BYTES (8u << 20)

/*
 * The alerts ring: violations and cgroup births, kept
 * apart from traced and undecided records, so a flood of traced records
 * cannot crowd them out (emit.bpf.h). 1 MiB holds ~80 file records or
 * ~3000 syscall/net records between two drains.
 */
#define FNW_ALERTS_RINGBUF_DEFAULT_BYTES (1u << 20)

/* Force a consumer wakeup once this much data is pending (see emit.bpf.h). */
#define FNW_RINGBUF_DEFAULT_WAKEUP_BYTES (256u << 10)

#define FNW_COMM_LEN 16

/* Path strings read from user memory, NUL included (PATH_MAX). */
#define FNW_PATH_MAX 4096

/*
 * cgroup paths reported at cgroup_mkdir (relative to the hierarchy root).
 * Kubernetes paths are ~200 bytes; longer ones are reported truncated and
 * never match a selector.
 */
#define FNW_CGROUP_PATH_MAX 1024

/* Exec allowlist keys checked under BPF-LSM: longer paths are never allowed. */
#define FNW_EXEC_PATH_MAX 256
#define FNW_MAX_EXEC_RULES 4096

/* file_rules entries (inodes named by exact or dir + "**" patterns), all policies. */
#define FNW_MAX_FILE_RULES 16384
/* violation_tally: (cgroup, violation) keys counted at once (LRU). */
#define FNW_MAX_VIOLATION_TALLIES 8192
/* One record per identical violation of a cgroup per window. */
#define FNW_VIOLATION_WINDOW_NS 1000000000ull
/* file_rule_names entries (each rule object's way up to its mount's root). */
#define FNW_MAX_FILE_RULE_NAMES 16384
/* rules_roots: (policy slot, container or chroot root) pairs with compiled rules. */
#define FNW_MAX_RULES_ROOTS 4096
/* Longest entry name file_rule_names holds, NUL included (a power of two). */
#define FNW_RULE_NAME_MAX 64
/* file_verdicts: opens already found allowed (LRU, all policies). */
#define FNW_MAX_FILE_VERDICTS 65536
/* Threads stopped until userspace's verdict (holds), host-wide. A hold that
 * finds the map full fails closed: the thread is killed. */
#define FNW_MAX_HOLDS 4096
/* File syscalls in flight between sys_enter and sys_exit, host-wide. */
#define FNW_MAX_FILE_PENDING 16384
/*
 * Directory levels the probe walks up from a file (mount crossings
 * included). Deeper paths are reported truncated and never match a kernel
 * rule above the cut: they go to userspace, never silently allowed.
 */
#define FNW_PATH_DEPTH 64
#define FNW_SYSCALL_ARGS 6

/* sizeof(((struct sockaddr_un *)0)->sun_path): a unix socket's name. */
#define FNW_UNIX_PATH_MAX 108
#define FNW_MAX_UNIX_RULES 4096

/* Ancestors an event names (fnw_event_header.lineage): a function whose
 * process tree is deeper reports the nearest ones and says it was cut. */
#define FNW_LINEAGE_MAX 8

#endif /* FNWARDEN_LIMITS_H */
