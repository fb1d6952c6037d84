// SPDX-License-Identifier: Apache-2.0
// KernelMaps in memory, for the daemon's parts: records what was written,
// fails a chosen call on demand, and lets a test look at (or change) the
// maps around every call, as a concurrent cgroup_mkdir would.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "probes/kernel_maps.hpp"

namespace fnw::testing {

class FakeKernelMaps : public KernelMaps {
public:
    // Called before and after every call, with its name.
    std::function<void(const std::string& call)> around_call;
    // The n-th next call of that name fails (1: the next one).
    std::map<std::string, int> fail_in;

    std::map<uint64_t, fnw_cgroup_entry> cgroups;
    std::map<uint32_t, std::string> written;  // slot -> function last written there
    std::set<uint32_t> ever_written;
    bool births_reported = false;
    std::map<std::string, int> calls;
    std::vector<std::string> rewrites_in_use;

    Status set_policy(uint32_t policy_id, const FunctionPolicy& policy, Mode) override {
        Call call(*this, "set_policy");
        if (call.fails()) return fail("injected failure");
        // A slot a cgroup reads must never be rewritten in place: the cgroup
        // would see a half-written policy.
        for (const auto& [id, entry] : cgroups)
            if (entry.policy_id == policy_id)
                rewrites_in_use.push_back("slot " + std::to_string(policy_id) + " rewritten while cgroup " +
                                          std::to_string(id) + " uses it");
        written[policy_id] = policy.function;
        ever_written.insert(policy_id);
        return {};
    }
    Status monitor_cgroup(uint64_t cgroup_id, const fnw_cgroup_entry& entry) override {
        Call call(*this, "monitor_cgroup");
        if (call.fails()) return fail("injected failure");
        cgroups[cgroup_id] = entry;
        return {};
    }
    bool unmonitor_cgroup(uint64_t cgroup_id) override {
        Call call(*this, "unmonitor_cgroup");
        if (call.fails()) return false;
        return cgroups.erase(cgroup_id) > 0;
    }
    std::optional<fnw_cgroup_entry> monitored_cgroup(uint64_t cgroup_id) const override {
        auto it = cgroups.find(cgroup_id);
        if (it == cgroups.end()) return std::nullopt;
        return it->second;
    }
    std::vector<std::pair<uint64_t, fnw_cgroup_entry>> monitored_cgroups() const override {
        return {cgroups.begin(), cgroups.end()};
    }
    size_t retarget_cgroups(uint32_t from, uint32_t to) override {
        Call call(*this, "retarget_cgroups");
        if (call.fails()) return 0;
        size_t moved = 0;
        for (auto& [id, entry] : cgroups)
            if (entry.policy_id == from) {
                entry.policy_id = to;
                ++moved;
            }
        return moved;
    }
    void report_cgroup_births(bool on) override { births_reported = on; }
    Status set_slot_owner(uint32_t slot, const SlotOwner& owner) override {
        Call call(*this, "set_slot_owner");
        if (call.fails()) return fail("injected failure");
        if (owner.function.empty())
            owners.erase(slot);
        else
            owners[slot] = owner;
        return {};
    }
    std::map<uint32_t, SlotOwner> slot_owners() const override { return owners; }
    // slot -> function, of the kernel's slot_owners map.
    std::map<uint32_t, std::string> owner_functions() const {
        std::map<uint32_t, std::string> out;
        for (const auto& [slot, owner] : owners) out[slot] = owner.function;
        return out;
    }

    std::map<uint32_t, SlotOwner> owners;  // the kernel's slot_owners map

private:
    struct Call {
        Call(FakeKernelMaps& maps, std::string name) : maps_(maps), name_(std::move(name)) {
            ++maps_.calls[name_];
            if (maps_.around_call) maps_.around_call(name_);
        }
        ~Call() {
            if (maps_.around_call) maps_.around_call(name_);
        }
        bool fails() {
            auto it = maps_.fail_in.find(name_);
            if (it == maps_.fail_in.end() || --it->second > 0) return false;
            maps_.fail_in.erase(it);
            return true;
        }
        FakeKernelMaps& maps_;
        std::string name_;
    };
};

}  // namespace fnw::testing
