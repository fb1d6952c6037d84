// fnwarden: the command-line entry point. Subcommands:
//   run              start a command as a monitored function
//   policy validate  check policy files without loading anything
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/options.hpp"
#include "common/unique_fd.hpp"
#include "control/control_client.hpp"
#include "control/daemon_guard.hpp"
#include "core/display_name.hpp"
#include "core/policy_parser.hpp"
#include "core/policy_writer.hpp"
#include "core/syscall_table.hpp"
#include "output/event_json.hpp"
#include "probes/probe_set.hpp"
#include "runtime/cgroup.hpp"
#include "runtime/function_runner.hpp"
#include "runtime/kernel_features.hpp"
#include "runtime/local_guard.hpp"

namespace po = boost::program_options;

namespace fnw {
namespace {

using cli::kExitInternal;
using cli::kExitUsage;
using cli::parse_subcommand;

constexpr const char* kTopUsage =
    "usage: fnwarden <command> [options]\n"
    "\n"
    "commands:\n"
    "  run --function NAME [--policy FILE] [--mode audit|enforce] [--events PATH] [--trace] [--explain]\n"
    "      [--baseline FILE | --no-baseline] [--socket PATH | --standalone] [--user U] [--group G] -- CMD ARGS...\n"
    "                     run CMD as a monitored function in its own cgroup; registers it with the\n"
    "                     daemon when one runs (its policy for NAME applies), else loads its own probes\n"
    "  learn --function NAME [--merge FILE] [-o FILE] -- CMD ARGS...\n"
    "                     run CMD, record every syscall it makes (in the kernel), print a policy\n"
    "  daemon [--rules DIR] [--mode audit|enforce] [--output stdout|FILE] [--socket PATH] [--metrics ADDR]\n"
    "      [--webhook URL] [--config FILE]\n"
    "                     the host daemon: loads the probes once, every policy in DIR, serves the socket\n"
    "  status [-o table|json]\n"
    "                     what the daemon guards, with what mechanism, and its counters\n"
    "  trace [--function NAME] [--events syscall,file,net,exec] [--violations] [-o table|json]\n"
    "                     live events from the daemon\n"
    "  top                per-function event and violation rates, refreshed\n"
    "  policy validate FILE...\n"
    "                     check policy files; prints file:line:column for each error\n"
    "  version            print the version\n";

// baseline.yaml in the policy's directory or its parent (rules/examples/x.yaml
// finds rules/baseline.yaml); "" when there is none.
std::string find_baseline_for(const std::string& policy_file) {
    std::filesystem::path dir = std::filesystem::absolute(policy_file).parent_path();
    for (int up = 0; up < 2 && !dir.empty(); ++up, dir = dir.parent_path()) {
        std::error_code ec;
        if (std::filesystem::is_regular_file(dir / "baseline.yaml", ec)) return (dir / "baseline.yaml").string();
    }
    return "";
}

void print_policy_errors(const PolicyParseResult& result) {
    for (const auto& e : result.errors) std::cerr << e.to_string() << "\n";
}

int cmd_policy_validate(const std::vector<std::string>& args) {
    if (args.empty() || args[0] != "validate") {
        std::cerr << "usage: fnwarden policy validate FILE...\n";
        return kExitUsage;
    }
    if (args.size() < 2) {
        std::cerr << "fnwarden policy validate: no files given\n";
        return kExitUsage;
    }
    int rc = 0;
    for (size_t i = 1; i < args.size(); ++i) {
        if (document_kind_of_file(args[i]) == "Baseline") {
            auto baseline = parse_baseline_file(args[i]);
            for (const auto& e : baseline.errors) std::cerr << e.to_string() << "\n";
            if (!baseline.ok()) {
                rc = kExitUsage;
                continue;
            }
            std::cout << args[i] << ": ok (baseline " << baseline.baseline->name << ": " << baseline.baseline->deny.count()
                      << " syscalls denied, " << baseline.baseline->deny_unless_allowed.count()
                      << " denied unless allowed)\n";
            continue;
        }
        auto result = parse_policy_file(args[i]);
        if (!result.ok()) {
            print_policy_errors(result);
            rc = kExitUsage;
            continue;
        }
        const auto& p = *result.policy;
        std::cout << args[i] << ": ok (policy " << p.name << ", function " << p.function << ", mode "
                  << to_string(p.mode) << "; syscalls: ";
        if (p.syscalls.allow.all())
            std::cout << "unrestricted";
        else
            std::cout << p.syscalls.allow.count() << " allowed, " << to_string(p.syscalls.on_violation);
        std::cout << "; network: ";
        if (p.network.restricted)
            std::cout << p.network.egress.size() << " egress + " << p.network.listen.size() << " listen rules, "
                      << to_string(p.network.on_violation);
        else
            std::cout << "unrestricted";
        std::cout << "; files: ";
        if (p.files.restricted)
            std::cout << p.files.read.size() + p.files.write.size() + p.files.create.size() + p.files.remove.size()
                      << " patterns, " << to_string(p.files.on_violation);
        else
            std::cout << "unrestricted";
        std::cout << "; exec: ";
        if (p.exec.restricted)
            std::cout << p.exec.allow.size() << " programs, " << to_string(p.exec.on_violation);
        else
            std::cout << "unrestricted";
        std::cout << "; process: ";
        if (p.process.restricted) {
            std::string refused;
            for (auto [allowed, name] : {std::pair{p.process.ptrace, "ptrace"}, {p.process.bpf, "bpf"},
                                         {p.process.exec_memory, "execMemory"}})
                if (!allowed) refused += (refused.empty() ? "" : " ") + std::string(name);
            std::cout << (refused.empty() ? "nothing" : refused) << " refused, " << to_string(p.process.on_violation);
        } else {
            std::cout << "unrestricted";
        }
        std::cout << ")\n";
    }
    return rc;
}

// Where events go: stderr by default, or a file opened 0600 (events name
// processes and arguments: not for every local user to read).
class EventOutput {
public:
    static std::optional<EventOutput> open(const std::string& path) {
        if (path.empty()) return EventOutput(stderr, false);
        UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
        FILE* file = fd.valid() ? ::fdopen(fd.get(), "a") : nullptr;
        if (!file) return std::nullopt;
        fd.release();  // now owned by `file`
        return EventOutput(file, true);
    }
    EventOutput(EventOutput&& o) noexcept : file_(std::exchange(o.file_, nullptr)), owned_(o.owned_) {}
    EventOutput(const EventOutput&) = delete;
    ~EventOutput() {
        if (owned_ && file_) std::fclose(file_);
    }
    // One line per event, flushed: a reader tailing the file sees it at once.
    void write_line(const std::string& line) {
        std::fputs(line.c_str(), file_);
        std::fputc('\n', file_);
        std::fflush(file_);
    }

private:
    EventOutput(FILE* file, bool owned) : file_(file), owned_(owned) {}
    FILE* file_;
    bool owned_;
};

// Probes loaded and attached, and where launched functions get their cgroups.
struct Engine {
    std::unique_ptr<ProbeSet> probes;
    std::filesystem::path cgroup2_root;

    std::filesystem::path cgroup_parent() const { return cgroup2_root / "fnwarden"; }

    static std::optional<Engine> start(std::string_view who, uint32_t ringbuf_bytes) {
        auto root = find_cgroup2_mount();
        if (!root) {
            std::cerr << who << ": no cgroup2 mount in /proc/self/mountinfo (mount -t cgroup2 none /sys/fs/cgroup)\n";
            return std::nullopt;
        }
        ProbeOptions options;
        options.cgroup2_root = *root;
        options.ringbuf_bytes = ringbuf_bytes;
        auto loaded = ProbeSet::load(options);
        if (auto* err = std::get_if<ProbeError>(&loaded)) {
            std::cerr << who << ": " << err->message << "\n";
            return std::nullopt;
        }
        return Engine{std::move(std::get<std::unique_ptr<ProbeSet>>(loaded)), *root};
    }
};

// A whole decimal id, nothing else ("65534", not "65534x" or "").
std::optional<unsigned long> parse_id(const char* text) {
    if (text == nullptr || *text < '0' || *text > '9') return std::nullopt;
    errno = 0;
    char* end = nullptr;
    unsigned long value = std::strtoul(text, &end, 10);
    if (errno != 0 || *end != '\0' || value >= static_cast<unsigned long>(static_cast<uid_t>(-1))) return std::nullopt;
    return value;
}

// Whose rights the function runs with (`run --user/--group`). Default: the
// user who ran `sudo fnwarden run` (SUDO_UID/SUDO_GID), so a function started
// through sudo never runs as root by accident; otherwise the caller's own.
// Supplementary groups are never kept: the function gets none, not even
// the control socket's group its user may be in.
// False (and `error`) when a name does not resolve; `run_as` stays unset for
// "the launcher's own".
bool resolve_run_as(const std::string& user, const std::string& group, std::optional<RunAs>* run_as,
                    std::string* error) {
    run_as->reset();
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
    if (!user.empty()) {
        const passwd* pw = nullptr;
        if (auto id = parse_id(user.c_str())) {
            uid = static_cast<uid_t>(*id);
            pw = ::getpwuid(*uid);
        } else if ((pw = ::getpwnam(user.c_str())) != nullptr) {
            uid = pw->pw_uid;
        } else {
            *error = "--user: no such user \"" + display_name(user) + "\"";
            return false;
        }
        if (pw) gid = pw->pw_gid;
    } else if (auto sudo_uid = parse_id(std::getenv("SUDO_UID")); sudo_uid && ::getuid() == 0) {
        uid = static_cast<uid_t>(*sudo_uid);
        if (auto sudo_gid = parse_id(std::getenv("SUDO_GID"))) gid = static_cast<gid_t>(*sudo_gid);
    }
    if (!group.empty()) {
        if (auto id = parse_id(group.c_str())) {
            gid = static_cast<gid_t>(*id);
        } else if (const struct group* gr = ::getgrnam(group.c_str())) {
            gid = gr->gr_gid;
        } else {
            *error = "--group: no such group \"" + display_name(group) + "\"";
            return false;
        }
    }
    if (!uid && !gid) return true;  // the launcher's own
    if (!uid) uid = ::getuid();
    if (!gid) {
        *error = "--user " + std::to_string(*uid) + " has no passwd entry: give its group with --group";
        return false;
    }
    *run_as = RunAs{*uid, *gid};
    return true;
}

// The policy (with its baseline) a run applies: from --policy, or, under a
// daemon, the file the daemon loaded for the function.
std::optional<FunctionPolicy> load_run_policy(const std::string& policy_file, bool no_baseline,
                                              std::string baseline_file) {
    auto parsed = parse_policy_file(policy_file);
    if (!parsed.ok()) {
        print_policy_errors(parsed);
        std::cerr << "fnwarden run: invalid policy, nothing loaded\n";
        return std::nullopt;
    }
    FunctionPolicy policy = std::move(*parsed.policy);
    if (no_baseline) return policy;
    if (baseline_file.empty()) baseline_file = find_baseline_for(policy_file);
    if (baseline_file.empty()) {
        spdlog::warn("no baseline.yaml beside {} or one directory up: none applied (--baseline FILE)", policy_file);
        return policy;
    }
    auto baseline = parse_baseline_file(baseline_file);
    if (!baseline.ok()) {
        for (const auto& e : baseline.errors) std::cerr << e.to_string() << "\n";
        std::cerr << "fnwarden run: invalid baseline, nothing loaded\n";
        return std::nullopt;
    }
    for (const auto& name : apply_baseline(policy, *baseline.baseline))
        spdlog::warn("policy {} allows {}, which the baseline {} forbids: denied", policy.name, name, baseline_file);
    spdlog::debug("baseline {} applied", baseline_file);
    return policy;
}

void log_outcome(const std::string& function, const RunOutcome& outcome) {
    spdlog::info("{} (pid {}) {} {}; {} syscalls stopped by seccomp", function, outcome.pid,
                 outcome.term_signal ? "killed by signal" : "exited",
                 outcome.term_signal ? *outcome.term_signal : *outcome.exit_status, outcome.seccomp_violations);
}

// `fnwarden run` under a host daemon: the daemon's policy for the function
// applies, the daemon guards the cgroup, events go to the daemon's outputs.
int run_under_daemon(ControlClient client, const std::string& function, const std::vector<std::string>& command,
                     bool trace, bool explain, const std::optional<RunAs>& run_as) {
    auto reply = client.request({{"op", "policy"}, {"function", function}}, std::chrono::seconds(5));
    if (!reply || reply->value("type", "") != "policy") {
        std::cerr << "fnwarden run: the daemon cannot guard \"" << function
                  << "\": " << (reply ? reply->value("error", reply->dump()) : client.last_error())
                  << " (or run with --standalone --policy FILE)\n";
        return kExitUsage;
    }
    const std::string file = reply->value("file", "");
    auto policy = load_run_policy(file, !reply->contains("baseline"), reply->value("baseline", ""));
    if (!policy) return kExitUsage;
    const Mode mode = parse_mode(reply->value("mode", "audit")).value_or(Mode::Audit);
    spdlog::info("{}: guarded by the daemon (policy {} from {}, {} mode, set {}); events go to its outputs",
                 function, policy->name, file, to_string(mode), reply->value("version", ""));
    if (explain) std::cerr << explain_enforcement(*policy, mode, probe_kernel_features(), LsmStatus{"(see fnwarden status)", {}});
    if (command.empty()) return 0;

    DaemonGuard guard(std::move(client), EventContext{function, policy->name, mode, /*resolve_exe=*/true});
    auto cgroup2 = find_cgroup2_mount();
    if (!cgroup2) {
        std::cerr << "fnwarden run: no cgroup2 mount in /proc/self/mountinfo\n";
        return kExitInternal;
    }
    FunctionRunner runner(guard, *cgroup2 / "fnwarden");
    RunRequest request{function, *policy, mode, command, trace};
    request.run_as = run_as;
    auto result = runner.run(request);
    if (auto* err = std::get_if<std::string>(&result)) {
        std::cerr << "fnwarden run: " << *err << "\n";
        return kExitInternal;
    }
    const auto& outcome = std::get<RunOutcome>(result);
    log_outcome(function, outcome);
    return outcome.exit_code;
}

int cmd_run(const std::vector<std::string>& opts, const std::vector<std::string>& command) {
    std::string function, policy_file, mode_text, events_path;
    std::string socket = cli::kDefaultSocket;
    uint32_t ringbuf_bytes = FNW_RINGBUF_DEFAULT_BYTES;
    bool trace = false;
    bool explain = false;
    bool no_baseline = false;
    bool standalone = false;
    std::string baseline_file;
    std::string user, group;
    po::options_description desc("fnwarden run options");
    desc.add_options()
        ("help,h", "show this help")
        ("function", po::value(&function)->required(), "function name (used in events and the cgroup name)")
        ("policy", po::value(&policy_file), "policy file (rules/*.yaml); under a daemon its own policy for the function applies")
        ("mode", po::value(&mode_text), "audit|enforce: overrides the policy's spec.mode (standalone only)")
        ("events", po::value(&events_path), "write JSON-lines events to PATH instead of stderr (standalone only)")
        ("trace", po::bool_switch(&trace), "emit every syscall of the function, not only violations")
        ("explain", po::bool_switch(&explain), "print which mechanism guards each rule on this kernel (then run CMD, if given)")
        ("ringbuf-bytes", po::value(&ringbuf_bytes), "ring buffer size (power of two, >= page size)")
        ("baseline", po::value(&baseline_file), "baseline merged into the policy (default: baseline.yaml beside the policy or one directory up)")
        ("no-baseline", po::bool_switch(&no_baseline), "apply no baseline")
        ("socket", po::value(&socket), "the daemon's control socket: register there when a daemon runs")
        ("user", po::value(&user), "run the function as this user (name or uid; default under sudo: the invoking user)")
        ("group", po::value(&group), "... with this group (name or gid; default: the user's primary group); no supplementary groups")
        ("standalone", po::bool_switch(&standalone), "load fnwarden's own probes even when a daemon runs");
    if (auto done = parse_subcommand(opts, desc, "run", "fnwarden run [options] -- CMD ARGS...")) return *done;
    // The name becomes the cgroup's directory name: "../x" would put the
    // function under another parent's limits and policy.
    if (std::string problem = function_name_problem(function); !problem.empty()) {
        std::cerr << "fnwarden run: " << problem << "\n";
        return kExitUsage;
    }
    if (command.empty() && !explain) {
        std::cerr << "fnwarden run: no command given (put it after --)\n";
        return kExitUsage;
    }
    std::optional<RunAs> run_as;
    if (std::string error; !resolve_run_as(user, group, &run_as, &error)) {
        std::cerr << "fnwarden run: " << error << "\n";
        return kExitUsage;
    }
    if (run_as) spdlog::debug("{}: runs as uid {} gid {}", function, run_as->uid, run_as->gid);

    if (!standalone) {
        // A running daemon owns the probes: register with it rather than load
        // a second copy. Only "nobody is listening" falls back; a daemon that
        // refuses us must not be bypassed silently.
        ControlConnectFailure failure{};
        auto connected = ControlClient::connect(socket, std::chrono::seconds(2), &failure);
        if (auto* client = std::get_if<ControlClient>(&connected)) {
            if (!policy_file.empty() || !mode_text.empty() || !events_path.empty())
                spdlog::warn("a daemon runs at {}: its policy, mode and outputs apply (--policy/--mode/--events "
                             "ignored; --standalone to use them)",
                             socket);
            return run_under_daemon(std::move(*client), function, command, trace, explain, run_as);
        }
        if (failure != ControlConnectFailure::no_daemon) {
            std::cerr << "fnwarden run: " << std::get<std::string>(connected)
                      << " (--standalone loads fnwarden's own probes instead)\n";
            return kExitInternal;
        }
    }
    if (policy_file.empty()) {
        std::cerr << "fnwarden run: no daemon at " << socket << ": --policy FILE is required\n";
        return kExitUsage;
    }
    auto loaded_policy = load_run_policy(policy_file, no_baseline, baseline_file);
    if (!loaded_policy) return kExitUsage;
    FunctionPolicy policy = std::move(*loaded_policy);
    Mode mode = policy.mode;
    if (!mode_text.empty()) {
        auto m = parse_mode(mode_text);
        if (!m) {
            std::cerr << "fnwarden run: --mode must be audit or enforce\n";
            return kExitUsage;
        }
        mode = *m;
    }

    if (policy.function != function)
        spdlog::warn("policy {} selects function \"{}\", applying it to \"{}\" as asked", policy.name,
                     policy.function, function);

    auto output = EventOutput::open(events_path);
    if (!output) {
        std::cerr << "fnwarden run: cannot open " << events_path << ": " << std::strerror(errno) << "\n";
        return kExitInternal;
    }

    auto engine = Engine::start("fnwarden run", ringbuf_bytes);
    if (!engine) return kExitInternal;
    ProbeSet& probes = *engine->probes;
    // After loading: whether the BPF-LSM programs loaded is part of the answer.
    if (explain) {
        std::cerr << explain_enforcement(policy, mode, probe_kernel_features(), LsmStatus{probes.lsm_error(), probes.lsm_hooks()});
        if (command.empty()) return 0;
    }

    EventContext ctx{function, policy.name, mode, /*resolve_exe=*/true};
    WallClock clock = WallClock::now();
    uint64_t malformed = 0;
    std::string error;
    uint64_t violation_events = 0;  // every class: syscalls, files, exec, network
    auto guard = LocalGuard::create(probes, /*policy_id=*/0, policy, mode, [&](std::span<const std::byte> record) {
        if (auto j = event_to_json(record, ctx, clock)) {
            if (j->value("verdict", "") == "violation") ++violation_events;
            output->write_line(j->dump());
        } else {
            ++malformed;
        }
    }, &error);
    if (!guard) {
        std::cerr << "fnwarden run: " << error << "\n";
        return kExitInternal;
    }
    FunctionRunner runner(*guard, engine->cgroup_parent());
    RunRequest request{function, policy, mode, command, trace};
    request.run_as = run_as;
    auto result = runner.run(request);
    if (auto* err = std::get_if<std::string>(&result)) {
        std::cerr << "fnwarden run: " << *err << "\n";
        return kExitInternal;
    }
    const auto& outcome = std::get<RunOutcome>(result);
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
    return outcome.exit_code;
}

// Runs CMD with every syscall allowed and records, in the kernel, each one it
// makes; prints a policy that allows exactly those.
int cmd_learn(const std::vector<std::string>& opts, const std::vector<std::string>& command) {
    std::string function, output_path, policy_name, merge_path;
    po::options_description desc("fnwarden learn options");
    desc.add_options()
        ("help,h", "show this help")
        ("function", po::value(&function)->required(), "function name")
        ("name", po::value(&policy_name), "metadata.name of the generated policy (default: the function name)")
        ("output,o", po::value(&output_path), "write the policy to FILE instead of stdout")
        ("merge", po::value(&merge_path), "start from this policy: its syscalls are kept, the new ones added (learn a function over several runs)");
    if (auto done = parse_subcommand(opts, desc, "learn",
                                     "fnwarden learn --function NAME [--merge FILE] [-o FILE] -- CMD ARGS..."))
        return *done;
    if (std::string problem = function_name_problem(function); !problem.empty()) {
        std::cerr << "fnwarden learn: " << problem << "\n";
        return kExitUsage;
    }
    std::optional<FunctionPolicy> base;
    if (!merge_path.empty()) {
        auto parsed = parse_policy_file(merge_path);
        if (!parsed.ok()) {
            print_policy_errors(parsed);
            return kExitUsage;
        }
        base = std::move(parsed.policy);
    }
    if (command.empty()) {
        std::cerr << "fnwarden learn: no command given (put it after --)\n";
        return kExitUsage;
    }

    FunctionPolicy observe;  // no syscalls section: nothing is a violation
    observe.name = policy_name.empty() ? function : policy_name;
    observe.function = function;
    observe.syscalls.allow.set();
    // Every process rule refused, in audit: each use is reported (and let
    // through), and becomes a `true` in the learned policy.
    observe.process.restricted = true;

    auto engine = Engine::start("fnwarden learn", FNW_RINGBUF_DEFAULT_BYTES);
    if (!engine) return kExitInternal;
    std::string error;
    ProcessRules used;
    auto guard = LocalGuard::create(
        *engine->probes, /*policy_id=*/0, observe, Mode::Audit,
        [&used](std::span<const std::byte> record) {
            fnw_syscall_event ev;
            if (record.size() != sizeof(ev)) return;
            std::memcpy(&ev, record.data(), sizeof(ev));
            if (ev.hdr.type != FNW_EVENT_SYSCALL || ev.verdict != FNW_VERDICT_VIOLATION) return;
            used.ptrace |= ev.rule == FNW_RULE_PROCESS_PTRACE;
            used.bpf |= ev.rule == FNW_RULE_PROCESS_BPF;
            used.exec_memory |= ev.rule == FNW_RULE_PROCESS_EXEC_MEMORY;
        },
        &error);
    if (!guard) {
        std::cerr << "fnwarden learn: " << error << "\n";
        return kExitInternal;
    }
    FunctionRunner runner(*guard, engine->cgroup_parent());
    RunRequest request{function, observe, Mode::Audit, command};
    request.learn = true;
    auto result = runner.run(request);
    if (auto* err = std::get_if<std::string>(&result)) {
        std::cerr << "fnwarden learn: " << *err << "\n";
        return kExitInternal;
    }
    const auto& outcome = std::get<RunOutcome>(result);
    auto seen = engine->probes->learned_syscalls(0);
    if (!seen) {
        std::cerr << "fnwarden learn: cannot read the learned syscalls\n";
        return kExitInternal;
    }

    FunctionPolicy learned = observe;
    learned.syscalls.allow = *seen;
    learned.syscalls.on_violation = ViolationAction::Deny;
    learned.process = used;
    learned.process.restricted = true;
    learned.process.on_violation = ViolationAction::Deny;
    learned.mode = Mode::Audit;
    if (base) {
        // Everything of the earlier policy stays (name, mode, actions,
        // sections); only its syscall set and process permissions grow. An
        // unrestricted one stays unrestricted.
        const SyscallBitmap before = base->syscalls.allow;
        learned = *base;
        learned.syscalls.allow |= *seen;
        if (learned.process.restricted) {
            learned.process.ptrace |= used.ptrace;
            learned.process.bpf |= used.bpf;
            learned.process.exec_memory |= used.exec_memory;
        }
        spdlog::info("{}: {} syscalls new since {}", function, (learned.syscalls.allow & ~before).count(), merge_path);
    }
    std::string comment = "Learned by `fnwarden learn` from one run of: ";
    for (const auto& a : command) comment += a + " ";
    if (base) comment += "(merged into " + merge_path + ")";
    comment += "\n" + std::to_string(learned.syscalls.allow.count()) + " syscalls; the command exited with " +
               std::to_string(outcome.exit_code) + ".";
    if (used.ptrace || used.bpf || used.exec_memory)
        comment += std::string("\nIt used") + (used.ptrace ? " ptrace" : "") + (used.bpf ? " bpf" : "") +
                   (used.exec_memory ? " executable memory (a JIT?)" : "") + ": allowed in `process`.";
    comment += "\nReview it, exercise every code path while learning, then switch mode to enforce.";
    const std::string yaml = render_policy_yaml(learned, comment);

    if (output_path.empty()) {
        std::cout << yaml;
    } else {
        std::ofstream out(output_path, std::ios::trunc);
        if (!(out << yaml)) {
            std::cerr << "fnwarden learn: cannot write " << output_path << "\n";
            return kExitInternal;
        }
    }
    spdlog::info("{}: learned {} syscalls; the command exited with {}", function, seen->count(), outcome.exit_code);
    // A server never exits by itself: stopping it with a signal fnwarden
    // forwarded (it died of it, or exited 128+N) is how learning ends.
    const auto forwarded = outcome.forwarded_signal;
    if (outcome.exit_code == 0 ||
        (forwarded && (outcome.term_signal == forwarded || outcome.exit_code == 128 + *forwarded)))
        return 0;
    spdlog::warn("{}: the command failed on its own; the policy may miss the paths it did not reach", function);
    return outcome.exit_code;  // as `run` does; kExitInternal stays for fnwarden's own failures
}

}  // namespace
}  // namespace fnw

int main(int argc, char** argv) {
    auto logger = spdlog::stderr_color_st("fnwarden");
    logger->set_pattern("fnwarden: %^%l%$: %v");
    spdlog::set_default_logger(logger);

    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
        std::cout << fnw::kTopUsage;
        return args.empty() ? fnw::kExitUsage : 0;
    }
    const std::string command = args[0];
    // Everything after "--" is the function's command line, untouched.
    std::vector<std::string> opts, rest;
    bool after_dashes = false;
    for (size_t i = 1; i < args.size(); ++i) {
        if (!after_dashes && args[i] == "--") {
            after_dashes = true;
            continue;
        }
        (after_dashes ? rest : opts).push_back(args[i]);
    }

    if (command == "run" || command == "learn") fnw::hold_forwarded_signals();
    if (command == "run") return fnw::cmd_run(opts, rest);
    if (command == "policy") return fnw::cmd_policy_validate(opts);
    if (command == "daemon") return fnw::cli::cmd_daemon(opts);
    if (command == "status") return fnw::cli::cmd_status(opts);
    if (command == "trace") return fnw::cli::cmd_trace(opts);
    if (command == "top") return fnw::cli::cmd_top(opts);
    if (command == "learn") return fnw::cmd_learn(opts, rest);
    if (command == "version" || command == "--version") {
        std::cout << "fnwarden 0.1.0\n";
        return 0;
    }
    std::cerr << "fnwarden: unknown command \"" << command << "\"\n" << fnw::kTopUsage;
    return fnw::kExitUsage;
}
