// SPDX-License-Identifier: Apache-2.0
// Writes each FunctionPolicy object's verdict into the object's status
// (PATCH .../functionpolicies/NAME/status, a JSON merge patch), so that
// `kubectl get functionpolicy -o yaml` shows why an object was refused:
//
//   status:
//     observedGeneration: 3
//     valid: false
//     errors: ["functionpolicies/shop/hello: spec.syscalls.allow: unknown syscall \"opne\" ..."]
//
// Needs the CRD's status subresource and RBAC `patch` on
// functionpolicies/status. The verdict depends on the object alone (same
// parser on every node), so every node computes the same status: a patch is
// sent only when the object's status differs from it, and a node that
// comes second finds it written. One worker thread; the daemon's loop only
// queues.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "k8s/kube_config.hpp"

namespace fnw {

struct FunctionPolicyVerdict {
    std::string namespace_, name;
    int64_t generation = 0;
    std::vector<std::string> errors;  // the object's own; empty: valid
    std::string current_status;       // FunctionPolicyObject::status
};

// The status the verdict stands for, as compact JSON.
std::string status_of(const FunctionPolicyVerdict& verdict);

struct PolicyStatusWriterOptions {
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds request_timeout{10000};
};

struct PolicyStatusWriterStats {
    uint64_t patches = 0;          // sent and accepted
    uint64_t failed = 0;           // refused or not sent
    uint64_t already_current = 0;  // the object had this status already
    std::string last_error;
};

class PolicyStatusWriter {
public:
    static Result<std::unique_ptr<PolicyStatusWriter>> start(KubeEndpoint endpoint,
                                                             PolicyStatusWriterOptions options = {});
    // Returns within about a second; what is still queued is not written.
    ~PolicyStatusWriter();
    PolicyStatusWriter(const PolicyStatusWriter&) = delete;
    PolicyStatusWriter& operator=(const PolicyStatusWriter&) = delete;

    // Never blocks: replaces whatever is still queued (only the verdicts of
    // the latest reload matter).
    void submit(std::vector<FunctionPolicyVerdict> verdicts);
    PolicyStatusWriterStats stats() const;

private:
    struct Impl;
    explicit PolicyStatusWriter(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace fnw
