// SPDX-License-Identifier: Apache-2.0
// Records the kernel could not queue (ring full; docs/threat-model.md,
// "Flooding the ring buffer"). Coverage gaps are counted per policy slot
// and never reset there: the delta since the last read goes to the function
// the slot belongs to. A lost cgroup birth may be a function a selector
// should have found: the tree is scanned again, as at a reload.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "daemon/cgroup_identifier.hpp"
#include "daemon/policy_table.hpp"
#include "output/metrics.hpp"
#include "probes/probe_set.hpp"

namespace fnw {

class LostRecords {
public:
    // At most `max_functions` names are kept (names of policies loaded over time).
    LostRecords(CounterFamily* coverage_gaps_total, size_t max_functions)
        : coverage_gaps_total_(coverage_gaps_total), max_functions_(max_functions) {}

    // Once a second: `gaps` is the kernel's coverage_gaps per slot.
    void account(const ProbeCounters& kernel, const std::map<uint32_t, uint64_t>& gaps, const PolicyTable& table,
                 CgroupIdentifier& identifier);

    uint64_t gaps_of(const std::string& function) const;
    uint64_t rescans_after_lost_births() const { return rescans_after_lost_births_; }

private:
    CounterFamily* coverage_gaps_total_;
    size_t max_functions_;
    std::map<uint32_t, uint64_t> gaps_seen_;
    std::map<std::string, uint64_t> gaps_per_function_;
    uint64_t birth_drops_seen_ = 0, rescans_after_lost_births_ = 0;
};

}  // namespace fnw
