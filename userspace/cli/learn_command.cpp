// fnwarden learn: runs CMD with every syscall allowed and records, in the
// kernel, each one it makes; prints a policy that allows exactly those.
#include <cstring>
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
#include "core/policy_writer.hpp"
#include "runtime/function_runner.hpp"
#include "runtime/local_guard.hpp"

namespace po = boost::program_options;

namespace fnw::cli {
namespace {

struct LearnOptions {
    std::string function, output_path, policy_name, merge_path;
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
        ("merge", po::value(&o.merge_path), "start from this policy: its syscalls are kept, the new ones added (learn a function over several runs)");
    if (auto done = parse_subcommand(opts, desc, "learn",
                                     "fnwarden learn --function NAME [--merge FILE] [-o FILE] -- CMD ARGS..."))
        return *done;
    if (std::string problem = function_name_problem(o.function); !problem.empty()) {
        std::cerr << "fnwarden learn: " << problem << "\n";
        return kExitUsage;
    }
    if (!o.merge_path.empty()) {
        auto parsed = parse_policy_file(o.merge_path);
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
    return std::nullopt;
}

// What one run taught: the syscalls the kernel recorded, the process rules used.
struct Observed {
    RunOutcome outcome;
    SyscallBitmap syscalls;
    ProcessRules used;
};

// nullopt when the run could not be observed (said on stderr).
std::optional<Observed> observe_run(const FunctionPolicy& observe, const std::vector<std::string>& command) {
    const std::string& function = observe.function;
    auto engine = Engine::start("fnwarden learn", FNW_RINGBUF_DEFAULT_BYTES);
    if (!engine) return std::nullopt;
    ProcessRules used;
    auto created = LocalGuard::create(
        *engine->probes, /*policy_id=*/0, observe, Mode::Audit,
        [&used](const Record& record) {
            const auto* ev = std::get_if<fnw_syscall_event>(&record);
            if (!ev || ev->verdict != FNW_VERDICT_VIOLATION) return;
            used.ptrace |= ev->rule == FNW_RULE_PROCESS_PTRACE;
            used.bpf |= ev->rule == FNW_RULE_PROCESS_BPF;
            used.exec_memory |= ev->rule == FNW_RULE_PROCESS_EXEC_MEMORY;
        });
    if (!created) {
        std::cerr << "fnwarden learn: " << created.error() << "\n";
        return std::nullopt;
    }
    std::unique_ptr<LocalGuard> guard = std::move(*created);
    FunctionRunner runner(*guard, engine->cgroup_parent());
    RunRequest request{function, observe, Mode::Audit, command};
    request.learn = true;
    auto result = runner.run(request);
    if (!result.ok()) {
        std::cerr << "fnwarden learn: " << result.error() << "\n";
        return std::nullopt;
    }
    const RunOutcome& outcome = *result;
    auto seen = engine->probes->learned_syscalls(0);
    if (!seen) {
        std::cerr << "fnwarden learn: cannot read the learned syscalls\n";
        return std::nullopt;
    }
    return Observed{outcome, *seen, used};
}

FunctionPolicy learned_policy(const FunctionPolicy& observe, const Observed& seen,
                              const std::optional<FunctionPolicy>& base, const std::string& merge_path) {
    const ProcessRules& used = seen.used;
    FunctionPolicy learned = observe;
    learned.syscalls.allow = seen.syscalls;
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
        learned.syscalls.allow |= seen.syscalls;
        if (learned.process.restricted) {
            learned.process.ptrace |= used.ptrace;
            learned.process.bpf |= used.bpf;
            learned.process.exec_memory |= used.exec_memory;
        }
        spdlog::info("{}: {} syscalls new since {}", observe.function, (learned.syscalls.allow & ~before).count(),
                     merge_path);
    }
    return learned;
}

std::string learned_comment(const FunctionPolicy& learned, const Observed& seen, const std::vector<std::string>& command,
                            bool merged, const std::string& merge_path) {
    const ProcessRules& used = seen.used;
    std::string comment = "Learned by `fnwarden learn` from one run of: ";
    for (const auto& a : command) comment += a + " ";
    if (merged) comment += "(merged into " + merge_path + ")";
    comment += "\n" + std::to_string(learned.syscalls.allow.count()) + " syscalls; the command exited with " +
               std::to_string(seen.outcome.exit_code) + ".";
    if (used.ptrace || used.bpf || used.exec_memory)
        comment += std::string("\nIt used") + (used.ptrace ? " ptrace" : "") + (used.bpf ? " bpf" : "") +
                   (used.exec_memory ? " executable memory (a JIT?)" : "") + ": allowed in `process`.";
    comment += "\nReview it, exercise every code path while learning, then switch mode to enforce.";
    return comment;
}

}  // namespace

int cmd_learn(const std::vector<std::string>& opts, const std::vector<std::string>& command) {
    LearnOptions o;
    std::optional<FunctionPolicy> base;
    if (auto done = parse_learn_options(opts, command, o, base)) return *done;
    const std::string& function = o.function;

    FunctionPolicy observe;  // no syscalls section: nothing is a violation
    observe.name = o.policy_name.empty() ? function : o.policy_name;
    observe.function = function;
    observe.syscalls.allow.set();
    // Every process rule refused, in audit: each use is reported (and let
    // through), and becomes a `true` in the learned policy.
    observe.process.restricted = true;

    const std::optional<Observed> observed = observe_run(observe, command);
    if (!observed) return kExitInternal;
    const Observed& seen = *observed;
    const RunOutcome& outcome = seen.outcome;

    const FunctionPolicy learned = learned_policy(observe, seen, base, o.merge_path);
    const std::string yaml =
        render_policy_yaml(learned, learned_comment(learned, seen, command, base.has_value(), o.merge_path));
    if (o.output_path.empty()) {
        std::cout << yaml;
    } else {
        std::ofstream out(o.output_path, std::ios::trunc);
        if (!(out << yaml)) {
            std::cerr << "fnwarden learn: cannot write " << o.output_path << "\n";
            return kExitInternal;
        }
    }
    spdlog::info("{}: learned {} syscalls; the command exited with {}", function, seen.syscalls.count(),
                 outcome.exit_code);
    // A server never exits by itself: stopping it with a signal fnwarden
    // forwarded (it died of it, or exited 128+N) is how learning ends.
    const auto forwarded = outcome.forwarded_signal;
    if (outcome.exit_code == 0 ||
        (forwarded && (outcome.term_signal == forwarded || outcome.exit_code == 128 + *forwarded)))
        return 0;
    spdlog::warn("{}: the command failed on its own; the policy may miss the paths it did not reach", function);
    return outcome.exit_code;  // as `run` does; kExitInternal stays for fnwarden's own failures
}

}  // namespace fnw::cli
