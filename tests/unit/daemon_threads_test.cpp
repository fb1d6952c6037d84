// SPDX-License-Identifier: Apache-2.0
// The daemon's threads (pod watcher feeding the loop, metrics server whose
// scrapes read what the daemon owns) started and stopped repeatedly, as
// Daemon wires and stops them, while a client scrapes and the API server
// streams pods. Built into fnw_unit_tests and, in a -DFNW_TSAN=ON tree,
// into fnw_tsan_tests (ctest -L tsan), where ThreadSanitizer must report
// nothing: stop() joins every thread before what it reads goes away.
#include "daemon/daemon_threads.hpp"

#include <poll.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "common/httplib.hpp"

#include <gtest/gtest.h>

namespace fnw {
namespace {

using namespace std::chrono_literals;

std::string pod_json(int n) {
    const std::string id = std::to_string(n);
    return R"({"metadata":{"name":"fn-)" + id + R"(","namespace":"fns","uid":"uid-)" + id +
           R"(","resourceVersion":")" + std::to_string(n + 1) +
           R"(","labels":{"faas_function":"hello"}},"spec":{"nodeName":"node-1","containers":[{"name":"fn"}]},)"
           R"("status":{"containerStatuses":[{"name":"fn","containerID":"containerd://)" +
           std::string(64, static_cast<char>('a' + n % 6)) + R"("}]}})";
}

// An API server that lists no pods, then streams a new pod on every watch
// chunk until it is stopped: the watcher thread is always mid-change.
class StreamingApiServer {
public:
    StreamingApiServer() {
        server_.set_keep_alive_timeout(1);
        server_.Get("/api/v1/pods", [this](const httplib::Request& req, httplib::Response& res) {
            if (!req.has_param("watch")) {
                res.set_content(R"({"kind":"PodList","metadata":{"resourceVersion":"1"},"items":[]})",
                                "application/json");
                return;
            }
            res.set_chunked_content_provider("application/json", [this](size_t, httplib::DataSink& sink) {
                if (closing_.load() || !sink.is_writable()) {
                    sink.done();
                    return true;
                }
                const std::string line = R"({"type":"ADDED","object":)" + pod_json(++pods_) + "}\n";
                std::this_thread::sleep_for(1ms);  // a steady trickle, not a spin
                return sink.write(line.data(), line.size());
            });
        });
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
    }
    ~StreamingApiServer() {
        closing_ = true;
        server_.stop();
        thread_.join();
    }
    KubeEndpoint endpoint() const {
        KubeEndpoint endpoint;
        endpoint.server = "http://127.0.0.1:" + std::to_string(port_);
        return endpoint;
    }

private:
    httplib::Server server_;
    std::thread thread_;
    int port_ = -1;
    std::atomic<bool> closing_{false};
    std::atomic<int> pods_{0};
};

PodWatcherOptions watcher_options() {
    PodWatcherOptions options;
    options.node_name = "node-1";
    options.backoff_initial = 5ms;
    options.backoff_max = 40ms;
    options.connect_timeout = 2000ms;
    options.list_timeout = 2000ms;
    return options;
}

// One start, some work on every thread, one stop, in the daemon's order:
// DaemonThreads::stop() first, then what the scrapes read (the probes, in
// the daemon) goes away.
void start_work_stop(const StreamingApiServer& api) {
    // Stands for the probes: a scrape callback reads it on the HTTP thread.
    auto probes = std::make_unique<std::atomic<uint64_t>>(0);
    std::atomic<bool> done{false};
    std::atomic<int> scrapes{0};
    std::thread scraper;
    {
        DaemonThreads threads;
        threads.metrics.counter_callback("fnwarden_test_reads_total", "Reads of the stand-in probes.",
                                         [p = probes.get()] { return static_cast<double>(p->load()); });
        LoopGauges* gauges = &threads.gauges;
        threads.metrics.gauge_callback("fnwarden_monitored_cgroups", "Cgroups in the kernel's monitored map.",
                                       [gauges] { return static_cast<double>(gauges->monitored_count.load()); });
        auto pods = threads.start_pod_feed(api.endpoint(), watcher_options());
        ASSERT_TRUE(pods) << pods.error();
        auto serving = threads.start_metrics_server("127.0.0.1:0", false);
        ASSERT_TRUE(serving) << serving.error();
        const uint16_t port = threads.metrics_server()->port();
        // Scrapes until the very end: through stop() and after it.
        scraper = std::thread([&done, &scrapes, port] {
            while (!done.load()) {
                httplib::Client client("127.0.0.1", port);
                client.set_connection_timeout(0, 200'000);
                auto res = client.Get("/metrics");
                if (res && res->status == 200 && res->body.find("fnwarden_test_reads_total") != std::string::npos)
                    ++scrapes;
            }
        });
        // The loop's side: pod changes taken from the feed, gauges written.
        size_t changes = 0;
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while ((changes < 5 || scrapes.load() < 2) && std::chrono::steady_clock::now() < deadline) {
            pollfd ready{threads.pods()->wakeup_fd(), POLLIN, 0};
            ::poll(&ready, 1, 50);
            changes += threads.pods()->take_changes().size();
            threads.gauges.monitored_count = changes;
            threads.gauges.last_tick_ns = std::chrono::steady_clock::now().time_since_epoch().count();
            probes->fetch_add(1);
        }
        EXPECT_GE(changes, 5u);
        EXPECT_GE(scrapes.load(), 2);
        threads.stop();
        probes.reset();
    }
    done = true;
    scraper.join();
}

TEST(DaemonThreads, StartAndStopRepeatedlyWhileScrapedAndFed) {
    StreamingApiServer api;
    for (int round = 0; round < 8 && !::testing::Test::HasFatalFailure(); ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        start_work_stop(api);
    }
}

TEST(DaemonThreads, StopIsIdempotentAndNothingIsQueuedAfterIt) {
    StreamingApiServer api;
    DaemonThreads threads;
    ASSERT_TRUE(threads.start_pod_feed(api.endpoint(), watcher_options()));
    PodFeed* feed = threads.pods();
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    size_t changes = 0;
    while (changes == 0 && std::chrono::steady_clock::now() < deadline) {
        pollfd ready{feed->wakeup_fd(), POLLIN, 0};
        ::poll(&ready, 1, 50);
        changes += feed->take_changes().size();
    }
    ASSERT_GT(changes, 0u);
    threads.stop();
    feed->take_changes();
    threads.stop();
    EXPECT_TRUE(feed->take_changes().empty());  // the watcher is joined: nothing more arrives
}

}  // namespace
}  // namespace fnw
