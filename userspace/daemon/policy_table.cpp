// SPDX-License-Identifier: Apache-2.0
#include "daemon/policy_table.hpp"

#include <spdlog/spdlog.h>

#include "core/display_name.hpp"
#include "core/elf_interpreter.hpp"

namespace fnw {

PolicyTable::PolicyTable(KernelMaps& maps, Mode configured_mode, SlotWriter before_kernel_write, PolicySlots slots)
    : maps_(maps),
      configured_mode_(configured_mode),
      before_kernel_write_(std::move(before_kernel_write)),
      slots_(std::move(slots)) {}

std::optional<uint32_t> PolicyTable::slot_of(std::string_view function) const {
    auto it = function_slot_.find(function);
    if (it == function_slot_.end()) return std::nullopt;
    return it->second;
}

const SlotInfo* PolicyTable::info(uint32_t slot) const {
    auto it = slot_info_.find(slot);
    return it == slot_info_.end() ? nullptr : &it->second;
}

Status PolicyTable::write_slot(uint32_t slot, const FunctionPolicy& policy) {
    const Mode mode = effective_mode_of(policy);
    if (before_kernel_write_)
        if (auto written = before_kernel_write_(slot, policy, mode); !written) return written;
    if (Status written = maps_.set_policy(slot, policy, mode); !written) return written;
    // For a daemon that adopts this set after us: whose slot this is.
    if (Status owned = maps_.set_slot_owner(slot, SlotOwner{policy.function, policy.name, mode}); !owned) return owned;
    slot_info_[slot] = SlotInfo{policy.function, policy.name, policy.source, mode, KillOnViolation::from(policy, mode),
                                refused_interpreters(policy),
                                interpreter_may_be_refused(policy) ? std::make_shared<const FunctionPolicy>(policy)
                                                                   : nullptr};
    return {};
}

// 1. New slots for new and changed policies; nothing points at them yet.
//    On failure every slot taken here is given back.
Result<std::map<std::string, uint32_t>> PolicyTable::write_fresh_slots(const PolicySet& next,
                                                                       const std::vector<std::string>& changed) {
    std::map<std::string, uint32_t> fresh;
    auto roll_back = [&] {
        for (auto& [fn, slot] : fresh) {
            slots_.release(slot);
            (void)maps_.set_slot_owner(slot, SlotOwner{});
        }
    };
    for (const auto& fn : changed) {
        auto slot = slots_.acquire();
        if (!slot) {
            roll_back();
            return fail("no free policy slot (" + std::to_string(FNW_MAX_POLICIES) + " in the kernel map)");
        }
        fresh[fn] = *slot;
        if (auto written = write_slot(*slot, *next.find(fn)); !written) {
            roll_back();
            return fail(fn + ": " + written.error());
        }
    }
    return fresh;
}

// 2. Flip: every cgroup of a changed function to its new slot.
void PolicyTable::flip(const std::map<std::string, uint32_t>& fresh) {
    for (const auto& [fn, slot] : fresh) {
        auto old = function_slot_.find(fn);
        if (old != function_slot_.end()) {
            const size_t moved = maps_.retarget_cgroups(old->second, slot);
            spdlog::info("{}: policy updated (slot {} -> {}, {} cgroups moved)", display_name(fn), old->second, slot,
                         moved);
            retired_.push_back({old->second, slot, std::nullopt});
        }
        auto [first, last] = adopted_extra_.equal_range(fn);
        for (auto it = first; it != last; ++it) {
            maps_.retarget_cgroups(it->second, slot);
            retired_.push_back({it->second, slot, std::nullopt});
        }
        adopted_extra_.erase(fn);
        function_slot_[fn] = slot;
    }
}

// 3. Removed functions: their cgroups are no longer monitored. Keeping an
//    old policy nobody can see or change would be worse.
void PolicyTable::retire_removed(const PolicySet& next) {
    for (auto it = function_slot_.begin(); it != function_slot_.end();) {
        if (next.find(it->first)) {
            ++it;
            continue;
        }
        spdlog::warn("{}: policy removed; its cgroups are no longer monitored", display_name(it->first));
        retired_.push_back({it->second, std::nullopt, std::nullopt});
        auto [first, last] = adopted_extra_.equal_range(it->first);
        for (auto extra = first; extra != last; ++extra) retired_.push_back({extra->second, std::nullopt, std::nullopt});
        adopted_extra_.erase(it->first);
        it = function_slot_.erase(it);
    }
}

Result<PolicyTable::Applied> PolicyTable::apply(const PolicySet& next, const PolicySet* current,
                                                Clock::time_point now) {
    Applied applied;
    for (const auto& policy : next.policies) {
        const bool same = function_slot_.count(policy.function) && current &&
                          current->fingerprints.count(policy.function) &&
                          current->fingerprints.at(policy.function) == next.fingerprints.at(policy.function);
        if (!same) applied.changed.push_back(policy.function);
    }
    auto fresh = write_fresh_slots(next, applied.changed);
    if (!fresh) return Error{fresh.error()};
    flip(*fresh);
    retire_removed(next);
    applied.dropped = sweep(now);
    return applied;
}

size_t PolicyTable::adopt(const std::map<uint32_t, SlotOwner>& owners) {
    // Slots some cgroup points at, and slots an owner was written for
    // (a function with no cgroup yet): both are the earlier daemon's.
    std::map<uint32_t, SlotOwner> adopted;
    for (const auto& [cgroup_id, entry] : maps_.monitored_cgroups()) {
        auto owner = owners.find(entry.policy_id);
        adopted[entry.policy_id] = owner == owners.end() ? SlotOwner{} : owner->second;
    }
    for (const auto& [slot, owner] : owners) adopted.emplace(slot, owner);
    size_t count = 0;
    for (const auto& [slot, owner] : adopted) {
        if (!slots_.reserve(slot)) continue;  // out of range, or ours already
        ++count;
        const std::string& function = owner.function;
        // Records from before the first apply decode with what the earlier
        // daemon wrote; its kills on violation were its own to do.
        slot_info_[slot] = SlotInfo{function, owner.policy, "(adopted from the pinned set)", owner.mode, KillOnViolation{}, {}, nullptr};
        if (function.empty()) {
            // No owner recorded: nothing can say whose it is, so it goes
            // the way of a removed function's slot.
            retired_.push_back({slot, std::nullopt, std::nullopt});
        } else if (!function_slot_.count(function)) {
            function_slot_[function] = slot;
        } else {
            adopted_extra_.emplace(function, slot);
        }
    }
    if (count) spdlog::info("adopted {} policy slots from the pinned set", count);
    return count;
}

std::vector<uint64_t> PolicyTable::sweep(Clock::time_point now) {
    std::vector<uint64_t> dropped;
    if (retired_.empty()) return dropped;
    const auto monitored = maps_.monitored_cgroups();
    for (auto& r : retired_) {
        bool referenced = false;
        for (const auto& [cgroup_id, entry] : monitored) {
            if (entry.policy_id != r.from) continue;
            referenced = true;
            if (r.to) break;  // retarget_cgroups below moves them all
            maps_.unmonitor_cgroup(cgroup_id);
            dropped.push_back(cgroup_id);
        }
        if (referenced) {
            if (r.to) maps_.retarget_cgroups(r.from, *r.to);
            r.empty_since.reset();  // look again next time
        } else if (!r.empty_since) {
            // From here no new reference can appear: cgroup_mkdir copies a
            // parent's entry, and no entry names this slot any more.
            r.empty_since = now;
        }
    }
    std::erase_if(retired_, [&](const RetiredSlot& r) {
        if (!r.empty_since || now - *r.empty_since < kSlotGrace) return false;
        slots_.release(r.from);
        (void)maps_.set_slot_owner(r.from, SlotOwner{});  // a later adopter must not take it for in use
        return true;
    });
    return dropped;
}

}  // namespace fnw
