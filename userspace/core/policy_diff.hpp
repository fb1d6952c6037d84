// SPDX-License-Identifier: Apache-2.0
// `fnwarden policy diff OLD NEW`: what a policy change grants and takes
// away, section by section, as a reviewer reads it (docs/policy.md,
// "Reviewing a change"). Grants are named as `policy report` names them
// (core/grant_usage.hpp); an unrestricted section is the one grant
// "(unrestricted)", the mode, each section's onViolation, the selector and
// exec's sha256 pins are items too, so a change from audit to enforce or a
// new digest shows as one item removed and one added. Pure: no I/O.
#pragma once

#include <string>
#include <vector>

#include "core/policy.hpp"

namespace fnw {

inline constexpr const char* kUnrestrictedGrant = "(unrestricted)";

struct SectionDiff {
    std::string section;  // "selector", "mode", "syscalls", "files.read", ..., "process"
    std::vector<std::string> added, removed;  // in the policy's order
};

struct PolicyDiff {
    std::vector<SectionDiff> sections;  // only sections with a change, in a fixed order

    bool equal() const { return sections.empty(); }
    size_t added() const;
    size_t removed() const;
};

// Every grant of `policy` as (section, item), in the fixed section order.
struct PolicyItem {
    std::string section, item;
    bool operator==(const PolicyItem&) const = default;
};
std::vector<PolicyItem> policy_items(const FunctionPolicy& policy);

// What `after` adds to and removes from `before`. Two policies whose files
// differ only in order, duplicates, comments or formatting are equal.
PolicyDiff diff_policies(const FunctionPolicy& before, const FunctionPolicy& after);

}  // namespace fnw
