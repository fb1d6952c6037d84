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

// Upper bound on a policy file; anything bigger is refused before parsing.
inline constexpr size_t kMaxPolicyFileBytes = 1 << 20;

}  // namespace fnw
