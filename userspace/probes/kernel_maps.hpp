// SPDX-License-Identifier: Apache-2.0
// What the daemon's policy table and cgroup identification read and write in
// the kernel's maps: policy slots (the `policies` map and its rule maps) and
// the monitored cgroups (`cgroups`). ProbeSet implements it against the
// loaded BPF object; tests implement it in memory, so the slot lifecycle and
// the selector logic run without root or a kernel.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fnwarden/kernel_abi.h>

#include "common/result.hpp"
#include "core/grant_usage.hpp"
#include "core/policy.hpp"

namespace fnw {

// What a policy slot was written for, kept beside it in the kernel so that
// it outlives the daemon that wrote it (probes/pinned_set.hpp).
struct SlotOwner {
    std::string function;
    std::string policy;  // metadata.name
    Mode mode = Mode::Audit;  // effective
    bool operator==(const SlotOwner&) const = default;
};

// A slot's code directories (a bundle's code pins): the ones the kernel
// checks (FNW_RULE_CODE_DIR), and each it cannot key, with why.
struct CodeDirs {
    std::vector<std::string> checked;
    std::vector<std::string> not_checked;
};

// A root besides fnwarden's own that a slot's file rules are compiled in
// (a container's, a chroot's): the rules_roots key and what is complete
// there, with a process that lives in it.
struct CompiledRoot {
    uint32_t mnt_ns = 0;
    uint64_t root_dev = 0;  // kernel encoding (s_dev), as the kernel reads the root
    uint64_t root_ino = 0;
    pid_t pid = 0;     // a live process of the root, as last checked
    uint32_t rights = 0;  // FNW_FILE_* decided in the kernel there
};

class KernelMaps {
public:
    virtual ~KernelMaps() = default;

    // Writes a compiled policy into slot `policy_id`, with its rules
    // (replacing any the slot had before), or why the kernel refused it.
    virtual Status set_policy(uint32_t policy_id, const FunctionPolicy& policy, Mode mode) = 0;
    virtual Status monitor_cgroup(uint64_t cgroup_id, const fnw_cgroup_entry& entry) = 0;
    virtual bool unmonitor_cgroup(uint64_t cgroup_id) = 0;
    virtual std::optional<fnw_cgroup_entry> monitored_cgroup(uint64_t cgroup_id) const = 0;
    // Every monitored cgroup, inherited children included (a snapshot).
    virtual std::vector<std::pair<uint64_t, fnw_cgroup_entry>> monitored_cgroups() const = 0;
    // Points every entry that uses slot `from` at slot `to`, flags kept;
    // returns how many changed. Children made meanwhile may still copy
    // `from` (see daemon/policy_table.hpp).
    virtual size_t retarget_cgroups(uint32_t from, uint32_t to) = 0;
    // Whose policy slot `slot` holds (the kernel's slot_owners map; an
    // empty function frees it): what an adopting daemon reads back.
    virtual Status set_slot_owner(uint32_t slot, const SlotOwner& owner) = 0;
    virtual std::map<uint32_t, SlotOwner> slot_owners() const = 0;
    // Report cgroup births (FNW_EVENT_CGROUP records) for path selectors.
    virtual void report_cgroup_births(bool on) = 0;
    // Which grants of slot `policy_id` were used since it was written
    // (rule_use); nullopt where nothing counts them (test fakes).
    virtual std::optional<GrantUseBits> grant_use(uint32_t /*policy_id*/) const { return std::nullopt; }
    // Slot `policy_id`'s code directories as last compiled; nullopt where
    // nothing compiles them (test fakes).
    virtual std::optional<CodeDirs> code_dirs(uint32_t /*policy_id*/) const { return std::nullopt; }
    // Slot `policy_id`'s file rules compiled in process `pid`'s root too,
    // when that is not fnwarden's (ProbeSet::add_rules_root). True when a
    // root was added; test fakes compile nothing.
    virtual Result<bool> add_rules_root(uint32_t /*policy_id*/, pid_t /*pid*/) { return false; }
    // The roots slot `policy_id`'s rules are compiled in besides fnwarden's
    // (a snapshot); none where nothing compiles them (test fakes).
    virtual std::vector<CompiledRoot> rules_roots(uint32_t /*policy_id*/) const { return {}; }
};

}  // namespace fnw
