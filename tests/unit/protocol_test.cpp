// SPDX-License-Identifier: Apache-2.0
// The typed control protocol (control/protocol.hpp): every request and reply
// survives a round trip, a status reply captured from the daemon reads and
// writes back byte for byte, and malformed input is an error, never a throw.
#include "control/protocol.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "cli/tables.hpp"
#include "fakes/control_fixtures.hpp"

using nlohmann::json;

namespace fnw {
namespace {

std::string read_fixture(const std::string& name) { return testing::read_control_fixture(name); }

std::vector<ControlRequest> every_request() {
    return {StatusRequest{},
            PolicyRequest{"hello-fn"},
            RegisterRequest{"hello-fn", 4242, "/sys/fs/cgroup/fnwarden/hello-fn-1-1", 777, true, true},
            RegisterRequest{"hello-fn", std::nullopt, "", 0, false, false},
            RegisterRequest{"hello-fn", 4242, "/sys/fs/cgroup/fnwarden/hello-fn-1-1", 777, false, false, true},
            UnregisterRequest{4242},
            EventRequest{json{{"type", "syscall"}, {"verdict", "violation"}}},
            TraceRequest{{"a", "b"}, {"syscall", "net"}, true},
            ReloadRequest{},
            PolicyReportRequest{"hello-fn"}};
}

TEST(ControlProtocol, EveryRequestSurvivesARoundTrip) {
    for (const ControlRequest& request : every_request()) {
        const json sent = request_json(request);
        Result<ControlRequest> parsed = parse_request(sent);
        ASSERT_TRUE(parsed.ok()) << sent.dump() << ": " << parsed.error();
        EXPECT_EQ(parsed->index(), request.index()) << sent.dump();
        EXPECT_EQ(request_json(*parsed), sent);
        EXPECT_EQ(sent.at("op"), op_of(request));
    }
}

TEST(ControlProtocol, RequestsKeepTheirWireFormat) {
    EXPECT_EQ(request_json(StatusRequest{}).dump(), R"({"op":"status"})");
    EXPECT_EQ(request_json(RegisterRequest{"f", 7, "/p", 9, false, true}).dump(),
              R"({"cgroup_id":7,"cgroup_path":"/p","function":"f","landlock":true,"op":"register","pid":9,"trace":false})");
    // "resume" only when resuming: a first registration is what it always was.
    EXPECT_EQ(request_json(RegisterRequest{"f", 7, "/p", 9, false, false, true}).dump(),
              R"({"cgroup_id":7,"cgroup_path":"/p","function":"f","landlock":false,"op":"register","pid":9,"resume":true,"trace":false})");
    EXPECT_EQ(request_json(TraceRequest{{}, {"file"}, false}).dump(),
              R"({"events":["file"],"functions":[],"op":"trace","violations_only":false})");
}

std::vector<ControlReply> every_reply() {
    StatusReply status;
    status.daemon.version = "0.1.0";
    status.kernel.landlock_abi = 7;
    status.counters.kernel.ringbuf_drops = 3;
    status.counters.daemon.records = 5;
    status.counters.webhook = WebhookCounters{1, 2, 3, 4};
    status.kubernetes = KubernetesInfo{};
    status.functions.push_back(FunctionInfo{"f", "p", "/r/f.yaml", "audit", 3, 1, 2, 0, 0, GrantsInfo{8, 10, 2, 12.5}});
    return {ErrorReply{"register refused: no", "path"},
            ErrorReply{"plain", std::nullopt},
            status,
            PolicyReply{"f", "n", "/r/f.yaml", "audit", "abc", "/r/baseline.yaml"},
            PolicyReply{"f", "n", "/r/f.yaml", "enforce", "abc", std::nullopt},
            RegisteredReply{4242, 3, "p", "enforce"},
            RegisteredReply{4242, 3, "p", "enforce", true},
            UnregisteredReply{4242},
            SubscribedReply{},
            ReloadedReply{false, "v2", {"x.yaml:1:1: bad"}},
            EventMessage{json{{"type", "file"}}},
            DroppedNotice{12},
            PolicyReportReply{json{{"function", "f"}, {"grants", json::array()}}}};
}

TEST(ControlProtocol, EveryReplySurvivesARoundTrip) {
    for (const ControlReply& reply : every_reply()) {
        const json sent = reply_json(reply);
        Result<ControlReply> parsed = parse_reply(sent);
        ASSERT_TRUE(parsed.ok()) << sent.dump() << ": " << parsed.error();
        EXPECT_EQ(parsed->index(), reply.index()) << sent.dump();
        EXPECT_EQ(reply_json(*parsed), sent);
    }
}

TEST(ControlProtocol, ExpectReplyTurnsAnErrorReplyIntoItsMessage) {
    Result<RegisteredReply> refused = expect_reply<RegisteredReply>(reply_json(ErrorReply{"register refused: x", "path"}));
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error(), "register refused: x");
    EXPECT_FALSE(expect_reply<StatusReply>(reply_json(SubscribedReply{})).ok());
    EXPECT_EQ(expect_reply<RegisteredReply>(reply_json(RegisteredReply{1, 2, "p", "audit"}))->policy_id, 2u);
    EXPECT_TRUE(expect_reply<RegisteredReply>(reply_json(RegisteredReply{1, 2, "p", "audit", true}))->pinned);
    // A daemon from before "pinned": not pinned, so the launcher keeps today's hang-up behaviour.
    EXPECT_FALSE(expect_reply<RegisteredReply>(json{{"type", "registered"}, {"cgroup_id", 1}, {"policy_id", 2}})->pinned);
}

// The daemon's status, captured (status_real.json: `fnwarden status -o json`
// against a running daemon) and with every optional part filled in
// (status_enriched.json), reads into StatusReply and writes back identically.
TEST(ControlProtocol, CapturedStatusReadsAndWritesBackByteForByte) {
    for (const char* name : {"status_real.json", "status_enriched.json"}) {
        const std::string text = read_fixture(name);
        ASSERT_FALSE(text.empty()) << name;
        const json captured = json::parse(text);
        Result<StatusReply> status = expect_reply<StatusReply>(captured);
        ASSERT_TRUE(status.ok()) << name << ": " << status.error();
        EXPECT_EQ(reply_json(*status).dump(2) + "\n", text) << name;
    }
}

// Same output as the untyped table printer gave for the same replies
// (the .txt files were printed by it, before the protocol was typed).
TEST(ControlProtocol, StatusTableFromTheTypedReplyIsUnchanged) {
    for (const std::string name : {"status_real", "status_enriched"}) {
        Result<StatusReply> status = expect_reply<StatusReply>(json::parse(read_fixture(name + ".json")));
        ASSERT_TRUE(status.ok()) << status.error();
        std::ostringstream out;
        cli::print_status_table(*status, out);
        EXPECT_EQ(out.str(), read_fixture(name + ".txt")) << name;
    }
}

TEST(ControlProtocol, MalformedRequestsAreErrorsNotExceptions) {
    const json bad[] = {
        json::array(),
        json("status"),
        json{{"op", 5}},
        json{{"no_op", "status"}},
        json{{"op", "nope"}},
        json{{"op", "policy"}},
        json{{"op", "policy"}, {"function", 3}},
        json{{"op", "register"}},
        json{{"op", "register"}, {"function", "f"}, {"pid", "1"}},
        json{{"op", "register"}, {"function", "f"}, {"cgroup_id", "x"}},
        json{{"op", "register"}, {"function", "f"}, {"trace", "yes"}},
        json{{"op", "unregister"}},
        json{{"op", "unregister"}, {"cgroup_id", json::array()}},
        json{{"op", "event"}},
        json{{"op", "event"}, {"event", json::array()}},
        json{{"op", "trace"}, {"events", {"bogus"}}},
        json{{"op", "trace"}, {"events", {"violation_summary"}}},  // a kind of event, not one a trace asks for
        json{{"op", "trace"}, {"events", {1}}},
        json{{"op", "trace"}, {"functions", {json::object()}}},
        json{{"op", "trace"}, {"violations_only", "no"}},
    };
    for (const json& request : bad) {
        Result<ControlRequest> parsed(Error{});
        EXPECT_NO_THROW(parsed = parse_request(request)) << request.dump();
        EXPECT_FALSE(parsed.ok()) << request.dump();
        EXPECT_FALSE(parsed.error().empty()) << request.dump();
    }
    EXPECT_EQ(parse_request(json{{"op", "nope"}}).error(),
              "unknown op \"nope\" (status, policy, register, unregister, event, trace, reload, container, policy_report)");
    EXPECT_EQ(parse_request(json{{"op", "trace"}, {"events", {"bogus"}}}).error(),
              "unknown event kind \"bogus\" (syscall, file, net, exec)");
    EXPECT_EQ(parse_request(json{{"op", "register"}}).error().rfind("bad request: ", 0), 0u);
}

TEST(ControlProtocol, RequestLinesAreCheckedBeforeTheyAreParsed) {
    EXPECT_TRUE(parse_request_line(R"({"op":"status"})").ok());
    EXPECT_EQ(parse_request_line(R"({"op":"status"},)").error().rfind("invalid JSON: ", 0), 0u);
    EXPECT_EQ(parse_request_line("[1]").error(), "a request must be a JSON object with a string \"op\"");
    EXPECT_EQ(parse_request_line(R"({"op":1})").error(), "a request must be a JSON object with a string \"op\"");
    const std::string deep = R"({"op":"status","x":)" + std::string(kMaxControlRequestDepth, '[') +
                             std::string(kMaxControlRequestDepth, ']') + "}";
    EXPECT_EQ(parse_request_line(deep).error(), "request nested deeper than 64 levels");
    // Brackets inside strings are text, not nesting.
    const std::string text = R"({"op":"status","x":")" + std::string(1000, '[') + "\"}";
    EXPECT_TRUE(parse_request_line(text).ok());
}

TEST(ControlProtocol, MalformedRepliesAreErrorsNotExceptions) {
    const json bad[] = {
        json::array(),
        json{{"type", 1}},
        json{{"type", "weird"}},
        json{{"type", "event"}},
        json{{"type", "status"}, {"daemon", 5}},
        json{{"type", "status"}, {"clients", {{{"pid", "x"}}}}},
        json{{"type", "status"}, {"cgroups", json::object()}},
        json{{"type", "status"}, {"counters", {{"kernel", {{"events", "many"}}}}}},
    };
    for (const json& reply : bad) {
        Result<ControlReply> parsed(Error{});
        EXPECT_NO_THROW(parsed = parse_reply(reply)) << reply.dump();
        EXPECT_FALSE(parsed.ok()) << reply.dump();
    }
}

// A status from another daemon version: missing parts keep their defaults,
// text fields take whatever scalar they get.
TEST(ControlProtocol, StatusRepliesAreReadLeniently) {
    Result<StatusReply> status = expect_reply<StatusReply>(
        json{{"type", "status"}, {"programs_stats", false}, {"kernel", {{"lsm_programs", 0}}}});
    ASSERT_TRUE(status.ok()) << status.error();
    EXPECT_EQ(status->programs_stats, "false");
    EXPECT_EQ(status->kernel.lsm_programs, "0");
    EXPECT_FALSE(status->kubernetes.has_value());
    EXPECT_EQ(status->counters.kernel.events, 0u);
}

}  // namespace
}  // namespace fnw
