// SPDX-License-Identifier: Apache-2.0
// What every fnwarden subcommand shares: exit codes, option parsing, where
// the daemon listens.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/program_options.hpp>

#include "cli/conventions.hpp"

namespace fnw::cli {

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
