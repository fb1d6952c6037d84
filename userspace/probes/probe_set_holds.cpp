// SPDX-License-Identifier: Apache-2.0
// ProbeSet's holds map: the threads the probes stopped at the end of an
// operation only userspace can decide (fnw_hold_current in emit.bpf.h).
#include <bpf/libbpf.h>

#include "probes/probe_set.hpp"

#include "fnwarden_bpf.skel.h"

namespace fnw {

std::vector<std::pair<uint32_t, fnw_hold>> ProbeSet::holds() const {
    std::vector<std::pair<uint32_t, fnw_hold>> out;
    uint32_t key = 0, next = 0;
    const void* prev = nullptr;
    while (bpf_map__get_next_key(skel_->maps.holds, prev, &next, sizeof(next)) == 0) {
        fnw_hold hold{};
        if (bpf_map__lookup_elem(skel_->maps.holds, &next, sizeof(next), &hold, sizeof(hold), 0) == 0)
            out.emplace_back(next, hold);
        key = next;
        prev = &key;
    }
    return out;
}

bool ProbeSet::end_hold(uint32_t tid, uint32_t tgid) {
    bpf_map__delete_elem(skel_->maps.holds, &tid, sizeof(tid), 0);
    // At most FNW_MAX_HOLDS entries, and only held records get here.
    for (const auto& [other, hold] : holds())
        if (hold.tgid == tgid) return true;
    return false;
}

}  // namespace fnw
