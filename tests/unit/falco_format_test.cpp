// SPDX-License-Identifier: Apache-2.0
// --output-format falco: Falco's JSON output schema, as falcosidekick
// decodes it (falcosidekick_payload.hpp).
#include "output/falco_format.hpp"

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <fnwarden/events.h>

#include "falcosidekick_payload.hpp"
#include "output/event_json.hpp"
#include "output/event_stamp.hpp"

namespace fnw {
namespace {

using json = nlohmann::json;

json stamped(json event) {
    event["time"] = "2026-12-05T12:00:01.000000123Z";
    event["function"] = "web";
    event["policy"] = "web-policy";
    event["mode"] = "enforce";
    event["cgroup_id"] = 4242;
    stamp_event(event);
    return event;
}

json exec_violation() {
    return stamped({{"type", "file"},
                    {"pid", 100},
                    {"tid", 101},
                    {"ppid", 99},
                    {"comm", "sh"},
                    {"exe", "/usr/bin/dash"},
                    {"file", {{"op", "exec"}, {"path", "/usr/bin/curl"}, {"raw_path", "curl"}}},
                    {"exec", {{"argv", {"curl", "http://x"}}}},
                    {"verdict", "violation"},
                    {"action", "killed"},
                    {"mechanism", "sigkill"},
                    {"rule", "exec.allow"},
                    {"k8s", {{"namespace", "shop"}, {"pod", "web-1"}, {"container_id", "abc123"}}}});
}

json connect_violation() {
    return stamped({{"type", "network"},
                    {"pid", 7},
                    {"comm", "node"},
                    {"net", {{"op", "connect"}, {"family", "ipv4"}, {"protocol", "tcp"}, {"daddr", "10.1.2.3"},
                             {"dport", 443}}},
                    {"verdict", "violation"},
                    {"action", "reported"},
                    {"mechanism", "none"},
                    {"rule", "network.egress"}});
}

TEST(FalcoFormat, HasEveryKeyOfFalcosOutputWithFalcosTypes) {
    const json native = exec_violation();
    const json falco = to_falco(native);
    EXPECT_EQ(test::falcosidekick_rejects(falco), "") << falco.dump();
    EXPECT_EQ(falco["rule"], "fnwarden exec.allow");
    EXPECT_EQ(falco["priority"], "Critical");
    EXPECT_EQ(falco["time"], native["time"]);
    EXPECT_EQ(falco["hostname"], event_host());
    EXPECT_EQ(falco["source"], "fnwarden");
    EXPECT_EQ(falco["tags"], json({"fnwarden", "file", "enforce", "killed", "exec.allow"}));
    std::set<std::string> keys;
    for (const auto& [key, value] : falco.items()) keys.insert(key);
    EXPECT_EQ(keys, (std::set<std::string>{"rule", "priority", "output", "output_fields", "time", "hostname",
                                           "source", "tags"}));
}

TEST(FalcoFormat, OutputIsOneLineStartingLikeFalcos) {
    const std::string output = to_falco(exec_violation())["output"];
    EXPECT_EQ(output,
              "12:00:01.000000123: Critical exec of /usr/bin/curl violates exec.allow: killed by sigkill "
              "(function=web policy=web-policy mode=enforce pid=100 comm=sh k8s.ns=shop k8s.pod=web-1)");
}

TEST(FalcoFormat, OutputFieldsAreFlatWithFalcosNames) {
    const json fields = to_falco(exec_violation())["output_fields"];
    for (const auto& [key, value] : fields.items()) EXPECT_FALSE(value.is_structured()) << key;
    EXPECT_EQ(fields["fnwarden.policy"], "web-policy");
    EXPECT_EQ(fields["fnwarden.function"], "web");
    EXPECT_EQ(fields["fnwarden.rule"], "exec.allow");
    EXPECT_EQ(fields["fnwarden.action"], "killed");
    EXPECT_EQ(fields["fnwarden.severity"], "critical");
    EXPECT_TRUE(fields["fnwarden.id"].is_string());
    EXPECT_EQ(fields["proc.pid"], 100);
    EXPECT_EQ(fields["thread.tid"], 101);
    EXPECT_EQ(fields["proc.ppid"], 99);
    EXPECT_EQ(fields["proc.name"], "sh");
    EXPECT_EQ(fields["proc.exepath"], "/usr/bin/dash");
    EXPECT_EQ(fields["proc.cmdline"], "curl http://x");
    EXPECT_EQ(fields["fd.name"], "/usr/bin/curl");
    EXPECT_EQ(fields["evt.type"], "exec");
    EXPECT_EQ(fields["k8s.ns.name"], "shop");
    EXPECT_EQ(fields["k8s.pod.name"], "web-1");
    EXPECT_EQ(fields["container.id"], "abc123");
}

TEST(FalcoFormat, NetworkEventsUseFalcosSocketFields) {
    const json falco = to_falco(connect_violation());
    EXPECT_EQ(test::falcosidekick_rejects(falco), "");
    const json& fields = falco["output_fields"];
    EXPECT_EQ(fields["fd.sip"], "10.1.2.3");
    EXPECT_EQ(fields["fd.sport"], 443);
    EXPECT_EQ(fields["fd.rip"], "10.1.2.3");
    EXPECT_EQ(fields["fd.l4proto"], "tcp");
    EXPECT_EQ(fields["fd.type"], "ipv4");
    EXPECT_EQ(fields["evt.type"], "connect");
    EXPECT_FALSE(fields.contains("k8s.ns.name"));  // not known: absent, never null
    EXPECT_EQ(falco["priority"], "Warning");
    EXPECT_EQ(falco["output"],
              "12:00:01.000000123: Warning connect to 10.1.2.3:443/tcp violates network.egress: reported "
              "(function=web policy=web-policy mode=enforce pid=7 comm=node)");
}

TEST(FalcoFormat, EveryKindOfRecordIsAcceptedByFalcosidekick) {
    fnw_syscall_event syscall{};
    syscall.hdr.type = FNW_EVENT_SYSCALL;
    syscall.hdr.size = sizeof(syscall);
    syscall.hdr.pid = 5;
    std::memcpy(syscall.hdr.comm, "a", 2);
    syscall.nr = 101;
    const WallClock clock(1'764'000'000'000'000'000);
    const EventContext ctx{"f", "p", Mode::Audit};
    for (uint8_t verdict : {uint8_t{FNW_VERDICT_ALLOWED}, uint8_t{FNW_VERDICT_VIOLATION}}) {
        syscall.verdict = verdict;
        syscall.rule = FNW_RULE_PROCESS_PTRACE;
        const auto native = to_json(Record(syscall), ctx, clock);
        ASSERT_TRUE(native);
        const json falco = to_falco(*native);
        EXPECT_EQ(test::falcosidekick_rejects(falco), "") << falco.dump();
        EXPECT_EQ(falco["priority"], verdict == FNW_VERDICT_ALLOWED ? "Informational" : "Error") << falco.dump();
    }
    fnw_violation_summary_event summary{};
    summary.hdr.type = FNW_EVENT_VIOLATION_SUMMARY;
    summary.hdr.size = sizeof(summary);
    summary.repeats = 3;
    summary.what = 83;
    const auto native = to_json(Record(summary), ctx, clock);
    ASSERT_TRUE(native);
    const json falco = to_falco(*native);
    EXPECT_EQ(test::falcosidekick_rejects(falco), "") << falco.dump();
    EXPECT_EQ(falco["rule"], "fnwarden repeated syscall");
}

TEST(FalcoFormat, TheReceiverCheckRejectsWhatFalcosidekickRejects) {
    // The check in this test is only worth something if it can say no.
    json good = to_falco(exec_violation());
    ASSERT_EQ(test::falcosidekick_rejects(good), "");
    json bad = good;
    bad["time"] = "2026-12-05 12:00:01";
    EXPECT_NE(test::falcosidekick_rejects(bad), "");
    bad = good;
    bad["priority"] = "critical-ish";
    EXPECT_NE(test::falcosidekick_rejects(bad), "");
    bad = good;
    bad["output_fields"]["k8s.pod.name"] = 3;
    EXPECT_NE(test::falcosidekick_rejects(bad), "");
    bad = good;
    bad["tags"] = json::array({1});
    EXPECT_NE(test::falcosidekick_rejects(bad), "");
    EXPECT_NE(test::falcosidekick_rejects(json::array({good})), "");  // one object per POST
}

class RecordingSink final : public EventSink {
public:
    void write_lines(std::span<const std::string_view> lines) override {
        lines_.insert(lines_.end(), lines.begin(), lines.end());
    }
    void reopen() override { ++reopened_; }
    void idle() override { ++idled_; }
    std::string name() const override { return "recording"; }
    std::vector<std::string>& lines_;
    int& reopened_;
    int& idled_;
    RecordingSink(std::vector<std::string>& lines, int& reopened, int& idled)
        : lines_(lines), reopened_(reopened), idled_(idled) {}
};

TEST(FalcoFormatSink, HandsEveryInnerSinkTheConvertedLines) {
    std::vector<std::string> first, second;
    int reopened = 0, idled = 0;
    std::vector<std::unique_ptr<EventSink>> inner;
    inner.push_back(std::make_unique<RecordingSink>(first, reopened, idled));
    inner.push_back(std::make_unique<RecordingSink>(second, reopened, idled));
    FalcoFormatSink sink(std::move(inner));
    const std::vector<std::string> lines{exec_violation().dump(), "not json", connect_violation().dump()};
    sink.write_batch(lines);
    ASSERT_EQ(first.size(), 2u);
    EXPECT_EQ(first, second);
    EXPECT_EQ(json::parse(first[0])["rule"], "fnwarden exec.allow");
    EXPECT_EQ(json::parse(first[1])["rule"], "fnwarden network.egress");
    EXPECT_EQ(sink.unreadable(), 1u);
    sink.reopen();
    EXPECT_EQ(reopened, 2);
    sink.idle();  // an inner JsonLinesSink writes what it held back only then
    EXPECT_EQ(idled, 2);
}

TEST(OutputFormat, ParsesOnlyItsTwoNames) {
    EXPECT_EQ(output_format_from("json"), OutputFormat::Json);
    EXPECT_EQ(output_format_from("falco"), OutputFormat::Falco);
    EXPECT_FALSE(output_format_from("Falco"));
    EXPECT_FALSE(output_format_from(""));
}

}  // namespace
}  // namespace fnw
