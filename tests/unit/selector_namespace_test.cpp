// SPDX-License-Identifier: Apache-2.0
// The namespace rule: a FunctionPolicy object (a policy with a
// kube_namespace) selects pods of its own namespace and nothing else.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/selector.hpp"

namespace fnw {
namespace {

using ::testing::HasSubstr;

const std::map<std::string, std::string> kLabels = {{"app", "hello"}};

FunctionPolicy namespaced(const std::string& ns, const std::string& name, PodSelector pod) {
    FunctionPolicy p;
    p.name = ns + "/" + name;
    p.function = p.name;
    p.kube_namespace = ns;
    p.selector.pod = std::move(pod);
    p.source = "functionpolicies/" + p.name;
    return p;
}

FunctionPolicy from_file(const std::string& name, PodSelector pod) {
    FunctionPolicy p;
    p.name = name;
    p.function = name;
    p.selector.pod = std::move(pod);
    p.source = name + ".yaml";
    return p;
}

TEST(SelectorNamespace, PolicyOfNamespaceANeverMatchesAPodOfNamespaceB) {
    auto built = SelectorMatcher::build({namespaced("a", "hello", PodSelector{"", kLabels})});
    ASSERT_TRUE(built) << built.error();
    EXPECT_FALSE(built->match_pod("b", kLabels)) << "same labels, other namespace";
    ASSERT_TRUE(built->match_pod("a", kLabels));
    EXPECT_EQ(built->match_pod("a", kLabels)->function, "a/hello");
}

TEST(SelectorNamespace, AFileWithTheSameSelectorStillMatchesEveryNamespace) {
    auto built = SelectorMatcher::build({from_file("hello", PodSelector{"", kLabels})});
    ASSERT_TRUE(built) << built.error();
    EXPECT_TRUE(built->match_pod("a", kLabels));
    EXPECT_TRUE(built->match_pod("b", kLabels));
}

TEST(SelectorNamespace, PolicyOfBTakesItsPodWhenAHasTheSameLabels) {
    // Both namespaces' policies select app=hello; each gets its own pods,
    // and they are no ambiguity: no pod can be in both namespaces.
    auto built = SelectorMatcher::build(
        {namespaced("a", "hello", PodSelector{"", kLabels}), namespaced("b", "hello", PodSelector{"", kLabels})});
    ASSERT_TRUE(built) << built.error();
    EXPECT_TRUE(built->ambiguities().empty()) << built->ambiguities().front();
    ASSERT_TRUE(built->match_pod("b", kLabels));
    EXPECT_EQ(built->match_pod("b", kLabels)->policy_index, 1u);
    EXPECT_EQ(built->match_pod("a", kLabels)->policy_index, 0u);
    EXPECT_FALSE(built->match_pod("c", kLabels));
}

TEST(SelectorNamespace, RefusesAnotherNamespaceACgroupPathOrNoPodSelector) {
    auto other_ns = SelectorMatcher::build({namespaced("a", "x", PodSelector{"b", kLabels})});
    ASSERT_FALSE(other_ns);
    EXPECT_THAT(other_ns.error(), HasSubstr("cannot select pods of namespace \"b\""));

    FunctionPolicy with_path = namespaced("a", "x", PodSelector{"", kLabels});
    with_path.selector.cgroup_path = "kubepods/.*";
    auto path = SelectorMatcher::build({with_path});
    ASSERT_FALSE(path);
    EXPECT_THAT(path.error(), HasSubstr("cgroupPath"));

    FunctionPolicy bare = namespaced("a", "x", PodSelector{});
    bare.selector.pod.reset();
    bare.selector.function = "x";
    auto no_pod = SelectorMatcher::build({bare});
    ASSERT_FALSE(no_pod);
    EXPECT_THAT(no_pod.error(), HasSubstr("must select pods"));
}

TEST(SelectorNamespace, SameNamespaceInTheSelectorIsAllowed) {
    auto built = SelectorMatcher::build({namespaced("a", "x", PodSelector{"a", kLabels})});
    ASSERT_TRUE(built) << built.error();
    EXPECT_TRUE(built->match_pod("a", kLabels));
    EXPECT_FALSE(built->match_pod("b", kLabels));
}

}  // namespace
}  // namespace fnw
