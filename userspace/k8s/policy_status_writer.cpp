// SPDX-License-Identifier: Apache-2.0
#include "k8s/policy_status_writer.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/curl_handles.hpp"
#include "k8s/failure_log.hpp"
#include "k8s/kube_api_client.hpp"
#include "k8s/pod_json.hpp"
#include "k8s/policy_watcher.hpp"

namespace fnw {

using pod_json::Json;
using pod_json::status_message;

namespace {

constexpr size_t kMaxResponseBytes = 64 * 1024;
// An object's status is read by people: a few errors say enough.
constexpr size_t kMaxErrorsInStatus = 20;

Json status_json(const FunctionPolicyVerdict& verdict) {
    Json errors = Json::array();
    for (size_t i = 0; i < verdict.errors.size() && i < kMaxErrorsInStatus; ++i) errors.push_back(verdict.errors[i]);
    return {{"observedGeneration", verdict.generation}, {"valid", verdict.errors.empty()}, {"errors", errors}};
}

// Whether the object's status already says what the verdict says (other
// members a future version may add are not compared).
bool already_current(const FunctionPolicyVerdict& verdict) {
    if (verdict.current_status.empty()) return false;
    const Json current = Json::parse(verdict.current_status, nullptr, false);
    if (!current.is_object()) return false;
    const Json wanted = status_json(verdict);
    for (const auto& [key, value] : wanted.items())
        if (!current.contains(key) || current[key] != value) return false;
    return true;
}

}  // namespace

std::string status_of(const FunctionPolicyVerdict& verdict) {
    return status_json(verdict).dump(-1, ' ', false, Json::error_handler_t::replace);
}

struct PolicyStatusWriter::Impl final : ResponseSink {
    Impl(KubeEndpoint endpoint, PolicyStatusWriterOptions options)
        : client(std::move(endpoint), api_options(options), stopping, failure_log) {}

    static ApiClientOptions api_options(const PolicyStatusWriterOptions& options) {
        ApiClientOptions api;
        api.resource_path = "/apis/" + std::string(kFunctionPolicyGroupVersion) + "/" +
                            std::string(kFunctionPolicyResource);
        api.connect_timeout = options.connect_timeout;
        api.list_timeout = options.request_timeout;
        return api;
    }

    ~Impl() override {
        {
            std::lock_guard lock(mutex);
            stopping.store(true, std::memory_order_release);
        }
        wake.notify_all();
        client.wake();
        if (worker.joinable()) worker.join();
    }

    bool accept(long, std::string_view data) override {
        if (response.size() + data.size() <= kMaxResponseBytes) response.append(data);
        return true;
    }
    void failed_reading(const std::string& what) override { record_failure(what); }

    void record_failure(const std::string& message) {
        {
            std::lock_guard lock(mutex);
            ++stats.failed;
            stats.last_error = message;
        }
        failure_log.log(spdlog::level::warn, message);
    }

    void write(const FunctionPolicyVerdict& verdict) {
        if (already_current(verdict)) {
            std::lock_guard lock(mutex);
            ++stats.already_current;
            return;
        }
        const std::string path = "/apis/" + std::string(kFunctionPolicyGroupVersion) + "/namespaces/" +
                                 verdict.namespace_ + "/" + std::string(kFunctionPolicyResource) + "/" +
                                 verdict.name + "/status";
        const std::string patch = Json{{"status", status_json(verdict)}}.dump(-1, ' ', false,
                                                                               Json::error_handler_t::replace);
        response.clear();
        const ApiResponse sent = client.perform(client.url_of(path), ApiRequest::Patch, *this, patch);
        if (sent.stopped) return;
        const std::string what = "PATCH functionpolicies/" + verdict.namespace_ + "/" + verdict.name + "/status";
        if (sent.status == 0) return record_failure(what + ": " + sent.transport_error);
        if (sent.status == 404)
            return record_failure(what + ": HTTP 404 (" + status_message(response) +
                                  "): the object is gone, or the CRD has no status subresource");
        if (sent.status == 403)
            return record_failure(what + ": HTTP 403 (" + status_message(response) +
                                  "): RBAC: the service account needs patch on functionpolicies/status "
                                  "(apiGroups [\"fnwarden.io\"])");
        if (sent.status < 200 || sent.status >= 300)
            return record_failure(what + ": HTTP " + std::to_string(sent.status) + " (" +
                                  status_message(response) + ")");
        std::lock_guard lock(mutex);
        ++stats.patches;
    }

    void run() {
        for (;;) {
            std::vector<FunctionPolicyVerdict> batch;
            {
                std::unique_lock lock(mutex);
                wake.wait(lock, [&] { return stopping.load() || !queued.empty(); });
                if (stopping.load()) return;
                batch.swap(queued);
            }
            for (const FunctionPolicyVerdict& verdict : batch) {
                if (stopping.load()) return;
                write(verdict);
            }
        }
    }

    std::atomic<bool> stopping{false};
    FailureLog failure_log{"functionpolicy status"};  // worker thread only
    KubeApiClient client;                              // worker thread only, but for wake()
    std::string response;                              // worker thread only
    mutable std::mutex mutex;
    std::condition_variable wake;
    std::vector<FunctionPolicyVerdict> queued;  // guarded by mutex
    PolicyStatusWriterStats stats;              // guarded by mutex
    std::thread worker;                         // last: joined first
};

PolicyStatusWriter::PolicyStatusWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PolicyStatusWriter::~PolicyStatusWriter() = default;

Result<std::unique_ptr<PolicyStatusWriter>> PolicyStatusWriter::start(KubeEndpoint endpoint,
                                                                      PolicyStatusWriterOptions options) {
    if (!curl_ready()) return fail("functionpolicy status writer: libcurl global initialisation failed");
    auto impl = std::make_unique<Impl>(std::move(endpoint), options);
    if (Status ready = impl->client.setup(); !ready) return ready.wrap("functionpolicy status writer");
    Impl* view = impl.get();
    impl->worker = std::thread([view] { view->run(); });
    return std::unique_ptr<PolicyStatusWriter>(new PolicyStatusWriter(std::move(impl)));
}

void PolicyStatusWriter::submit(std::vector<FunctionPolicyVerdict> verdicts) {
    {
        std::lock_guard lock(impl_->mutex);
        impl_->queued = std::move(verdicts);
    }
    impl_->wake.notify_all();
}

PolicyStatusWriterStats PolicyStatusWriter::stats() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->stats;
}

}  // namespace fnw
