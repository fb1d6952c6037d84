#include "k8s/pod_watcher.hpp"

#include <algorithm>
#include <fstream>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/curl_handles.hpp"
#include "k8s/failure_log.hpp"
#include "k8s/kube_api_client.hpp"
#include "k8s/pod_cache.hpp"
#include "k8s/pod_json.hpp"

namespace fnw {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using pod_json::Json;
using pod_json::member;
using pod_json::pod_from_json;
using pod_json::printable;
using pod_json::resource_version_of;
using pod_json::status_message;
using pod_json::string_member;
using pod_json::trim;

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

// Error responses are Status objects of a few hundred bytes; what is beyond
// this is not worth keeping.
constexpr size_t kMaxErrorBodyBytes = 64 * 1024;
// A continue token can expire mid-list (410); the list starts over, a few times.
constexpr int kMaxListRestarts = 3;
constexpr auto kStreamLifeThatWorked = std::chrono::seconds(10);

ApiClientOptions api_client_options(const PodWatcherOptions& options) {
    ApiClientOptions api;
    api.node_name = options.node_name;
    api.connect_timeout = options.connect_timeout;
    api.list_timeout = options.list_timeout;
    api.watch_timeout_seconds = options.watch_timeout_seconds;
    api.list_page_size = options.list_page_size;
    return api;
}

Status check_options(const KubeEndpoint& endpoint, const PodWatcherOptions& options) {
    if (options.node_name.empty()) return fail("node_name is required (the downward API's spec.nodeName)");
    if (options.backoff_initial.count() <= 0 || options.backoff_max < options.backoff_initial)
        return fail("backoff_initial must be positive and at most backoff_max");
    if (options.list_page_size == 0 || options.max_line_bytes == 0 || options.max_pods == 0 ||
        options.max_list_page_bytes == 0 || options.watch_timeout_seconds == 0 ||
        options.connect_timeout.count() <= 0 || options.list_timeout.count() <= 0)
        return fail("sizes, limits and timeouts must be positive");
    if (endpoint.bearer_token.find_first_of("\r\n") != std::string::npos)
        return fail("the bearer token holds a line break");
    for (const std::string* file :
         {&endpoint.token_file, &endpoint.ca_file, &endpoint.client_cert_file, &endpoint.client_key_file})
        if (!file->empty() && !std::ifstream(*file).good()) return fail("cannot read " + *file);
    return {};
}

}  // namespace

// The reflector: LIST, then WATCH from the list's resourceVersion, on one
// worker thread; the transfers are the client's, the snapshot the cache's.
struct PodWatcher::Impl final : ResponseSink {
    // How a LIST or a WATCH ended, and so what comes next.
    enum class Outcome {
        Done,          // LIST complete / WATCH ended cleanly or dropped: resume
        Gone,          // resourceVersion too old (410): relist
        Relist,        // the stream cannot be trusted (ERROR event, oversized line)
        Unauthorized,  // 401/403: wait long
        Failed,        // transport error, 5xx, 429, ...: back off, retry the same step
        Stopped,
    };

    Impl(KubeEndpoint endpoint, PodWatcherOptions opts)
        : options(std::move(opts)),
          client(std::move(endpoint), api_client_options(options), stopping, failure_log),
          cache(options.max_pods, static_cast<bool>(options.on_change)) {
        std::random_device seed;
        jitter.seed(seed());
    }

    ~Impl() override {
        {
            std::lock_guard lock(sleep_mutex);
            stopping.store(true, std::memory_order_release);
        }
        wake.notify_all();
        // Interrupts curl_multi_poll() at once, however idle the watch is.
        client.wake();
        if (worker.joinable()) worker.join();
    }

    // --- transfers -------------------------------------------------------------

    ApiResponse request(const std::string& url, ApiRequest kind) {
        request_kind = kind;
        body.clear();
        body_too_large = false;
        return client.perform(url, kind, *this);
    }

    bool accept(long status, std::string_view data) override {
        if (request_kind == ApiRequest::Watch && status == 200) return accept_watch_bytes(data);
        // A LIST page, or the Status object of an error.
        const size_t limit = status == 200 ? options.max_list_page_bytes : kMaxErrorBodyBytes;
        if (body.size() + data.size() > limit) {
            if (status != 200) {
                body.append(data.substr(0, limit - body.size()));
                return true;
            }
            body_too_large = true;
            return false;
        }
        body.append(data);
        return true;
    }

    void failed_reading(const std::string& what) override {
        record_failure(what);
        if (request_kind == ApiRequest::Watch) watch_abort = Outcome::Relist;
    }

    void release_body() {
        body.clear();
        // One large list must not pin its buffer for the rest of the run.
        if (body.capacity() > kMaxErrorBodyBytes) std::string().swap(body);
    }

    Outcome http_failure(const char* verb, const ApiResponse& response) {
        const std::string what = std::string(verb) + " pods: HTTP " + std::to_string(response.status);
        const std::string message = status_message(body);
        release_body();
        if (response.status == 410) return Outcome::Gone;
        if (response.status == 403) {
            record_failure(what + " Forbidden (" + message +
                               "). RBAC: the daemon's service account needs get, list and watch on pods "
                               "(a ClusterRole rule apiGroups [\"\"], resources [\"pods\"], bound with a "
                               "ClusterRoleBinding); retrying every " +
                               std::to_string(options.backoff_max.count()) + " ms",
                           spdlog::level::err);
            return Outcome::Unauthorized;
        }
        if (response.status == 401) {
            record_failure(what + " Unauthorized (" + message +
                               "): the API server rejected the credentials (expired token? a token or "
                               "certificate of another cluster?); retrying every " +
                               std::to_string(options.backoff_max.count()) + " ms",
                           spdlog::level::err);
            return Outcome::Unauthorized;
        }
        record_failure(what + (message.empty() ? "" : " (" + message + ")"));
        return Outcome::Failed;
    }

    // --- LIST ----------------------------------------------------------------

    // A page of a LIST, added to what the pages before it gave.
    struct Listing {
        StringMap<PodInfo> pods;
        uint64_t refused = 0;
        std::string version, continue_token;
    };

    // Failed when the page is not a PodList.
    Outcome read_list_page(Listing& listing) {
        const Json page = Json::parse(body, nullptr, false);
        release_body();
        const Json* items = member(page, "items");
        const Json* metadata = member(page, "metadata");
        if (!metadata || (items && !items->is_array() && !items->is_null())) {
            record_failure("LIST pods: the response is not a PodList");
            return Outcome::Failed;
        }
        if (items && items->is_array()) {
            for (const Json& item : *items) {
                std::optional<PodInfo> pod = pod_from_json(item, options.function_labels);
                if (!pod) {
                    count_malformed("a LIST item without metadata.uid");
                    continue;
                }
                if (listing.pods.size() >= options.max_pods && !listing.pods.contains(pod->uid)) {
                    ++listing.refused;
                    continue;
                }
                std::string uid = pod->uid;
                listing.pods.insert_or_assign(std::move(uid), std::move(*pod));
            }
        }
        listing.version = string_member(*metadata, "resourceVersion");
        listing.continue_token = string_member(*metadata, "continue");
        return Outcome::Done;
    }

    Outcome list_all() {
        Listing listing;
        int restarts = 0;
        do {
            const ApiResponse response = request(client.list_url(listing.continue_token), ApiRequest::List);
            if (response.stopped) return Outcome::Stopped;
            if (body_too_large) {
                record_failure("LIST pods: a page is larger than " + std::to_string(options.max_list_page_bytes) +
                               " bytes (max_list_page_bytes)");
                return Outcome::Failed;
            }
            if (response.result != CURLE_OK && response.status == 0) {
                record_failure("LIST pods from " + client.endpoint().server + ": " + response.transport_error);
                return Outcome::Failed;
            }
            if (response.status == 410 && !listing.continue_token.empty() && restarts < kMaxListRestarts) {
                // The continue token outlived the server's compaction window:
                // the pages so far are from a snapshot that is gone.
                ++restarts;
                listing = Listing{};
                continue;
            }
            if (response.status != 200) return http_failure("LIST", response);
            if (response.result != CURLE_OK) {
                record_failure("LIST pods: " + response.transport_error);
                return Outcome::Failed;
            }
            if (const Outcome read = read_list_page(listing); read != Outcome::Done) return read;
        } while (!listing.continue_token.empty());
        if (listing.version.empty()) {
            record_failure("LIST pods: the response has no metadata.resourceVersion to watch from");
            return Outcome::Failed;
        }
        if (listing.refused > 0)
            failure_log.log(spdlog::level::warn, "the pod list holds more than " + std::to_string(options.max_pods) +
                                                     " pods (max_pods): " + std::to_string(listing.refused) +
                                                     " left out");
        const std::string version = listing.version;
        PodCache::Replaced replaced = cache.replace(std::move(listing.pods), version, listing.refused);
        if (replaced.first_sync)
            spdlog::info("pod watcher: {} pods on node {} (resourceVersion {})", replaced.pods, options.node_name,
                         version);
        notify(replaced.changes);
        return Outcome::Done;
    }

    // --- WATCH ---------------------------------------------------------------

    struct WatchEnd {
        Outcome outcome;
        // An event arrived, or the stream stayed up a while: the API server
        // is fine, so the next failure starts from the shortest backoff.
        bool worked;
    };

    WatchEnd watch_once() {
        cache.update_stats([](PodWatcherStats& stats) { ++stats.watches; });
        watch_abort = Outcome::Done;
        watch_progressed = false;
        line_buffer.clear();
        const auto started = Clock::now();
        const ApiResponse response = request(client.watch_url(cache.resource_version()), ApiRequest::Watch);
        line_buffer.clear();
        if (line_buffer.capacity() > kMaxErrorBodyBytes) std::string().swap(line_buffer);
        // A quiet node without bookmarks (older API servers) sees no event
        // for the whole timeoutSeconds; that stream worked all the same.
        const bool worked =
            watch_progressed || (response.status == 200 && Clock::now() - started >= kStreamLifeThatWorked);

        if (response.stopped) return {Outcome::Stopped, worked};
        if (watch_abort != Outcome::Done) return {watch_abort, worked};
        if (response.status == 0) {
            record_failure("WATCH pods from " + client.endpoint().server + ": " + response.transport_error);
            return {Outcome::Failed, false};
        }
        if (response.status != 200) return {http_failure("WATCH", response), false};
        if (response.result != CURLE_OK) {
            // Connections drop (API server restart, load balancer idle
            // timeout): resuming from the last resourceVersion loses nothing.
            record_failure("WATCH pods: stream broken: " + response.transport_error, spdlog::level::info);
        }
        return {Outcome::Done, worked};
    }

    bool accept_watch_bytes(std::string_view data) {
        const size_t search_from = line_buffer.size();
        line_buffer.append(data);
        size_t line_start = 0;
        for (size_t newline = line_buffer.find('\n', search_from); newline != std::string::npos;
             newline = line_buffer.find('\n', line_start)) {
            const std::string_view line(line_buffer.data() + line_start, newline - line_start);
            line_start = newline + 1;
            if (line.size() > options.max_line_bytes) return abort_oversized_line();
            if (!handle_watch_line(line)) return false;
        }
        line_buffer.erase(0, line_start);
        if (line_buffer.size() > options.max_line_bytes) return abort_oversized_line();
        return true;
    }

    bool abort_oversized_line() {
        record_failure("WATCH pods: a line longer than " + std::to_string(options.max_line_bytes) +
                       " bytes (max_line_bytes); dropping the stream and relisting");
        cache.update_stats([](PodWatcherStats& stats) { ++stats.malformed_lines; });
        watch_abort = Outcome::Relist;
        return false;
    }

    // False stops the stream; watch_abort says why.
    bool handle_watch_line(std::string_view line) {
        line = trim(line);
        if (line.empty()) return true;
        const Json event = Json::parse(line.begin(), line.end(), nullptr, false);
        const std::string type = event.is_discarded() ? std::string() : string_member(event, "type");
        const Json* object = event.is_discarded() ? nullptr : member(event, "object");
        if (type.empty() || !object || !object->is_object()) {
            count_malformed("not a watch event: " + printable(line, 80));
            return true;
        }
        if (type == "ERROR") return handle_error_event(*object);
        bool applied = false;
        if (type == "ADDED" || type == "MODIFIED")
            applied = apply_upsert(*object, type);
        else if (type == "DELETED")
            applied = apply_delete(*object);
        else if (type == "BOOKMARK")
            applied = apply_bookmark(*object);
        else
            cache.update_stats([](PodWatcherStats& stats) { ++stats.ignored_events; });
        if (applied) watch_progressed = true;
        return true;
    }

    // The object is a Status. 410: our resourceVersion is older than the
    // server keeps history for. Always ends the stream.
    bool handle_error_event(const Json& status) {
        const Json* code = member(status, "code");
        const std::string message = string_member(status, "message");
        if (code && code->is_number_integer() && code->get<long>() == 410) {
            spdlog::info("pod watcher: resourceVersion {} expired ({}); relisting", cache.resource_version(),
                         printable(message));
            watch_abort = Outcome::Gone;
            return false;
        }
        record_failure("WATCH pods: ERROR event " + (code && code->is_number() ? code->dump() + " " : std::string()) +
                       string_member(status, "reason") + ": " + printable(message) + "; relisting");
        watch_abort = Outcome::Relist;
        return false;
    }

    // --- applying events (false: malformed, counted) ---------------------------

    bool apply_upsert(const Json& object, const std::string& type) {
        std::optional<PodInfo> pod = pod_from_json(object, options.function_labels);
        if (!pod) {
            count_malformed(type + " event without metadata.uid");
            return false;
        }
        PodCache::Upserted upserted = cache.upsert(std::move(*pod), resource_version_of(object));
        if (upserted.refused)
            failure_log.log(spdlog::level::warn,
                            "more than " + std::to_string(options.max_pods) + " pods (max_pods): new pods are not tracked",
                            "max_pods");
        notify(upserted.changes);
        return true;
    }

    bool apply_delete(const Json& object) {
        const Json* metadata = member(object, "metadata");
        const std::string uid = metadata ? string_member(*metadata, "uid") : std::string();
        if (uid.empty()) {
            count_malformed("DELETED event without metadata.uid");
            return false;
        }
        notify(cache.remove(uid, resource_version_of(object)));
        return true;
    }

    // Only a resourceVersion: where to resume without replaying everything
    // since the list.
    bool apply_bookmark(const Json& object) {
        std::string version = resource_version_of(object);
        if (version.empty()) {
            count_malformed("BOOKMARK event without metadata.resourceVersion");
            return false;
        }
        cache.bookmark(std::move(version));
        return true;
    }

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

    // --- failures --------------------------------------------------------------

    void record_failure(const std::string& message, spdlog::level::level_enum level = spdlog::level::warn) {
        cache.update_stats([&](PodWatcherStats& stats) {
            ++stats.errors;
            stats.last_error = message;
        });
        failure_log.log(level, message);
    }

    void count_malformed(const std::string& what) {
        cache.update_stats([](PodWatcherStats& stats) { ++stats.malformed_lines; });
        failure_log.log(spdlog::level::warn, "skipped a malformed watch line or list item: " + what, "malformed");
    }

    // --- the worker ----------------------------------------------------------

    // False when stopping.
    bool sleep_unless_stopping(milliseconds delay) {
        std::unique_lock lock(sleep_mutex);
        return !wake.wait_for(lock, delay, [&] { return stopping.load(std::memory_order_relaxed); });
    }

    // Up to a quarter shorter than asked: a thousand nodes that lost the API
    // server together must not come back in lockstep.
    milliseconds jittered(milliseconds delay) {
        const auto spread = delay.count() / 4;
        if (spread <= 0) return delay;
        return delay - milliseconds(std::uniform_int_distribution<int64_t>(0, spread)(jitter));
    }

    // What the worker does after a LIST or a WATCH.
    enum class Next { Continue, BackOff, WaitLong, Stop };

    Next after_list(Outcome listed) {
        switch (listed) {
        case Outcome::Stopped: return Next::Stop;
        case Outcome::Unauthorized: return Next::WaitLong;
        case Outcome::Done: return Next::Continue;
        default: return Next::BackOff;
        }
    }

    Next after_watch(const WatchEnd& end, bool& need_list) {
        switch (end.outcome) {
        case Outcome::Stopped: return Next::Stop;
        case Outcome::Gone:
            cache.update_stats([](PodWatcherStats& stats) { ++stats.relists_410; });
            need_list = true;
            // Expiry after a working stream is routine: relist now. A watch
            // refused outright waits, or a server insisting on 410 would get
            // a list per round trip.
            return end.worked ? Next::Continue : Next::BackOff;
        case Outcome::Relist: need_list = true; return Next::BackOff;
        case Outcome::Unauthorized: return Next::WaitLong;
        case Outcome::Done:
        case Outcome::Failed: break;
        }
        return Next::BackOff;
    }

    void run() {
        milliseconds backoff = options.backoff_initial;
        bool need_list = true;
        while (!stopping.load(std::memory_order_acquire)) {
            Next next = Next::Continue;
            const bool resumed = !need_list;
            if (need_list) {
                next = after_list(list_all());
                if (next == Next::Continue) need_list = false;
            }
            if (next == Next::Continue) {
                if (resumed) cache.update_stats([](PodWatcherStats& stats) { ++stats.reconnects; });
                const WatchEnd end = watch_once();
                if (end.worked) backoff = options.backoff_initial;
                next = after_watch(end, need_list);
            }
            if (next == Next::Stop) return;
            if (next == Next::WaitLong && !sleep_unless_stopping(jittered(options.backoff_max))) return;
            if (next == Next::BackOff) {
                if (!sleep_unless_stopping(jittered(backoff))) return;
                backoff = std::min(backoff * 2, options.backoff_max);
            }
        }
    }

    const PodWatcherOptions options;
    std::atomic<bool> stopping{false};
    std::mutex sleep_mutex;
    std::condition_variable wake;
    FailureLog failure_log;  // worker thread only
    KubeApiClient client;    // worker thread only, but for wake()
    PodCache cache;

    // Worker thread only.
    ApiRequest request_kind = ApiRequest::List;
    std::string body;
    bool body_too_large = false;
    std::string line_buffer;
    Outcome watch_abort = Outcome::Done;
    bool watch_progressed = false;
    std::minstd_rand jitter;

    std::thread worker;  // last: joined in ~Impl before anything above goes away
};

PodWatcher::PodWatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PodWatcher::~PodWatcher() = default;

Result<std::unique_ptr<PodWatcher>> PodWatcher::start(KubeEndpoint endpoint, PodWatcherOptions options) {
    if (Status usable = check_options(endpoint, options); !usable) return usable.wrap("pod watcher");
    if (!curl_ready()) return fail("pod watcher: libcurl global initialisation failed");

    auto impl = std::make_unique<Impl>(std::move(endpoint), std::move(options));
    if (Status ready = impl->client.setup(); !ready) return ready.wrap("pod watcher");
    Impl* worker_view = impl.get();
    impl->worker = std::thread([worker_view] { worker_view->run(); });
    return std::unique_ptr<PodWatcher>(new PodWatcher(std::move(impl)));
}

std::optional<PodInfo> PodWatcher::pod_by_uid(std::string_view uid) const { return impl_->cache.by_uid(uid); }

std::optional<PodInfo> PodWatcher::pod_by_container(std::string_view container_id) const {
    return impl_->cache.by_container(container_id);
}

std::vector<PodInfo> PodWatcher::pods() const { return impl_->cache.all(); }

bool PodWatcher::synced() const { return impl_->cache.synced(); }

PodWatcherStats PodWatcher::stats() const { return impl_->cache.stats(); }

}  // namespace fnw
