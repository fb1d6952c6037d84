// SPDX-License-Identifier: Apache-2.0
#include "core/selector.hpp"

#include <algorithm>

#include <re2/re2.h>

namespace fnw {

namespace {

// Why RE2 and not std::regex: cgroup paths are up to 4 KiB and their names
// are chosen by whoever creates the cgroup (a tenant, a container, a CI job).
// std::regex backtracks: a crafted name can make a match take exponential
// time, and libstdc++ recurses per character, so a long path can overflow
// the stack. RE2 matches in time linear in the path and bounded memory, with
// no recursion on the input: a security monitor must not be ReDoS-able by
// the thing it monitors.
//
// Per-pattern memory budget (compiled program plus DFA cache). RE2's default
// is 8 MiB; a policy set holds hundreds of patterns, and a cgroup pattern
// needs far less. When the DFA cache fills RE2 falls back to its NFA: slower,
// still linear.
constexpr int64_t kRegexMemoryBudget = 1 << 20;

RE2::Options cgroup_regex_options() {
    RE2::Options options;
    // Paths are bytes, not text: Latin-1 makes every byte one character, so
    // '.' matches any byte, including ones that are not valid UTF-8 (which
    // in UTF-8 mode would match nothing and let an oddly named cgroup slip
    // past a catch-all pattern). UTF-8 literals in a pattern still match
    // byte for byte.
    options.set_encoding(RE2::Options::EncodingLatin1);
    // '.' matches '\n' too: a cgroup name may contain one.
    options.set_dot_nl(true);
    // Errors are returned to the caller, not printed to stderr.
    options.set_log_errors(false);
    options.set_max_mem(kRegexMemoryBudget);
    return options;
}

std::shared_ptr<const RE2> compile(std::string_view pattern) {
    return std::make_shared<const RE2>(re2::StringPiece(pattern.data(), pattern.size()), cgroup_regex_options());
}

bool is_alphanumeric(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_lower_alphanumeric(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// The shape of a label name and a non-empty label value.
bool is_label_name_shaped(std::string_view text) {
    if (text.empty() || text.size() > 63) return false;
    if (!is_alphanumeric(text.front()) || !is_alphanumeric(text.back())) return false;
    return std::all_of(text.begin(), text.end(),
                       [](char c) { return is_alphanumeric(c) || c == '-' || c == '_' || c == '.'; });
}

bool is_dns_label(std::string_view text) {
    if (text.empty() || text.size() > 63) return false;
    if (!is_lower_alphanumeric(text.front()) || !is_lower_alphanumeric(text.back())) return false;
    return std::all_of(text.begin(), text.end(), [](char c) { return is_lower_alphanumeric(c) || c == '-'; });
}

bool is_dns_subdomain(std::string_view text) {
    if (text.empty() || text.size() > 253) return false;
    for (size_t start = 0;;) {
        const size_t dot = text.find('.', start);
        if (!is_dns_label(text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start)))
            return false;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

std::string quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string describe(const FunctionPolicy& policy) {
    std::string out = "policy " + quoted(policy.name);
    if (!policy.source.empty()) out += " (" + policy.source + ")";
    return out;
}

// The function a match names when the selector does not capture one.
std::string fallback_function(const FunctionPolicy& policy) {
    if (!policy.selector.function.empty()) return policy.selector.function;
    if (!policy.function.empty()) return policy.function;
    return policy.name;
}

// Whether some pod can satisfy both selectors: they contradict only on the
// namespace or on the value of a label both require.
bool can_select_same_pod(const PodSelector& a, const PodSelector& b) {
    if (!a.namespace_.empty() && !b.namespace_.empty() && a.namespace_ != b.namespace_) return false;
    for (const auto& [key, value] : a.labels) {
        auto other = b.labels.find(key);
        if (other != b.labels.end() && other->second != value) return false;
    }
    return true;
}

std::string validate_pod_selector(const PodSelector& pod) {
    if (pod.namespace_.empty() && pod.labels.empty())
        return "a pod selector needs a namespace or labels (an empty one would select every pod on the host)";
    if (!pod.namespace_.empty())
        if (std::string why = validate_namespace_name(pod.namespace_); !why.empty()) return why;
    for (const auto& [key, value] : pod.labels) {
        if (std::string why = validate_label_key(key); !why.empty()) return why;
        if (std::string why = validate_label_value(value); !why.empty()) return why;
    }
    return "";
}

// A policy from a namespace (a FunctionPolicy object) selects pods of that
// namespace and nothing else: a cgroupPath, or a bare `function` (the name
// `fnwarden run` registers under), could reach processes of any namespace
// or of the host. "" when it keeps to that.
std::string check_namespaced(const FunctionPolicy& policy) {
    const Selector& selector = policy.selector;
    if (!selector.pod)
        return "a policy from namespace " + quoted(policy.kube_namespace) + " must select pods (spec.selector.pod)";
    if (!selector.cgroup_path.empty())
        return "a policy from namespace " + quoted(policy.kube_namespace) +
               " selects pods only; spec.selector.cgroupPath is for rules files";
    if (!selector.pod->namespace_.empty() && selector.pod->namespace_ != policy.kube_namespace)
        return "a policy from namespace " + quoted(policy.kube_namespace) + " cannot select pods of namespace " +
               quoted(selector.pod->namespace_);
    return "";
}

// Stable: equal precedence keeps the order of the policy vector.
template <typename Rule>
void sort_by_precedence(std::vector<Rule>& rules) {
    std::stable_sort(rules.begin(), rules.end(), [](const Rule& a, const Rule& b) {
        if (a.names_function != b.names_function) return a.names_function;
        return a.policy_index < b.policy_index;
    });
}

}  // namespace

std::string validate_cgroup_path_regex(std::string_view pattern) {
    if (pattern.empty()) return "must not be empty";
    if (pattern.front() == '/' || pattern.substr(0, 2) == "^/")
        return "must not start with \"/\": it is matched against the path relative to the cgroup2 mount "
               "(\"faas/hello-1\", not \"/faas/hello-1\")";
    const auto regex = compile(pattern);
    if (!regex->ok()) return "is not a valid RE2 regular expression: " + regex->error();
    if (int groups = regex->NumberOfCapturingGroups(); groups > 1)
        return "has " + std::to_string(groups) +
               " capture groups; at most one is allowed (it names the function): use (?:...) to group "
               "without capturing";
    return "";
}

bool selector_names_function(const Selector& selector) {
    if (!selector.function.empty() || selector.pod) return true;
    if (selector.cgroup_path.empty()) return false;
    const auto regex = compile(selector.cgroup_path);
    return regex->ok() && regex->NumberOfCapturingGroups() == 1;
}

std::string validate_label_key(std::string_view key) {
    const std::string shown = "label key " + quoted(key);
    std::string_view name = key;
    if (const size_t slash = key.find('/'); slash != std::string_view::npos) {
        const std::string_view prefix = key.substr(0, slash);
        name = key.substr(slash + 1);
        if (!is_dns_subdomain(prefix))
            return shown + ": the prefix before \"/\" must be a DNS subdomain (at most 253 characters, "
                           "dot-separated lowercase letters, digits and '-', each part starting and ending "
                           "with a letter or digit)";
        if (name.find('/') != std::string_view::npos) return shown + " has more than one \"/\"";
    }
    if (!is_label_name_shaped(name))
        return shown + ": the name must be 1-63 characters of [A-Za-z0-9_.-], starting and ending with a letter "
                       "or digit";
    return "";
}

std::string validate_label_value(std::string_view value) {
    if (value.empty() || is_label_name_shaped(value)) return "";
    return "label value " + quoted(value) +
           " must be empty or 1-63 characters of [A-Za-z0-9_.-], starting and ending with a letter or digit";
}

std::string validate_namespace_name(std::string_view name) {
    if (is_dns_label(name)) return "";
    return "namespace " + quoted(name) +
           " must be a DNS label: 1-63 lowercase letters, digits and '-', starting and ending with a letter or "
           "digit";
}

Result<SelectorMatcher> SelectorMatcher::build(const std::vector<FunctionPolicy>& policies) {
    SelectorMatcher matcher;
    for (size_t index = 0; index < policies.size(); ++index) {
        const FunctionPolicy& policy = policies[index];
        const Selector& selector = policy.selector;
        const bool names_function = !selector.function.empty();
        if (!policy.kube_namespace.empty())
            if (std::string why = check_namespaced(policy); !why.empty()) return fail(describe(policy) + ": " + why);
        if (selector.cgroup_path.empty() && !selector.pod) continue;
        if (fallback_function(policy).empty()) return fail(describe(policy) + ": the selector names no function");

        if (!selector.cgroup_path.empty()) {
            if (std::string why = validate_cgroup_path_regex(selector.cgroup_path); !why.empty())
                return fail(describe(policy) + ": cgroupPath " + quoted(selector.cgroup_path) + " " + why);
            auto regex = compile(selector.cgroup_path);
            const bool has_capture = regex->NumberOfCapturingGroups() == 1;
            matcher.path_rules_.push_back(
                {index, names_function, std::move(regex), has_capture, fallback_function(policy)});
        }
        if (selector.pod) {
            if (std::string why = validate_pod_selector(*selector.pod); !why.empty())
                return fail(describe(policy) + ": " + why);
            PodRule rule{index, names_function, *selector.pod, fallback_function(policy), policy.kube_namespace};
            // The ambiguity check below then knows that policies of two
            // namespaces never meet.
            if (!rule.owner_namespace.empty()) rule.selector.namespace_ = rule.owner_namespace;
            matcher.pod_rules_.push_back(std::move(rule));
        }
    }
    sort_by_precedence(matcher.path_rules_);
    sort_by_precedence(matcher.pod_rules_);

    // Rules are in precedence order, so in each pair the first one wins.
    for (size_t i = 0; i < matcher.path_rules_.size(); ++i) {
        for (size_t j = i + 1; j < matcher.path_rules_.size(); ++j) {
            const FunctionPolicy& used = policies[matcher.path_rules_[i].policy_index];
            const FunctionPolicy& other = policies[matcher.path_rules_[j].policy_index];
            if (used.selector.cgroup_path != other.selector.cgroup_path) continue;
            matcher.ambiguities_.push_back(describe(used) + " and " + describe(other) + " have the same cgroupPath " +
                                           quoted(used.selector.cgroup_path) + "; " + quoted(used.name) +
                                           " is used");
        }
    }
    for (size_t i = 0; i < matcher.pod_rules_.size(); ++i) {
        for (size_t j = i + 1; j < matcher.pod_rules_.size(); ++j) {
            if (!can_select_same_pod(matcher.pod_rules_[i].selector, matcher.pod_rules_[j].selector)) continue;
            const FunctionPolicy& used = policies[matcher.pod_rules_[i].policy_index];
            const FunctionPolicy& other = policies[matcher.pod_rules_[j].policy_index];
            matcher.ambiguities_.push_back(describe(used) + " and " + describe(other) +
                                           " have pod selectors that can select the same pod; " + quoted(used.name) +
                                           " is used for such a pod");
        }
    }
    return matcher;
}

std::optional<SelectorMatcher::Match> SelectorMatcher::match_cgroup(std::string_view relative_path) const {
    if (relative_path.size() > kMaxSelectorPathBytes) return std::nullopt;
    const re2::StringPiece text(relative_path.data(), relative_path.size());
    for (const PathRule& rule : path_rules_) {
        if (!rule.has_capture) {
            // No submatch asked for: RE2 can answer with its DFA alone.
            if (rule.regex->Match(text, 0, text.size(), RE2::ANCHOR_BOTH, nullptr, 0))
                return Match{rule.policy_index, rule.function};
            continue;
        }
        re2::StringPiece groups[2];
        if (!rule.regex->Match(text, 0, text.size(), RE2::ANCHOR_BOTH, groups, 2)) continue;
        // An empty or unset group names no function: this policy does not
        // match, a later one still may.
        if (groups[1].empty()) continue;
        return Match{rule.policy_index, std::string(groups[1].data(), groups[1].size())};
    }
    return std::nullopt;
}

std::optional<SelectorMatcher::Match> SelectorMatcher::match_pod(
    std::string_view namespace_, const std::map<std::string, std::string>& labels) const {
    for (const PodRule& rule : pod_rules_) {
        // The namespace rule, checked first and on its own: it is what keeps
        // one namespace's policy writers away from another's pods.
        if (!rule.owner_namespace.empty() && rule.owner_namespace != namespace_) continue;
        if (!rule.selector.namespace_.empty() && rule.selector.namespace_ != namespace_) continue;
        const bool all_labels = std::all_of(rule.selector.labels.begin(), rule.selector.labels.end(),
                                            [&labels](const auto& wanted) {
                                                auto found = labels.find(wanted.first);
                                                return found != labels.end() && found->second == wanted.second;
                                            });
        if (all_labels) return Match{rule.policy_index, rule.function};
    }
    return std::nullopt;
}

}  // namespace fnw
