// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The floor: an empty program on the hook fnwarden uses (tp_btf/sys_enter).
 * What any BPF syscall monitor pays before doing anything at all.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("tp_btf/sys_enter")
int BPF_PROG(fnw_bench_floor)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
