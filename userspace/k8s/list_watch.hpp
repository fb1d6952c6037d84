// SPDX-License-Identifier: Apache-2.0
// The reflector loop shared by the k8s watchers: LIST (paged), then WATCH
// from the list's resourceVersion, as client-go's reflector does; relist on
// 410 Gone, an ERROR event or a broken stream; resume on a dropped
// connection; bounded, jittered backoff between failures. One worker
// thread. What the objects mean is the target's business (ListWatchTarget):
// the pod watcher keeps pods, the policy watcher FunctionPolicy objects.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "k8s/failure_log.hpp"
#include "k8s/kube_api_client.hpp"
#include "k8s/kube_config.hpp"
#include "k8s/list_watch_limits.hpp"
#include "k8s/watch_stats.hpp"

namespace fnw {


// What a ListWatch feeds. Called on the worker thread only; the target keeps
// its own lock for readers on other threads.
class ListWatchTarget {
public:
    using Json = nlohmann::json;
    virtual ~ListWatchTarget() = default;

    virtual void update_stats(const std::function<void(ListWatchStats&)>& update) = 0;
    virtual std::string resource_version() const = 0;
    // A LIST: list_started, every item of every page, list_complete. A list
    // that fails half way is started again; nothing is committed before
    // list_complete. False from list_item: malformed, counted and skipped.
    virtual void list_started() = 0;
    virtual bool list_item(const Json& item) = 0;
    virtual void list_complete(const std::string& version) = 0;
    // Watch events; false: malformed (counted).
    virtual bool upsert(const Json& object, const std::string& type) = 0;
    virtual bool remove(const Json& object) = 0;
    virtual void bookmark(std::string version) = 0;
};

struct ListWatchOptions {
    // Plural resource in messages ("pods") and the RBAC rule that grants it.
    std::string resource = "pods";
    std::string rbac_rule = "a ClusterRole rule apiGroups [\"\"], resources [\"pods\"]";
    ApiClientOptions api;
    std::chrono::milliseconds backoff_initial{1000};
    std::chrono::milliseconds backoff_max{30000};
    size_t max_line_bytes = 4u << 20;
    size_t max_list_page_bytes = 256u << 20;
};

// A listed object kept under its uid, unless `listed` already holds `max`
// others: then it is counted in `refused` (a bound on what a broken or
// hostile server can make us hold).
template <typename Map>
void keep_listed(Map& listed, typename Map::mapped_type&& object, size_t max, uint64_t& refused) {
    if (listed.size() >= max && !listed.contains(object.uid)) {
        ++refused;
        return;
    }
    std::string uid = object.uid;
    listed.insert_or_assign(std::move(uid), std::move(object));
}

// Copies a watcher's limits into the options of its ListWatch.
void apply_limits(ListWatchOptions& watch, const ListWatchLimits& limits);

// Checks that the endpoint's credential files are readable and the limits sane.
Status check_list_watch(const KubeEndpoint& endpoint, const ListWatchOptions& options);

class ListWatch final : ResponseSink {
public:
    // `target` and `log` outlive this. start() runs the worker.
    ListWatch(KubeEndpoint endpoint, ListWatchOptions options, ListWatchTarget& target, FailureLog& log);
    // Returns within about a second even with a watch open.
    ~ListWatch() override;
    ListWatch(const ListWatch&) = delete;
    ListWatch& operator=(const ListWatch&) = delete;

    Status start();

    // For a target's own messages (worker thread only).
    void record_failure(const std::string& message, spdlog::level::level_enum level = spdlog::level::warn);
    void count_malformed(const std::string& what);

private:
    enum class Outcome { Done, Gone, Relist, Unauthorized, Failed, Stopped };
    enum class Next { Continue, BackOff, WaitLong, Stop };
    struct WatchEnd {
        Outcome outcome;
        // An event arrived, or the stream stayed up a while: the API server
        // is fine, so the next failure starts from the shortest backoff.
        bool worked;
    };

    ApiResponse request(const std::string& url, ApiRequest kind);
    bool accept(long status, std::string_view data) override;
    void failed_reading(const std::string& what) override;
    void release_body();
    Outcome http_failure(const char* verb, const ApiResponse& response);
    Outcome read_list_page(std::string& version, std::string& continue_token);
    Outcome list_all();
    WatchEnd watch_once();
    bool accept_watch_bytes(std::string_view data);
    bool abort_oversized_line();
    bool handle_watch_line(std::string_view line);
    bool handle_error_event(const nlohmann::json& status);
    bool sleep_unless_stopping(std::chrono::milliseconds delay);
    std::chrono::milliseconds jittered(std::chrono::milliseconds delay);
    Next after_watch(const WatchEnd& end, bool& need_list);
    void run();

    const ListWatchOptions options_;
    ListWatchTarget& target_;
    FailureLog& log_;
    std::atomic<bool> stopping_{false};
    std::mutex sleep_mutex_;
    std::condition_variable wake_;
    KubeApiClient client_;  // worker thread only, but for wake()

    // Worker thread only.
    ApiRequest request_kind_ = ApiRequest::List;
    std::string body_;
    bool body_too_large_ = false;
    std::string line_buffer_;
    Outcome watch_abort_ = Outcome::Done;
    bool watch_progressed_ = false;
    std::minstd_rand jitter_;

    std::thread worker_;  // last: joined in the destructor before anything above goes away
};

}  // namespace fnw
