// SPDX-License-Identifier: Apache-2.0
// Daemon start-up: each part made in an order that fails early and leaves
// nothing attached when a required part cannot start.
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <iterator>
#include <cstring>
#include <string_view>

#include <spdlog/spdlog.h>

#include "common/version.hpp"
#include "core/display_name.hpp"
#include "daemon/daemon_impl.hpp"
#include "daemon/journal_priority.hpp"
#include "k8s/kube_config.hpp"
#include "output/falco_format.hpp"
#include "output/journal_sink.hpp"
#include "output/metrics_process.hpp"
#include "output/policy_refusal_event.hpp"
#include "runtime/cgroup.hpp"

namespace fnw {
namespace {

// Where the time to ready goes (docs/performance.md, "Start-up"): one debug
// line per step, `--log-level debug` to see them.
class StartupClock {
public:
    void step(std::string_view what) {
        const auto now = std::chrono::steady_clock::now();
        spdlog::debug("start-up: {} in {} ms (at {} ms)", what, ms(now - last_), ms(now - start_));
        last_ = now;
    }

private:
    static long long ms(std::chrono::steady_clock::duration d) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    }
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_ = start_;
};

}  // namespace

bool Daemon::Impl::watch(int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    return ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
}

Status Daemon::Impl::start_up() {
    StartupClock clock;
    auto root = find_cgroup2_mount();
    if (!root) return fail("no cgroup2 mount in /proc/self/mountinfo (mount -t cgroup2 none /sys/fs/cgroup)");
    cgroup2_root = *root;
    // securityfs first: the capabilities read it.
    if (Status mounted = mount_kernel_filesystems(); !mounted.ok()) spdlog::warn("{}", mounted.error());
    features = probe_kernel_capabilities();
    clock.step("kernel capabilities probed");

    if (Status usable = check_policy_source(); !usable) return usable;
    for (auto step : {&Impl::load_probes, &Impl::open_outputs, &Impl::open_control_socket, &Impl::start_pod_feed}) {
        if (auto done = (this->*step)(); !done) return done;
        clock.step(step == &Impl::load_probes ? "probes loaded and attached" : "outputs, socket, pod feed");
    }
    assemble(declare_metrics());
    policies->set_rules_valid_metric(&threads.metrics.gauge(
        "fnwarden_rules_valid",
        "1 when the rules directory, as last read, is the policy set in force; 0 when it was refused "
        "(status: rules.errors).").with());
    policies->set_last_reload_metrics(
        &threads.metrics.gauge("fnwarden_policy_set_last_reload_successful",
                               "1 when the last policy set reload succeeded, 0 when it was refused.").with(),
        &threads.metrics.gauge("fnwarden_policy_set_last_reload_success_timestamp_seconds",
                               "When the last successful policy set reload happened, in seconds since the epoch.")
             .with());
    // The commit is not recorded by the build yet: "unknown" says so.
    declare_build_info(threads.metrics, fnwarden_version(), build_commit());
    if (!config.metrics_address.empty())
        if (auto serving = threads.start_metrics_server(config.metrics_address, config.metrics_allow_non_loopback);
            !serving)
            return serving;
    if (auto ready = set_up_loop(); !ready) return ready;
    // A bad rules file does not stop the daemon: exiting would only make
    // systemd restart it into the same file until it gives up, and leave
    // nothing to report the error or pick up the fix. The daemon runs
    // without applying the set (nothing in the kernel is cleared or
    // rewritten), logs each error, shows them in `status` ("rules") and
    // fnwarden_rules_valid, and applies the set once a change in the
    // directory or SIGHUP finds it valid (docs/daemon.md).
    //
    // With FunctionPolicy objects, the first reload waits for their first
    // list (the feed wakes the loop then): a set loaded without them would
    // take the functions of an adopted pinned set off their policies for as
    // long as the list takes.
    if (const PolicyFeed* objects = threads.function_policies(); objects && !objects->synced())
        spdlog::info("policies: waiting for the first list of FunctionPolicy objects before loading the set");
    else
        reload("start");
    clock.step("first policy set applied (the loop starts: READY=1 next)");
    return {};
}

bool Daemon::Impl::reads_rules_files() const { return config.policy_source != PolicySource::Kubernetes; }

// The directory must be there to be watched (a rules directory that does
// not exist is a wrong path, not a bad file); what is in it is checked by
// the first reload, at the end. A bundle's directory likewise; the bundle
// itself may come later (until then: no set, fail-closed). The trusted key
// is read once, here: replacing the key file changes nothing until a
// restart.
Status Daemon::Impl::check_policy_source() {
    if (!reads_rules_files()) config.rules_dir.clear();  // policySource kubernetes: objects only
    if (!config.bundle.empty()) {
        auto key = Ed25519Key::load_public(config.trusted_key);
        if (!key) return fail("trusted key (--trusted-key): " + key.error());
        trusted_key = std::make_shared<const Ed25519Key>(std::move(*key));
        const std::filesystem::path dir = config.bundle.parent_path().empty() ? "." : config.bundle.parent_path();
        if (Status usable = check_rules_directory(dir); !usable)
            return fail("bundle " + config.bundle.string() + ": its directory: " + usable.error());
        spdlog::info("policies from the signed bundle {} (trusted key {})", config.bundle.string(),
                     trusted_key->fingerprint().substr(0, 16));
        return {};
    }
    if (reads_rules_files())
        if (Status usable = check_rules_directory(config.rules_dir); !usable) {
            const std::string dir = config.rules_dir.string();
            return fail("invalid rules in " + dir + ":\n  " + dir + ": " + usable.error());
        }
    return {};
}

Result<RulesWatcher> Daemon::Impl::watch_policy_source() const {
    return config.bundle.empty() ? RulesWatcher::watch(config.rules_dir) : RulesWatcher::watch_file(config.bundle);
}

void Daemon::Impl::report_refusal(const BundleError& refusal) {
    const std::string_view reason = to_string(refusal.reason);
    spdlog::error("policies refused ({}): {}", reason, refusal.message);
    if (policy_refused_total) policy_refused_total->with({std::string(reason)}).inc();
    const PolicySet* in_force = policies ? policies->set() : nullptr;
    const std::string source = config.bundle.empty() ? config.rules_dir.string() : config.bundle.string();
    if (!output->push(policy_refused_line({source, reason, refusal.message, in_force ? in_force->version : "", iso_now()})))
        spdlog::warn("policy refusal: the output queue is full, the event is lost");
}

Status Daemon::Impl::load_probes() {
    ProbeOptions options;
    options.cgroup2_root = cgroup2_root;
    options.ringbuf_bytes = config.ringbuf_bytes;
    options.capabilities = features;  // one probe for the load and for status
    if (config.pin_root != "none") options.pin_root = config.pin_root;
    auto loaded = ProbeSet::load(options);
    if (!loaded) return fail(loaded.error());
    probes = std::move(*loaded);
    log_pinned_state(probes->pinned());
    if (!config.program_stats)
        run_time_stats_error = "enable with --program-stats (costs two clock reads per program run)";
    else if (int fd = enable_run_time_stats(); fd >= 0)
        run_time_stats.reset(fd);
    else
        run_time_stats_error = std::strerror(-fd);
    if (!probes->lsm_available()) spdlog::info("BPF-LSM not available: {}", probes->lsm_error());

    lineage_lookup = LineageLookup::from(*probes, cgroup2_root);
    // The router is assembled before the first record is read (loop()).
    consumer = RingBufferConsumer::create(probes->ringbuf_fds(),
                                          [this](std::span<const std::byte> r) { router->handle_record(r); });
    if (!consumer) return fail(std::string("cannot set up the ring buffer consumer: ") + std::strerror(errno));
    return {};
}

void log_pinned_state(const PinnedState& pinned) {
    if (pinned.origin == PinnedOrigin::Unpinned) {
        if (!pinned.why_unpinned.empty()) spdlog::warn("probes not pinned: {}", pinned.why_unpinned);
        return;
    }
    const auto gap = pinned.unread_gap ? std::chrono::duration_cast<std::chrono::milliseconds>(*pinned.unread_gap)
                                       : std::chrono::milliseconds(-1);
    spdlog::info("probes {} in {} ({} links adopted{}{})", to_string(pinned.origin), pinned.dir.string(),
                 pinned.adopted_links, gap.count() >= 0 ? fmt::format(", unread for {} ms", gap.count()) : "",
                 pinned.replaced.empty() ? "" : fmt::format(", replacing {} older set(s)", pinned.replaced.size()));
    for (const auto& why : pinned.unpinned_links) spdlog::warn("not pinned: {}", why);
}

// The pipeline carries native JSON lines. The file/stdout and webhook sinks
// take config.output_format (behind one FalcoFormatSink for "falco"); the
// journal, under systemd, reads the native lines for its fields.
Status Daemon::Impl::open_outputs() {
    const bool falco = output_format_from(config.output_format) == OutputFormat::Falco;
    const bool journal = running_under_systemd();
    std::vector<std::unique_ptr<EventSink>> formatted;
    // stdout that is itself the journal stream: the structured entry says it all.
    const char* journal_stream = std::getenv("JOURNAL_STREAM");
    const bool stdout_is_journal = journal && config.output == "stdout" && journal_stream &&
                                   is_journal_stream(STDOUT_FILENO, journal_stream);
    if (config.output != "none" && !stdout_is_journal) {
        auto lines = JsonLinesSink::open(config.output);
        if (!lines) return lines.wrap("output " + config.output);
        formatted.push_back(std::move(*lines));
    }
    if (!config.webhook_url.empty()) {
        WebhookOptions hook;
        hook.url = config.webhook_url;
        hook.one_event_per_request = falco;  // falcosidekick decodes one object per POST
        auto sink = WebhookSink::create(hook);
        if (!sink) return sink.wrap("webhook");  // not the URL: it may carry a token
        webhook = sink->get();
        formatted.push_back(std::move(*sink));
    }
    std::vector<std::unique_ptr<EventSink>> sinks;
    if (falco && !formatted.empty())
        sinks.push_back(std::make_unique<FalcoFormatSink>(std::move(formatted)));
    else
        std::move(formatted.begin(), formatted.end(), std::back_inserter(sinks));
    if (journal) {
        sinks.push_back(std::make_unique<JournalSink>(systemd_journal_writer()));
        spdlog::info("events also go to the journal as structured entries{}",
                     stdout_is_journal ? " (instead of JSON lines on stdout, which is the journal)" : "");
    }
    OutputPipelineOptions pipeline;
    pipeline.queue_capacity_lines = config.output_queue_events;
    output = std::make_unique<OutputPipeline>(std::move(sinks), pipeline);
    return {};
}

Status Daemon::Impl::open_control_socket() {
    ControlServerOptions options;
    options.socket_path = config.socket_path;
    options.group = config.socket_group;
    options.admin_group = config.admin_group;
    options.max_queued_bytes_per_client = config.client_queue_bytes;
    auto listening = ControlServer::listen(options);
    if (!listening) return fail(listening.error());
    server = std::move(*listening);
    server->on_message([this](ClientId c, const nlohmann::json& m) { control->on_message(c, m); });
    server->on_disconnect([this](ClientId c) { control->on_disconnect(c); });

    if (!reads_rules_files()) return {};
    auto watching = watch_policy_source();
    if (!watching)
        spdlog::warn("not watching {} for changes ({}); SIGHUP still reloads",
                     (config.bundle.empty() ? config.rules_dir : config.bundle).string(), watching.error());
    else
        watcher.emplace(std::move(*watching));
    return {};
}

// Kubernetes: pods of this node, from the API server (config.kubeconfig).
Status Daemon::Impl::start_pod_feed() {
    if (config.kubeconfig.empty()) return {};
    auto endpoint = config.kubeconfig == "in-cluster" ? in_cluster_config() : kubeconfig_file(config.kubeconfig);
    if (!endpoint) return fail("kubernetes (" + config.kubeconfig + "): " + endpoint.error());
    node_name = node_name_for(config.node_name);
    PodWatcherOptions options;
    options.node_name = node_name;
    if (auto started = threads.start_pod_feed(*endpoint, options); !started) return started;
    spdlog::info("watching the pods of node {} ({})", display_name(node_name), display_name(config.kubeconfig));
    if (config.policy_source == PolicySource::Files) return {};
    PolicyWatcherOptions objects;
    objects.namespace_ = config.function_policy_namespace;
    if (auto started = threads.start_policy_feed(*endpoint, objects, config.function_policy_status); !started)
        return started;
    spdlog::info("watching FunctionPolicy objects of {} ({})",
                 objects.namespace_.empty() ? std::string("every namespace") : "namespace " + objects.namespace_,
                 display_name(config.kubeconfig));
    return {};
}

Daemon::Impl::Families Daemon::Impl::declare_metrics() {
    MetricsRegistry& metrics = threads.metrics;
    Families f;
    f.events_total = &metrics.counter("fnwarden_events_total", "Events decoded by the daemon, by type.", {"type"});
    f.violations_total = &metrics.counter("fnwarden_violations_total",
                                          "Policy violations, by function, event type and action taken.",
                                          {"function", "type", "action"});
    f.reloads_total = &metrics.counter("fnwarden_policy_reloads_total", "Policy set reloads, by result.", {"result"});
    // Both results from the start, at 0: "no failed reload", not "no data".
    for (const char* result : {"ok", "error"}) f.reloads_total->with({result});
    f.control_refused_total = &metrics.counter(
        "fnwarden_control_refused_total",
        "Control-socket registrations refused, by reason (docs/threat-model.md, \"A hostile control-socket client\").",
        {"reason"});
    f.coverage_gaps_total = &metrics.counter(
        "fnwarden_coverage_gaps_total",
        "Accesses neither decided nor reported: the ring buffer was full and the policy only reports.", {"function"});
    f.policy_refused_total = &metrics.counter(
        "fnwarden_policy_refused_total",
        "Signed bundles and unsigned policy sources refused, by reason (docs/policy.md, \"Signed bundles\").",
        {"reason"});
    // Every reason from the start, at 0: "no refusal", not "no data".
    for (BundleRefusal reason : all_bundle_refusals()) f.policy_refused_total->with({std::string(to_string(reason))});
    f.latency = &metrics.histogram("fnwarden_event_latency_seconds",
                                   "From the kernel's timestamp to the event leaving the event loop.", {},
                                   {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
    // Read at scrape time on the HTTP thread: only thread-safe sources here
    // (BPF map lookups, the pipeline's locked stats, atomics).
    ProbeSet* p = probes.get();
    declare_kernel_counter_metrics(metrics, [p] { return p->counters(); });
    declare_process_metrics(metrics);
    LoopGauges* gauges = &threads.gauges;
    metrics.gauge_callback("fnwarden_monitored_cgroups", "Cgroups in the kernel's monitored map.",
                           [gauges] { return static_cast<double>(gauges->monitored_count.load()); });
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
    grant_gauges.emplace(metrics);
    metrics.counter_callback("fnwarden_client_dropped_total",
                             "Messages dropped for control clients that read too slowly.",
                             [gauges] { return static_cast<double>(gauges->client_dropped.load()); });
    return f;
}

// Who gets what: every part is made once the kernel, the outputs and the
// socket are there.
void Daemon::Impl::assemble(const Families& f) {
    std::atomic<uint64_t>& monitored_count = threads.gauges.monitored_count;
    tree.emplace(cgroup2_root);
    policies.emplace(config.bundle.empty() ? config.rules_dir : config.bundle, *probes, config.mode,
                     [this](uint32_t slot, const FunctionPolicy& policy, Mode mode) -> Status {
                         return file_decider.set_policy(slot, policy, mode);
                     });
    policies->set_reloads_metric(f.reloads_total);
    policy_refused_total = f.policy_refused_total;
    policies->use_signed_source({config.bundle, trusted_key, config.require_signed});
    policies->on_refusal([this](const BundleError& refusal) { report_refusal(refusal); });
    if (PolicyFeed* objects = threads.function_policies())
        policies->read_objects_from([objects] { return objects->objects(); });
    // An earlier daemon's cgroups keep their slots until the first valid
    // rules set moves them (PolicyTable::adopt).
    if (probes->pinned().origin == PinnedOrigin::Adopted) policies->table().adopt(probes->slot_owners());
    registrations.emplace(*probes, cgroup2_root);
    // Before any registration of ours: which entries a restarted launcher
    // may resume (docs/daemon.md, "Launched functions across a restart").
    if (probes->pinned().origin == PinnedOrigin::Adopted)
        registrations->adopt(probes->monitored_cgroups(), [this](uint32_t slot) {
            const SlotInfo* info = policies->table().info(slot);
            return info ? info->function : std::string();
        });
    identifier.emplace(*probes, policies->table(), *registrations, *tree, monitored_count);
    if (PodFeed* pods = threads.pods()) identifier->set_pods(pods->lookup());
    router.emplace(EventRouter::Parts{*probes, policies->table(), *identifier, *registrations, *output, file_decider,
                                      lineage_lookup, monitored_count},
                   RouterMetrics{f.events_total, f.violations_total, f.latency});
    router->set_server(server.get());
    lost.emplace(f.coverage_gaps_total, router->per_function().max_functions());
    ControlService::Hooks hooks;
    hooks.status = [this] { return status(); };
    hooks.reload = [this](const std::string& why) { return reload(why); };
    hooks.attach_landlock_reporting = [this] { return probes->attach_landlock_reporting(); };
    // --unload-on-exit removes the pins on a clean stop: a launcher must not
    // wait for a next daemon while nothing guards its function.
    hooks.pinned = [this] { return probes->pinned().origin != PinnedOrigin::Unpinned && !config.unload_on_exit; };
    control.emplace(ControlService::Parts{*server, *probes, *policies, *registrations, *identifier, *router},
                    std::move(hooks), cgroup2_root / config.cgroup_parent, config.admin_group);
    control->count_refusals_in(*f.control_refused_total);
    control->set_cgroup2_root(cgroup2_root);
}

Status Daemon::Impl::set_up_loop() {
    const sigset_t handled = daemon_signal_set();
    signals.reset(::signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK));
    epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
    const PodFeed* pods = threads.pods();
    const PolicyFeed* objects = threads.function_policies();
    if (!signals.valid() || !epoll.valid() || !watch(signals.get()) || !watch(consumer->epoll_fd()) ||
        !watch(server->fd()) || (watcher && !watch(watcher->fd())) || (pods && !watch(pods->wakeup_fd())) ||
        (objects && !watch(objects->wakeup_fd())))
        return fail(std::string("event loop set-up: ") + std::strerror(errno));
    // Pinned programs are hashed on worker threads: a FIFO or a huge file
    // under a pinned name must not stall this loop (threat-model.md).
    hash_wakeup = file_decider.defer_hashing();
    // A rule's object deleted and made again: read the identities anew so
    // the kernel decides the new object (threat-model.md).
    file_decider.on_rules_stale([this](uint32_t slot) {
        if (!probes) return;
        if (Status refreshed = probes->refresh_file_rules(slot); !refreshed)
            spdlog::warn("policy slot {}: re-reading the file rules' objects failed: {}", slot, refreshed.error());
    });
    // A process held until its verdict goes on once its last held thread
    // is settled (files.bpf.c, fnw_hold_current).
    file_decider.on_hold_end([this](uint32_t tid, uint32_t tgid) { return probes && probes->end_hold(tid, tgid); });
    if (hash_wakeup < 0 || !watch(hash_wakeup)) return fail(std::string("exec hash worker: ") + std::strerror(errno));
    return {};
}

}  // namespace fnw
