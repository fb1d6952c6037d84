// SPDX-License-Identifier: Apache-2.0
// Where a ring-buffer record goes: decoded once, answered (the file decider
// for accesses only userspace can decide, kills for policies that kill),
// then published: counted, sent to the trace subscribers that want it, and
// to the outputs when it is a violation (or its launcher asked for --trace).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "control/control_socket.hpp"
#include "control/protocol.hpp"
#include "daemon/cgroup_identifier.hpp"
#include "daemon/policy_table.hpp"
#include "daemon/registrations.hpp"
#include "output/event_json.hpp"
#include "output/event_line.hpp"
#include "output/event_sinks.hpp"
#include "output/function_tally.hpp"
#include "output/metrics.hpp"
#include "probes/kernel_maps.hpp"
#include "probes/record.hpp"
#include "runtime/file_decider.hpp"
#include "runtime/violation_response.hpp"

namespace fnw {

// Subscriber 0: this process's own `trace` (control clients are numbered
// from 1).
inline constexpr ClientId kLocalClient = 0;

struct TraceFilter {
    std::set<std::string> functions;  // empty: every function
    std::set<EventKind> kinds;        // syscall, file, net, exec; empty: all
    bool violations_only = false;
    // A member that is neither root nor in control.adminGroup sees only the
    // cgroups its own uid registered (threat-model.md, "A hostile
    // control-socket client"); unset: everything.
    std::optional<uid_t> only_uid;

    bool wants_allowed_events_of(const std::string& function) const {
        return !violations_only && (functions.empty() || functions.count(function));
    }
    // `kind`: what `trace --events` filters on (trace_kind, trace_kind_of).
    bool matches(std::optional<EventKind> kind, const std::string& function, bool violation) const {
        if (violations_only && !violation) return false;
        if (!functions.empty() && !functions.count(function)) return false;
        if (kinds.empty()) return true;
        return kind && kinds.count(*kind);
    }
    bool matches(const nlohmann::json& event, const std::string& function, bool violation) const {
        return matches(trace_kind_of(event), function, violation);
    }
};

// The filter a trace request asks for. Its kinds were checked when it was
// parsed; a hand-built request is checked again, by the same function.
Result<TraceFilter> trace_filter_of(const TraceRequest& request);

// The metric families the router updates (declared with the daemon's others).
struct RouterMetrics {
    CounterFamily* events_total = nullptr;
    CounterFamily* violations_total = nullptr;
    HistogramFamily* latency = nullptr;
};

class EventRouter {
public:
    struct Parts {
        KernelMaps& maps;
        const PolicyTable& table;
        CgroupIdentifier& identifier;
        const Registrations& registrations;
        OutputPipeline& output;
        FileDecider& files;
        const LineageLookup& lineage;
        std::atomic<uint64_t>& monitored_count;  // read by the metrics thread
    };
    EventRouter(Parts parts, RouterMetrics metrics)
        : parts_(parts),
          metrics_(metrics),
          syscall_events_(metrics.events_total->with({std::string(json_type(EventKind::Syscall))})),
          latency_(metrics.latency->with({})) {}

    // Trace messages go out through the control server once it listens.
    void set_server(ControlServer* server) { server_ = server; }

    // A record from the ring buffers (RingBufferConsumer's handler).
    void handle_record(std::span<const std::byte> record);
    // A decided record to the outputs and trace clients (also the pinned
    // execs the hash worker decided later, and the kernel's summaries).
    void publish_record(const Record& record);
    void publish(const nlohmann::json& event, const std::string& function, uint64_t cgroup_id, bool violation,
                 bool to_outputs);

    // One subscription per client (a second replaces the first).
    void subscribe(ClientId client, TraceFilter filter) { subscribers_[client] = std::move(filter); }
    bool unsubscribe(ClientId client) { return subscribers_.erase(client) > 0; }
    bool subscribed(ClientId client) const { return subscribers_.count(client) > 0; }
    void set_local_trace(std::function<void(const nlohmann::json&)> on_event) { local_trace_ = std::move(on_event); }

    // Allowed events cross the ring buffer only for cgroups with TRACE set:
    // for launchers that asked for --trace, and while a `trace` client
    // wants the allowed events of that function. Cleared when nobody asks.
    void refresh_trace_flags();
    // A turn of the event loop is over: the next event reads the clock
    // for its latency again.
    void end_turn() { published_ = 0; }

    const FunctionTally& per_function() const { return per_function_; }
    void add_status_counters(DaemonCounters& daemon_counters) const;

private:
    bool may_see(const TraceFilter& filter, uint64_t cgroup_id) const;
    void handle_birth(const fnw_event_header& hdr, const fnw_cgroup_event& birth);
    // Where a published event goes, and what its subscribers filter on.
    struct Destination {
        const std::string& function;
        uint64_t cgroup_id;
        bool violation;
        bool to_outputs;
    };
    void publish_syscall(const fnw_syscall_event& ev, const SlotInfo& slot, const IdentifiedCgroup* found,
                         const Destination& to);
    bool publish_as_json(const Record& r, const SlotInfo& slot, const IdentifiedCgroup* found, const Destination& to);
    static nlohmann::json k8s_object(const IdentifiedCgroup& cgroup);
    std::string_view k8s_json(const IdentifiedCgroup* found);
    void count(const nlohmann::json& event, const std::string& type, const std::string& function, bool violation);
    void deliver(std::optional<EventKind> kind, const nlohmann::json* event, const Destination& to);

    Parts parts_;
    RouterMetrics metrics_;
    Counter& syscall_events_;  // the flood's series, looked up once
    Histogram& latency_;
    // The clock the latency is measured against, read again every
    // kLatencyClockEvery published events, for an event stamped after the
    // last read, and for the first event of each turn of the loop
    // (end_turn): a read per event was 4% of the daemon's CPU in a traced
    // flood, and the events between two reads are processed within tens
    // of microseconds of each other.
    static constexpr uint64_t kLatencyClockEvery = 64;
    uint64_t latency_clock_ns_ = 0;
    uint64_t published_ = 0;
    ControlServer* server_ = nullptr;
    WallClock clock_ = WallClock::now();
    SyscallLineWriter syscall_lines_{clock_};
    std::string line_, message_;  // reused: no allocation per event
    std::vector<std::string> k8s_key_;  // namespace, pod, container, id of k8s_json_
    std::string k8s_json_;
    std::map<ClientId, TraceFilter> subscribers_;
    std::function<void(const nlohmann::json&)> local_trace_;
    // Counters of the daemon's own work (kernel counters come from the probes).
    uint64_t records_ = 0, malformed_ = 0, output_refused_ = 0, traced_sent_ = 0, births_seen_ = 0;
    FunctionTally per_function_;  // capped: function names come from outside
};

}  // namespace fnw
