// SPDX-License-Identifier: Apache-2.0
// Events and violations per function for `status` and `top`. Function names
// come from outside (cgroup path capture groups, pod labels, clients'
// registrations): the table is capped, and what does not fit is counted in
// one overflow entry instead of growing the daemon without bound.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace fnw {

class FunctionTally {
public:
    struct Counts {
        uint64_t events = 0;
        uint64_t violations = 0;
    };

    static constexpr size_t kDefaultMaxFunctions = 1024;
    explicit FunctionTally(size_t max_functions = kDefaultMaxFunctions) : max_functions_(max_functions) {}

    // Functions already in the table are always counted; a new one only
    // while there is room, else its event goes to overflow().
    // `violations`: how many the event reports (a summary of repeats: many).
    void count(const std::string& function, bool violation, uint64_t violations = 1) {
        auto it = counts_.find(function);
        if (it == counts_.end()) {
            if (counts_.size() >= max_functions_) {
                ++overflow_.events;
                if (violation) overflow_.violations += violations;
                return;
            }
            it = counts_.emplace(function, Counts{}).first;
        }
        ++it->second.events;
        if (violation) it->second.violations += violations;
    }

    // Zeroes for a function never counted (or counted only in overflow()).
    Counts get(const std::string& function) const {
        auto it = counts_.find(function);
        return it == counts_.end() ? Counts{} : it->second;
    }

    size_t size() const { return counts_.size(); }
    size_t max_functions() const { return max_functions_; }
    // Events of functions that found the table full.
    const Counts& overflow() const { return overflow_; }

private:
    size_t max_functions_;
    std::map<std::string, Counts> counts_;
    Counts overflow_;
};

}  // namespace fnw
