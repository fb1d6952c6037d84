// SPDX-License-Identifier: Apache-2.0
// `fnwarden run` under a host daemon: the daemon's policy for the function,
// the cgroup registered with the daemon before the command's exec. Shared
// by `fnwarden run` (run_command.cpp) and fnwarden-run (launch_main.cpp),
// so it needs nothing of Boost, the daemon or the probes' loader.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "control/control_client.hpp"
#include "core/policy.hpp"
#include "runtime/function_runner.hpp"

namespace fnw::cli {

// Whose rights the function runs with (`run --user/--group`); nullopt: the
// launcher's own. Fails when a name does not resolve.
Result<std::optional<RunAs>> resolve_run_as(const std::string& user, const std::string& group);

// The policy (with its baseline) a run applies, from a file; errors said on
// stderr.
std::optional<FunctionPolicy> load_run_policy(const std::string& policy_file, bool no_baseline,
                                              std::string baseline_file);

// A daemon's policy reply from a signed bundle: the policy (and baseline)
// as the verified texts it sent.
std::optional<FunctionPolicy> policy_from_daemon_documents(const nlohmann::json& reply);

// The function run to its end, or why it did not start (said on stderr;
// exit_code_for() turns it into 125, 126 or 127).
Result<RunOutcome, RunFailure> run_function(FunctionRunner& runner, RunRequest request,
                                            const std::optional<RunAs>& run_as);

void log_outcome(const std::string& function, const RunOutcome& outcome);

// The run under the daemon `client` is connected to (at `socket`); the
// command's exit code, or 125/126/127 when it did not start.
int run_under_daemon(ControlClient client, const std::string& socket, const std::string& function,
                     const std::vector<std::string>& command, bool trace, bool explain,
                     const std::optional<RunAs>& run_as);

}  // namespace fnw::cli
