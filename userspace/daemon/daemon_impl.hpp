// SPDX-License-Identifier: Apache-2.0
// Daemon::Impl: the parts a daemon is made of, shared by daemon.cpp (the
// loop, status, stop) and daemon_start.cpp (start-up wiring). Not for use
// outside those two files.
#pragma once

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <spdlog/spdlog.h>

#include "common/unique_fd.hpp"
#include "control/control_socket.hpp"
#include "daemon/active_policies.hpp"
#include "daemon/cgroup_identifier.hpp"
#include "daemon/clock.hpp"
#include "daemon/control_service.hpp"
#include "daemon/daemon.hpp"
#include "daemon/daemon_threads.hpp"
#include "daemon/event_router.hpp"
#include "daemon/grant_reports.hpp"
#include "daemon/lost_records.hpp"
#include "daemon/registrations.hpp"
#include "daemon/rules_watcher.hpp"
#include "daemon/service_notifier.hpp"
#include "output/event_sinks.hpp"
#include "probes/probe_set.hpp"
#include "probes/ring_buffer_consumer.hpp"
#include "runtime/file_decider.hpp"
#include "runtime/kernel_features.hpp"
#include "runtime/violation_response.hpp"

namespace fnw {

// Says at start-up how the probes came to be (fresh, adopted, replacing).
void log_pinned_state(const PinnedState& pinned);

// Read through the signalfd: SIGHUP reloads, the others stop the daemon.
sigset_t daemon_signal_set();

struct Daemon::Impl {
    // Threads first, so what they own (the metrics registry, the loop's
    // gauges, the pod queue) is destroyed last; stop() joins them before
    // anything else goes away (the probes and outputs their scrapes read).
    DaemonThreads threads;
    ~Impl() {
        threads.stop();
        // --unload-on-exit: without pins the kernel detaches everything as
        // the probe set closes its fds.
        if (config.unload_on_exit && probes)
            if (Status unpinned = probes->unpin(); !unpinned) spdlog::error("unload: {}", unpinned.error());
    }

    DaemonConfig config;
    std::filesystem::path cgroup2_root;
    KernelCapabilities features;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::string started_at = iso_now();

    std::unique_ptr<ProbeSet> probes;
    UniqueFd run_time_stats;  // keeps the kernel's per-program accounting on
    std::string run_time_stats_error;
    std::optional<CgroupFsTree> tree;
    LineageLookup lineage_lookup;  // set once the probes are loaded
    // Globs per slot, for file accesses the kernel could not decide.
    FileDecider file_decider{[this](const fnw_file_verdict_key& key) {
        return probes && probes->remember_allowed_file(key);
    }};
    std::unique_ptr<OutputPipeline> output;
    WebhookSink* webhook = nullptr;  // owned by `output`
    std::unique_ptr<ControlServer> server;

    std::optional<ActivePolicies> policies;
    std::optional<Registrations> registrations;
    std::optional<CgroupIdentifier> identifier;
    std::optional<EventRouter> router;
    std::optional<LostRecords> lost;
    // fnwarden_policy_grants: refreshed every second.
    std::optional<GrantGauges> grant_gauges;
    std::optional<ControlService> control;
    std::unique_ptr<RingBufferConsumer> consumer;

    std::optional<RulesWatcher> watcher;
    std::shared_ptr<const Ed25519Key> trusted_key;  // --trusted-key, read once at start
    std::optional<std::chrono::steady_clock::time_point> reload_due;
    std::string node_name;
    ServiceNotifier service;  // systemd: READY=1, WATCHDOG=1 per loop turn
    UniqueFd signals;
    UniqueFd epoll;
    int hash_wakeup = -1;  // the file decider's hash worker: results ready

    // ---- set-up (daemon_start.cpp) ---------------------------------------------
    Status start_up();
    Status load_probes();
    Status open_outputs();
    Status open_control_socket();
    Status start_pod_feed();  // and the FunctionPolicy feed
    bool reads_rules_files() const;  // policySource files or both
    Status check_policy_source();    // the rules directory, or the bundle's directory and the trusted key
    Result<RulesWatcher> watch_policy_source() const;
    void report_refusal(const BundleError& refusal);  // event, metric, log
    // The metric families the parts update on the loop thread.
    struct Families {
        CounterFamily* events_total = nullptr;
        CounterFamily* violations_total = nullptr;
        CounterFamily* reloads_total = nullptr;
        CounterFamily* control_refused_total = nullptr;
        // Ring full (docs/threat-model.md, "Flooding the ring buffer").
        CounterFamily* coverage_gaps_total = nullptr;
        // Bundles and unsigned sources refused (docs/policy.md, "Signed bundles").
        CounterFamily* policy_refused_total = nullptr;
        HistogramFamily* latency = nullptr;
    };
    Families declare_metrics();
    void assemble(const Families& families);
    Status set_up_loop();
    bool watch(int fd);

    // ---- the loop ----------------------------------------------------------------
    bool reload(const std::string& why);
    void publish_violation_summaries();
    int loop();
    // One ready fd; false when a signal says stop.
    bool handle_ready(int fd);
    void reload_when_due(std::chrono::steady_clock::time_point now);
    void every_second(uint64_t& drops_reported);
    CounterFamily* policy_refused_total = nullptr;
    // status: the reply, each member from the part that owns it.
    StatusReply status() const;
    DaemonInfo daemon_info() const;
    StatusCounters counters_status() const;
};

}  // namespace fnw
