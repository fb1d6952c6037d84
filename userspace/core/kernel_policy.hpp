// SPDX-License-Identifier: Apache-2.0
// A FunctionPolicy compiled into what the BPF side reads: the fnw_policy
// struct and the per-policy map keys (include/fnwarden/kernel_abi.h). Pure
// apart from exec keys, which resolve symlinks like bpf_d_path does; no BPF
// here, ProbeSet writes the results into the maps.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include <fnwarden/kernel_abi.h>

#include "core/enforcement_plan.hpp"
#include "core/file_rules.hpp"
#include "core/policy.hpp"

namespace fnw {

// FunctionPolicy -> the struct the kernel reads, with the actions and the
// exec-LSM flag `plan` decided. `file_kernel_rights` is left 0: it depends
// on the filesystem (see compile_file_rules), and set_policy fills it in.
fnw_policy compile_kernel_policy(const FunctionPolicy& policy, const EnforcementPlan& plan);

// exec_allowed keys: one per exec.allow entry, canonicalised (bpf_d_path
// reports resolved paths). Only literal paths fit an exact lookup.
std::vector<fnw_exec_key> compile_exec_keys(uint32_t policy_id, const ExecRules& rules);
// The same keys, each with the exec.allow entry it came from.
std::vector<std::pair<fnw_exec_key, std::string>> compile_exec_entries(uint32_t policy_id, const ExecRules& rules);

// The LPM keys for a policy's network rules (one per rule x port x direction).
std::vector<fnw_net_key> compile_net_keys(uint32_t policy_id, const NetworkRules& rules);

// unix_allowed keys: one per network.unix name, as connect() passes it.
std::vector<fnw_unix_key> compile_unix_keys(uint32_t policy_id, const NetworkRules& rules);

// path_args entries (syscall number -> fnw_path_arg: FNW_PATH_ARG_* and the
// argument's index + 1, what the operation needs, where its second name
// is): where each syscall Landlock can refuse keeps its path or sockaddr,
// for landlock.bpf.c to read at sys_exit. Syscalls this build's table does
// not know (openat2 on old headers) are left out.
std::vector<std::pair<uint32_t, fnw_path_arg>> compile_path_args();

}  // namespace fnw
