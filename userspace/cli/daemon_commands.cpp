// SPDX-License-Identifier: Apache-2.0
// fnwarden daemon | status | trace | top: the host daemon and the commands
// that read it over its control socket.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cli/options.hpp"
#include "cli/tables.hpp"
#include "cli/terminal.hpp"
#include "control/control_client.hpp"
#include "control/protocol.hpp"
#include "core/display_name.hpp"
#include "core/policy.hpp"
#include "daemon/daemon.hpp"
#include "daemon/daemon_config.hpp"

namespace po = boost::program_options;
using nlohmann::json;

namespace fnw::cli {
namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(2);
constexpr auto kStatusTimeout = std::chrono::seconds(10);

// Ctrl-C ends `trace` and `top` cleanly: the handler only interrupts the
// blocking wait (no SA_RESTART); the loop sees the flag.
volatile sig_atomic_t g_interrupted = 0;  // written only by the signal handler
void on_interrupt(int) { g_interrupted = 1; }
void install_interrupt_handler() {
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);  // `trace | head` must end quietly
}

std::optional<ControlClient> connect_or_explain(const std::string& socket, std::string_view who) {
    auto connected = ControlClient::connect(socket, kConnectTimeout);
    if (!connected) {
        const ControlConnectFailure failure = connected.failure().kind;
        std::cerr << "fnwarden " << who << ": " << connected.error();
        if (failure == ControlConnectFailure::no_daemon)
            std::cerr << " (is `fnwarden daemon` running? --socket PATH names another one)";
        else if (failure == ControlConnectFailure::permission_denied)
            std::cerr << " (root or a member of the daemon's socket group only)";
        std::cerr << "\n";
        return std::nullopt;
    }
    return std::move(*connected);
}

// --color's value as a decision for this process; nullopt (said on stderr)
// for a value that is none of auto, always, never.
std::optional<bool> color_from_option(const std::string& value, std::string_view who) {
    auto choice = parse_color_choice(value);
    if (!choice) {
        std::cerr << "fnwarden " << who << ": --color must be auto, always or never\n";
        return std::nullopt;
    }
    return should_color(*choice);
}

constexpr const char* kColorHelp = "auto|always|never: color the table (auto: only on a terminal, and not when NO_COLOR is set)";

std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> out;
    std::stringstream in(text);
    for (std::string item; std::getline(in, item, ',');)
        if (!item.empty()) out.push_back(item);
    return out;
}

}  // namespace

// The daemon's flags over its config file's keys. False: a bad --mode.
bool apply_daemon_flags(const po::variables_map& seen, DaemonConfig& config) {
    const auto text = [&seen](const char* flag) { return seen[flag].as<std::string>(); };
    if (seen.count("rules")) config.rules_dir = text("rules");
    if (seen.count("mode")) {
        auto m = parse_mode(text("mode"));
        if (!m) {
            std::cerr << "fnwarden daemon: --mode must be audit or enforce\n";
            return false;
        }
        config.mode = *m;
    }
    if (seen.count("output")) config.output = text("output");
    if (seen.count("socket")) config.socket_path = text("socket");
    if (seen.count("socket-group")) config.socket_group = text("socket-group");
    if (seen.count("admin-group")) config.admin_group = text("admin-group");
    if (seen.count("metrics")) config.metrics_address = text("metrics") == "off" ? "" : text("metrics");
    if (seen.count("webhook")) config.webhook_url = text("webhook");
    if (seen.count("output-format")) config.output_format = text("output-format");
    if (seen.count("ringbuf-bytes")) config.ringbuf_bytes = seen["ringbuf-bytes"].as<uint32_t>();
    if (seen.count("log-level")) config.log_level = text("log-level");
    if (seen.count("program-stats")) config.program_stats = true;
    if (seen.count("pin-root")) config.pin_root = text("pin-root");
    if (seen.count("unload-on-exit")) config.unload_on_exit = true;
    if (seen.count("kubeconfig")) config.kubeconfig = text("kubeconfig");
    if (seen.count("node-name")) config.node_name = text("node-name");
    if (seen.count("bundle")) config.bundle = text("bundle");
    if (seen.count("trusted-key")) config.trusted_key = text("trusted-key");
    if (seen.count("require-signed")) config.require_signed = true;
    return true;
}

int cmd_daemon(const std::vector<std::string>& opts) {
    std::string config_file;
    po::options_description desc("fnwarden daemon options (each overrides the same key of the config file)");
    desc.add_options()
        ("help,h", "show this help")
        ("config", po::value(&config_file), "config file (default /etc/fnwarden/fnwarden.yaml when it exists)")
        ("rules", po::value<std::string>(), "directory of policies (*.yaml, recursively) and the baseline")
        ("mode", po::value<std::string>(), "audit|enforce: a ceiling on every policy's spec.mode (default audit)")
        ("output", po::value<std::string>(), "JSON-lines events: stdout, a file path (reopened on SIGHUP) or none")
        ("socket", po::value<std::string>(), "control socket path")
        ("socket-group", po::value<std::string>(), "group allowed on the control socket besides root")
        ("admin-group", po::value<std::string>(), "members of the socket group also in this group see every function in trace (default: root only)")
        ("metrics", po::value<std::string>(), "Prometheus /metrics and /healthz address (\"\" or off disables)")
        ("webhook", po::value<std::string>(), "POST batches of violations to this http(s) URL")
        ("output-format", po::value<std::string>(), "json|falco: how --output and --webhook write events (falco: Falco's schema, one event per POST, for falcosidekick)")
        ("ringbuf-bytes", po::value<uint32_t>(), "ring buffer size (power of two, >= page size)")
        ("log-level", po::value<std::string>(), "trace|debug|info|warn|error")
        ("kubeconfig", po::value<std::string>(), "Kubernetes API for pod metadata and pod selectors: in-cluster or a kubeconfig path")
        ("node-name", po::value<std::string>(), "the node whose pods are watched (default $NODE_NAME, else the hostname)")
        ("program-stats", "per-program run counts/times in status (kernel bpf_stats; small cost on every probe run)")
        ("pin-root", po::value<std::string>(), "bpffs directory the probes are pinned under, so enforcement outlives the daemon (default /sys/fs/bpf/fnwarden; none: not pinned)")
        ("unload-on-exit", "remove the pinned probes when the daemon exits (default: they keep enforcing)")
        ("bundle", po::value<std::string>(), "a signed policy bundle (fnwarden policy bundle) instead of --rules")
        ("trusted-key", po::value<std::string>(), "the Ed25519 public key (PEM) a bundle must be signed with")
        ("require-signed", "refuse policies from a plain directory or FunctionPolicy objects");
    po::variables_map seen;
    if (auto done = parse_subcommand(opts, desc, "daemon", "fnwarden daemon [options]", &seen)) return *done;

    auto loaded = load_daemon_config(config_file.empty() ? std::nullopt
                                                         : std::optional<std::filesystem::path>(config_file));
    if (!loaded.ok()) {
        for (const auto& e : loaded.errors) std::cerr << e.to_string() << "\n";
        std::cerr << "fnwarden daemon: invalid config, not started\n";
        return kExitUsage;
    }
    DaemonConfig config = *loaded.config;
    // Flags override the file; the file overrides the defaults.
    if (!apply_daemon_flags(seen, config)) return kExitUsage;
    if (auto problems = validate_daemon_config(config); !problems.empty()) {
        for (const auto& p : problems) std::cerr << "fnwarden daemon: " << p << "\n";
        return kExitUsage;
    }
    spdlog::set_level(spdlog::level::from_str(config.log_level));
    if (!loaded.source.empty()) spdlog::info("config {}", loaded.source);
    for (const auto& warning : daemon_config_warnings(config)) spdlog::warn("{}", warning);

    // Before any thread exists (outputs, metrics): they inherit the mask, so
    // the signals reach only the signalfd.
    block_daemon_signals();
    auto started = Daemon::start(config);
    if (!started) {
        std::cerr << "fnwarden daemon: " << started.error() << "\n";
        return kExitInternal;
    }
    return (*started)->run();
}

int cmd_status(const std::vector<std::string>& opts) {
    std::string socket = kDefaultSocket, format = "table", color_choice = "auto";
    po::options_description desc("fnwarden status options");
    desc.add_options()
        ("help,h", "show this help")
        ("socket", po::value(&socket), "the daemon's control socket")
        ("output,o", po::value(&format), "table|json")
        ("color", po::value(&color_choice), kColorHelp);
    if (auto done = parse_subcommand(opts, desc, "status",
                                     "fnwarden status [--socket PATH] [-o table|json] [--color auto|always|never]"))
        return *done;
    if (format != "table" && format != "json") {
        std::cerr << "fnwarden status: -o must be table or json\n";
        return kExitUsage;
    }
    const std::optional<bool> color = color_from_option(color_choice, "status");
    if (!color) return kExitUsage;
    auto client = connect_or_explain(socket, "status");
    if (!client) return kExitInternal;
    auto reply = client->ask(StatusRequest{}, kStatusTimeout);
    Result<StatusReply> status = reply ? expect_reply<StatusReply>(*reply) : fail(client->last_error());
    if (!status) {
        std::cerr << "fnwarden status: no status from the daemon: " << display_name(status.error(), 1024) << "\n";
        return kExitInternal;
    }
    // JSON as the daemon sent it: keys a newer daemon adds are kept.
    if (format == "json")
        std::cout << reply->dump(2) << "\n";
    else
        print_status_table(*status, std::cout, *color);
    return 0;
}

// `trace` with no daemon to ask: this process becomes one (probes, the rules,
// the control socket so `fnwarden run --socket` can register) and prints
// its events itself until Ctrl-C.
int trace_standalone(const std::string& socket, const std::string& rules, const TraceRequest& request, bool table,
                     bool color) {
    auto loaded = load_daemon_config(std::nullopt);
    if (!loaded.ok()) {
        for (const auto& e : loaded.errors) std::cerr << e.to_string() << "\n";
        return kExitUsage;
    }
    DaemonConfig config = *loaded.config;
    if (!rules.empty()) config.rules_dir = rules;
    config.socket_path = socket;
    config.output = "none";  // the terminal is the output
    config.metrics_address = "";
    // A trace session's probes go with it: pinned, they would keep
    // enforcing its rules after Ctrl-C, and hold the root a daemon needs.
    config.pin_root = "none";
    std::cerr << "fnwarden trace: no daemon at " << socket << ": tracing standalone with the rules in "
              << config.rules_dir.string() << "; start functions with `fnwarden run --socket " << socket << "`\n";
    block_daemon_signals();
    auto started = Daemon::start(config);
    if (!started) {
        std::cerr << "fnwarden trace: " << started.error() << "\n";
        return kExitInternal;
    }
    Daemon& daemon = **started;
    if (table) print_trace_header(std::cout);
    std::cout.flush();
    Status traced = daemon.trace_locally(request, [&](const json& event) {
        if (table)
            print_trace_row(event, color, std::cout);
        else
            std::cout << event.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
        std::cout.flush();
    });
    if (!traced) {
        std::cerr << "fnwarden trace: " << traced.error() << "\n";
        return kExitUsage;
    }
    return daemon.run();
}

namespace {

// An event message as the daemon frames it (ControlServer, EventRouter::
// deliver): {"type":"event","event":EVENT}. For -o json the EVENT bytes are
// passed on as they came; the daemon wrote them as JSON.
constexpr std::string_view kEventFramePrefix = R"({"type":"event","event":)";

std::optional<std::string_view> framed_event(std::string_view line) {
    if (line.size() <= kEventFramePrefix.size() + 1 || !line.starts_with(kEventFramePrefix) || !line.ends_with('}'))
        return std::nullopt;
    return line.substr(kEventFramePrefix.size(), line.size() - kEventFramePrefix.size() - 1);
}

// The subscribed stream, printed until Ctrl-C, a closed stdout (0) or the
// daemon's end (1). Output is flushed when the stream has nothing more
// buffered, not per line: a write per event made this client, not the
// daemon, the trace's bottleneck.
int print_trace_stream(ControlClient& client, bool table, bool color) {
    if (table) print_trace_header(std::cout);
    std::cout.flush();
    while (!g_interrupted) {
        std::optional<std::string> line = client.receive_line(std::chrono::milliseconds(0));
        if (!line) {
            std::cout.flush();
            if (!std::cout) break;  // stdout closed (trace | head)
            line = client.receive_line(std::chrono::milliseconds(-1));
        }
        if (!line) {
            if (g_interrupted) break;
            if (client.closed()) {
                std::cerr << "fnwarden trace: the daemon closed the stream: " << client.last_error() << "\n";
                return kExitInternal;
            }
            continue;
        }
        if (!table) {
            if (std::optional<std::string_view> event = framed_event(*line)) {
                std::cout << *event << '\n';
                if (!std::cout) break;
                continue;
            }
        }
        json message = json::parse(*line, nullptr, /*allow_exceptions=*/false);
        if (message.is_discarded()) continue;
        Result<ControlReply> parsed = parse_reply(message);
        if (!parsed) continue;
        if (const auto* event = std::get_if<EventMessage>(&*parsed)) {
            if (table)
                print_trace_row(event->event, color, std::cout);
            else
                std::cout << event->event.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
        } else if (const auto* dropped = std::get_if<DroppedNotice>(&*parsed)) {
            // The daemon never waits for us: say what we missed, in band.
            if (table)
                std::cout << "--- " << dropped->count << " events dropped: this terminal read too slowly ---\n";
            else
                std::cout << message.dump() << "\n";
        }
        if (!std::cout) break;
    }
    std::cout.flush();
    return 0;
}

}  // namespace

int cmd_trace(const std::vector<std::string>& opts) {
    std::string socket = kDefaultSocket, format = "table", events, rules, color_choice = "auto";
    std::vector<std::string> functions;
    bool violations_only = false, standalone = false;
    po::options_description desc("fnwarden trace options");
    desc.add_options()
        ("help,h", "show this help")
        ("socket", po::value(&socket), "the daemon's control socket")
        ("function", po::value(&functions), "only this function (repeatable)")
        ("events", po::value(&events), "comma list of syscall,file,net,exec (default all)")
        ("violations", po::bool_switch(&violations_only), "only violations (allowed events then never leave the kernel)")
        ("output,o", po::value(&format), "table|json")
        ("standalone", po::bool_switch(&standalone),
         "when no daemon answers at --socket: load fnwarden's own probes and trace with them (this process "
         "serves the socket until Ctrl-C)")
        ("rules", po::value(&rules), "with --standalone: the policies in DIR "
                                     "(default: the config's rules, /etc/fnwarden/rules)")
        ("color", po::value(&color_choice), kColorHelp);
    if (auto done = parse_subcommand(opts, desc, "trace",
                                     "fnwarden trace [--function NAME] [--events syscall,file,net,exec] "
                                     "[--violations] [-o table|json] [--color auto|always|never] "
                                     "[--standalone [--rules DIR]]"))
        return *done;
    if (format != "table" && format != "json") {
        std::cerr << "fnwarden trace: -o must be table or json\n";
        return kExitUsage;
    }
    const std::optional<bool> colored = color_from_option(color_choice, "trace");
    if (!colored) return kExitUsage;
    const TraceRequest request{functions, split_list(events), violations_only};
    const bool table = format == "table";
    const bool color = table && *colored;  // JSON is never colored
    auto connected = ControlClient::connect(socket, kConnectTimeout);
    if (!connected) {
        // Only when asked: a mistyped --socket must not turn a read-only look
        // at the daemon into a second, host-wide set of probes.
        if (standalone && connected.failure().kind == ControlConnectFailure::no_daemon)
            return trace_standalone(socket, rules, request, table, color);
        std::cerr << "fnwarden trace: " << connected.error();
        if (connected.failure().kind == ControlConnectFailure::no_daemon)
            std::cerr << " (--standalone traces with this process's own probes)";
        std::cerr << "\n";
        return kExitInternal;
    }
    install_interrupt_handler();
    ControlClient* client = &connected.value();
    auto reply = client->request(request_json(request), kStatusTimeout);
    Result<SubscribedReply> subscribed = reply ? expect_reply<SubscribedReply>(*reply) : fail(client->last_error());
    if (!subscribed) {
        std::cerr << "fnwarden trace: " << display_name(subscribed.error(), 1024) << "\n";
        return kExitUsage;
    }
    return print_trace_stream(*client, table, color);
}

int cmd_top(const std::vector<std::string>& opts) {
    std::string socket = kDefaultSocket, color_choice = "auto";
    double interval = 1.0;
    unsigned iterations = 0;
    po::options_description desc("fnwarden top options");
    desc.add_options()
        ("help,h", "show this help")
        ("socket", po::value(&socket), "the daemon's control socket")
        ("interval", po::value(&interval), "seconds between refreshes")
        ("iterations,n", po::value(&iterations), "stop after N refreshes (0: until Ctrl-C)")
        ("color", po::value(&color_choice), kColorHelp);
    if (auto done = parse_subcommand(opts, desc, "top", "fnwarden top [--interval S] [-n N] [--color auto|always|never]"))
        return *done;
    const std::optional<bool> color = color_from_option(color_choice, "top");
    if (!color) return kExitUsage;
    install_interrupt_handler();
    const bool tty = ::isatty(STDOUT_FILENO);
    std::map<std::string, std::pair<uint64_t, uint64_t>> previous;
    uint64_t previous_drops = 0;
    auto previous_time = std::chrono::steady_clock::now();
    for (unsigned n = 0; !g_interrupted && (iterations == 0 || n < iterations); ++n) {
        auto client = connect_or_explain(socket, "top");
        if (!client) return kExitInternal;
        auto reply = client->ask(StatusRequest{}, kStatusTimeout);
        Result<StatusReply> s = reply ? expect_reply<StatusReply>(*reply) : fail(client->last_error());
        if (!s) {
            std::cerr << "fnwarden top: no status from the daemon\n";
            return kExitInternal;
        }
        const auto now = std::chrono::steady_clock::now();
        const double seconds = n == 0 ? 0 : std::chrono::duration<double>(now - previous_time).count();
        const uint64_t drops = s->counters.kernel.ringbuf_drops;
        if (tty) std::cout << "\033[H\033[2J";
        std::cout << "fnwarden top  policy set " << display_name(s->policy_set.version, 1024) << "  mode "
                  << display_name(s->daemon.mode, 1024) << "  ring-buffer drops " << drops;
        if (seconds > 0) std::cout << " (+" << drops - previous_drops << ")";
        std::cout << "\n\n";
        std::map<std::string, std::pair<uint64_t, uint64_t>> current;
        std::vector<TopRow> rows;
        for (const FunctionInfo& f : s->functions) {
            const std::string& name = f.function;
            current[name] = {f.events, f.violations};
            auto before = previous.count(name) ? previous[name] : std::make_pair(f.events, f.violations);
            auto rate = [&](uint64_t now_v, uint64_t then_v) {
                std::ostringstream r;
                r << std::fixed << std::setprecision(1) << (seconds > 0 ? (now_v - then_v) / seconds : 0.0);
                return r.str();
            };
            rows.push_back(TopRow{name, std::to_string(f.cgroups), rate(f.events, before.first),
                                  rate(f.violations, before.second), f.events, f.violations,
                                  f.violations > before.second});
        }
        print_top_table(rows, std::cout, *color);
        std::cout.flush();
        previous = std::move(current);
        previous_drops = drops;
        previous_time = now;
        if (iterations != 0 && n + 1 >= iterations) break;
        std::this_thread::sleep_for(std::chrono::duration<double>(interval));
    }
    return 0;
}

}  // namespace fnw::cli
