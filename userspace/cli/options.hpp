// SPDX-License-Identifier: Apache-2.0
// What every fnwarden subcommand shares: exit codes, option parsing, where
// the daemon listens.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/program_options.hpp>

#include "runtime/function_runner.hpp"

namespace fnw::cli {

// Exit codes of daemon, status, trace, top, unload and policy.
inline constexpr int kExitUsage = 2;     // bad arguments or an invalid policy or config
inline constexpr int kExitInternal = 1;  // BPF load, cgroup or daemon failure

// run and learn exit with the function's own status, so their own failures
// take the codes `env`, `timeout` and `chroot` use, which a function's
// status rarely does: 125 fnwarden itself failed (bad options, an invalid
// policy, probes that do not load, the cgroup), 126 the command was found
// but could not be executed, 127 it was not found.
inline constexpr int kExitRunFailed = 125;
inline constexpr int kExitCannotExecute = 126;
inline constexpr int kExitNotFound = 127;

// The exit code of a run that did not start: 126 or 127 when execve failed
// (ENOENT: not found), 125 otherwise.
int exit_code_for(const RunFailure& failure);

inline constexpr const char* kDefaultSocket = "/run/fnwarden/fnwarden.sock";

// Parses a subcommand's options into the variables `desc` points at. Returns
// the exit code when the command should end here: 0 after --help,
// `usage_exit` after a usage error.
std::optional<int> parse_subcommand(const std::vector<std::string>& opts,
                                    const boost::program_options::options_description& desc, std::string_view name,
                                    std::string_view usage,
                                    boost::program_options::variables_map* seen = nullptr,
                                    int usage_exit = kExitUsage);

int cmd_daemon(const std::vector<std::string>& opts);
int cmd_status(const std::vector<std::string>& opts);
int cmd_trace(const std::vector<std::string>& opts);
int cmd_top(const std::vector<std::string>& opts);
int cmd_unload(const std::vector<std::string>& opts);

}  // namespace fnw::cli
