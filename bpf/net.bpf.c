// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Network allowlist, decided and enforced in the kernel by the cgroup v2
 * sock_addr hooks: connect4/6 (TCP, connected UDP), sendmsg4/6 (UDP with an
 * address: DNS and friends), bind4/6 (listening and source ports).
 *
 * Attached once at the cgroup2 root (BPF_F_ALLOW_MULTI links, so other
 * programs such as systemd's keep working); every process on the host passes
 * through, so the fast path is the same cgroup lookup as everywhere. A hook
 * returning 0 makes the syscall fail with EPERM before anything is sent:
 * this works on every kernel with cgroup v2 BPF, no LSM needed.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "emit.bpf.h"
#include "policy.bpf.h"
#include "rule_use.bpf.h"

#define AF_INET 2
#define AF_INET6 10

/*
 * Four lookups, most specific first: exact protocol and port, then
 * wildcards. The rule that matched is marked used (its value is its bit).
 */
static __always_inline bool net_rule_matches(__u32 policy_id, __u8 direction, __u8 protocol, __u16 port,
					     const __u8 addr[16])
{
	struct fnw_net_key key = {};

	key.prefixlen = FNW_NET_KEY_FIXED_BITS + 128;
	key.policy_id = bpf_htonl(policy_id);
	key.direction = direction;
	__builtin_memcpy(key.addr, addr, 16);

	key.protocol = protocol;
	key.port = bpf_htons(port);
	__u32 *use_bit = bpf_map_lookup_elem(&net_rules, &key);

	if (!use_bit) {
		key.port = 0;
		use_bit = bpf_map_lookup_elem(&net_rules, &key);
	}
	if (!use_bit) {
		key.protocol = 0;
		key.port = bpf_htons(port);
		use_bit = bpf_map_lookup_elem(&net_rules, &key);
	}
	if (!use_bit) {
		key.port = 0;
		use_bit = bpf_map_lookup_elem(&net_rules, &key);
	}
	if (!use_bit)
		return false;
	fnw_mark_grant(policy_id, *use_bit);
	return true;
}

/* IPv4 as ::ffff:a.b.c.d, so v4 rules also match v4-mapped IPv6 peers. */
static __always_inline void v4_mapped(__u8 out[16], __u32 ip4_be)
{
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(out + 12, &ip4_be, 4);
}

/* Returns 1 (allow) or 0 (deny: the caller gets EPERM). */
static __always_inline int check_sock_addr(struct bpf_sock_addr *ctx, __u8 op, __u8 family)
{
	__u64 cgroup_id;
	struct fnw_cgroup_entry *cg = fnw_current_cgroup_sock(&cgroup_id);

	if (!cg)
		return 1; /* not a monitored function */
	if (fnw_armed(cgroup_id, cg))
		return 1;

	__u32 policy_id = cg->policy_id;
	struct fnw_policy *policy = fnw_policy(policy_id);
	struct fnw_counters *stats = fnw_counters();

	if (!policy || !stats || !(policy->flags & FNW_POLICY_NET_RESTRICTED))
		return 1;
	__sync_fetch_and_add(&stats->net_checks, 1);

	__u8 addr[16];

	if (family == 4) {
		v4_mapped(addr, ctx->user_ip4);
	} else {
		/* user_ip6 allows only 4-byte loads of its words. */
		__u32 w0 = ctx->user_ip6[0], w1 = ctx->user_ip6[1], w2 = ctx->user_ip6[2],
		      w3 = ctx->user_ip6[3];

		__builtin_memcpy(addr, &w0, 4);
		__builtin_memcpy(addr + 4, &w1, 4);
		__builtin_memcpy(addr + 8, &w2, 4);
		__builtin_memcpy(addr + 12, &w3, 4);
	}
	__u16 port = bpf_ntohs((__u16)ctx->user_port);
	__u8 protocol = (__u8)ctx->protocol;
	__u8 direction = op == FNW_NET_BIND ? FNW_NET_LISTEN : FNW_NET_EGRESS;
	bool allowed = net_rule_matches(policy_id, direction, protocol, port, addr);

	if (allowed && !(cg->flags & FNW_CGROUP_TRACE))
		return 1;

	__u8 action = FNW_ACTION_NONE, mechanism = FNW_MECH_NONE;
	int verdict = 1;

	if (!allowed) {
		__sync_fetch_and_add(&stats->net_violations, 1);
		action = FNW_ACTION_REPORTED;
		/* kill is deny here, plus a SIGKILL from userspace on the event:
		 * bpf_send_signal is not available to cgroup socket programs. */
		if (policy->net_action != FNW_KACTION_REPORT) {
			action = FNW_ACTION_DENIED;
			mechanism = FNW_MECH_CGROUP_SOCK;
			verdict = 0;
			__sync_fetch_and_add(&stats->net_denied, 1);
		}
	}

	/*
	 * Refused (or reported) here: a repeat to the same place is only
	 * counted. Not with kill: the SIGKILL comes from userspace, on the
	 * record.
	 */
	if (!allowed && policy->net_action != FNW_KACTION_KILL) {
		struct fnw_violation_key vkey = {
			.cgroup_id = cgroup_id,
			.type = FNW_EVENT_NET,
			.what = (__u32)op << 24 | (__u32)protocol << 16 | port,
		};

		__builtin_memcpy(&vkey.detail, addr + 8, 8); /* v4: ffff + the address; v6: its low half */
		if (!fnw_violation_reported(&vkey, policy_id, stats))
			return verdict;
	}

	struct fnw_net_event *ev = fnw_reserve(!allowed, sizeof(*ev), stats);

	if (!ev) {
		if (action == FNW_ACTION_REPORTED)
			fnw_count_gap(policy_id, stats);
		return verdict;
	}
	fnw_fill_header_base(&ev->hdr, FNW_EVENT_NET, sizeof(*ev), cgroup_id, policy_id);
	ev->hdr.lineage_source = FNW_LINEAGE_FROM_PROC; /* this hook cannot read the task */
	__builtin_memcpy(ev->addr, addr, 16);
	ev->port = port;
	ev->family = family;
	ev->protocol = protocol;
	ev->op = op;
	ev->verdict = allowed ? FNW_VERDICT_ALLOWED : FNW_VERDICT_VIOLATION;
	ev->action = action;
	ev->mechanism = mechanism;
	ev->local_port = 0;
	ev->unix_path_len = 0;
	fnw_submit(!allowed, ev, stats);
	return verdict;
}

SEC("cgroup/connect4")
int fnw_connect4(struct bpf_sock_addr *ctx)
{
	return check_sock_addr(ctx, FNW_NET_CONNECT, 4);
}

SEC("cgroup/connect6")
int fnw_connect6(struct bpf_sock_addr *ctx)
{
	return check_sock_addr(ctx, FNW_NET_CONNECT, 6);
}

SEC("cgroup/sendmsg4")
int fnw_sendmsg4(struct bpf_sock_addr *ctx)
{
	return check_sock_addr(ctx, FNW_NET_SENDMSG, 4);
}

SEC("cgroup/sendmsg6")
int fnw_sendmsg6(struct bpf_sock_addr *ctx)
{
	return check_sock_addr(ctx, FNW_NET_SENDMSG, 6);
}

SEC("cgroup/bind4")
int fnw_bind4(struct bpf_sock_addr *ctx)
{
	return check_sock_addr(ctx, FNW_NET_BIND, 4);
}

SEC("cgroup/bind6")
int fnw_bind6(struct bpf_sock_addr *ctx)
{
	return check_sock_addr(ctx, FNW_NET_BIND, 6);
}

/* ---- Syscall tracepoints: accept and unix connect ------------------------
 *
 * Named fnw_net_*: ProbeSet attaches them (attach_net_probes) apart from
 * the file family's tracepoints, for policies with a network section.
 */

/* ---- Accepted connections ----------------------------------------------
 *
 * No cgroup hook sees an accept. sys_exit of accept/accept4 does, in the
 * acceptor's context: the new fd's socket carries both ends. A connection
 * is allowed when its local port is one network.listen allows, which bind
 * already enforces, so a violation here means a listening socket the
 * function did not bind under this policy (inherited, or bound before the
 * policy changed). It cannot be refused any more; deny and kill end the
 * process before it gets the fd.
 */

static __always_inline __u8 sigkill_unless_report(__u32 net_action, struct fnw_counters *stats, __u8 *mechanism)
{
	*mechanism = FNW_MECH_NONE;
	if (net_action != FNW_KACTION_REPORT && fnw_kill_current(stats)) {
		*mechanism = FNW_MECH_SIGKILL;
		return FNW_ACTION_KILLED;
	}
	return FNW_ACTION_REPORTED;
}

static __always_inline int accept_exit(long fd)
{
	if (fd < 0)
		return 0;
	__u64 cgroup_id;
	struct fnw_cgroup_entry *cg;
	struct fnw_policy *policy = fnw_handler_function(&cgroup_id, &cg);
	struct fnw_counters *stats = fnw_counters();

	if (!policy || !stats)
		return 0;
	const __u32 policy_id = cg->policy_id;
	const bool traced = cg->flags & FNW_CGROUP_TRACE;
	const bool restricted = policy->flags & FNW_POLICY_NET_RESTRICTED;

	if (!restricted && !traced)
		return 0;

	/* The new fd's socket, through the fd table (the fd was just installed). */
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;

	if ((__u64)fd >= BPF_CORE_READ(fdt, max_fds) ||
	    bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	struct socket *sock = BPF_CORE_READ(file, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	if (family != AF_INET && family != AF_INET6)
		return 0; /* unix and other families: not an address policy */

	__u8 peer[16], local[16];

	if (family == AF_INET) {
		v4_mapped(peer, BPF_CORE_READ(sk, __sk_common.skc_daddr));
		v4_mapped(local, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
	} else {
		bpf_core_read(peer, sizeof(peer), &sk->__sk_common.skc_v6_daddr);
		bpf_core_read(local, sizeof(local), &sk->__sk_common.skc_v6_rcv_saddr);
	}
	__u16 local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	__u16 peer_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	__u8 protocol = (__u8)BPF_CORE_READ(sk, sk_protocol);
	bool allowed = !restricted || net_rule_matches(policy_id, FNW_NET_LISTEN, protocol, local_port, local);

	if (allowed && !traced)
		return 0;
	__u8 action = FNW_ACTION_NONE, mechanism = FNW_MECH_NONE;

	if (!allowed) {
		__sync_fetch_and_add(&stats->net_violations, 1);
		action = sigkill_unless_report(policy->net_action, stats, &mechanism);
	}

	struct fnw_net_event *ev = fnw_reserve(!allowed, sizeof(*ev), stats);

	if (ev) {
		fnw_fill_header(&ev->hdr, FNW_EVENT_NET, sizeof(*ev), cgroup_id, policy_id);
		__builtin_memcpy(ev->addr, peer, 16);
		ev->port = peer_port;
		ev->local_port = local_port;
		ev->family = family == AF_INET ? 4 : 6;
		ev->protocol = protocol;
		ev->op = FNW_NET_ACCEPT;
		ev->verdict = allowed ? FNW_VERDICT_ALLOWED : FNW_VERDICT_VIOLATION;
		ev->action = action;
		ev->mechanism = mechanism;
		ev->unix_path_len = 0;
		fnw_submit(!allowed, ev, stats);
	} else if (action == FNW_ACTION_REPORTED) {
		fnw_count_gap(policy_id, stats); /* let through, and unreported */
	}
	return 0;
}

/* accept's and accept4's exit handler (sys_exit_handlers, syscalls.bpf.c). */
SEC("tp_btf/sys_exit")
int BPF_PROG(fnw_net_exit_accept, struct pt_regs *regs, long ret)
{
	return accept_exit(ret);
}

/* ---- Unix-socket connects ------------------------------------------------
 *
 * cgroup/connect_unix exists only from 6.7, so connect() is watched at the
 * syscall: sys_enter keeps the name of an AF_UNIX connect per thread,
 * sys_exit checks it against network.unix when the connect succeeded (a
 * failed one reached nothing: glibc probing for nscd on every lookup must
 * not be a violation). The name is the one passed, read from user memory
 * at sys_enter: a relative name is not resolved, and matches no rule.
 */

#define AF_UNIX 1
#define EPERM 1

/* Thread id -> the unix name its connect() passed. LRU: an entry whose
 * thread died inside connect() is evicted, never fills the map. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FNW_MAX_FILE_PENDING);
	__type(key, __u32);
	__type(value, struct fnw_unix_key);
} unix_connect_pending SEC(".maps");

/*
 * The unix_allowed key for a name of `len` bytes in `raw` (zeroed beyond,
 * with one NUL to spare). A path ends at its NUL, wherever addrlen ends;
 * the copy stops there and leaves the rest of the key zero, so equal names
 * make equal keys. A string copy, not a byte loop: the loop's branches blew
 * the 6.1 verifier's budget. An abstract name (leading NUL) is all its bytes.
 */
static __always_inline void unix_key_from(struct fnw_unix_key *key, const char *raw, __u64 len, __u32 policy_id)
{
	if (raw[0] == '\0') {
		__builtin_memcpy(key->path, raw, FNW_UNIX_PATH_MAX);
	} else {
		long n = bpf_probe_read_kernel_str(key->path, sizeof(key->path), raw);

		len = n > 0 ? n - 1 : 0;
	}
	key->policy_id = policy_id;
	key->len = (__u8)len;
}

static __always_inline void emit_unix_connect(const struct fnw_unix_key *key, __u64 cgroup_id, bool allowed,
					      __u8 action, __u8 mechanism, struct fnw_counters *stats)
{
	struct fnw_net_event *ev = fnw_reserve(!allowed, sizeof(*ev), stats);

	if (ev) {
		fnw_fill_header(&ev->hdr, FNW_EVENT_NET, sizeof(*ev), cgroup_id, key->policy_id);
		__builtin_memset(ev->addr, 0, sizeof(ev->addr));
		ev->port = 0;
		ev->local_port = 0;
		ev->family = AF_UNIX;
		ev->protocol = 0;
		ev->op = FNW_NET_CONNECT_UNIX;
		ev->verdict = allowed ? FNW_VERDICT_ALLOWED : FNW_VERDICT_VIOLATION;
		ev->action = action;
		ev->mechanism = mechanism;
		ev->unix_path_len = key->len;
		__builtin_memcpy(ev->unix_path, key->path, sizeof(ev->unix_path));
		fnw_submit(!allowed, ev, stats);
	} else if (action == FNW_ACTION_REPORTED) {
		fnw_count_gap(key->policy_id, stats);
	}
}

SEC("tp_btf/sys_enter")
int BPF_PROG(fnw_net_enter_connect, struct pt_regs *regs, long id)
{
	__u64 cgroup_id;
	struct fnw_cgroup_entry *cg;
	struct fnw_policy *policy = fnw_handler_function(&cgroup_id, &cg);

	if (!policy || (!(policy->flags & FNW_POLICY_NET_RESTRICTED) && !(cg->flags & FNW_CGROUP_TRACE)))
		return 0;
	const char *uaddr = (const char *)fnw_syscall_arg(regs, 1);
	__u64 addrlen = fnw_syscall_arg(regs, 2);
	__u16 family = 0;

	if (addrlen < sizeof(family) || bpf_probe_read_user(&family, sizeof(family), uaddr) || family != AF_UNIX)
		return 0;

	struct fnw_unix_key key = {};
	/* One byte more than a name can have: always a NUL after the name. */
	char raw[FNW_UNIX_PATH_MAX + 1] = {};
	__u64 len = addrlen - sizeof(family);

	if (len > FNW_UNIX_PATH_MAX)
		len = FNW_UNIX_PATH_MAX;
	if (len > 0 && len <= FNW_UNIX_PATH_MAX && bpf_probe_read_user(raw, len, uaddr + sizeof(family)))
		return 0;
	unix_key_from(&key, raw, len, cg->policy_id);
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_update_elem(&unix_connect_pending, &tid, &key, BPF_ANY);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(fnw_net_exit_connect, struct pt_regs *regs, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct fnw_unix_key *pending = bpf_map_lookup_elem(&unix_connect_pending, &tid);

	if (!pending)
		return 0;
	struct fnw_unix_key key = *pending;

	bpf_map_delete_elem(&unix_connect_pending, &tid);
	if (ret != 0)
		return 0;

	__u64 cgroup_id;
	struct fnw_cgroup_entry *cg = fnw_handler_cgroup(&cgroup_id);

	if (!cg)
		return 0;
	__u32 policy_id = key.policy_id;
	struct fnw_policy *policy = fnw_policy(policy_id);
	struct fnw_counters *stats = fnw_counters();

	if (!policy || !stats)
		return 0;
	const bool traced = cg->flags & FNW_CGROUP_TRACE;
	const bool allowed = !(policy->flags & FNW_POLICY_NET_RESTRICTED) || bpf_map_lookup_elem(&unix_allowed, &key);

	if (allowed && !traced)
		return 0;
	__u8 action = FNW_ACTION_NONE, mechanism = FNW_MECH_NONE;

	if (!allowed) {
		__sync_fetch_and_add(&stats->net_violations, 1);
		action = sigkill_unless_report(policy->net_action, stats, &mechanism);
	}

	emit_unix_connect(&key, cgroup_id, allowed, action, mechanism, stats);
	return 0;
}

/* ---- BPF-LSM: the first line for connect and bind, where it runs -------
 *
 * Where BPF-LSM runs, these hooks see a connect or bind before the cgroup
 * hooks do (security_socket_* comes first in the syscall), in the task's
 * own context. In enforce mode with deny or kill they refuse what the
 * allowlist does not name (EPERM), so the cgroup hooks never see it: the
 * event then carries the kernel's lineage, and kill is a SIGKILL before the
 * syscall returns instead of fnwarden's after it read the event.
 * Report-only policies, and everything allowed, stay with the cgroup hooks,
 * which report and trace for every kernel; so do UDP sends with an address.
 */

/* What every LSM socket program checks first: a monitored, armed function
 * whose policy restricts the network and acts on it. */
static __always_inline struct fnw_policy *lsm_net_policy(__u64 *cgroup_id, __u32 *policy_id,
							 struct fnw_counters **stats)
{
	struct fnw_cgroup_entry *cg;
	struct fnw_policy *policy = fnw_current_function(cgroup_id, &cg);

	if (!policy)
		return NULL;
	*policy_id = cg->policy_id;
	*stats = fnw_counters();
	if (!policy || !*stats || !(policy->flags & FNW_POLICY_NET_RESTRICTED) ||
	    policy->net_action == FNW_KACTION_REPORT)
		return NULL;
	return policy;
}

/*
 * An inet connect or bind against the allowlist, with the address as the
 * kernel copied it. Only a sockaddr of the socket's own family: anything
 * else the protocol refuses or remaps itself (AF_UNSPEC), and the cgroup
 * hook, which runs on what the protocol accepted, decides it.
 */
static __always_inline int lsm_inet_check(struct socket *sock, struct sockaddr *address, int addrlen, __u8 op,
					  __u32 policy_id, __u64 cgroup_id, struct fnw_policy *policy,
					  struct fnw_counters *stats)
{
	const __u16 family = BPF_CORE_READ(address, sa_family);

	if (family != BPF_CORE_READ(sock, sk, __sk_common.skc_family))
		return 0;
	__u8 addr[16];
	__u16 port_be;

	if (family == AF_INET) {
		if (addrlen < (int)sizeof(struct sockaddr_in))
			return 0; /* the protocol refuses it (EINVAL) */
		struct sockaddr_in *in = (struct sockaddr_in *)address;

		v4_mapped(addr, BPF_CORE_READ(in, sin_addr.s_addr));
		port_be = BPF_CORE_READ(in, sin_port);
	} else if (family == AF_INET6) {
		if (addrlen < 24) /* SIN6_LEN_RFC2133: the shortest the protocol takes */
			return 0;
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)address;

		if (bpf_core_read(addr, sizeof(addr), &in6->sin6_addr))
			return 0;
		port_be = BPF_CORE_READ(in6, sin6_port);
	} else {
		return 0;
	}
	const __u16 port = bpf_ntohs(port_be);
	const __u8 protocol = (__u8)BPF_CORE_READ(sock, sk, sk_protocol);
	const __u8 direction = op == FNW_NET_BIND ? FNW_NET_LISTEN : FNW_NET_EGRESS;

	if (net_rule_matches(policy_id, direction, protocol, port, addr))
		return 0;

	__sync_fetch_and_add(&stats->net_checks, 1);
	__sync_fetch_and_add(&stats->net_violations, 1);
	__sync_fetch_and_add(&stats->net_denied, 1);
	__u8 action = FNW_ACTION_DENIED;

	if (policy->net_action == FNW_KACTION_KILL && fnw_kill_current(stats))
		action = FNW_ACTION_KILLED;

	struct fnw_net_event *ev = fnw_reserve(FNW_RING_ALERTS, sizeof(*ev), stats);

	if (ev) {
		fnw_fill_header(&ev->hdr, FNW_EVENT_NET, sizeof(*ev), cgroup_id, policy_id);
		__builtin_memcpy(ev->addr, addr, 16);
		ev->port = port;
		ev->local_port = 0;
		ev->family = family == AF_INET ? 4 : 6;
		ev->protocol = protocol;
		ev->op = op;
		ev->verdict = FNW_VERDICT_VIOLATION;
		ev->action = action;
		ev->mechanism = FNW_MECH_BPF_LSM;
		ev->unix_path_len = 0;
		fnw_submit(FNW_RING_ALERTS, ev, stats);
	}
	return -EPERM;
}

/*
 * Unix sockets: a connect outside network.unix is refused before it
 * happens, checking the kernel's copy of the sockaddr, not user memory.
 * sys_exit_connect then sees the failure and stays quiet.
 */
static __always_inline int lsm_unix_connect_check(struct sockaddr *address, int addrlen, __u32 policy_id,
						  __u64 cgroup_id, struct fnw_policy *policy,
						  struct fnw_counters *stats)
{
	struct fnw_unix_key key = {};
	char raw[FNW_UNIX_PATH_MAX + 1] = {};
	__u64 len = (__u64)addrlen - 2;

	if (len > FNW_UNIX_PATH_MAX)
		len = FNW_UNIX_PATH_MAX;
	if (len > 0 && len <= FNW_UNIX_PATH_MAX && bpf_probe_read_kernel(raw, len, (const char *)address + 2))
		return 0;
	unix_key_from(&key, raw, len, policy_id);
	if (bpf_map_lookup_elem(&unix_allowed, &key))
		return 0;

	__sync_fetch_and_add(&stats->net_violations, 1);
	__sync_fetch_and_add(&stats->net_denied, 1);
	__u8 action = FNW_ACTION_DENIED;

	if (policy->net_action == FNW_KACTION_KILL && fnw_kill_current(stats))
		action = FNW_ACTION_KILLED;
	emit_unix_connect(&key, cgroup_id, false, action, FNW_MECH_BPF_LSM, stats);
	return -EPERM;
}

SEC("lsm/socket_connect")
int BPF_PROG(fnw_lsm_socket_connect, struct socket *sock, struct sockaddr *address, int addrlen, int ret)
{
	if (ret)
		return ret; /* an earlier LSM already refused: keep its verdict */

	__u64 cgroup_id;
	__u32 policy_id;
	struct fnw_counters *stats = NULL;
	struct fnw_policy *policy = lsm_net_policy(&cgroup_id, &policy_id, &stats);

	if (!policy || !stats || addrlen < 2)
		return 0;
	if (BPF_CORE_READ(address, sa_family) == AF_UNIX)
		return lsm_unix_connect_check(address, addrlen, policy_id, cgroup_id, policy, stats);
	return lsm_inet_check(sock, address, addrlen, FNW_NET_CONNECT, policy_id, cgroup_id, policy, stats);
}

SEC("lsm/socket_bind")
int BPF_PROG(fnw_lsm_socket_bind, struct socket *sock, struct sockaddr *address, int addrlen, int ret)
{
	if (ret)
		return ret;

	__u64 cgroup_id;
	__u32 policy_id;
	struct fnw_counters *stats = NULL;
	struct fnw_policy *policy = lsm_net_policy(&cgroup_id, &policy_id, &stats);

	if (!policy || !stats || addrlen < 2)
		return 0;
	return lsm_inet_check(sock, address, addrlen, FNW_NET_BIND, policy_id, cgroup_id, policy, stats);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
