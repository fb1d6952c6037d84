#include "k8s/pod_watcher.hpp"

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <utility>

#include <curl/curl.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/curl_handles.hpp"

namespace fnw {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;
using std::chrono::milliseconds;

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
constexpr size_t kMaxTokenBytes = 64 * 1024;
// A server that ignores timeoutSeconds still has its watch ended this much later.
constexpr unsigned kWatchClientGraceSeconds = 60;
// A continue token can expire mid-list (410); the list starts over, a few times.
constexpr int kMaxListRestarts = 3;
constexpr auto kStreamLifeThatWorked = std::chrono::seconds(10);

std::string_view trim(std::string_view text) {
    constexpr std::string_view kSpace = " \t\r\n";
    const size_t first = text.find_first_not_of(kSpace);
    if (first == std::string_view::npos) return {};
    return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

std::string printable(std::string_view text, size_t max_chars = 200) {
    std::string shown(text.substr(0, max_chars));
    for (char& c : shown)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = ' ';
    if (text.size() > max_chars) shown += "...";
    return shown;
}

bool readable(const std::string& path) { return std::ifstream(path).good(); }

// --- JSON accessors that never throw ----------------------------------------

const Json* member(const Json& object, const char* key) {
    if (!object.is_object()) return nullptr;
    const auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
}

std::string string_member(const Json& object, const char* key) {
    const Json* value = member(object, key);
    return value && value->is_string() ? value->get<std::string>() : std::string();
}

std::string resource_version_of(const Json& object) {
    const Json* metadata = member(object, "metadata");
    return metadata ? string_member(*metadata, "resourceVersion") : std::string();
}

// "containerd://0123..." -> "0123...": the cgroup path carries the bare id.
std::string without_runtime_prefix(std::string_view container_id) {
    const size_t scheme_end = container_id.find("://");
    return std::string(scheme_end == std::string_view::npos ? container_id : container_id.substr(scheme_end + 3));
}

// nullopt when the object has no metadata.uid: nothing could find it again.
std::optional<PodInfo> pod_from_json(const Json& pod, const FunctionLabelKeys& function_labels) {
    const Json* metadata = member(pod, "metadata");
    if (!metadata) return std::nullopt;
    PodInfo info;
    info.uid = string_member(*metadata, "uid");
    if (info.uid.empty()) return std::nullopt;
    info.namespace_ = string_member(*metadata, "namespace");
    info.name = string_member(*metadata, "name");
    if (const Json* labels = member(*metadata, "labels"); labels && labels->is_object())
        for (const auto& [key, value] : labels->items())
            if (value.is_string()) info.labels.emplace(key, value.get<std::string>());
    if (const Json* spec = member(pod, "spec")) info.node = string_member(*spec, "nodeName");
    if (const Json* status = member(pod, "status")) {
        for (const char* list : {"containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"}) {
            const Json* statuses = member(*status, list);
            if (!statuses || !statuses->is_array()) continue;
            for (const Json& container : *statuses) {
                std::string id = without_runtime_prefix(string_member(container, "containerID"));
                if (!id.empty()) info.container_ids.push_back(std::move(id));
            }
        }
    }
    info.function = function_labels.function_of(info.labels);
    return info;
}

// The message of a Status object (the body of every API error), else the
// start of whatever the body is (a proxy's HTML page, say).
std::string status_message(std::string_view body) {
    const Json status = Json::parse(body.begin(), body.end(), nullptr, false);
    if (!status.is_discarded()) {
        if (std::string message = string_member(status, "message"); !message.empty()) return printable(message);
    }
    return printable(trim(body));
}

// The same failure repeats at every retry, and a broken stream repeats the
// same kind of bad line: once per interval per key is enough, with a count.
// The key is the message itself for failures (a new failure is news, logged
// at once) and a fixed word for floods of lines that each differ.
class FailureLog {
public:
    void log(spdlog::level::level_enum level, const std::string& message, const std::string& key = "") {
        const auto now = Clock::now();
        // Keys that embed changing details cannot grow this without bound.
        if (recent_.size() > kMaxKeys) recent_.clear();
        Recent& recent = recent_[key.empty() ? message : key];
        if (recent.logged_once && now - recent.last_logged < kInterval) {
            ++recent.suppressed;
            return;
        }
        if (recent.suppressed > 0)
            spdlog::log(level, "pod watcher: {} ({} similar suppressed)", message, recent.suppressed);
        else
            spdlog::log(level, "pod watcher: {}", message);
        recent = {true, now, 0};
    }

private:
    struct Recent {
        bool logged_once = false;
        Clock::time_point last_logged{};
        uint64_t suppressed = 0;
    };
    static constexpr auto kInterval = std::chrono::seconds(30);
    static constexpr size_t kMaxKeys = 64;
    std::map<std::string, Recent> recent_;
};

struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};
template <typename Value>
using StringMap = std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;

}  // namespace

struct PodWatcher::Impl {
    enum class RequestKind { List, Watch };

    // How a LIST or a WATCH ended, and so what comes next.
    enum class Outcome {
        Done,          // LIST complete / WATCH ended cleanly or dropped: resume
        Gone,          // resourceVersion too old (410): relist
        Relist,        // the stream cannot be trusted (ERROR event, oversized line)
        Unauthorized,  // 401/403: wait long
        Failed,        // transport error, 5xx, 429, ...: back off, retry the same step
        Stopped,
    };

    struct Response {
        long status = 0;
        CURLcode result = CURLE_OK;
        bool stopped = false;
        std::string transport_error;  // set when result != CURLE_OK
    };

    using Changes = std::vector<std::pair<PodInfo, PodEvent>>;

    Impl(KubeEndpoint ep, PodWatcherOptions opts) : endpoint(std::move(ep)), options(std::move(opts)) {
        std::random_device seed;
        jitter.seed(seed());
    }

    ~Impl() {
        {
            std::lock_guard lock(sleep_mutex);
            stopping.store(true, std::memory_order_release);
        }
        wake.notify_all();
        // Interrupts curl_multi_poll() at once, however idle the watch is.
        if (multi) curl_multi_wakeup(multi.get());
        if (worker.joinable()) worker.join();
    }

    // --- setup ---------------------------------------------------------------

    bool setup(std::string* error) {
        multi.reset(curl_multi_init());
        easy.reset(curl_easy_init());
        if (!multi || !easy) {
            *error = "libcurl initialisation failed";
            return false;
        }
        if (!build_urls(error)) return false;

        CURL* h = easy.get();
        CURLcode rc = CURLE_OK;
        const char* blob_option = nullptr;  // names the option when a blob is refused
        auto set = [&](CURLoption option, auto value) {
            if (rc == CURLE_OK) rc = curl_easy_setopt(h, option, value);
        };
        // In-memory PEM: libcurl copies it (CURL_BLOB_COPY), so nothing is
        // written to disk and the endpoint's strings may go away.
        auto set_blob = [&](CURLoption option, const char* name, const std::string& pem) {
            if (rc != CURLE_OK) return;
            curl_blob blob{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
            rc = curl_easy_setopt(h, option, &blob);
            if (rc != CURLE_OK) blob_option = name;
        };
#if LIBCURL_VERSION_NUM >= 0x075500
        set(CURLOPT_PROTOCOLS_STR, "http,https");
#else
        set(CURLOPT_PROTOCOLS, long(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
        // The API server never redirects a pod list; a redirect would carry
        // our token to wherever it points.
        set(CURLOPT_FOLLOWLOCATION, 0L);
        set(CURLOPT_USERAGENT, "fnwarden");
        set(CURLOPT_CONNECTTIMEOUT_MS, long(options.connect_timeout.count()));
        // Signals are the daemon's business (signalfd); curl must not raise
        // SIGALRM or SIGPIPE in a multi-threaded process.
        set(CURLOPT_NOSIGNAL, 1L);
        // A watch is idle for minutes: keepalive probes notice a peer that
        // vanished (node partition, load balancer restart) long before the
        // watch timeout would.
        set(CURLOPT_TCP_KEEPALIVE, 1L);
        set(CURLOPT_TCP_KEEPIDLE, 30L);
        set(CURLOPT_TCP_KEEPINTVL, 10L);
        set(CURLOPT_WRITEFUNCTION, &Impl::on_data);
        set(CURLOPT_WRITEDATA, this);
        set(CURLOPT_ERRORBUFFER, curl_error);
#if LIBCURL_VERSION_NUM >= 0x075700
        set(CURLOPT_QUICK_EXIT, 1L);
#endif
        if (endpoint.insecure_skip_tls_verify) {
            set(CURLOPT_SSL_VERIFYPEER, 0L);
            set(CURLOPT_SSL_VERIFYHOST, 0L);
        } else if (!endpoint.ca_pem.empty() || !endpoint.ca_file.empty()) {
            // The cluster CA alone, as client-go does: the distribution's
            // CA directory would otherwise also vouch for the API server.
            set(CURLOPT_CAPATH, static_cast<const char*>(nullptr));
            if (!endpoint.ca_pem.empty())
                set_blob(CURLOPT_CAINFO_BLOB, "CURLOPT_CAINFO_BLOB", endpoint.ca_pem);
            else
                set(CURLOPT_CAINFO, endpoint.ca_file.c_str());
        }
        if (!endpoint.client_cert_pem.empty()) {
            set_blob(CURLOPT_SSLCERT_BLOB, "CURLOPT_SSLCERT_BLOB", endpoint.client_cert_pem);
            set(CURLOPT_SSLCERTTYPE, "PEM");
        } else if (!endpoint.client_cert_file.empty()) {
            set(CURLOPT_SSLCERT, endpoint.client_cert_file.c_str());
        }
        if (!endpoint.client_key_pem.empty()) {
            set_blob(CURLOPT_SSLKEY_BLOB, "CURLOPT_SSLKEY_BLOB", endpoint.client_key_pem);
            set(CURLOPT_SSLKEYTYPE, "PEM");
        } else if (!endpoint.client_key_file.empty()) {
            set(CURLOPT_SSLKEY, endpoint.client_key_file.c_str());
        }
        if (rc != CURLE_OK) {
            *error = std::string("libcurl option: ") + curl_easy_strerror(rc);
            if (blob_option)
                *error += std::string(" (") + blob_option +
                          ": this libcurl cannot take certificates from memory; give certificate files instead)";
            return false;
        }
        return true;
    }

    std::string escape(std::string_view text) const {
        CurlString escaped(curl_easy_escape(easy.get(), text.data(), static_cast<int>(text.size())));
        return escaped ? std::string(escaped.get()) : std::string();
    }

    bool build_urls(std::string* error) {
        CurlUrl parsed(curl_url());
        if (!parsed || curl_url_set(parsed.get(), CURLUPART_URL, endpoint.server.c_str(), 0) != CURLUE_OK) {
            *error = "API server URL " + printable(endpoint.server) + " is not a valid URL";
            return false;
        }
        char* raw = nullptr;
        std::string scheme;
        if (curl_url_get(parsed.get(), CURLUPART_SCHEME, &raw, 0) == CURLUE_OK) scheme = CurlString(raw).get();
        if (scheme != "http" && scheme != "https") {
            *error = "API server URL must be https:// (or http:// for a local proxy), not " +
                     printable(endpoint.server);
            return false;
        }
        // A query or fragment would end up in the middle of every request URL.
        if (endpoint.server.find_first_of("?#") != std::string::npos) {
            *error = "API server URL must not have a query or fragment: " + printable(endpoint.server);
            return false;
        }
        if (scheme == "http" && (!endpoint.bearer_token.empty() || !endpoint.token_file.empty()))
            spdlog::warn("pod watcher: the API server {} is plain http: the bearer token travels unencrypted",
                         endpoint.server);
        std::string base = endpoint.server;
        while (base.ends_with('/')) base.pop_back();
        pods_url = base + "/api/v1/pods?fieldSelector=" + escape("spec.nodeName=" + options.node_name);
        return true;
    }

    std::string list_url(const std::string& continue_token) const {
        std::string url = pods_url + "&limit=" + std::to_string(options.list_page_size);
        if (!continue_token.empty()) url += "&continue=" + escape(continue_token);
        return url;
    }

    std::string watch_url() const {
        return pods_url + "&watch=1&allowWatchBookmarks=true&resourceVersion=" + escape(resource_version) +
               "&timeoutSeconds=" + std::to_string(options.watch_timeout_seconds);
    }

    // --- credentials -----------------------------------------------------------

    // Read at every request: the kubelet rewrites a projected token before
    // it expires, and a process that kept the first one would be locked out
    // an hour later. A failed read keeps the last good token, as client-go.
    std::string current_token() {
        if (endpoint.token_file.empty()) return endpoint.bearer_token;
        std::ifstream in(endpoint.token_file, std::ios::binary);
        std::string text;
        if (in) {
            text.resize(kMaxTokenBytes + 1);
            in.read(text.data(), static_cast<std::streamsize>(text.size()));
            text.resize(static_cast<size_t>(in.gcount()));
        }
        const std::string token(trim(text));
        std::string problem;
        if (!in && !in.eof())
            problem = std::strerror(errno);
        else if (token.empty())
            problem = "empty";
        else if (text.size() > kMaxTokenBytes)
            problem = "too large";
        else if (token.find_first_of("\r\n") != std::string::npos)
            problem = "holds more than one line";  // would inject a header
        if (problem.empty()) {
            last_good_token = token;
            return token;
        }
        failure_log.log(spdlog::level::warn,
                        "token file " + endpoint.token_file + ": " + problem +
                            (last_good_token.empty() ? "" : "; using the last token read"),
                        "token");
        return last_good_token.empty() ? endpoint.bearer_token : last_good_token;
    }

    CurlSlist request_headers() {
        CurlSlist headers(curl_slist_append(nullptr, "Accept: application/json"));
        // Appending to a non-empty list keeps its head; nullptr means it failed.
        if (const std::string token = current_token(); headers && !token.empty())
            if (!curl_slist_append(headers.get(), ("Authorization: Bearer " + token).c_str())) return nullptr;
        return headers;
    }

    // --- transfers -------------------------------------------------------------

    static size_t on_data(char* data, size_t size, size_t count, void* user) {
        const size_t bytes = size * count;
        auto* self = static_cast<Impl*>(user);
        // 0 makes libcurl abort the transfer (CURLE_WRITE_ERROR). Nothing may
        // unwind through libcurl's C frames, not even bad_alloc.
        try {
            return self->accept(std::string_view(data, bytes)) ? bytes : 0;
        } catch (const std::exception& e) {
            self->record_failure(std::string("reading the response: ") + e.what());
        } catch (...) {
            self->record_failure("reading the response: unknown exception");
        }
        if (self->request_kind == RequestKind::Watch) self->watch_abort = Outcome::Relist;
        return 0;
    }

    bool accept(std::string_view data) {
        if (stopping.load(std::memory_order_acquire)) return false;
        if (response_status == 0) curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &response_status);
        if (request_kind == RequestKind::Watch && response_status == 200) return accept_watch_bytes(data);
        // A LIST page, or the Status object of an error.
        const size_t limit = response_status == 200 ? options.max_list_page_bytes : kMaxErrorBodyBytes;
        if (body.size() + data.size() > limit) {
            if (response_status != 200) {
                body.append(data.substr(0, limit - body.size()));
                return true;
            }
            body_too_large = true;
            return false;
        }
        body.append(data);
        return true;
    }

    // The multi interface rather than curl_easy_perform(): its poll can be
    // woken from the destructor, so an idle watch ends at once.
    Response perform(const std::string& url, RequestKind kind) {
        Response response;
        CURL* h = easy.get();
        CURLM* m = multi.get();
        headers = request_headers();
        if (!headers) {
            response.result = CURLE_OUT_OF_MEMORY;
            response.transport_error = "out of memory building request headers";
            return response;
        }
        const milliseconds timeout =
            kind == RequestKind::List
                ? options.list_timeout
                : milliseconds(1000LL * (options.watch_timeout_seconds + kWatchClientGraceSeconds));
        curl_easy_setopt(h, CURLOPT_URL, url.c_str());
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, long(timeout.count()));
        // A pod list is mostly repeated keys: gzip shrinks it tenfold. A
        // watch must not be compressed: a compressor (here, or in a proxy on
        // the way) holds events back until its buffer fills, which on a
        // quiet node can be minutes.
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, kind == RequestKind::List ? "" : nullptr);
        request_kind = kind;
        response_status = 0;
        body.clear();
        body_too_large = false;
        curl_error[0] = '\0';

        if (CURLMcode mc = curl_multi_add_handle(m, h); mc != CURLM_OK) {
            response.result = CURLE_FAILED_INIT;
            response.transport_error = std::string("libcurl: ") + curl_multi_strerror(mc);
            return response;
        }
        std::optional<CURLcode> result;
        CURLMcode multi_error = CURLM_OK;
        for (;;) {
            if (stopping.load(std::memory_order_acquire)) {
                response.stopped = true;
                break;
            }
            int running = 0;
            multi_error = curl_multi_perform(m, &running);
            if (multi_error != CURLM_OK || running == 0) break;
            multi_error = curl_multi_poll(m, nullptr, 0, 1000, nullptr);
            if (multi_error != CURLM_OK) break;
        }
        int left = 0;
        while (CURLMsg* message = curl_multi_info_read(m, &left))
            if (message->msg == CURLMSG_DONE && message->easy_handle == h) result = message->data.result;
        curl_multi_remove_handle(m, h);
        if (stopping.load(std::memory_order_acquire)) response.stopped = true;

        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
        if (!result) {
            response.result = CURLE_FAILED_INIT;
            response.transport_error = std::string("libcurl: ") + curl_multi_strerror(multi_error);
        } else if (*result != CURLE_OK) {
            response.result = *result;
            response.transport_error = curl_error[0] ? curl_error : curl_easy_strerror(*result);
        }
        return response;
    }

    // --- LIST ----------------------------------------------------------------

    Outcome list_all() {
        StringMap<PodInfo> listed;
        uint64_t refused = 0;
        std::string continue_token, listed_version;
        int restarts = 0;
        for (;;) {
            const Response response = perform(list_url(continue_token), RequestKind::List);
            if (response.stopped) return Outcome::Stopped;
            if (body_too_large) {
                record_failure("LIST pods: a page is larger than " + std::to_string(options.max_list_page_bytes) +
                               " bytes (max_list_page_bytes)");
                return Outcome::Failed;
            }
            if (response.result != CURLE_OK && response.status == 0) {
                record_failure("LIST pods from " + endpoint.server + ": " + response.transport_error);
                return Outcome::Failed;
            }
            if (response.status == 410 && !continue_token.empty() && restarts < kMaxListRestarts) {
                // The continue token outlived the server's compaction window:
                // the pages so far are from a snapshot that is gone.
                ++restarts;
                listed.clear();
                refused = 0;
                continue_token.clear();
                continue;
            }
            if (response.status != 200) return http_failure("LIST", response);
            if (response.result != CURLE_OK) {
                record_failure("LIST pods: " + response.transport_error);
                return Outcome::Failed;
            }

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
                    if (listed.size() >= options.max_pods && !listed.contains(pod->uid)) {
                        ++refused;
                        continue;
                    }
                    std::string uid = pod->uid;
                    listed.insert_or_assign(std::move(uid), std::move(*pod));
                }
            }
            listed_version = string_member(*metadata, "resourceVersion");
            continue_token = string_member(*metadata, "continue");
            if (continue_token.empty()) break;
        }
        if (listed_version.empty()) {
            record_failure("LIST pods: the response has no metadata.resourceVersion to watch from");
            return Outcome::Failed;
        }
        if (refused > 0)
            failure_log.log(spdlog::level::warn, "the pod list holds more than " + std::to_string(options.max_pods) +
                                                     " pods (max_pods): " + std::to_string(refused) + " left out");
        replace_snapshot(std::move(listed), std::move(listed_version), refused);
        return Outcome::Done;
    }

    void release_body() {
        body.clear();
        // One large list must not pin its buffer for the rest of the run.
        if (body.capacity() > kMaxErrorBodyBytes) std::string().swap(body);
    }

    Outcome http_failure(const char* verb, const Response& response) {
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

    // --- WATCH ---------------------------------------------------------------

    struct WatchEnd {
        Outcome outcome;
        // An event arrived, or the stream stayed up a while: the API server
        // is fine, so the next failure starts from the shortest backoff.
        bool worked;
    };

    WatchEnd watch_once() {
        {
            std::lock_guard lock(state_mutex);
            ++stats.watches;
        }
        watch_abort = Outcome::Done;
        watch_progressed = false;
        line_buffer.clear();
        const auto started = Clock::now();
        const Response response = perform(watch_url(), RequestKind::Watch);
        line_buffer.clear();
        if (line_buffer.capacity() > kMaxErrorBodyBytes) std::string().swap(line_buffer);
        // A quiet node without bookmarks (older API servers) sees no event
        // for the whole timeoutSeconds; that stream worked all the same.
        const bool worked =
            watch_progressed || (response.status == 200 && Clock::now() - started >= kStreamLifeThatWorked);

        if (response.stopped) return {Outcome::Stopped, worked};
        if (watch_abort != Outcome::Done) return {watch_abort, worked};
        if (response.status == 0) {
            record_failure("WATCH pods from " + endpoint.server + ": " + response.transport_error);
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
        {
            std::lock_guard lock(state_mutex);
            ++stats.malformed_lines;
        }
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
        if (type == "ADDED" || type == "MODIFIED") {
            std::optional<PodInfo> pod = pod_from_json(*object, options.function_labels);
            if (!pod) {
                count_malformed(type + " event without metadata.uid");
                return true;
            }
            apply_upsert(std::move(*pod), resource_version_of(*object));
        } else if (type == "DELETED") {
            const Json* metadata = member(*object, "metadata");
            const std::string uid = metadata ? string_member(*metadata, "uid") : std::string();
            if (uid.empty()) {
                count_malformed("DELETED event without metadata.uid");
                return true;
            }
            apply_delete(uid, resource_version_of(*object));
        } else if (type == "BOOKMARK") {
            // Only a resourceVersion: where to resume without replaying
            // everything since the list.
            std::string version = resource_version_of(*object);
            if (version.empty()) {
                count_malformed("BOOKMARK event without metadata.resourceVersion");
                return true;
            }
            std::lock_guard lock(state_mutex);
            resource_version = std::move(version);
            stats.resource_version = resource_version;
            ++stats.events;
        } else if (type == "ERROR") {
            // The object is a Status. 410: our resourceVersion is older than
            // the server keeps history for.
            const Json* code = member(*object, "code");
            const std::string message = string_member(*object, "message");
            if (code && code->is_number_integer() && code->get<long>() == 410) {
                spdlog::info("pod watcher: resourceVersion {} expired ({}); relisting", resource_version,
                             printable(message));
                watch_abort = Outcome::Gone;
                return false;
            }
            record_failure("WATCH pods: ERROR event " +
                           (code && code->is_number() ? code->dump() + " " : std::string()) +
                           string_member(*object, "reason") + ": " + printable(message) + "; relisting");
            watch_abort = Outcome::Relist;
            return false;
        } else {
            std::lock_guard lock(state_mutex);
            ++stats.ignored_events;
            return true;
        }
        watch_progressed = true;
        return true;
    }

    // --- snapshot ------------------------------------------------------------

    void index_containers(const PodInfo& pod) {
        for (const std::string& id : pod.container_ids) uid_by_container.insert_or_assign(id, pod.uid);
    }
    void unindex_containers(const PodInfo& pod) {
        for (const std::string& id : pod.container_ids)
            if (auto it = uid_by_container.find(id); it != uid_by_container.end() && it->second == pod.uid)
                uid_by_container.erase(it);
    }

    void note_version_locked(std::string version) {
        ++stats.events;
        if (version.empty()) return;
        resource_version = std::move(version);
        stats.resource_version = resource_version;
    }

    void apply_upsert(PodInfo pod, std::string version) {
        Changes changes;
        bool refused = false;
        {
            std::lock_guard lock(state_mutex);
            note_version_locked(std::move(version));
            auto it = pods_by_uid.find(pod.uid);
            if (it == pods_by_uid.end()) {
                if (pods_by_uid.size() >= options.max_pods) {
                    ++stats.pods_refused;
                    refused = true;
                } else {
                    index_containers(pod);
                    if (options.on_change) changes.emplace_back(pod, PodEvent::Added);
                    std::string uid = pod.uid;
                    pods_by_uid.emplace(std::move(uid), std::move(pod));
                }
            } else if (!(it->second == pod)) {
                unindex_containers(it->second);
                index_containers(pod);
                if (options.on_change) changes.emplace_back(pod, PodEvent::Modified);
                it->second = std::move(pod);
            }
            stats.pods = pods_by_uid.size();
        }
        if (refused)
            failure_log.log(spdlog::level::warn, "more than " + std::to_string(options.max_pods) +
                                                     " pods (max_pods): new pods are not tracked",
                            "max_pods");
        notify(changes);
    }

    void apply_delete(const std::string& uid, std::string version) {
        Changes changes;
        {
            std::lock_guard lock(state_mutex);
            note_version_locked(std::move(version));
            if (auto it = pods_by_uid.find(uid); it != pods_by_uid.end()) {
                unindex_containers(it->second);
                if (options.on_change) changes.emplace_back(std::move(it->second), PodEvent::Deleted);
                pods_by_uid.erase(it);
            }
            stats.pods = pods_by_uid.size();
        }
        notify(changes);
    }

    // A relist reports what changed since the old snapshot, so a listener
    // sees the same sequence of states it would have seen from the watch.
    void replace_snapshot(StringMap<PodInfo> listed, std::string version, uint64_t refused) {
        Changes changes;
        bool first_sync = false;
        size_t count = 0;
        {
            std::lock_guard lock(state_mutex);
            if (options.on_change) {
                for (auto& [uid, old] : pods_by_uid)
                    if (!listed.contains(uid)) changes.emplace_back(old, PodEvent::Deleted);
                for (const auto& [uid, pod] : listed) {
                    const auto old = pods_by_uid.find(uid);
                    if (old == pods_by_uid.end())
                        changes.emplace_back(pod, PodEvent::Added);
                    else if (!(old->second == pod))
                        changes.emplace_back(pod, PodEvent::Modified);
                }
            }
            pods_by_uid = std::move(listed);
            uid_by_container.clear();
            for (const auto& [uid, pod] : pods_by_uid) index_containers(pod);
            resource_version = std::move(version);
            stats.resource_version = resource_version;
            stats.pods = count = pods_by_uid.size();
            stats.pods_refused += refused;
            ++stats.lists;
            first_sync = !synced_flag;
            synced_flag = true;
        }
        if (first_sync)
            spdlog::info("pod watcher: {} pods on node {} (resourceVersion {})", count, options.node_name,
                         resource_version);
        notify(changes);
    }

    void notify(const Changes& changes) {
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
        {
            std::lock_guard lock(state_mutex);
            ++stats.errors;
            stats.last_error = message;
        }
        failure_log.log(level, message);
    }

    void count_malformed(const std::string& what) {
        {
            std::lock_guard lock(state_mutex);
            ++stats.malformed_lines;
        }
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

    void run() {
        milliseconds backoff = options.backoff_initial;
        auto back_off = [&] {
            const bool awake = sleep_unless_stopping(jittered(backoff));
            backoff = std::min(backoff * 2, options.backoff_max);
            return awake;
        };
        bool need_list = true;
        while (!stopping.load(std::memory_order_acquire)) {
            bool resumed = true;
            if (need_list) {
                const Outcome listed = list_all();
                if (listed == Outcome::Stopped) return;
                if (listed == Outcome::Unauthorized) {
                    if (!sleep_unless_stopping(jittered(options.backoff_max))) return;
                    continue;
                }
                if (listed != Outcome::Done) {
                    if (!back_off()) return;
                    continue;
                }
                need_list = false;
                resumed = false;
            }
            if (resumed) {
                std::lock_guard lock(state_mutex);
                ++stats.reconnects;
            }
            const WatchEnd end = watch_once();
            if (end.worked) backoff = options.backoff_initial;
            switch (end.outcome) {
            case Outcome::Stopped: return;
            case Outcome::Gone: {
                std::lock_guard lock(state_mutex);
                ++stats.relists_410;
                need_list = true;
                // Expiry after a working stream is routine: relist now. A
                // watch refused outright waits, or a server insisting on 410
                // would get a list per round trip.
                if (end.worked) continue;
                break;
            }
            case Outcome::Relist: need_list = true; break;
            case Outcome::Unauthorized:
                if (!sleep_unless_stopping(jittered(options.backoff_max))) return;
                continue;
            case Outcome::Done:
            case Outcome::Failed: break;
            }
            if (!back_off()) return;
        }
    }

    const KubeEndpoint endpoint;
    const PodWatcherOptions options;
    std::string pods_url;  // with the field selector; list and watch add to it

    // Worker thread only.
    CurlSlist headers;  // before easy: the handle points at it during a transfer
    char curl_error[CURL_ERROR_SIZE] = {};
    CurlMulti multi;
    CurlEasy easy;
    RequestKind request_kind = RequestKind::List;
    long response_status = 0;
    std::string body;
    bool body_too_large = false;
    std::string line_buffer;
    Outcome watch_abort = Outcome::Done;
    bool watch_progressed = false;
    std::string last_good_token;
    std::minstd_rand jitter;
    FailureLog failure_log;

    std::atomic<bool> stopping{false};
    std::mutex sleep_mutex;
    std::condition_variable wake;

    mutable std::mutex state_mutex;
    StringMap<PodInfo> pods_by_uid;         // under state_mutex
    StringMap<std::string> uid_by_container;  // under state_mutex
    std::string resource_version;           // written by the worker under state_mutex
    PodWatcherStats stats;                  // under state_mutex
    bool synced_flag = false;               // under state_mutex

    std::thread worker;  // last: joined in ~Impl before anything above goes away
};

PodWatcher::PodWatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PodWatcher::~PodWatcher() = default;

std::variant<std::unique_ptr<PodWatcher>, std::string> PodWatcher::start(KubeEndpoint endpoint,
                                                                          PodWatcherOptions options) {
    if (options.node_name.empty())
        return std::string("pod watcher: node_name is required (the downward API's spec.nodeName)");
    if (options.backoff_initial.count() <= 0 || options.backoff_max < options.backoff_initial)
        return std::string("pod watcher: backoff_initial must be positive and at most backoff_max");
    if (options.list_page_size == 0 || options.max_line_bytes == 0 || options.max_pods == 0 ||
        options.max_list_page_bytes == 0 || options.watch_timeout_seconds == 0 ||
        options.connect_timeout.count() <= 0 || options.list_timeout.count() <= 0)
        return std::string("pod watcher: sizes, limits and timeouts must be positive");
    if (endpoint.bearer_token.find_first_of("\r\n") != std::string::npos)
        return std::string("pod watcher: the bearer token holds a line break");
    for (const std::string* file :
         {&endpoint.token_file, &endpoint.ca_file, &endpoint.client_cert_file, &endpoint.client_key_file})
        if (!file->empty() && !readable(*file)) return "pod watcher: cannot read " + *file;
    if (!curl_ready()) return std::string("pod watcher: libcurl global initialisation failed");

    auto impl = std::make_unique<Impl>(std::move(endpoint), std::move(options));
    std::string error;
    if (!impl->setup(&error)) return "pod watcher: " + error;
    Impl* worker_view = impl.get();
    impl->worker = std::thread([worker_view] { worker_view->run(); });
    return std::unique_ptr<PodWatcher>(new PodWatcher(std::move(impl)));
}

std::optional<PodInfo> PodWatcher::pod_by_uid(std::string_view uid) const {
    std::lock_guard lock(impl_->state_mutex);
    const auto it = impl_->pods_by_uid.find(uid);
    if (it == impl_->pods_by_uid.end()) return std::nullopt;
    return it->second;
}

std::optional<PodInfo> PodWatcher::pod_by_container(std::string_view container_id) const {
    std::lock_guard lock(impl_->state_mutex);
    const auto owner = impl_->uid_by_container.find(container_id);
    if (owner == impl_->uid_by_container.end()) return std::nullopt;
    const auto it = impl_->pods_by_uid.find(owner->second);
    if (it == impl_->pods_by_uid.end()) return std::nullopt;
    return it->second;
}

std::vector<PodInfo> PodWatcher::pods() const {
    std::lock_guard lock(impl_->state_mutex);
    std::vector<PodInfo> all;
    all.reserve(impl_->pods_by_uid.size());
    for (const auto& [uid, pod] : impl_->pods_by_uid) all.push_back(pod);
    return all;
}

bool PodWatcher::synced() const {
    std::lock_guard lock(impl_->state_mutex);
    return impl_->synced_flag;
}

PodWatcherStats PodWatcher::stats() const {
    std::lock_guard lock(impl_->state_mutex);
    return impl_->stats;
}

}  // namespace fnw
