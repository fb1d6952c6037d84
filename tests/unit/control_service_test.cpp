// SPDX-License-Identifier: Apache-2.0
// ControlService over a real control socket in a temp dir, with the daemon's
// parts running against an in-memory kernel map: one test per op, and the
// replies' JSON as clients read it.
#include "daemon/control_service.hpp"

#include <poll.h>

#include <chrono>
#include <fstream>

#include <gtest/gtest.h>

#include "control/control_client.hpp"
#include "fakes/fake_kernel_maps.hpp"
#include "temp_dir.hpp"

namespace fnw {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::FakeKernelMaps;

void write_policy(const std::filesystem::path& dir, const std::string& function, const std::string& mode) {
    std::ofstream out(dir / (function + ".yaml"));
    out << "apiVersion: fnwarden.io/v1\nkind: FunctionPolicy\nmetadata:\n  name: " << function
        << "-policy\nspec:\n  mode: " << mode << "\n  selector:\n    function: " << function << "\n";
}

struct NoTree : CgroupTreeReader {
    std::optional<uint64_t> id_of(const std::filesystem::path&) const override { return std::nullopt; }
    void walk(const std::function<void(const std::filesystem::path&)>&) const override {}
    bool runtime_still_starting(const std::filesystem::path&) const override { return false; }
};

class Control : public ::testing::Test {
protected:
    Control() {
        std::filesystem::create_directories(rules_);
        write_policy(rules_, "alpha", "enforce");
        ControlServerOptions options;
        options.socket_path = temp_.path() / "fnwarden.sock";
        options.group = "fnwarden-test-no-such-group";
        auto listening = ControlServer::listen(options);
        EXPECT_TRUE(listening.ok());
        server_ = std::move(listening.value());
        ControlService::Hooks hooks;
        hooks.status = [] {
            StatusReply status;
            status.daemon.version = "hook";
            return status;
        };
        hooks.reload = [this](const std::string& why) { return reload(why); };
        hooks.attach_landlock_reporting = [] { return Status{}; };
        hooks.pinned = [this] { return pinned_; };
        // Directories under the launcher's parent, as cgroupfs would show
        // them (owned by root, which the test's client counts as: it is
        // the daemon's own user).
        hooks.inspect_cgroup = [this](const std::filesystem::path&, const std::string& leaf) -> Result<CgroupFacts> {
            auto it = cgroups_.find(leaf);
            if (it == cgroups_.end()) return fail("cannot open " + leaf + ": No such file or directory");
            return CgroupFacts{/*directory=*/true, /*cgroupfs=*/true, /*owner=*/0, it->second};
        };
        service_.emplace(ControlService::Parts{*server_, maps_, policies_, registrations_, identifier_, router_},
                         std::move(hooks), temp_.path() / "cgroup" / "fnwarden", "wheel");
        service_->count_refusals_in(metrics_.counter("fnwarden_control_refused_total", "", {"reason"}));
        server_->on_message([this](ClientId c, const json& m) { service_->on_message(c, m); });
        server_->on_disconnect([this](ClientId c) { service_->on_disconnect(c); });
        EXPECT_TRUE(reload("start"));
    }
    bool reload(const std::string& why) {
        return policies_.reload(why, [this](ActivePolicies::Swapped& swapped) {
            identifier_.reconfigure(swapped.set, std::move(swapped.selectors));
        });
    }
    ControlClient connect() {
        auto connected = ControlClient::connect((temp_.path() / "fnwarden.sock").string(), 1s);
        if (!connected.ok()) std::abort();
        return std::move(connected.value());
    }
    // Sends, then runs the server as the loop would until the reply is in.
    std::optional<json> ask(ControlClient& client, const json& request) {
        if (!client.send(request)) return std::nullopt;
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (std::chrono::steady_clock::now() < deadline) {
            if (auto reply = client.receive(0ms)) return reply;
            if (client.closed()) return std::nullopt;
            pollfd fds[2] = {{server_->fd(), POLLIN, 0}, {client.fd(), POLLIN, 0}};
            ::poll(fds, 2, 5);
            server_->process();
        }
        return std::nullopt;
    }

    json register_request(const std::string& function, const std::string& leaf, bool resume) const {
        json request = {{"op", "register"},
                        {"function", function},
                        {"cgroup_path", (temp_.path() / "cgroup" / "fnwarden" / leaf).string()},
                        {"cgroup_id", cgroups_.at(leaf)},
                        {"pid", 4242}};
        if (resume) request["resume"] = true;
        return request;
    }
    // What a restarted daemon finds and adopts: `function`'s launcher
    // registered cgroup `leaf` with the daemon before, and its function
    // has exec'd (the entry is armed, so no ARM_ON_EXEC any more).
    void left_by_the_earlier_daemon(const std::string& leaf, uint64_t id, const std::string& function,
                                    uint32_t flags = FNW_CGROUP_LANDLOCK) {
        cgroups_[leaf] = id;
        fnw_cgroup_entry entry{};
        entry.policy_id = *policies_.table().slot_of(function);
        entry.flags = flags;
        maps_.cgroups[id] = entry;
    }
    void adopt_the_kernels_entries() {
        registrations_.adopt(maps_.monitored_cgroups(), [this](uint32_t slot) {
            const SlotInfo* info = policies_.table().info(slot);
            return info ? info->function : std::string();
        });
    }

    test::TempDir temp_;
    bool pinned_ = true;
    std::map<std::string, uint64_t> cgroups_;  // leaf -> id, under the launcher's parent
    std::filesystem::path rules_ = temp_.path() / "rules";
    FakeKernelMaps maps_;
    ActivePolicies policies_{rules_, maps_, Mode::Enforce, {}};
    Registrations registrations_{maps_, temp_.path() / "cgroup"};
    NoTree tree_;
    std::atomic<uint64_t> monitored_{0};
    CgroupIdentifier identifier_{maps_, policies_.table(), registrations_, tree_, monitored_};
    std::unique_ptr<OutputPipeline> output_ = std::make_unique<OutputPipeline>(std::vector<std::unique_ptr<EventSink>>{});
    FileDecider files_{[](const fnw_file_verdict_key&) { return false; }};
    LineageLookup lineage_;
    MetricsRegistry metrics_;
    EventRouter router_{{maps_, policies_.table(), identifier_, registrations_, *output_, files_, lineage_, monitored_},
                        {&metrics_.counter("fnwarden_events_total", "", {"type"}),
                         &metrics_.counter("fnwarden_violations_total", "", {"function", "type", "action"}),
                         &metrics_.histogram("fnwarden_event_latency_seconds", "", {}, {1})}};
    std::unique_ptr<ControlServer> server_;
    std::optional<ControlService> service_;
};

TEST_F(Control, UnknownOpListsTheOps) {
    auto client = connect();
    auto reply = ask(client, {{"op", "dance"}});
    ASSERT_TRUE(reply);
    EXPECT_EQ(*reply, (json{{"type", "error"},
                            {"error", "unknown op \"dance\" (status, policy, register, unregister, event, trace, reload, container, policy_report)"}}));
}

TEST_F(Control, PolicyNamesTheFunctionsPolicyAndMode) {
    auto client = connect();
    auto reply = ask(client, {{"op", "policy"}, {"function", "alpha"}});
    ASSERT_TRUE(reply);
    EXPECT_EQ((*reply)["type"], "policy");
    EXPECT_EQ((*reply)["name"], "alpha-policy");
    EXPECT_EQ((*reply)["mode"], "enforce");
    EXPECT_EQ((*reply)["version"], policies_.set()->version);
    reply = ask(client, {{"op", "policy"}, {"function", "nobody"}});
    ASSERT_TRUE(reply);
    EXPECT_EQ((*reply)["error"], "no policy for function \"nobody\" in " + rules_.string());
}

TEST_F(Control, ABadRequestIsAnErrorNotADisconnect) {
    auto client = connect();
    auto reply = ask(client, {{"op", "policy"}});
    ASSERT_TRUE(reply);
    EXPECT_EQ((*reply)["type"], "error");
    EXPECT_EQ((*reply)["error"].get<std::string>().rfind("bad request: ", 0), 0u);
    EXPECT_TRUE(ask(client, {{"op", "policy"}, {"function", "alpha"}}));
}

TEST_F(Control, StatusIsTheHooksAndClosesTheConnection) {
    auto client = connect();
    auto reply = ask(client, {{"op", "status"}});
    ASSERT_TRUE(reply);
    EXPECT_EQ((*reply)["type"], "status");
    EXPECT_EQ((*reply)["daemon"]["version"], "hook");
    for (int i = 0; i < 100 && !client.closed(); ++i) {
        client.receive(5ms);
        server_->process();
    }
    EXPECT_TRUE(client.closed());
}

TEST_F(Control, TraceSubscribesUntilTheClientLeaves) {
    {
        auto client = connect();
        auto reply = ask(client, {{"op", "trace"}, {"events", {"net"}}});
        ASSERT_TRUE(reply);
        EXPECT_EQ(*reply, (json{{"type", "subscribed"}}));
        EXPECT_EQ(service_->clients_status()[0].role, "trace");
        reply = ask(client, {{"op", "trace"}, {"events", {"disk"}}});
        ASSERT_TRUE(reply);
        EXPECT_EQ((*reply)["error"], "unknown event kind \"disk\" (syscall, file, net, exec)");
    }
    for (int i = 0; i < 100 && !service_->clients_status().empty(); ++i) {
        pollfd fd{server_->fd(), POLLIN, 0};
        ::poll(&fd, 1, 5);
        server_->process();
    }
    EXPECT_TRUE(service_->clients_status().empty());
    EXPECT_FALSE(router_.subscribed(1));
}

TEST_F(Control, ReloadAnswersWithTheVersionAndErrors) {
    auto client = connect();
    write_policy(rules_, "beta", "audit");
    auto reply = ask(client, {{"op", "reload"}});
    ASSERT_TRUE(reply);
    EXPECT_EQ((*reply)["type"], "reloaded");
    EXPECT_EQ((*reply)["ok"], true);
    EXPECT_EQ((*reply)["errors"], json::array());
    EXPECT_TRUE(policies_.table().slot_of("beta"));
    std::ofstream(rules_ / "broken.yaml") << "apiVersion: [unclosed\n";
    reply = ask(client, {{"op", "reload"}});
    ASSERT_TRUE(reply);
    EXPECT_EQ((*reply)["ok"], false);
    EXPECT_FALSE((*reply)["errors"].empty());
}

TEST_F(Control, EventFromAnUnregisteredClientIsRefused) {
    auto client = connect();
    auto reply = ask(client, {{"op", "event"}, {"event", {{"type", "syscall"}}}});
    ASSERT_TRUE(reply);
    EXPECT_EQ((*reply)["error"], "event from a client with no registered function");
}

TEST_F(Control, ARefusedRegistrationIsCountedByReason) {
    auto client = connect();
    auto reply = ask(client, {{"op", "register"}, {"function", "alpha"}, {"cgroup_path", "/etc"}});
    ASSERT_TRUE(reply);
    EXPECT_EQ((*reply)["type"], "error");
    ASSERT_TRUE(reply->contains("reason"));
    const std::string reason = (*reply)["reason"];
    StatusCounters counters;
    service_->add_status_counters(counters);
    EXPECT_EQ(counters.daemon.registrations_refused, 1u);
    EXPECT_EQ(counters.control.register_refused[reason], 1u);
    EXPECT_EQ(counters.control.admin_group, "wheel");
    reply = ask(client, {{"op", "register"}, {"function", "nobody"}});
    ASSERT_TRUE(reply);
    EXPECT_EQ((*reply)["error"], "no policy for function \"nobody\" in " + rules_.string());
}

// The replies' wire form, byte for byte, as the JSON-literal handlers wrote
// them before the typed protocol (captured from that code).
TEST_F(Control, RepliesKeepTheirWireForm) {
    auto client = connect();
    const std::string version = policies_.set()->version;
    auto dumped = [&](const json& request) {
        auto reply = ask(client, request);
        return reply ? reply->dump() : std::string("no reply");
    };
    EXPECT_EQ(dumped({{"op", "policy"}, {"function", "alpha"}}),
              R"({"file":")" + (rules_ / "alpha.yaml").string() +
                  R"(","function":"alpha","mode":"enforce","name":"alpha-policy","type":"policy","version":")" +
                  version + R"("})");
    EXPECT_EQ(dumped({{"op", "unregister"}, {"cgroup_id", 42}}), R"({"cgroup_id":42,"type":"unregistered"})");
    EXPECT_EQ(dumped({{"op", "trace"}}), R"({"type":"subscribed"})");
    EXPECT_EQ(dumped({{"op", "reload"}}), R"({"errors":[],"ok":true,"type":"reloaded","version":")" + version + R"("})");
    EXPECT_EQ(dumped({{"op", "policy"}, {"function", 7}}),
              R"({"error":"bad request: [json.exception.type_error.302] type must be string, but is number","type":"error"})");
    const std::string refused = dumped({{"op", "register"}, {"function", "alpha"}, {"cgroup_path", "/etc"}});
    EXPECT_EQ(refused.rfind(R"({"error":"register refused: )", 0), 0u) << refused;
    EXPECT_NE(refused.find(R"(","reason":")"), std::string::npos) << refused;
    const std::string tail = R"(","type":"error"})";
    ASSERT_GE(refused.size(), tail.size());
    EXPECT_EQ(refused.substr(refused.size() - tail.size()), tail) << refused;
}

// Who may send an event is answered before what was sent: a client with no
// registration hears that, whatever its event looks like.
TEST_F(Control, AnUnregisteredClientsMalformedEventIsRefusedForTheClient) {
    auto client = connect();
    for (const json& request : {json{{"op", "event"}, {"event", 5}}, json{{"op", "event"}}}) {
        auto reply = ask(client, request);
        ASSERT_TRUE(reply);
        EXPECT_EQ((*reply)["error"], "event from a client with no registered function") << request.dump();
    }
}

}  // namespace
}  // namespace fnw

namespace fnw {
namespace {

// A launcher whose pinned daemon restarted registers its running function's
// cgroup again (docs/daemon.md, "Launched functions across a restart").

TEST_F(Control, AResumeTakesBackTheAdoptedEntryAsTheKernelHasIt) {
    left_by_the_earlier_daemon("alpha-1-0", 77, "alpha");
    adopt_the_kernels_entries();
    const fnw_cgroup_entry before = maps_.cgroups.at(77);
    const int writes = maps_.calls["monitor_cgroup"];
    auto client = connect();
    auto reply = ask(client, register_request("alpha", "alpha-1-0", /*resume=*/true));
    ASSERT_TRUE(reply);
    ASSERT_EQ((*reply)["type"], "registered") << reply->dump();
    EXPECT_EQ((*reply)["cgroup_id"], 77);
    EXPECT_EQ((*reply)["pinned"], true);
    // Not rewritten: ARM_ON_EXEC again would leave the running function
    // unchecked until its next exec.
    EXPECT_EQ(maps_.calls["monitor_cgroup"], writes);
    EXPECT_EQ(maps_.cgroups.at(77).flags, before.flags);
    EXPECT_EQ(maps_.cgroups.at(77).policy_id, before.policy_id);
    ASSERT_TRUE(registrations_.find(77));
    EXPECT_EQ(registrations_.find(77)->function, "alpha");
    // Once resumed it is a registration like any other: a second resume, by
    // anyone, is refused.
    auto other = connect();
    reply = ask(other, register_request("alpha", "alpha-1-0", /*resume=*/true));
    ASSERT_TRUE(reply);
    EXPECT_EQ((*reply)["reason"], "monitored") << reply->dump();
}

TEST_F(Control, AnAdoptedEntryIsStillRefusedToAFirstRegistration) {
    left_by_the_earlier_daemon("alpha-1-0", 77, "alpha");
    adopt_the_kernels_entries();
    auto client = connect();
    auto reply = ask(client, register_request("alpha", "alpha-1-0", /*resume=*/false));
    ASSERT_TRUE(reply);
    EXPECT_EQ((*reply)["reason"], "monitored") << reply->dump();
    EXPECT_FALSE(registrations_.find(77));
}

TEST_F(Control, AResumeUnderAnotherFunctionIsRefused) {
    write_policy(rules_, "beta", "audit");
    ASSERT_TRUE(reload("beta added"));
    left_by_the_earlier_daemon("alpha-1-0", 77, "alpha");
    adopt_the_kernels_entries();
    auto client = connect();
    // beta's policy is audit: resuming alpha's enforced cgroup under it
    // would weaken the guard.
    auto reply = ask(client, register_request("beta", "alpha-1-0", /*resume=*/true));
    ASSERT_TRUE(reply);
    EXPECT_EQ((*reply)["reason"], "monitored") << reply->dump();
    EXPECT_EQ(maps_.cgroups.at(77).policy_id, *policies_.table().slot_of("alpha"));
}

TEST_F(Control, AResumeOfAnEntryNotAdoptedForThatFunctionIsRefused) {
    write_policy(rules_, "beta", "audit");
    ASSERT_TRUE(reload("beta added"));
    left_by_the_earlier_daemon("alpha-1-0", 77, "alpha");
    // Inherited from a monitored parent: no launcher wrote it.
    left_by_the_earlier_daemon("alpha-1-2", 79, "alpha", FNW_CGROUP_INHERITED);
    adopt_the_kernels_entries();
    // Adopted for alpha, but pointing at beta's slot by now.
    maps_.cgroups.at(77).policy_id = *policies_.table().slot_of("beta");
    // Written after the adoption: no earlier daemon's.
    left_by_the_earlier_daemon("alpha-1-1", 78, "alpha");
    auto client = connect();
    for (const char* leaf : {"alpha-1-0", "alpha-1-1", "alpha-1-2"}) {
        auto reply = ask(client, register_request("alpha", leaf, /*resume=*/true));
        ASSERT_TRUE(reply);
        EXPECT_EQ((*reply)["reason"], "monitored") << leaf << ": " << reply->dump();
    }
    EXPECT_TRUE(registrations_.all().empty());
}

TEST_F(Control, AResumeWithNothingLeftInTheKernelIsRefused) {
    // The pins were removed (fnwarden unload) while no daemon ran: the
    // function ran unguarded, and its launcher must hear so.
    left_by_the_earlier_daemon("alpha-1-0", 77, "alpha");
    adopt_the_kernels_entries();
    maps_.cgroups.erase(77);
    auto client = connect();
    auto reply = ask(client, register_request("alpha", "alpha-1-0", /*resume=*/true));
    ASSERT_TRUE(reply);
    EXPECT_EQ((*reply)["reason"], "resume") << reply->dump();
    EXPECT_FALSE(maps_.cgroups.count(77));
    StatusCounters counters;
    service_->add_status_counters(counters);
    EXPECT_EQ(counters.control.register_refused["resume"], 1u);
}

TEST_F(Control, AResumeStillPassesTheOtherChecks) {
    left_by_the_earlier_daemon("alpha-1-0", 77, "alpha");
    adopt_the_kernels_entries();
    auto client = connect();
    json request = register_request("alpha", "alpha-1-0", /*resume=*/true);
    request["cgroup_id"] = 78;
    auto reply = ask(client, request);
    ASSERT_TRUE(reply);
    EXPECT_EQ((*reply)["reason"], "cgroup_id") << reply->dump();
    request = register_request("alpha", "alpha-1-0", /*resume=*/true);
    request["cgroup_path"] = (temp_.path() / "cgroup" / "elsewhere" / "alpha-1-0").string();
    reply = ask(client, request);
    ASSERT_TRUE(reply);
    EXPECT_EQ((*reply)["reason"], "path") << reply->dump();
    EXPECT_FALSE(registrations_.find(77));
}

TEST_F(Control, AFirstRegistrationIsArmedOnExecAndSaysWhetherPinned) {
    cgroups_["alpha-1-0"] = 77;
    pinned_ = false;
    auto client = connect();
    auto reply = ask(client, register_request("alpha", "alpha-1-0", /*resume=*/false));
    ASSERT_TRUE(reply);
    ASSERT_EQ((*reply)["type"], "registered") << reply->dump();
    EXPECT_EQ((*reply)["pinned"], false);
    EXPECT_EQ(maps_.cgroups.at(77).flags, uint32_t{FNW_CGROUP_ARM_ON_EXEC});
    EXPECT_EQ(maps_.cgroups.at(77).policy_id, *policies_.table().slot_of("alpha"));
}

// fnwarden-runtime's op (daemon/control_container.cpp): containers are
// named by the annotation's function and registered anywhere below the
// cgroup2 mount, armed past the container's init, for no connection.
TEST_F(Control, ContainerOpNamesTheAnnotatedFunctionAndRefusesAnUnknownOne) {
    service_->set_cgroup2_root(temp_.path() / "cgroup");
    ControlClient client = connect();
    const std::string path = (temp_.path() / "cgroup" / "kubepods" / "abc").string();
    auto reply = ask(client, {{"op", "container"}, {"id", "abc"}, {"function", "alpha"}, {"cgroup_path", path}});
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->value("type", ""), "container");
    EXPECT_EQ(reply->value("function", ""), "alpha");
    EXPECT_EQ(reply->value("mode", ""), "enforce");
    EXPECT_EQ(reply->value("cgroup_id", uint64_t{1}), 0u);  // not asked to register
    reply = ask(client, {{"op", "container"}, {"id", "abc"}, {"function", "nope"}, {"cgroup_path", path}});
    ASSERT_TRUE(reply);
    EXPECT_NE(reply->value("error", "").find("no policy for function \"nope\""), std::string::npos) << reply->dump();
    // No annotation, and no cgroupPath selector takes the path: no policy.
    reply = ask(client, {{"op", "container"}, {"id", "abc"}, {"cgroup_path", path}});
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->value("type", ""), "container");
    EXPECT_EQ(reply->value("function", "x"), "");
    reply = ask(client, {{"op", "container"}, {"id", "abc"}, {"cgroup_path", "/elsewhere/abc"}});
    ASSERT_TRUE(reply);
    EXPECT_NE(reply->value("error", "").find("not below the cgroup2 mount"), std::string::npos) << reply->dump();
}

TEST_F(Control, ContainerRegistrationIsArmedPastTheInitAndOutlivesTheConnection) {
    service_->set_cgroup2_root(temp_.path() / "cgroup");
    cgroups_["abc"] = 91;
    const json request = {{"op", "container"},       {"id", "abc"},      {"function", "alpha"},
                          {"cgroup_path", (temp_.path() / "cgroup" / "kubepods" / "abc").string()},
                          {"register", true},        {"landlock", true}};
    {
        ControlClient client = connect();
        auto reply = ask(client, request);
        ASSERT_TRUE(reply);
        EXPECT_EQ(reply->value("cgroup_id", uint64_t{0}), 91u) << reply->dump();
        ASSERT_TRUE(maps_.cgroups.count(91));
        EXPECT_EQ(maps_.cgroups.at(91).flags,
                  uint32_t{FNW_CGROUP_ARM_ON_EXEC | FNW_CGROUP_ARM_SKIP_EXEC | FNW_CGROUP_LANDLOCK});
        EXPECT_EQ(maps_.cgroups.at(91).policy_id, *policies_.table().slot_of("alpha"));
        reply = ask(client, request);
        ASSERT_TRUE(reply);
        EXPECT_NE(reply->value("error", "").find("registered already"), std::string::npos) << reply->dump();
    }
    ControlClient other = connect();
    ASSERT_TRUE(ask(other, {{"op", "policy"}, {"function", "alpha"}}));  // the first hang-up is handled
    EXPECT_TRUE(registrations_.contains(91));
    EXPECT_TRUE(maps_.cgroups.count(91));
}

TEST_F(Control, ContainerOpResolvesAPodByItsSelector) {
    service_->set_cgroup2_root(temp_.path() / "cgroup");
    std::ofstream(rules_ / "thumb.yaml") << "apiVersion: fnwarden.io/v1\nkind: FunctionPolicy\nmetadata:\n"
                                            "  name: thumb-policy\nspec:\n  mode: enforce\n  selector:\n"
                                            "    function: thumbnailer\n    pod:\n      namespace: media\n"
                                            "      labels: {app: thumb}\n";
    ASSERT_TRUE(reload("test"));
    PodInfo thumb{"uid-1", "media", "thumb-1", "node", {{"app", "thumb"}}, {}, "", {}};
    PodInfo plain{"uid-2", "media", "plain-1", "node", {}, {}, "", {}};
    identifier_.set_pods(PodLookup{[](std::string_view) { return std::optional<PodInfo>(); },
                                   [](std::string_view) { return std::optional<PodInfo>(); },
                                   [&](std::string_view ns, std::string_view name) -> std::optional<PodInfo> {
                                       if (ns == "media" && name == "thumb-1") return thumb;
                                       if (ns == "media" && name == "plain-1") return plain;
                                       return std::nullopt;
                                   }});
    ControlClient client = connect();
    auto container_of = [&](const std::string& pod) {
        return ask(client, {{"op", "container"}, {"id", "c"}, {"namespace", "media"}, {"pod", pod},
                            {"cgroup_path", (temp_.path() / "cgroup" / "kubepods" / "c").string()}});
    };
    auto reply = container_of("thumb-1");
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->value("function", ""), "thumbnailer") << reply->dump();
    reply = container_of("plain-1");
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->value("type", ""), "container");
    EXPECT_EQ(reply->value("function", "x"), "");
    reply = container_of("unknown-1");  // refused: the kubelet tries again once the watcher has it
    ASSERT_TRUE(reply);
    EXPECT_NE(reply->value("error", "").find("not known to the daemon yet"), std::string::npos) << reply->dump();
}

}  // namespace
}  // namespace fnw
