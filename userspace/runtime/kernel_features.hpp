// What the running kernel offers for enforcement, read without side effects.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/policy.hpp"

namespace fnw {

struct KernelFeatures {
    std::string release;                    // uname -r
    bool seccomp_user_notif = false;        // "user_notif" in /proc/sys/kernel/seccomp/actions_avail
    std::optional<int> landlock_abi;        // landlock_create_ruleset(NULL, 0, VERSION)
    // /sys/kernel/security/lsm; nullopt when securityfs is not mounted.
    std::optional<std::vector<std::string>> active_lsms;
    bool bpf_lsm_listed() const;
};

KernelFeatures probe_kernel_features();

// What loading found about fnwarden's BPF-LSM programs (ProbeSet::lsm_*).
struct LsmStatus {
    std::string error;                          // "" when some lsm program loaded, else why none did
    std::map<std::string, std::string> hooks;  // hook -> "" (loaded) or why not
    // "" when `hook`'s program is loaded, else why not.
    std::string why_not(const std::string& hook) const;
};

// Which mechanism guards each rule of `policy` in `mode` on this kernel, for
// a function started by `fnwarden run`. Human-readable, one rule per line.
std::string explain_enforcement(const FunctionPolicy& policy, Mode mode, const KernelFeatures& features,
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

// spec.process's kinds of operation and the LSM hook that guards each.
const std::vector<std::pair<std::string, std::string>>& process_hooks();

std::vector<EnforcementRow> enforcement_matrix(const KernelFeatures& features, const LsmStatus& lsm);

}  // namespace fnw
