// SPDX-License-Identifier: Apache-2.0
#include "k8s/kube_api_client.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <utility>

#include <spdlog/spdlog.h>

#include "k8s/pod_json.hpp"

namespace fnw {

using pod_json::printable;
using pod_json::trim;
using std::chrono::milliseconds;

namespace {

constexpr size_t kMaxTokenBytes = 64 * 1024;
// A server that ignores timeoutSeconds still has its watch ended this much later.
constexpr unsigned kWatchClientGraceSeconds = 60;

}  // namespace

KubeApiClient::KubeApiClient(KubeEndpoint endpoint, ApiClientOptions options, const std::atomic<bool>& stopping,
                             FailureLog& log)
    : endpoint_(std::move(endpoint)), options_(std::move(options)), stopping_(stopping), log_(log) {}

Status KubeApiClient::setup() {
    multi_.reset(curl_multi_init());
    easy_.reset(curl_easy_init());
    if (!multi_ || !easy_) return fail("libcurl initialisation failed");
    if (Status urls = build_urls(); !urls) return urls;
    return set_options();
}

Status KubeApiClient::set_options() {
    CURL* h = easy_.get();
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
    set(CURLOPT_CONNECTTIMEOUT_MS, long(options_.connect_timeout.count()));
    // Signals are the daemon's business (signalfd); curl must not raise
    // SIGALRM or SIGPIPE in a multi-threaded process.
    set(CURLOPT_NOSIGNAL, 1L);
    // A watch is idle for minutes: keepalive probes notice a peer that
    // vanished (node partition, load balancer restart) long before the
    // watch timeout would.
    set(CURLOPT_TCP_KEEPALIVE, 1L);
    set(CURLOPT_TCP_KEEPIDLE, 30L);
    set(CURLOPT_TCP_KEEPINTVL, 10L);
    set(CURLOPT_WRITEFUNCTION, &KubeApiClient::on_data);
    set(CURLOPT_WRITEDATA, this);
    set(CURLOPT_ERRORBUFFER, curl_error_);
#if LIBCURL_VERSION_NUM >= 0x075700
    set(CURLOPT_QUICK_EXIT, 1L);
#endif
    if (endpoint_.insecure_skip_tls_verify) {
        set(CURLOPT_SSL_VERIFYPEER, 0L);
        set(CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (!endpoint_.ca_pem.empty() || !endpoint_.ca_file.empty()) {
        // The cluster CA alone, as client-go does: the distribution's
        // CA directory would otherwise also vouch for the API server.
        set(CURLOPT_CAPATH, static_cast<const char*>(nullptr));
        if (!endpoint_.ca_pem.empty())
            set_blob(CURLOPT_CAINFO_BLOB, "CURLOPT_CAINFO_BLOB", endpoint_.ca_pem);
        else
            set(CURLOPT_CAINFO, endpoint_.ca_file.c_str());
    }
    if (!endpoint_.client_cert_pem.empty()) {
        set_blob(CURLOPT_SSLCERT_BLOB, "CURLOPT_SSLCERT_BLOB", endpoint_.client_cert_pem);
        set(CURLOPT_SSLCERTTYPE, "PEM");
    } else if (!endpoint_.client_cert_file.empty()) {
        set(CURLOPT_SSLCERT, endpoint_.client_cert_file.c_str());
    }
    if (!endpoint_.client_key_pem.empty()) {
        set_blob(CURLOPT_SSLKEY_BLOB, "CURLOPT_SSLKEY_BLOB", endpoint_.client_key_pem);
        set(CURLOPT_SSLKEYTYPE, "PEM");
    } else if (!endpoint_.client_key_file.empty()) {
        set(CURLOPT_SSLKEY, endpoint_.client_key_file.c_str());
    }
    if (rc == CURLE_OK) return {};
    std::string error = std::string("libcurl option: ") + curl_easy_strerror(rc);
    if (blob_option)
        error += std::string(" (") + blob_option +
                 ": this libcurl cannot take certificates from memory; give certificate files instead)";
    return fail(std::move(error));
}

std::string KubeApiClient::escape(std::string_view text) const {
    CurlString escaped(curl_easy_escape(easy_.get(), text.data(), static_cast<int>(text.size())));
    return escaped ? std::string(escaped.get()) : std::string();
}

Status KubeApiClient::build_urls() {
    CurlUrl parsed(curl_url());
    if (!parsed || curl_url_set(parsed.get(), CURLUPART_URL, endpoint_.server.c_str(), 0) != CURLUE_OK)
        return fail("API server URL " + printable(endpoint_.server) + " is not a valid URL");
    char* raw = nullptr;
    std::string scheme;
    if (curl_url_get(parsed.get(), CURLUPART_SCHEME, &raw, 0) == CURLUE_OK) scheme = CurlString(raw).get();
    if (scheme != "http" && scheme != "https")
        return fail("API server URL must be https:// (or http:// for a local proxy), not " +
                    printable(endpoint_.server));
    // A query or fragment would end up in the middle of every request URL.
    if (endpoint_.server.find_first_of("?#") != std::string::npos)
        return fail("API server URL must not have a query or fragment: " + printable(endpoint_.server));
    if (scheme == "http" && (!endpoint_.bearer_token.empty() || !endpoint_.token_file.empty()))
        spdlog::warn("kubernetes: the API server {} is plain http: the bearer token travels unencrypted",
                     endpoint_.server);
    std::string base = endpoint_.server;
    while (base.ends_with('/')) base.pop_back();
    server_base_ = base;
    resource_url_ = base + options_.resource_path + "?";
    if (!options_.field_selector.empty()) resource_url_ += "fieldSelector=" + escape(options_.field_selector) + "&";
    return {};
}

std::string KubeApiClient::list_url(const std::string& continue_token) const {
    std::string url = resource_url_ + "limit=" + std::to_string(options_.list_page_size);
    if (!continue_token.empty()) url += "&continue=" + escape(continue_token);
    return url;
}

std::string KubeApiClient::watch_url(const std::string& resource_version) const {
    return resource_url_ + "watch=1&allowWatchBookmarks=true&resourceVersion=" + escape(resource_version) +
           "&timeoutSeconds=" + std::to_string(options_.watch_timeout_seconds);
}

// Read at every request: the kubelet rewrites a projected token before
// it expires, and a process that kept the first one would be locked out
// an hour later. A failed read keeps the last good token, as client-go.
std::string KubeApiClient::current_token() {
    if (endpoint_.token_file.empty()) return endpoint_.bearer_token;
    std::ifstream in(endpoint_.token_file, std::ios::binary);
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
        last_good_token_ = token;
        return token;
    }
    log_.log(spdlog::level::warn,
             "token file " + endpoint_.token_file + ": " + problem +
                 (last_good_token_.empty() ? "" : "; using the last token read"),
             "token");
    return last_good_token_.empty() ? endpoint_.bearer_token : last_good_token_;
}

CurlSlist KubeApiClient::request_headers(ApiRequest kind) {
    CurlSlist headers(curl_slist_append(nullptr, "Accept: application/json"));
    if (headers && kind == ApiRequest::Patch &&
        !curl_slist_append(headers.get(), "Content-Type: application/merge-patch+json"))
        return nullptr;
    // Appending to a non-empty list keeps its head; nullptr means it failed.
    if (const std::string token = current_token(); headers && !token.empty())
        if (!curl_slist_append(headers.get(), ("Authorization: Bearer " + token).c_str())) return nullptr;
    return headers;
}

size_t KubeApiClient::on_data(char* data, size_t size, size_t count, void* user) {
    const size_t bytes = size * count;
    auto* self = static_cast<KubeApiClient*>(user);
    // 0 makes libcurl abort the transfer (CURLE_WRITE_ERROR). Nothing may
    // unwind through libcurl's C frames, not even bad_alloc.
    try {
        if (self->stopping_.load(std::memory_order_acquire)) return 0;
        if (self->response_status_ == 0)
            curl_easy_getinfo(self->easy_.get(), CURLINFO_RESPONSE_CODE, &self->response_status_);
        return self->sink_->accept(self->response_status_, std::string_view(data, bytes)) ? bytes : 0;
    } catch (const std::exception& e) {
        self->sink_->failed_reading(std::string("reading the response: ") + e.what());
    } catch (...) {
        self->sink_->failed_reading("reading the response: unknown exception");
    }
    return 0;
}

void KubeApiClient::wake() {
    if (multi_) curl_multi_wakeup(multi_.get());
}

// The multi interface rather than curl_easy_perform(): its poll can be
// woken from the destructor, so an idle watch ends at once.
ApiResponse KubeApiClient::perform(const std::string& url, ApiRequest kind, ResponseSink& sink,
                                   const std::string& body) {
    ApiResponse response;
    CURL* h = easy_.get();
    CURLM* m = multi_.get();
    headers_ = request_headers(kind);
    if (!headers_) {
        response.result = CURLE_OUT_OF_MEMORY;
        response.transport_error = "out of memory building request headers";
        return response;
    }
    const milliseconds timeout = kind != ApiRequest::Watch
                                     ? options_.list_timeout
                                     : milliseconds(1000LL * (options_.watch_timeout_seconds + kWatchClientGraceSeconds));
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers_.get());
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, long(timeout.count()));
    // A pod list is mostly repeated keys: gzip shrinks it tenfold. A
    // watch must not be compressed: a compressor (here, or in a proxy on
    // the way) holds events back until its buffer fills, which on a
    // quiet node can be minutes.
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, kind == ApiRequest::List ? "" : nullptr);
    if (kind == ApiRequest::Patch) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());  // not copied: `body` outlives the transfer
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, long(body.size()));
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PATCH");
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, static_cast<const char*>(nullptr));
    }
    sink_ = &sink;
    response_status_ = 0;
    curl_error_[0] = '\0';

    if (CURLMcode mc = curl_multi_add_handle(m, h); mc != CURLM_OK) {
        response.result = CURLE_FAILED_INIT;
        response.transport_error = std::string("libcurl: ") + curl_multi_strerror(mc);
        return response;
    }
    std::optional<CURLcode> result;
    CURLMcode multi_error = CURLM_OK;
    for (;;) {
        if (stopping_.load(std::memory_order_acquire)) {
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
    if (stopping_.load(std::memory_order_acquire)) response.stopped = true;

    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    if (!result) {
        response.result = CURLE_FAILED_INIT;
        response.transport_error = std::string("libcurl: ") + curl_multi_strerror(multi_error);
    } else if (*result != CURLE_OK) {
        response.result = *result;
        response.transport_error = curl_error_[0] ? curl_error_ : curl_easy_strerror(*result);
    }
    return response;
}

}  // namespace fnw
