// SPDX-License-Identifier: Apache-2.0
// The pod watcher's snapshot: pods by uid, the container index, the
// resourceVersion to resume from and the counters, under one mutex. Each
// change returns what a listener must be told, so the caller can call out
// after the lock is released.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "k8s/pod_watcher.hpp"

namespace fnw {

struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};
template <typename Value>
using StringMap = std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;

using PodChanges = std::vector<std::pair<PodInfo, PodEvent>>;

class PodCache {
public:
    // report_changes false: nobody listens, so no change is collected.
    PodCache(size_t max_pods, bool report_changes) : max_pods_(max_pods), report_changes_(report_changes) {}

    struct Upserted {
        PodChanges changes;
        bool refused = false;  // a new pod beyond max_pods
    };
    // An ADDED or MODIFIED event; `version` "" keeps the current one.
    Upserted upsert(PodInfo pod, std::string version);
    // A DELETED event.
    PodChanges remove(const std::string& uid, std::string version);
    // A BOOKMARK: only where to resume.
    void bookmark(std::string version);

    struct Replaced {
        PodChanges changes;
        bool first_sync = false;
        size_t pods = 0;
    };
    // A complete LIST. It reports what changed since the old snapshot, so a
    // listener sees the same sequence of states it would have seen from the watch.
    Replaced replace(StringMap<PodInfo> listed, std::string version, uint64_t refused);

    // The counters the snapshot does not keep itself.
    template <typename Update>
    void update_stats(Update update) {
        std::lock_guard lock(mutex_);
        update(stats_);
    }

    std::string resource_version() const;
    std::optional<PodInfo> by_uid(std::string_view uid) const;
    std::optional<PodInfo> by_container(std::string_view container_id) const;
    // A pod by its name (a scan: fnwarden-runtime asks once per container).
    std::optional<PodInfo> by_name(std::string_view namespace_, std::string_view name) const;
    std::vector<PodInfo> all() const;
    bool synced() const;
    PodWatcherStats stats() const;

private:
    void index_containers(const PodInfo& pod);
    void unindex_containers(const PodInfo& pod);
    void note_version_locked(std::string version);

    const size_t max_pods_;
    const bool report_changes_;
    mutable std::mutex mutex_;
    StringMap<PodInfo> pods_by_uid_;
    StringMap<std::string> uid_by_container_;
    std::string resource_version_;
    PodWatcherStats stats_;
    bool synced_ = false;
};

}  // namespace fnw
