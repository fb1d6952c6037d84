// SPDX-License-Identifier: Apache-2.0
// The daemon's wiring: which part gets what, the event loop, and the order
// things stop in. The parts themselves: active_policies (rules, slots),
// cgroup_identifier (selectors, pods), registrations (launchers' cgroups),
// event_router (records to outputs and trace clients), control_service (the
// socket's ops), daemon_threads (pod watcher, metrics server).
#include "daemon/daemon.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>

#include <spdlog/spdlog.h>

#include "common/version.hpp"
#include "control/protocol.hpp"
#include "daemon/daemon_impl.hpp"
#include "daemon/daemon_status.hpp"

namespace fnw {
namespace {

// Records read per loop turn at most: under a flood the loop still gets to
// the control socket (status must answer) between bites.
constexpr int kRecordsPerTurn = 4096;
// Longest wait between two ring-buffer reads: producers only force a wakeup
// past a fill threshold, so this is the latency bound for a lone event.
constexpr int kLoopTickMs = 50;

}  // namespace

sigset_t daemon_signal_set() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, s);
    return set;
}

void block_daemon_signals() {
    const sigset_t set = daemon_signal_set();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    // Clients that vanish must not kill the daemon (the control socket also
    // sends with MSG_NOSIGNAL; this covers every other write).
    signal(SIGPIPE, SIG_IGN);
}

bool Daemon::Impl::reload(const std::string& why) {
    const bool ok = policies->reload(why, [this](ActivePolicies::Swapped& swapped) {
        for (uint64_t cgroup_id : swapped.dropped) registrations->erase(cgroup_id);  // its policy is gone
        identifier->reconfigure(swapped.set, std::move(swapped.selectors));
    });
    // Each object's verdict into its status, valid or not.
    if (PolicyFeed* objects = threads.function_policies()) objects->report(policies->object_verdict_errors());
    if (ok) router->refresh_trace_flags();
    // Another build's pinned set guarded until our set took every cgroup
    // over (just now); from here it only doubles the work.
    if (ok && !probes->pinned().replaced.empty())
        if (Status retired = probes->retire_replaced_sets(); !retired)
            spdlog::error("cannot remove the replaced pinned set: {}", retired.error());
    return ok;
}

// Repeats the kernel counted instead of reporting (violation_tally) since
// the last look: one summary record per violation that repeated.
void Daemon::Impl::publish_violation_summaries() {
    for (const auto& summary : probes->take_violation_summaries())
        router->publish_record(Record(summary));
}

DaemonInfo Daemon::Impl::daemon_info() const {
    DaemonInfo info;
    info.version = std::string(fnwarden_version());
    info.pid = ::getpid();
    info.started = started_at;
    info.uptime_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count();
    info.mode = std::string(to_string(config.mode));
    info.rules = policies->rules_dir().string();
    info.socket = config.socket_path;
    // The bound address: port 0 in the config means "any free one".
    const MetricsServer* metrics = threads.metrics_server();
    info.metrics = metrics ? metrics->address() : "";
    info.output = config.output;
    info.webhook = webhook ? webhook->name() : "";  // without credentials
    return info;
}

StatusCounters Daemon::Impl::counters_status() const {
    StatusCounters counters;
    counters.kernel = probes->counters();
    add_engine_counters(counters.daemon, *probes, file_decider, output->stats(), server->stats());
    router->add_status_counters(counters.daemon);
    identifier->add_status_counters(counters.daemon);
    registrations->add_status_counters(counters.daemon);
    counters.daemon.cgroup_rescans_after_lost_births = lost->rescans_after_lost_births();
    control->add_status_counters(counters);
    if (webhook) counters.webhook = webhook_counters(*webhook);
    return counters;
}

StatusReply Daemon::Impl::status() const {
    StatusReply s;
    s.daemon = daemon_info();
    s.kernel = kernel_status(features, *probes);
    s.pinned = pinned_status(probes->pinned());
    s.enforcement = enforcement_status(features, *probes);
    s.programs = programs_status(*probes);
    s.programs_stats = run_time_stats.valid() ? "on" : "off: " + run_time_stats_error;
    s.policy_set = policies->status();
    s.rules = policies->rules_status();
    if (const PolicyFeed* objects = threads.function_policies())
        s.rules->function_policies = objects->status(to_string(config.policy_source), config.function_policy_namespace);
    std::map<uint32_t, size_t> per_slot;
    s.cgroups = cgroups_status(*probes, policies->table(), *registrations, *identifier, per_slot);
    s.functions = functions_status(policies->set(), policies->table(), *probes, router->per_function(), *lost, per_slot);
    const auto now = std::chrono::steady_clock::now();
    for (FunctionInfo& f : s.functions) f.usage = function_grants_info(*policies, *probes, f.function, now);
    s.counters = counters_status();
    if (const PodFeed* pods = threads.pods()) s.kubernetes = pods->status(node_name, identifier->pending_pod_cgroups());
    s.clients = control->clients_status();
    return s;
}

// ---- the loop -------------------------------------------------------------------

int Daemon::Impl::loop() {
    const MetricsServer* metrics = threads.metrics_server();
    spdlog::info("fnwarden daemon running: rules {}, mode {}, socket {}{}", policies->rules_dir().string(),
                 to_string(config.mode), config.socket_path,
                 metrics ? ", metrics http://" + metrics->address() + "/metrics" : "");
    uint64_t drops_reported = probes->counters().ringbuf_drops;
    auto last_second = std::chrono::steady_clock::now();
    service.ready();
    if (auto interval = service.watchdog_interval())
        spdlog::info("systemd watchdog: a ping every {} ms while the event loop turns", interval->count() / 2000);
    for (;;) {
        const auto turn = std::chrono::steady_clock::now();
        threads.gauges.last_tick_ns = turn.time_since_epoch().count();
        service.alive(turn);
        epoll_event ready[8];
        int count = ::epoll_wait(epoll.get(), ready, 8, kLoopTickMs);
        if (count < 0 && errno != EINTR) {
            spdlog::error("epoll_wait: {}", std::strerror(errno));
            return 1;
        }
        for (int i = 0; i < count; ++i)
            if (!handle_ready(ready[i].data.fd)) return 0;
        // Bounded bites: a flood must not starve the control socket.
        consumer->drain_some(kRecordsPerTurn);
        probes->mark_drained(boot_now_ns());  // for the next daemon's unread gap
        registrations->drain_released(std::chrono::steady_clock::now());
        // Pinned execs whose hash is done, or overdue ("cannot verify in
        // time"): verdict, kill through the pidfd taken on arrival, publish.
        file_decider.collect([this](const fnw_file_event& ev) {
            router->publish_record(Record(FileRecord::view(ev)));
        });
        server->flush_queued();  // this turn's trace lines, one write per client
        output->hand_over();     // and its output lines, one block to the pipeline's worker
        router->end_turn();
        const auto now = std::chrono::steady_clock::now();
        reload_when_due(now);
        if (now - last_second >= std::chrono::seconds(1)) {
            last_second = now;
            every_second(drops_reported);
        }
    }
}

bool Daemon::Impl::handle_ready(int fd) {
    if (fd == signals.get()) {
        signalfd_siginfo si{};
        while (::read(signals.get(), &si, sizeof(si)) == sizeof(si)) {
            if (si.ssi_signo == SIGHUP) {
                spdlog::info("SIGHUP: reloading policies, reopening outputs");
                output->request_reopen();
                reload("SIGHUP");
                continue;
            }
            spdlog::info("{}: detaching probes and exiting", strsignal(static_cast<int>(si.ssi_signo)));
            service.stopping();
            consumer->drain();
            publish_violation_summaries();
            return false;
        }
    } else if (watcher && fd == watcher->fd()) {
        if (watcher->consume()) reload_due = std::chrono::steady_clock::now() + kReloadDebounce;
    } else if (fd == server->fd()) {
        server->process();
    } else if (threads.pods() && fd == threads.pods()->wakeup_fd()) {
        identifier->on_pod_changes(threads.pods()->take_changes());
    } else if (PolicyFeed* objects = threads.function_policies(); objects && fd == objects->wakeup_fd()) {
        // An edit is often several events (apply, then a controller's own
        // update): the same debounce as for files.
        objects->take_wakeup();
        reload_due = std::chrono::steady_clock::now() + kReloadDebounce;
    }
    return true;
}

void Daemon::Impl::reload_when_due(std::chrono::steady_clock::time_point now) {
    if (!reload_due || now < *reload_due) return;
    reload_due.reset();
    reload("policies changed");
    if (watcher && !watcher->root_watched()) {
        auto again = watch_policy_source();
        if (again) {
            ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, watcher->fd(), nullptr);
            watcher.emplace(std::move(*again));
            watch(watcher->fd());
        }
    }
}

// How long a process the probes held waits for its verdict before it is
// killed (fail closed). Verdicts come in microseconds; this is for records
// nobody will read (a daemon that died before its verdict) and for floods.
constexpr std::chrono::seconds kHoldBound{5};

void Daemon::Impl::every_second(uint64_t& drops_reported) {
    const size_t expired =
        file_decider.expire_holds(probes->holds(), boot_now_ns(), kHoldBound, lineage_lookup.cgroup2_root);
    if (expired > 0)
        spdlog::warn("{} held process(es) waited over {} s for a verdict: killed", expired, kHoldBound.count());
    for (uint64_t cgroup_id : policies->table().sweep(std::chrono::steady_clock::now()))
        registrations->erase(cgroup_id);  // released or not: its policy is gone
    identifier->prune();
    if (Status swept = probes->sweep_rules_roots(); !swept)
        spdlog::warn("file rules of a function's root that is gone: {}", swept.error());
    threads.gauges.monitored_count = probes->monitored_cgroups().size();
    threads.gauges.client_dropped = server->stats().dropped_messages;
    const ProbeCounters kernel = probes->counters();
    const uint64_t drops = kernel.ringbuf_drops;
    if (drops > drops_reported) spdlog::warn("{} events lost so far: ring buffer full (raise ringbufBytes)", drops);
    drops_reported = drops;
    lost->account(kernel, probes->coverage_gaps(), policies->table(), *identifier);
    if (grant_gauges) grant_gauges->update(*policies, *probes, std::chrono::steady_clock::now());
    publish_violation_summaries();
}

// ---- Daemon -------------------------------------------------------------------

Daemon::Daemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Daemon::~Daemon() { stop(); }

Result<std::unique_ptr<Daemon>> Daemon::start(const DaemonConfig& config) {
    auto impl = std::make_unique<Impl>();
    impl->config = config;
    if (auto started = impl->start_up(); !started) return fail(started.error());
    return std::unique_ptr<Daemon>(new Daemon(std::move(impl)));
}

int Daemon::run() { return impl_->loop(); }

void Daemon::stop() {
    if (impl_) impl_->threads.stop();
}

Status Daemon::trace_locally(const TraceRequest& request, std::function<void(const nlohmann::json&)> on_event) {
    Result<TraceFilter> filter = trace_filter_of(request);
    if (!filter) return fail(filter.error());
    impl_->router->set_local_trace(std::move(on_event));
    impl_->router->subscribe(kLocalClient, std::move(*filter));
    impl_->router->refresh_trace_flags();
    return {};
}

}  // namespace fnw
