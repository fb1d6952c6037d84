// SPDX-License-Identifier: Apache-2.0
// What a policy means, in words: `fnwarden policy validate` prints one line
// per right and a warning for each way the policy cannot work as written.
#pragma once

#include <string>
#include <vector>

#include "core/policy.hpp"

namespace fnw {

// One line per right, "files.read: /var/task/**, /usr/lib/** (onViolation kill)".
std::vector<std::string> summarize_policy(const FunctionPolicy& policy);

// Each way the policy stops a program before it does anything: a files
// section that grants no read (no program can load its libraries), an
// interpreter outside files.read, an exec whose interpreter is unknown.
std::vector<std::string> policy_warnings(const FunctionPolicy& policy);

// What exec.allow brings with it (ELF interpreters, read at load) and what
// could not be determined, one line each, for validate and --explain.
std::vector<std::string> describe_exec_interpreters(const ExecRules& rules);

}  // namespace fnw
