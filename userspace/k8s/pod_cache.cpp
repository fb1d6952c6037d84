// SPDX-License-Identifier: Apache-2.0
#include "k8s/pod_cache.hpp"

namespace fnw {

void PodCache::index_containers(const PodInfo& pod) {
    for (const std::string& id : pod.container_ids) uid_by_container_.insert_or_assign(id, pod.uid);
}

void PodCache::unindex_containers(const PodInfo& pod) {
    for (const std::string& id : pod.container_ids)
        if (auto it = uid_by_container_.find(id); it != uid_by_container_.end() && it->second == pod.uid)
            uid_by_container_.erase(it);
}

void PodCache::note_version_locked(std::string version) {
    ++stats_.events;
    if (version.empty()) return;
    resource_version_ = std::move(version);
    stats_.resource_version = resource_version_;
}

PodCache::Upserted PodCache::upsert(PodInfo pod, std::string version) {
    Upserted result;
    std::lock_guard lock(mutex_);
    note_version_locked(std::move(version));
    auto it = pods_by_uid_.find(pod.uid);
    if (it == pods_by_uid_.end()) {
        if (pods_by_uid_.size() >= max_pods_) {
            ++stats_.pods_refused;
            result.refused = true;
        } else {
            index_containers(pod);
            if (report_changes_) result.changes.emplace_back(pod, PodEvent::Added);
            std::string uid = pod.uid;
            pods_by_uid_.emplace(std::move(uid), std::move(pod));
        }
    } else if (!(it->second == pod)) {
        unindex_containers(it->second);
        index_containers(pod);
        if (report_changes_) result.changes.emplace_back(pod, PodEvent::Modified);
        it->second = std::move(pod);
    }
    stats_.pods = pods_by_uid_.size();
    return result;
}

PodChanges PodCache::remove(const std::string& uid, std::string version) {
    PodChanges changes;
    std::lock_guard lock(mutex_);
    note_version_locked(std::move(version));
    if (auto it = pods_by_uid_.find(uid); it != pods_by_uid_.end()) {
        unindex_containers(it->second);
        if (report_changes_) changes.emplace_back(std::move(it->second), PodEvent::Deleted);
        pods_by_uid_.erase(it);
    }
    stats_.pods = pods_by_uid_.size();
    return changes;
}

void PodCache::bookmark(std::string version) {
    std::lock_guard lock(mutex_);
    resource_version_ = std::move(version);
    stats_.resource_version = resource_version_;
    ++stats_.events;
}

PodCache::Replaced PodCache::replace(StringMap<PodInfo> listed, std::string version, uint64_t refused) {
    Replaced result;
    std::lock_guard lock(mutex_);
    if (report_changes_) {
        for (auto& [uid, old] : pods_by_uid_)
            if (!listed.contains(uid)) result.changes.emplace_back(old, PodEvent::Deleted);
        for (const auto& [uid, pod] : listed) {
            const auto old = pods_by_uid_.find(uid);
            if (old == pods_by_uid_.end())
                result.changes.emplace_back(pod, PodEvent::Added);
            else if (!(old->second == pod))
                result.changes.emplace_back(pod, PodEvent::Modified);
        }
    }
    pods_by_uid_ = std::move(listed);
    uid_by_container_.clear();
    for (const auto& [uid, pod] : pods_by_uid_) index_containers(pod);
    resource_version_ = std::move(version);
    stats_.resource_version = resource_version_;
    stats_.pods = result.pods = pods_by_uid_.size();
    stats_.pods_refused += refused;
    ++stats_.lists;
    result.first_sync = !synced_;
    synced_ = true;
    return result;
}

std::string PodCache::resource_version() const {
    std::lock_guard lock(mutex_);
    return resource_version_;
}

std::optional<PodInfo> PodCache::by_uid(std::string_view uid) const {
    std::lock_guard lock(mutex_);
    const auto it = pods_by_uid_.find(uid);
    if (it == pods_by_uid_.end()) return std::nullopt;
    return it->second;
}

std::optional<PodInfo> PodCache::by_name(std::string_view namespace_, std::string_view name) const {
    std::lock_guard lock(mutex_);
    for (const auto& [uid, pod] : pods_by_uid_)
        if (pod.namespace_ == namespace_ && pod.name == name) return pod;
    return std::nullopt;
}

std::optional<PodInfo> PodCache::by_container(std::string_view container_id) const {
    std::lock_guard lock(mutex_);
    const auto owner = uid_by_container_.find(container_id);
    if (owner == uid_by_container_.end()) return std::nullopt;
    const auto it = pods_by_uid_.find(owner->second);
    if (it == pods_by_uid_.end()) return std::nullopt;
    return it->second;
}

std::vector<PodInfo> PodCache::all() const {
    std::lock_guard lock(mutex_);
    std::vector<PodInfo> pods;
    pods.reserve(pods_by_uid_.size());
    for (const auto& [uid, pod] : pods_by_uid_) pods.push_back(pod);
    return pods;
}

bool PodCache::synced() const {
    std::lock_guard lock(mutex_);
    return synced_;
}

PodWatcherStats PodCache::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

}  // namespace fnw
