// SPDX-License-Identifier: Apache-2.0
// fnwarden learn: runs CMD in audit under the most restrictive policy and
// records every syscall (in the kernel) and every file, exec, network and
// process access (as the violations it reports); prints a policy that
// allows exactly those (core/learned_policy).
#include <cstring>

#include <sys/syscall.h>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <spdlog/spdlog.h>

#include "cli/engine.hpp"
#include "cli/function_commands.hpp"
#include "cli/options.hpp"
#include "core/display_name.hpp"
#include "cli/learn_recorder.hpp"
#include "core/learned_policy.hpp"
#include "core/policy_writer.hpp"
#include "runtime/function_runner.hpp"
#include "runtime/local_guard.hpp"

namespace po = boost::program_options;

namespace fnw::cli {
namespace {

// Learning reports the first of every access, most of them as violations
// on the alerts ring (1 MiB for run: about 85 file records), and a runtime
// starting up opens hundreds of files at once: both rings get this much
// unless --ringbuf-bytes says otherwise.
constexpr uint32_t kLearnRingbufBytes = 16u << 20;

struct LearnOptions {
    std::string function, output_path, policy_name, merge_path;
    uint32_t ringbuf_bytes = kLearnRingbufBytes;
};

// The exit code when the command ends here (--help, a usage error, a bad
// --merge policy); `base` is the --merge policy.
std::optional<int> parse_learn_options(const std::vector<std::string>& opts, const std::vector<std::string>& command,
                                       LearnOptions& o, std::optional<FunctionPolicy>& base) {
    po::options_description desc("fnwarden learn options");
    desc.add_options()
        ("help,h", "show this help")
        ("function", po::value(&o.function)->required(), "function name")
        ("name", po::value(&o.policy_name), "metadata.name of the generated policy (default: the function name)")
        ("output,o", po::value(&o.output_path), "write the policy to FILE instead of stdout")
        ("ringbuf-bytes", po::value(&o.ringbuf_bytes), "size of each ring buffer (power of two; default 16 MiB): raise it when learn reports drops")
        ("merge", po::value(&o.merge_path), "start from this policy and add what this run used, section by section (learn a function over several runs); a section it leaves out stays unrestricted");
    if (auto done = parse_subcommand(opts, desc, "learn",
                                     "fnwarden learn --function NAME [--merge FILE] [-o FILE] [--ringbuf-bytes N] -- CMD ARGS...",
                                     nullptr, kExitRunFailed))
        return *done;
    if (std::string problem = function_name_problem(o.function); !problem.empty()) {
        std::cerr << "fnwarden learn: " << problem << "\n";
        return kExitRunFailed;
    }
    if (!o.merge_path.empty()) {
        auto parsed = parse_policy_file(o.merge_path);
        if (!parsed.ok()) {
            print_policy_errors(parsed);
            return kExitRunFailed;
        }
        base = std::move(parsed.policy);
    }
    if (command.empty()) {
        std::cerr << "fnwarden learn: no command given (put it after --)\n";
        return kExitRunFailed;
    }
    return std::nullopt;
}

// What one run taught: the syscalls the kernel recorded, every access the
// run's events reported, and what the kernel lost (must be nothing).
struct Observed {
    RunOutcome outcome;
    LearnRecorder recorder;
    std::vector<std::string> losses;
};

// The policy learning runs under: every syscall allowed (the kernel records
// them in a bitmap), every other section present and empty in audit, so
// each file, exec, network and process access is reported (and let
// through) as a violation that names its canonical target.
FunctionPolicy observing_policy(const std::string& name, const std::string& function) {
    FunctionPolicy observe;
    observe.name = name;
    observe.function = function;
    observe.syscalls.allow.set();
    observe.files.restricted = true;
    observe.exec.restricted = true;
    observe.network.restricted = true;
    observe.process.restricted = true;
    return observe;
}

// What the run showed, or why it could not be observed (said on stderr;
// exit_code_for() turns it into 125, 126 or 127).
Result<Observed, RunFailure> observe_run(const FunctionPolicy& observe, const std::vector<std::string>& command,
                                         uint32_t ringbuf_bytes) {
    const std::string& function = observe.function;
    auto engine = Engine::start("fnwarden learn", ringbuf_bytes, ringbuf_bytes);
    if (!engine) return RunFailure{"cannot load the probes"};
    Observed seen;
    auto created = LocalGuard::create(*engine->probes, /*policy_id=*/0, observe, Mode::Audit,
                                      [&seen](const Record& record) { seen.recorder.record(record); });
    if (!created) {
        std::cerr << "fnwarden learn: " << created.error() << "\n";
        return RunFailure{created.error()};
    }
    std::unique_ptr<LocalGuard> guard = std::move(*created);
    FunctionRunner runner(*guard, engine->cgroup_parent());
    RunRequest request{function, observe, Mode::Audit, command};
    request.learn = true;
    auto result = runner.run(request);
    if (!result.ok()) {
        std::cerr << "fnwarden learn: " << result.error() << "\n";
        return result.failure();
    }
    seen.outcome = *result;
    auto syscalls = engine->probes->learned_syscalls(0);
    if (!syscalls) {
        std::cerr << "fnwarden learn: cannot read the learned syscalls\n";
        return RunFailure{"cannot read the learned syscalls"};
    }
    seen.recorder.seen().syscalls = *syscalls;
    // The exec that starts the function is the launcher's, kept out of the
    // record (ARM_ON_EXEC); where a daemon watches the function's cgroup
    // from before that exec (runc, a wrapper that joins it and execs), the
    // function makes it itself.
    seen.recorder.seen().syscalls.set(SYS_execve);
    seen.recorder.add_program(command.front());
    seen.recorder.add_interpreters();
    seen.losses = learning_losses(engine->probes->counters());
    return seen;
}

std::string learned_comment(const FunctionPolicy& learned, const Observed& seen, const std::vector<std::string>& command,
                            bool merged, const std::string& merge_path) {
    const ProcessRules& used = seen.recorder.seen().process;
    std::string comment = "Learned by `fnwarden learn` from one run of: ";
    for (const auto& a : command) comment += a + " ";
    if (merged) comment += "(merged into " + merge_path + ")";
    comment += "\n" + std::to_string(learned.syscalls.allow.count()) + " syscalls; the command exited with " +
               std::to_string(seen.outcome.exit_code) + ".";
    if (used.ptrace || used.bpf || used.exec_memory)
        comment += std::string("\nIt used") + (used.ptrace ? " ptrace" : "") + (used.bpf ? " bpf" : "") +
                   (used.exec_memory ? " executable memory (a JIT?)" : "") + ": allowed in `process`.";
    comment += "\nFiles are exact paths but in directories the function owns (dir/**, see docs/policy.md).";
    comment += "\nReview it, exercise every code path while learning, then switch mode to enforce.";
    return comment;
}

void print_summary(const std::string& function, const FunctionPolicy& policy, const LearnRecorder& recorder) {
    std::cerr << "fnwarden learn: " << function << ": the policy allows\n";
    for (const auto& line : learned_summary(policy)) std::cerr << "  " << line << "\n";
    if (recorder.summaries())
        std::cerr << "  (" << recorder.summaries() << " repeats of accesses already recorded were summarised)\n";
    if (recorder.skipped())
        std::cerr << "  (" << recorder.skipped()
                  << " accesses had no name a rule can hold: a relative or cut path, an ephemeral port)\n";
}

}  // namespace

int cmd_learn(const std::vector<std::string>& opts, const std::vector<std::string>& command) {
    LearnOptions o;
    std::optional<FunctionPolicy> base;
    if (auto done = parse_learn_options(opts, command, o, base)) return *done;
    const std::string& function = o.function;

    const FunctionPolicy observe = observing_policy(o.policy_name.empty() ? function : o.policy_name, function);
    const Result<Observed, RunFailure> observed = observe_run(observe, command, o.ringbuf_bytes);
    if (!observed) return exit_code_for(observed.failure());
    const Observed& seen = *observed;
    const RunOutcome& outcome = seen.outcome;
    if (!seen.losses.empty()) {
        // A lost record may be the only sighting of an access: a policy
        // written from this run could miss it. Say so and write nothing.
        std::cerr << "fnwarden learn: " << function << ": the kernel lost events while learning, no policy written:\n";
        for (const auto& loss : seen.losses) std::cerr << "  " << loss << "\n";
        std::cerr << "  learn again with a larger --ringbuf-bytes (now " << o.ringbuf_bytes << ")\n";
        return kExitRunFailed;
    }

    FunctionPolicy learned = policy_from_learned(seen.recorder.seen(), observe);
    learned.mode = Mode::Audit;
    if (base) {
        const FunctionPolicy merged = merge_policies(*base, learned);
        spdlog::info("{}: {} syscalls new since {}", function,
                     (merged.syscalls.allow & ~base->syscalls.allow).count(), o.merge_path);
        learned = merged;
    }
    print_summary(function, learned, seen.recorder);
    const std::string yaml =
        render_policy_yaml(learned, learned_comment(learned, seen, command, base.has_value(), o.merge_path));
    if (o.output_path.empty()) {
        std::cout << yaml;
    } else {
        std::ofstream out(o.output_path, std::ios::trunc);
        if (!(out << yaml)) {
            std::cerr << "fnwarden learn: cannot write " << o.output_path << "\n";
            return kExitRunFailed;
        }
    }
    spdlog::info("{}: learned {} syscalls; the command exited with {}", function, seen.recorder.seen().syscalls.count(),
                 outcome.exit_code);
    // A server never exits by itself: stopping it with a signal fnwarden
    // forwarded (it died of it, or exited 128+N) is how learning ends.
    const auto forwarded = outcome.forwarded_signal;
    if (outcome.exit_code == 0 ||
        (forwarded && (outcome.term_signal == forwarded || outcome.exit_code == 128 + *forwarded)))
        return 0;
    spdlog::warn("{}: the command failed on its own; the policy may miss the paths it did not reach", function);
    return outcome.exit_code;  // as `run` does; 125 stays for fnwarden's own failures
}

}  // namespace fnw::cli
