// SPDX-License-Identifier: Apache-2.0
// FunctionPolicy objects from the Kubernetes API: the watcher against a
// fake API server that keeps objects as the real one does
// (tests/helpers/fake_policy_api.hpp), then the daemon's side (PolicyFeed,
// ActivePolicies): added, edited, made invalid, deleted and re-added; a 410
// during the watch; one namespace only.
#include "k8s/policy_watcher.hpp"

#include <poll.h>

#include <chrono>
#include <functional>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/syscall_table.hpp"
#include "daemon/active_policies.hpp"
#include "daemon/daemon_threads.hpp"
#include "k8s/policy_status_writer.hpp"
#include "fakes/fake_kernel_maps.hpp"
#include "../helpers/fake_policy_api.hpp"

namespace fnw {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using Json = nlohmann::json;
using test::FakePolicyApi;

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= deadline) return condition();
        std::this_thread::sleep_for(2ms);
    }
    return true;
}

Json spec_for(const std::string& app, const Json& syscalls = Json::array({"read", "write", "exit_group"})) {
    return {{"selector", {{"pod", {{"labels", {{"app", app}}}}}}},
            {"mode", "enforce"},
            {"syscalls", {{"allow", syscalls}}}};
}

KubeEndpoint endpoint_of(const FakePolicyApi& api) {
    KubeEndpoint endpoint;
    endpoint.server = api.url();
    return endpoint;
}

PolicyWatcherOptions fast_options(std::function<void()> on_change = {}) {
    PolicyWatcherOptions options;
    options.backoff_initial = 10ms;
    options.backoff_max = 50ms;
    options.on_change = std::move(on_change);
    return options;
}

std::unique_ptr<PolicyWatcher> start(const FakePolicyApi& api, PolicyWatcherOptions options) {
    auto started = PolicyWatcher::start(endpoint_of(api), std::move(options));
    if (!started) {
        ADD_FAILURE() << started.error();
        return nullptr;
    }
    return std::move(*started);
}

// --- the watcher ------------------------------------------------------------------

TEST(PolicyWatcher, ListsThenFollowsAddEditDeleteAndReAdd) {
    FakePolicyApi api;
    ASSERT_TRUE(api.listening());
    api.put("shop", "checkout", spec_for("checkout"));
    std::atomic<int> changes{0};
    auto watcher = start(api, fast_options([&] { ++changes; }));
    ASSERT_TRUE(watcher);
    ASSERT_TRUE(eventually([&] { return watcher->synced(); })) << watcher->stats().last_error;
    // The callback runs just after the snapshot is updated.
    EXPECT_TRUE(eventually([&] { return changes.load() == 1; })) << "the first list is a change";
    auto objects = watcher->objects();
    ASSERT_EQ(objects.size(), 1u);
    EXPECT_EQ(objects[0].key(), "shop/checkout");
    EXPECT_EQ(objects[0].generation, 1);
    // What the parser reads: the spec, no server fields.
    const Json document = Json::parse(objects[0].document);
    EXPECT_EQ(document["spec"], spec_for("checkout"));
    EXPECT_EQ(document["metadata"], (Json{{"name", "checkout"}}));
    EXPECT_FALSE(document.contains("status"));

    api.put("shop", "cart", spec_for("cart"));
    ASSERT_TRUE(eventually([&] { return watcher->objects().size() == 2 && changes.load() == 2; }));

    api.put("shop", "cart", spec_for("cart", Json::array({"read"})));
    ASSERT_TRUE(eventually([&] {
        auto all = watcher->objects();
        return all.size() == 2 && all[0].key() == "shop/cart" && all[0].generation == 2;
    }));
    EXPECT_EQ(Json::parse(watcher->objects()[0].document)["spec"]["syscalls"]["allow"], Json::array({"read"}));
    EXPECT_TRUE(eventually([&] { return changes.load() == 3; }));

    // A status written by a controller is no change to the policy.
    const int before_status = changes.load();
    const uint64_t events = watcher->stats().events;  // before: the event may come at once
    api.set_status("shop", "cart", {{"observedGeneration", 2}});
    ASSERT_TRUE(eventually([&] { return watcher->stats().events > events; }));
    // Callbacks run in order on one thread: once the delete's is counted, a
    // wrong one for the status update would have been counted before it.
    api.remove("shop", "cart");
    ASSERT_TRUE(eventually([&] { return watcher->objects().size() == 1 && changes.load() > before_status; }));
    EXPECT_EQ(changes.load(), before_status + 1) << "a status-only update is no change";
    api.put("shop", "cart", spec_for("cart"));
    ASSERT_TRUE(eventually([&] { return watcher->objects().size() == 2; }));
    EXPECT_EQ(watcher->objects()[0].generation, 1) << "a new object";
    EXPECT_EQ(watcher->stats().lists, 1u) << "all of it through one watch";
    EXPECT_EQ(watcher->stats().errors, 0u) << watcher->stats().last_error;
}

TEST(PolicyWatcher, A410DuringTheWatchRelistsAndCatchesUp) {
    FakePolicyApi api;
    api.put("shop", "checkout", spec_for("checkout"));
    auto watcher = start(api, fast_options());
    ASSERT_TRUE(watcher);
    ASSERT_TRUE(eventually([&] { return watcher->synced() && api.watches() >= 1; }));

    api.expire_next_watch();  // ends the stream; the resumed watch gets 410
    // Made while the watcher's history is gone: only the relist can bring it.
    api.remove("shop", "checkout");
    api.put("shop", "cart", spec_for("cart"));
    ASSERT_TRUE(eventually([&] { return watcher->stats().relists_410 >= 1; })) << watcher->stats().last_error;
    ASSERT_TRUE(eventually([&] {
        auto all = watcher->objects();
        return all.size() == 1 && all[0].key() == "shop/cart";
    }));
    EXPECT_GE(api.lists(), 2);
    EXPECT_GE(watcher->stats().lists, 2u);
}

TEST(PolicyWatcher, OneNamespaceWhenConfigured) {
    FakePolicyApi api;
    api.put("shop", "checkout", spec_for("checkout"));
    api.put("billing", "invoice", spec_for("invoice"));
    PolicyWatcherOptions options = fast_options();
    options.namespace_ = "billing";
    auto watcher = start(api, options);
    ASSERT_TRUE(watcher);
    ASSERT_TRUE(eventually([&] { return watcher->synced(); })) << watcher->stats().last_error;
    ASSERT_EQ(watcher->objects().size(), 1u);
    EXPECT_EQ(watcher->objects()[0].key(), "billing/invoice");
    ASSERT_FALSE(api.paths().empty());
    EXPECT_EQ(api.paths()[0], "/apis/fnwarden.io/v1/namespaces/billing/functionpolicies");

    options.namespace_ = "Not_A_Namespace";
    EXPECT_FALSE(PolicyWatcher::start(endpoint_of(api), options));
}

TEST(PolicyWatcher, EveryNamespaceByDefault) {
    FakePolicyApi api;
    api.put("shop", "checkout", spec_for("checkout"));
    api.put("billing", "invoice", spec_for("invoice"));
    auto watcher = start(api, fast_options());
    ASSERT_TRUE(watcher);
    ASSERT_TRUE(eventually([&] { return watcher->synced(); })) << watcher->stats().last_error;
    EXPECT_EQ(watcher->objects().size(), 2u);
    EXPECT_EQ(api.paths()[0], "/apis/fnwarden.io/v1/functionpolicies");
}

// --- through the daemon's feed into the policy set ---------------------------------

bool readable(int fd, std::chrono::milliseconds limit = 5s) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(limit.count())) == 1;
}

class PolicyObjectsTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(api_.listening());
        auto feed = PolicyFeed::start(endpoint_of(api_), fast_options(), /*write_status=*/true);
        ASSERT_TRUE(feed) << feed.error();
        feed_ = std::move(*feed);
        policies_.read_objects_from([this] { return feed_->objects(); });
        // The first (empty) list is a change too: taken here, so each
        // reload_after_change() below waits for the change it is about.
        ASSERT_TRUE(readable(feed_->wakeup_fd())) << "no first list";
        feed_->take_wakeup();
    }

    // As the daemon's loop: wait for the eventfd, then reload.
    bool reload_after_change() {
        if (!readable(feed_->wakeup_fd())) {
            ADD_FAILURE() << "no change reported";
            return false;
        }
        // One wakeup per change, sent once the change is in the snapshot.
        feed_->take_wakeup();
        const bool ok = policies_.reload("policies changed", [](ActivePolicies::Swapped&) {});
        feed_->report(policies_.last_errors());  // as Daemon::Impl::reload
        return ok;
    }

    // The object's status.valid, nullopt while it has none.
    std::optional<bool> status_valid(const std::string& ns, const std::string& name) const {
        const Json status = api_.status(ns, name);
        if (!status.is_object() || !status.contains("valid")) return std::nullopt;
        return status["valid"].get<bool>();
    }

    const FunctionPolicy* policy(const std::string& function) const {
        return policies_.set() ? policies_.set()->find(function) : nullptr;
    }

    FakePolicyApi api_;
    std::unique_ptr<PolicyFeed> feed_;
    testing::FakeKernelMaps maps_;
    ActivePolicies policies_{"", maps_, Mode::Enforce, {}};
};

TEST_F(PolicyObjectsTest, AddedEditedInvalidDeletedAndReAdded) {
    api_.put("shop", "checkout", spec_for("checkout"));
    ASSERT_TRUE(reload_after_change()) << ::testing::PrintToString(policies_.last_errors());
    const FunctionPolicy* checkout = policy("shop/checkout");
    ASSERT_NE(checkout, nullptr);
    EXPECT_EQ(checkout->kube_namespace, "shop");
    EXPECT_EQ(checkout->name, "shop/checkout");
    EXPECT_EQ(checkout->mode, Mode::Enforce);
    EXPECT_TRUE(policies_.table().slot_of("shop/checkout"));
    const std::string first_version = policies_.set()->version;

    // Edited: the new set is in force.
    api_.put("shop", "checkout", spec_for("checkout", Json::array({"read", "exit_group"})));
    ASSERT_TRUE(reload_after_change());
    EXPECT_NE(policies_.set()->version, first_version);
    EXPECT_FALSE(policy("shop/checkout")->syscalls.allow.test(static_cast<size_t>(*SyscallTable::number("write"))))
        << "write no longer allowed";
    const std::string edited_version = policies_.set()->version;

    // Made invalid: the old set stays, the reason is in status.
    api_.put("shop", "checkout", spec_for("checkout", Json::array({"opne"})));
    EXPECT_FALSE(reload_after_change());
    EXPECT_EQ(policies_.set()->version, edited_version);
    const RulesInfo rules = policies_.rules_status();
    EXPECT_FALSE(rules.valid);
    ASSERT_EQ(rules.errors.size(), 1u);
    EXPECT_THAT(rules.errors[0], HasSubstr("functionpolicies/shop/checkout: "));
    EXPECT_THAT(rules.errors[0], HasSubstr("opne"));
    // ... and in the object's status.
    ASSERT_TRUE(eventually([&] { return status_valid("shop", "checkout") == false; }))
        << api_.status("shop", "checkout").dump();
    EXPECT_EQ(api_.status("shop", "checkout")["observedGeneration"], 3);
    EXPECT_THAT(api_.status("shop", "checkout")["errors"][0].get<std::string>(), HasSubstr("opne"));

    // Deleted: the set no longer has it; re-added: it is back.
    api_.remove("shop", "checkout");
    ASSERT_TRUE(reload_after_change());
    EXPECT_EQ(policy("shop/checkout"), nullptr);
    EXPECT_TRUE(policies_.rules_status().valid);
    api_.put("shop", "checkout", spec_for("checkout"));
    ASSERT_TRUE(reload_after_change());
    ASSERT_NE(policy("shop/checkout"), nullptr);

    ASSERT_TRUE(eventually([&] { return status_valid("shop", "checkout") == true; }))
        << api_.status("shop", "checkout").dump();
    EXPECT_EQ(api_.status("shop", "checkout")["errors"], Json::array());

    const FunctionPoliciesInfo info = feed_->status("kubernetes", "");
    EXPECT_TRUE(info.synced);
    EXPECT_EQ(info.objects, 1u);
    EXPECT_EQ(info.errors, 0u) << info.last_error;
    EXPECT_GE(info.status_patches, 2u);
    EXPECT_EQ(info.status_patch_errors, 0u) << info.status_last_error;
}

TEST(PolicyStatusWriter, WritesOnlyAStatusThatDiffers) {
    FakePolicyApi api;
    api.put("shop", "checkout", spec_for("checkout"));
    auto writer = PolicyStatusWriter::start(endpoint_of(api));
    ASSERT_TRUE(writer) << writer.error();

    FunctionPolicyVerdict verdict{"shop", "checkout", 1, {}, ""};
    // Another node wrote this verdict already: nothing to send.
    FunctionPolicyVerdict current = verdict;
    current.current_status = status_of(verdict);
    (*writer)->submit({current});
    ASSERT_TRUE(eventually([&] { return (*writer)->stats().already_current == 1; }));
    EXPECT_EQ(api.patches(), 0);

    verdict.errors = {"functionpolicies/shop/checkout: spec.mode must be \"audit\" or \"enforce\""};
    (*writer)->submit({verdict});
    ASSERT_TRUE(eventually([&] { return (*writer)->stats().patches == 1; })) << (*writer)->stats().last_error;
    EXPECT_EQ(api.patches(), 1);
    EXPECT_EQ(api.status("shop", "checkout")["valid"], false);
    EXPECT_EQ(api.status("shop", "checkout")["errors"].size(), 1u);

    // An object deleted meanwhile: counted, said, no harm.
    (*writer)->submit({FunctionPolicyVerdict{"shop", "gone", 1, {}, ""}});
    ASSERT_TRUE(eventually([&] { return (*writer)->stats().failed == 1; }));
    EXPECT_THAT((*writer)->stats().last_error, HasSubstr("404"));
}

TEST_F(PolicyObjectsTest, AForbiddenStatusPatchIsCountedAndNamesTheRbacRule) {
    api_.forbid_patches();
    api_.put("shop", "checkout", spec_for("checkout"));
    ASSERT_TRUE(reload_after_change());
    ASSERT_TRUE(eventually([&] { return feed_->status("kubernetes", "").status_patch_errors >= 1; }));
    EXPECT_THAT(feed_->status("kubernetes", "").status_last_error, HasSubstr("patch on functionpolicies/status"));
    EXPECT_NE(policy("shop/checkout"), nullptr) << "the policy is in force all the same";
}

TEST_F(PolicyObjectsTest, AnObjectMayNotSelectOutsideItsNamespace) {
    Json elsewhere = spec_for("checkout");
    elsewhere["selector"]["pod"]["namespace"] = "billing";
    api_.put("shop", "sneaky", elsewhere);
    EXPECT_FALSE(reload_after_change());
    ASSERT_EQ(policies_.rules_status().errors.size(), 1u);
    EXPECT_THAT(policies_.rules_status().errors[0], HasSubstr("functionpolicies/shop/sneaky"));
    EXPECT_THAT(policies_.rules_status().errors[0], HasSubstr("its own namespace only"));

    Json by_path = spec_for("checkout");
    by_path["selector"] = {{"cgroupPath", "kubepods/.*"}};
    api_.put("shop", "sneaky", by_path);
    EXPECT_FALSE(reload_after_change());
    EXPECT_THAT(policies_.last_errors().at(0), HasSubstr("cgroupPath is for rules files"));

    api_.put("shop", "sneaky", {{"selector", {{"function", "hello"}}}});
    EXPECT_FALSE(reload_after_change());
    EXPECT_THAT(policies_.last_errors().at(0), HasSubstr("spec.selector.pod is required"));
}

TEST_F(PolicyObjectsTest, TwoNamespacesWithTheSameNamesAndLabelsAreTwoPolicies) {
    api_.put("shop", "hello", spec_for("hello"));
    api_.put("billing", "hello", spec_for("hello"));
    ASSERT_TRUE(eventually([&] { return feed_->objects().size() == 2; }));
    ASSERT_TRUE(reload_after_change()) << ::testing::PrintToString(policies_.last_errors());
    ASSERT_NE(policy("shop/hello"), nullptr);
    ASSERT_NE(policy("billing/hello"), nullptr);
    auto matcher = SelectorMatcher::build(policies_.set()->policies);
    ASSERT_TRUE(matcher) << matcher.error();
    const std::map<std::string, std::string> labels = {{"app", "hello"}};
    EXPECT_EQ(matcher->match_pod("shop", labels)->function, "shop/hello");
    EXPECT_EQ(matcher->match_pod("billing", labels)->function, "billing/hello");
    EXPECT_FALSE(matcher->match_pod("default", labels));
}

}  // namespace
}  // namespace fnw
