// SPDX-License-Identifier: Apache-2.0
// What enforces what, in words: `--explain` for one policy and the host's
// enforcement matrix for `status`. Both render an EnforcementPlan
// (core/enforcement_plan.hpp), the one place the decision is made.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/enforcement_plan.hpp"
#include "core/policy.hpp"
#include "probes/kernel_capabilities.hpp"

namespace fnw {

// What loading found about fnwarden's BPF-LSM programs (ProbeSet::lsm_*).
struct LsmStatus {
    std::string error;                          // "" when some lsm program loaded, else why none did
    std::map<std::string, std::string> hooks;  // hook -> "" (loaded) or why not
    // "" when `hook`'s program is loaded, else why not.
    std::string why_not(const std::string& hook) const;
};

// Which mechanism guards each rule of `policy` in `mode` on this kernel, for
// a function started by `fnwarden run`. Human-readable, one rule per line.
std::string explain_enforcement(const FunctionPolicy& policy, Mode mode, const KernelCapabilities& features,
                                const LsmStatus& lsm);

// One line of the host's enforcement matrix (`fnwarden status`): for a kind
// of event, the strongest mechanism that works on this kernel, for functions
// started by `fnwarden run` (the launcher can add seccomp and Landlock) and
// for cgroups the daemon only watches, and why stronger options were not used.
struct EnforcementRow {
    std::string event_class;  // syscalls, network, files, exec, process
    std::string launched;     // mechanism for `fnwarden run` functions
    std::string watched;      // mechanism for cgroups found by the daemon
    std::vector<std::string> rejected;  // "bpf-lsm: refused at load: ..." etc.
};

std::vector<EnforcementRow> enforcement_matrix(const KernelCapabilities& features, const LsmStatus& lsm);

}  // namespace fnw
