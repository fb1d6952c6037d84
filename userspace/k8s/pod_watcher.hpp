// SPDX-License-Identifier: Apache-2.0
// The pods on this node, kept current from the Kubernetes API (LIST, then
// WATCH from the list's resourceVersion, as client-go's reflector does), so
// the daemon can name the pod and the function behind a cgroup's container.
//
// Keys match userspace/k8s/cgroup_path.hpp: PodInfo::uid is
// ContainerIdentity::pod_uid and PodInfo::container_ids hold
// ContainerIdentity::container_id values. Two gaps the caller must expect:
//   - a container's id reaches the API only after the kubelet's next status
//     update, usually well under a second after the container started: a
//     lookup miss for a brand new cgroup is normal, ask again later;
//   - a static pod's cgroup carries the kubelet's config hash, not the
//     mirror pod's metadata.uid: look it up by container id.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "k8s/kube_config.hpp"
#include "k8s/list_watch_limits.hpp"
#include "k8s/watch_stats.hpp"

namespace fnw {

struct PodInfo {
    std::string uid;  // metadata.uid
    std::string namespace_;
    std::string name;
    std::string node;  // spec.nodeName
    std::map<std::string, std::string> labels;
    // From status.containerStatuses, initContainerStatuses and
    // ephemeralContainerStatuses, without the "containerd://" (cri-o://,
    // docker://) prefix. Containers not created yet have no id and are left out.
    std::vector<std::string> container_ids;
    // The value of the first FunctionLabelKeys key the pod has; "" if none.
    std::string function;
    // Each of those ids' container name (status name = the spec's), so that
    // an event names the container a reader knows ("handler"), not only
    // its 64-hex id.
    std::map<std::string, std::string> container_names;

    bool operator==(const PodInfo&) const = default;
};

// Which pod label names the function a pod runs. Each FaaS platform labels
// its function pods its own way; the first key present wins.
struct FunctionLabelKeys {
    std::vector<std::string> ordered = defaults();

    // OpenFaaS, Knative Serving and Fission. Fn Project has no entry: it runs
    // each function as a Docker container of the fn server's own (labels
    // fn-agent-classifier / fn-agent-instance, neither naming the function),
    // not as a pod, so there is no pod label to read.
    static std::vector<std::string> defaults();

    // "" when no key is present (or its value is empty).
    std::string function_of(const std::map<std::string, std::string>& labels) const;
};

enum class PodEvent { Added, Modified, Deleted };

std::string_view to_string(PodEvent event);

// Called on the watcher's thread, outside its lock (queries from inside are
// fine). It must be cheap and must not block: the daemon hands the change
// to its event loop (queue + eventfd); a slow callback stalls the watch
// stream and the API server drops slow watchers.
using PodChangeCallback = std::function<void(const PodInfo&, PodEvent)>;

struct PodWatcherOptions : ListWatchLimits {
    // Required: only this node's pods are listed and watched
    // (fieldSelector=spec.nodeName=<node_name>), usually from the downward
    // API (env NODE_NAME from spec.nodeName).
    std::string node_name;
    FunctionLabelKeys function_labels;
    PodChangeCallback on_change;

    // Beyond this many pods new ones are refused (and counted): a node runs
    // at most a few hundred, so more means a selector that did not apply.
    size_t max_pods = 10000;
};

struct PodWatcherStats : ListWatchStats {
    uint64_t pods_refused = 0;  // max_pods reached
    uint64_t pods = 0;          // current snapshot size
};

class PodWatcher {
public:
    // Checks the endpoint and options and starts the worker; the first LIST
    // happens on the worker (see synced()). Fails for a missing node name,
    // an unusable server URL, unreadable credential files or a libcurl
    // without in-memory certificate support when PEM text is given.
    static Result<std::unique_ptr<PodWatcher>> start(KubeEndpoint endpoint, PodWatcherOptions options);
    // Returns within about a second even with a watch open (the transfer is
    // woken and abandoned); no callback runs after it returns.
    ~PodWatcher();
    PodWatcher(const PodWatcher&) = delete;
    PodWatcher& operator=(const PodWatcher&) = delete;

    // Thread-safe; copies, so the caller keeps nothing locked.
    std::optional<PodInfo> pod_by_uid(std::string_view uid) const;
    std::optional<PodInfo> pod_by_container(std::string_view container_id) const;
    std::optional<PodInfo> pod_by_name(std::string_view namespace_, std::string_view name) const;
    std::vector<PodInfo> pods() const;
    // True once the first LIST has completed: before that, a miss means
    // "not known yet", not "not a pod".
    bool synced() const;
    PodWatcherStats stats() const;

private:
    struct Impl;  // keeps libcurl and the JSON library out of this header
    explicit PodWatcher(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace fnw
