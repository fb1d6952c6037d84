// SPDX-License-Identifier: Apache-2.0
// fnwarden: the command-line entry point. It picks the subcommand; each
// lives in a file of its own: run_command.cpp, learn_command.cpp,
// policy_command.cpp (policy validate), daemon_commands.cpp (daemon,
// status, trace, top).
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/function_commands.hpp"
#include "cli/options.hpp"
#include "cli/terminal.hpp"
#include "common/version.hpp"
#include "daemon/journal_priority.hpp"
#include "runtime/function_runner.hpp"

namespace fnw {
namespace {

using cli::kExitUsage;

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
    "      [--webhook URL] [--config FILE] [--pin-root DIR|none] [--unload-on-exit]\n"
    "      [--bundle BUNDLE --trusted-key PUB.pem] [--require-signed]\n"
    "                     the host daemon: loads the probes once, every policy in DIR, serves the socket\n"
    "  status [-o table|json] [--color auto|always|never]\n"
    "                     what the daemon guards, with what mechanism, and its counters\n"
    "  trace [--function NAME] [--events syscall,file,net,exec] [--violations] [-o table|json] [--standalone]\n"
    "      [--color auto|always|never]\n"
    "                     live events from the daemon\n"
    "  top [--interval S] [-n N] [--color auto|always|never]\n"
    "                     per-function event and violation rates, refreshed\n"
    "  unload [--pin-root DIR]\n"
    "                     remove the probes a stopped daemon left pinned (they keep enforcing until then)\n"
    "  policy validate FILE...\n"
    "                     check policy files; prints file:line:column for each error\n"
    "  policy diff OLD.yaml NEW.yaml [-o table|json|markdown]\n"
    "                     the grants a policy change adds and removes, per section (exit 1 when any)\n"
    "  policy bundle --key KEY.pem -o BUNDLE RULES_DIR [--pin PATH[=DEPLOYED]]... [--expires WHEN]\n"
    "  policy verify --trusted-key PUB.pem BUNDLE\n"
    "                     sign a rules directory into one bundle; check a bundle as the daemon does\n"
    "  version            print the version and the commit it was built from (also --version)\n"
    "\n"
    "`fnwarden COMMAND --help` lists a command's options. run and learn exit with the command's own\n"
    "status; 125 when fnwarden itself fails, 126 when the command cannot be executed, 127 when it is\n"
    "not found. The other commands exit 0 on success, 1 on failure, 2 on bad arguments.\n";

constexpr const char* kVersionUsage =
    "usage: fnwarden version (or fnwarden --version)\n"
    "prints \"fnwarden X.Y.Z (commit C)\": C is the commit built, with -dirty when the tree had\n"
    "uncommitted changes, or unknown outside a git checkout\n";

}  // namespace
}  // namespace fnw

int main(int argc, char** argv) {
    // spdlog colors the level on a terminal itself; NO_COLOR turns it off.
    const bool may_color = fnw::cli::should_color(fnw::cli::ColorChoice::Auto, std::getenv("NO_COLOR"), true);
    auto logger = spdlog::stderr_color_st("fnwarden", may_color ? spdlog::color_mode::automatic : spdlog::color_mode::never);
    auto format = std::make_unique<spdlog::pattern_formatter>("fnwarden: %^%l%$: %v");
    // Under systemd each line carries its priority ("<3>" for an error) so
    // that `journalctl -p warning` finds it (daemon/journal_priority.hpp).
    if (fnw::stderr_is_journal())
        logger->set_formatter(std::make_unique<fnw::JournalPriorityFormatter>(std::move(format)));
    else
        logger->set_formatter(std::move(format));
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
    if (command == "run") return fnw::cli::cmd_run(opts, rest);
    if (command == "policy") return fnw::cli::cmd_policy_validate(opts);
    if (command == "daemon") return fnw::cli::cmd_daemon(opts);
    if (command == "status") return fnw::cli::cmd_status(opts);
    if (command == "trace") return fnw::cli::cmd_trace(opts);
    if (command == "top") return fnw::cli::cmd_top(opts);
    if (command == "unload") return fnw::cli::cmd_unload(opts);
    if (command == "learn") return fnw::cli::cmd_learn(opts, rest);
    if (command == "version" || command == "--version") {
        const bool help = !opts.empty() && (opts[0] == "--help" || opts[0] == "-h");
        std::cout << (help ? fnw::kVersionUsage : fnw::version_line() + "\n");
        return 0;
    }
    std::cerr << "fnwarden: unknown command \"" << command << "\"\n" << fnw::kTopUsage;
    return fnw::kExitUsage;
}
