// SPDX-License-Identifier: Apache-2.0
#include "daemon/daemon_threads.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace fnw {

Result<std::unique_ptr<PodFeed>> PodFeed::start(KubeEndpoint endpoint, PodWatcherOptions options) {
    std::unique_ptr<PodFeed> feed(new PodFeed());
    feed->wakeup_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!feed->wakeup_.valid()) return fail(std::string("eventfd: ") + std::strerror(errno));
    // On the watcher's thread: queue and wake the loop, nothing else.
    options.on_change = [f = feed.get()](const PodInfo& pod, PodEvent event) {
        {
            std::lock_guard lock(f->changes_mutex_);
            f->changes_.emplace_back(pod, event);
        }
        const uint64_t one = 1;
        (void)!::write(f->wakeup_.get(), &one, sizeof(one));
    };
    auto started = PodWatcher::start(std::move(endpoint), std::move(options));
    if (!started) return fail("kubernetes pod watcher: " + started.error());
    feed->watcher_ = std::move(*started);
    return feed;
}

std::vector<std::pair<PodInfo, PodEvent>> PodFeed::take_changes() {
    uint64_t count = 0;
    (void)!::read(wakeup_.get(), &count, sizeof(count));
    std::vector<std::pair<PodInfo, PodEvent>> changes;
    std::lock_guard lock(changes_mutex_);
    changes.swap(changes_);
    return changes;
}

PodLookup PodFeed::lookup() const {
    const PodWatcher* watcher = watcher_.get();
    return PodLookup{[watcher](std::string_view uid) { return watcher->pod_by_uid(uid); },
                     [watcher](std::string_view id) { return watcher->pod_by_container(id); },
                     [watcher](std::string_view ns, std::string_view name) { return watcher->pod_by_name(ns, name); }};
}

KubernetesInfo PodFeed::status(const std::string& node_name, size_t cgroups_waiting) const {
    const auto k = watcher_->stats();
    KubernetesInfo info;
    info.node = node_name;
    info.resource_version = k.resource_version;
    info.last_error = k.last_error;
    info.synced = watcher_->synced();
    info.pods = k.pods;
    info.lists = k.lists;
    info.relists_410 = k.relists_410;
    info.reconnects = k.reconnects;
    info.events = k.events;
    info.errors = k.errors;
    info.cgroups_waiting_for_their_pod = cgroups_waiting;
    return info;
}

Result<std::unique_ptr<PolicyFeed>> PolicyFeed::start(KubeEndpoint endpoint, PolicyWatcherOptions options,
                                                       bool write_status) {
    std::unique_ptr<PolicyFeed> feed(new PolicyFeed());
    feed->wakeup_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!feed->wakeup_.valid()) return fail(std::string("eventfd: ") + std::strerror(errno));
    // On the watcher's thread: wake the loop, nothing else.
    options.on_change = [fd = feed->wakeup_.get()] {
        const uint64_t one = 1;
        (void)!::write(fd, &one, sizeof(one));
    };
    if (write_status) {
        auto writer = PolicyStatusWriter::start(endpoint);
        if (!writer) return fail("kubernetes: " + writer.error());
        feed->status_writer_ = std::move(*writer);
    }
    auto started = PolicyWatcher::start(std::move(endpoint), std::move(options));
    if (!started) return fail("kubernetes: " + started.error());
    feed->watcher_ = std::move(*started);
    return feed;
}

void PolicyFeed::take_wakeup() {
    uint64_t count = 0;
    (void)!::read(wakeup_.get(), &count, sizeof(count));
}

std::vector<PolicyObject> PolicyFeed::objects() {
    last_read_ = watcher_->objects();
    std::vector<PolicyObject> out;
    for (const FunctionPolicyObject& object : last_read_) out.push_back({object.namespace_, object.name, object.document});
    return out;
}

void PolicyFeed::report(const std::vector<std::string>& set_errors) {
    if (!status_writer_) return;
    std::vector<FunctionPolicyVerdict> verdicts;
    for (const FunctionPolicyObject& object : last_read_) {
        FunctionPolicyVerdict verdict{object.namespace_, object.name, object.generation, {}, object.status};
        // As policy_set.cpp names an object in its errors.
        const std::string prefix = "functionpolicies/" + object.key() + ":";
        for (const std::string& error : set_errors)
            if (error.starts_with(prefix)) verdict.errors.push_back(error);
        verdicts.push_back(std::move(verdict));
    }
    status_writer_->submit(std::move(verdicts));
}

FunctionPoliciesInfo PolicyFeed::status(std::string_view source, const std::string& scope) const {
    const PolicyWatcherStats k = watcher_->stats();
    FunctionPoliciesInfo info;
    info.source = std::string(source);
    info.scope = scope;
    info.synced = watcher_->synced();
    info.objects = k.objects;
    info.lists = k.lists;
    info.relists_410 = k.relists_410;
    info.reconnects = k.reconnects;
    info.errors = k.errors;
    info.resource_version = k.resource_version;
    info.last_error = k.last_error;
    if (status_writer_) {
        const PolicyStatusWriterStats w = status_writer_->stats();
        info.status_patches = w.patches;
        info.status_patch_errors = w.failed;
        info.status_last_error = w.last_error;
    }
    return info;
}

std::string node_name_for(const std::string& configured) {
    std::string node_name = configured;
    if (node_name.empty())
        if (const char* env = std::getenv("NODE_NAME")) node_name = env;
    if (node_name.empty()) {
        char host[256] = {};
        if (::gethostname(host, sizeof(host) - 1) == 0) node_name = host;
    }
    return node_name;
}

Status DaemonThreads::start_pod_feed(KubeEndpoint endpoint, PodWatcherOptions options) {
    auto feed = PodFeed::start(std::move(endpoint), std::move(options));
    if (!feed) return Error{feed.error()};
    pods_ = std::move(*feed);
    return {};
}

Status DaemonThreads::start_policy_feed(KubeEndpoint endpoint, PolicyWatcherOptions options, bool write_status) {
    auto feed = PolicyFeed::start(std::move(endpoint), std::move(options), write_status);
    if (!feed) return Error{feed.error()};
    policies_ = std::move(*feed);
    return {};
}

Status DaemonThreads::start_metrics_server(const std::string& address, bool allow_non_loopback) {
    MetricsServerOptions http;
    http.allow_non_loopback = allow_non_loopback;
    auto health = [this]() -> std::string {
        const int64_t last = gauges.last_tick_ns.load();
        const int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
        if (last == 0 || now - last > 5'000'000'000) return "event loop stalled";
        return "";
    };
    auto serving = MetricsServer::start(address, metrics, health, http);
    if (!serving) return fail("metrics " + address + ": " + serving.error());
    metrics_server_ = std::move(*serving);
    return {};
}

void DaemonThreads::stop() {
    if (pods_) pods_->stop();
    if (policies_) policies_->stop();
    metrics_server_.reset();
}

}  // namespace fnw
