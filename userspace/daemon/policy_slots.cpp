// SPDX-License-Identifier: Apache-2.0
#include "daemon/policy_slots.hpp"

#include <algorithm>

namespace fnw {

PolicySlots::PolicySlots(uint32_t capacity, uint32_t first) : used_(capacity, false) {
    for (uint32_t slot = first; slot < capacity; ++slot) free_.push_back(slot);
}

std::optional<uint32_t> PolicySlots::acquire() {
    if (free_.empty()) return std::nullopt;
    const uint32_t slot = free_.front();
    free_.pop_front();
    used_[slot] = true;
    return slot;
}

bool PolicySlots::reserve(uint32_t slot) {
    if (slot >= used_.size() || used_[slot]) return false;
    auto it = std::find(free_.begin(), free_.end(), slot);
    if (it == free_.end()) return false;  // below `first`: never handed out
    free_.erase(it);
    used_[slot] = true;
    return true;
}

void PolicySlots::release(uint32_t slot) {
    if (!in_use(slot)) return;  // double release is a bug, but must not corrupt the list
    used_[slot] = false;
    free_.push_back(slot);
}

}  // namespace fnw
