// SPDX-License-Identifier: Apache-2.0
// FunctionGuard backed by probes this process loaded: `fnwarden run` and
// `learn` when no daemon is running (or with --standalone).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "probes/probe_set.hpp"
#include "probes/ring_buffer_consumer.hpp"
#include "runtime/file_decider.hpp"
#include "runtime/function_runner.hpp"
#include "runtime/violation_response.hpp"

namespace fnw {

class LocalGuard final : public FunctionGuard {
public:
    // Writes `policy` into slot `policy_id` and reads the ring buffer into
    // `on_record`, each record decoded once (after the userspace half of
    // `kill`). An error when the policy cannot be written or the ring
    // buffer cannot be set up.
    static Result<std::unique_ptr<LocalGuard>> create(ProbeSet& probes, uint32_t policy_id,
                                                      const FunctionPolicy& policy, Mode mode,
                                                      DecodedRecordHandler on_record);

    Status arm(const GuardRequest& request) override;
    void disarm(uint64_t cgroup_id) override;
    uint32_t policy_id() const override { return policy_id_; }
    // This kernel, with the LSM programs `probes` loaded.
    const EnforcementCapabilities& capabilities() const override { return capabilities_; }
    int poll_fd() const override;
    bool service() override;
    // To the handler on_launcher_event() set, with the program the
    // launcher read; else to on_record (the writer reads /proc, late).
    void launcher_event(const fnw_syscall_event& event, std::string_view exe) override {
        if (on_launcher_event_)
            on_launcher_event_(Record(event), exe);
        else
            on_record_(Record(event));
    }
    void on_launcher_event(std::function<void(const Record&, std::string_view exe)> handler) {
        on_launcher_event_ = std::move(handler);
    }
    // Ring-buffer records that did not decode (wrong size, unknown type):
    // counted here, never passed on.
    uint64_t malformed() const { return malformed_; }
    // Called after each read of the rings: where a consumer that gathers
    // lines writes them out (one write per batch, not one per event).
    void on_drained(std::function<void()> after_drain) { after_drain_ = std::move(after_drain); }

private:
    // Violation repeats the kernel counted since the last look
    // (ProbeSet::take_violation_summaries), as records to on_record_.
    void report_violation_summaries();

    LocalGuard(ProbeSet& probes, uint32_t policy_id, DecodedRecordHandler on_record)
        : probes_(probes),
          policy_id_(policy_id),
          on_record_(std::move(on_record)),
          files_([&probes](const fnw_file_verdict_key& key) { return probes.remember_allowed_file(key); }) {}

    ProbeSet& probes_;
    uint32_t policy_id_;
    EnforcementCapabilities capabilities_;
    DecodedRecordHandler on_record_;
    FileDecider files_;
    std::unique_ptr<RingBufferConsumer> consumer_;
    std::string function_;
    uint64_t drops_reported_ = 0;
    uint64_t malformed_ = 0;
    std::chrono::steady_clock::time_point last_drop_check_;
    std::function<void()> after_drain_;
    std::function<void(const Record&, std::string_view)> on_launcher_event_;
};

}  // namespace fnw
