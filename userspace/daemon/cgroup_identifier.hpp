// SPDX-License-Identifier: Apache-2.0
// Cgroups the daemon finds itself: a cgroupPath selector matching a path
// (at birth, or at a scan of the tree), or a pod selector matching the pod
// a container cgroup belongs to, including pods the API server has not
// reported yet (matched when they arrive). Below a monitored cgroup a match
// never loosens what the cgroup inherits (daemon/nesting.hpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "control/protocol.hpp"

#include "core/selector.hpp"
#include "daemon/nesting.hpp"
#include "daemon/policy_table.hpp"
#include "daemon/registrations.hpp"
#include "k8s/pod_watcher.hpp"
#include "probes/kernel_maps.hpp"

namespace fnw {

// The cgroup tree, as the identifier reads it: paths relative to the
// cgroup2 mount ("" is the root).
class CgroupTreeReader {
public:
    virtual ~CgroupTreeReader() = default;
    virtual std::optional<uint64_t> id_of(const std::filesystem::path& relative) const = 0;
    // Every cgroup below the root, parents before their children (bounded).
    virtual void walk(const std::function<void(const std::filesystem::path& relative)>& visit) const = 0;
    // A container not started yet: its cgroup holds no process, or only a
    // container runtime's init (runc init, before it execs the entrypoint).
    virtual bool runtime_still_starting(const std::filesystem::path& relative) const = 0;
};

// The real tree under a cgroup2 mount.
class CgroupFsTree : public CgroupTreeReader {
public:
    explicit CgroupFsTree(std::filesystem::path root) : root_(std::move(root)) {}
    std::optional<uint64_t> id_of(const std::filesystem::path& relative) const override;
    void walk(const std::function<void(const std::filesystem::path& relative)>& visit) const override;
    bool runtime_still_starting(const std::filesystem::path& relative) const override;

private:
    std::filesystem::path root_;
};

// The pods of this node, as the pod watcher knows them.
struct PodLookup {
    std::function<std::optional<PodInfo>(std::string_view uid)> by_uid;
    std::function<std::optional<PodInfo>(std::string_view container_id)> by_container;
    // Unset: by uid and container id only (tests).
    std::function<std::optional<PodInfo>(std::string_view namespace_, std::string_view name)> by_name;
    explicit operator bool() const { return static_cast<bool>(by_uid); }
};

// A cgroup the daemon found itself (selector match), not a launcher's.
struct IdentifiedCgroup {
    std::string function;
    std::string path;      // relative to the cgroup2 mount
    std::string found_by;  // "cgroupPath" or "pod", at birth or at the scan
    // Kubernetes identity, when the path is a pod's container and the pod is known.
    std::string k8s_namespace, k8s_pod, container_id, container_name;
    // The selector named the function (daemon/nesting.hpp): its descendants
    // keep this policy. False for a default (a cgroupPath naming no function).
    bool names_function = true;
    // Not a match of its own: a descendant kept under its ancestor's policy
    // although a looser selector matched it (found_by says whose).
    bool kept_ancestors = false;
};

class CgroupIdentifier {
public:
    CgroupIdentifier(KernelMaps& maps, const PolicyTable& table, const Registrations& registrations,
                     const CgroupTreeReader& tree, std::atomic<uint64_t>& monitored_count)
        : maps_(maps), table_(table), registrations_(registrations), tree_(tree), monitored_count_(monitored_count) {}

    // Set once the pod watcher runs (it starts before the first reload).
    void set_pods(PodLookup pods) { pods_ = std::move(pods); }

    // After every successful reload: hear of cgroup births only while a
    // selector needs them, and look at what already exists (functions
    // started before the daemon, or before their policy was added). `set`
    // must stay alive until the next call.
    void reconfigure(const PolicySet& set, SelectorMatcher selectors);
    // Whether births and scans can find anything (a policy set with path
    // selectors, or pod selectors and a pod watcher).
    bool wants_births() const;

    void identify(uint64_t cgroup_id, const std::string& relative_path, uint64_t parent_id, const char* found_by);
    // The cgroup tree as it is: each directory is matched; one below a
    // monitored directory that matches nothing itself gets its parent's
    // entry, as cgroup_mkdir would have given it had we been running.
    void scan();
    // Pods the watcher reported: container cgroups that waited for them
    // are matched now.
    void on_pod_changes(const std::vector<std::pair<PodInfo, PodEvent>>& changes);
    // cgroup_rmdir removed the kernel entry; forget the name too.
    void prune();
    // A launcher registered the cgroup: it names the function now.
    void forget(uint64_t cgroup_id) { identified_.erase(cgroup_id); }

    const IdentifiedCgroup* find(uint64_t cgroup_id) const;
    // The function a cgroupPath selector gives `relative_path`, "" when
    // none: fnwarden-runtime asks before the container's cgroup exists.
    std::string function_for_path(const std::string& relative_path) const;
    // The function a pod selector gives the named pod, "" when none takes
    // it; a failure when a pod watcher runs but does not know the pod yet
    // (the wrapper refuses the container, and the kubelet tries again).
    Result<std::string> function_for_pod(std::string_view namespace_, std::string_view name) const;
    size_t pending_pod_cgroups() const { return pending_count_; }
    void add_status_counters(DaemonCounters& daemon_counters) const;

private:
    // The nearest monitored cgroup above one, and who gave the policy it
    // passes down (the first registration or selector match on the way up).
    struct MonitoredAncestor {
        uint64_t id = 0;
        fnw_cgroup_entry entry{};
        AncestorOrigin origin = AncestorOrigin::Unknown;
        std::string function;  // of the origin, for attribution
        std::string path;      // of the origin, relative to the cgroup2 mount
    };
    std::optional<MonitoredAncestor> monitored_ancestor(const std::string& relative_path, uint64_t parent_id) const;
    // A container cgroup: its pod's names, and maybe a pod selector's
    // match. False when it must wait for its pod (queued).
    bool look_up_pod(uint64_t cgroup_id, const std::string& relative_path, IdentifiedCgroup& who,
                     std::optional<SelectorMatcher::Match>& match);
    // A match below a monitored cgroup that must not loosen it: the cgroup
    // keeps its ancestor's policy. False when the match applies.
    bool keep_ancestors_policy(uint64_t cgroup_id, const std::string& relative_path, uint64_t parent_id,
                               const FunctionPolicy& policy, uint32_t slot, IdentifiedCgroup& who);
    void monitor_match(uint64_t cgroup_id, const std::string& relative_path, const SelectorMatcher::Match& match,
                       const FunctionPolicy& policy, uint32_t slot, IdentifiedCgroup& who);

    KernelMaps& maps_;
    const PolicyTable& table_;
    const Registrations& registrations_;
    const CgroupTreeReader& tree_;
    std::atomic<uint64_t>& monitored_count_;  // read by the metrics thread
    PodLookup pods_;

    const PolicySet* set_ = nullptr;
    SelectorMatcher selectors_;
    bool path_selectors_ = false, pod_selectors_ = false;
    std::map<uint64_t, IdentifiedCgroup> identified_;
    uint64_t cgroups_identified_ = 0;
    uint64_t nested_matches_refused_ = 0;  // selector matches that would have loosened a descendant
    // Container cgroups whose pod the watcher has not reported yet (the
    // kubelet creates the cgroup before the API shows the container).
    std::map<std::string, std::vector<std::pair<uint64_t, std::string>>> pending_pods_;  // pod uid -> cgroups
    size_t pending_count_ = 0;
};

}  // namespace fnw
