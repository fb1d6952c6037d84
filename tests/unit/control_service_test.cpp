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

    test::TempDir temp_;
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
                            {"error", "unknown op \"dance\" (status, policy, register, unregister, event, trace, reload)"}}));
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
