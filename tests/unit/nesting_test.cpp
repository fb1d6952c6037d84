// SPDX-License-Identifier: Apache-2.0
// The rule for cgroups below a monitored cgroup (daemon/nesting.hpp): a
// descendant never leaves a function's policy, and never gets a lower mode
// than a default gave it.
#include <gtest/gtest.h>

#include "core/selector.hpp"
#include "daemon/nesting.hpp"

namespace fnw {
namespace {

TEST(NestingTest, BelowALauncherOrAFunctionNoSelectorApplies) {
    for (AncestorOrigin origin : {AncestorOrigin::Registered, AncestorOrigin::Function, AncestorOrigin::Unknown}) {
        for (Mode inherited : {Mode::Audit, Mode::Enforce}) {
            for (Mode matched : {Mode::Audit, Mode::Enforce}) {
                EXPECT_FALSE(nested_match_applies(origin, inherited, matched))
                    << to_string(origin) << " " << to_string(inherited) << " -> " << to_string(matched);
            }
        }
    }
}

TEST(NestingTest, BelowADefaultASelectorAppliesUnlessItLowersTheMode) {
    EXPECT_TRUE(nested_match_applies(AncestorOrigin::Default, Mode::Audit, Mode::Audit));
    EXPECT_TRUE(nested_match_applies(AncestorOrigin::Default, Mode::Audit, Mode::Enforce));
    EXPECT_TRUE(nested_match_applies(AncestorOrigin::Default, Mode::Enforce, Mode::Enforce));
    EXPECT_FALSE(nested_match_applies(AncestorOrigin::Default, Mode::Enforce, Mode::Audit));
}

TEST(NestingTest, ASelectorNamesAFunctionByNameCaptureGroupOrPod) {
    Selector by_name;
    by_name.function = "fn";
    by_name.cgroup_path = "faas/fn";
    EXPECT_TRUE(selector_names_function(by_name));
    Selector capture;
    capture.cgroup_path = "faas/(fn-[a-z]+)";
    EXPECT_TRUE(selector_names_function(capture));
    Selector non_capturing;
    non_capturing.cgroup_path = "faas/(?:fn-[a-z]+)";
    EXPECT_FALSE(selector_names_function(non_capturing));
    Selector catch_all;
    catch_all.cgroup_path = "faas/.+";
    EXPECT_FALSE(selector_names_function(catch_all));
    Selector pod;
    pod.pod.emplace();
    pod.pod->namespace_ = "faas";
    EXPECT_TRUE(selector_names_function(pod));
}

}  // namespace
}  // namespace fnw
