// SPDX-License-Identifier: Apache-2.0
// FunctionPolicy objects (fnwarden.io/v1, namespaced, plural
// functionpolicies) kept current from the Kubernetes API with the same
// list+watch loop as the pods (k8s/list_watch.hpp): across all namespaces,
// or one. The watcher only keeps the objects; turning them into policies is
// the daemon's (daemon/policy_set.hpp), through the same parser and checks
// as a rules file.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "k8s/kube_config.hpp"
#include "k8s/list_watch_limits.hpp"
#include "k8s/watch_stats.hpp"

namespace fnw {

inline constexpr std::string_view kFunctionPolicyGroupVersion = "fnwarden.io/v1";
inline constexpr std::string_view kFunctionPolicyResource = "functionpolicies";

struct FunctionPolicyObject {
    std::string namespace_;  // metadata.namespace
    std::string name;        // metadata.name
    std::string uid;
    int64_t generation = 0;  // metadata.generation: bumped by spec edits only
    // What the policy parser reads, as JSON text (which is YAML): the
    // object's apiVersion, kind, metadata.name (and labels) and spec, and
    // nothing the server adds (status, managedFields, uid, ...).
    std::string document;
    // The object's .status as JSON text ("" when it has none): what the
    // status writer compares with before it patches.
    std::string status;

    // "namespace/name": the policy's identity in status and messages.
    std::string key() const { return namespace_ + "/" + name; }
    bool operator==(const FunctionPolicyObject&) const = default;
};

// On the watcher's thread, outside its lock; cheap and non-blocking (the
// daemon writes an eventfd and reloads on its loop). Called when the set of
// objects, or one's document, changed; not for status-only updates.
using PolicyChangeCallback = std::function<void()>;

struct PolicyWatcherOptions : ListWatchLimits {
    std::string namespace_;  // "" = every namespace
    PolicyChangeCallback on_change;

    // A set holds at most this many policies anyway (daemon/policy_set.hpp):
    // objects beyond it are refused and counted.
    size_t max_objects = 1024;
};

struct PolicyWatcherStats : ListWatchStats {
    uint64_t objects = 0;
    uint64_t objects_refused = 0;  // max_objects reached
};

class PolicyWatcher {
public:
    // Checks the endpoint and options and starts the worker.
    static Result<std::unique_ptr<PolicyWatcher>> start(KubeEndpoint endpoint, PolicyWatcherOptions options);
    ~PolicyWatcher();
    PolicyWatcher(const PolicyWatcher&) = delete;
    PolicyWatcher& operator=(const PolicyWatcher&) = delete;

    // Thread-safe copy, sorted by key().
    std::vector<FunctionPolicyObject> objects() const;
    // True once the first LIST completed: before that, "no objects" means
    // "not known yet".
    bool synced() const;
    PolicyWatcherStats stats() const;

private:
    struct Impl;
    explicit PolicyWatcher(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace fnw
