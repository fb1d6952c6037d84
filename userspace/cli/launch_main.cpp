// SPDX-License-Identifier: Apache-2.0
// fnwarden-run: `fnwarden run` under a host daemon, in a binary that starts
// in a few milliseconds. fnwarden itself maps about 50 shared libraries
// (Boost, curl, libsystemd, httplib and theirs) before main, 15 ms of CPU
// on the test host; a function started under the daemon needs none of them
// (docs/performance.md, "Run under the daemon: the launcher"). The code
// that runs is the same as `fnwarden run`'s under a daemon (daemon_run.cpp).
//
// It takes the options a run under the daemon uses, in the forms the
// documentation gives (--function NAME or --function=NAME, --socket,
// --user, --group, --trace); anything else (--help, --policy, --standalone,
// --explain, an abbreviation) and any connection failure hand the whole
// command line to `fnwarden run`, found beside this binary, so that what it
// does and says stays exactly fnwarden's.
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/conventions.hpp"
#include "cli/daemon_run.hpp"
#include "cli/terminal.hpp"
#include "control/control_client.hpp"
#include "core/display_name.hpp"
#include "daemon/journal_priority.hpp"

namespace fnw::cli {
namespace {

struct LaunchOptions {
    std::optional<std::string> function, socket, user, group;
    bool trace = false;
    std::vector<std::string> command;  // after "--"
};

// The options this binary runs itself; nullopt: leave them to fnwarden run.
std::optional<LaunchOptions> parse_launch_options(const std::vector<std::string>& args) {
    LaunchOptions o;
    auto take = [](std::optional<std::string>& slot, std::string value) {
        if (slot) return false;  // given twice: fnwarden run says so
        slot = std::move(value);
        return true;
    };
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "--") {
            o.command.assign(args.begin() + static_cast<long>(i) + 1, args.end());
            return o;
        }
        if (arg == "--trace") {
            if (o.trace) return std::nullopt;
            o.trace = true;
            continue;
        }
        bool known = false;
        for (auto [name, slot] : {std::pair{"--function", &o.function}, std::pair{"--socket", &o.socket},
                                  std::pair{"--user", &o.user}, std::pair{"--group", &o.group}}) {
            const std::string_view key(name);
            if (arg == key) {
                // A value that looks like an option ("--function --trace"):
                // Boost's rules decide it, so fnwarden run does.
                if (i + 1 >= args.size() || args[i + 1].rfind('-', 0) == 0 || !take(*slot, args[++i]))
                    return std::nullopt;
            } else if (arg.size() > key.size() && arg.compare(0, key.size(), key) == 0 && arg[key.size()] == '=') {
                if (!take(*slot, arg.substr(key.size() + 1))) return std::nullopt;
            } else {
                continue;
            }
            known = true;
            break;
        }
        if (!known) return std::nullopt;
    }
    return o;
}

// `fnwarden run ARGS...`, the fnwarden beside this binary (not one from
// PATH: the pair is installed, and tested, together).
[[noreturn]] void hand_to_fnwarden(char** argv) {
    std::string self(4096, '\0');
    const ssize_t n = ::readlink("/proc/self/exe", self.data(), self.size() - 1);
    if (n <= 0) {
        std::cerr << "fnwarden-run: cannot find its own binary: " << std::strerror(errno) << "\n";
        std::exit(kExitRunFailed);
    }
    self.resize(static_cast<size_t>(n));
    const std::string fnwarden = self.substr(0, self.rfind('/') + 1) + "fnwarden";
    std::vector<char*> args{const_cast<char*>(fnwarden.c_str()), const_cast<char*>("run")};
    for (char** a = argv + 1; *a; ++a) args.push_back(*a);
    args.push_back(nullptr);
    spdlog::default_logger()->flush();
    ::execv(fnwarden.c_str(), args.data());
    std::cerr << "fnwarden-run: cannot execute " << fnwarden << ": " << std::strerror(errno) << "\n";
    std::exit(kExitRunFailed);
}

void set_up_logger() {
    // As fnwarden's main(): the same lines, so nothing downstream can tell
    // the two apart.
    const bool may_color = should_color(ColorChoice::Auto, std::getenv("NO_COLOR"), true);
    auto logger = spdlog::stderr_color_st("fnwarden", may_color ? spdlog::color_mode::automatic : spdlog::color_mode::never);
    auto format = std::make_unique<spdlog::pattern_formatter>("fnwarden: %^%l%$: %v");
    if (stderr_is_journal())
        logger->set_formatter(std::make_unique<JournalPriorityFormatter>(std::move(format)));
    else
        logger->set_formatter(std::move(format));
    spdlog::set_default_logger(logger);
}

int launch(char** argv, const LaunchOptions& o) {
    // A signal while we connect stays pending and reaches the function.
    hold_forwarded_signals();
    // fnwarden run's checks, in its order and words.
    if (!o.function) hand_to_fnwarden(argv);  // "the option '--function' is required"
    if (std::string problem = function_name_problem(*o.function); !problem.empty()) {
        std::cerr << "fnwarden run: " << problem << "\n";
        return kExitRunFailed;
    }
    if (o.command.empty()) {
        std::cerr << "fnwarden run: no command given (put it after --)\n";
        return kExitRunFailed;
    }
    auto run_as = resolve_run_as(o.user.value_or(""), o.group.value_or(""));
    if (!run_as) {
        std::cerr << "fnwarden run: " << run_as.error() << "\n";
        return kExitRunFailed;
    }
    const std::string socket = o.socket.value_or(kDefaultSocket);
    auto connected = ControlClient::connect(socket, std::chrono::seconds(2));
    // No daemon (fnwarden run loads its own probes, or says --policy is
    // needed), or one that refused us: fnwarden run says and does the rest.
    if (!connected) hand_to_fnwarden(argv);
    return run_under_daemon(std::move(*connected), socket, *o.function, o.command, o.trace, /*explain=*/false,
                            *run_as);
}

}  // namespace
}  // namespace fnw::cli

int main(int argc, char** argv) {
    fnw::cli::set_up_logger();
    const std::vector<std::string> args(argv + 1, argv + argc);
    auto options = fnw::cli::parse_launch_options(args);
    if (!options) fnw::cli::hand_to_fnwarden(argv);
    return fnw::cli::launch(argv, *options);
}
