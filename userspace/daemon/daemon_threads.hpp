// SPDX-License-Identifier: Apache-2.0
// The daemon's threads besides its event loop: the pod watcher (its changes
// queued for the loop, which an eventfd wakes), the FunctionPolicy watcher
// (an eventfd: reload) and the metrics server
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
#include "k8s/policy_status_writer.hpp"
#include "k8s/policy_watcher.hpp"
#include "daemon/policy_set.hpp"
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

// FunctionPolicy objects from the API server. A change only wakes the loop,
// which reloads the whole set (after the same debounce as a rules file)
// and reads the objects then.
class PolicyFeed {
public:
    // `write_status`: each reload's verdict goes into the objects' status
    // (k8s/policy_status_writer.hpp).
    static Result<std::unique_ptr<PolicyFeed>> start(KubeEndpoint endpoint, PolicyWatcherOptions options,
                                                     bool write_status = false);
    ~PolicyFeed() { stop(); }
    PolicyFeed(const PolicyFeed&) = delete;
    PolicyFeed& operator=(const PolicyFeed&) = delete;

    // Readable after a change (add to the loop's epoll); take_wakeup()
    // empties it.
    int wakeup_fd() const { return wakeup_.get(); }
    void take_wakeup();
    // The objects now, for a reload (loop thread; valid until stop()). They
    // are kept for report().
    std::vector<PolicyObject> objects();
    // After a reload that read objects(): each object's own errors among
    // `set_errors` (PolicyError::to_string, "functionpolicies/NS/NAME: ...")
    // become its status. Loop thread; never blocks.
    void report(const std::vector<std::string>& set_errors);
    bool synced() const { return watcher_->synced(); }
    void stop() {
        watcher_.reset();
        status_writer_.reset();
    }

    // status: "rules.function_policies".
    FunctionPoliciesInfo status(std::string_view source, const std::string& scope) const;

private:
    PolicyFeed() = default;
    UniqueFd wakeup_;  // eventfd
    std::vector<FunctionPolicyObject> last_read_;  // loop thread
    std::unique_ptr<PolicyStatusWriter> status_writer_;
    std::unique_ptr<PolicyWatcher> watcher_;  // last: joined before the eventfd closes
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
    Status start_policy_feed(KubeEndpoint endpoint, PolicyWatcherOptions options, bool write_status);
    // /metrics and /healthz (unhealthy when the loop has not turned for 5 s).
    Status start_metrics_server(const std::string& address, bool allow_non_loopback);

    PodFeed* pods() const { return pods_.get(); }
    PolicyFeed* function_policies() const { return policies_.get(); }
    const MetricsServer* metrics_server() const { return metrics_server_.get(); }

    // Pod watcher first (it feeds the loop), then the metrics server (its
    // scrapes read what the daemon owns). Idempotent.
    void stop();

private:
    std::unique_ptr<PodFeed> pods_;
    std::unique_ptr<PolicyFeed> policies_;
    std::unique_ptr<MetricsServer> metrics_server_;
};

}  // namespace fnw
