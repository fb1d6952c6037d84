// SPDX-License-Identifier: Apache-2.0
// FunctionPolicy -> YAML that parse_policy() reads back to the same policy,
// every section included.
#pragma once

#include <string>

#include "core/policy.hpp"

namespace fnw {

// `comment` goes at the top, each line prefixed with "# ".
std::string render_policy_yaml(const FunctionPolicy& policy, const std::string& comment = "");

}  // namespace fnw
