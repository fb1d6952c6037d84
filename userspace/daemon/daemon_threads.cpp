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
                     [watcher](std::string_view id) { return watcher->pod_by_container(id); }};
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
    metrics_server_.reset();
}

}  // namespace fnw
