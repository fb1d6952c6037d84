// SPDX-License-Identifier: Apache-2.0
// Which policy a process belongs to, from its cgroup path or its Kubernetes
// pod: every policy's spec.selector compiled once per policy set.
//
// Precedence, when several policies match one cgroup path (or one pod):
//   1. a policy whose selector names a `function` beats one that does not
//      (it was written for that function; a bare pattern is a catch-all);
//   2. then the policy that comes first in the vector given to build() (the
//      daemon's PolicySet is sorted by FunctionPolicy::function).
// Overlaps that can be seen without running a match are listed by
// ambiguities(); any other overlap of two patterns is resolved by the order
// above, silently.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/result.hpp"
#include <vector>

#include "core/policy.hpp"

namespace re2 {
class RE2;
}

namespace fnw {

// A longer relative cgroup path never matches: the kernel prints paths from a
// PATH_MAX buffer, so anything longer did not come from it.
inline constexpr size_t kMaxSelectorPathBytes = 4096;

// Checks shared by the policy parser and SelectorMatcher::build, so a policy
// the parser accepts always builds. Each returns an error message or "".
//
// An RE2 pattern for spec.selector.cgroupPath: compiles, at most one capture
// group, does not start with '/'.
std::string validate_cgroup_path_regex(std::string_view pattern);
// Kubernetes label rules: key = [DNS-subdomain prefix '/'] name, name <= 63
// of [A-Za-z0-9_.-] starting and ending alphanumeric; value = "" or the same
// shape as a name.
std::string validate_label_key(std::string_view key);
std::string validate_label_value(std::string_view value);
// A namespace is an RFC 1123 DNS label: <= 63 of [a-z0-9-], alphanumeric ends.
std::string validate_namespace_name(std::string_view name);

// Whether a policy's selector names its function (a `function`, or a capture
// group in cgroupPath) rather than being a default for whatever it matches.
// A default's descendants may be identified as functions of their own
// (daemon/nesting.hpp); a function's never leave its policy.
bool selector_names_function(const Selector& selector);

class SelectorMatcher {
public:
    struct Match {
        size_t policy_index = 0;  // into the vector given to build()
        std::string function;
        bool operator==(const Match&) const = default;
    };

    // Compiles the cgroupPath and pod selectors of `policies` (policies that
    // only name a `function` take no part). Returns an error message when a
    // selector is invalid, which parse_policy() would have refused, or when
    // a policy with a kube_namespace selects anything but pods of it.
    static Result<SelectorMatcher> build(const std::vector<FunctionPolicy>& policies);

    // Matches nothing.
    SelectorMatcher() = default;

    // The policy whose cgroupPath fully matches `relative_path` (relative to
    // the cgroup2 mount, no leading '/'). The function is the capture group
    // when the pattern has one (an empty capture is no match), else the
    // selector's `function`, else FunctionPolicy::function (metadata.name).
    std::optional<Match> match_cgroup(std::string_view relative_path) const;

    // The policy whose pod selector takes a pod in `namespace_` with
    // `labels` (its namespace, if set, is equal; each of its labels is
    // present with the same value). A policy with a kube_namespace (a
    // FunctionPolicy object) takes only pods of that namespace. The function is the selector's
    // `function`, else FunctionPolicy::function (metadata.name).
    std::optional<Match> match_pod(std::string_view namespace_,
                                   const std::map<std::string, std::string>& labels) const;

    // One message per pair of policies that are known at build time to match
    // the same cgroup (identical patterns) or can match the same pod (their
    // pod selectors do not contradict each other), naming the one used.
    const std::vector<std::string>& ambiguities() const { return ambiguities_; }

private:
    // Both lists are kept in precedence order: the first that matches wins.
    struct PathRule {
        size_t policy_index = 0;
        bool names_function = false;
        std::shared_ptr<const re2::RE2> regex;  // shared: RE2 is immutable and thread-safe to match
        bool has_capture = false;
        std::string function;  // when there is no capture group
    };
    struct PodRule {
        size_t policy_index = 0;
        bool names_function = false;
        PodSelector selector;
        std::string function;
        std::string owner_namespace;  // FunctionPolicy::kube_namespace
    };

    std::vector<PathRule> path_rules_;
    std::vector<PodRule> pod_rules_;
    std::vector<std::string> ambiguities_;
};

}  // namespace fnw
