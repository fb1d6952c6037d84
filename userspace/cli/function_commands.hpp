// SPDX-License-Identifier: Apache-2.0
// The subcommands that run a function (run, learn) or read policy files
// (policy validate), and the little they share.
#pragma once

#include <string>
#include <vector>

#include "core/policy_parser.hpp"

namespace fnw::cli {

int cmd_run(const std::vector<std::string>& opts, const std::vector<std::string>& command);
int cmd_learn(const std::vector<std::string>& opts, const std::vector<std::string>& command);
int cmd_policy_validate(const std::vector<std::string>& args);

// Each error on a line of stderr, "file:line:column: message".
void print_policy_errors(const PolicyParseResult& result);

}  // namespace fnw::cli
