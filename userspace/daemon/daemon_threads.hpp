// The daemon's threads besides its event loop: the pod watcher (its changes
// queued for the loop, which an eventfd wakes) and the metrics server
// (scrapes run callbacks that read the probes, the outputs and the loop's
// gauges). stop() joins them, pod watcher first; the daemon calls it before
// anything those threads read goes away (tests/unit/daemon_threads_test.cpp
// starts and stops them under ThreadSanitizer).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "control/protocol.hpp"

#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "daemon/cgroup_identifier.hpp"
#include "k8s/kube_config.hpp"
#include "k8s/pod_watcher.hpp"
#include "output/metrics.hpp"
#include "output/metrics_server.hpp"

namespace fnw {

// Pods of this node from the API server, handed to the event loop.
class PodFeed {
public:
    // Starts the watcher; `options.on_change` is the feed's own.
    static Result<std::unique_ptr<PodFeed>> start(KubeEndpoint endpoint, PodWatcherOptions options);
    ~PodFeed() { stop(); }
    PodFeed(const PodFeed&) = delete;
    PodFeed& operator=(const PodFeed&) = delete;

    // Readable when changes are queued (add to the loop's epoll).
    int wakeup_fd() const { return wakeup_.get(); }
    // On the loop: the changes queued since the last call.
    std::vector<std::pair<PodInfo, PodEvent>> take_changes();
    // Answers from the watcher's snapshot (thread-safe); valid until stop().
    PodLookup lookup() const;
    // Joins the watcher's thread: nothing is queued after this.
    void stop() { watcher_.reset(); }

    // status: "kubernetes".
    KubernetesInfo status(const std::string& node_name, size_t cgroups_waiting) const;

private:
    PodFeed() = default;
    UniqueFd wakeup_;  // eventfd
    std::mutex changes_mutex_;
    std::vector<std::pair<PodInfo, PodEvent>> changes_;  // guarded by changes_mutex_
    // Last: destroyed (joined) before the queue it writes.
    std::unique_ptr<PodWatcher> watcher_;
};

// config.nodeName, else $NODE_NAME, else the host name.
std::string node_name_for(const std::string& configured);

// Written by the loop thread, read by the metrics server's threads.
struct LoopGauges {
    std::atomic<int64_t> last_tick_ns{0};  // steady clock; /healthz
    std::atomic<uint64_t> monitored_count{0};
    std::atomic<uint64_t> client_dropped{0};  // the control server is loop-thread only
};

class DaemonThreads {
public:
    MetricsRegistry metrics;
    LoopGauges gauges;

    DaemonThreads() = default;
    ~DaemonThreads() { stop(); }
    DaemonThreads(const DaemonThreads&) = delete;
    DaemonThreads& operator=(const DaemonThreads&) = delete;

    Status start_pod_feed(KubeEndpoint endpoint, PodWatcherOptions options);
    // /metrics and /healthz (unhealthy when the loop has not turned for 5 s).
    Status start_metrics_server(const std::string& address, bool allow_non_loopback);

    PodFeed* pods() const { return pods_.get(); }
    const MetricsServer* metrics_server() const { return metrics_server_.get(); }

    // Pod watcher first (it feeds the loop), then the metrics server (its
    // scrapes read what the daemon owns). Idempotent.
    void stop();

private:
    std::unique_ptr<PodFeed> pods_;
    std::unique_ptr<MetricsServer> metrics_server_;
};

}  // namespace fnw
