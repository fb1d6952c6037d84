// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Reporting what Landlock refused.
 *
 * The launcher applies Landlock to a function (runtime/landlock_sandbox.*):
 * a refused open, mkdir, unlink, rename, link or execve, and from ABI 4 a
 * refused TCP connect or bind, fails with EACCES and never happens. Landlock
 * itself says nothing, and a refused connect never reaches the cgroup
 * socket hooks (security_socket_connect runs before the protocol's connect),
 * so without this program the denial would be silent.
 *
 * The sys_exit dispatcher (syscalls.bpf.c) tail-calls it only for an EACCES
 * of a function Landlock restricts (FNW_CGROUP_LANDLOCK): a process outside
 * every function never gets here.
 *
 * Which syscalls count, and where their object is, comes from path_args
 * (filled by userspace by syscall name): a path argument for the file and
 * exec syscalls, a sockaddr for connect and bind, and what the operation
 * needed (fnw_path_arg), so that the report names the same rule as the
 * file probes would.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "dispatch.bpf.h"
#include "emit.bpf.h"
#include "path.bpf.h"
#include "policy.bpf.h"

#define EACCES 13
#define AT_FDCWD -100
#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define IPPROTO_TCP 6

/* Landlock already refused; onViolation: kill also ends the process, here,
 * before it returns to user space (deny does not). */
static __always_inline __u8 landlock_outcome(__u32 kill_action, struct fnw_counters *stats)
{
	if (kill_action == FNW_KACTION_KILL && fnw_kill_current(stats))
		return FNW_ACTION_KILLED;
	return FNW_ACTION_DENIED;
}

/*
 * The rights the refused operation needed, from the syscall and its open
 * flags, as the file probes count them: an open needs read and/or write,
 * plus create when O_CREAT may have made the file (userspace drops it when
 * the file turns out to exist), mkdir/link/symlink create, unlink delete,
 * rename delete at the old name and create at the new one.
 */
static __always_inline __u32 refused_access(struct pt_regs *regs, const struct fnw_path_arg *arg, __u32 index,
					    __u32 *open_flags, __u32 *access2)
{
	__u32 flags = 0;

	*access2 = 0;
	switch (arg->op) {
	case FNW_PATH_OP_OPEN:
		flags = (__u32)fnw_syscall_arg(regs, index + 1);
		break;
	case FNW_PATH_OP_OPENAT2: {
		struct open_how how = {};

		bpf_probe_read_user(&how, sizeof(how), (const void *)fnw_syscall_arg(regs, index + 1));
		flags = (__u32)how.flags;
		break;
	}
	case FNW_PATH_OP_CREAT:
		flags = O_CREAT | O_WRONLY | O_TRUNC;
		break;
	case FNW_PATH_OP_CREATE:
		return FNW_FILE_CREATE;
	case FNW_PATH_OP_DELETE:
		return FNW_FILE_DELETE;
	case FNW_PATH_OP_RENAME:
		*access2 = FNW_FILE_CREATE;
		return FNW_FILE_DELETE;
	case FNW_PATH_OP_WRITE:
		return FNW_FILE_WRITE;
	case FNW_PATH_OP_EXEC:
		return FNW_FILE_EXEC;
	default:
		return 0;
	}
	*open_flags = flags;
	return open_access(flags) | ((flags & O_CREAT) ? FNW_FILE_CREATE : 0);
}

/*
 * The second name of a rename or link, as passed, and its directory fd.
 * Unresolved here: the record has room for one kernel-resolved base, and
 * userspace resolves both names after the fact (docs/events.md).
 */
static __always_inline void read_second_name(struct pt_regs *regs, const struct fnw_path_arg *arg,
					     struct fnw_file_event *ev)
{
	if (!arg->path2_arg || arg->path2_arg > 6)
		return;
	long n = bpf_probe_read_user_str(ev->path2, sizeof(ev->path2),
					 (const void *)fnw_syscall_arg(regs, (arg->path2_arg - 1) & 7));

	if (n < 0)
		ev->path2[0] = '\0';
	ev->path2_truncated = n == sizeof(ev->path2);
	if (arg->dfd2_arg && arg->dfd2_arg <= 6)
		ev->dfd2 = (__s32)fnw_syscall_arg(regs, (arg->dfd2_arg - 1) & 7);
}

static __always_inline void report_path(struct pt_regs *regs, long ret, __u32 nr, const struct fnw_path_arg *arg,
					__u64 cgroup_id, __u32 policy_id, struct fnw_counters *stats)
{
	const __u8 where = arg->where;
	__u32 index = (where & FNW_PATH_ARG_INDEX_MASK) - 1;
	struct fnw_file_event *ev = fnw_reserve(FNW_RING_ALERTS, sizeof(*ev), stats);

	if (!ev)
		return;
	fnw_fill_header(&ev->hdr, FNW_EVENT_FILE, sizeof(*ev), cgroup_id, policy_id);
	ev->nr = nr;
	ev->ret = (__s32)ret;
	ev->dfd = (where & FNW_PATH_ARG_HAS_DFD) && index > 0 ? (__s32)fnw_syscall_arg(regs, index - 1) : AT_FDCWD;
	fnw_file_event_clear(ev);
	ev->verdict = FNW_VERDICT_VIOLATION;
	ev->mechanism = FNW_MECH_LANDLOCK;
	/* A killed function is gone before its record is read: this lets
	 * userspace still follow its symlinks, in its own root (ours). */
	if (rules_root_is_ours())
		ev->object_flags = FNW_OBJECT_ROOT_IS_OURS;
	__u32 open_flags = 0, access2 = 0;

	ev->access = refused_access(regs, arg, index, &open_flags, &access2);
	ev->access2 = access2;
	ev->open_flags = open_flags;
	/* Which of the rights the policy lacks is a path match: userspace
	 * narrows this (FileDecider::explain_refusal). */
	ev->missing = ev->access | access2;
	long n = bpf_probe_read_user_str(ev->path, sizeof(ev->path), (const void *)fnw_syscall_arg(regs, index));

	if (n < 0)
		ev->path[0] = '\0';
	ev->path_truncated = n == sizeof(ev->path);
	read_second_name(regs, arg, ev);

	/*
	 * Landlock refused before the walk reached an object: what the
	 * kernel can name is the directory a relative name starts from, as
	 * the file probes do for a name with no object.
	 */
	if (ev->path[0] != '/') {
		const struct path *base = base_path(bpf_get_current_task_btf(), ev->dfd);

		if (base) {
			ev->resolved_kind = FNW_RESOLVED_BASE;
			ev->resolved_truncated = !resolve_path(base, ev->resolved);
		}
	}

	struct fnw_policy *policy = fnw_policy(policy_id);
	__u32 kill_action = !policy ? FNW_KACTION_REPORT
			    : (where & FNW_PATH_ARG_EXEC) ? policy->exec_action : policy->file_action;

	ev->action = landlock_outcome(kill_action, stats);
	fnw_submit(FNW_RING_ALERTS, ev, stats);
}

/*
 * connect/bind: Landlock restricts TCP only, so an EACCES on any other
 * socket (UDP broadcast without SO_BROADCAST, say) is not its denial. The
 * sockaddr is read back from user memory: Landlock decided on the kernel's
 * copy, and this is only the report of it.
 */
static __always_inline void report_sockaddr(struct pt_regs *regs, __u8 where, __u64 cgroup_id, __u32 policy_id,
					    struct fnw_counters *stats)
{
	struct file *file = fd_file(bpf_get_current_task_btf(), (int)fnw_syscall_arg(regs, 0));
	struct socket *sock = file ? BPF_CORE_READ(file, private_data) : NULL;

	if (!sock || BPF_CORE_READ(sock, type) != SOCK_STREAM)
		return;

	struct sockaddr_in6 sa = {};
	const void *user_sa = (const void *)fnw_syscall_arg(regs, (where & FNW_PATH_ARG_INDEX_MASK) - 1);

	/* A sockaddr_in may end right at a page boundary: read what fits. */
	if (bpf_probe_read_user(&sa, sizeof(sa), user_sa) &&
	    bpf_probe_read_user(&sa, sizeof(struct sockaddr_in), user_sa))
		return;
	if (sa.sin6_family != AF_INET && sa.sin6_family != AF_INET6)
		return;

	struct fnw_net_event *ev = fnw_reserve(FNW_RING_ALERTS, sizeof(*ev), stats);

	if (!ev)
		return;
	fnw_fill_header(&ev->hdr, FNW_EVENT_NET, sizeof(*ev), cgroup_id, policy_id);
	ev->port = bpf_ntohs(sa.sin6_port);
	ev->protocol = IPPROTO_TCP;
	ev->op = (where & FNW_PATH_ARG_BIND) ? FNW_NET_BIND : FNW_NET_CONNECT;
	if (sa.sin6_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&sa;

		/* v4-mapped, as the cgroup hooks report it. */
		__builtin_memset(ev->addr, 0, 10);
		ev->addr[10] = 0xff;
		ev->addr[11] = 0xff;
		__builtin_memcpy(ev->addr + 12, &sin->sin_addr.s_addr, 4);
		ev->family = 4;
	} else {
		__builtin_memcpy(ev->addr, &sa.sin6_addr, 16);
		ev->family = 6;
	}
	ev->verdict = FNW_VERDICT_VIOLATION;
	ev->mechanism = FNW_MECH_LANDLOCK;
	ev->local_port = 0;
	ev->unix_path_len = 0;
	__sync_fetch_and_add(&stats->net_violations, 1);

	struct fnw_policy *policy = fnw_policy(policy_id);

	ev->action = landlock_outcome(policy ? policy->net_action : FNW_KACTION_REPORT, stats);
	fnw_submit(FNW_RING_ALERTS, ev, stats);
}

/* What Landlock refused in syscall `nr`, reported. */
static __always_inline void report_refusal(struct pt_regs *regs, long ret, __u32 nr, struct fnw_cgroup_entry *cg,
					   __u64 cgroup_id)
{
	struct fnw_path_arg *arg = bpf_map_lookup_elem(&path_args, &nr);
	struct fnw_counters *stats = fnw_counters();

	if (!arg || !(arg->where & FNW_PATH_ARG_INDEX_MASK) || !stats)
		return;
	if (arg->where & FNW_PATH_ARG_SOCKADDR)
		report_sockaddr(regs, arg->where, cgroup_id, cg->policy_id, stats);
	else
		report_path(regs, ret, nr, arg, cgroup_id, cg->policy_id, stats);
}

/*
 * Tail-called by the sys_exit dispatcher (syscalls.bpf.c) for an EACCES of a
 * Landlock-restricted function, before the syscall's own exit handler, which
 * it dispatches to in turn (a file syscall's handler must still see its
 * pending entry go).
 */
SEC("tp_btf/sys_exit")
int BPF_PROG(fnw_landlock_exit, struct pt_regs *regs, long ret)
{
	__u64 cgroup_id;
	struct task_struct *task = bpf_get_current_task_btf();
	struct fnw_cgroup_entry *cg = fnw_handler_cgroup_of(task, &cgroup_id);
	__u32 nr = (__u32)fnw_exit_nr(regs);

	if (ret == -EACCES && cg && (cg->flags & FNW_CGROUP_LANDLOCK))
		report_refusal(regs, ret, nr, cg, cgroup_id);
	/* The slot the dispatcher wrote still holds: nothing here writes it. */
	fnw_dispatch(ctx, &sys_exit_handlers, nr, task);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
