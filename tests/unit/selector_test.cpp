// SPDX-License-Identifier: Apache-2.0
#include "core/selector.hpp"

#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/policy_parser.hpp"

namespace fnw {

// gtest output for a mismatch.
void PrintTo(const SelectorMatcher::Match& match, std::ostream* out) {
    *out << "{policy " << match.policy_index << ", function \"" << match.function << "\"}";
}

namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Match = SelectorMatcher::Match;

// Ids and UIDs in the shapes the kubelet and runtimes use (as in
// cgroup_path_test.cpp).
const std::string kContainerdId = "09d185410c4e25236cc24717f881589bb0978b24eafd101624e627a4dd8d3439";
const std::string kCrioId = "89e8f450417b56acf3089925dfd8f050dd50e950e18cfe83ea923269df601102";
const std::string kDockerId = "9ec39b91f3d70e1beff50a308f77067065ea6be0d91a3378375056cd4422cf3d";
const std::string kPodUidSystemd = "03f3f104_3215_44f2_9686_d4dd1f05a7ed";
const std::string kPodUid = "ac04f3f2-1f2c-11e9-b015-1ebee232acfa";

FunctionPolicy policy(std::string name, std::string function, std::string cgroup_path,
                      std::optional<PodSelector> pod = std::nullopt) {
    FunctionPolicy p;
    p.name = std::move(name);
    p.selector.function = std::move(function);
    p.selector.cgroup_path = std::move(cgroup_path);
    p.selector.pod = std::move(pod);
    p.function = p.selector.function.empty() ? p.name : p.selector.function;  // as the parser does
    p.source = p.name + ".yaml";
    return p;
}

SelectorMatcher build(const std::vector<FunctionPolicy>& policies) {
    auto built = SelectorMatcher::build(policies);
    if (!built) {
        ADD_FAILURE() << built.error();
        return SelectorMatcher{};
    }
    return std::move(built).value();
}

std::string build_error(const std::vector<FunctionPolicy>& policies) {
    auto built = SelectorMatcher::build(policies);
    if (!built) return built.error();
    ADD_FAILURE() << "build succeeded";
    return "";
}

// Every container of every QoS class, systemd cgroup driver, containerd.
constexpr const char* kAnyKubepodsSystemd =
    R"(kubepods\.slice/(?:kubepods-(?:burstable|besteffort)\.slice/)?)"
    R"(kubepods-(?:burstable-|besteffort-)?pod[0-9a-f_]{36}\.slice/cri-containerd-[0-9a-f]{64}\.scope)";

TEST(SelectorMatcher, PlainFaasLayoutCapturesTheFunction) {
    auto m = build({policy("faas", "", R"(faas/([a-z0-9-]+)-[0-9a-f]+)")});
    EXPECT_EQ(m.match_cgroup("faas/hello-7f9c"), (Match{0, "hello"}));
    // Greedy, and the suffix must still match: the name keeps its dashes.
    EXPECT_EQ(m.match_cgroup("faas/hello-world-7f9c"), (Match{0, "hello-world"}));
    EXPECT_EQ(m.match_cgroup("faas/hello"), std::nullopt);
    EXPECT_EQ(m.match_cgroup("faas/Hello-7f9c"), std::nullopt);
    EXPECT_THAT(m.ambiguities(), IsEmpty());
}

TEST(SelectorMatcher, KubepodsSystemdDriverEveryQosClass) {
    auto m = build({policy("pods", "pod-workload", kAnyKubepodsSystemd)});
    const std::string scope = "cri-containerd-" + kContainerdId + ".scope";
    const std::vector<std::string> matching = {
        "kubepods.slice/kubepods-pod" + kPodUidSystemd + ".slice/" + scope,  // guaranteed
        "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kPodUidSystemd + ".slice/" + scope,
        "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + kPodUidSystemd + ".slice/" + scope,
    };
    for (const auto& path : matching) EXPECT_EQ(m.match_cgroup(path), (Match{0, "pod-workload"})) << path;

    const std::vector<std::string> not_matching = {
        // the pod slice alone, no container
        "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kPodUidSystemd + ".slice",
        // CRI-O and its conmon are other runtimes' scopes
        "kubepods.slice/kubepods-pod" + kPodUidSystemd + ".slice/crio-" + kCrioId + ".scope",
        "kubepods.slice/kubepods-pod" + kPodUidSystemd + ".slice/crio-conmon-" + kCrioId + ".scope",
        // with a leading slash: the matcher is given relative paths
        "/kubepods.slice/kubepods-pod" + kPodUidSystemd + ".slice/" + scope,
        // something nested inside the container
        "kubepods.slice/kubepods-pod" + kPodUidSystemd + ".slice/" + scope + "/init.scope",
    };
    for (const auto& path : not_matching) EXPECT_EQ(m.match_cgroup(path), std::nullopt) << path;
}

TEST(SelectorMatcher, KubepodsCgroupfsDriverAndDocker) {
    auto m = build({
        policy("cgroupfs-pods", "", R"(kubepods/(?:burstable/|besteffort/)?pod[0-9a-f-]{36}/(?:crio-)?[0-9a-f]{64})"),
        // The short id as the function name: docker ps shows the first 12.
        policy("docker", "", R"(system\.slice/docker-([0-9a-f]{12})[0-9a-f]{52}\.scope)"),
    });
    EXPECT_EQ(m.match_cgroup("kubepods/pod" + kPodUid + "/" + kContainerdId), (Match{0, "cgroupfs-pods"}));
    EXPECT_EQ(m.match_cgroup("kubepods/burstable/pod" + kPodUid + "/" + kContainerdId), (Match{0, "cgroupfs-pods"}));
    EXPECT_EQ(m.match_cgroup("kubepods/besteffort/pod" + kPodUid + "/crio-" + kCrioId), (Match{0, "cgroupfs-pods"}));
    EXPECT_EQ(m.match_cgroup("kubepods/besteffort/pod" + kPodUid), std::nullopt);
    EXPECT_EQ(m.match_cgroup("system.slice/docker-" + kDockerId + ".scope"), (Match{1, kDockerId.substr(0, 12)}));
    EXPECT_EQ(m.match_cgroup("system.slice/docker.service"), std::nullopt);
}

TEST(SelectorMatcher, OnlyAFullMatchCounts) {
    auto m = build({policy("exact", "hello", "faas/hello")});
    EXPECT_EQ(m.match_cgroup("faas/hello"), (Match{0, "hello"}));
    EXPECT_EQ(m.match_cgroup("faas/hello-7f9c"), std::nullopt);
    EXPECT_EQ(m.match_cgroup("x/faas/hello"), std::nullopt);
    EXPECT_EQ(m.match_cgroup("faas/hello/child"), std::nullopt);
    EXPECT_EQ(m.match_cgroup("faas/hell"), std::nullopt);
    EXPECT_EQ(m.match_cgroup(""), std::nullopt);
    // An alternation is anchored as a whole, not just its first branch.
    auto alt = build({policy("alt", "f", "faas/a|faas/b")});
    EXPECT_EQ(alt.match_cgroup("faas/b"), (Match{0, "f"}));
    EXPECT_EQ(alt.match_cgroup("faas/a/x"), std::nullopt);
    EXPECT_EQ(alt.match_cgroup("x/faas/b"), std::nullopt);
}

TEST(SelectorMatcher, FunctionNameFallsBackToSelectorFunctionThenPolicyName) {
    auto m = build({policy("named", "thumbnailer", "faas/thumb-[0-9]+"), policy("unnamed", "", "faas/other-[0-9]+")});
    EXPECT_EQ(m.match_cgroup("faas/thumb-1"), (Match{0, "thumbnailer"}));
    EXPECT_EQ(m.match_cgroup("faas/other-2"), (Match{1, "unnamed"}));
}

TEST(SelectorMatcher, ACaptureGroupNamesTheFunctionEvenWithASelectorFunction) {
    auto m = build({policy("p", "fallback", "faas/([a-z]+)-[0-9]+")});
    EXPECT_EQ(m.match_cgroup("faas/resize-1"), (Match{0, "resize"}));
}

TEST(SelectorMatcher, AnEmptyOrUnsetCaptureIsNoMatchAndTheNextPolicyIsTried) {
    auto m = build({
        policy("a-empty", "", "faas/([a-z]*)-[0-9]+"),
        policy("b-unset", "", "faas/(?:([a-z]+)|_)x"),
        policy("c-catch-all", "", "faas/.*"),
    });
    EXPECT_EQ(m.match_cgroup("faas/-12"), (Match{2, "c-catch-all"}));
    EXPECT_EQ(m.match_cgroup("faas/_x"), (Match{2, "c-catch-all"}));
    EXPECT_EQ(m.match_cgroup("faas/abc-12"), (Match{0, "abc"}));
    EXPECT_EQ(m.match_cgroup("faas/abcx"), (Match{1, "abc"}));
}

TEST(SelectorMatcher, APolicyNamingAFunctionBeatsABarePattern) {
    // The specific policy comes last in the vector and still wins.
    auto m = build({
        policy("any-pod", "", kAnyKubepodsSystemd),
        policy("thumbnailer", "thumbnailer", R"(kubepods\.slice/.*-pod)" + kPodUidSystemd + R"(\.slice/.*)"),
    });
    const std::string thumbnailer_pod = "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" +
                                        kPodUidSystemd + ".slice/cri-containerd-" + kContainerdId + ".scope";
    const std::string other_pod = "kubepods.slice/kubepods-pod1234abcd_3215_44f2_9686_d4dd1f05a7ed.slice/"
                                  "cri-containerd-" +
                                  kContainerdId + ".scope";
    EXPECT_EQ(m.match_cgroup(thumbnailer_pod), (Match{1, "thumbnailer"}));
    EXPECT_EQ(m.match_cgroup(other_pod), (Match{0, "any-pod"}));
}

TEST(SelectorMatcher, AmongEqualsTheFirstPolicyWinsAndIdenticalPatternsAreReported) {
    auto m = build({
        policy("first", "", "faas/.*"),
        policy("second", "", "faas/.*"),
        policy("third", "", "faas/[a-z]+"),
    });
    EXPECT_EQ(m.match_cgroup("faas/x"), (Match{0, "first"}));
    ASSERT_EQ(m.ambiguities().size(), 1u);
    EXPECT_THAT(m.ambiguities()[0], HasSubstr("policy \"first\" (first.yaml) and policy \"second\" (second.yaml)"));
    EXPECT_THAT(m.ambiguities()[0], HasSubstr("\"first\" is used"));

    // Reversed input, reversed winner: the order is the tie-break.
    auto reversed = build({policy("second", "", "faas/.*"), policy("first", "", "faas/.*")});
    EXPECT_EQ(reversed.match_cgroup("faas/x"), (Match{0, "second"}));
}

TEST(SelectorMatcher, OverlongPathsNeverMatch) {
    auto m = build({policy("all", "", "(?s).*")});
    const std::string longest(kMaxSelectorPathBytes, 'a');
    EXPECT_EQ(m.match_cgroup(longest), (Match{0, "all"}));
    EXPECT_EQ(m.match_cgroup(longest + "a"), std::nullopt);
}

TEST(SelectorMatcher, PathsAreBytesAnyByteMatchesADot) {
    // Invalid UTF-8 and newlines in a cgroup name must not slip past a
    // catch-all pattern.
    auto m = build({policy("faas", "", "faas/(.+)")});
    EXPECT_EQ(m.match_cgroup("faas/\xff\xfe"), (Match{0, "\xff\xfe"}));
    EXPECT_EQ(m.match_cgroup("faas/a\nb"), (Match{0, "a\nb"}));
    EXPECT_EQ(m.match_cgroup(std::string_view("faas/a\0b", 8)), (Match{0, std::string("a\0b", 3)}));
}

TEST(SelectorMatcher, PathologicalPatternsStayLinear) {
    // Catastrophic for a backtracking engine (2^4096 paths); RE2 answers in
    // one pass over the input.
    auto m = build({policy("evil", "", "(?:a|aa)*(?:a*)*b"), policy("evil2", "", "(?:a+)+$b")});
    const std::string path(kMaxSelectorPathBytes, 'a');
    EXPECT_EQ(m.match_cgroup(path), std::nullopt);
}

TEST(SelectorMatcher, PoliciesWithOnlyAFunctionTakeNoPart) {
    auto m = build({policy("plain", "hello", "")});
    EXPECT_EQ(m.match_cgroup("faas/hello"), std::nullopt);
    EXPECT_EQ(m.match_pod("default", {{"app", "hello"}}), std::nullopt);
    SelectorMatcher empty;
    EXPECT_EQ(empty.match_cgroup("faas/hello"), std::nullopt);
}

TEST(SelectorMatcher, PodSelectorNamespaceAndLabels) {
    auto m = build({
        policy("web", "web", "", PodSelector{"shop", {{"app", "web"}, {"tier", "frontend"}}}),
        policy("anywhere", "", "", PodSelector{"", {{"app.kubernetes.io/name", "resizer"}}}),
        policy("batch", "", "", PodSelector{"batch", {}}),
    });
    EXPECT_EQ(m.match_pod("shop", {{"app", "web"}, {"tier", "frontend"}, {"extra", "x"}}), (Match{0, "web"}));
    EXPECT_EQ(m.match_pod("shop", {{"app", "web"}}), std::nullopt);                         // a label missing
    EXPECT_EQ(m.match_pod("shop", {{"app", "web"}, {"tier", "backend"}}), std::nullopt);    // another value
    EXPECT_EQ(m.match_pod("other", {{"app", "web"}, {"tier", "frontend"}}), std::nullopt);  // another namespace
    EXPECT_EQ(m.match_pod("default", {{"app.kubernetes.io/name", "resizer"}}), (Match{1, "anywhere"}));
    EXPECT_EQ(m.match_pod("shop", {{"app.kubernetes.io/name", "resizer"}}), (Match{1, "anywhere"}));
    EXPECT_EQ(m.match_pod("batch", {}), (Match{2, "batch"}));
    EXPECT_EQ(m.match_pod("batch", {{"anything", "at-all"}}), (Match{2, "batch"}));
    EXPECT_EQ(m.match_pod("", {}), std::nullopt);
    // Web and anywhere can both select a pod in shop with all three labels;
    // anywhere and batch can meet in namespace batch; web and batch cannot.
    ASSERT_EQ(m.ambiguities().size(), 2u);
    EXPECT_THAT(m.ambiguities()[0], HasSubstr("policy \"web\" (web.yaml) and policy \"anywhere\""));
    EXPECT_THAT(m.ambiguities()[0], HasSubstr("\"web\" is used"));
    EXPECT_THAT(m.ambiguities()[1], HasSubstr("policy \"anywhere\" (anywhere.yaml) and policy \"batch\""));
}

TEST(SelectorMatcher, PodPrecedenceFollowsTheSameRules) {
    auto m = build({
        policy("broad", "", "", PodSelector{"shop", {}}),
        policy("narrow", "", "", PodSelector{"shop", {{"app", "web"}}}),
        policy("named", "checkout", "", PodSelector{"", {{"app", "checkout"}}}),
    });
    // Equal rank: the first in order, even though "narrow" is more specific.
    EXPECT_EQ(m.match_pod("shop", {{"app", "web"}}), (Match{0, "broad"}));
    // A selector function outranks order.
    EXPECT_EQ(m.match_pod("shop", {{"app", "checkout"}}), (Match{2, "checkout"}));
    // Contradicting label values: never the same pod, so no report for that pair.
    for (const auto& message : m.ambiguities())
        EXPECT_THAT(message, ::testing::Not(HasSubstr("\"narrow\" (narrow.yaml) and policy \"named\"")));
}

TEST(SelectorMatcher, CgroupAndPodSelectorsOfOnePolicyAreAlternatives) {
    auto m = build({policy("both", "", "faas/both-[0-9]+", PodSelector{"faas", {}})});
    EXPECT_EQ(m.match_cgroup("faas/both-1"), (Match{0, "both"}));
    EXPECT_EQ(m.match_pod("faas", {}), (Match{0, "both"}));
}

TEST(SelectorMatcher, BuildRefusesWhatTheParserRefuses) {
    EXPECT_THAT(build_error({policy("bad", "", "faas/(")}),
                HasSubstr("policy \"bad\" (bad.yaml): cgroupPath \"faas/(\" is not a valid RE2 regular expression"));
    EXPECT_THAT(build_error({policy("two", "", "(a)(b)")}), HasSubstr("has 2 capture groups"));
    EXPECT_THAT(build_error({policy("slash", "", "/faas/.*")}), HasSubstr("must not start with \"/\""));
    EXPECT_THAT(build_error({policy("label", "", "", PodSelector{"", {{"-app", "x"}}})}),
                HasSubstr("label key \"-app\""));
    EXPECT_THAT(build_error({policy("ns", "", "", PodSelector{"Shop", {}})}), HasSubstr("must be a DNS label"));
    EXPECT_THAT(build_error({policy("empty", "", "", PodSelector{})}), HasSubstr("every pod"));
    auto nameless = policy("", "", "faas/.*");
    nameless.function.clear();
    EXPECT_THAT(build_error({nameless}), HasSubstr("names no function"));
}

TEST(SelectorMatcher, BuildsFromParsedPolicies) {
    auto parsed = parse_policy(
        "apiVersion: fnwarden.io/v1\n"
        "kind: FunctionPolicy\n"
        "metadata: {name: faas-functions}\n"
        "spec:\n"
        "  selector:\n"
        "    cgroupPath: 'faas/([a-z0-9-]+)-[0-9a-f]{4,}'\n",
        "faas.yaml");
    ASSERT_TRUE(parsed.ok()) << parsed.errors.front().to_string();
    auto m = build({*parsed.policy});
    EXPECT_EQ(m.match_cgroup("faas/hello-7f9c"), (Match{0, "hello"}));
    EXPECT_EQ(m.match_cgroup("faas/hello-7f9"), std::nullopt);
}

TEST(SelectorValidation, LabelKeys) {
    for (const char* key : {"app", "app.kubernetes.io/name", "example.com/a_b-c.d", "A", "x/Y", "k8s.io/x9"})
        EXPECT_EQ(validate_label_key(key), "") << key;
    EXPECT_EQ(validate_label_key(std::string(63, 'k')), "");
    EXPECT_EQ(validate_label_key(std::string(253, 'a').replace(63, 1, ".").replace(127, 1, ".").replace(191, 1, ".") +
                                 "/name"),
              "");
    for (const char* key : {"", "-app", "app-", "a b", "Example.com/x", "/x", "x/", "a/b/c", "ex_ample.com/x",
                            "-ex.com/x", "a..b/x", "app:name"})
        EXPECT_NE(validate_label_key(key), "") << key;
    EXPECT_NE(validate_label_key(std::string(64, 'k')), "");
    EXPECT_NE(validate_label_key(std::string(254, 'a') + "/name"), "");
}

TEST(SelectorValidation, LabelValuesAndNamespaces) {
    for (const char* value : {"", "web", "v1.2.3", "a_b-c", "1"}) EXPECT_EQ(validate_label_value(value), "") << value;
    EXPECT_EQ(validate_label_value(std::string(63, 'v')), "");
    for (const char* value : {"-web", "web.", "a/b", "a b"}) EXPECT_NE(validate_label_value(value), "") << value;
    EXPECT_NE(validate_label_value(std::string(64, 'v')), "");

    for (const char* ns : {"default", "kube-system", "a", "team-42"}) EXPECT_EQ(validate_namespace_name(ns), "") << ns;
    EXPECT_EQ(validate_namespace_name(std::string(63, 'n')), "");
    for (const char* ns : {"", "Default", "a_b", "a.b", "-a", "a-"}) EXPECT_NE(validate_namespace_name(ns), "") << ns;
    EXPECT_NE(validate_namespace_name(std::string(64, 'n')), "");
}

TEST(SelectorValidation, CgroupPathPatterns) {
    EXPECT_EQ(validate_cgroup_path_regex("faas/([a-z]+)-[0-9]+"), "");
    EXPECT_EQ(validate_cgroup_path_regex("(?:a|b)/(?P<fn>x)"), "");  // a named group is the one group
    EXPECT_THAT(validate_cgroup_path_regex("faas/["), HasSubstr("missing ]"));
    EXPECT_THAT(validate_cgroup_path_regex("(?P<a>x)(y)"), HasSubstr("has 2 capture groups"));
    EXPECT_THAT(validate_cgroup_path_regex("^/faas"), HasSubstr("must not start with \"/\""));
    EXPECT_THAT(validate_cgroup_path_regex(""), HasSubstr("must not be empty"));
    // RE2 refuses what it cannot match in bounded memory; so do we.
    EXPECT_NE(validate_cgroup_path_regex("((((a{100}){100}){100}){100})"), "");
    // Backreferences and lookaround are not RE2 (nor linear-time).
    EXPECT_NE(validate_cgroup_path_regex("(a)\\1"), "");
    EXPECT_NE(validate_cgroup_path_regex("faas/(?!system)"), "");
}

}  // namespace
}  // namespace fnw
