// SPDX-License-Identifier: Apache-2.0
// CgroupIdentifier against an in-memory kernel map and cgroup tree: what a
// scan, a birth and a pod's arrival monitor, and that a match below a
// monitored cgroup never loosens what it inherits.
#include "daemon/cgroup_identifier.hpp"
#include "daemon/lost_records.hpp"

#include <algorithm>

#include <gtest/gtest.h>

#include "fakes/fake_kernel_maps.hpp"

namespace fnw {
namespace {

using testing::FakeKernelMaps;

// A cgroup tree: relative path -> id; walked in path order (parents first).
class FakeTree : public CgroupTreeReader {
public:
    std::map<std::string, uint64_t> ids{{"", 1}};
    std::optional<uint64_t> id_of(const std::filesystem::path& relative) const override {
        auto it = ids.find(relative.string());
        if (it == ids.end()) return std::nullopt;
        return it->second;
    }
    void walk(const std::function<void(const std::filesystem::path&)>& visit) const override {
        for (const auto& [path, id] : ids)
            if (!path.empty()) visit(path);
    }
    // Cgroups whose container's runtime is still setting it up: how many
    // more looks see it so (its entrypoint execs after them).
    mutable std::map<std::string, int> starting;
    bool runtime_still_starting(const std::filesystem::path& relative) const override {
        auto it = starting.find(relative.string());
        return it != starting.end() && it->second-- > 0;
    }
};

FunctionPolicy policy(std::string name, std::string function, std::string cgroup_path, Mode mode = Mode::Enforce,
                      std::optional<PodSelector> pod = std::nullopt) {
    FunctionPolicy p;
    p.name = std::move(name);
    p.selector.function = std::move(function);
    p.selector.cgroup_path = std::move(cgroup_path);
    p.selector.pod = std::move(pod);
    p.function = p.selector.function.empty() ? p.name : p.selector.function;
    p.source = p.name + ".yaml";
    p.mode = mode;
    return p;
}

class Identifier : public ::testing::Test {
protected:
    void load(std::vector<FunctionPolicy> policies) {
        set_.policies = std::move(policies);
        // As load_policy_set leaves them (PolicySet::find relies on it).
        std::sort(set_.policies.begin(), set_.policies.end(),
                  [](const FunctionPolicy& a, const FunctionPolicy& b) { return a.function < b.function; });
        for (const auto& p : set_.policies) set_.fingerprints[p.function] = 1;
        ASSERT_TRUE(table_.apply(set_, nullptr, {}));
        auto built = SelectorMatcher::build(set_.policies);
        ASSERT_TRUE(built) << built.error();
        identifier_.reconfigure(set_, std::move(built).value());
    }
    uint32_t slot(const std::string& function) const { return *table_.slot_of(function); }
    std::optional<uint32_t> slot_of_cgroup(uint64_t id) const {
        auto entry = maps_.monitored_cgroup(id);
        if (!entry) return std::nullopt;
        return entry->policy_id;
    }

    FakeKernelMaps maps_;
    FakeTree tree_;
    PolicyTable table_{maps_, Mode::Enforce};
    Registrations registrations_{maps_, "/sys/fs/cgroup"};
    std::atomic<uint64_t> monitored_{0};
    CgroupIdentifier identifier_{maps_, table_, registrations_, tree_, monitored_};
    PolicySet set_;
};

TEST_F(Identifier, ScanMonitorsMatchesAndGivesTheirChildrenTheParentsEntry) {
    tree_.ids = {{"", 1}, {"apps", 2}, {"apps/web", 3}, {"apps/web/worker", 4}, {"other", 5}};
    load({policy("web", "web", "apps/web")});
    EXPECT_TRUE(maps_.births_reported);
    EXPECT_EQ(slot_of_cgroup(3), slot("web"));
    ASSERT_TRUE(maps_.monitored_cgroup(4));
    EXPECT_EQ(maps_.monitored_cgroup(4)->policy_id, slot("web"));
    EXPECT_TRUE(maps_.monitored_cgroup(4)->flags & FNW_CGROUP_INHERITED);
    EXPECT_FALSE(slot_of_cgroup(2));
    EXPECT_FALSE(slot_of_cgroup(5));
    EXPECT_EQ(monitored_.load(), 2u);
    ASSERT_NE(identifier_.find(3), nullptr);
    EXPECT_EQ(identifier_.find(3)->found_by, "cgroupPath, found at scan");
}

// runc init sets the container up inside its cgroup: checking starts at
// its exec of the entrypoint, not before (a policy would kill the runtime).
TEST_F(Identifier, AContainerFoundBeforeItsEntrypointIsCheckedFromItsExec) {
    tree_.ids = {{"", 1}, {"ctr", 2}};
    tree_.starting["ctr/starting"] = 2;  // the look and the look after the write
    load({policy("fn", "fn", "ctr/[a-z]+")});
    tree_.ids["ctr/starting"] = 10;
    identifier_.identify(10, "ctr/starting", 2, "cgroupPath");
    ASSERT_TRUE(maps_.monitored_cgroup(10));
    EXPECT_TRUE(maps_.monitored_cgroup(10)->flags & FNW_CGROUP_ARM_ON_EXEC);

    // Started already (its entrypoint exec'd): checked from now on.
    tree_.ids["ctr/running"] = 11;
    identifier_.identify(11, "ctr/running", 2, "cgroupPath");
    ASSERT_TRUE(maps_.monitored_cgroup(11));
    EXPECT_FALSE(maps_.monitored_cgroup(11)->flags & FNW_CGROUP_ARM_ON_EXEC);

    // The entrypoint exec'd between the look and the write: no exec is left
    // to clear the flag, so the identifier does.
    tree_.starting["ctr/racing"] = 1;
    tree_.ids["ctr/racing"] = 12;
    identifier_.identify(12, "ctr/racing", 2, "cgroupPath");
    ASSERT_TRUE(maps_.monitored_cgroup(12));
    EXPECT_FALSE(maps_.monitored_cgroup(12)->flags & FNW_CGROUP_ARM_ON_EXEC);

    // A reload keeps a flag the kernel has not cleared yet.
    load({policy("fn", "fn", "ctr/[a-z]+")});
    EXPECT_TRUE(maps_.monitored_cgroup(10)->flags & FNW_CGROUP_ARM_ON_EXEC);
}

TEST_F(Identifier, NoPathSelectorsNoBirthsAndNoScan) {
    tree_.ids = {{"", 1}, {"apps", 2}};
    load({policy("web", "web", "")});
    EXPECT_FALSE(maps_.births_reported);
    EXPECT_FALSE(identifier_.wants_births());
    EXPECT_TRUE(maps_.cgroups.empty());
}

TEST_F(Identifier, ACaptureGroupNamesTheFunctionPerCgroup) {
    tree_.ids = {{"", 1}, {"fns", 2}};
    load({policy("per-fn", "", "fns/([a-z]+)")});
    identifier_.identify(10, "fns/alpha", 2, "cgroupPath");
    ASSERT_NE(identifier_.find(10), nullptr);
    EXPECT_EQ(identifier_.find(10)->function, "alpha");
    EXPECT_EQ(slot_of_cgroup(10), slot("per-fn"));
}

TEST_F(Identifier, ADefaultBelowAFunctionNeverLoosensIt) {
    tree_.ids = {{"", 1}, {"fns", 2}, {"fns/strict", 3}};
    load({policy("strict", "strict", "fns/strict"), policy("catch-all", "", "fns/.*", Mode::Audit)});
    ASSERT_EQ(slot_of_cgroup(3), slot("strict"));
    // A child the function made, which the catch-all also matches.
    tree_.ids["fns/strict/escape"] = 4;
    identifier_.identify(4, "fns/strict/escape", 3, "cgroupPath");
    EXPECT_EQ(slot_of_cgroup(4), slot("strict"));
    ASSERT_NE(identifier_.find(4), nullptr);
    EXPECT_TRUE(identifier_.find(4)->kept_ancestors);
    EXPECT_EQ(identifier_.find(4)->found_by, "below fns/strict");
    DaemonCounters counters;
    identifier_.add_status_counters(counters);
    EXPECT_EQ(counters.nested_matches_refused, 1u);
}

TEST_F(Identifier, ARegisteredCgroupIsNeverIdentified) {
    tree_.ids = {{"", 1}, {"apps", 2}};
    Registration reg;
    reg.function = "launched";
    registrations_.add(2, reg);
    load({policy("web", "web", "apps")});
    EXPECT_FALSE(slot_of_cgroup(2));
    EXPECT_EQ(identifier_.find(2), nullptr);
}

TEST_F(Identifier, PruneForgetsCgroupsTheKernelRemoved) {
    tree_.ids = {{"", 1}, {"apps", 2}};
    load({policy("web", "web", "apps")});
    ASSERT_NE(identifier_.find(2), nullptr);
    maps_.cgroups.erase(2);  // cgroup_rmdir
    identifier_.prune();
    EXPECT_EQ(identifier_.find(2), nullptr);
}

const std::string kPodUid = "ac04f3f2-1f2c-11e9-b015-1ebee232acfa";
const std::string kContainerId = "09d185410c4e25236cc24717f881589bb0978b24eafd101624e627a4dd8d3439";
const std::string kContainerPath = "kubepods/burstable/pod" + kPodUid + "/" + kContainerId;

TEST_F(Identifier, AContainerWaitsForItsPodThenMatchesItsLabels) {
    std::optional<PodInfo> known;
    identifier_.set_pods(PodLookup{[&](std::string_view uid) { return known && uid == known->uid ? known : std::nullopt; },
                                   [](std::string_view) { return std::optional<PodInfo>(); }});
    load({policy("figlet", "", "", Mode::Enforce, PodSelector{"openfaas-fn", {{"faas_function", "figlet"}}})});
    tree_.ids[kContainerPath] = 20;
    identifier_.identify(20, kContainerPath, 0, "cgroupPath");
    EXPECT_FALSE(slot_of_cgroup(20));
    EXPECT_EQ(identifier_.pending_pod_cgroups(), 1u);

    known = PodInfo{kPodUid, "openfaas-fn", "figlet-1", "node-1", {{"faas_function", "figlet"}}, {kContainerId}, "",
                    {{kContainerId, "figlet"}}};
    identifier_.on_pod_changes({{*known, PodEvent::Added}});
    EXPECT_EQ(identifier_.pending_pod_cgroups(), 0u);
    EXPECT_EQ(slot_of_cgroup(20), slot("figlet"));
    ASSERT_NE(identifier_.find(20), nullptr);
    EXPECT_EQ(identifier_.find(20)->found_by, "pod");
    EXPECT_EQ(identifier_.find(20)->k8s_pod, "figlet-1");
    EXPECT_EQ(identifier_.find(20)->container_name, "figlet");
}

TEST_F(Identifier, APodDeletedBeforeItWasSeenMatchesNothing) {
    identifier_.set_pods(PodLookup{[](std::string_view) { return std::optional<PodInfo>(); },
                                   [](std::string_view) { return std::optional<PodInfo>(); }});
    load({policy("figlet", "", "", Mode::Enforce, PodSelector{"openfaas-fn", {{"faas_function", "figlet"}}})});
    tree_.ids[kContainerPath] = 20;
    identifier_.identify(20, kContainerPath, 0, "cgroupPath");
    PodInfo gone{kPodUid, "openfaas-fn", "figlet-1", "node-1", {{"faas_function", "figlet"}}, {kContainerId}, ""};
    identifier_.on_pod_changes({{gone, PodEvent::Deleted}});
    EXPECT_EQ(identifier_.pending_pod_cgroups(), 0u);
    EXPECT_FALSE(slot_of_cgroup(20));
}

}  // namespace
}  // namespace fnw

namespace fnw {
namespace {

// LostRecords: coverage gaps go to the function their slot belongs to, once
// per increase of the kernel's per-slot total; lost births rescan the tree.
class Lost : public Identifier {
protected:
    MetricsRegistry metrics_;
    CounterFamily& gaps_total_ = metrics_.counter("fnwarden_coverage_gaps_total", "test", {"function"});
    LostRecords lost_{&gaps_total_, 16};
};

TEST_F(Lost, GapsAreCountedOncePerIncreaseForTheSlotsFunction) {
    tree_.ids = {{"", 1}, {"apps", 2}, {"apps/web", 3}};
    load({policy("web", "web", "apps/web")});
    const ProbeCounters kernel{};
    lost_.account(kernel, {{slot("web"), 5}}, table_, identifier_);
    EXPECT_EQ(lost_.gaps_of("web"), 5u);
    EXPECT_EQ(gaps_total_.with({"web"}).value(), 5u);
    lost_.account(kernel, {{slot("web"), 5}}, table_, identifier_);  // no new gap
    lost_.account(kernel, {{slot("web"), 8}}, table_, identifier_);
    EXPECT_EQ(lost_.gaps_of("web"), 8u);
    EXPECT_EQ(gaps_total_.with({"web"}).value(), 8u);
    EXPECT_EQ(lost_.gaps_of("other"), 0u);
}

TEST_F(Lost, ALostBirthRescansTheTreeAndFindsTheCgroup) {
    tree_.ids = {{"", 1}, {"apps", 2}};
    load({policy("web", "web", "apps/web")});
    tree_.ids["apps/web"] = 3;  // born while the ring was full: no record came
    EXPECT_FALSE(slot_of_cgroup(3));
    ProbeCounters kernel{};
    kernel.birth_drops = 1;
    lost_.account(kernel, {}, table_, identifier_);
    EXPECT_EQ(lost_.rescans_after_lost_births(), 1u);
    EXPECT_EQ(slot_of_cgroup(3), slot("web"));
    lost_.account(kernel, {}, table_, identifier_);  // the same drop: no second scan
    EXPECT_EQ(lost_.rescans_after_lost_births(), 1u);
}

}  // namespace
}  // namespace fnw
