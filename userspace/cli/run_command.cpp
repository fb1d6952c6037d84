// SPDX-License-Identifier: Apache-2.0
// fnwarden run: a command as a monitored function in its own cgroup, guarded
// by the host daemon when one runs, else by probes of its own.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/program_options.hpp>
#include <spdlog/spdlog.h>

#include "cli/daemon_run.hpp"
#include "cli/engine.hpp"
#include "cli/function_commands.hpp"
#include "cli/options.hpp"
#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "control/control_client.hpp"
#include "control/daemon_guard.hpp"
#include "core/display_name.hpp"
#include "core/elf_interpreter.hpp"
#include "output/event_json.hpp"
#include "output/event_line.hpp"
#include "output/falco_format.hpp"
#include "output/file_appender.hpp"
#include "output/grant_report_json.hpp"
#include "runtime/cgroup.hpp"
#include "runtime/function_runner.hpp"
#include "runtime/kernel_features.hpp"
#include "runtime/local_guard.hpp"

namespace po = boost::program_options;

namespace fnw::cli {

namespace {

struct RunOptions {
    std::string function, policy_file, mode_text, events_path;
    std::string output_format = "json";
    std::string socket = kDefaultSocket;
    uint32_t ringbuf_bytes = FNW_RINGBUF_DEFAULT_BYTES;
    bool trace = false;
    bool explain = false;
    bool no_baseline = false;
    bool standalone = false;
    std::string baseline_file;
    std::string user, group;
    std::string report_path;  // --report: the grant report, as JSON
};

// The exit code when the command ends here (--help, a usage error).
std::optional<int> parse_run_options(const std::vector<std::string>& opts, RunOptions& o) {
    po::options_description desc("fnwarden run options");
    desc.add_options()
        ("help,h", "show this help")
        ("function", po::value(&o.function)->required(), "function name (used in events and the cgroup name)")
        ("policy", po::value(&o.policy_file), "policy file (rules/*.yaml); under a daemon its own policy for the function applies")
        ("mode", po::value(&o.mode_text), "audit|enforce: overrides the policy's spec.mode (standalone only)")
        ("events", po::value(&o.events_path), "write JSON-lines events to PATH instead of stderr (standalone only)")
        ("output-format", po::value(&o.output_format), "json|falco: how --events writes events (falco: Falco's schema; standalone only)")
        ("trace", po::bool_switch(&o.trace), "emit every syscall of the function, not only violations")
        ("explain", po::bool_switch(&o.explain), "print which mechanism guards each rule on this kernel (then run CMD, if given)")
        ("ringbuf-bytes", po::value(&o.ringbuf_bytes), "ring buffer size (power of two, >= page size)")
        ("baseline", po::value(&o.baseline_file), "baseline merged into the policy (default: baseline.yaml beside the policy or one directory up)")
        ("no-baseline", po::bool_switch(&o.no_baseline), "apply no baseline")
        ("socket", po::value(&o.socket), "the daemon's control socket: register there when a daemon runs")
        ("user", po::value(&o.user), "run the function as this user (name or uid; default under sudo: the invoking user)")
        ("group", po::value(&o.group), "... with this group (name or gid; default: the user's primary group); no supplementary groups")
        ("standalone", po::bool_switch(&o.standalone), "load fnwarden's own probes even when a daemon runs")
        ("report", po::value(&o.report_path), "after the run, write which grants of the policy went unused to FILE "
                                              "(JSON; read it with fnwarden policy report --from FILE)");
    return parse_subcommand(opts, desc, "run", "fnwarden run [options] -- CMD ARGS...", nullptr, kExitRunFailed);
}

// --report: the JSON goes to `path`; a failure is said, the run's status stays.
void write_report(const std::string& path, const Result<nlohmann::json>& report) {
    if (!report) {
        spdlog::error("--report: no grant report: {}", report.error());
        return;
    }
    std::ofstream out(path, std::ios::trunc);
    out << report->dump(2) << "\n";
    if (!out.flush()) spdlog::error("--report: cannot write {}", display_name(path));
}

// Under a daemon the counts are the daemon's, since it loaded the policy.
void write_daemon_report(const RunOptions& o) {
    auto client = ControlClient::connect(o.socket, std::chrono::seconds(2));
    if (!client) return write_report(o.report_path, fail(client.error()));
    auto reply = client->ask(PolicyReportRequest{o.function}, std::chrono::seconds(10));
    Result<PolicyReportReply> report = reply ? expect_reply<PolicyReportReply>(*reply) : fail(client->last_error());
    write_report(o.report_path, report ? Result<nlohmann::json>(report->report) : fail(report.error()));
}

// Standalone: this process's probes counted slot 0 during the run. The
// policy as written (no baseline): the suggestion is a file to keep.
void write_standalone_report(const RunOptions& o, const ProbeSet& probes) {
    auto counted = probes.grant_use(0);
    auto written = parse_policy_file(o.policy_file);
    if (!counted || !written.ok()) return write_report(o.report_path, fail("the kernel's counts cannot be read"));
    GrantReport report = report_grant_use(
        *written.policy, *counted, std::chrono::duration<double>(std::chrono::steady_clock::now() - counted->since).count());
    report.function = o.function;
    write_report(o.report_path, grant_report_json(make_grant_report_document(*written.policy, std::move(report))));
}

// A running daemon owns the probes: register with it rather than load a
// second copy. Only "nobody is listening" falls back (nullopt); a daemon
// that refuses us must not be bypassed silently.
std::optional<int> try_run_under_daemon(const RunOptions& o, const std::vector<std::string>& command,
                                        const std::optional<RunAs>& run_as) {
    auto connected = ControlClient::connect(o.socket, std::chrono::seconds(2));
    if (connected) {
        if (!o.policy_file.empty() || !o.mode_text.empty() || !o.events_path.empty() || o.output_format != "json")
            spdlog::warn("a daemon runs at {}: its policy, mode and outputs apply (--policy/--mode/--events/"
                         "--output-format ignored; --standalone to use them)",
                         o.socket);
        const int rc = run_under_daemon(std::move(*connected), o.socket, o.function, command, o.trace, o.explain, run_as);
        if (!o.report_path.empty()) write_daemon_report(o);
        return rc;
    }
    if (connected.failure().kind != ControlConnectFailure::no_daemon) {
        std::cerr << "fnwarden run: " << connected.error()
                  << " (--standalone loads fnwarden's own probes instead)\n";
        return kExitRunFailed;
    }
    return std::nullopt;
}

// The policy from --policy (with its baseline), in the mode --mode asks for.
std::optional<std::pair<FunctionPolicy, Mode>> standalone_policy(const RunOptions& o) {
    auto loaded_policy = load_run_policy(o.policy_file, o.no_baseline, o.baseline_file);
    if (!loaded_policy) return std::nullopt;
    FunctionPolicy policy = std::move(*loaded_policy);
    Mode mode = policy.mode;
    if (!o.mode_text.empty()) {
        auto m = parse_mode(o.mode_text);
        if (!m) {
            std::cerr << "fnwarden run: --mode must be audit or enforce\n";
            return std::nullopt;
        }
        mode = *m;
    }
    if (policy.function != o.function)
        spdlog::warn("policy {} selects function \"{}\", applying it to \"{}\" as asked", policy.name,
                     policy.function, o.function);
    return std::pair{std::move(policy), mode};
}

void report_standalone_run(const std::string& function, const RunOutcome& outcome, const ProbeSet& probes,
                           uint64_t malformed, uint64_t violation_events) {
    const auto counters = probes.counters();
    if (malformed) spdlog::error("{} malformed ring-buffer records were discarded", malformed);
    if (counters.ringbuf_drops)
        spdlog::error("{} events were lost: ring buffer full (raise --ringbuf-bytes)", counters.ringbuf_drops);
    spdlog::info("{} (pid {}) {} {}: {} syscalls seen by the probe, {} violations there ({} killed), "
                 "{} stopped by seccomp, {} events dropped; {} violation events in all (files, exec, network "
                 "included)",
                 function, outcome.pid, outcome.term_signal ? "killed by signal" : "exited",
                 outcome.term_signal ? *outcome.term_signal : *outcome.exit_status, counters.events,
                 counters.violations, counters.kills, outcome.seccomp_violations, counters.ringbuf_drops,
                 violation_events);
}

// The on-demand probes this run can ask for (LocalGuard::arm, ProbeSet::
// set_policy and monitor_cgroup attach them): the rest are not loaded.
ProbeNeeds probe_needs(const FunctionPolicy& policy, bool trace) {
    ProbeNeeds needs;
    needs.files = policy.files.restricted || trace;  // a traced cgroup's file accesses are traced too
    needs.network = policy.network.restricted || trace;
    needs.process = policy.process.restricted;
    // Landlock guards files, exec and TCP ports of a launched function.
    needs.landlock = policy.files.restricted || policy.exec.restricted || policy.network.restricted;
    return needs;
}

// Whether fd is one of the probes' kernel objects (a BPF link, program or
// map, or the perf event a tracepoint link holds).
bool is_probe_object(int fd) {
    char target[64] = {};
    const std::string link = "/proc/self/fd/" + std::to_string(fd);
    if (::readlink(link.c_str(), target, sizeof(target) - 1) < 0) return false;
    const std::string_view name(target);
    return name.rfind("anon_inode:bpf", 0) == 0 || name == "anon_inode:[perf_event]";
}

// Detaching waits for an RCU grace period per tracepoint link: about 2 s
// for the file probes here, even closed in parallel (~ProbeSet), and the
// function's result need not wait for it. A child keeps the probes' objects,
// waits until this process is gone, then exits: the kernel detaches them
// then. It closes everything else first (the terminal, pipes, the events
// file), so that whoever reads our output sees its end when we exit.
[[noreturn]] void exit_detaching_in_background(int code) {
    spdlog::default_logger()->flush();
    std::fflush(nullptr);
    UniqueFd parent(static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0)));
    if (parent.valid() && ::fork() == 0) {
        std::vector<int> others;
        if (DIR* dir = ::opendir("/proc/self/fd")) {
            while (const dirent* entry = ::readdir(dir)) {
                const int fd = std::atoi(entry->d_name);
                if (entry->d_name[0] != '.' && fd != parent.get() && fd != ::dirfd(dir) && !is_probe_object(fd))
                    others.push_back(fd);
            }
            ::closedir(dir);
        }
        for (int fd : others) ::close(fd);
        ::setsid();  // a Ctrl-C meant for the next command is not ours
        pollfd gone{parent.get(), POLLIN, 0};
        ::poll(&gone, 1, 30'000);
        ::_exit(0);
    }
    ::_exit(code);  // without the destructors: the child detaches (or, if fork failed, the kernel here)
}

// `fnwarden run` with probes of its own: events go to --events or stderr.
int run_standalone(const RunOptions& o, const std::vector<std::string>& command, const std::optional<RunAs>& run_as) {
    const std::string& function = o.function;
    auto chosen = standalone_policy(o);
    if (!chosen) return kExitRunFailed;
    // Named, not a structured binding: clang 14 (Debian 12's) cannot
    // capture a binding in the lambdas below.
    FunctionPolicy& policy = chosen->first;
    Mode& mode = chosen->second;

    const auto format = output_format_from(o.output_format);
    if (!format) {
        std::cerr << "fnwarden run: --output-format must be json or falco, not \"" << o.output_format << "\"\n";
        return kExitUsage;
    }
    // Events go to --events (a file created 0600: events name processes
    // and arguments) or to stderr, written by the appender's own thread:
    // the thread that drains the rings never waits for the disk.
    std::unique_ptr<FileAppender> output;
    if (o.events_path.empty()) {
        output = FileAppender::borrow(STDERR_FILENO);
    } else if (auto opened = FileAppender::open(o.events_path, FileAppenderOptions{.follow_symlinks = true})) {
        output = std::move(*opened);
    } else {
        std::cerr << "fnwarden run: cannot open " << opened.error() << "\n";
        return kExitRunFailed;
    }

    auto engine = Engine::start("fnwarden run", o.ringbuf_bytes, FNW_ALERTS_RINGBUF_DEFAULT_BYTES,
                                probe_needs(policy, o.trace));
    if (!engine) return kExitRunFailed;
    ProbeSet& probes = *engine->probes;
    // After loading: whether the BPF-LSM programs loaded is part of the answer.
    if (o.explain) {
        std::cerr << explain_enforcement(policy, mode, probe_kernel_capabilities(), LsmStatus{probes.lsm_error(), probes.lsm_hooks()});
        if (command.empty()) return 0;
    }

    EventContext ctx{function, policy.name, mode, /*resolve_exe=*/true, refused_interpreters(policy)};
    const bool interpreter_may_be_refused_here = interpreter_may_be_refused(policy);
    WallClock clock = WallClock::now();
    uint64_t violation_events = 0;  // every class: syscalls, files, exec, network
    EventLineWriter lines(ctx, clock);
    // `exe`: the program the launcher read for its own (seccomp) events.
    auto write_record = [&](const Record& record, std::optional<std::string_view> exe) {
        if (interpreter_may_be_refused_here) name_glob_program_interpreter(record, policy, ctx);
        if (*format == OutputFormat::Json) {
            if (!lines.append(record, output->batch(), exe)) return;  // a cgroup birth: no event
        } else if (auto j = to_json(record, ctx, clock, exe)) {
            output->batch() += to_falco(*j).dump() + "\n";
        } else {
            return;
        }
        if (is_violation(record)) ++violation_events;
        output->hand_over_if_full();
    };
    auto created = LocalGuard::create(probes, /*policy_id=*/0, policy, mode,
                                      [&](const Record& record) { write_record(record, std::nullopt); });
    if (!created) {
        std::cerr << "fnwarden run: " << created.error() << "\n";
        return kExitRunFailed;
    }
    std::unique_ptr<LocalGuard> guard = std::move(*created);
    guard->on_launcher_event([&](const Record& record, std::string_view exe) { write_record(record, exe); });
    guard->on_drained([&output] { output->idle(); });
    FunctionRunner runner(*guard, engine->cgroup_parent());
    auto outcome = run_function(runner, RunRequest{function, policy, mode, command, o.trace}, run_as);
    if (!outcome) return exit_code_for(outcome.failure());
    output->flush();
    report_standalone_run(function, *outcome, probes, guard->malformed(), violation_events);
    const FileAppender::Stats written = output->stats();
    const std::string events_to = o.events_path.empty() ? std::string("stderr") : o.events_path;
    if (written.bytes_lost) spdlog::error("{} bytes of events could not be written to {}", written.bytes_lost, events_to);
    // The ring's drops say that events were lost; this says whether the
    // disk was why (the ring filled while the reader waited for it).
    if (written.filler_waits)
        spdlog::info("{}: the reader waited {} times for the event file's writer", events_to, written.filler_waits);
    if (!o.report_path.empty()) write_standalone_report(o, probes);
    exit_detaching_in_background(outcome->exit_code);
}

}  // namespace

int cmd_run(const std::vector<std::string>& opts, const std::vector<std::string>& command) {
    RunOptions o;
    if (auto done = parse_run_options(opts, o)) return *done;
    // The name becomes the cgroup's directory name: "../x" would put the
    // function under another parent's limits and policy.
    if (std::string problem = function_name_problem(o.function); !problem.empty()) {
        std::cerr << "fnwarden run: " << problem << "\n";
        return kExitRunFailed;
    }
    if (command.empty() && !o.explain) {
        std::cerr << "fnwarden run: no command given (put it after --)\n";
        return kExitRunFailed;
    }
    auto run_as = resolve_run_as(o.user, o.group);
    if (!run_as) {
        std::cerr << "fnwarden run: " << run_as.error() << "\n";
        return kExitRunFailed;
    }
    if (*run_as) spdlog::debug("{}: runs as uid {} gid {}", o.function, (*run_as)->uid, (*run_as)->gid);

    if (!o.standalone)
        if (auto done = try_run_under_daemon(o, command, *run_as)) return *done;
    if (o.policy_file.empty()) {
        std::cerr << "fnwarden run: no daemon at " << o.socket << ": --policy FILE is required\n";
        return kExitRunFailed;
    }
    return run_standalone(o, command, *run_as);
}

}  // namespace fnw::cli
