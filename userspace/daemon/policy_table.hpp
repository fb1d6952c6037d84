// SPDX-License-Identifier: Apache-2.0
// Which kernel policy slot each function of the policy set uses, and the
// lifecycle of a slot: written while nothing points at it, flipped to (every
// cgroup of the function at once), retired, and freed only once no cgroup
// points at it and the records that may name it have drained.
//
// At every instant each monitored cgroup points at a completely written
// slot that is still reserved: a reload never rewrites a slot in place and
// never frees one a cgroup may read (tests/unit/policy_table_test.cpp checks
// this after every kernel-map call of random reload sequences).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "core/policy.hpp"
#include "daemon/policy_set.hpp"
#include "daemon/policy_slots.hpp"
#include "probes/kernel_maps.hpp"
#include "runtime/violation_response.hpp"

namespace fnw {

// What a policy slot means to userspace: kept after the slot is retired,
// so records still in the ring decode with the policy they ran under.
struct SlotInfo {
    std::string function;
    std::string policy;  // metadata.name
    std::string source;  // file
    Mode mode = Mode::Audit;
    KillOnViolation kill;
    // Allowed program -> its interpreter the policy refuses: a launched
    // function's Landlock refusal decoded here must name the interpreter, as
    // the standalone launcher does (audit and enforce tell the same story).
    std::map<std::string, std::string> refused_interpreters;
    // Set when a program allowed by a glob may bring a refused interpreter
    // (interpreter_may_be_refused): a Landlock exec refusal is then looked
    // up when decoded, the program being unknown in advance.
    std::shared_ptr<const FunctionPolicy> interpreter_rules;
};

// How long a retired policy slot stays reserved after no cgroup points at it
// any more: records already in the ring buffer still name it.
inline constexpr auto kSlotGrace = std::chrono::seconds(2);

class PolicyTable {
public:
    using Clock = std::chrono::steady_clock;
    // Runs before a slot's kernel write (the file decider keeps the slot's
    // globs): a failure fails the write, and so the reload.
    using SlotWriter = std::function<Status(uint32_t slot, const FunctionPolicy& policy, Mode mode)>;

    PolicyTable(KernelMaps& maps, Mode configured_mode, SlotWriter before_kernel_write = {},
                PolicySlots slots = PolicySlots());

    struct Applied {
        std::vector<std::string> changed;  // functions whose slot was rewritten
        std::vector<uint64_t> dropped;     // cgroups of removed functions, no longer monitored
    };
    // Swaps `next` in: every new or changed policy into a fresh slot, then
    // its cgroups flipped over, then the old slots retired (and swept).
    // `current` is the set in force (nullptr at start). On failure nothing
    // any cgroup points at has changed.
    Result<Applied> apply(const PolicySet& next, const PolicySet* current, Clock::time_point now);

    // A pinned set adopted from an earlier daemon (probes/pinned_set.hpp):
    // the slots its cgroups point at become this table's, by the function
    // the kernel's slot_owners map names, before the first apply(). That
    // apply then moves each function's cgroups to a fresh slot and retires
    // the adopted one, exactly as a reload does; a function no longer in
    // the rules is retired as removed. Until then the adopted slots keep
    // guarding (an invalid rules set at start changes nothing). Returns
    // how many slots were adopted.
    size_t adopt(const std::map<uint32_t, SlotOwner>& owners);

    // Children created by cgroup_mkdir while a reload ran may have copied an
    // old slot; they are moved here. A slot is freed once nothing points at
    // it for kSlotGrace. Returns the cgroups dropped because their
    // function's policy was removed.
    std::vector<uint64_t> sweep(Clock::time_point now);

    std::optional<uint32_t> slot_of(std::string_view function) const;
    const SlotInfo* info(uint32_t slot) const;
    // Every slot ever written, retired ones included.
    const std::map<uint32_t, SlotInfo>& slot_infos() const { return slot_info_; }
    const std::map<std::string, uint32_t, std::less<>>& function_slots() const { return function_slot_; }
    bool slot_reserved(uint32_t slot) const { return slots_.in_use(slot); }
    size_t retired_count() const { return retired_.size(); }
    // The daemon's mode is a ceiling over the policy's (core/policy.hpp).
    Mode effective_mode_of(const FunctionPolicy& policy) const { return effective_mode(configured_mode_, policy.mode); }

private:
    // A retired slot: cgroups still pointing at `from` are moved to `to` (or
    // dropped when the function's policy was removed) until none is left.
    struct RetiredSlot {
        uint32_t from;
        std::optional<uint32_t> to;
        std::optional<Clock::time_point> empty_since;
    };

    Status write_slot(uint32_t slot, const FunctionPolicy& policy);
    Result<std::map<std::string, uint32_t>> write_fresh_slots(const PolicySet& next,
                                                              const std::vector<std::string>& changed);
    void flip(const std::map<std::string, uint32_t>& fresh);
    void retire_removed(const PolicySet& next);

    KernelMaps& maps_;
    Mode configured_mode_;
    SlotWriter before_kernel_write_;
    PolicySlots slots_;
    std::map<std::string, uint32_t, std::less<>> function_slot_;
    std::map<uint32_t, SlotInfo> slot_info_;
    std::vector<RetiredSlot> retired_;
    // Adopted slots beyond a function's first (a reload was under way when
    // the earlier daemon stopped): retired to the function's next slot.
    std::multimap<std::string, uint32_t, std::less<>> adopted_extra_;
};

}  // namespace fnw
