// SPDX-License-Identifier: Apache-2.0
#include "k8s/pod_watcher.hpp"

#include <utility>

#include <spdlog/spdlog.h>

#include "k8s/failure_log.hpp"
#include "k8s/list_watch.hpp"
#include "k8s/pod_cache.hpp"
#include "k8s/pod_json.hpp"

namespace fnw {

using pod_json::Json;
using pod_json::member;
using pod_json::pod_from_json;
using pod_json::resource_version_of;
using pod_json::string_member;

std::vector<std::string> FunctionLabelKeys::defaults() {
    return {
        // OpenFaaS: faas-netes puts {"faas_function": <function>} on the
        // function Deployment's pod template (and selects pods by it).
        "faas_function",
        // Knative Serving: revision pods carry serving.knative.dev/service,
        // /configuration and /revision (knative.dev/serving
        // pkg/apis/serving/register.go). A Configuration made without a
        // Service has only the second. Knative Functions (`func`) deploy
        // Knative Services, so they are covered too.
        "serving.knative.dev/service",
        "serving.knative.dev/configuration",
        // Fission: the executor's pod labels (pkg/apis/core/v1/const.go:
        // FUNCTION_NAME = "functionName", next to functionNamespace and
        // executorType). A poolmgr pod is generic until it is specialised
        // for a function: the label arrives then, as a MODIFIED event for
        // an already running container.
        "functionName",
    };
}

std::string FunctionLabelKeys::function_of(const std::map<std::string, std::string>& labels) const {
    for (const std::string& key : ordered)
        if (auto it = labels.find(key); it != labels.end() && !it->second.empty()) return it->second;
    return "";
}

std::string_view to_string(PodEvent event) {
    switch (event) {
    case PodEvent::Added: return "added";
    case PodEvent::Modified: return "modified";
    case PodEvent::Deleted: return "deleted";
    }
    return "unknown";
}

namespace {

ListWatchOptions list_watch_options(const PodWatcherOptions& options) {
    ListWatchOptions watch;
    watch.resource = "pods";
    watch.rbac_rule = "a ClusterRole rule apiGroups [\"\"], resources [\"pods\"]";
    watch.api.resource_path = "/api/v1/pods";
    watch.api.field_selector = "spec.nodeName=" + options.node_name;
    apply_limits(watch, options);
    return watch;
}

Status check_options(const KubeEndpoint& endpoint, const PodWatcherOptions& options) {
    if (options.node_name.empty()) return fail("node_name is required (the downward API's spec.nodeName)");
    if (options.max_pods == 0) return fail("sizes, limits and timeouts must be positive");
    return check_list_watch(endpoint, list_watch_options(options));
}

}  // namespace

// The pods of the node: the list+watch loop (k8s/list_watch.hpp) feeds the
// snapshot (k8s/pod_cache.hpp); changes go to the callback.
struct PodWatcher::Impl final : ListWatchTarget {
    Impl(KubeEndpoint endpoint, PodWatcherOptions opts)
        : options(std::move(opts)),
          cache(options.max_pods, static_cast<bool>(options.on_change)),
          loop(std::move(endpoint), list_watch_options(options), *this, failure_log) {}

    // --- ListWatchTarget -------------------------------------------------------

    void update_stats(const std::function<void(ListWatchStats&)>& update) override {
        cache.update_stats([&](PodWatcherStats& stats) { update(stats); });
    }

    std::string resource_version() const override { return cache.resource_version(); }

    void list_started() override {
        listed.clear();
        refused = 0;
    }

    bool list_item(const Json& item) override {
        std::optional<PodInfo> pod = pod_from_json(item, options.function_labels);
        if (!pod) return false;
        keep_listed(listed, std::move(*pod), options.max_pods, refused);
        return true;
    }

    void list_complete(const std::string& version) override {
        if (refused > 0)
            failure_log.log(spdlog::level::warn, "the pod list holds more than " + std::to_string(options.max_pods) +
                                                     " pods (max_pods): " + std::to_string(refused) + " left out");
        PodCache::Replaced replaced = cache.replace(std::move(listed), version, refused);
        listed = {};
        if (replaced.first_sync)
            spdlog::info("pod watcher: {} pods on node {} (resourceVersion {})", replaced.pods, options.node_name,
                         version);
        notify(replaced.changes);
    }

    bool upsert(const Json& object, const std::string&) override {
        std::optional<PodInfo> pod = pod_from_json(object, options.function_labels);
        if (!pod) return false;
        PodCache::Upserted upserted = cache.upsert(std::move(*pod), resource_version_of(object));
        if (upserted.refused)
            failure_log.log(spdlog::level::warn,
                            "more than " + std::to_string(options.max_pods) + " pods (max_pods): new pods are not tracked",
                            "max_pods");
        notify(upserted.changes);
        return true;
    }

    bool remove(const Json& object) override {
        const Json* metadata = member(object, "metadata");
        const std::string uid = metadata ? string_member(*metadata, "uid") : std::string();
        if (uid.empty()) return false;
        notify(cache.remove(uid, resource_version_of(object)));
        return true;
    }

    void bookmark(std::string version) override { cache.bookmark(std::move(version)); }

    void notify(const PodChanges& changes) {
        for (const auto& [pod, event] : changes) {
            // An exception must not unwind through libcurl's C frames.
            try {
                options.on_change(pod, event);
            } catch (const std::exception& e) {
                failure_log.log(spdlog::level::err, std::string("pod change callback threw: ") + e.what(), "callback");
            } catch (...) {
                failure_log.log(spdlog::level::err, "pod change callback threw", "callback");
            }
        }
    }

    const PodWatcherOptions options;
    FailureLog failure_log{"pod watcher"};  // worker thread only
    PodCache cache;
    // The LIST in progress (worker thread only).
    StringMap<PodInfo> listed;
    uint64_t refused = 0;
    ListWatch loop;  // last: its worker is joined before anything above goes away
};

PodWatcher::PodWatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PodWatcher::~PodWatcher() = default;

Result<std::unique_ptr<PodWatcher>> PodWatcher::start(KubeEndpoint endpoint, PodWatcherOptions options) {
    if (Status usable = check_options(endpoint, options); !usable) return usable.wrap("pod watcher");
    auto impl = std::make_unique<Impl>(std::move(endpoint), std::move(options));
    if (Status started = impl->loop.start(); !started) return started.wrap("pod watcher");
    return std::unique_ptr<PodWatcher>(new PodWatcher(std::move(impl)));
}

std::optional<PodInfo> PodWatcher::pod_by_uid(std::string_view uid) const { return impl_->cache.by_uid(uid); }

std::optional<PodInfo> PodWatcher::pod_by_name(std::string_view namespace_, std::string_view name) const {
    return impl_->cache.by_name(namespace_, name);
}

std::optional<PodInfo> PodWatcher::pod_by_container(std::string_view container_id) const {
    return impl_->cache.by_container(container_id);
}

std::vector<PodInfo> PodWatcher::pods() const { return impl_->cache.all(); }

bool PodWatcher::synced() const { return impl_->cache.synced(); }

PodWatcherStats PodWatcher::stats() const { return impl_->cache.stats(); }

}  // namespace fnw
