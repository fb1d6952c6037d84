// SPDX-License-Identifier: Apache-2.0
#include "k8s/list_watch.hpp"

#include <algorithm>
#include <fstream>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/curl_handles.hpp"
#include "k8s/pod_json.hpp"

namespace fnw {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using pod_json::Json;
using pod_json::member;
using pod_json::printable;
using pod_json::resource_version_of;
using pod_json::status_message;
using pod_json::string_member;
using pod_json::trim;

namespace {

// Error responses are Status objects of a few hundred bytes; what is beyond
// this is not worth keeping.
constexpr size_t kMaxErrorBodyBytes = 64 * 1024;
// A continue token can expire mid-list (410); the list starts over, a few times.
constexpr int kMaxListRestarts = 3;
constexpr auto kStreamLifeThatWorked = std::chrono::seconds(10);

}  // namespace

void apply_limits(ListWatchOptions& watch, const ListWatchLimits& limits) {
    watch.api.connect_timeout = limits.connect_timeout;
    watch.api.list_timeout = limits.list_timeout;
    watch.api.watch_timeout_seconds = limits.watch_timeout_seconds;
    watch.api.list_page_size = limits.list_page_size;
    watch.backoff_initial = limits.backoff_initial;
    watch.backoff_max = limits.backoff_max;
    watch.max_line_bytes = limits.max_line_bytes;
    watch.max_list_page_bytes = limits.max_list_page_bytes;
}

Status check_list_watch(const KubeEndpoint& endpoint, const ListWatchOptions& options) {
    if (options.backoff_initial.count() <= 0 || options.backoff_max < options.backoff_initial)
        return fail("backoff_initial must be positive and at most backoff_max");
    const ApiClientOptions& api = options.api;
    if (api.list_page_size == 0 || options.max_line_bytes == 0 || options.max_list_page_bytes == 0 ||
        api.watch_timeout_seconds == 0 || api.connect_timeout.count() <= 0 || api.list_timeout.count() <= 0)
        return fail("sizes, limits and timeouts must be positive");
    if (endpoint.bearer_token.find_first_of("\r\n") != std::string::npos)
        return fail("the bearer token holds a line break");
    for (const std::string* file :
         {&endpoint.token_file, &endpoint.ca_file, &endpoint.client_cert_file, &endpoint.client_key_file})
        if (!file->empty() && !std::ifstream(*file).good()) return fail("cannot read " + *file);
    return {};
}

ListWatch::ListWatch(KubeEndpoint endpoint, ListWatchOptions options, ListWatchTarget& target, FailureLog& log)
    : options_(std::move(options)),
      target_(target),
      log_(log),
      client_(std::move(endpoint), options_.api, stopping_, log) {
    std::random_device seed;
    jitter_.seed(seed());
}

ListWatch::~ListWatch() {
    {
        std::lock_guard lock(sleep_mutex_);
        stopping_.store(true, std::memory_order_release);
    }
    wake_.notify_all();
    // Interrupts curl_multi_poll() at once, however idle the watch is.
    client_.wake();
    if (worker_.joinable()) worker_.join();
}

Status ListWatch::start() {
    if (!curl_ready()) return fail("libcurl global initialisation failed");
    if (Status ready = client_.setup(); !ready) return ready;
    worker_ = std::thread([this] { run(); });
    return {};
}

// --- transfers -------------------------------------------------------------------

ApiResponse ListWatch::request(const std::string& url, ApiRequest kind) {
    request_kind_ = kind;
    body_.clear();
    body_too_large_ = false;
    return client_.perform(url, kind, *this);
}

bool ListWatch::accept(long status, std::string_view data) {
    if (request_kind_ == ApiRequest::Watch && status == 200) return accept_watch_bytes(data);
    // A LIST page, or the Status object of an error.
    const size_t limit = status == 200 ? options_.max_list_page_bytes : kMaxErrorBodyBytes;
    if (body_.size() + data.size() > limit) {
        if (status != 200) {
            body_.append(data.substr(0, limit - body_.size()));
            return true;
        }
        body_too_large_ = true;
        return false;
    }
    body_.append(data);
    return true;
}

void ListWatch::failed_reading(const std::string& what) {
    record_failure(what);
    if (request_kind_ == ApiRequest::Watch) watch_abort_ = Outcome::Relist;
}

void ListWatch::release_body() {
    body_.clear();
    // One large list must not pin its buffer for the rest of the run.
    if (body_.capacity() > kMaxErrorBodyBytes) std::string().swap(body_);
}

ListWatch::Outcome ListWatch::http_failure(const char* verb, const ApiResponse& response) {
    const std::string what =
        std::string(verb) + " " + options_.resource + ": HTTP " + std::to_string(response.status);
    const std::string message = status_message(body_);
    release_body();
    if (response.status == 410) return Outcome::Gone;
    if (response.status == 403) {
        record_failure(what + " Forbidden (" + message + "). RBAC: the daemon's service account needs get, list and " +
                           "watch on " + options_.resource + " (" + options_.rbac_rule +
                           ", bound with a ClusterRoleBinding); retrying every " +
                           std::to_string(options_.backoff_max.count()) + " ms",
                       spdlog::level::err);
        return Outcome::Unauthorized;
    }
    if (response.status == 401) {
        record_failure(what + " Unauthorized (" + message +
                           "): the API server rejected the credentials (expired token? a token or "
                           "certificate of another cluster?); retrying every " +
                           std::to_string(options_.backoff_max.count()) + " ms",
                       spdlog::level::err);
        return Outcome::Unauthorized;
    }
    record_failure(what + (message.empty() ? "" : " (" + message + ")"));
    return Outcome::Failed;
}

// --- LIST ------------------------------------------------------------------------

// Failed when the page is not a list.
ListWatch::Outcome ListWatch::read_list_page(std::string& version, std::string& continue_token) {
    const Json page = Json::parse(body_, nullptr, false);
    release_body();
    const Json* items = member(page, "items");
    const Json* metadata = member(page, "metadata");
    if (!metadata || (items && !items->is_array() && !items->is_null())) {
        record_failure("LIST " + options_.resource + ": the response is not a list");
        return Outcome::Failed;
    }
    if (items && items->is_array())
        for (const Json& item : *items)
            if (!target_.list_item(item)) count_malformed("a LIST item without metadata.uid");
    version = string_member(*metadata, "resourceVersion");
    continue_token = string_member(*metadata, "continue");
    return Outcome::Done;
}

ListWatch::Outcome ListWatch::list_all() {
    const std::string& what = options_.resource;
    std::string version, continue_token;
    int restarts = 0;
    target_.list_started();
    do {
        const ApiResponse response = request(client_.list_url(continue_token), ApiRequest::List);
        if (response.stopped) return Outcome::Stopped;
        if (body_too_large_) {
            record_failure("LIST " + what + ": a page is larger than " +
                           std::to_string(options_.max_list_page_bytes) + " bytes (max_list_page_bytes)");
            return Outcome::Failed;
        }
        if (response.result != CURLE_OK && response.status == 0) {
            record_failure("LIST " + what + " from " + client_.endpoint().server + ": " + response.transport_error);
            return Outcome::Failed;
        }
        if (response.status == 410 && !continue_token.empty() && restarts < kMaxListRestarts) {
            // The continue token outlived the server's compaction window:
            // the pages so far are from a snapshot that is gone.
            ++restarts;
            continue_token.clear();
            target_.list_started();
            continue;
        }
        if (response.status != 200) return http_failure("LIST", response);
        if (response.result != CURLE_OK) {
            record_failure("LIST " + what + ": " + response.transport_error);
            return Outcome::Failed;
        }
        if (const Outcome read = read_list_page(version, continue_token); read != Outcome::Done) return read;
    } while (!continue_token.empty());
    if (version.empty()) {
        record_failure("LIST " + what + ": the response has no metadata.resourceVersion to watch from");
        return Outcome::Failed;
    }
    target_.list_complete(version);
    return Outcome::Done;
}

// --- WATCH -----------------------------------------------------------------------

ListWatch::WatchEnd ListWatch::watch_once() {
    target_.update_stats([](ListWatchStats& stats) { ++stats.watches; });
    watch_abort_ = Outcome::Done;
    watch_progressed_ = false;
    line_buffer_.clear();
    const auto started = Clock::now();
    const ApiResponse response = request(client_.watch_url(target_.resource_version()), ApiRequest::Watch);
    line_buffer_.clear();
    if (line_buffer_.capacity() > kMaxErrorBodyBytes) std::string().swap(line_buffer_);
    // A quiet cluster without bookmarks (older API servers) sees no event
    // for the whole timeoutSeconds; that stream worked all the same.
    const bool worked =
        watch_progressed_ || (response.status == 200 && Clock::now() - started >= kStreamLifeThatWorked);

    if (response.stopped) return {Outcome::Stopped, worked};
    if (watch_abort_ != Outcome::Done) return {watch_abort_, worked};
    if (response.status == 0) {
        record_failure("WATCH " + options_.resource + " from " + client_.endpoint().server + ": " +
                       response.transport_error);
        return {Outcome::Failed, false};
    }
    if (response.status != 200) return {http_failure("WATCH", response), false};
    if (response.result != CURLE_OK) {
        // Connections drop (API server restart, load balancer idle
        // timeout): resuming from the last resourceVersion loses nothing.
        record_failure("WATCH " + options_.resource + ": stream broken: " + response.transport_error,
                       spdlog::level::info);
    }
    return {Outcome::Done, worked};
}

bool ListWatch::accept_watch_bytes(std::string_view data) {
    const size_t search_from = line_buffer_.size();
    line_buffer_.append(data);
    size_t line_start = 0;
    for (size_t newline = line_buffer_.find('\n', search_from); newline != std::string::npos;
         newline = line_buffer_.find('\n', line_start)) {
        const std::string_view line(line_buffer_.data() + line_start, newline - line_start);
        line_start = newline + 1;
        if (line.size() > options_.max_line_bytes) return abort_oversized_line();
        if (!handle_watch_line(line)) return false;
    }
    line_buffer_.erase(0, line_start);
    if (line_buffer_.size() > options_.max_line_bytes) return abort_oversized_line();
    return true;
}

bool ListWatch::abort_oversized_line() {
    record_failure("WATCH " + options_.resource + ": a line longer than " + std::to_string(options_.max_line_bytes) +
                   " bytes (max_line_bytes); dropping the stream and relisting");
    target_.update_stats([](ListWatchStats& stats) { ++stats.malformed_lines; });
    watch_abort_ = Outcome::Relist;
    return false;
}

// False stops the stream; watch_abort_ says why.
bool ListWatch::handle_watch_line(std::string_view line) {
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
    if (type == "ADDED" || type == "MODIFIED") {
        applied = target_.upsert(*object, type);
        if (!applied) count_malformed(type + " event without metadata.uid");
    } else if (type == "DELETED") {
        applied = target_.remove(*object);
        if (!applied) count_malformed("DELETED event without metadata.uid");
    } else if (type == "BOOKMARK") {
        // Only a resourceVersion: where to resume without replaying
        // everything since the list.
        std::string version = resource_version_of(*object);
        applied = !version.empty();
        if (applied)
            target_.bookmark(std::move(version));
        else
            count_malformed("BOOKMARK event without metadata.resourceVersion");
    } else {
        target_.update_stats([](ListWatchStats& stats) { ++stats.ignored_events; });
    }
    if (applied) watch_progressed_ = true;
    return true;
}

// The object is a Status. 410: our resourceVersion is older than the server
// keeps history for. Always ends the stream.
bool ListWatch::handle_error_event(const Json& status) {
    const Json* code = member(status, "code");
    const std::string message = string_member(status, "message");
    if (code && code->is_number_integer() && code->get<long>() == 410) {
        spdlog::info("{} watch: resourceVersion {} expired ({}); relisting", options_.resource,
                     target_.resource_version(), printable(message));
        watch_abort_ = Outcome::Gone;
        return false;
    }
    record_failure("WATCH " + options_.resource + ": ERROR event " +
                   (code && code->is_number() ? code->dump() + " " : std::string()) +
                   string_member(status, "reason") + ": " + printable(message) + "; relisting");
    watch_abort_ = Outcome::Relist;
    return false;
}

// --- failures --------------------------------------------------------------------

void ListWatch::record_failure(const std::string& message, spdlog::level::level_enum level) {
    target_.update_stats([&](ListWatchStats& stats) {
        ++stats.errors;
        stats.last_error = message;
    });
    log_.log(level, message);
}

void ListWatch::count_malformed(const std::string& what) {
    target_.update_stats([](ListWatchStats& stats) { ++stats.malformed_lines; });
    log_.log(spdlog::level::warn, "skipped a malformed watch line or list item: " + what, "malformed");
}

// --- the worker ------------------------------------------------------------------

// False when stopping.
bool ListWatch::sleep_unless_stopping(milliseconds delay) {
    std::unique_lock lock(sleep_mutex_);
    return !wake_.wait_for(lock, delay, [&] { return stopping_.load(std::memory_order_relaxed); });
}

// Up to a quarter shorter than asked: a thousand nodes that lost the API
// server together must not come back in lockstep.
milliseconds ListWatch::jittered(milliseconds delay) {
    const auto spread = delay.count() / 4;
    if (spread <= 0) return delay;
    return delay - milliseconds(std::uniform_int_distribution<int64_t>(0, spread)(jitter_));
}

ListWatch::Next ListWatch::after_watch(const WatchEnd& end, bool& need_list) {
    switch (end.outcome) {
    case Outcome::Stopped: return Next::Stop;
    case Outcome::Gone:
        target_.update_stats([](ListWatchStats& stats) { ++stats.relists_410; });
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

void ListWatch::run() {
    milliseconds backoff = options_.backoff_initial;
    bool need_list = true;
    while (!stopping_.load(std::memory_order_acquire)) {
        Next next = Next::Continue;
        const bool resumed = !need_list;
        if (need_list) {
            switch (list_all()) {
            case Outcome::Stopped: next = Next::Stop; break;
            case Outcome::Unauthorized: next = Next::WaitLong; break;
            case Outcome::Done: need_list = false; break;
            default: next = Next::BackOff; break;
            }
        }
        if (next == Next::Continue) {
            if (resumed) target_.update_stats([](ListWatchStats& stats) { ++stats.reconnects; });
            const WatchEnd end = watch_once();
            if (end.worked) backoff = options_.backoff_initial;
            next = after_watch(end, need_list);
        }
        if (next == Next::Stop) return;
        if (next == Next::WaitLong && !sleep_unless_stopping(jittered(options_.backoff_max))) return;
        if (next == Next::BackOff) {
            if (!sleep_unless_stopping(jittered(backoff))) return;
            backoff = std::min(backoff * 2, options_.backoff_max);
        }
    }
}

}  // namespace fnw
