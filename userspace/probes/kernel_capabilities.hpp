// SPDX-License-Identifier: Apache-2.0
// What the running kernel offers fnwarden, probed in one place: `status`,
// `--explain`, the launcher and ProbeSet::load all read this one answer.
//
// Probing has no side effects. The pseudo-filesystems some answers live in
// (securityfs for the active LSMs) are mounted by the caller at start-up,
// with mount_kernel_filesystems(), before probing: a hidden mount inside a
// probe made two probes disagree.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "core/enforcement_plan.hpp"

struct btf;  // libbpf's

namespace fnw {

struct KernelCapabilities {
    std::string release;              // uname -r
    bool seccomp_user_notif = false;  // "user_notif" in /proc/sys/kernel/seccomp/actions_avail
    std::optional<int> landlock_abi;  // landlock_create_ruleset(NULL, 0, VERSION)
    // /sys/kernel/security/lsm; nullopt when securityfs is not mounted.
    std::optional<std::vector<std::string>> active_lsms;
    bool bpf_lsm_listed() const;
};

KernelCapabilities probe_kernel_capabilities();

// Mounts securityfs (whether "bpf" is an active LSM decides whether lsm/
// programs would ever be called) where it is not mounted. A fresh machine
// may lack it; systemd normally mounts it. Fails with what could not be
// mounted. (tracefs is not needed: every program is tp_btf, LSM, cgroup or
// an iterator.)
Status mount_kernel_filesystems();

// Why this kernel would not run a BPF-LSM program on `hook`, or "" if it
// would: the bpf LSM must be active (without it lsm/ programs load and
// attach and are never called: a silent hole), the hook must exist in this
// kernel, and the verifier must take an LSM program there (a
// two-instruction probe, loaded and closed). Root. `vmlinux`: the kernel's
// BTF when the caller holds it (read here otherwise: ~20 ms a call, and
// the probe set checks 16 hooks).
std::string lsm_hook_unusable(const std::string& hook, const KernelCapabilities& kernel,
                              const ::btf* vmlinux = nullptr);

// Why a program written for `arity` arguments would read the wrong ones on
// this kernel's `hook`, or "" when the counts agree (or arity is 0).
std::string lsm_hook_arity_mismatch(const std::string& hook, unsigned arity, const ::btf* vmlinux = nullptr);

// The plain view core's plan_enforcement takes: this kernel plus what
// loading found about fnwarden's LSM programs (ProbeSet::lsm_*).
EnforcementCapabilities enforcement_capabilities(const KernelCapabilities& kernel, std::string lsm_error,
                                                 std::map<std::string, std::string> lsm_hooks);

}  // namespace fnw
