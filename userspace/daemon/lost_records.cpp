// SPDX-License-Identifier: Apache-2.0
#include "daemon/lost_records.hpp"

#include <spdlog/spdlog.h>

#include "core/display_name.hpp"

namespace fnw {

void LostRecords::account(const ProbeCounters& kernel, const std::map<uint32_t, uint64_t>& gaps,
                          const PolicyTable& table, CgroupIdentifier& identifier) {
    // Every function of the policy set has its series from the start, at 0:
    // a scraper (and an alert on increase()) sees "no gap", not "no data".
    for (const auto& [slot, info] : table.slot_infos()) coverage_gaps_total_->with({info.function});
    for (const auto& [slot, total] : gaps) {
        uint64_t& seen = gaps_seen_[slot];
        if (total <= seen) continue;
        const SlotInfo* info = table.info(slot);
        const std::string function = info ? info->function : "unknown";
        spdlog::warn("{}: {} accesses neither decided nor reported: ring buffer full", display_name(function),
                     total - seen);
        if (gaps_per_function_.size() < max_functions_ || gaps_per_function_.count(function))
            gaps_per_function_[function] += total - seen;
        coverage_gaps_total_->with({function}).inc(total - seen);
        seen = total;
    }
    if (kernel.birth_drops > birth_drops_seen_ && identifier.wants_births()) {
        spdlog::warn("{} cgroup births lost: ring buffer full; rescanning the cgroup tree",
                     kernel.birth_drops - birth_drops_seen_);
        identifier.scan();
        ++rescans_after_lost_births_;
    }
    birth_drops_seen_ = kernel.birth_drops;
}

uint64_t LostRecords::gaps_of(const std::string& function) const {
    auto it = gaps_per_function_.find(function);
    return it == gaps_per_function_.end() ? 0 : it->second;
}

}  // namespace fnw
