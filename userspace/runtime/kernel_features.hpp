// What the running kernel offers for enforcement, read without side effects.
#pragma once

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

// Which mechanism guards each rule of `policy` in `mode` on this kernel, for
// a function started by `fnwarden run`. Human-readable, one rule per line.
// `lsm_error`: empty when fnwarden's BPF-LSM programs loaded, else why not.
std::string explain_enforcement(const FunctionPolicy& policy, Mode mode, const KernelFeatures& features,
                                const std::string& lsm_error);

}  // namespace fnw
