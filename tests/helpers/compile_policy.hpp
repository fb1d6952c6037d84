// SPDX-License-Identifier: Apache-2.0
// compile_kernel_policy for tests that write a policy straight into the
// kernel's struct: planned as a watched cgroup with every LSM hook counted
// as loaded, the way ProbeSet::set_policy's callers used to before the
// probes report what did load. Only tests want this shortcut; the daemon
// and `fnwarden run` go through ProbeSet::set_policy with the real plan.
#pragma once

#include "core/enforcement_plan.hpp"
#include "core/kernel_policy.hpp"

namespace fnw {

inline fnw_policy compile_kernel_policy(const FunctionPolicy& policy, Mode mode) {
    EnforcementCapabilities every_hook;
    every_hook.assume_every_lsm_hook = true;
    return compile_kernel_policy(policy, plan_enforcement(policy, mode, every_hook, /*launched=*/false));
}

}  // namespace fnw
