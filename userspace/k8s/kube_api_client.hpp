// SPDX-License-Identifier: Apache-2.0
// The HTTP side of a k8s watcher: one libcurl handle set up for the API
// server (TLS, credentials, keepalive), the list and watch URLs of one resource, and a
// transfer that hands the body to a sink as it arrives and can be woken
// from another thread. It knows nothing of pods or of the watch protocol.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>

#include <curl/curl.h>

#include "common/curl_handles.hpp"
#include "common/result.hpp"
#include "k8s/failure_log.hpp"
#include "k8s/kube_config.hpp"

namespace fnw {

// Patch: a JSON merge patch (application/merge-patch+json).
enum class ApiRequest { List, Watch, Patch };

struct ApiResponse {
    long status = 0;
    CURLcode result = CURLE_OK;
    bool stopped = false;
    std::string transport_error;  // set when result != CURLE_OK
};

// Receives a response body piece by piece, on the transfer's thread.
class ResponseSink {
public:
    virtual ~ResponseSink() = default;
    // False aborts the transfer (CURLE_WRITE_ERROR).
    virtual bool accept(long status, std::string_view data) = 0;
    // accept() threw; the transfer is aborted.
    virtual void failed_reading(const std::string& what) = 0;
};

struct ApiClientOptions {
    // What is listed and watched: "/api/v1/pods",
    // "/apis/fnwarden.io/v1/namespaces/NS/functionpolicies", ...
    std::string resource_path = "/api/v1/pods";
    std::string field_selector;  // "" none; e.g. "spec.nodeName=NODE"
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds list_timeout{60000};
    unsigned watch_timeout_seconds = 300;
    size_t list_page_size = 500;
};

class KubeApiClient {
public:
    // `stopping` ends a transfer in progress; `log` takes the token file's
    // read failures. Both outlive the client.
    KubeApiClient(KubeEndpoint endpoint, ApiClientOptions options, const std::atomic<bool>& stopping,
                  FailureLog& log);
    KubeApiClient(const KubeApiClient&) = delete;
    KubeApiClient& operator=(const KubeApiClient&) = delete;

    // libcurl handles, TLS and credential options, the URLs. The error says
    // which option or which part of the server URL is wrong.
    Status setup();

    std::string list_url(const std::string& continue_token) const;
    // The server URL with `path` ("/apis/...") appended.
    std::string url_of(const std::string& path) const { return server_base_ + path; }
    std::string watch_url(const std::string& resource_version) const;

    // Blocks until the response ends, fails, or `stopping` is set. `body`
    // is the patch of a Patch request.
    ApiResponse perform(const std::string& url, ApiRequest kind, ResponseSink& sink, const std::string& body = {});

    // Thread-safe: interrupts the poll of a transfer in progress at once.
    void wake();

    const KubeEndpoint& endpoint() const { return endpoint_; }

private:
    static size_t on_data(char* data, size_t size, size_t count, void* user);
    Status set_options();
    Status build_urls();
    std::string escape(std::string_view text) const;
    std::string current_token();
    CurlSlist request_headers(ApiRequest kind);

    const KubeEndpoint endpoint_;
    const ApiClientOptions options_;
    const std::atomic<bool>& stopping_;
    FailureLog& log_;
    std::string server_base_;   // the server URL without a trailing '/'
    std::string resource_url_;  // ends in '?' or in the field selector; list and watch add to it
    std::string last_good_token_;

    // The sink and status of the transfer in progress.
    ResponseSink* sink_ = nullptr;
    long response_status_ = 0;

    CurlSlist headers_;  // before easy_: the handle points at it during a transfer
    char curl_error_[CURL_ERROR_SIZE] = {};
    CurlMulti multi_;
    CurlEasy easy_;
};

}  // namespace fnw
