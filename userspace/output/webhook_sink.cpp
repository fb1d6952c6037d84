// SPDX-License-Identifier: Apache-2.0
// WebhookSink: batches of events POSTed as JSON arrays (or one event per
// POST, as falcosidekick takes them), from a queue and a
// thread of its own (event_sinks.hpp says why). Kept apart from the other
// sinks: it is the only one that speaks HTTP (libcurl).
#include "output/event_sinks.hpp"

#include <algorithm>
#include <optional>
#include <string_view>
#include <utility>

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include "common/curl_handles.hpp"
#include "common/result.hpp"

namespace fnw {

using Clock = std::chrono::steady_clock;

namespace {

std::optional<std::string> url_part(CURLU* url, CURLUPart part) {
    char* raw = nullptr;
    if (curl_url_get(url, part, &raw, 0) != CURLUE_OK) return std::nullopt;
    CurlString owned(raw);
    return std::string(owned.get());
}

// The URL for log lines and name(): webhook URLs often carry a token in the
// user info or the query, and logs are read by more people than the config.
Result<std::string> redacted_http_url(const std::string& url) {
    CurlUrl parsed(curl_url());
    if (!parsed || curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK)
        return fail("webhook URL is not a valid URL");
    const auto scheme = url_part(parsed.get(), CURLUPART_SCHEME);
    const auto host = url_part(parsed.get(), CURLUPART_HOST);
    if (!scheme || (*scheme != "http" && *scheme != "https")) return fail("webhook URL must be http:// or https://");
    if (!host || host->empty()) return fail("webhook URL has no host");
    std::string shown = *scheme + "://" + *host;
    if (auto port = url_part(parsed.get(), CURLUPART_PORT)) shown += ":" + *port;
    if (auto path = url_part(parsed.get(), CURLUPART_PATH)) shown += *path;
    return shown;
}

// Whether sending the same body again can succeed: timeouts, throttling and
// server errors pass; any other 4xx (and a redirect, which is not followed)
// will be refused forever.
enum class HttpVerdict { Delivered, Retry, Rejected };

HttpVerdict classify_status(long status) {
    if (status >= 200 && status < 300) return HttpVerdict::Delivered;
    if (status == 408 || status == 429 || status >= 500 || status < 200) return HttpVerdict::Retry;
    return HttpVerdict::Rejected;
}

// A rejected batch's response body usually says what is wrong with it.
constexpr size_t kKeptResponseBytes = 256;

size_t keep_response_start(char* data, size_t size, size_t count, void* user) {
    auto* kept = static_cast<std::string*>(user);
    const size_t bytes = size * count;
    if (kept->size() < kKeptResponseBytes)
        kept->append(data, std::min(bytes, kKeptResponseBytes - kept->size()));
    return bytes;  // the rest is read and discarded, not an error
}

std::string printable_snippet(std::string text) {
    for (char& c : text)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = ' ';
    return text;
}

}  // namespace

struct WebhookSink::Impl {
    enum class Outcome { Delivered, Retry, Rejected, Aborted };

    Impl(WebhookOptions opts, std::string shown) : options(std::move(opts)), shown_url(std::move(shown)) {}

    ~Impl() {
        {
            std::lock_guard lock(mutex);
            shutdown_deadline = Clock::now() + options.shutdown_grace;
            stopping.store(true, std::memory_order_release);
        }
        wake.notify_all();
        // Interrupts curl_multi_poll() at once, however long the server hangs.
        if (multi) curl_multi_wakeup(multi.get());
        if (worker.joinable()) worker.join();
        const WebhookStats totals = snapshot();
        if (totals.dropped_events() > 0)
            spdlog::warn("webhook {}: {} events sent, {} dropped ({} queue full, {} after retries, {} rejected, {} at "
                         "shutdown)",
                         shown_url, totals.sent_events, totals.dropped_events(), totals.dropped_queue_full,
                         totals.dropped_after_retries, totals.dropped_rejected, totals.dropped_at_shutdown);
    }

    Status setup() {
        headers.reset(curl_slist_append(nullptr, "Content-Type: application/json"));
        // curl would otherwise send "Expect: 100-continue" for bodies over 1 KiB
        // and wait up to a second for a receiver that never answers it.
        if (headers) headers.reset(curl_slist_append(headers.release(), "Expect:"));
        multi.reset(curl_multi_init());
        easy.reset(curl_easy_init());
        if (!headers || !multi || !easy) return fail("libcurl initialisation failed");
        CURL* h = easy.get();
        CURLcode rc = CURLE_OK;
        auto set = [&](CURLoption option, auto value) {
            if (rc == CURLE_OK) rc = curl_easy_setopt(h, option, value);
        };
        set(CURLOPT_URL, options.url.c_str());
#if LIBCURL_VERSION_NUM >= 0x075500
        set(CURLOPT_PROTOCOLS_STR, "http,https");
        set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
        set(CURLOPT_PROTOCOLS, long(CURLPROTO_HTTP | CURLPROTO_HTTPS));
        set(CURLOPT_REDIR_PROTOCOLS, long(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
        set(CURLOPT_FOLLOWLOCATION, 0L);
        set(CURLOPT_HTTPHEADER, headers.get());
        set(CURLOPT_USERAGENT, "fnwarden");
        set(CURLOPT_TIMEOUT_MS, long(options.request_timeout.count()));
        set(CURLOPT_CONNECTTIMEOUT_MS, long(options.connect_timeout.count()));
        // Signals are the daemon's business (signalfd); curl must not raise
        // SIGALRM or SIGPIPE in a multi-threaded process.
        set(CURLOPT_NOSIGNAL, 1L);
        set(CURLOPT_WRITEFUNCTION, &keep_response_start);
        set(CURLOPT_WRITEDATA, &response_start);
        set(CURLOPT_ERRORBUFFER, curl_error);
#if LIBCURL_VERSION_NUM >= 0x075700
        // Removing a handle mid-resolve must not wait for a stuck DNS lookup.
        set(CURLOPT_QUICK_EXIT, 1L);
#endif
        if (rc != CURLE_OK) return fail(std::string("libcurl option: ") + curl_easy_strerror(rc));
        return {};
    }

    void enqueue(std::span<const std::string_view> lines) {
        std::lock_guard lock(mutex);
        const size_t room = options.queue_capacity_events - std::min(queue.size(), options.queue_capacity_events);
        const size_t accepted = std::min(room, lines.size());
        if (queue.empty() && accepted > 0) oldest_queued = Clock::now();
        queue.insert(queue.end(), lines.begin(), lines.begin() + static_cast<ptrdiff_t>(accepted));
        if (const uint64_t refused = lines.size() - accepted; refused > 0) {
            const uint64_t dropped = dropped_queue_full.fetch_add(refused, std::memory_order_relaxed) + refused;
            if (queue_full_warnings.allow())
                spdlog::warn("webhook {}: queue full, {} events dropped so far (receiver too slow or down)",
                             shown_url, dropped);
        }
        if (accepted > 0) wake.notify_one();
    }

    void run() {
        std::vector<std::string> batch;
        while (next_batch(batch)) deliver(batch);
    }

    // Waits for a full batch, or for the oldest event to have waited a
    // flush interval. False when stopping and nothing is left to send.
    bool next_batch(std::vector<std::string>& batch) {
        batch.clear();
        std::unique_lock lock(mutex);
        for (;;) {
            if (stopping.load(std::memory_order_relaxed)) {
                if (queue.empty()) return false;
                if (Clock::now() >= shutdown_deadline) {
                    dropped_at_shutdown.fetch_add(queue.size(), std::memory_order_relaxed);
                    queue.clear();
                    return false;
                }
                break;  // the last events go out now, without waiting for company
            }
            if (queue.size() >= options.batch_max_events) break;
            if (queue.empty()) {
                wake.wait(lock);
                continue;
            }
            const auto due = oldest_queued + options.flush_interval;
            if (Clock::now() >= due) break;
            wake.wait_until(lock, due);
        }
        const size_t count = std::min(queue.size(), options.batch_max_events);
        batch.assign(std::make_move_iterator(queue.begin()),
                     std::make_move_iterator(queue.begin() + static_cast<ptrdiff_t>(count)));
        queue.erase(queue.begin(), queue.begin() + static_cast<ptrdiff_t>(count));
        // oldest_queued stays: the leftovers arrived while this batch was
        // waiting, so they are already late.
        return true;
    }

    void deliver(std::span<const std::string> batch) {
        body.clear();
        if (options.one_event_per_request) {
            body = batch.front();  // batches are of one event then (create())
        } else {
            body += '[';
            for (size_t i = 0; i < batch.size(); ++i) {
                if (i) body += ',';
                body += batch[i];
            }
            body += ']';
        }

        const uint64_t events = batch.size();
        auto backoff = options.backoff_initial;
        for (unsigned attempt = 0;; ++attempt) {
            std::string failure;
            switch (post_body(&failure)) {
            case Outcome::Delivered:
                sent_events.fetch_add(events, std::memory_order_relaxed);
                sent_batches.fetch_add(1, std::memory_order_relaxed);
                return;
            case Outcome::Aborted:
                dropped_at_shutdown.fetch_add(events, std::memory_order_relaxed);
                return;
            case Outcome::Rejected:
                failed_attempts.fetch_add(1, std::memory_order_relaxed);
                dropped_rejected.fetch_add(events, std::memory_order_relaxed);
                warn_failure(failure + ", not retried");
                return;
            case Outcome::Retry:
                failed_attempts.fetch_add(1, std::memory_order_relaxed);
                break;
            }
            if (attempt >= options.max_retries) {
                dropped_after_retries.fetch_add(events, std::memory_order_relaxed);
                warn_failure(failure + ", giving up after " + std::to_string(attempt + 1) + " attempts");
                return;
            }
            warn_failure(failure + ", will retry");
            if (!sleep_unless_stopping(backoff)) {
                dropped_at_shutdown.fetch_add(events, std::memory_order_relaxed);
                return;
            }
            backoff = std::min(backoff * 2, options.backoff_max);
        }
    }

    bool sleep_unless_stopping(std::chrono::milliseconds delay) {
        std::unique_lock lock(mutex);
        return !wake.wait_for(lock, delay, [&] { return stopping.load(std::memory_order_relaxed); });
    }

    bool past_shutdown_deadline() const {
        // shutdown_deadline is written before stopping is released.
        return stopping.load(std::memory_order_acquire) && Clock::now() >= shutdown_deadline;
    }

    int poll_timeout_ms() const {
        // Without a stop pending, curl shortens this to its own timers.
        if (!stopping.load(std::memory_order_acquire)) return 1000;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(shutdown_deadline - Clock::now());
        return static_cast<int>(std::clamp<int64_t>(left.count() + 1, 0, 1000));
    }

    // One attempt. The multi interface rather than curl_easy_perform(): its
    // poll can be woken from the destructor, so a hanging receiver is dropped
    // the moment the shutdown grace runs out, not at the next progress tick.
    Outcome post_body(std::string* failure) {
        CURL* h = easy.get();
        CURLM* m = multi.get();
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
        curl_error[0] = '\0';
        response_start.clear();

        if (CURLMcode mc = curl_multi_add_handle(m, h); mc != CURLM_OK) {
            *failure = std::string("libcurl: ") + curl_multi_strerror(mc);
            return Outcome::Retry;
        }
        std::optional<CURLcode> result;
        CURLMcode multi_error = CURLM_OK;
        for (;;) {
            int running = 0;
            multi_error = curl_multi_perform(m, &running);
            if (multi_error != CURLM_OK || running == 0) break;
            if (past_shutdown_deadline()) {
                curl_multi_remove_handle(m, h);
                return Outcome::Aborted;
            }
            multi_error = curl_multi_poll(m, nullptr, 0, poll_timeout_ms(), nullptr);
            if (multi_error != CURLM_OK) break;
        }
        int left = 0;
        while (CURLMsg* msg = curl_multi_info_read(m, &left))
            if (msg->msg == CURLMSG_DONE && msg->easy_handle == h) result = msg->data.result;
        curl_multi_remove_handle(m, h);

        if (!result) {
            *failure = std::string("libcurl: ") + curl_multi_strerror(multi_error);
            return Outcome::Retry;
        }
        if (*result != CURLE_OK) {
            *failure = curl_error[0] ? curl_error : curl_easy_strerror(*result);
            return Outcome::Retry;
        }
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        switch (classify_status(status)) {
        case HttpVerdict::Delivered: return Outcome::Delivered;
        case HttpVerdict::Retry: *failure = "HTTP " + std::to_string(status); return Outcome::Retry;
        case HttpVerdict::Rejected:
            *failure = "HTTP " + std::to_string(status);
            if (!response_start.empty()) *failure += " (" + printable_snippet(response_start) + ")";
            return Outcome::Rejected;
        }
        return Outcome::Retry;
    }

    void warn_failure(const std::string& what) {
        uint64_t suppressed = 0;
        if (!failure_warnings.allow(&suppressed)) return;
        const WebhookStats totals = snapshot();
        spdlog::warn("webhook {}: {}; so far {} failed attempts, {} events dropped{}", shown_url, what,
                     totals.failed_attempts, totals.dropped_events(),
                     suppressed ? " (" + std::to_string(suppressed) + " similar warnings suppressed)" : "");
    }

    WebhookStats snapshot() const {
        WebhookStats s;
        s.sent_events = sent_events.load(std::memory_order_relaxed);
        s.sent_batches = sent_batches.load(std::memory_order_relaxed);
        s.failed_attempts = failed_attempts.load(std::memory_order_relaxed);
        s.dropped_queue_full = dropped_queue_full.load(std::memory_order_relaxed);
        s.dropped_after_retries = dropped_after_retries.load(std::memory_order_relaxed);
        s.dropped_rejected = dropped_rejected.load(std::memory_order_relaxed);
        s.dropped_at_shutdown = dropped_at_shutdown.load(std::memory_order_relaxed);
        return s;
    }

    const WebhookOptions options;
    const std::string shown_url;

    // Declared before the easy handle, which points at them until it is gone.
    CurlSlist headers;
    std::string response_start;
    char curl_error[CURL_ERROR_SIZE] = {};
    CurlMulti multi;
    CurlEasy easy;
    std::string body;  // reused between batches; curl reads it in place

    std::mutex mutex;
    std::condition_variable wake;
    std::deque<std::string> queue;
    Clock::time_point oldest_queued{};
    Clock::time_point shutdown_deadline{};
    std::atomic<bool> stopping{false};
    WarningThrottle queue_full_warnings;  // under mutex
    WarningThrottle failure_warnings;     // worker thread only

    std::atomic<uint64_t> sent_events{0};
    std::atomic<uint64_t> sent_batches{0};
    std::atomic<uint64_t> failed_attempts{0};
    std::atomic<uint64_t> dropped_queue_full{0};
    std::atomic<uint64_t> dropped_after_retries{0};
    std::atomic<uint64_t> dropped_rejected{0};
    std::atomic<uint64_t> dropped_at_shutdown{0};

    std::thread worker;  // joined in ~Impl before anything above goes away
};

Result<std::unique_ptr<WebhookSink>> WebhookSink::create(WebhookOptions options) {
    if (!curl_ready()) return fail("libcurl global initialisation failed");
    Result<std::string> shown = redacted_http_url(options.url);
    if (!shown) return fail(shown.error());
    options.batch_max_events = options.one_event_per_request ? 1 : std::max<size_t>(options.batch_max_events, 1);
    options.queue_capacity_events = std::max<size_t>(options.queue_capacity_events, 1);
    options.backoff_max = std::max(options.backoff_max, options.backoff_initial);

    auto impl = std::make_unique<Impl>(std::move(options), std::move(*shown));
    if (Status ready = impl->setup(); !ready) return fail(ready.error());
    impl->worker = std::thread([raw = impl.get()] { raw->run(); });
    return std::unique_ptr<WebhookSink>(new WebhookSink(std::move(impl)));
}

WebhookSink::WebhookSink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WebhookSink::~WebhookSink() = default;

void WebhookSink::write_lines(std::span<const std::string_view> lines) { impl_->enqueue(lines); }

std::string WebhookSink::name() const { return "webhook " + impl_->shown_url; }

WebhookStats WebhookSink::stats() const {
    WebhookStats s = impl_->snapshot();
    std::lock_guard lock(impl_->mutex);
    s.queued = impl_->queue.size();
    return s;
}

}  // namespace fnw
