// SPDX-License-Identifier: Apache-2.0
#include "daemon/cgroup_identifier.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "core/display_name.hpp"
#include "k8s/cgroup_path.hpp"
#include "runtime/cgroup.hpp"
#include "runtime/proc_info.hpp"

namespace fnw {
namespace {

// Bounded: a runaway backlog of container cgroups waiting for their pod is
// dropped with a warning.
constexpr size_t kMaxPendingPodCgroups = 10000;

// Bounds on the scan of the cgroup tree (and on walks up it): a host with
// more is misconfigured, and the scan must not stall the loop.
constexpr int kMaxScanDepth = 32;
constexpr size_t kMaxScanCgroups = 100000;

}  // namespace

std::optional<uint64_t> CgroupFsTree::id_of(const std::filesystem::path& relative) const {
    return cgroup_id_of(root_ / relative);
}

void CgroupFsTree::walk(const std::function<void(const std::filesystem::path& relative)>& visit) const {
    std::error_code ec;
    auto it = std::filesystem::recursive_directory_iterator(
        root_, std::filesystem::directory_options::skip_permission_denied, ec);
    size_t seen = 0;
    for (; !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_directory(ec) || it->is_symlink(ec)) continue;
        if (it.depth() >= kMaxScanDepth) {
            it.disable_recursion_pending();
            continue;
        }
        if (++seen > kMaxScanCgroups) {
            spdlog::warn("cgroup scan stopped after {} cgroups", kMaxScanCgroups);
            break;
        }
        visit(std::filesystem::relative(it->path(), root_, ec));
    }
    if (ec) spdlog::warn("cgroup scan of {}: {}", root_.string(), ec.message());
}

bool CgroupFsTree::runtime_still_starting(const std::filesystem::path& relative) const {
    return holds_only_runtime_init(root_ / relative);
}

void CgroupIdentifier::reconfigure(const PolicySet& set, SelectorMatcher selectors) {
    set_ = &set;
    selectors_ = std::move(selectors);
    path_selectors_ = std::any_of(set.policies.begin(), set.policies.end(),
                                  [](const FunctionPolicy& p) { return !p.selector.cgroup_path.empty(); });
    pod_selectors_ = std::any_of(set.policies.begin(), set.policies.end(),
                                 [](const FunctionPolicy& p) { return p.selector.pod.has_value(); });
    if (pod_selectors_ && !pods_)
        spdlog::warn("policies select pods but no kubeconfig is set: they match nothing (--kubeconfig)");
    const bool wanted = path_selectors_ || (pod_selectors_ && pods_);
    maps_.report_cgroup_births(wanted);
    if (wanted) scan();
}

bool CgroupIdentifier::wants_births() const { return set_ && (path_selectors_ || (pod_selectors_ && pods_)); }

const IdentifiedCgroup* CgroupIdentifier::find(uint64_t cgroup_id) const {
    auto it = identified_.find(cgroup_id);
    return it == identified_.end() ? nullptr : &it->second;
}

void CgroupIdentifier::identify(uint64_t cgroup_id, const std::string& relative_path, uint64_t parent_id,
                                const char* found_by) {
    // A launcher's registration is more specific than any pattern.
    if (registrations_.contains(cgroup_id)) return;
    auto match = selectors_.match_cgroup(relative_path);
    IdentifiedCgroup who;
    who.path = relative_path;
    who.found_by = found_by;
    if (pods_ && !look_up_pod(cgroup_id, relative_path, who, match)) return;
    if (!match) return;
    const FunctionPolicy& policy = set_->policies.at(match->policy_index);
    const uint32_t slot = *table_.slot_of(policy.function);
    who.names_function = who.found_by == "pod" || selector_names_function(policy.selector);
    if (keep_ancestors_policy(cgroup_id, relative_path, parent_id, policy, slot, who)) return;
    monitor_match(cgroup_id, relative_path, *match, policy, slot, who);
}

// A container of a pod on this node? Its labels may select a policy and its
// names go into every event.
bool CgroupIdentifier::look_up_pod(uint64_t cgroup_id, const std::string& relative_path, IdentifiedCgroup& who,
                                   std::optional<SelectorMatcher::Match>& match) {
    auto container = parse_container_cgroup_path("/" + relative_path);
    if (!container || container->pod_uid.empty()) return true;
    auto pod = pods_.by_uid(container->pod_uid);
    if (!pod) pod = pods_.by_container(container->container_id);  // static pods
    if (pod) {
        who.k8s_namespace = pod->namespace_;
        who.k8s_pod = pod->name;
        who.container_id = container->container_id;
        if (auto name = pod->container_names.find(container->container_id); name != pod->container_names.end())
            who.container_name = name->second;
        if (!match && pod_selectors_) {
            match = selectors_.match_pod(pod->namespace_, pod->labels);
            if (match) {
                who.found_by = "pod";
                if (!pod->function.empty()) match->function = pod->function;  // faas_function, ...
            }
        }
        return true;
    }
    if (match || !pod_selectors_) return true;
    if (pending_count_ >= kMaxPendingPodCgroups) {
        spdlog::warn("{} container cgroups wait for their pod: dropping the backlog", pending_count_);
        pending_pods_.clear();
        pending_count_ = 0;
    }
    pending_pods_[container->pod_uid].emplace_back(cgroup_id, relative_path);
    ++pending_count_;
    return false;
}

// Below a monitored cgroup, a match must not loosen what the cgroup inherits
// (daemon/nesting.hpp): a function could otherwise make a child cgroup that a
// catch-all matches and move into it.
bool CgroupIdentifier::keep_ancestors_policy(uint64_t cgroup_id, const std::string& relative_path,
                                             uint64_t parent_id, const FunctionPolicy& policy, uint32_t slot,
                                             IdentifiedCgroup& who) {
    auto ancestor = monitored_ancestor(relative_path, parent_id);
    if (!ancestor) return false;
    const SlotInfo* inherited_info = table_.info(ancestor->entry.policy_id);
    const Mode inherited = inherited_info ? inherited_info->mode : Mode::Enforce;
    if (nested_match_applies(ancestor->origin, inherited, table_.info(slot)->mode)) return false;
    auto existing = maps_.monitored_cgroup(cgroup_id);
    if (!existing || existing->policy_id != ancestor->entry.policy_id) {
        // Not yet (a scan) or no longer (a match before this rule) the ancestor's.
        fnw_cgroup_entry entry = ancestor->entry;
        entry.flags = (entry.flags | FNW_CGROUP_INHERITED) & ~uint32_t{FNW_CGROUP_ARM_ON_EXEC};
        if (Status kept = maps_.monitor_cgroup(cgroup_id, entry); !kept)
            spdlog::error("cgroup {}: cannot keep its ancestor's policy: {}", display_name(relative_path),
                          kept.error());
    }
    auto known = identified_.find(cgroup_id);
    if (known == identified_.end() || !known->second.kept_ancestors) {
        ++nested_matches_refused_;
        spdlog::warn("{}: cgroup {} matches policy {} but stays under the policy of {} ({}, {}): a "
                     "nested cgroup never loosens its policy",
                     display_name(ancestor->function), display_name(relative_path), display_name(policy.name),
                     display_name(ancestor->path), to_string(ancestor->origin),
                     display_name(inherited_info ? inherited_info->policy : "?"));
    }
    who.function = ancestor->function;
    who.found_by = "below " + ancestor->path;
    who.names_function = true;
    who.kept_ancestors = true;
    identified_[cgroup_id] = std::move(who);
    return true;
}

void CgroupIdentifier::monitor_match(uint64_t cgroup_id, const std::string& relative_path,
                                     const SelectorMatcher::Match& match, const FunctionPolicy& policy, uint32_t slot,
                                     IdentifiedCgroup& who) {
    auto existing = maps_.monitored_cgroup(cgroup_id);
    // An entry the kernel copied from a parent (a default policy for the
    // parent's unknown children, say) is upgraded to the function's own.
    fnw_cgroup_entry entry{};
    entry.policy_id = slot;
    entry.flags = existing ? (existing->flags & uint32_t{FNW_CGROUP_TRACE | FNW_CGROUP_ARM_ON_EXEC}) : 0u;
    // A container's runtime works inside the container's cgroup before the
    // container runs: runc init mounts, pivots and reads as itself, then
    // execs the entrypoint. That is not the function (and killing it fails
    // the pod's start): found before that exec, checking starts with it, as
    // for `fnwarden run` (ARM_ON_EXEC; exec.bpf.c checks that exec and
    // clears the flag).
    const bool arm = !existing && tree_.runtime_still_starting(relative_path);
    if (arm) entry.flags |= FNW_CGROUP_ARM_ON_EXEC;
    if (Status monitored = maps_.monitor_cgroup(cgroup_id, entry); !monitored) {
        spdlog::error("{}: cannot monitor cgroup {}: {}", display_name(match.function), display_name(relative_path),
                      monitored.error());
        return;
    }
    // The entrypoint exec'd between the look and the write: no exec is left
    // to clear the flag, so clear it here.
    if (arm && !tree_.runtime_still_starting(relative_path)) {
        entry.flags &= ~uint32_t{FNW_CGROUP_ARM_ON_EXEC};
        if (Status cleared = maps_.monitor_cgroup(cgroup_id, entry); !cleared)
            spdlog::error("cgroup {}: cannot start checking: {}", display_name(relative_path), cleared.error());
    }
    if (!identified_.count(cgroup_id) || identified_[cgroup_id].function != match.function)
        spdlog::info("{}: cgroup {} matched policy {} ({}{})", display_name(match.function),
                     display_name(relative_path), display_name(policy.name), who.found_by,
                     who.k8s_pod.empty() ? "" : ", pod " + display_name(who.k8s_namespace + "/" + who.k8s_pod));
    who.function = match.function;
    identified_[cgroup_id] = std::move(who);
    ++cgroups_identified_;
}

// Walks up from a cgroup (its parent first: `parent_id` when the kernel gave
// it, else by path) to the nearest monitored cgroup, then on through the
// monitored ones to where their policy came from. Bounded like the scan.
std::optional<CgroupIdentifier::MonitoredAncestor> CgroupIdentifier::monitored_ancestor(
    const std::string& relative_path, uint64_t parent_id) const {
    std::optional<MonitoredAncestor> nearest;
    std::filesystem::path dir = std::filesystem::path(relative_path).parent_path();
    for (int depth = 0; !dir.empty() && depth < kMaxScanDepth; ++depth, dir = dir.parent_path()) {
        const auto id = depth == 0 && parent_id ? std::optional<uint64_t>(parent_id) : tree_.id_of(dir);
        if (!id) break;
        auto entry = maps_.monitored_cgroup(*id);
        if (!entry) {
            if (nearest) break;  // the chain of inherited entries ends here
            continue;
        }
        if (!nearest) nearest = MonitoredAncestor{*id, *entry, AncestorOrigin::Unknown, "", dir.string()};
        if (const Registration* reg = registrations_.find(*id)) {
            nearest->origin = AncestorOrigin::Registered;
            nearest->function = reg->function;
            nearest->path = dir.string();
            return nearest;
        }
        if (auto found = identified_.find(*id); found != identified_.end() && !found->second.kept_ancestors) {
            nearest->origin = found->second.names_function ? AncestorOrigin::Function : AncestorOrigin::Default;
            nearest->function = found->second.function;
            nearest->path = dir.string();
            return nearest;
        }
        // An entry inherited at mkdir (or kept by this rule): look further up.
    }
    if (nearest) {
        const SlotInfo* info = table_.info(nearest->entry.policy_id);
        nearest->function = info ? info->function : "unknown";
    }
    return nearest;
}

void CgroupIdentifier::scan() {
    tree_.walk([this](const std::filesystem::path& relative) {
        const auto id = tree_.id_of(relative);
        if (!id) return;
        identify(*id, relative.string(), 0, "cgroupPath, found at scan");
        if (maps_.monitored_cgroup(*id)) return;
        const auto parent = tree_.id_of(relative.parent_path());
        if (!parent) return;
        if (auto parent_entry = maps_.monitored_cgroup(*parent)) {
            fnw_cgroup_entry inherited = *parent_entry;
            inherited.flags |= FNW_CGROUP_INHERITED;
            inherited.flags &= ~uint32_t{FNW_CGROUP_ARM_ON_EXEC};
            // Best effort, as before: a failure leaves the cgroup unmonitored.
            static_cast<void>(maps_.monitor_cgroup(*id, inherited));
        }
    });
    monitored_count_ = maps_.monitored_cgroups().size();
}

void CgroupIdentifier::on_pod_changes(const std::vector<std::pair<PodInfo, PodEvent>>& changes) {
    for (const auto& [pod, event] : changes) {
        auto waiting = pending_pods_.find(pod.uid);
        if (waiting == pending_pods_.end()) continue;
        auto cgroups = std::move(waiting->second);
        pending_pods_.erase(waiting);
        pending_count_ -= std::min(pending_count_, cgroups.size());
        if (event == PodEvent::Deleted || !set_) continue;
        for (const auto& [cgroup_id, path] : cgroups) {
            // Still the same cgroup? (It may be gone, its id never reused.)
            if (tree_.id_of(path) != cgroup_id) continue;
            identify(cgroup_id, path, 0, "pod");
        }
    }
}

void CgroupIdentifier::prune() {
    for (auto it = identified_.begin(); it != identified_.end();)
        it = maps_.monitored_cgroup(it->first) ? std::next(it) : identified_.erase(it);
}

void CgroupIdentifier::add_status_counters(DaemonCounters& daemon_counters) const {
    daemon_counters.cgroups_identified = cgroups_identified_;
    daemon_counters.nested_matches_refused = nested_matches_refused_;
}

Result<std::string> CgroupIdentifier::function_for_pod(std::string_view namespace_, std::string_view name) const {
    if (!pods_.by_name) return std::string();
    const std::optional<PodInfo> pod = pods_.by_name(namespace_, name);
    if (!pod) return fail("pod " + std::string(namespace_) + "/" + std::string(name) + " is not known to the daemon yet");
    std::optional<SelectorMatcher::Match> match = selectors_.match_pod(pod->namespace_, pod->labels);
    if (!match) return std::string();
    return pod->function.empty() ? match->function : pod->function;
}

std::string CgroupIdentifier::function_for_path(const std::string& relative_path) const {
    const std::optional<SelectorMatcher::Match> match = selectors_.match_cgroup(relative_path);
    return match ? match->function : std::string();
}

}  // namespace fnw
