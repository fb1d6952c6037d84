// SPDX-License-Identifier: Apache-2.0
// PodCache, the pod watcher's snapshot, without a server: which changes a
// listener is told about, the container index, max_pods, and that a relist
// reports the difference from the old snapshot.
#include <algorithm>

#include <gtest/gtest.h>

#include "k8s/pod_cache.hpp"
#include "k8s/pod_json.hpp"

namespace fnw {
namespace {

PodInfo pod(std::string uid, std::vector<std::string> containers, std::string name = "p") {
    PodInfo info;
    info.uid = std::move(uid);
    info.name = std::move(name);
    info.container_ids = std::move(containers);
    return info;
}

std::vector<std::pair<std::string, PodEvent>> events_of(const PodChanges& changes) {
    std::vector<std::pair<std::string, PodEvent>> events;
    for (const auto& [info, event] : changes) events.emplace_back(info.uid, event);
    return events;
}

using Events = std::vector<std::pair<std::string, PodEvent>>;

TEST(PodCache, ReportsAddedModifiedDeletedAndNothingForAnUnchangedPod) {
    PodCache cache(10, /*report_changes=*/true);
    EXPECT_EQ(events_of(cache.upsert(pod("a", {"c1"}), "1").changes), (Events{{"a", PodEvent::Added}}));
    EXPECT_TRUE(cache.upsert(pod("a", {"c1"}), "2").changes.empty()) << "same pod again is no change";
    EXPECT_EQ(events_of(cache.upsert(pod("a", {"c1"}, "renamed"), "3").changes),
              (Events{{"a", PodEvent::Modified}}));
    EXPECT_EQ(events_of(cache.remove("a", "4")), (Events{{"a", PodEvent::Deleted}}));
    EXPECT_TRUE(cache.remove("a", "5").empty()) << "deleting an unknown pod is no change";
    EXPECT_EQ(cache.resource_version(), "5");
    EXPECT_EQ(cache.stats().events, 5u);
}

TEST(PodCache, CollectsNoChangesWhenNobodyListens) {
    PodCache cache(10, /*report_changes=*/false);
    EXPECT_TRUE(cache.upsert(pod("a", {}), "1").changes.empty());
    EXPECT_TRUE(cache.by_uid("a").has_value());
}

TEST(PodCache, ContainerIndexFollowsTheCurrentContainers) {
    PodCache cache(10, true);
    (void)cache.upsert(pod("a", {"c1", "c2"}), "1");
    ASSERT_TRUE(cache.by_container("c2"));
    EXPECT_EQ(cache.by_container("c2")->uid, "a");
    (void)cache.upsert(pod("a", {"c3"}), "2");  // restarted: new container ids
    EXPECT_FALSE(cache.by_container("c1"));
    EXPECT_FALSE(cache.by_container("c2"));
    EXPECT_TRUE(cache.by_container("c3"));
    (void)cache.remove("a", "3");
    EXPECT_FALSE(cache.by_container("c3"));
}

TEST(PodCache, RefusesNewPodsBeyondMaxPodsButUpdatesKnownOnes) {
    PodCache cache(1, true);
    (void)cache.upsert(pod("a", {}), "1");
    PodCache::Upserted refused = cache.upsert(pod("b", {}), "2");
    EXPECT_TRUE(refused.refused);
    EXPECT_TRUE(refused.changes.empty());
    EXPECT_FALSE(cache.by_uid("b"));
    EXPECT_FALSE(cache.upsert(pod("a", {}, "renamed"), "3").refused);
    EXPECT_EQ(cache.stats().pods_refused, 1u);
    EXPECT_EQ(cache.stats().pods, 1u);
}

TEST(PodCache, ARelistReportsTheDifferenceAndSyncsOnce) {
    PodCache cache(10, true);
    EXPECT_FALSE(cache.synced());
    (void)cache.upsert(pod("kept", {}), "1");
    (void)cache.upsert(pod("changed", {}), "1");
    (void)cache.upsert(pod("gone", {"cg"}), "1");
    StringMap<PodInfo> listed;
    listed.emplace("kept", pod("kept", {}));
    listed.emplace("changed", pod("changed", {}, "renamed"));
    listed.emplace("new", pod("new", {"cn"}));
    PodCache::Replaced replaced = cache.replace(std::move(listed), "9", 2);
    Events events = events_of(replaced.changes);
    std::sort(events.begin(), events.end());
    EXPECT_EQ(events, (Events{{"changed", PodEvent::Modified}, {"gone", PodEvent::Deleted}, {"new", PodEvent::Added}}));
    EXPECT_TRUE(replaced.first_sync);
    EXPECT_EQ(replaced.pods, 3u);
    EXPECT_TRUE(cache.synced());
    EXPECT_FALSE(cache.by_container("cg"));
    EXPECT_TRUE(cache.by_container("cn"));
    EXPECT_EQ(cache.resource_version(), "9");
    EXPECT_EQ(cache.stats().pods_refused, 2u);
    EXPECT_FALSE(cache.replace({}, "10", 0).first_sync) << "only the first list is the first sync";
}

TEST(PodJson, ReadsAPodAndStripsTheRuntimePrefix) {
    const auto json = pod_json::Json::parse(R"({"metadata":{"uid":"u1","namespace":"ns","name":"fn-1",
        "labels":{"faas_function":"fn","x":1}},"spec":{"nodeName":"n1"},
        "status":{"containerStatuses":[{"containerID":"containerd://abc"},{"name":"not started"}],
                  "initContainerStatuses":[{"containerID":"cri-o://def"}]}})");
    const auto info = pod_json::pod_from_json(json, FunctionLabelKeys{});
    ASSERT_TRUE(info);
    EXPECT_EQ(info->uid, "u1");
    EXPECT_EQ(info->node, "n1");
    EXPECT_EQ(info->function, "fn");
    EXPECT_EQ(info->labels.size(), 1u) << "a non-string label value is left out";
    EXPECT_EQ(info->container_ids, (std::vector<std::string>{"abc", "def"}));
    EXPECT_FALSE(pod_json::pod_from_json(pod_json::Json::parse(R"({"metadata":{"name":"no uid"}})"), {}));
}

TEST(PodJson, StatusMessageOfAStatusOrTheBodyItself) {
    EXPECT_EQ(pod_json::status_message(R"({"kind":"Status","message":"pods is forbidden"})"), "pods is forbidden");
    EXPECT_EQ(pod_json::status_message("  <html>bad\ngateway</html>\n"), "<html>bad gateway</html>");
}

}  // namespace
}  // namespace fnw
