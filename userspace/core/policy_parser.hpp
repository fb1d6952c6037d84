// SPDX-License-Identifier: Apache-2.0
// rules/*.yaml -> FunctionPolicy, with errors that point at file:line:column.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/policy.hpp"

namespace fnw {

struct PolicyError {
    std::string file;
    int line = 0;    // 1-based; 0 when the error is about the whole file
    int column = 0;  // 1-based
    std::string message;

    // "rules/x.yaml:12:5: unknown syscall "opne" (did you mean "open"?)"
    std::string to_string() const;
};

struct PolicyParseResult {
    std::optional<FunctionPolicy> policy;  // set only when errors is empty
    std::vector<PolicyError> errors;

    bool ok() const { return errors.empty(); }
};

// Parses one policy document. `source_name` is used in messages.
PolicyParseResult parse_policy(const std::string& yaml_text, const std::string& source_name);
PolicyParseResult parse_policy_file(const std::filesystem::path& path);

struct BaselineParseResult {
    std::optional<Baseline> baseline;
    std::vector<PolicyError> errors;
    bool ok() const { return errors.empty(); }
};

// rules/baseline.yaml: kind Baseline, spec.syscalls.deny / denyUnlessAllowed.
BaselineParseResult parse_baseline(const std::string& yaml_text, const std::string& source_name);
BaselineParseResult parse_baseline_file(const std::filesystem::path& path);

// The `kind` of a policy document ("" when it has none or is not YAML).
std::string document_kind_of_file(const std::filesystem::path& path);

// Upper bound on a policy file; anything bigger is refused before parsing.
inline constexpr size_t kMaxPolicyFileBytes = 1 << 20;

}  // namespace fnw
