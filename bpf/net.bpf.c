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
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "emit.bpf.h"
#include "policy.bpf.h"

#define AF_INET 2
#define AF_INET6 10

/* Four lookups, most specific first: exact protocol and port, then wildcards. */
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
	if (bpf_map_lookup_elem(&net_rules, &key))
		return true;
	key.port = 0;
	if (bpf_map_lookup_elem(&net_rules, &key))
		return true;
	key.protocol = 0;
	key.port = bpf_htons(port);
	if (bpf_map_lookup_elem(&net_rules, &key))
		return true;
	key.port = 0;
	return bpf_map_lookup_elem(&net_rules, &key) != NULL;
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
	if (cg->flags & FNW_CGROUP_ARM_ON_EXEC)
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

	struct fnw_net_event *ev = fnw_reserve(sizeof(*ev), stats);

	if (!ev)
		return verdict;
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
	fnw_submit(ev, stats);
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

char LICENSE[] SEC("license") = "Dual BSD/GPL";
