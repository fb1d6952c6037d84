/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Grant use accounting (struct fnw_rule_use): which grants of a policy
 * were used at least once, for `fnwarden policy report`. Allowed accesses
 * still cross nothing to userspace: a bit is set in the rule_use map, read
 * first so that a grant already used costs one load and no atomic.
 */
#ifndef FNWARDEN_RULE_USE_BPF_H
#define FNWARDEN_RULE_USE_BPF_H

#include "maps.bpf.h"

static __always_inline struct fnw_rule_use *fnw_rule_use(__u32 policy_id)
{
	return bpf_map_lookup_elem(&rule_use, &policy_id);
}

/* Sets `mask` (at most 8 bits, so one word) at bit `bit` of `words`. */
static __always_inline void fnw_use_bits(__u64 *words, __u32 bit, __u64 mask)
{
	/* Masked, not only range checked: see fnw_bitmap_word in syscalls.bpf.c. */
	__u32 word = bit / 64;

	barrier_var(word);
	word &= FNW_RULE_USE_WORDS - 1;
	mask <<= bit % 64;
	if ((words[word] & mask) != mask)
		__sync_fetch_and_or(&words[word], mask);
}

/* One grant bit (net_rules values, FNW_USE_PROCESS_*); 0 is "not counted". */
static __always_inline void fnw_mark_grant(__u32 policy_id, __u32 bit)
{
	struct fnw_rule_use *use = bit ? fnw_rule_use(policy_id) : NULL;

	if (use)
		fnw_use_bits(use->grants, bit, 1);
}

/*
 * A file_rules entry met on a rights walk: the rights it grants that no
 * rule below it had (`fresh`), under its exact rule only for the object
 * itself (`own`), each marked in its rule slot.
 */
static __always_inline void fnw_mark_file_rule_used(__u32 policy_id, const struct fnw_file_rule *rule, __u32 fresh,
						    bool own)
{
	__u32 subtree = rule->subtree & fresh, exact = own ? rule->exact & fresh : 0;

	if (!(subtree && rule->use_subtree) && !(exact && rule->use_exact))
		return;
	struct fnw_rule_use *use = fnw_rule_use(policy_id);

	if (!use)
		return;
	if (subtree && rule->use_subtree)
		fnw_use_bits(use->grants, 8u * rule->use_subtree, subtree & 0xff);
	if (exact && rule->use_exact)
		fnw_use_bits(use->grants, 8u * rule->use_exact, exact & 0xff);
}

#endif /* FNWARDEN_RULE_USE_BPF_H */
