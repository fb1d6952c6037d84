#include "daemon/daemon.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include <spdlog/spdlog.h>

#include <fnwarden/events.h>

#include "common/unique_fd.hpp"
#include "control/control_socket.hpp"
#include "control/protocol.hpp"
#include "control/register_policy.hpp"
#include "core/display_name.hpp"
#include "core/selector.hpp"
#include "daemon/nesting.hpp"
#include "daemon/policy_set.hpp"
#include "daemon/service_notifier.hpp"
#include "daemon/policy_slots.hpp"
#include "daemon/rules_watcher.hpp"
#include "k8s/cgroup_path.hpp"
#include "k8s/kube_config.hpp"
#include "k8s/pod_watcher.hpp"
#include "output/event_json.hpp"
#include "output/event_sinks.hpp"
#include "output/function_tally.hpp"
#include "output/metrics.hpp"
#include "output/metrics_server.hpp"
#include "probes/probe_set.hpp"
#include "probes/ring_buffer_consumer.hpp"
#include "runtime/cgroup.hpp"
#include "runtime/cgroup_tree.hpp"
#include "runtime/kernel_features.hpp"
#include "runtime/process_handle.hpp"
#include "runtime/violation_response.hpp"

namespace fnw {
namespace {

// Records read per loop turn at most: under a flood the loop still gets to
// the control socket (status must answer) between bites.
constexpr int kRecordsPerTurn = 4096;
// How long a retired policy slot stays reserved after no cgroup points at it
// any more: records already in the ring buffer still name it.
constexpr auto kSlotGrace = std::chrono::seconds(2);
// Longest wait between two ring-buffer reads: producers only force a wakeup
// past a fill threshold, so this is the latency bound for a lone event.
constexpr int kLoopTickMs = 50;
constexpr ClientId kLocalClient = 0;

uint64_t boot_now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

std::string iso_now() {
    return WallClock::now().rfc3339(boot_now_ns());
}

// Read through the signalfd: SIGHUP reloads, the others stop the daemon.
sigset_t daemon_signal_set() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, s);
    return set;
}

std::vector<std::string> flag_names(uint32_t flags) {
    std::vector<std::string> out;
    if (flags & FNW_CGROUP_TRACE) out.push_back("trace");
    if (flags & FNW_CGROUP_ARM_ON_EXEC) out.push_back("arm-on-exec");
    if (flags & FNW_CGROUP_INHERITED) out.push_back("inherited");
    if (flags & FNW_CGROUP_LEARN) out.push_back("learn");
    if (flags & FNW_CGROUP_LANDLOCK) out.push_back("landlock");
    return out;
}

}  // namespace

void block_daemon_signals() {
    const sigset_t set = daemon_signal_set();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    // Clients that vanish must not kill the daemon (the control socket also
    // sends with MSG_NOSIGNAL; this covers every other write).
    signal(SIGPIPE, SIG_IGN);
}

// What a policy slot means to userspace: kept after the slot is retired,
// so records still in the ring decode with the policy they ran under.
struct SlotInfo {
    std::string function;
    std::string policy;  // metadata.name
    std::string source;  // file
    Mode mode = Mode::Audit;
    KillOnViolation kill;
};

// A cgroup `fnwarden run` asked us to guard. Kept, with its policy in the
// kernel, until the cgroup is gone: when the launcher lets go (unregister) or
// goes away (its connection closes: killed, crashed), what still runs there
// (a double-forked grandchild PDEATHSIG missed) stays checked, and a run's
// cgroup is emptied and removed by the daemon (release_registration()).
struct Registration {
    std::string function;
    std::string path;
    ClientId client = 0;
    uid_t uid = 0;  // the client's, from SO_PEERCRED: whose trace may show it
    pid_t pid = 0;
    bool trace = false;
    bool landlock = false;
    // Released: unregistered, or its launcher is gone.
    bool released = false;
    bool launcher_gone = false;
    // Released and a run's cgroup (under <cgroup2>/fnwarden): the daemon
    // empties it; once the launcher is gone, removes it too.
    bool ours_to_empty = false;
    uint32_t kills_sent = 0;
    std::optional<std::chrono::steady_clock::time_point> released_at, last_kill;
    bool stuck_reported = false;
    bool emptied = false;  // counted in launcher_cgroups_emptied
};

// Re-kill a released cgroup still populated at most this often (the
// fallback walk can miss a fork in flight), and warn once past the bound.
constexpr auto kRekillInterval = std::chrono::milliseconds(100);
constexpr auto kEmptyingBound = std::chrono::seconds(5);

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
    bool matches(const nlohmann::json& event, const std::string& function, bool violation) const {
        if (violations_only && !violation) return false;
        if (!functions.empty() && !functions.count(function)) return false;
        return kinds.empty() || (trace_kind_of(event) && kinds.count(*trace_kind_of(event)));
    }
};

std::optional<TraceFilter> parse_trace_filter(const nlohmann::json& request, std::string* error) {
    TraceFilter filter;
    for (const auto& f : request.value("functions", nlohmann::json::array())) filter.functions.insert(f.get<std::string>());
    for (const auto& k : request.value("events", nlohmann::json::array())) {
        const auto kind = parse_event_kind(k.get<std::string>());
        if (!kind || *kind == EventKind::ViolationSummary) {
            *error = "unknown event kind \"" + k.get<std::string>() + "\" (syscall, file, net, exec)";
            return std::nullopt;
        }
        filter.kinds.insert(*kind);
    }
    filter.violations_only = request.value("violations_only", false);
    return filter;
}

// A cgroup the daemon found itself (selector match), not a launcher's.
struct IdentifiedCgroup {
    std::string function;
    std::string path;  // relative to the cgroup2 mount
    std::string found_by;  // "cgroupPath" or "pod", at birth or at the scan
    // Kubernetes identity, when the path is a pod's container and the pod is known.
    std::string k8s_namespace, k8s_pod, container_id;
    // The selector named the function (daemon/nesting.hpp): its descendants
    // keep this policy. False for a default (a cgroupPath naming no function).
    bool names_function = true;
    // Not a match of its own: a descendant kept under its ancestor's policy
    // although a looser selector matched it (found_by says whose).
    bool kept_ancestors = false;
};

// The nearest monitored cgroup above one, and who gave the policy it passes
// down (the first registration or selector match on the way up).
struct MonitoredAncestor {
    uint64_t id = 0;
    fnw_cgroup_entry entry{};
    AncestorOrigin origin = AncestorOrigin::Unknown;
    std::string function;  // of the origin, for attribution
    std::string path;      // of the origin, relative to the cgroup2 mount
};

// Container cgroups whose pod the watcher has not reported yet (the kubelet
// creates the cgroup before the API shows the container): matched when the
// pod arrives. Bounded: a runaway backlog is dropped with a warning.
constexpr size_t kMaxPendingPodCgroups = 10000;

// Bounds on the start-up scan of the cgroup tree: a host with more is
// misconfigured, and the scan must not stall the loop.
constexpr int kMaxScanDepth = 32;
constexpr size_t kMaxScanCgroups = 100000;

// A retired slot: cgroups still pointing at `from` are moved to `to` (or
// dropped when the function's policy was removed) until none is left.
struct RetiredSlot {
    uint32_t from;
    std::optional<uint32_t> to;
    std::optional<std::chrono::steady_clock::time_point> empty_since;
};

struct Daemon::Impl {
    // Threads first: the pod watcher pushes into pod_changes and the metrics
    // server's threads read monitored_count and last_loop_tick_ns, all
    // declared (so destroyed) before them. Member order alone would free
    // those while the threads still run.
    ~Impl() {
        pod_watcher.reset();
        metrics_server.reset();
    }

    DaemonConfig config;
    std::filesystem::path rules_dir;
    std::filesystem::path cgroup2_root;
    // Where `fnwarden run` creates functions' cgroups (cgroupParent): the
    // only place a registration may name.
    std::filesystem::path launcher_parent;
    KernelFeatures features;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::string started_at = iso_now();
    WallClock clock = WallClock::now();

    std::unique_ptr<ProbeSet> probes;
    UniqueFd run_time_stats;  // keeps the kernel's per-program accounting on
    std::string run_time_stats_error;
    std::unique_ptr<RingBufferConsumer> consumer;
    std::unique_ptr<ControlServer> server;
    std::optional<RulesWatcher> watcher;
    std::optional<std::chrono::steady_clock::time_point> reload_due;
    std::unique_ptr<OutputPipeline> output;
    WebhookSink* webhook = nullptr;  // owned by `output`
    MetricsRegistry metrics;
    std::unique_ptr<MetricsServer> metrics_server;
    UniqueFd signals;
    UniqueFd epoll;

    // Policies.
    std::optional<PolicySet> policy_set;
    PolicySlots slots;
    std::map<std::string, uint32_t, std::less<>> function_slot;
    std::map<uint32_t, SlotInfo> slot_info;
    // Globs per slot, for file accesses the kernel could not decide; kept
    // for retired slots like slot_info (records in the ring still name them).
    LineageLookup lineage_lookup;  // set once the probes are loaded
    FileDecider file_decider{[this](const fnw_file_verdict_key& key) {
        return probes && probes->remember_allowed_file(key);
    }};
    std::vector<RetiredSlot> retired;
    uint64_t reloads_ok = 0, reloads_failed = 0;
    std::string last_reload_result = "none";
    std::string last_reload_time;
    std::vector<std::string> last_reload_errors;
    std::vector<std::string> last_reload_warnings;
    std::string policy_set_loaded_at;

    // Functions found by selectors (cgroupPath), compiled once per set.
    SelectorMatcher selectors;
    bool path_selectors = false;
    std::map<uint64_t, IdentifiedCgroup> identified;
    uint64_t births_seen = 0, cgroups_identified = 0;
    uint64_t nested_matches_refused = 0;  // selector matches that would have loosened a descendant

    // Kubernetes: pods of this node, from the API server (config.kubeconfig).
    bool pod_selectors = false;
    std::string node_name;
    std::unique_ptr<PodWatcher> pod_watcher;
    UniqueFd pod_wakeup;  // eventfd: the watcher thread has queued changes
    std::mutex pod_changes_mutex;
    std::vector<std::pair<PodInfo, PodEvent>> pod_changes;  // guarded by pod_changes_mutex
    std::map<std::string, std::vector<std::pair<uint64_t, std::string>>> pending_pods;  // pod uid -> cgroups
    size_t pending_count = 0;

    // Functions and clients.
    std::map<uint64_t, Registration> registrations;  // cgroup id -> who asked
    uint64_t launcher_cgroups_emptied = 0, launcher_cgroups_removed = 0;
    std::map<ClientId, TraceFilter> subscribers;
    // Subscriber kLocalClient: this process's own `trace` (control clients
    // are numbered from 1).
    std::function<void(const nlohmann::json&)> local_trace;

    // Counters of the daemon's own work (kernel counters come from the probes).
    uint64_t records = 0, malformed = 0, output_refused = 0, traced_sent = 0;
    FunctionTally per_function;  // capped: function names come from outside
    std::atomic<int64_t> last_loop_tick_ns{0};  // read by /healthz on the HTTP thread
    ServiceNotifier service;                     // systemd: READY=1, WATCHDOG=1 per loop turn
    std::atomic<uint64_t> monitored_count{0};   // read by the metrics thread
    std::atomic<uint64_t> client_dropped{0};    // the control server is loop-thread only

    // Metric families updated on the loop thread.
    CounterFamily* events_total = nullptr;
    CounterFamily* violations_total = nullptr;
    CounterFamily* reloads_total = nullptr;
    HistogramFamily* latency = nullptr;
    // Ring full (docs/threat-model.md, "Flooding the ring buffer"): the
    // kernel's coverage_gaps per slot as last read, and per function since
    // start; births lost (the tree is rescanned when this moves).
    CounterFamily* coverage_gaps_total = nullptr;
    std::map<uint32_t, uint64_t> gaps_seen;
    std::map<std::string, uint64_t> gaps_per_function;
    uint64_t birth_drops_seen = 0, rescans_after_lost_births = 0;

    // Control requests refused (docs/threat-model.md, "A hostile
    // control-socket client"), by reason: status and
    // fnwarden_control_refused_total{reason}.
    std::map<std::string, uint64_t> control_refused;
    CounterFamily* control_refused_total = nullptr;

    std::string start_error;

    // ---- set-up -------------------------------------------------------------
    bool start_up();
    void declare_metrics();
    bool watch(int fd);

    // ---- policies -----------------------------------------------------------
    bool reload(const std::string& why);
    void sweep_retired_slots();
    bool write_slot(uint32_t slot, const FunctionPolicy& policy, std::string* error);
    void refresh_trace_flags();
    void apply_selectors();
    void identify_cgroup(uint64_t cgroup_id, const std::string& relative_path, uint64_t parent_id,
                         const char* found_by);
    std::optional<MonitoredAncestor> monitored_ancestor(const std::string& relative_path, uint64_t parent_id) const;
    void scan_cgroups();
    void account_lost_records(const ProbeCounters& kernel);
    void prune_identified();
    bool start_pod_watcher();
    void handle_pod_changes();
    void publish_violation_summaries();

    // ---- events -------------------------------------------------------------
    void handle_record(std::span<const std::byte> record);
    // A decided record to the outputs and trace clients (also the pinned
    // execs the hash worker decided later).
    void publish_record(const Record& record);
    int hash_wakeup = -1;  // the file decider's hash worker: results ready
    void publish(const nlohmann::json& event, const std::string& function, uint64_t cgroup_id, bool violation,
                 bool to_outputs);

    // ---- control socket -----------------------------------------------------
    void on_message(ClientId client, const nlohmann::json& request);
    void on_disconnect(ClientId client);
    void release_registration(uint64_t cgroup_id, Registration& reg, bool launcher_gone);
    void drain_released();
    nlohmann::json handle_register(ClientId client, const nlohmann::json& request);
    nlohmann::json refuse(const std::string& reason, const std::string& message);
    Monitoring monitoring_of(uint64_t cgroup_id) const;
    bool may_see(const TraceFilter& filter, uint64_t cgroup_id) const;
    nlohmann::json handle_policy_query(const nlohmann::json& request) const;
    nlohmann::json status() const;
    std::string metrics_endpoint() const;

    int loop();
};

// ---- set-up -----------------------------------------------------------------

bool Daemon::Impl::watch(int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    return ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
}

void Daemon::Impl::declare_metrics() {
    events_total = &metrics.counter("fnwarden_events_total", "Events decoded by the daemon, by type.", {"type"});
    violations_total = &metrics.counter("fnwarden_violations_total",
                                        "Policy violations, by function, event type and action taken.",
                                        {"function", "type", "action"});
    reloads_total = &metrics.counter("fnwarden_policy_reloads_total", "Policy set reloads, by result.", {"result"});
    control_refused_total = &metrics.counter(
        "fnwarden_control_refused_total",
        "Control-socket registrations refused, by reason (docs/threat-model.md, \"A hostile control-socket client\").",
        {"reason"});
    // Every reason from the start, at 0: "no refusal", not "no data".
    for (RegisterRefusal r : {RegisterRefusal::limit, RegisterRefusal::path, RegisterRefusal::cgroup_id,
                              RegisterRefusal::monitored, RegisterRefusal::owner}) {
        control_refused_total->with({to_string(r)});
        control_refused[to_string(r)];
    }
    coverage_gaps_total = &metrics.counter(
        "fnwarden_coverage_gaps_total",
        "Accesses neither decided nor reported: the ring buffer was full and the policy only reports.", {"function"});
    latency = &metrics.histogram("fnwarden_event_latency_seconds",
                                 "From the kernel's timestamp to the event leaving the event loop.", {},
                                 {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
    // Read at scrape time on the HTTP thread: only thread-safe sources here
    // (BPF map lookups, the pipeline's locked stats, atomics).
    ProbeSet* p = probes.get();
    declare_kernel_counter_metrics(metrics, [p] { return p->counters(); });
    metrics.gauge_callback("fnwarden_monitored_cgroups", "Cgroups in the kernel's monitored map.",
                           [this] { return static_cast<double>(monitored_count.load()); });
    OutputPipeline* out = output.get();
    metrics.counter_callback("fnwarden_output_dropped_total", "Events the output queue had no room for.",
                             [out] { return static_cast<double>(out->stats().dropped); });
    if (webhook) {
        WebhookSink* hook = webhook;
        metrics.counter_callback("fnwarden_webhook_dropped_total", "Events the webhook sink dropped (any reason).",
                                 [hook] { return static_cast<double>(hook->stats().dropped_events()); });
        metrics.counter_callback("fnwarden_webhook_sent_total", "Events the webhook receiver accepted.",
                                 [hook] { return static_cast<double>(hook->stats().sent_events); });
    }
    metrics.counter_callback("fnwarden_client_dropped_total",
                             "Messages dropped for control clients that read too slowly.",
                             [this] { return static_cast<double>(client_dropped.load()); });
}

bool Daemon::Impl::start_up() {
    rules_dir = config.rules_dir;
    auto root = find_cgroup2_mount();
    if (!root) {
        start_error = "no cgroup2 mount in /proc/self/mountinfo (mount -t cgroup2 none /sys/fs/cgroup)";
        return false;
    }
    cgroup2_root = *root;
    launcher_parent = cgroup2_root / config.cgroup_parent;
    // tracefs and securityfs first: the capabilities and the probes read them.
    if (Status mounted = mount_kernel_filesystems(); !mounted.ok()) spdlog::warn("{}", mounted.error());
    features = probe_kernel_features();

    // Rules before probes: a daemon with no valid policy set should not
    // leave programs attached to every syscall of the host.
    auto initial = load_policy_set(rules_dir);
    if (!initial.ok()) {
        start_error = "invalid rules in " + rules_dir.string() + ":";
        for (const auto& e : initial.errors) start_error += "\n  " + e.to_string();
        return false;
    }

    ProbeOptions options;
    options.cgroup2_root = cgroup2_root;
    options.ringbuf_bytes = config.ringbuf_bytes;
    options.capabilities = features;  // one probe for the load and for status
    auto loaded = ProbeSet::load(options);
    if (auto* err = std::get_if<ProbeError>(&loaded)) {
        start_error = err->message;
        return false;
    }
    probes = std::move(std::get<std::unique_ptr<ProbeSet>>(loaded));
    if (!config.program_stats)
        run_time_stats_error = "enable with --program-stats (costs two clock reads per program run)";
    else if (int fd = enable_run_time_stats(); fd >= 0)
        run_time_stats.reset(fd);
    else
        run_time_stats_error = std::strerror(-fd);
    if (!probes->lsm_available()) spdlog::info("BPF-LSM not available: {}", probes->lsm_error());

    lineage_lookup = LineageLookup::from(*probes, cgroup2_root);
    consumer = RingBufferConsumer::create(probes->ringbuf_fds(),
                                          [this](std::span<const std::byte> r) { handle_record(r); });
    if (!consumer) {
        start_error = std::string("cannot set up the ring buffer consumer: ") + std::strerror(errno);
        return false;
    }

    // Outputs.
    std::vector<std::unique_ptr<EventSink>> sinks;
    std::string error;
    if (config.output != "none") {
        auto lines = JsonLinesSink::open(config.output, &error);
        if (!lines) {
            start_error = "output " + config.output + ": " + error;
            return false;
        }
        sinks.push_back(std::move(lines));
    }
    if (!config.webhook_url.empty()) {
        WebhookOptions hook;
        hook.url = config.webhook_url;
        auto sink = WebhookSink::create(hook, &error);
        if (!sink) {
            start_error = "webhook: " + error;  // not the URL: it may carry a token
            return false;
        }
        webhook = sink.get();
        sinks.push_back(std::move(sink));
    }
    OutputPipelineOptions pipeline;
    pipeline.queue_capacity_lines = config.output_queue_events;
    output = std::make_unique<OutputPipeline>(std::move(sinks), pipeline);

    ControlServerOptions control;
    control.socket_path = config.socket_path;
    control.group = config.socket_group;
    control.admin_group = config.admin_group;
    control.max_queued_bytes_per_client = config.client_queue_bytes;
    auto listening = ControlServer::listen(control);
    if (auto* err = std::get_if<std::string>(&listening)) {
        start_error = *err;
        return false;
    }
    server = std::move(std::get<std::unique_ptr<ControlServer>>(listening));
    server->on_message([this](ClientId c, const nlohmann::json& m) { on_message(c, m); });
    server->on_disconnect([this](ClientId c) { on_disconnect(c); });

    auto watching = RulesWatcher::watch(rules_dir);
    if (auto* err = std::get_if<std::string>(&watching))
        spdlog::warn("not watching {} for changes ({}); SIGHUP still reloads", rules_dir.string(), *err);
    else
        watcher.emplace(std::move(std::get<RulesWatcher>(watching)));

    if (!start_pod_watcher()) return false;

    declare_metrics();
    if (!config.metrics_address.empty()) {
        MetricsServerOptions http;
        http.allow_non_loopback = config.metrics_allow_non_loopback;
        auto health = [this]() -> std::string {
            const int64_t last = last_loop_tick_ns.load();
            const int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
            if (last == 0 || now - last > 5'000'000'000) return "event loop stalled";
            return "";
        };
        auto serving = MetricsServer::start(config.metrics_address, metrics, health, http);
        if (!serving) {
            start_error = "metrics " + config.metrics_address + ": " + serving.error();
            return false;
        }
        metrics_server = std::move(*serving);
    }

    const sigset_t handled = daemon_signal_set();
    signals.reset(::signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK));
    epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!signals.valid() || !epoll.valid() || !watch(signals.get()) || !watch(consumer->epoll_fd()) ||
        !watch(server->fd()) || (watcher && !watch(watcher->fd())) || (pod_wakeup.valid() && !watch(pod_wakeup.get()))) {
        start_error = std::string("event loop set-up: ") + std::strerror(errno);
        return false;
    }
    // Pinned programs are hashed on worker threads: a FIFO or a huge file
    // under a pinned name must not stall this loop (threat-model.md).
    hash_wakeup = file_decider.defer_hashing();
    // A rule's object deleted and made again: read the identities anew so
    // the kernel decides the new object (threat-model.md).
    file_decider.on_rules_stale([this](uint32_t slot) {
        std::string error;
        if (probes && !probes->refresh_file_rules(slot, &error))
            spdlog::warn("policy slot {}: re-reading the file rules' objects failed: {}", slot, error);
    });
    if (hash_wakeup < 0 || !watch(hash_wakeup)) {
        start_error = std::string("exec hash worker: ") + std::strerror(errno);
        return false;
    }

    if (!reload("start")) {
        start_error = "cannot write the policies into the kernel: " +
                      (last_reload_errors.empty() ? std::string("?") : last_reload_errors.front());
        return false;
    }
    return true;
}

// ---- policies -----------------------------------------------------------------

bool Daemon::Impl::write_slot(uint32_t slot, const FunctionPolicy& policy, std::string* error) {
    const Mode mode = effective_mode(config.mode, policy.mode);
    if (!file_decider.set_policy(slot, policy, mode, error)) return false;
    if (!probes->set_policy(slot, policy, mode, error)) return false;
    slot_info[slot] = SlotInfo{policy.function, policy.name, policy.source, mode, KillOnViolation::from(policy, mode)};
    return true;
}

// Parse and validate everything first; only a fully valid set is swapped
// in. The swap writes every new or changed policy into a fresh slot, then
// flips the cgroups over: at every instant each monitored cgroup points at
// a complete policy (the old one or the new one).
bool Daemon::Impl::reload(const std::string& why) {
    last_reload_time = iso_now();
    auto load = load_policy_set(rules_dir);
    auto fail = [&](std::vector<std::string> errors) {
        ++reloads_failed;
        last_reload_result = "error";
        last_reload_errors = std::move(errors);
        reloads_total->with({"error"}).inc();
        for (const auto& e : last_reload_errors) spdlog::error("policy reload ({}): {}", why, e);
        if (policy_set)
            spdlog::error("policy reload ({}): rejected; policy set {} stays in force", why, policy_set->version);
        return false;
    };
    if (!load.ok()) {
        std::vector<std::string> errors;
        for (const auto& e : load.errors) errors.push_back(e.to_string());
        return fail(std::move(errors));
    }
    PolicySet& next = *load.set;
    for (const auto& w : load.warnings) spdlog::warn("{}", w);
    auto matcher = SelectorMatcher::build(next.policies);
    if (auto* err = std::get_if<std::string>(&matcher)) return fail({"selectors: " + *err});
    for (const auto& a : std::get<SelectorMatcher>(matcher).ambiguities()) spdlog::warn("selectors: {}", a);

    std::vector<std::string> changed;  // functions whose slot is rewritten
    for (const auto& policy : next.policies) {
        auto current = function_slot.find(policy.function);
        const bool same = current != function_slot.end() && policy_set &&
                          policy_set->fingerprints.count(policy.function) &&
                          policy_set->fingerprints.at(policy.function) == next.fingerprints.at(policy.function);
        if (!same) changed.push_back(policy.function);
    }

    // 1. New slots for new and changed policies; nothing points at them yet.
    std::map<std::string, uint32_t> fresh;
    auto roll_back = [&] {
        for (auto& [fn, slot] : fresh) slots.release(slot);
    };
    for (const auto& fn : changed) {
        auto slot = slots.acquire();
        std::string error;
        if (!slot) {
            roll_back();
            return fail({"no free policy slot (" + std::to_string(FNW_MAX_POLICIES) + " in the kernel map)"});
        }
        fresh[fn] = *slot;
        if (!write_slot(*slot, *next.find(fn), &error)) {
            roll_back();
            return fail({fn + ": " + error});
        }
    }

    // 2. Flip: every cgroup of a changed function to its new slot.
    for (const auto& [fn, slot] : fresh) {
        auto old = function_slot.find(fn);
        if (old != function_slot.end()) {
            const size_t moved = probes->retarget_cgroups(old->second, slot);
            spdlog::info("{}: policy updated (slot {} -> {}, {} cgroups moved)", display_name(fn), old->second, slot, moved);
            retired.push_back({old->second, slot, std::nullopt});
        }
        function_slot[fn] = slot;
    }
    // 3. Removed functions: their cgroups are no longer monitored. Keeping
    //    an old policy nobody can see or change would be worse.
    for (auto it = function_slot.begin(); it != function_slot.end();) {
        if (next.find(it->first)) {
            ++it;
            continue;
        }
        spdlog::warn("{}: policy removed; its cgroups are no longer monitored", display_name(it->first));
        retired.push_back({it->second, std::nullopt, std::nullopt});
        it = function_slot.erase(it);
    }
    sweep_retired_slots();

    const bool first = !policy_set;
    const std::string before = first ? "" : policy_set->version;
    policy_set = std::move(next);
    selectors = std::move(std::get<SelectorMatcher>(matcher));
    policy_set_loaded_at = last_reload_time;
    ++reloads_ok;
    last_reload_result = "ok";
    last_reload_errors.clear();
    last_reload_warnings = std::move(load.warnings);
    reloads_total->with({"ok"}).inc();
    apply_selectors();
    if (first)
        spdlog::info("policy set {} loaded from {}: {} policies", policy_set->version, rules_dir.string(),
                     policy_set->policies.size());
    else
        spdlog::info("policy reload ({}): {} -> {}, {} policies changed", why, before, policy_set->version,
                     changed.size());
    refresh_trace_flags();
    return true;
}

// Children created by cgroup_mkdir while a reload ran may have copied an old
// slot; they are moved here. A slot is freed once nothing points at it and
// the records that may name it have had time to drain.
void Daemon::Impl::sweep_retired_slots() {
    if (retired.empty()) return;
    const auto now = std::chrono::steady_clock::now();
    const auto monitored = probes->monitored_cgroups();
    for (auto& r : retired) {
        bool referenced = false;
        for (const auto& [cgroup_id, entry] : monitored) {
            if (entry.policy_id != r.from) continue;
            referenced = true;
            if (r.to) break;  // retarget_cgroups below moves them all
            probes->unmonitor_cgroup(cgroup_id);
            registrations.erase(cgroup_id);  // released or not: its policy is gone
        }
        if (referenced) {
            if (r.to) probes->retarget_cgroups(r.from, *r.to);
            r.empty_since.reset();  // look again next time
        } else if (!r.empty_since) {
            // From here no new reference can appear: cgroup_mkdir copies a
            // parent's entry, and no entry names this slot any more.
            r.empty_since = now;
        }
    }
    std::erase_if(retired, [&](const RetiredSlot& r) {
        if (!r.empty_since || now - *r.empty_since < kSlotGrace) return false;
        slots.release(r.from);
        return true;
    });
}

// Allowed events cross the ring buffer only for cgroups with TRACE set: for
// launchers that asked for --trace, and while a `trace` client wants the
// allowed events of that function. Cleared again when nobody asks.
void Daemon::Impl::refresh_trace_flags() {
    std::set<std::string> traced;
    std::set<uint64_t> traced_cgroups;  // for members who see only their own
    for (const auto& [id, reg] : registrations)
        if (reg.trace) traced.insert(reg.function);
    for (const auto& [client, filter] : subscribers) {
        if (filter.only_uid) {
            // Only the cgroups its uid registered: a member must not turn on
            // allowed events (ring-buffer load) for everybody's functions.
            for (const auto& [id, reg] : registrations)
                if (reg.uid == *filter.only_uid && filter.wants_allowed_events_of(reg.function))
                    traced_cgroups.insert(id);
            continue;
        }
        for (const auto& [fn, slot] : function_slot)
            if (filter.wants_allowed_events_of(fn)) traced.insert(fn);
    }
    auto monitored = probes->monitored_cgroups();
    monitored_count = monitored.size();
    for (auto [cgroup_id, entry] : monitored) {
        auto info = slot_info.find(entry.policy_id);
        if (info == slot_info.end()) continue;
        const bool want = traced.count(info->second.function) > 0 || traced_cgroups.count(cgroup_id) > 0;
        if (want == ((entry.flags & FNW_CGROUP_TRACE) != 0)) continue;
        entry.flags = want ? (entry.flags | FNW_CGROUP_TRACE) : (entry.flags & ~uint32_t{FNW_CGROUP_TRACE});
        probes->monitor_cgroup(cgroup_id, entry);
    }
}

// ---- functions found by selectors ----------------------------------------------

// After every successful reload: hear of cgroup births only while a selector
// needs them, and look at what already exists (functions started before the
// daemon, or before their policy was added).
void Daemon::Impl::apply_selectors() {
    path_selectors = std::any_of(policy_set->policies.begin(), policy_set->policies.end(),
                                 [](const FunctionPolicy& p) { return !p.selector.cgroup_path.empty(); });
    pod_selectors = std::any_of(policy_set->policies.begin(), policy_set->policies.end(),
                                [](const FunctionPolicy& p) { return p.selector.pod.has_value(); });
    if (pod_selectors && !pod_watcher)
        spdlog::warn("policies select pods but no kubeconfig is set: they match nothing (--kubeconfig)");
    const bool wanted = path_selectors || (pod_selectors && pod_watcher);
    probes->report_cgroup_births(wanted);
    if (wanted) scan_cgroups();
}

void Daemon::Impl::identify_cgroup(uint64_t cgroup_id, const std::string& relative_path, uint64_t parent_id,
                                   const char* found_by) {
    // A launcher's registration is more specific than any pattern.
    if (registrations.count(cgroup_id)) return;
    auto match = selectors.match_cgroup(relative_path);
    IdentifiedCgroup who;
    who.path = relative_path;
    who.found_by = found_by;
    if (pod_watcher) {
        // A container of a pod on this node? Its labels may select a policy
        // and its names go into every event.
        auto container = parse_container_cgroup_path("/" + relative_path);
        if (container && !container->pod_uid.empty()) {
            auto pod = pod_watcher->pod_by_uid(container->pod_uid);
            if (!pod) pod = pod_watcher->pod_by_container(container->container_id);  // static pods
            if (pod) {
                who.k8s_namespace = pod->namespace_;
                who.k8s_pod = pod->name;
                who.container_id = container->container_id;
                if (!match && pod_selectors) {
                    match = selectors.match_pod(pod->namespace_, pod->labels);
                    if (match) {
                        who.found_by = "pod";
                        if (!pod->function.empty()) match->function = pod->function;  // faas_function, ...
                    }
                }
            } else if (!match && pod_selectors) {
                if (pending_count >= kMaxPendingPodCgroups) {
                    spdlog::warn("{} container cgroups wait for their pod: dropping the backlog", pending_count);
                    pending_pods.clear();
                    pending_count = 0;
                }
                pending_pods[container->pod_uid].emplace_back(cgroup_id, relative_path);
                ++pending_count;
                return;
            }
        }
    }
    if (!match) return;
    const FunctionPolicy& policy = policy_set->policies.at(match->policy_index);
    const uint32_t slot = function_slot.at(policy.function);
    who.names_function = who.found_by == "pod" || selector_names_function(policy.selector);
    // Below a monitored cgroup, a match must not loosen what the cgroup
    // inherits (daemon/nesting.hpp): a function could otherwise make a child
    // cgroup that a catch-all matches and move into it.
    if (auto ancestor = monitored_ancestor(relative_path, parent_id)) {
        auto inherited_info = slot_info.find(ancestor->entry.policy_id);
        const Mode inherited = inherited_info == slot_info.end() ? Mode::Enforce : inherited_info->second.mode;
        if (!nested_match_applies(ancestor->origin, inherited, slot_info.at(slot).mode)) {
            auto existing = probes->monitored_cgroup(cgroup_id);
            if (!existing || existing->policy_id != ancestor->entry.policy_id) {
                // Not yet (a scan) or no longer (a match before this rule) the ancestor's.
                fnw_cgroup_entry entry = ancestor->entry;
                entry.flags = (entry.flags | FNW_CGROUP_INHERITED) & ~uint32_t{FNW_CGROUP_ARM_ON_EXEC};
                std::string error;
                if (!probes->monitor_cgroup(cgroup_id, entry, &error))
                    spdlog::error("cgroup {}: cannot keep its ancestor's policy: {}", display_name(relative_path),
                                  error);
            }
            auto known = identified.find(cgroup_id);
            if (known == identified.end() || !known->second.kept_ancestors) {
                ++nested_matches_refused;
                spdlog::warn("{}: cgroup {} matches policy {} but stays under the policy of {} ({}, {}): a "
                             "nested cgroup never loosens its policy",
                             display_name(ancestor->function), display_name(relative_path),
                             display_name(policy.name), display_name(ancestor->path), to_string(ancestor->origin),
                             display_name(inherited_info == slot_info.end() ? "?" : inherited_info->second.policy));
            }
            who.function = ancestor->function;
            who.found_by = "below " + ancestor->path;
            who.names_function = true;
            who.kept_ancestors = true;
            identified[cgroup_id] = std::move(who);
            return;
        }
    }
    auto existing = probes->monitored_cgroup(cgroup_id);
    // An entry the kernel copied from a parent (a default policy for the
    // parent's unknown children, say) is upgraded to the function's own.
    fnw_cgroup_entry entry{};
    entry.policy_id = slot;
    entry.flags = existing ? (existing->flags & uint32_t{FNW_CGROUP_TRACE}) : 0u;
    std::string error;
    if (!probes->monitor_cgroup(cgroup_id, entry, &error)) {
        spdlog::error("{}: cannot monitor cgroup {}: {}", display_name(match->function), display_name(relative_path),
                      error);
        return;
    }
    (void)parent_id;
    if (!identified.count(cgroup_id) || identified[cgroup_id].function != match->function)
        spdlog::info("{}: cgroup {} matched policy {} ({}{})", display_name(match->function),
                     display_name(relative_path), display_name(policy.name), who.found_by,
                     who.k8s_pod.empty() ? "" : ", pod " + display_name(who.k8s_namespace + "/" + who.k8s_pod));
    who.function = match->function;
    identified[cgroup_id] = std::move(who);
    ++cgroups_identified;
}

// Walks up from a cgroup (its parent first: `parent_id` when the kernel gave
// it, else by path) to the nearest monitored cgroup, then on through the
// monitored ones to where their policy came from. Bounded like the scan.
std::optional<MonitoredAncestor> Daemon::Impl::monitored_ancestor(const std::string& relative_path,
                                                                  uint64_t parent_id) const {
    std::optional<MonitoredAncestor> nearest;
    std::filesystem::path dir = std::filesystem::path(relative_path).parent_path();
    for (int depth = 0; !dir.empty() && depth < kMaxScanDepth; ++depth, dir = dir.parent_path()) {
        const auto id = depth == 0 && parent_id ? std::optional<uint64_t>(parent_id) : cgroup_id_of(cgroup2_root / dir);
        if (!id) break;
        auto entry = probes->monitored_cgroup(*id);
        if (!entry) {
            if (nearest) break;  // the chain of inherited entries ends here
            continue;
        }
        if (!nearest) nearest = MonitoredAncestor{*id, *entry, AncestorOrigin::Unknown, "", dir.string()};
        if (auto reg = registrations.find(*id); reg != registrations.end()) {
            nearest->origin = AncestorOrigin::Registered;
            nearest->function = reg->second.function;
            nearest->path = dir.string();
            return nearest;
        }
        if (auto found = identified.find(*id); found != identified.end() && !found->second.kept_ancestors) {
            nearest->origin = found->second.names_function ? AncestorOrigin::Function : AncestorOrigin::Default;
            nearest->function = found->second.function;
            nearest->path = dir.string();
            return nearest;
        }
        // An entry inherited at mkdir (or kept by this rule): look further up.
    }
    if (nearest) {
        auto info = slot_info.find(nearest->entry.policy_id);
        nearest->function = info == slot_info.end() ? "unknown" : info->second.function;
    }
    return nearest;
}

// The cgroup tree as it is: each directory is matched; one below a monitored
// directory that matches nothing itself gets its parent's entry, as
// cgroup_mkdir would have given it had we been running.
void Daemon::Impl::scan_cgroups() {
    std::error_code ec;
    auto it = std::filesystem::recursive_directory_iterator(
        cgroup2_root, std::filesystem::directory_options::skip_permission_denied, ec);
    size_t seen = 0;
    for (; !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_directory(ec) || it->is_symlink(ec)) {
            continue;
        }
        if (it.depth() >= kMaxScanDepth) {
            it.disable_recursion_pending();
            continue;
        }
        if (++seen > kMaxScanCgroups) {
            spdlog::warn("cgroup scan stopped after {} cgroups", kMaxScanCgroups);
            break;
        }
        const auto id = cgroup_id_of(it->path());
        if (!id) continue;
        const std::string relative = std::filesystem::relative(it->path(), cgroup2_root, ec).string();
        identify_cgroup(*id, relative, 0, "cgroupPath, found at scan");
        if (probes->monitored_cgroup(*id)) continue;
        const auto parent = cgroup_id_of(it->path().parent_path());
        if (!parent) continue;
        if (auto parent_entry = probes->monitored_cgroup(*parent)) {
            fnw_cgroup_entry inherited = *parent_entry;
            inherited.flags |= FNW_CGROUP_INHERITED;
            inherited.flags &= ~uint32_t{FNW_CGROUP_ARM_ON_EXEC};
            probes->monitor_cgroup(*id, inherited);
        }
    }
    if (ec) spdlog::warn("cgroup scan of {}: {}", cgroup2_root.string(), ec.message());
    monitored_count = probes->monitored_cgroups().size();
}

// Records the kernel could not queue (ring full). Coverage gaps are counted
// per policy slot and never reset there: the delta since the last read goes
// to the function the slot belongs to. A lost cgroup birth may be a function
// a selector should have found: the tree is scanned again, as at a reload.
void Daemon::Impl::account_lost_records(const ProbeCounters& kernel) {
    // Every function of the policy set has its series from the start, at 0:
    // a scraper (and an alert on increase()) sees "no gap", not "no data".
    for (const auto& [slot, info] : slot_info) coverage_gaps_total->with({info.function});
    for (const auto& [slot, total] : probes->coverage_gaps()) {
        uint64_t& seen = gaps_seen[slot];
        if (total <= seen) continue;
        auto info = slot_info.find(slot);
        const std::string function = info == slot_info.end() ? "unknown" : info->second.function;
        spdlog::warn("{}: {} accesses neither decided nor reported: ring buffer full", display_name(function),
                     total - seen);
        // Bounded like per_function: names of policies loaded over time.
        if (gaps_per_function.size() < per_function.max_functions() || gaps_per_function.count(function))
            gaps_per_function[function] += total - seen;
        coverage_gaps_total->with({function}).inc(total - seen);
        seen = total;
    }
    if (kernel.birth_drops > birth_drops_seen && (path_selectors || (pod_selectors && pod_watcher))) {
        spdlog::warn("{} cgroup births lost: ring buffer full; rescanning the cgroup tree",
                     kernel.birth_drops - birth_drops_seen);
        scan_cgroups();
        ++rescans_after_lost_births;
    }
    birth_drops_seen = kernel.birth_drops;
}

bool Daemon::Impl::start_pod_watcher() {
    if (config.kubeconfig.empty()) return true;
    auto endpoint = config.kubeconfig == "in-cluster" ? in_cluster_config() : kubeconfig_file(config.kubeconfig);
    if (!endpoint) {
        start_error = "kubernetes (" + config.kubeconfig + "): " + endpoint.error();
        return false;
    }
    node_name = config.node_name;
    if (node_name.empty())
        if (const char* env = std::getenv("NODE_NAME")) node_name = env;
    if (node_name.empty()) {
        char host[256] = {};
        if (::gethostname(host, sizeof(host) - 1) == 0) node_name = host;
    }
    pod_wakeup.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!pod_wakeup.valid()) {
        start_error = std::string("eventfd: ") + std::strerror(errno);
        return false;
    }
    PodWatcherOptions options;
    options.node_name = node_name;
    // On the watcher's thread: queue and wake the loop, nothing else.
    options.on_change = [this](const PodInfo& pod, PodEvent event) {
        {
            std::lock_guard lock(pod_changes_mutex);
            pod_changes.emplace_back(pod, event);
        }
        const uint64_t one = 1;
        (void)!::write(pod_wakeup.get(), &one, sizeof(one));
    };
    auto started = PodWatcher::start(*endpoint, options);
    if (!started) {
        start_error = "kubernetes pod watcher: " + started.error();
        return false;
    }
    pod_watcher = std::move(*started);
    spdlog::info("watching the pods of node {} ({})", display_name(node_name), display_name(config.kubeconfig));
    return true;
}

void Daemon::Impl::handle_pod_changes() {
    uint64_t count = 0;
    (void)!::read(pod_wakeup.get(), &count, sizeof(count));
    std::vector<std::pair<PodInfo, PodEvent>> changes;
    {
        std::lock_guard lock(pod_changes_mutex);
        changes.swap(pod_changes);
    }
    for (const auto& [pod, event] : changes) {
        auto waiting = pending_pods.find(pod.uid);
        if (waiting == pending_pods.end()) continue;
        auto cgroups = std::move(waiting->second);
        pending_pods.erase(waiting);
        pending_count -= std::min(pending_count, cgroups.size());
        if (event == PodEvent::Deleted || !policy_set) continue;
        for (const auto& [cgroup_id, path] : cgroups) {
            // Still the same cgroup? (It may be gone, its id never reused.)
            if (cgroup_id_of(cgroup2_root / path) != cgroup_id) continue;
            identify_cgroup(cgroup_id, path, 0, "pod");
        }
    }
}

// cgroup_rmdir removed the kernel entry; forget the name too.
void Daemon::Impl::prune_identified() {
    for (auto it = identified.begin(); it != identified.end();)
        it = probes->monitored_cgroup(it->first) ? std::next(it) : identified.erase(it);
}

// ---- events -----------------------------------------------------------------

void Daemon::Impl::handle_record(std::span<const std::byte> record) {
    ++records;
    auto decoded = decode_record(record);
    if (!decoded) {
        ++malformed;
        return;
    }
    const fnw_event_header hdr = header(*decoded);
    if (const auto* birth = std::get_if<CgroupRecord>(&*decoded)) {
        // Identity input, not a policy event: match it, publish nothing.
        ++births_seen;
        if ((*birth)->path_truncated) {
            spdlog::warn("cgroup {} has a path longer than {} bytes: no selector can match it", hdr.cgroup_id,
                         FNW_CGROUP_PATH_MAX - 1);
            return;
        }
        if (policy_set && (path_selectors || (pod_selectors && pod_watcher)))
            identify_cgroup(hdr.cgroup_id, std::string(bounded((*birth)->path)), (*birth)->parent_id, "cgroupPath");
        return;
    }
    auto info = slot_info.find(hdr.policy_id);
    static const SlotInfo unknown{"unknown", "", "", Mode::Audit, {}};
    const SlotInfo& slot = info == slot_info.end() ? unknown : info->second;
    // Pinned execs come back later, through the hash worker (loop()).
    respond_to_record(std::move(*decoded), slot.kill, [this](const Record& r) { publish_record(r); }, &file_decider,
                      &lineage_lookup);
}

// Repeats the kernel counted instead of reporting (violation_tally) since
// the last look: one summary record per violation that repeated.
void Daemon::Impl::publish_violation_summaries() {
    for (const auto& summary : probes->take_violation_summaries())
        publish_record(Record(summary));
}

void Daemon::Impl::publish_record(const Record& r) {
    const fnw_event_header& hdr = header(r);
    auto info = slot_info.find(hdr.policy_id);
    static const SlotInfo unknown{"unknown", "", "", Mode::Audit, {}};
    const SlotInfo& slot = info == slot_info.end() ? unknown : info->second;
    // A capture group in a cgroupPath selector names the function per cgroup.
    auto found = identified.find(hdr.cgroup_id);
    const std::string& function = found != identified.end() ? found->second.function : slot.function;
    const bool violation = is_violation(r);  // the file decider may have decided it
    // /proc lookups only for violations: a traced flood must stay cheap.
    EventContext ctx{function, slot.policy, slot.mode, /*resolve_exe=*/violation};
    auto event = to_json(r, ctx, clock);
    if (!event) {
        ++malformed;
        return;
    }
    if (found != identified.end() && !found->second.k8s_pod.empty())
        (*event)["k8s"] = {{"namespace", found->second.k8s_namespace},
                           {"pod", found->second.k8s_pod},
                           {"container_id", found->second.container_id}};
    // Allowed events reach the outputs only when a launcher asked for
    // --trace; a trace client's interest is its own.
    bool to_outputs = violation;
    if (!violation) {
        auto reg = registrations.find(hdr.cgroup_id);
        to_outputs = reg != registrations.end() && reg->second.trace;
    }
    publish(*event, function, hdr.cgroup_id, violation, to_outputs);
    const uint64_t now = boot_now_ns();
    if (now > hdr.boot_ns) latency->with({}).observe(static_cast<double>(now - hdr.boot_ns) / 1e9);
}

void Daemon::Impl::publish(const nlohmann::json& event, const std::string& function, uint64_t cgroup_id,
                           bool violation, bool to_outputs) {
    const std::string type = event.value("type", "unknown");
    events_total->with({type}).inc();
    if (type == "violation_summary" && event.contains("of") && event["of"].is_object()) {
        // Repeats the kernel counted: N violations of the kind they repeat.
        const uint64_t repeats = event.value("repeats", uint64_t{0});
        per_function.count(function, true, repeats);
        violations_total->with({function, event["of"].value("type", "unknown"), "repeated"}).inc(repeats);
    } else {
        per_function.count(function, violation);
        if (violation) violations_total->with({function, type, event.value("action", "")}).inc();
    }
    std::string line = event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (!subscribers.empty()) {
        const std::string message = R"({"type":"event","event":)" + line + "}";
        for (const auto& [client, filter] : subscribers) {
            if (!filter.matches(event, function, violation) || !may_see(filter, cgroup_id)) continue;
            if (client == kLocalClient) {
                local_trace(event);
                ++traced_sent;
            } else if (server->send_line(client, message)) {
                ++traced_sent;
            }
        }
    }
    if (to_outputs && !output->push(std::move(line))) ++output_refused;
}

// ---- control socket -----------------------------------------------------------

void Daemon::Impl::on_message(ClientId client, const nlohmann::json& request) {
    const std::string op = request.value("op", "");
    auto reply_error = [&](const std::string& message) {
        server->send(client, {{"type", "error"}, {"error", message}});
    };
    try {
        if (op == "status") {
            server->send(client, status());
            server->close_after_flush(client);
        } else if (op == "policy") {
            server->send(client, handle_policy_query(request));
        } else if (op == "register") {
            server->send(client, handle_register(client, request));
        } else if (op == "unregister") {
            const uint64_t cgroup_id = request.at("cgroup_id").get<uint64_t>();
            auto reg = registrations.find(cgroup_id);
            if (reg != registrations.end() && reg->second.client == client) {
                release_registration(cgroup_id, reg->second, /*launcher_gone=*/false);
                refresh_trace_flags();
            }
            server->send(client, {{"type", "unregistered"}, {"cgroup_id", cgroup_id}});
        } else if (op == "event") {
            // An event the launcher produced itself (seccomp stopped the
            // syscall before any probe saw it): one stream for everything.
            auto reg_it = std::find_if(registrations.begin(), registrations.end(),
                                       [&](const auto& r) { return r.second.client == client; });
            if (reg_it == registrations.end()) return reply_error("event from a client with no registered function");
            nlohmann::json event = request.at("event");
            if (!event.is_object()) return reply_error("event must be an object");
            event["function"] = reg_it->second.function;
            event["source"] = "launcher";
            const bool violation = event.value("verdict", "") == "violation";
            publish(event, reg_it->second.function, reg_it->first, violation, violation || reg_it->second.trace);
        } else if (op == "trace") {
            std::string error;
            auto filter = parse_trace_filter(request, &error);
            if (!filter) return reply_error(error);
            // One subscription per connection (a second replaces the first):
            // max_clients bounds them, clientQueueBytes what each may queue.
            const auto peer = server->peer(client);
            if (!peer || !peer->admin) filter->only_uid = peer ? peer->uid : 0;
            subscribers[client] = std::move(*filter);
            server->send(client, {{"type", "subscribed"}});
            refresh_trace_flags();
        } else if (op == "reload") {
            const bool ok = reload("requested by client");
            server->send(client, {{"type", "reloaded"},
                                  {"ok", ok},
                                  {"version", policy_set ? policy_set->version : ""},
                                  {"errors", last_reload_errors}});
        } else {
            reply_error("unknown op \"" + op + "\" (status, policy, register, unregister, event, trace, reload)");
        }
    } catch (const nlohmann::json::exception& e) {
        reply_error(std::string("bad request: ") + e.what());
    }
}

void Daemon::Impl::on_disconnect(ClientId client) {
    bool changed = subscribers.erase(client) > 0;
    for (auto it = registrations.begin(); it != registrations.end();) {
        if (it->second.client != client) {
            ++it;
            continue;
        }
        // The launcher is gone; what it left there stays guarded until the
        // cgroup is emptied and gone (release_registration()). The entry is
        // this client's own: handle_register never lets a registration
        // replace one (a guarded cgroup is refused), so releasing it never
        // disarms what another launcher or a selector put there.
        release_registration(it->first, it->second, /*launcher_gone=*/true);
        ++it;
        changed = true;
    }
    if (changed) refresh_trace_flags();
}

// A launcher let go of its cgroup (unregister), or is gone (its connection
// closed: killed, crashed, OOM). PDEATHSIG reached only the function's main
// process; a double-forked grandchild may still run there. Its entry stays
// in the kernel map (it is still checked) until the cgroup is gone, and a
// run's cgroup is emptied: cgroup.kill, or a SIGKILL walk of every
// descendant's cgroup.procs, until cgroup.events says "populated 0"
// (drain_released(), each loop turn, bounded). Only cgroups under
// <cgroup2>/fnwarden, where `fnwarden run` makes them, are emptied: a
// client must not be able to have the daemon kill any cgroup it registered.
void Daemon::Impl::release_registration(uint64_t cgroup_id, Registration& reg, bool launcher_gone) {
    if (!reg.released) {
        reg.released = true;
        reg.released_at = std::chrono::steady_clock::now();
        const std::filesystem::path runs = cgroup2_root / "fnwarden";
        const std::filesystem::path path(reg.path);
        reg.ours_to_empty = !reg.path.empty() && path.parent_path() == runs && cgroup_id_of(path) == cgroup_id;
    }
    reg.launcher_gone = reg.launcher_gone || launcher_gone;
    reg.trace = false;  // the launcher's --trace ended with it
    if (launcher_gone && cgroup_populated(reg.path) == Populated::Yes)
        spdlog::warn("{}: launcher gone (pid {}), processes left in cgroup {}: {}", display_name(reg.function),
                     reg.pid, display_name(reg.path),
                     reg.ours_to_empty ? "still guarded; emptying it" : "still guarded until it is removed");
    // Emptied by drain_released() at the end of this loop turn: not from
    // here, where callers iterate over the registrations it may erase.
}

// Released registrations: empty a run's cgroup, remove it once its launcher
// is gone, and forget the registration when the kernel entry is gone
// (cgroup_rmdir deletes it). Each loop turn: one pass over the
// registrations, file reads only for released ones.
void Daemon::Impl::drain_released() {
    const auto now = std::chrono::steady_clock::now();
    for (auto it = registrations.begin(); it != registrations.end();) {
        Registration& reg = it->second;
        if (!reg.released) {
            ++it;
            continue;
        }
        const Populated populated = reg.path.empty() ? Populated::Yes : cgroup_populated(reg.path);
        if (!probes->monitored_cgroup(it->first) || populated == Populated::Gone) {
            // Gone: cgroup_rmdir took the entry (or the directory vanished
            // between two reads; then the entry goes here).
            probes->unmonitor_cgroup(it->first);
            it = registrations.erase(it);
            continue;
        }
        if (reg.ours_to_empty && populated == Populated::Yes) {
            if (!reg.last_kill || now - *reg.last_kill >= kRekillInterval) {
                size_t signalled = 0;
                const KillMethod how = kill_cgroup_tree(reg.path, &signalled);
                if (reg.kills_sent++ == 0)
                    spdlog::info("{}: emptying cgroup {} ({})", display_name(reg.function), display_name(reg.path),
                                 how == KillMethod::CgroupKill ? "cgroup.kill"
                                                               : "SIGKILL to " + std::to_string(signalled) + " pids");
                reg.last_kill = now;
            }
            if (!reg.stuck_reported && now - *reg.released_at > kEmptyingBound) {
                reg.stuck_reported = true;
                spdlog::error("{}: cgroup {} still has processes {} s after its launcher let go; they stay guarded "
                              "and the daemon keeps killing them",
                              display_name(reg.function), display_name(reg.path),
                              std::chrono::duration_cast<std::chrono::seconds>(kEmptyingBound).count());
            }
        } else if (reg.ours_to_empty && populated == Populated::No) {
            if (reg.kills_sent > 0 && !reg.emptied) {
                reg.emptied = true;
                ++launcher_cgroups_emptied;
                spdlog::info("{}: cgroup {} emptied (launcher {})", display_name(reg.function),
                             display_name(reg.path), reg.launcher_gone ? "gone" : "unregistered");
            }
            // Nobody else will remove it once the launcher (and its reaper)
            // is gone; a live launcher removes its own. EBUSY for a moment
            // after the last exit: tried again next turn.
            if (reg.launcher_gone && remove_cgroup_tree(reg.path)) ++launcher_cgroups_removed;
        }
        ++it;
    }
}

nlohmann::json Daemon::Impl::handle_policy_query(const nlohmann::json& request) const {
    const std::string function = request.at("function").get<std::string>();
    const FunctionPolicy* policy = policy_set ? policy_set->find(function) : nullptr;
    if (!policy)
        return {{"type", "error"}, {"error", "no policy for function \"" + function + "\" in " + rules_dir.string()}};
    nlohmann::json reply = {{"type", "policy"},
                            {"function", function},
                            {"name", policy->name},
                            {"file", policy->source},
                            {"mode", to_string(effective_mode(config.mode, policy->mode))},
                            {"version", policy_set->version}};
    if (policy_set->baseline) reply["baseline"] = policy_set->baseline->source;
    return reply;
}

nlohmann::json Daemon::Impl::refuse(const std::string& reason, const std::string& message) {
    ++control_refused[reason];
    control_refused_total->with({reason}).inc();
    return {{"type", "error"}, {"error", "register refused: " + message}, {"reason", reason}};
}

// Anything already guarding the cgroup: a registration must not replace it.
Monitoring Daemon::Impl::monitoring_of(uint64_t cgroup_id) const {
    if (registrations.count(cgroup_id)) return Monitoring::registered;
    if (identified.count(cgroup_id)) return Monitoring::identified;
    if (probes->monitored_cgroup(cgroup_id)) return Monitoring::in_kernel;
    return Monitoring::none;
}

bool Daemon::Impl::may_see(const TraceFilter& filter, uint64_t cgroup_id) const {
    if (!filter.only_uid) return true;
    auto reg = registrations.find(cgroup_id);
    return reg != registrations.end() && reg->second.uid == *filter.only_uid;
}

// Who may register what: register_policy.hpp. Everything the decision needs
// is read here, from one opened directory and the daemon's own maps.
nlohmann::json Daemon::Impl::handle_register(ClientId client, const nlohmann::json& request) {
    const std::optional<ControlPeer> peer = server->peer(client);
    if (!peer) return {{"type", "error"}, {"error", "client gone"}};
    Registration reg;
    reg.function = request.at("function").get<std::string>();
    reg.path = request.value("cgroup_path", "");
    reg.pid = request.value("pid", 0);
    reg.trace = request.value("trace", false);
    reg.landlock = request.value("landlock", false);
    reg.client = client;
    reg.uid = peer->uid;
    auto slot = function_slot.find(reg.function);
    if (slot == function_slot.end())
        return {{"type", "error"},
                {"error", "no policy for function \"" + reg.function + "\" in " + rules_dir.string()}};

    RegisterRequestFacts facts;
    facts.peer_uid = peer->uid;
    facts.peer_privileged = peer->privileged;
    facts.path = reg.path;
    facts.parent = launcher_parent;
    if (request.contains("cgroup_id")) facts.requested_id = request.at("cgroup_id").get<uint64_t>();
    facts.client_registrations = static_cast<size_t>(std::count_if(
        registrations.begin(), registrations.end(), [&](const auto& r) { return r.second.client == client; }));
    if (auto leaf = register_path_leaf(reg.path, launcher_parent, nullptr)) {
        auto inspected = inspect_cgroup(launcher_parent, *leaf);
        if (auto* found = std::get_if<CgroupFacts>(&inspected)) {
            facts.cgroup = *found;
            facts.monitoring = monitoring_of(found->id);
        } else {
            facts.open_error = std::get<std::string>(inspected);
        }
    }
    const RegisterDecision decision = authorize_register(facts);
    if (!decision.allowed()) {
        spdlog::warn("{}: register refused to client {} (pid {}, uid {}): {}", display_name(reg.function), client,
                     peer->pid, peer->uid, display_name(decision.message));
        return refuse(to_string(decision.refusal), decision.message);
    }
    const uint64_t cgroup_id = facts.cgroup->id;

    std::string error;
    if (reg.landlock && !probes->attach_landlock_reporting(&error)) return {{"type", "error"}, {"error", error}};
    fnw_cgroup_entry entry{};
    entry.policy_id = slot->second;
    entry.flags = FNW_CGROUP_ARM_ON_EXEC | (reg.landlock ? uint32_t{FNW_CGROUP_LANDLOCK} : 0u);
    if (!probes->monitor_cgroup(cgroup_id, entry, &error)) return {{"type", "error"}, {"error", error}};
    const SlotInfo& info = slot_info.at(slot->second);
    spdlog::info("{}: cgroup {} registered by pid {} uid {} (policy {}, {})", display_name(reg.function),
                 display_name(reg.path), reg.pid, reg.uid, display_name(info.policy), to_string(info.mode));
    identified.erase(cgroup_id);  // a selector may have matched its birth first: the launcher names it
    registrations[cgroup_id] = std::move(reg);
    refresh_trace_flags();  // may set TRACE (launcher --trace, or a trace client)
    return {{"type", "registered"},
            {"cgroup_id", cgroup_id},
            {"policy_id", slot->second},
            {"policy", info.policy},
            {"mode", to_string(info.mode)}};
}

std::string Daemon::Impl::metrics_endpoint() const { return metrics_server->address(); }

nlohmann::json Daemon::Impl::status() const {
    using nlohmann::json;
    json s;
    s["type"] = "status";
    s["daemon"] = {{"version", "0.1.0"},
                   {"pid", ::getpid()},
                   {"started", started_at},
                   {"uptime_seconds", std::chrono::duration_cast<std::chrono::seconds>(
                                          std::chrono::steady_clock::now() - started)
                                          .count()},
                   {"mode", to_string(config.mode)},
                   {"rules", rules_dir.string()},
                   {"socket", config.socket_path},
                   // The bound address: port 0 in the config means "any free one".
                   {"metrics", metrics_server ? metrics_endpoint() : ""},
                   {"output", config.output},
                   {"webhook", webhook ? webhook->name() : ""}};  // without credentials

    json kernel = {{"release", features.release},
                   {"seccomp_user_notif", features.seccomp_user_notif},
                   {"landlock_abi", features.landlock_abi ? json(*features.landlock_abi) : json(nullptr)},
                   {"lsm_programs", probes->lsm_available() ? "loaded" : probes->lsm_error()}};
    json hooks = json::object();
    for (const auto& [hook, why] : probes->lsm_hooks()) hooks[hook] = why.empty() ? "loaded" : why;
    kernel["lsm_hooks"] = hooks;
    if (features.active_lsms)
        kernel["active_lsms"] = *features.active_lsms;
    else
        kernel["active_lsms"] = nullptr;  // securityfs not mounted
    s["kernel"] = kernel;

    json matrix = json::array();
    for (const auto& row : enforcement_matrix(features, LsmStatus{probes->lsm_error(), probes->lsm_hooks()}))
        matrix.push_back({{"events", row.event_class},
                          {"launched", row.launched},
                          {"watched", row.watched},
                          {"not_used", row.rejected}});
    s["enforcement"] = matrix;

    json programs = json::array();
    for (const auto& p : probes->program_stats())
        programs.push_back({{"name", p.name},
                            {"section", p.section},
                            {"loaded", p.loaded},
                            {"attached", p.attached},
                            {"run_count", p.run_count},
                            {"run_time_ns", p.run_time_ns}});
    s["programs"] = programs;
    s["programs_stats"] = run_time_stats.valid() ? "on" : "off: " + run_time_stats_error;

    json policies = {{"version", policy_set ? policy_set->version : ""},
                     {"loaded_at", policy_set_loaded_at},
                     {"reloads_ok", reloads_ok},
                     {"reloads_failed", reloads_failed},
                     {"last_reload", {{"result", last_reload_result},
                                      {"time", last_reload_time},
                                      {"errors", last_reload_errors},
                                      {"warnings", last_reload_warnings}}},
                     {"baseline", policy_set && policy_set->baseline ? policy_set->baseline->source : ""}};
    s["policy_set"] = policies;

    auto monitored = probes->monitored_cgroups();
    std::map<uint32_t, size_t> cgroups_per_slot;
    json cgroups = json::array();
    for (const auto& [id, entry] : monitored) {
        ++cgroups_per_slot[entry.policy_id];
        auto info = slot_info.find(entry.policy_id);
        json c = {{"cgroup_id", id},
                  {"policy_id", entry.policy_id},
                  {"function", info == slot_info.end() ? "unknown" : info->second.function},
                  {"flags", flag_names(entry.flags)}};
        if (auto reg = registrations.find(id); reg != registrations.end()) {
            c["path"] = reg->second.path;
            c["registered_by"] = reg->second.pid;
            if (reg->second.released) c["launcher"] = reg->second.launcher_gone ? "gone" : "unregistered";
        } else if (auto found = identified.find(id); found != identified.end()) {
            c["path"] = found->second.path;
            c["function"] = found->second.function;
            c["found_by"] = found->second.found_by;
            if (!found->second.k8s_pod.empty())
                c["k8s"] = {{"namespace", found->second.k8s_namespace},
                            {"pod", found->second.k8s_pod},
                            {"container_id", found->second.container_id}};
        }
        cgroups.push_back(std::move(c));
    }
    s["cgroups"] = cgroups;

    json functions = json::array();
    if (policy_set) {
        for (const auto& p : policy_set->policies) {
            const uint32_t slot = function_slot.at(p.function);
            const FunctionTally::Counts tally = per_function.get(p.function);
            functions.push_back({{"function", p.function},
                                 {"policy", p.name},
                                 {"file", p.source},
                                 {"mode", to_string(slot_info.at(slot).mode)},
                                 {"policy_id", slot},
                                 {"cgroups", cgroups_per_slot[slot]},
                                 {"events", tally.events},
                                 {"violations", tally.violations}});
        }
    }
    for (auto& f : functions) {
        auto gaps = gaps_per_function.find(f["function"].get<std::string>());
        f["coverage_gaps"] = gaps == gaps_per_function.end() ? uint64_t{0} : gaps->second;
    }
    s["functions"] = functions;

    const ProbeCounters k = probes->counters();
    const auto out = output->stats();
    const auto srv = server->stats();
    json counters = {{"kernel", k},  // every FNW_KERNEL_COUNTERS field (control/protocol.hpp)
                     {"daemon",
                      {{"records", records},
                       {"file_decided_allowed", file_decider.stats().allowed},
                       {"file_decided_violations", file_decider.stats().violations},
                       {"file_verdicts_remembered", file_decider.stats().remembered},
                       {"file_rule_objects_replaced", file_decider.stats().replaced_rule_objects},
                       {"file_rule_refreshes", probes ? probes->file_rule_refreshes() : 0},
                       {"violation_repeats_reported", probes ? probes->violation_repeats_reported() : 0},
                       {"exec_sha256_mismatches", file_decider.stats().sha256_mismatches},
                       {"exec_sha256_hashed", file_decider.hash_stats().hashed},
                       {"exec_sha256_cache_hits", file_decider.hash_stats().cache_hits},
                       {"exec_sha256_not_regular", file_decider.hash_stats().not_regular},
                       {"exec_sha256_too_large", file_decider.hash_stats().too_large},
                       {"exec_sha256_late", file_decider.stats().sha256_late},
                       {"exec_sha256_pending", file_decider.worker_stats() ? file_decider.worker_stats()->pending : 0},
                       {"exec_hash_threads_stuck",
                        file_decider.worker_stats() ? file_decider.worker_stats()->stuck_threads : 0},
                       {"kills_sent", ProcessHandle::stats().kills},
                       {"kill_target_gone", ProcessHandle::stats().kill_target_gone},
                       {"kill_not_the_event_process", ProcessHandle::stats().not_the_event_process},
                       {"malformed", malformed},
                       {"traced_sent", traced_sent},
                       {"cgroup_births_seen", births_seen},
                       {"cgroup_rescans_after_lost_births", rescans_after_lost_births},
                       {"cgroups_identified", cgroups_identified},
                       {"nested_matches_refused", nested_matches_refused},
                       {"launcher_cgroups_emptied", launcher_cgroups_emptied},
                       {"launcher_cgroups_removed", launcher_cgroups_removed},
                       {"output_written", out.written},
                       {"output_dropped", out.dropped},
                       {"output_queued", out.queued},
                       {"client_dropped", srv.dropped_messages},
                       {"clients_refused", srv.refused_permission + srv.refused_capacity},
                       {"functions_overflow_events", per_function.overflow().events}}}};
    uint64_t refused_total = 0;
    for (const auto& [reason, n] : control_refused) refused_total += n;
    counters["daemon"]["registrations_refused"] = refused_total;
    counters["control"] = {{"register_refused", control_refused},
                           {"max_registrations_per_client", kMaxRegistrationsPerClient},
                           {"admin_group", config.admin_group},
                           {"launcher_parent", launcher_parent.string()}};
    if (webhook) {
        const auto w = webhook->stats();
        counters["webhook"] = {{"sent_events", w.sent_events},
                               {"failed_attempts", w.failed_attempts},
                               {"dropped", w.dropped_events()},
                               {"queued", w.queued}};
    }
    s["counters"] = counters;

    if (pod_watcher) {
        const auto k = pod_watcher->stats();
        s["kubernetes"] = {{"node", node_name},
                           {"synced", pod_watcher->synced()},
                           {"pods", k.pods},
                           {"resource_version", k.resource_version},
                           {"lists", k.lists},
                           {"relists_410", k.relists_410},
                           {"reconnects", k.reconnects},
                           {"events", k.events},
                           {"errors", k.errors},
                           {"last_error", k.last_error},
                           {"cgroups_waiting_for_their_pod", pending_count}};
    } else {
        s["kubernetes"] = nullptr;
    }

    json clients = json::array();
    for (const auto& c : srv.clients) {
        std::string role = "client";
        if (subscribers.count(c.id)) role = "trace";
        for (const auto& [id, reg] : registrations)
            if (reg.client == c.id) role = "run";
        clients.push_back({{"id", c.id},
                           {"pid", c.peer.pid},
                           {"uid", c.peer.uid},
                           {"role", role},
                           {"queued_bytes", c.queued_bytes},
                           {"dropped", c.dropped_total}});
    }
    s["clients"] = clients;
    return s;
}

// ---- the loop -------------------------------------------------------------------

int Daemon::Impl::loop() {
    spdlog::info("fnwarden daemon running: rules {}, mode {}, socket {}{}", rules_dir.string(),
                 to_string(config.mode), config.socket_path,
                 metrics_server ? ", metrics http://" + metrics_endpoint() + "/metrics" : "");
    uint64_t drops_reported = probes->counters().ringbuf_drops;
    auto last_second = std::chrono::steady_clock::now();
    service.ready();
    if (auto interval = service.watchdog_interval())
        spdlog::info("systemd watchdog: a ping every {} ms while the event loop turns", interval->count() / 2000);
    for (;;) {
        const auto turn = std::chrono::steady_clock::now();
        last_loop_tick_ns = turn.time_since_epoch().count();
        service.alive(turn);
        epoll_event ready[8];
        int count = ::epoll_wait(epoll.get(), ready, 8, kLoopTickMs);
        if (count < 0 && errno != EINTR) {
            spdlog::error("epoll_wait: {}", std::strerror(errno));
            return 1;
        }
        for (int i = 0; i < count; ++i) {
            const int fd = ready[i].data.fd;
            if (fd == signals.get()) {
                signalfd_siginfo si{};
                while (::read(signals.get(), &si, sizeof(si)) == sizeof(si)) {
                    if (si.ssi_signo == SIGHUP) {
                        spdlog::info("SIGHUP: reloading policies, reopening outputs");
                        output->request_reopen();
                        reload("SIGHUP");
                    } else {
                        spdlog::info("{}: detaching probes and exiting", strsignal(static_cast<int>(si.ssi_signo)));
                        service.stopping();
                        consumer->drain();
                        publish_violation_summaries();
                        return 0;
                    }
                }
            } else if (watcher && fd == watcher->fd()) {
                if (watcher->consume()) reload_due = std::chrono::steady_clock::now() + kReloadDebounce;
            } else if (fd == server->fd()) {
                server->process();
            } else if (pod_wakeup.valid() && fd == pod_wakeup.get()) {
                handle_pod_changes();
            }
        }
        // Bounded bites: a flood must not starve the control socket.
        consumer->drain_some(kRecordsPerTurn);
        drain_released();
        // Pinned execs whose hash is done, or overdue ("cannot verify in
        // time"): verdict, kill through the pidfd taken on arrival, publish.
        file_decider.collect([this](const fnw_file_event& ev) {
            publish_record(Record(FileRecord::view(ev)));
        });

        const auto now = std::chrono::steady_clock::now();
        if (reload_due && now >= *reload_due) {
            reload_due.reset();
            reload("rules directory changed");
            if (watcher && !watcher->root_watched()) {
                auto again = RulesWatcher::watch(rules_dir);
                if (auto* w = std::get_if<RulesWatcher>(&again)) {
                    ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, watcher->fd(), nullptr);
                    watcher.emplace(std::move(*w));
                    watch(watcher->fd());
                }
            }
        }
        if (now - last_second >= std::chrono::seconds(1)) {
            last_second = now;
            sweep_retired_slots();
            prune_identified();
            monitored_count = probes->monitored_cgroups().size();
            client_dropped = server->stats().dropped_messages;
            const ProbeCounters kernel = probes->counters();
            const uint64_t drops = kernel.ringbuf_drops;
            if (drops > drops_reported)
                spdlog::warn("{} events lost so far: ring buffer full (raise ringbufBytes)", drops);
            drops_reported = drops;
            account_lost_records(kernel);
            publish_violation_summaries();
        }
    }
}

// ---- Daemon -------------------------------------------------------------------

Daemon::Daemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Daemon::~Daemon() = default;

std::variant<std::unique_ptr<Daemon>, std::string> Daemon::start(const DaemonConfig& config) {
    auto impl = std::make_unique<Impl>();
    impl->config = config;
    if (!impl->start_up()) return impl->start_error;
    return std::unique_ptr<Daemon>(new Daemon(std::move(impl)));
}

int Daemon::run() { return impl_->loop(); }

std::string Daemon::trace_locally(const nlohmann::json& request, std::function<void(const nlohmann::json&)> on_event) {
    std::string error;
    try {
        auto filter = parse_trace_filter(request, &error);
        if (!filter) return error;
        impl_->local_trace = std::move(on_event);
        impl_->subscribers[kLocalClient] = std::move(*filter);
        impl_->refresh_trace_flags();
    } catch (const nlohmann::json::exception& e) {
        return e.what();
    }
    return "";
}

}  // namespace fnw
