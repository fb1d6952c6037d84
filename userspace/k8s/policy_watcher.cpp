// SPDX-License-Identifier: Apache-2.0
#include "k8s/policy_watcher.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

#include <spdlog/spdlog.h>

#include "k8s/failure_log.hpp"
#include "k8s/list_watch.hpp"
#include "k8s/pod_json.hpp"

namespace fnw {

using pod_json::Json;
using pod_json::member;
using pod_json::resource_version_of;
using pod_json::string_member;

namespace {

ListWatchOptions list_watch_options(const PolicyWatcherOptions& options) {
    ListWatchOptions watch;
    watch.resource = std::string(kFunctionPolicyResource);
    watch.rbac_rule = "a ClusterRole rule apiGroups [\"fnwarden.io\"], resources [\"functionpolicies\"]";
    const std::string group_path = "/apis/" + std::string(kFunctionPolicyGroupVersion);
    watch.api.resource_path = options.namespace_.empty()
                                  ? group_path + "/" + std::string(kFunctionPolicyResource)
                                  : group_path + "/namespaces/" + options.namespace_ + "/" +
                                        std::string(kFunctionPolicyResource);
    apply_limits(watch, options);
    return watch;
}

bool is_namespace_name(const std::string& name) {
    if (name.empty() || name.size() > 63) return false;
    auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; };
    return std::all_of(name.begin(), name.end(), ok) && name.front() != '-' && name.back() != '-';
}

// The object as the parser should see it. The server's additions (status,
// metadata.uid, resourceVersion, managedFields, ...) would be unknown keys
// to the parser, and metadata.namespace is the daemon's to apply (the
// namespace rule), not the document's.
std::optional<FunctionPolicyObject> object_from_json(const Json& object) {
    const Json* metadata = member(object, "metadata");
    if (!metadata) return std::nullopt;
    FunctionPolicyObject out;
    out.namespace_ = string_member(*metadata, "namespace");
    out.name = string_member(*metadata, "name");
    out.uid = string_member(*metadata, "uid");
    if (out.name.empty() || out.uid.empty() || !is_namespace_name(out.namespace_)) return std::nullopt;
    if (const Json* generation = member(*metadata, "generation"); generation && generation->is_number_integer())
        out.generation = generation->get<int64_t>();

    Json document = Json::object();
    for (const char* key : {"apiVersion", "kind"})
        if (const Json* value = member(object, key)) document[key] = *value;
    Json& meta = document["metadata"] = Json::object();
    meta["name"] = out.name;
    if (const Json* labels = member(*metadata, "labels")) meta["labels"] = *labels;
    if (const Json* spec = member(object, "spec")) document["spec"] = *spec;
    // One key per line: the parser's line numbers then point somewhere
    // readable in `status`.
    out.document = document.dump(2, ' ', false, Json::error_handler_t::replace);
    if (const Json* status = member(object, "status"))
        out.status = status->dump(-1, ' ', false, Json::error_handler_t::replace);
    return out;
}

}  // namespace

struct PolicyWatcher::Impl final : ListWatchTarget {
    Impl(KubeEndpoint endpoint, PolicyWatcherOptions opts)
        : options(std::move(opts)), loop(std::move(endpoint), list_watch_options(options), *this, failure_log) {}

    // --- ListWatchTarget -------------------------------------------------------

    void update_stats(const std::function<void(ListWatchStats&)>& update) override {
        std::lock_guard lock(mutex);
        update(stats_);
    }

    std::string resource_version() const override {
        std::lock_guard lock(mutex);
        return stats_.resource_version;
    }

    void list_started() override {
        listed.clear();
        refused = 0;
    }

    bool list_item(const Json& item) override {
        std::optional<FunctionPolicyObject> object = object_from_json(item);
        if (!object) return false;
        keep_listed(listed, std::move(*object), options.max_objects, refused);
        return true;
    }

    void list_complete(const std::string& version) override {
        bool changed = false;
        {
            std::lock_guard lock(mutex);
            changed = !synced_ || listed != by_uid;
            by_uid = std::move(listed);
            synced_ = true;
            stats_.resource_version = version;
            stats_.objects = by_uid.size();
            stats_.objects_refused += refused;
            ++stats_.lists;
        }
        listed = {};
        if (refused > 0)
            failure_log.log(spdlog::level::warn, "more than " + std::to_string(options.max_objects) +
                                                     " FunctionPolicy objects (max_objects): " +
                                                     std::to_string(refused) + " left out");
        if (changed) notify();
    }

    bool upsert(const Json& object, const std::string&) override {
        std::optional<FunctionPolicyObject> parsed = object_from_json(object);
        if (!parsed) return false;
        bool changed = false;
        {
            std::lock_guard lock(mutex);
            note_version_locked(resource_version_of(object));
            auto it = by_uid.find(parsed->uid);
            if (it == by_uid.end() && by_uid.size() >= options.max_objects) {
                ++stats_.objects_refused;
            } else if (it == by_uid.end() || it->second != *parsed) {
                // A status-only update keeps the document and is no change.
                changed = it == by_uid.end() || it->second.document != parsed->document;
                std::string uid = parsed->uid;
                by_uid.insert_or_assign(std::move(uid), std::move(*parsed));
            }
            stats_.objects = by_uid.size();
        }
        if (changed) notify();
        return true;
    }

    bool remove(const Json& object) override {
        const Json* metadata = member(object, "metadata");
        const std::string uid = metadata ? string_member(*metadata, "uid") : std::string();
        if (uid.empty()) return false;
        bool changed = false;
        {
            std::lock_guard lock(mutex);
            note_version_locked(resource_version_of(object));
            changed = by_uid.erase(uid) > 0;
            stats_.objects = by_uid.size();
        }
        if (changed) notify();
        return true;
    }

    void bookmark(std::string version) override {
        std::lock_guard lock(mutex);
        note_version_locked(std::move(version));
    }

    void note_version_locked(std::string version) {
        ++stats_.events;
        if (!version.empty()) stats_.resource_version = std::move(version);
    }

    void notify() {
        if (!options.on_change) return;
        // An exception must not unwind through libcurl's C frames.
        try {
            options.on_change();
        } catch (const std::exception& e) {
            failure_log.log(spdlog::level::err, std::string("policy change callback threw: ") + e.what(), "callback");
        } catch (...) {
            failure_log.log(spdlog::level::err, "policy change callback threw", "callback");
        }
    }

    const PolicyWatcherOptions options;
    FailureLog failure_log{"functionpolicy watcher"};  // worker thread only
    mutable std::mutex mutex;
    std::map<std::string, FunctionPolicyObject> by_uid;  // guarded by mutex
    PolicyWatcherStats stats_;                           // guarded by mutex
    bool synced_ = false;                                // guarded by mutex
    // The LIST in progress (worker thread only).
    std::map<std::string, FunctionPolicyObject> listed;
    uint64_t refused = 0;
    ListWatch loop;  // last: its worker is joined before anything above goes away
};

PolicyWatcher::PolicyWatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PolicyWatcher::~PolicyWatcher() = default;

Result<std::unique_ptr<PolicyWatcher>> PolicyWatcher::start(KubeEndpoint endpoint, PolicyWatcherOptions options) {
    if (!options.namespace_.empty() && !is_namespace_name(options.namespace_))
        return fail("functionpolicy watcher: namespace \"" + options.namespace_ + "\" is not a DNS label");
    if (options.max_objects == 0) return fail("functionpolicy watcher: max_objects must be positive");
    if (Status usable = check_list_watch(endpoint, list_watch_options(options)); !usable)
        return usable.wrap("functionpolicy watcher");
    auto impl = std::make_unique<Impl>(std::move(endpoint), std::move(options));
    if (Status started = impl->loop.start(); !started) return started.wrap("functionpolicy watcher");
    return std::unique_ptr<PolicyWatcher>(new PolicyWatcher(std::move(impl)));
}

std::vector<FunctionPolicyObject> PolicyWatcher::objects() const {
    std::vector<FunctionPolicyObject> out;
    {
        std::lock_guard lock(impl_->mutex);
        out.reserve(impl_->by_uid.size());
        for (const auto& [uid, object] : impl_->by_uid) out.push_back(object);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.key() < b.key(); });
    return out;
}

bool PolicyWatcher::synced() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->synced_;
}

PolicyWatcherStats PolicyWatcher::stats() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->stats_;
}

}  // namespace fnw
