// SPDX-License-Identifier: Apache-2.0
// Which kernel policy slot (index into the `policies` map) each function
// uses. A reload never rewrites a slot a cgroup may be reading: it writes the
// new policy into a free slot, points cgroups at it, and only then retires
// the old one (see Daemon::reload in daemon.cpp).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include <fnwarden/limits.h>

namespace fnw {

class PolicySlots {
public:
    // Slots [first, capacity). Slot 0 stays unused: a zeroed entry written
    // by mistake must not silently select a real policy.
    explicit PolicySlots(uint32_t capacity = FNW_MAX_POLICIES, uint32_t first = 1);

    // The slot released longest ago: events still in flight from a retired
    // slot decode with the policy they ran under for as long as possible.
    std::optional<uint32_t> acquire();
    void release(uint32_t slot);
    // Takes `slot` out of the free list: an adopted pinned set's slot that
    // cgroups still point at. False when it is not free to take.
    bool reserve(uint32_t slot);
    size_t free_count() const { return free_.size(); }
    bool in_use(uint32_t slot) const { return slot < used_.size() && used_[slot]; }

private:
    std::deque<uint32_t> free_;
    std::vector<bool> used_;
};

}  // namespace fnw
