// SPDX-License-Identifier: Apache-2.0
// ProbeSet's reading of violation_tally (kernel_abi.h): the repeats the
// kernel counted instead of reporting each, turned into summary records.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>

#include "probes/probe_set.hpp"

#include "fnwarden_bpf.skel.h"

namespace fnw {
namespace {

fnw_violation_key key_of(const std::tuple<uint64_t, uint32_t, uint32_t, uint64_t>& id) {
    fnw_violation_key key{};
    std::tie(key.cgroup_id, key.type, key.what, key.detail) = id;
    return key;
}

}  // namespace

// An adopted set's violation_reported: what the earlier daemon reported.
void ProbeSet::load_reported_repeats() {
    const int fd = bpf_map__fd(skel_->maps.violation_reported);
    fnw_violation_key key{}, next{};
    for (const fnw_violation_key* prev = nullptr; bpf_map_get_next_key(fd, prev, &next) == 0; prev = &key) {
        key = next;
        fnw_violation_reported reported{};
        if (bpf_map_lookup_elem(fd, &key, &reported) == 0)
            reported_repeats_[{key.cgroup_id, key.type, key.what, key.detail}] = {reported.repeats, reported.last_ns};
    }
}

// Kept in the kernel beside the tallies, for a daemon that adopts them.
void ProbeSet::store_reported_repeats(const std::map<ViolationKey, ReportedRepeats>& now) {
    const int fd = bpf_map__fd(skel_->maps.violation_reported);
    for (const auto& [id, seen] : now) {
        auto before = reported_repeats_.find(id);
        if (before != reported_repeats_.end() && before->second.repeats == seen.repeats) continue;
        const fnw_violation_key key = key_of(id);
        const fnw_violation_reported value{seen.repeats, seen.last_ns};
        bpf_map_update_elem(fd, &key, &value, BPF_ANY);
    }
    for (const auto& [id, seen] : reported_repeats_) {
        if (now.count(id)) continue;
        const fnw_violation_key key = key_of(id);
        bpf_map_delete_elem(fd, &key);  // the LRU let the tally go
    }
}

std::vector<fnw_violation_summary_event> ProbeSet::take_violation_summaries() {
    std::vector<fnw_violation_summary_event> out;
    if (!reported_loaded_) {
        reported_loaded_ = true;
        if (pinned_.origin == PinnedOrigin::Adopted) load_reported_repeats();
    }
    const int fd = bpf_map__fd(skel_->maps.violation_tally);
    std::map<ViolationKey, ReportedRepeats> still_there;
    fnw_violation_key key{}, next{};
    for (const fnw_violation_key* prev = nullptr; bpf_map_get_next_key(fd, prev, &next) == 0; prev = &key) {
        key = next;
        fnw_violation_tally tally{};
        if (bpf_map_lookup_elem(fd, &key, &tally) != 0) continue;  // evicted meanwhile
        const ViolationKey id{key.cgroup_id, key.type, key.what, key.detail};
        ReportedRepeats seen = reported_repeats_.count(id) ? reported_repeats_.at(id) : ReportedRepeats{};
        if (tally.repeats > seen.repeats) {
            fnw_violation_summary_event ev{};
            ev.hdr.type = FNW_EVENT_VIOLATION_SUMMARY;
            ev.hdr.size = sizeof(ev);
            ev.hdr.boot_ns = tally.last_ns;
            ev.hdr.cgroup_id = key.cgroup_id;
            ev.hdr.policy_id = tally.policy_id;
            ev.kind = key.type;
            ev.what = key.what;
            ev.detail = key.detail;
            // The window's first repeat; if the kernel opened a new window
            // since (first_ns reset), the earliest time these can be from:
            // just after the last summary, or this window's record.
            ev.first_ns = tally.first_ns && tally.first_ns > seen.last_ns ? tally.first_ns
                          : seen.last_ns                                  ? seen.last_ns + 1
                                                                          : std::min(tally.window_start_ns, tally.last_ns);
            ev.last_ns = tally.last_ns;
            ev.repeats = tally.repeats - seen.repeats;
            out.push_back(ev);
            repeats_reported_total_ += ev.repeats;
            seen = {tally.repeats, tally.last_ns};
        }
        still_there[id] = seen;
    }
    // Keys the LRU let go of are forgotten with it (their repeats were
    // reported before, or are counted as unreported: violations_aggregated).
    store_reported_repeats(still_there);
    reported_repeats_ = std::move(still_there);
    return out;
}

}  // namespace fnw
