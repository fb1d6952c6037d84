// SPDX-License-Identifier: Apache-2.0
// Which grants of a policy a function used over a window, from the bits the
// kernel set in rule_use (include/fnwarden/kernel_abi.h, fnw_rule_use), and
// the policy without the ones it never used (`fnwarden policy report`).
// Pure: no BPF, no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <fnwarden/kernel_abi.h>

#include "core/policy.hpp"

namespace fnw {

enum class GrantUse {
    Used,
    Unused,
    // The kernel does not count it (a glob matched in userspace, a unix
    // socket, an object it could not identify): never reported as unused.
    NotCounted,
};

std::string_view to_string(GrantUse use);

// One thing a policy allows: a syscall, a file pattern under one right, a
// program, one port of an egress rule, a listen port, a process permission.
struct Grant {
    std::string section;  // "syscalls", "files.read", "exec", "network.egress", "process", ...
    std::string item;     // "openat", "/etc/hosts", "10.0.0.0/8 tcp 443", "ptrace", ...
    GrantUse use = GrantUse::NotCounted;
};

struct GrantReport {
    std::string function;
    std::string policy;
    double observed_seconds = 0;  // how long the kernel counted
    bool syscalls_unrestricted = false;  // no syscalls list: nothing to count there
    std::vector<Grant> grants;

    size_t count(GrantUse use) const;
};

// What the kernel counted for one policy slot: its rule_use value and the
// slot each file/exec pattern is marked in (KernelFileRules::use_slots).
struct GrantUseBits {
    fnw_rule_use bits{};
    std::map<std::string, uint16_t> file_slots;
    // When the slot was written and its bits cleared: the window's start.
    std::chrono::steady_clock::time_point since{};
};

// Every grant of `policy`, each Used, Unused or NotCounted.
GrantReport report_grant_use(const FunctionPolicy& policy, const GrantUseBits& counted, double observed_seconds);

// The report of a policy as loaded, `baseline` applied (or null): a policy
// that listed no syscalls reads as unrestricted again, not as every syscall
// the baseline leaves. `now` ends the window `counted.since` starts.
GrantReport report_loaded_grant_use(const FunctionPolicy& loaded, const Baseline* baseline,
                                    const GrantUseBits& counted, std::chrono::steady_clock::time_point now);

// `policy` without the grants `report` found unused (NotCounted ones stay).
// An emptied list stays a list: its section still denies by default.
FunctionPolicy tighten_policy(const FunctionPolicy& policy, const GrantReport& report);

// The rule_use bit of each net_rules key, in order (its map value). Keys that
// repeat share the bit of the last one, which is the value the map keeps.
std::vector<uint32_t> net_key_use_bits(const std::vector<fnw_net_key>& keys);

}  // namespace fnw
