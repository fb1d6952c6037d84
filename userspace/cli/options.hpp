// SPDX-License-Identifier: Apache-2.0
// What every fnwarden subcommand shares: exit codes, option parsing, where
// the daemon listens.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/program_options.hpp>

namespace fnw::cli {

// Exit codes of fnwarden itself (a run otherwise exits with the function's code).
inline constexpr int kExitUsage = 2;     // bad arguments or an invalid policy
inline constexpr int kExitInternal = 1;  // BPF load, cgroup, exec or daemon failure

inline constexpr const char* kDefaultSocket = "/run/fnwarden/fnwarden.sock";

// Parses a subcommand's options into the variables `desc` points at. Returns
// the exit code when the command should end here (--help, a usage error).
std::optional<int> parse_subcommand(const std::vector<std::string>& opts,
                                    const boost::program_options::options_description& desc, std::string_view name,
                                    std::string_view usage,
                                    boost::program_options::variables_map* seen = nullptr);

int cmd_daemon(const std::vector<std::string>& opts);
int cmd_status(const std::vector<std::string>& opts);
int cmd_trace(const std::vector<std::string>& opts);
int cmd_top(const std::vector<std::string>& opts);
int cmd_unload(const std::vector<std::string>& opts);

}  // namespace fnw::cli
