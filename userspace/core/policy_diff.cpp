// SPDX-License-Identifier: Apache-2.0
#include "core/policy_diff.hpp"

#include <algorithm>
#include <iterator>
#include <set>
#include <utility>

#include "core/grant_usage.hpp"

namespace fnw {
namespace {

// The order sections are listed in: who the policy is for, how it acts,
// then the grants as a policy file lists them.
constexpr const char* kSectionOrder[] = {
    "selector", "mode",  "syscalls",       "files",          "files.read",   "files.write", "files.create",
    "files.delete", "exec", "exec.sha256", "network", "network.egress", "network.listen", "network.unix",
    "process",
};

size_t section_rank(const std::string& section) {
    const auto* found = std::find(std::begin(kSectionOrder), std::end(kSectionOrder), section);
    return static_cast<size_t>(found - std::begin(kSectionOrder));
}

void add_selector_items(const FunctionPolicy& policy, std::vector<PolicyItem>& items) {
    items.push_back({"selector", "metadata.name: " + policy.name});
    const Selector& s = policy.selector;
    if (!s.function.empty()) items.push_back({"selector", "function: " + s.function});
    if (!s.cgroup_path.empty()) items.push_back({"selector", "cgroupPath: " + s.cgroup_path});
    if (s.pod) {
        if (!s.pod->namespace_.empty()) items.push_back({"selector", "pod.namespace: " + s.pod->namespace_});
        for (const auto& [key, value] : s.pod->labels) items.push_back({"selector", "pod.labels: " + key + "=" + value});
    }
}

// The mode, and the action of each section that restricts anything (an
// unrestricted section never acts).
void add_mode_items(const FunctionPolicy& policy, std::vector<PolicyItem>& items) {
    items.push_back({"mode", "mode: " + std::string(to_string(policy.mode))});
    auto action = [&](bool restricted, const char* section, ViolationAction on_violation) {
        if (restricted)
            items.push_back({"mode", std::string(section) + ".onViolation: " + std::string(to_string(on_violation))});
    };
    action(!policy.syscalls.allow.all(), "syscalls", policy.syscalls.on_violation);
    action(policy.files.restricted, "files", policy.files.on_violation);
    action(policy.exec.restricted, "exec", policy.exec.on_violation);
    action(policy.network.restricted, "network", policy.network.on_violation);
    action(policy.process.restricted, "process", policy.process.on_violation);
}

void add_unrestricted_items(const FunctionPolicy& policy, std::vector<PolicyItem>& items) {
    for (auto [restricted, section] : {std::pair{!policy.syscalls.allow.all(), "syscalls"},
                                       {policy.files.restricted, "files"},
                                       {policy.exec.restricted, "exec"},
                                       {policy.network.restricted, "network"},
                                       {policy.process.restricted, "process"}})
        if (!restricted) items.push_back({section, kUnrestrictedGrant});
}

}  // namespace

size_t PolicyDiff::added() const {
    size_t n = 0;
    for (const SectionDiff& s : sections) n += s.added.size();
    return n;
}

size_t PolicyDiff::removed() const {
    size_t n = 0;
    for (const SectionDiff& s : sections) n += s.removed.size();
    return n;
}

std::vector<PolicyItem> policy_items(const FunctionPolicy& policy) {
    std::vector<PolicyItem> items;
    add_selector_items(policy, items);
    add_mode_items(policy, items);
    add_unrestricted_items(policy, items);
    // Every grant as `policy report` lists it; nothing is counted here.
    for (Grant& grant : report_grant_use(policy, GrantUseBits{}, 0).grants)
        items.push_back({std::move(grant.section), std::move(grant.item)});
    if (policy.exec.restricted)
        for (const auto& [path, digest] : policy.exec.sha256) items.push_back({"exec.sha256", path + " " + digest});
    std::stable_sort(items.begin(), items.end(),
                     [](const PolicyItem& a, const PolicyItem& b) { return section_rank(a.section) < section_rank(b.section); });
    std::set<std::pair<std::string, std::string>> seen;
    std::erase_if(items, [&](const PolicyItem& i) { return !seen.emplace(i.section, i.item).second; });
    return items;
}

PolicyDiff diff_policies(const FunctionPolicy& before, const FunctionPolicy& after) {
    const std::vector<PolicyItem> old_items = policy_items(before), new_items = policy_items(after);
    using ItemSet = std::set<std::pair<std::string, std::string>>;
    auto set_of = [](const std::vector<PolicyItem>& items) {
        ItemSet out;
        for (const PolicyItem& i : items) out.emplace(i.section, i.item);
        return out;
    };
    const ItemSet old_set = set_of(old_items), new_set = set_of(new_items);
    auto contains = [](const ItemSet& items, const PolicyItem& item) { return items.count({item.section, item.item}) > 0; };
    PolicyDiff diff;
    auto section_of = [&](const std::string& name) -> SectionDiff& {
        for (SectionDiff& s : diff.sections)
            if (s.section == name) return s;
        return diff.sections.emplace_back(SectionDiff{name, {}, {}});
    };
    for (const PolicyItem& item : old_items)
        if (!contains(new_set, item)) section_of(item.section).removed.push_back(item.item);
    for (const PolicyItem& item : new_items)
        if (!contains(old_set, item)) section_of(item.section).added.push_back(item.item);
    std::stable_sort(diff.sections.begin(), diff.sections.end(), [](const SectionDiff& a, const SectionDiff& b) {
        return section_rank(a.section) < section_rank(b.section);
    });
    return diff;
}

}  // namespace fnw
