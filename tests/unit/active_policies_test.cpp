// SPDX-License-Identifier: Apache-2.0
// ActivePolicies against an in-memory kernel map: a rules directory that is
// invalid from the start leaves the kernel untouched and says so (status
// "rules", fnwarden_rules_valid), and the first valid reload applies it.
#include "daemon/active_policies.hpp"

#include <ctime>
#include <fstream>

#include <gtest/gtest.h>

#include "fakes/fake_kernel_maps.hpp"
#include "temp_dir.hpp"

namespace fnw {
namespace {

using testing::FakeKernelMaps;

void write_policy(const std::filesystem::path& dir, const std::string& function) {
    std::ofstream out(dir / (function + ".yaml"));
    out << "apiVersion: fnwarden.io/v1\nkind: FunctionPolicy\nmetadata:\n  name: " << function
        << "-policy\nspec:\n  selector:\n    function: " << function << "\n";
}

void write_broken_policy(const std::filesystem::path& dir) {
    std::ofstream out(dir / "broken.yaml");
    out << "apiVersion: fnwarden.io/v1\nkind: FunctionPolicy\nmetadata: {name: broken}\nspec:\n"
           "  selector: {function: other}\n  syscalls:\n    allow: [opne]\n";
}

class ActivePoliciesTest : public ::testing::Test {
protected:
    ActivePoliciesTest() {
        std::filesystem::create_directories(rules_);
        policies_.set_reloads_metric(&metrics_.counter("fnwarden_policy_reloads_total", "", {"result"}));
        policies_.set_rules_valid_metric(&rules_valid_);
    }
    bool reload(const std::string& why) {
        return policies_.reload(why, [](ActivePolicies::Swapped&) {});
    }

    test::TempDir temp_;
    std::filesystem::path rules_ = temp_.path() / "rules";
    FakeKernelMaps maps_;
    ActivePolicies policies_{rules_, maps_, Mode::Enforce, {}};
    MetricsRegistry metrics_;
    Gauge& rules_valid_ = metrics_.gauge("fnwarden_rules_valid", "").with();
};

TEST_F(ActivePoliciesTest, InvalidRulesAtStartTouchNothingInTheKernelAndSayWhy) {
    // What a previous daemon left in the kernel (pinned, issue 19): an
    // invalid set must leave it exactly as it is.
    maps_.cgroups[42] = fnw_cgroup_entry{.policy_id = 3, .flags = 0};
    const auto before = maps_.cgroups;
    write_policy(rules_, "alpha");
    write_broken_policy(rules_);
    rules_valid_.set(1);  // so that the test sees the reload set it

    EXPECT_FALSE(reload("start"));
    EXPECT_EQ(policies_.set(), nullptr);
    EXPECT_TRUE(maps_.calls.empty()) << "kernel calls with an invalid set: " << maps_.calls.size();
    EXPECT_EQ(maps_.cgroups.size(), before.size());
    EXPECT_EQ(maps_.cgroups.at(42).policy_id, 3u);
    EXPECT_TRUE(maps_.written.empty());

    const RulesInfo rules = policies_.rules_status();
    EXPECT_FALSE(rules.valid);
    ASSERT_EQ(rules.errors.size(), 1u);
    EXPECT_NE(rules.errors[0].find("broken.yaml:7:"), std::string::npos) << rules.errors[0];
    EXPECT_EQ(rules_valid_.value(), 0);
    const nlohmann::json status = policies_.status();
    EXPECT_EQ(status["version"], "");
    EXPECT_EQ(status["last_reload"]["result"], "error");
}

TEST_F(ActivePoliciesTest, TheFirstValidReloadAppliesTheSet) {
    write_policy(rules_, "alpha");
    write_broken_policy(rules_);
    ASSERT_FALSE(reload("start"));

    std::filesystem::remove(rules_ / "broken.yaml");
    ASSERT_TRUE(reload("rules directory changed"));
    ASSERT_NE(policies_.set(), nullptr);
    ASSERT_TRUE(policies_.table().slot_of("alpha"));
    EXPECT_EQ(maps_.written.at(*policies_.table().slot_of("alpha")), "alpha");
    const RulesInfo rules = policies_.rules_status();
    EXPECT_TRUE(rules.valid);
    EXPECT_TRUE(rules.errors.empty());
    EXPECT_EQ(rules_valid_.value(), 1);
}

TEST_F(ActivePoliciesTest, ABrokenReloadKeepsTheSetInForceButSaysTheRulesAreInvalid) {
    write_policy(rules_, "alpha");
    ASSERT_TRUE(reload("start"));
    const std::string version = policies_.set()->version;
    const auto written = maps_.written;

    write_broken_policy(rules_);
    EXPECT_FALSE(reload("SIGHUP"));
    ASSERT_NE(policies_.set(), nullptr);
    EXPECT_EQ(policies_.set()->version, version);
    EXPECT_EQ(maps_.written, written);
    EXPECT_FALSE(policies_.rules_status().valid);
    EXPECT_EQ(rules_valid_.value(), 0);

    std::filesystem::remove(rules_ / "broken.yaml");
    EXPECT_TRUE(reload("SIGHUP"));
    EXPECT_TRUE(policies_.rules_status().valid);
    EXPECT_EQ(rules_valid_.value(), 1);
}

// A set the kernel refuses is not in force either: it counts as invalid.
TEST_F(ActivePoliciesTest, ASetTheKernelRefusesIsReportedInvalid) {
    write_policy(rules_, "alpha");
    maps_.fail_in["set_policy"] = 1;
    EXPECT_FALSE(reload("start"));
    EXPECT_EQ(policies_.set(), nullptr);
    const RulesInfo rules = policies_.rules_status();
    EXPECT_FALSE(rules.valid);
    ASSERT_EQ(rules.errors.size(), 1u);
    EXPECT_NE(rules.errors[0].find("injected failure"), std::string::npos) << rules.errors[0];
    EXPECT_EQ(rules_valid_.value(), 0);
}

// What `fnwarden status -o json` shows and the CLI reads back.
TEST_F(ActivePoliciesTest, RulesStatusReachesTheClientAsSent) {
    write_broken_policy(rules_);
    ASSERT_FALSE(reload("start"));
    const nlohmann::json wire = {{"type", "status"}, {"rules", policies_.rules_status()}};
    EXPECT_EQ(wire["rules"]["valid"], false);
    Result<StatusReply> read = expect_reply<StatusReply>(wire);
    ASSERT_TRUE(read.ok()) << read.error();
    ASSERT_TRUE(read->rules);
    EXPECT_FALSE(read->rules->valid);
    EXPECT_EQ(read->rules->errors, policies_.last_errors());
    // An older daemon's status has no "rules": absent, not "invalid".
    Result<StatusReply> older = expect_reply<StatusReply>(nlohmann::json{{"type", "status"}});
    ASSERT_TRUE(older.ok());
    EXPECT_FALSE(older->rules);
}

// fnwarden_policy_set_last_reload_successful follows each reload; the
// success timestamp moves only on success (Prometheus' config reload pair).
TEST_F(ActivePoliciesTest, LastReloadMetricsFollowTheReloads) {
    Gauge& successful = metrics_.gauge("fnwarden_policy_set_last_reload_successful", "").with();
    Gauge& success_time = metrics_.gauge("fnwarden_policy_set_last_reload_success_timestamp_seconds", "").with();
    policies_.set_last_reload_metrics(&successful, &success_time);

    write_policy(rules_, "alpha");
    const double before = static_cast<double>(std::time(nullptr));
    ASSERT_TRUE(reload("start"));
    EXPECT_EQ(successful.value(), 1);
    EXPECT_GE(success_time.value(), before);
    const double first_success = success_time.value();

    write_broken_policy(rules_);
    ASSERT_FALSE(reload("SIGHUP"));
    EXPECT_EQ(successful.value(), 0);
    EXPECT_EQ(success_time.value(), first_success);

    std::filesystem::remove(rules_ / "broken.yaml");
    ASSERT_TRUE(reload("SIGHUP"));
    EXPECT_EQ(successful.value(), 1);
    EXPECT_GE(success_time.value(), first_success);
}

}  // namespace
}  // namespace fnw
