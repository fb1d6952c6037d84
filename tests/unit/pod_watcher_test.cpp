// SPDX-License-Identifier: Apache-2.0
#include "k8s/pod_watcher.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "temp_dir.hpp"
#include <httplib.h>

#include "k8s/kube_config.hpp"

namespace fnw {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

#ifdef FNW_TEST_FIXTURES
const fs::path kFixtures = fs::path(FNW_TEST_FIXTURES) / "k8s";
#else
// Built standalone (g++ ... tests/unit/pod_watcher_test.cpp): next to this file.
const fs::path kFixtures = fs::path(__FILE__).parent_path().parent_path() / "fixtures" / "k8s";
#endif

// The pods in the fixtures (see tests/fixtures/k8s/README.md).
const std::string kOpenFaasUid = "1f0c6a4e-3b2d-4c8e-9a71-5d2e8f3b6c01";
const std::string kKnativeUid = "2a7d1e90-6c4b-4f3a-8e25-0b9c7d6e5f02";
const std::string kNodeExporterUid = "3c5e8f21-9a0d-4b7e-a1c6-7f4e2d3b8a03";
const std::string kFissionUid = "4d8f2a63-1e7b-4c9d-b2a8-6e5f3c1d9b04";
const std::string kSecondFigletUid = "5e9a3b74-2f8c-4dae-83b9-7a6f4d2e0c05";
std::string container_id(char digit) { return std::string(64, digit); }

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string fixture(const std::string& name) {
    std::string text = read_file(kFixtures / name);
    if (text.empty()) ADD_FAILURE() << "missing fixture " << (kFixtures / name);
    return text;
}

std::vector<std::string> fixture_lines(const std::string& name) {
    std::vector<std::string> lines;
    std::istringstream in(fixture(name));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// Polls instead of sleeping a guessed time: fast when things work, a clear
// failure (not a hang) when they do not.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit = 3s) {
    const auto deadline = Clock::now() + limit;
    while (!condition()) {
        if (Clock::now() >= deadline) return condition();
        std::this_thread::sleep_for(2ms);
    }
    return true;
}

using test::TempDir;

// Replaced in one rename, as the kubelet swaps a projected token: a reader
// never sees half a file.
void write_file_atomically(const fs::path& path, const std::string& text) {
    const fs::path temporary = path.string() + ".tmp";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        out << text;
    }
    fs::rename(temporary, path);
}

// --- a scripted API server ------------------------------------------------------

struct RecordedRequest {
    std::string target;  // as sent, still URL-encoded
    httplib::Params params;
    std::string authorization;
    bool watch = false;

    std::string param(const std::string& key) const {
        const auto it = params.find(key);
        return it == params.end() ? std::string("<absent>") : it->second;
    }
};

// How a watch response ends once its lines are written.
enum class StreamEnd {
    Complete,  // terminating chunk: the server ended the watch (timeoutSeconds)
    Drop,      // connection closed mid-stream, no terminating chunk
    HoldOpen,  // idle until the test releases it (or the server stops)
};

// Serves GET /api/v1/pods on 127.0.0.1 over plain http. Each test scripts
// the n-th LIST and the n-th WATCH (n from 1).
class FakeApiServer {
public:
    using Handler = std::function<void(int n, const httplib::Request&, httplib::Response&)>;

    explicit FakeApiServer(std::unique_ptr<httplib::Server> server = std::make_unique<httplib::Server>())
        : server_(std::move(server)) {}

    ~FakeApiServer() {
        closing_.store(true);
        if (thread_.joinable()) {
            server_->stop();
            thread_.join();
        }
    }
    FakeApiServer(const FakeApiServer&) = delete;
    FakeApiServer& operator=(const FakeApiServer&) = delete;

    // Set before start(): the server's threads read them without a lock.
    Handler on_list;
    Handler on_watch;

    void start() {
        // Idle keep-alive connections must not hold stop() up for long.
        server_->set_keep_alive_timeout(1);
        server_->Get("/api/v1/pods", [this](const httplib::Request& req, httplib::Response& res) {
            const bool watch = req.has_param("watch");
            int n = 0;
            {
                std::lock_guard lock(mutex_);
                requests_.push_back({req.target, req.params, req.get_header_value("Authorization"), watch});
                n = watch ? ++watches_ : ++lists_;
            }
            const Handler& handler = watch ? on_watch : on_list;
            if (handler) {
                handler(n, req, res);
            } else {
                res.status = 500;
                res.set_content("no script for this request", "text/plain");
            }
        });
        port_ = server_->bind_to_any_port("127.0.0.1");
        ASSERT_GT(port_, 0);
        // The socket listens from bind on: requests queue until accept runs.
        thread_ = std::thread([this] { server_->listen_after_bind(); });
    }

    std::string url(const std::string& scheme = "http") const {
        return scheme + "://127.0.0.1:" + std::to_string(port_);
    }
    int lists() const {
        std::lock_guard lock(mutex_);
        return lists_;
    }
    int watches() const {
        std::lock_guard lock(mutex_);
        return watches_;
    }
    std::vector<RecordedRequest> requests(bool watch) const {
        std::lock_guard lock(mutex_);
        std::vector<RecordedRequest> matching;
        for (const auto& r : requests_)
            if (r.watch == watch) matching.push_back(r);
        return matching;
    }

    // The n-th watch request (from 1), or a default one when there is none yet.
    RecordedRequest watch_request(size_t n) const {
        const auto all = requests(true);
        return n >= 1 && n <= all.size() ? all[n - 1] : RecordedRequest{};
    }

    // Writes `lines` as a chunked watch stream, then ends it as asked.
    // `release` (HoldOpen) ends an idle stream cleanly when set.
    void stream(httplib::Response& res, std::vector<std::string> lines, StreamEnd end,
                std::shared_ptr<std::atomic<bool>> release = nullptr) {
        struct State {
            std::vector<std::string> lines;
            size_t next = 0;
        };
        auto state = std::make_shared<State>(State{std::move(lines)});
        res.set_chunked_content_provider(
            "application/json", [this, state, end, release](size_t, httplib::DataSink& sink) {
                if (state->next < state->lines.size()) {
                    const std::string line = state->lines[state->next++] + "\n";
                    return sink.write(line.data(), line.size());
                }
                switch (end) {
                case StreamEnd::Complete: sink.done(); return true;
                case StreamEnd::Drop: return false;  // httplib closes the connection
                case StreamEnd::HoldOpen:
                    if (closing_.load() || (release && release->load()) || !sink.is_writable()) {
                        sink.done();
                        return true;
                    }
                    std::this_thread::sleep_for(5ms);
                    return true;
                }
                return false;
            });
    }

    void hold_open(httplib::Response& res) { stream(res, {}, StreamEnd::HoldOpen); }

private:
    std::unique_ptr<httplib::Server> server_;
    std::thread thread_;
    int port_ = -1;
    std::atomic<bool> closing_{false};
    mutable std::mutex mutex_;
    std::vector<RecordedRequest> requests_;
    int lists_ = 0;
    int watches_ = 0;
};

void serve_json(httplib::Response& res, const std::string& body, int status = 200) {
    res.status = status;
    res.set_content(body, "application/json");
}

// Records change callbacks (they arrive on the watcher's thread).
class ChangeLog {
public:
    PodChangeCallback callback() {
        return [this](const PodInfo& pod, PodEvent event) {
            std::lock_guard lock(mutex_);
            changes_.emplace_back(pod.uid, event);
        };
    }
    std::vector<std::pair<std::string, PodEvent>> changes() const {
        std::lock_guard lock(mutex_);
        return changes_;
    }
    size_t size() const { return changes().size(); }

private:
    mutable std::mutex mutex_;
    std::vector<std::pair<std::string, PodEvent>> changes_;
};

PodWatcherOptions fast_options(const std::string& node = "worker-1") {
    PodWatcherOptions options;
    options.node_name = node;
    // Retries in milliseconds: every test stays well under a second.
    options.backoff_initial = 5ms;
    options.backoff_max = 40ms;
    options.connect_timeout = 2000ms;
    options.list_timeout = 2000ms;
    return options;
}

KubeEndpoint plain_endpoint(const FakeApiServer& server, const std::string& token = "") {
    KubeEndpoint endpoint;
    endpoint.server = server.url();
    endpoint.bearer_token = token;
    return endpoint;
}

std::unique_ptr<PodWatcher> start_watcher(KubeEndpoint endpoint, PodWatcherOptions options) {
    auto started = PodWatcher::start(std::move(endpoint), std::move(options));
    if (!started) {
        ADD_FAILURE() << started.error();
        return nullptr;
    }
    return std::move(started.value());
}

std::vector<std::string> sorted_uids(const std::vector<PodInfo>& pods) {
    std::vector<std::string> uids;
    for (const PodInfo& pod : pods) uids.push_back(pod.uid);
    std::sort(uids.begin(), uids.end());
    return uids;
}

// --- function labels ------------------------------------------------------------

TEST(FunctionLabelKeys, FirstPresentKeyWinsAndEmptyValuesDoNotCount) {
    const FunctionLabelKeys keys;
    EXPECT_EQ(keys.function_of({{"faas_function", "figlet"}}), "figlet");
    EXPECT_EQ(keys.function_of({{"serving.knative.dev/service", "hello"},
                                {"serving.knative.dev/configuration", "hello-config"}}),
              "hello");
    EXPECT_EQ(keys.function_of({{"serving.knative.dev/configuration", "bare-config"}}), "bare-config");
    EXPECT_EQ(keys.function_of({{"functionName", "hello-js"}, {"executorType", "newdeploy"}}), "hello-js");
    EXPECT_EQ(keys.function_of({{"faas_function", "a"}, {"functionName", "b"}}), "a");
    EXPECT_EQ(keys.function_of({{"faas_function", ""}, {"functionName", "b"}}), "b");
    EXPECT_EQ(keys.function_of({{"app", "nginx"}}), "");

    FunctionLabelKeys custom;
    custom.ordered = {"example.com/function"};
    EXPECT_EQ(custom.function_of({{"faas_function", "a"}, {"example.com/function", "mine"}}), "mine");
    EXPECT_EQ(custom.function_of({{"faas_function", "a"}}), "");
}

// --- list and watch -----------------------------------------------------------------

TEST(PodWatcher, ListsThenAppliesWatchEvents) {
    FakeApiServer server;
    server.on_list = [](int, const httplib::Request&, httplib::Response& res) {
        serve_json(res, fixture("pod_list.json"));
    };
    server.on_watch = [&](int n, const httplib::Request&, httplib::Response& res) {
        if (n == 1)
            server.stream(res, fixture_lines("watch_events.jsonl"), StreamEnd::HoldOpen);
        else
            server.hold_open(res);
    };
    server.start();
    ChangeLog changes;
    PodWatcherOptions options = fast_options();
    options.on_change = changes.callback();
    auto watcher = start_watcher(plain_endpoint(server), options);
    ASSERT_TRUE(watcher);

    // The BOOKMARK is the stream's last line: once it is seen, all are.
    ASSERT_TRUE(eventually([&] { return watcher->stats().resource_version == "1010"; }))
        << watcher->stats().last_error;
    EXPECT_TRUE(watcher->synced());
    EXPECT_EQ(sorted_uids(watcher->pods()), (std::vector<std::string>{kOpenFaasUid, kKnativeUid, kFissionUid}));

    // OpenFaaS: MODIFIED replaced the restarted container's id.
    const auto figlet = watcher->pod_by_uid(kOpenFaasUid);
    ASSERT_TRUE(figlet);
    EXPECT_EQ(figlet->function, "figlet");
    EXPECT_EQ(figlet->namespace_, "openfaas-fn");
    EXPECT_EQ(figlet->name, "figlet-7d9c8b6f5-x2k4p");
    EXPECT_EQ(figlet->node, "worker-1");
    EXPECT_EQ(figlet->labels.at("pod-template-hash"), "7d9c8b6f5");
    EXPECT_EQ(figlet->container_ids, std::vector<std::string>{container_id('9')});
    EXPECT_FALSE(watcher->pod_by_container(container_id('a'))) << "the old container is gone";
    ASSERT_TRUE(watcher->pod_by_container(container_id('9')));
    EXPECT_EQ(watcher->pod_by_container(container_id('9'))->uid, kOpenFaasUid);

    // Knative: both containers (user-container and queue-proxy), prefix stripped.
    const auto hello = watcher->pod_by_container(container_id('c'));
    ASSERT_TRUE(hello);
    EXPECT_EQ(hello->uid, kKnativeUid);
    EXPECT_EQ(hello->function, "hello");
    EXPECT_EQ(hello->container_ids, (std::vector<std::string>{container_id('b'), container_id('c')}));
    EXPECT_EQ(hello->container_names.at(container_id('b')), "user-container");
    EXPECT_EQ(hello->container_names.at(container_id('c')), "queue-proxy");

    // Fission, from ADDED: containers and the ephemeral debug container.
    const auto fission = watcher->pod_by_uid(kFissionUid);
    ASSERT_TRUE(fission);
    EXPECT_EQ(fission->function, "hello-js");
    EXPECT_EQ(fission->namespace_, "fission-function");
    EXPECT_EQ(fission->container_ids,
              (std::vector<std::string>{container_id('f'), container_id('1'), container_id('2')}));
    EXPECT_EQ(watcher->pod_by_container(container_id('2'))->uid, kFissionUid);

    // node-exporter (cri-o:// ids, an init container): DELETED took it and its ids.
    EXPECT_FALSE(watcher->pod_by_uid(kNodeExporterUid));
    EXPECT_FALSE(watcher->pod_by_container(container_id('e')));
    EXPECT_FALSE(watcher->pod_by_container(container_id('d')));
    EXPECT_FALSE(watcher->pod_by_container("containerd://" + container_id('9'))) << "ids are stored bare";

    const PodWatcherStats stats = watcher->stats();
    EXPECT_EQ(stats.lists, 1u);
    EXPECT_EQ(stats.watches, 1u);
    EXPECT_EQ(stats.events, 4u);
    EXPECT_EQ(stats.pods, 3u);
    EXPECT_EQ(stats.errors, 0u) << stats.last_error;
    EXPECT_EQ(stats.malformed_lines, 0u);
    EXPECT_EQ(stats.relists_410, 0u);

    const auto log = changes.changes();
    ASSERT_EQ(log.size(), 6u);
    std::vector<std::string> listed{log[0].first, log[1].first, log[2].first};
    std::sort(listed.begin(), listed.end());
    EXPECT_EQ(listed, (std::vector<std::string>{kOpenFaasUid, kKnativeUid, kNodeExporterUid}));
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ(log[i].second, PodEvent::Added);
    EXPECT_EQ(log[3], std::make_pair(kFissionUid, PodEvent::Added));
    EXPECT_EQ(log[4], std::make_pair(kOpenFaasUid, PodEvent::Modified));
    EXPECT_EQ(log[5], std::make_pair(kNodeExporterUid, PodEvent::Deleted));
}

TEST(PodWatcher, SendsTheNodeSelectorTokenAndWatchParameters) {
    FakeApiServer server;
    server.on_list = [](int, const httplib::Request&, httplib::Response& res) {
        serve_json(res, fixture("pod_list.json"));
    };
    server.on_watch = [&](int, const httplib::Request&, httplib::Response& res) { server.hold_open(res); };
    server.start();
    auto watcher = start_watcher(plain_endpoint(server, "static-token-abc"), fast_options("worker-1"));
    ASSERT_TRUE(watcher);
    ASSERT_TRUE(eventually([&] { return server.watches() == 1; }));

    const auto lists = server.requests(false);
    ASSERT_EQ(lists.size(), 1u);
    EXPECT_EQ(lists[0].param("fieldSelector"), "spec.nodeName=worker-1");
    EXPECT_NE(lists[0].target.find("fieldSelector=spec.nodeName%3Dworker-1"), std::string::npos) << lists[0].target;
    EXPECT_EQ(lists[0].param("limit"), "500");
    EXPECT_EQ(lists[0].param("continue"), "<absent>");
    EXPECT_EQ(lists[0].authorization, "Bearer static-token-abc");

    const RecordedRequest watch = server.watch_request(1);
    EXPECT_EQ(watch.param("fieldSelector"), "spec.nodeName=worker-1");
    EXPECT_EQ(watch.param("watch"), "1");
    EXPECT_EQ(watch.param("allowWatchBookmarks"), "true");
    EXPECT_EQ(watch.param("resourceVersion"), "1000");
    EXPECT_EQ(watch.param("timeoutSeconds"), "300");
    EXPECT_EQ(watch.authorization, "Bearer static-token-abc");
}

TEST(PodWatcher, UrlEncodesTheNodeName) {
    FakeApiServer server;
    server.on_list = [](int, const httplib::Request&, httplib::Response& res) {
        serve_json(res, fixture("pod_list.json"));
    };
    server.on_watch = [&](int, const httplib::Request&, httplib::Response& res) { server.hold_open(res); };
    server.start();
    auto watcher = start_watcher(plain_endpoint(server), fast_options("a b&c=d/e"));
    ASSERT_TRUE(watcher);
    ASSERT_TRUE(eventually([&] { return server.lists() >= 1; }));
    const auto list = server.requests(false).at(0);
    EXPECT_EQ(list.param("fieldSelector"), "spec.nodeName=a b&c=d/e");
    EXPECT_NE(list.target.find("fieldSelector=spec.nodeName%3Da%20b%26c%3Dd%2Fe&limit=500"), std::string::npos)
        << list.target;
    EXPECT_EQ(list.authorization, "") << "no credentials configured, none sent";
}

TEST(PodWatcher, RereadsTheTokenFileAtEachConnect) {
    TempDir dir;
    const fs::path token_file = dir.path() / "token";
    write_file_atomically(token_file, "token-one\n");

    auto release_first_watch = std::make_shared<std::atomic<bool>>(false);
    FakeApiServer server;
    server.on_list = [](int, const httplib::Request&, httplib::Response& res) {
        serve_json(res, fixture("pod_list.json"));
    };
    server.on_watch = [&](int n, const httplib::Request&, httplib::Response& res) {
        if (n == 1)
            server.stream(res, {}, StreamEnd::HoldOpen, release_first_watch);
        else
            server.hold_open(res);
    };
    server.start();
    KubeEndpoint endpoint = plain_endpoint(server, "inline-token-loses");
    endpoint.token_file = token_file.string();
    auto watcher = start_watcher(endpoint, fast_options());
    ASSERT_TRUE(watcher);
    ASSERT_TRUE(eventually([&] { return server.watches() == 1; }));

    // The kubelet rotates the token; the server ends the watch (timeout).
    write_file_atomically(token_file, "token-two\n");
    release_first_watch->store(true);
    ASSERT_TRUE(eventually([&] { return server.watches() == 2; })) << watcher->stats().last_error;

    EXPECT_EQ(server.requests(false).at(0).authorization, "Bearer token-one");
    EXPECT_EQ(server.watch_request(1).authorization, "Bearer token-one");
    EXPECT_EQ(server.watch_request(2).authorization, "Bearer token-two");
    EXPECT_EQ(server.watch_request(2).param("resourceVersion"), "1000");
    EXPECT_EQ(server.lists(), 1) << "a clean end of the watch resumes, it does not relist";
    EXPECT_GE(watcher->stats().reconnects, 1u);
}

TEST(PodWatcher, FollowsContinueTokensAcrossPages) {
    const std::string token =
        "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MjAwMCwic3RhcnQiOiJkZWZhdWx0L2hlbGxvLTAwMDAxXHUwMDAwIn0=";
    FakeApiServer server;
    server.on_list = [&](int, const httplib::Request& req, httplib::Response& res) {
        if (!req.has_param("continue"))
            serve_json(res, fixture("pod_list_page1.json"));
        else if (req.get_param_value("continue") == token)
            serve_json(res, fixture("pod_list_page2.json"));
        else
            serve_json(res, fixture("status_410.json"), 400);
    };
    server.on_watch = [&](int, const httplib::Request&, httplib::Response& res) { server.hold_open(res); };
    server.start();
    auto watcher = start_watcher(plain_endpoint(server), fast_options());
    ASSERT_TRUE(watcher);
    ASSERT_TRUE(eventually([&] { return server.watches() == 1; })) << watcher->stats().last_error;

    EXPECT_TRUE(watcher->synced());
    EXPECT_EQ(sorted_uids(watcher->pods()), (std::vector<std::string>{kOpenFaasUid, kKnativeUid, kNodeExporterUid}));
    const auto lists = server.requests(false);
    ASSERT_EQ(lists.size(), 2u);
    EXPECT_EQ(lists[1].param("continue"), token);
    EXPECT_NE(lists[1].target.find("&continue=" + token.substr(0, 20)), std::string::npos);
    EXPECT_NE(lists[1].target.find("%3D"), std::string::npos) << "the token's '=' is escaped: " << lists[1].target;
    EXPECT_EQ(lists[1].param("limit"), "500");
    EXPECT_EQ(lists[1].param("fieldSelector"), "spec.nodeName=worker-1");
    EXPECT_EQ(server.watch_request(1).param("resourceVersion"), "2000");
    EXPECT_EQ(watcher->stats().lists, 1u) << "two pages are one list";
}

// --- 410 Gone -----------------------------------------------------------------------

TEST(PodWatcher, RelistsAfterAnErrorEventWithCode410) {
    FakeApiServer server;
    server.on_list = [](int n, const httplib::Request&, httplib::Response& res) {
        serve_json(res, fixture(n == 1 ? "pod_list.json" : "pod_list_after_410.json"));
    };
    server.on_watch = [&](int n, const httplib::Request&, httplib::Response& res) {
        if (n == 1)
            server.stream(res, fixture_lines("watch_error_410.jsonl"), StreamEnd::HoldOpen);
        else
            server.hold_open(res);
    };
    server.start();
    ChangeLog changes;
    PodWatcherOptions options = fast_options();
    options.on_change = changes.callback();
    auto watcher = start_watcher(plain_endpoint(server), options);
    ASSERT_TRUE(watcher);
    ASSERT_TRUE(eventually([&] { return server.watches() == 2; })) << watcher->stats().last_error;

    EXPECT_EQ(server.lists(), 2);
    EXPECT_EQ(server.watch_request(2).param("resourceVersion"), "3000");
    const PodWatcherStats stats = watcher->stats();
    EXPECT_EQ(stats.relists_410, 1u);
    EXPECT_EQ(stats.lists, 2u);
    EXPECT_EQ(stats.resource_version, "3000");
    EXPECT_EQ(sorted_uids(watcher->pods()), (std::vector<std::string>{kKnativeUid, kSecondFigletUid}));
    EXPECT_EQ(watcher->pod_by_uid(kKnativeUid)->labels.at("serving.knative.dev/routingState"), "active");
    EXPECT_EQ(watcher->pod_by_container(container_id('3'))->function, "figlet");
    EXPECT_FALSE(watcher->pod_by_container(container_id('f'))) << "the Fission pod from the stream is not in the relist";

    // The relist reports the difference, as the watch would have.
    const auto log = changes.changes();
    ASSERT_EQ(log.size(), 3u + 1u + 5u);
    std::vector<std::pair<std::string, PodEvent>> relist(log.begin() + 4, log.end());
    std::sort(relist.begin(), relist.end());
    EXPECT_EQ(relist, (std::vector<std::pair<std::string, PodEvent>>{
                          {kOpenFaasUid, PodEvent::Deleted},
                          {kKnativeUid, PodEvent::Modified},
                          {kNodeExporterUid, PodEvent::Deleted},
                          {kFissionUid, PodEvent::Deleted},
                          {kSecondFigletUid, PodEvent::Added},
                      }));
}

TEST(PodWatcher, RelistsAfterHttp410OnTheWatchRequest) {
    FakeApiServer server;
    server.on_list = [](int n, const httplib::Request&, httplib::Response& res) {
        serve_json(res, fixture(n == 1 ? "pod_list.json" : "pod_list_after_410.json"));
    };
    server.on_watch = [&](int n, const httplib::Request&, httplib::Response& res) {
        if (n == 1)
            serve_json(res, fixture("status_410.json"), 410);
        else
            server.hold_open(res);
    };
    server.start();
    auto watcher = start_watcher(plain_endpoint(server), fast_options());
    ASSERT_TRUE(watcher);
    ASSERT_TRUE(eventually([&] { return server.watches() == 2; })) << watcher->stats().last_error;
    EXPECT_EQ(server.lists(), 2);
    EXPECT_EQ(watcher->stats().relists_410, 1u);
    EXPECT_EQ(server.watch_request(2).param("resourceVersion"), "3000");
    EXPECT_EQ(sorted_uids(watcher->pods()), (std::vector<std::string>{kKnativeUid, kSecondFigletUid}));
}

TEST(PodWatcher, RelistsAfterAnErrorEventOtherThan410) {
    FakeApiServer server;
    server.on_list = [](int n, const httplib::Request&, httplib::Response& res) {
        serve_json(res, fixture(n == 1 ? "pod_list.json" : "pod_list_after_410.json"));
    };
    server.on_watch = [&](int n, const httplib::Request&, httplib::Response& res) {
        if (n == 1)
            server.stream(res, fixture_lines("watch_error_500.jsonl"), StreamEnd::HoldOpen);
        else
            server.hold_open(res);
    };
    server.start();
    auto watcher = start_watcher(plain_endpoint(server), fast_options());
    ASSERT_TRUE(watcher);
    ASSERT_TRUE(eventually([&] { return server.watches() == 2; }));
    EXPECT_EQ(server.lists(), 2);
    const PodWatcherStats stats = watcher->stats();
    EXPECT_EQ(stats.relists_410, 0u);
    EXPECT_GE(stats.errors, 1u);
    EXPECT_NE(stats.last_error.find("etcdserver: request timed out"), std::string::npos) << stats.last_error;
}

// --- resuming -----------------------------------------------------------------------

TEST(PodWatcher, ResumesFromTheLastResourceVersionAfterADroppedConnection) {
    auto lines = fixture_lines("watch_events.jsonl");
    lines.pop_back();  // the BOOKMARK: the last version seen is the DELETED event's, 1003
    FakeApiServer server;
    server.on_list = [](int, const httplib::Request&, httplib::Response& res) {
        serve_json(res, fixture("pod_list.json"));
    };
    server.on_watch = [&](int n, const httplib::Request&, httplib::Response& res) {
        if (n == 1)
            server.stream(res, lines, StreamEnd::Drop);
        else
            server.hold_open(res);
    };
    server.start();
    ChangeLog changes;
    PodWatcherOptions options = fast_options();
    options.on_change = changes.callback();
    auto watcher = start_watcher(plain_endpoint(server), options);
    ASSERT_TRUE(watcher);
    ASSERT_TRUE(eventually([&] { return server.watches() == 2; })) << watcher->stats().last_error;

    EXPECT_EQ(server.watch_request(2).param("resourceVersion"), "1003");
    EXPECT_EQ(server.lists(), 1) << "a dropped stream resumes, it does not relist";
    EXPECT_EQ(sorted_uids(watcher->pods()), (std::vector<std::string>{kOpenFaasUid, kKnativeUid, kFissionUid}));
    EXPECT_EQ(changes.size(), 3u + 3u) << "each change reported once";
    const PodWatcherStats stats = watcher->stats();
    EXPECT_EQ(stats.events, 3u);
    EXPECT_EQ(stats.reconnects, 1u);
    EXPECT_EQ(stats.relists_410, 0u);
}

TEST(PodWatcher, BookmarkMovesTheResumePoint) {
    const auto all = fixture_lines("watch_events.jsonl");
    FakeApiServer server;
    server.on_list = [](int, const httplib::Request&, httplib::Response& res) {
        serve_json(res, fixture("pod_list.json"));
    };
    server.on_watch = [&](int n, const httplib::Request&, httplib::Response& res) {
        if (n == 1)
            server.stream(res, {all.front(), all.back()}, StreamEnd::Complete);  // ADDED 1001, BOOKMARK 1010
        else
            server.hold_open(res);
    };
    server.start();
    auto watcher = start_watcher(plain_endpoint(server), fast_options());
    ASSERT_TRUE(watcher);
    ASSERT_TRUE(eventually([&] { return server.watches() == 2; }));
    EXPECT_EQ(server.watch_request(2).param("resourceVersion"), "1010");
    EXPECT_EQ(watcher->stats().events, 2u);
    EXPECT_EQ(watcher->pods().size(), 4u) << "a bookmark changes no pod";
}

// --- bad input ----------------------------------------------------------------------

TEST(PodWatcher, CountsAndSkipsMalformedLines) {
    FakeApiServer server;
    server.on_list = [](int, const httplib::Request&, httplib::Response& res) {
        serve_json(res, fixture("pod_list.json"));
    };
    server.on_watch = [&](int n, const httplib::Request&, httplib::Response& res) {
        if (n == 1)
            server.stream(res, fixture_lines("watch_malformed.jsonl"), StreamEnd::HoldOpen);
        else
            server.hold_open(res);
    };
    server.start();
    auto watcher = start_watcher(plain_endpoint(server), fast_options());
    ASSERT_TRUE(watcher);
    ASSERT_TRUE(eventually([&] { return watcher->pod_by_uid(kFissionUid).has_value(); }))
        << watcher->stats().last_error;
    const PodWatcherStats stats = watcher->stats();
    // Truncated JSON, not JSON, a JSON array, an ADDED pod without a uid.
    EXPECT_EQ(stats.malformed_lines, 4u);
    EXPECT_EQ(stats.ignored_events, 1u) << "SOMETHING_NEW";
    EXPECT_EQ(stats.events, 1u);
    EXPECT_EQ(stats.resource_version, "1003");
    EXPECT_EQ(stats.watches, 1u) << "the stream carried on";
    EXPECT_EQ(server.watches(), 1);
}

TEST(PodWatcher, DropsAStreamWithAnOversizedLineAndRelists) {
    const std::string huge_label(10000, 'x');
    const std::string huge_event = R"({"type":"ADDED","object":{"metadata":{"uid":"6f000000-0000-4000-8000-000000000006",)"
                                   R"("labels":{"big":")" +
                                   huge_label + R"("}}}})";
    FakeApiServer server;
    server.on_list = [](int, const httplib::Request&, httplib::Response& res) {
        serve_json(res, fixture("pod_list.json"));
    };
    server.on_watch = [&](int n, const httplib::Request&, httplib::Response& res) {
        if (n == 1)
            server.stream(res, {huge_event}, StreamEnd::HoldOpen);
        else
            server.hold_open(res);
    };
    server.start();
    PodWatcherOptions options = fast_options();
    options.max_line_bytes = 4096;
    auto watcher = start_watcher(plain_endpoint(server), options);
    ASSERT_TRUE(watcher);
    ASSERT_TRUE(eventually([&] { return server.watches() == 2; }));
    EXPECT_EQ(server.lists(), 2);
    const PodWatcherStats stats = watcher->stats();
    EXPECT_GE(stats.malformed_lines, 1u);
    EXPECT_NE(stats.last_error.find("max_line_bytes"), std::string::npos) << stats.last_error;
    EXPECT_EQ(watcher->pods().size(), 3u);
}

TEST(PodWatcher, RefusesToGrowBeyondMaxPods) {
    FakeApiServer server;
    server.on_list = [](int, const httplib::Request&, httplib::Response& res) {
        serve_json(res, fixture("pod_list.json"));
    };
    server.on_watch = [&](int n, const httplib::Request&, httplib::Response& res) {
        if (n == 1)
            server.stream(res, fixture_lines("watch_events.jsonl"), StreamEnd::HoldOpen);
        else
            server.hold_open(res);
    };
    server.start();
    PodWatcherOptions options = fast_options();
    options.max_pods = 2;
    auto watcher = start_watcher(plain_endpoint(server), options);
    ASSERT_TRUE(watcher);
    ASSERT_TRUE(eventually([&] { return watcher->stats().resource_version == "1010"; }));
    const PodWatcherStats stats = watcher->stats();
    // The list left node-exporter out, ADDED found the table full, and the
    // DELETED of the pod never tracked changed nothing.
    EXPECT_EQ(stats.pods_refused, 2u);
    EXPECT_EQ(sorted_uids(watcher->pods()), (std::vector<std::string>{kOpenFaasUid, kKnativeUid}));
    EXPECT_FALSE(watcher->pod_by_uid(kFissionUid));
}

TEST(PodWatcher, RetriesAServerErrorOnTheList) {
    FakeApiServer server;
    server.on_list = [](int n, const httplib::Request&, httplib::Response& res) {
        if (n == 1)
            serve_json(res, R"({"kind":"Status","message":"the server is currently unable to handle the request"})",
                       503);
        else
            serve_json(res, fixture("pod_list.json"));
    };
    server.on_watch = [&](int, const httplib::Request&, httplib::Response& res) { server.hold_open(res); };
    server.start();
    auto watcher = start_watcher(plain_endpoint(server), fast_options());
    ASSERT_TRUE(watcher);
    ASSERT_TRUE(eventually([&] { return watcher->synced(); }));
    EXPECT_EQ(server.lists(), 2);
    const PodWatcherStats stats = watcher->stats();
    EXPECT_EQ(stats.errors, 1u);
    EXPECT_NE(stats.last_error.find("HTTP 503"), std::string::npos) << stats.last_error;
    EXPECT_NE(stats.last_error.find("unable to handle"), std::string::npos) << stats.last_error;
}

// --- authorization ------------------------------------------------------------------

TEST(PodWatcher, ForbiddenIsReportedAsRbacAndRetried) {
    FakeApiServer server;
    server.on_list = [](int, const httplib::Request&, httplib::Response& res) {
        serve_json(res, fixture("status_403.json"), 403);
    };
    server.start();
    auto watcher = start_watcher(plain_endpoint(server, "some-token"), fast_options());
    ASSERT_TRUE(watcher);
    ASSERT_TRUE(eventually([&] { return server.lists() >= 3; })) << "keeps retrying at backoff_max";
    const PodWatcherStats stats = watcher->stats();
    EXPECT_FALSE(watcher->synced());
    EXPECT_GE(stats.errors, 2u);
    EXPECT_NE(stats.last_error.find("RBAC"), std::string::npos) << stats.last_error;
    EXPECT_NE(stats.last_error.find("list and watch on pods"), std::string::npos) << stats.last_error;
    EXPECT_NE(stats.last_error.find("pods is forbidden"), std::string::npos) << "the server's own words";
    EXPECT_EQ(server.watches(), 0);
}

TEST(PodWatcher, UnauthorizedWatchRetriesFromTheSameResourceVersion) {
    FakeApiServer server;
    server.on_list = [](int, const httplib::Request&, httplib::Response& res) {
        serve_json(res, fixture("pod_list.json"));
    };
    server.on_watch = [&](int n, const httplib::Request&, httplib::Response& res) {
        if (n == 1)
            serve_json(res, R"({"kind":"Status","message":"Unauthorized","reason":"Unauthorized","code":401})", 401);
        else
            server.hold_open(res);
    };
    server.start();
    auto watcher = start_watcher(plain_endpoint(server, "expired-token"), fast_options());
    ASSERT_TRUE(watcher);
    ASSERT_TRUE(eventually([&] { return server.watches() == 2; }));
    EXPECT_EQ(server.lists(), 1);
    EXPECT_EQ(server.watch_request(2).param("resourceVersion"), "1000");
    EXPECT_NE(watcher->stats().last_error.find("401"), std::string::npos) << watcher->stats().last_error;
}

// --- shutdown -----------------------------------------------------------------------

TEST(PodWatcher, DestructorReturnsPromptlyWithAnIdleWatchOpen) {
    FakeApiServer server;
    server.on_list = [](int, const httplib::Request&, httplib::Response& res) {
        serve_json(res, fixture("pod_list.json"));
    };
    server.on_watch = [&](int, const httplib::Request&, httplib::Response& res) {
        server.stream(res, {fixture_lines("watch_events.jsonl").back()}, StreamEnd::HoldOpen);
    };
    server.start();
    PodWatcherOptions options = fast_options();
    options.backoff_initial = 1000ms;  // a retry must not be what ends the wait
    options.backoff_max = 30000ms;
    auto watcher = start_watcher(plain_endpoint(server), options);
    ASSERT_TRUE(watcher);
    // The bookmark arrived: the stream is open, and idle from here on.
    ASSERT_TRUE(eventually([&] { return watcher->stats().resource_version == "1010"; }));
    std::this_thread::sleep_for(50ms);  // let the worker settle into its poll

    const auto before = Clock::now();
    watcher.reset();
    const auto took = Clock::now() - before;
    EXPECT_LT(took, 1s) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
}

TEST(PodWatcher, DestructorReturnsPromptlyWhileBackingOff) {
    FakeApiServer server;
    server.on_list = [](int, const httplib::Request&, httplib::Response& res) {
        serve_json(res, fixture("status_403.json"), 403);
    };
    server.start();
    PodWatcherOptions options = fast_options();
    options.backoff_initial = 1000ms;
    options.backoff_max = 30000ms;
    auto watcher = start_watcher(plain_endpoint(server), options);
    ASSERT_TRUE(watcher);
    ASSERT_TRUE(eventually([&] { return watcher->stats().errors >= 1; }));
    const auto before = Clock::now();
    watcher.reset();
    EXPECT_LT(Clock::now() - before, 1s);
}

// --- start() ------------------------------------------------------------------------

TEST(PodWatcher, StartRejectsUnusableSettings) {
    KubeEndpoint endpoint;
    endpoint.server = "https://127.0.0.1:6443";
    auto error_of = [](KubeEndpoint e, PodWatcherOptions o) {
        auto started = PodWatcher::start(std::move(e), std::move(o));
        return started ? std::string("<started>") : started.error();
    };
    EXPECT_NE(error_of(endpoint, fast_options("")).find("node_name"), std::string::npos);

    PodWatcherOptions backwards = fast_options();
    backwards.backoff_initial = 100ms;
    backwards.backoff_max = 10ms;
    EXPECT_NE(error_of(endpoint, backwards).find("backoff"), std::string::npos);

    KubeEndpoint ftp = endpoint;
    ftp.server = "ftp://127.0.0.1/";
    EXPECT_NE(error_of(ftp, fast_options()).find("https://"), std::string::npos);
    KubeEndpoint garbage = endpoint;
    garbage.server = "not a url";
    EXPECT_NE(error_of(garbage, fast_options()).find("not a valid URL"), std::string::npos);
    KubeEndpoint query = endpoint;
    query.server = "https://127.0.0.1:6443/?x=1";
    EXPECT_NE(error_of(query, fast_options()).find("query"), std::string::npos);

    KubeEndpoint no_token = endpoint;
    no_token.token_file = "/nonexistent/fnwarden/token";
    EXPECT_NE(error_of(no_token, fast_options()).find("/nonexistent/fnwarden/token"), std::string::npos);
    KubeEndpoint injected = endpoint;
    injected.bearer_token = "abc\r\nX-Evil: 1";
    EXPECT_NE(error_of(injected, fast_options()).find("line break"), std::string::npos);
}

// --- TLS, with the kubeconfig's in-memory certificates ------------------------------

std::unique_ptr<httplib::Server> tls_server() {
    const fs::path tls = kFixtures / "tls";
    // The client CA makes the server demand a client certificate.
    auto server = std::make_unique<httplib::SSLServer>((tls / "server.crt").c_str(), (tls / "server.key").c_str(),
                                                       (tls / "ca.crt").c_str());
    EXPECT_TRUE(server->is_valid());
    return server;
}

// A handshake under a sanitizer on a loaded machine can take seconds.
PodWatcherOptions tls_options() {
    PodWatcherOptions options = fast_options();
    options.connect_timeout = 10s;
    options.list_timeout = 10s;
    return options;
}

KubeEndpoint tls_endpoint(const FakeApiServer& server) {
    auto loaded = kubeconfig_file(kFixtures / "kubeconfig.yaml", "tls");
    EXPECT_TRUE(loaded.ok()) << loaded.error();
    KubeEndpoint endpoint = loaded.value();
    endpoint.server = server.url("https");
    return endpoint;
}

TEST(PodWatcherTls, VerifiesTheServerAndPresentsTheClientCertificateFromMemory) {
    FakeApiServer server(tls_server());
    server.on_list = [](int, const httplib::Request&, httplib::Response& res) {
        serve_json(res, fixture("pod_list.json"));
    };
    server.on_watch = [&](int, const httplib::Request&, httplib::Response& res) { server.hold_open(res); };
    server.start();
    auto watcher = start_watcher(tls_endpoint(server), tls_options());
    ASSERT_TRUE(watcher);
    ASSERT_TRUE(eventually([&] { return watcher->synced(); })) << watcher->stats().last_error;
    EXPECT_EQ(watcher->pods().size(), 3u);
}

TEST(PodWatcherTls, RefusesAServerNotSignedByTheClusterCa) {
    FakeApiServer server(tls_server());
    server.on_list = [](int, const httplib::Request&, httplib::Response& res) {
        serve_json(res, fixture("pod_list.json"));
    };
    server.start();
    KubeEndpoint endpoint = tls_endpoint(server);
    endpoint.ca_pem = read_file(kFixtures / "tls" / "client.crt");  // a certificate that signed nothing
    auto watcher = start_watcher(endpoint, tls_options());
    ASSERT_TRUE(watcher);
    ASSERT_TRUE(eventually([&] { return watcher->stats().errors >= 1; }));
    EXPECT_FALSE(watcher->synced());
    EXPECT_EQ(server.lists(), 0);
    EXPECT_NE(watcher->stats().last_error.find("certificate"), std::string::npos) << watcher->stats().last_error;
}

TEST(PodWatcherTls, WithoutAClientCertificateTheHandshakeFails) {
    FakeApiServer server(tls_server());
    server.on_list = [](int, const httplib::Request&, httplib::Response& res) {
        serve_json(res, fixture("pod_list.json"));
    };
    server.start();
    KubeEndpoint endpoint = tls_endpoint(server);
    endpoint.client_cert_pem.clear();
    endpoint.client_key_pem.clear();
    auto watcher = start_watcher(endpoint, tls_options());
    ASSERT_TRUE(watcher);
    ASSERT_TRUE(eventually([&] { return watcher->stats().errors >= 1; }));
    EXPECT_FALSE(watcher->synced());
    EXPECT_EQ(server.lists(), 0);
}

// --- kubeconfig ---------------------------------------------------------------------

std::string kubeconfig_error(const fs::path& path, const std::string& context = "") {
    auto loaded = kubeconfig_file(path, context);
    return loaded ? std::string("<loaded>") : loaded.error();
}

KubeEndpoint kubeconfig_or_fail(const std::string& context) {
    auto loaded = kubeconfig_file(kFixtures / "kubeconfig.yaml", context);
    if (!loaded) {
        ADD_FAILURE() << loaded.error();
        return {};
    }
    return loaded.value();
}

TEST(KubeConfig, CurrentContextWithTokenAndRelativeCaFile) {
    const KubeEndpoint endpoint = kubeconfig_or_fail("");
    EXPECT_EQ(endpoint.server, "https://dev.example.com:6443");
    EXPECT_EQ(endpoint.bearer_token, "dev-token-123");
    EXPECT_EQ(fs::path(endpoint.ca_file), (kFixtures / "tls" / "ca.crt").lexically_normal());
    EXPECT_TRUE(endpoint.ca_pem.empty());
    EXPECT_TRUE(endpoint.token_file.empty());
    EXPECT_FALSE(endpoint.insecure_skip_tls_verify);
}

TEST(KubeConfig, DecodesCertificateData) {
    const KubeEndpoint endpoint = kubeconfig_or_fail("tls");
    EXPECT_EQ(endpoint.server, "https://127.0.0.1:6443");
    EXPECT_EQ(endpoint.ca_pem, read_file(kFixtures / "tls" / "ca.crt"));
    EXPECT_EQ(endpoint.client_cert_pem, read_file(kFixtures / "tls" / "client.crt"));
    EXPECT_EQ(endpoint.client_key_pem, read_file(kFixtures / "tls" / "client.key"));
    EXPECT_TRUE(endpoint.ca_file.empty());
    EXPECT_TRUE(endpoint.client_cert_file.empty());
    EXPECT_TRUE(endpoint.client_key_file.empty());
    EXPECT_TRUE(endpoint.bearer_token.empty());
}

TEST(KubeConfig, SelectsTheGivenContext) {
    const KubeEndpoint endpoint = kubeconfig_or_fail("token-file");
    EXPECT_EQ(endpoint.server, "https://10.0.0.1/");
    EXPECT_TRUE(endpoint.insecure_skip_tls_verify);
    EXPECT_EQ(fs::path(endpoint.token_file), (kFixtures / "secrets" / "token").lexically_normal());
    EXPECT_TRUE(endpoint.bearer_token.empty());

    const KubeEndpoint proxy = kubeconfig_or_fail("proxy");
    EXPECT_EQ(proxy.server, "http://127.0.0.1:8001");
    EXPECT_TRUE(proxy.bearer_token.empty() && proxy.token_file.empty() && proxy.client_cert_pem.empty());
}

TEST(KubeConfig, ErrorsNameWhatIsMissing) {
    const fs::path file = kFixtures / "kubeconfig.yaml";
    EXPECT_NE(kubeconfig_error(file, "staging").find("contexts: no entry named \"staging\""), std::string::npos)
        << kubeconfig_error(file, "staging");
    EXPECT_NE(kubeconfig_error(file, "no-server").find("cluster.server is missing"), std::string::npos)
        << kubeconfig_error(file, "no-server");
    EXPECT_NE(kubeconfig_error(file, "missing-user").find("users: no entry named \"nobody\""), std::string::npos)
        << kubeconfig_error(file, "missing-user");
    EXPECT_NE(kubeconfig_error(file, "half-cert").find("client-key"), std::string::npos)
        << kubeconfig_error(file, "half-cert");
    EXPECT_NE(kubeconfig_error(file, "contradictory").find("insecure-skip-tls-verify"), std::string::npos)
        << kubeconfig_error(file, "contradictory");
    EXPECT_NE(kubeconfig_error(kFixtures / "no-such-kubeconfig").find("No such file"), std::string::npos);
}

TEST(KubeConfig, RefusesCredentialPlugins) {
    const fs::path file = kFixtures / "kubeconfig.yaml";
    const std::string exec = kubeconfig_error(file, "eks");
    EXPECT_NE(exec.find("user.exec"), std::string::npos) << exec;
    EXPECT_NE(exec.find("\"aws\""), std::string::npos) << exec;
    EXPECT_NE(exec.find("not supported"), std::string::npos) << exec;
    const std::string provider = kubeconfig_error(file, "gke-legacy");
    EXPECT_NE(provider.find("auth-provider \"gcp\""), std::string::npos) << provider;
    EXPECT_NE(provider.find("not supported"), std::string::npos) << provider;
}

TEST(KubeConfig, RejectsBrokenFiles) {
    TempDir dir;
    auto write = [&](const std::string& name, const std::string& text) {
        const fs::path path = dir.path() / name;
        std::ofstream(path) << text;
        return path;
    };
    const std::string minimal_tail = R"(
contexts:
- name: c
  context: {cluster: k, user: u}
users:
- name: u
  user: {token: t}
)";
    EXPECT_NE(kubeconfig_error(write("no-current", "clusters: []\n" + minimal_tail)).find("current-context"),
              std::string::npos);
    EXPECT_NE(kubeconfig_error(write("bad-base64", "current-context: c\nclusters:\n- name: k\n  cluster:\n"
                                                   "    server: https://x\n    certificate-authority-data: '!!!'\n" +
                                                       minimal_tail))
                  .find("certificate-authority-data is not valid base64"),
              std::string::npos);
    EXPECT_NE(kubeconfig_error(write("not-pem", "current-context: c\nclusters:\n- name: k\n  cluster:\n"
                                                "    server: https://x\n    certificate-authority-data: aGVsbG8=\n" +
                                                    minimal_tail))
                  .find("PEM"),
              std::string::npos);
    EXPECT_NE(kubeconfig_error(write("no-cluster", "current-context: c\n" + minimal_tail))
                  .find("clusters: no entry named \"k\""),
              std::string::npos);
    EXPECT_NE(kubeconfig_error(write("bad-yaml", "clusters: [unclosed\n")).find("not valid YAML"), std::string::npos);
    EXPECT_NE(kubeconfig_error(write("scalar", "just a string\n")).find("not a kubeconfig"), std::string::npos);
    EXPECT_NE(kubeconfig_error(write("bad-bool", "current-context: c\nclusters:\n- name: k\n  cluster:\n"
                                                 "    server: https://x\n    insecure-skip-tls-verify: maybe\n" +
                                                     minimal_tail))
                  .find("insecure-skip-tls-verify must be true or false"),
              std::string::npos);

    const std::string scalar_exec = kubeconfig_error(
        write("scalar-exec", "current-context: c\nclusters:\n- name: k\n  cluster: {server: https://x}\n"
                             "contexts:\n- name: c\n  context: {cluster: k, user: u}\n"
                             "users:\n- name: u\n  user: {exec: aws}\n"));
    EXPECT_NE(scalar_exec.find("user.exec"), std::string::npos) << scalar_exec;
    EXPECT_NE(kubeconfig_error(write("scalar-cluster", "current-context: c\nclusters:\n- name: k\n  cluster: x\n" +
                                                           minimal_tail))
                  .find("cluster is missing"),
              std::string::npos);

    // Line-wrapped base64 (base64 -w 76) is fine.
    const std::string pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const std::string wrapped = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQg\n      Q0VSVElGSUNBVEUtLS0tLQo=";
    auto loaded = kubeconfig_file(write("wrapped", "current-context: c\nclusters:\n- name: k\n  cluster:\n"
                                                   "    server: https://x\n    certificate-authority-data: |\n      " +
                                                       wrapped + "\n" + minimal_tail));
    ASSERT_TRUE(loaded.ok()) << loaded.error();
    EXPECT_EQ(loaded.value().ca_pem, pem);
}

// --- in-cluster ---------------------------------------------------------------------

// Sets (or, with nullptr, unsets) an environment variable for one scope.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value)
            ::setenv(name, value, 1);
        else
            ::unsetenv(name);
    }
    ~ScopedEnv() {
        if (old_)
            ::setenv(name_, old_->c_str(), 1);
        else
            ::unsetenv(name_);
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

void make_service_account(const fs::path& dir) {
    std::ofstream(dir / "token") << "eyJhbGciOiJSUzI1NiJ9.in-cluster.token\n";
    fs::copy_file(kFixtures / "tls" / "ca.crt", dir / "ca.crt");
}

TEST(InClusterConfig, ReadsTheServiceAccountAndEnvironment) {
    TempDir dir;
    make_service_account(dir.path());
    ScopedEnv host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
    ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");
    auto loaded = in_cluster_config(dir.path());
    ASSERT_TRUE(loaded.ok()) << loaded.error();
    const KubeEndpoint& endpoint = loaded.value();
    EXPECT_EQ(endpoint.server, "https://10.96.0.1:443");
    EXPECT_EQ(endpoint.token_file, (dir.path() / "token").string()) << "a file, so rotations are seen";
    EXPECT_TRUE(endpoint.bearer_token.empty());
    EXPECT_EQ(endpoint.ca_file, (dir.path() / "ca.crt").string());
    EXPECT_FALSE(endpoint.insecure_skip_tls_verify);
}

TEST(InClusterConfig, BracketsAnIpv6Host) {
    TempDir dir;
    make_service_account(dir.path());
    ScopedEnv host("KUBERNETES_SERVICE_HOST", "fd00:10:96::1");
    ScopedEnv port("KUBERNETES_SERVICE_PORT", "6443");
    auto loaded = in_cluster_config(dir.path());
    ASSERT_TRUE(loaded.ok()) << loaded.error();
    EXPECT_EQ(loaded.value().server, "https://[fd00:10:96::1]:6443");
}

TEST(InClusterConfig, SaysWhatIsMissing) {
    TempDir dir;
    {
        ScopedEnv host("KUBERNETES_SERVICE_HOST", nullptr);
        ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");
        auto loaded = in_cluster_config(dir.path());
        ASSERT_TRUE(!loaded.ok());
        EXPECT_NE(loaded.error().find("KUBERNETES_SERVICE_HOST"), std::string::npos);
    }
    ScopedEnv host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
    {
        ScopedEnv port("KUBERNETES_SERVICE_PORT", "https");
        auto loaded = in_cluster_config(dir.path());
        ASSERT_TRUE(!loaded.ok());
        EXPECT_NE(loaded.error().find("KUBERNETES_SERVICE_PORT"), std::string::npos);
    }
    ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");
    auto no_token = in_cluster_config(dir.path());
    ASSERT_TRUE(!no_token.ok());
    EXPECT_NE(no_token.error().find((dir.path() / "token").string()), std::string::npos)
        << no_token.error();

    std::ofstream(dir.path() / "token") << "a-token";
    auto no_ca = in_cluster_config(dir.path());
    ASSERT_TRUE(!no_ca.ok());
    EXPECT_NE(no_ca.error().find("ca.crt"), std::string::npos) << no_ca.error();
}

}  // namespace
}  // namespace fnw
