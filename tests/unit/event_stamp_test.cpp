// SPDX-License-Identifier: Apache-2.0
// host, schema_version, id and severity: what lets a pipeline fed by many
// nodes tell events apart and rank them (output/event_stamp.hpp).
#include "output/event_stamp.hpp"

#include <unistd.h>

#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace fnw {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

const std::regex kUuidV7("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");

std::chrono::system_clock::time_point at_ms(int64_t ms) {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

TEST(EventId, IsAVersion7UuidWhoseFirst48BitsAreTheMillisecond) {
    EventIdGenerator ids(0x2aa'aaaa'aaaaULL);
    const std::string id = ids.next(at_ms(0x0123'4567'89abLL));
    EXPECT_TRUE(std::regex_match(id, kUuidV7)) << id;
    EXPECT_EQ(id.substr(0, 13), "01234567-89ab") << id;
}

TEST(EventId, SpellsEveryDigitOfTimeVersionRandomBitsAndSequence) {
    // 48 ms | 7 | 12 random | 10 | 30 random | 32 sequence, the second id (sequence 1).
    EventIdGenerator ids(0x2aa'aaaa'aaaaULL);
    ids.next(at_ms(0x0123'4567'89abLL));
    EXPECT_EQ(ids.next(at_ms(0x0123'4567'89abLL)), "01234567-89ab-7aaa-aaaa-aaaa00000001");
    EventIdGenerator other(0x3ff'ffff'ffffULL);
    EXPECT_EQ(other.next(at_ms(0x019a'bcde'f012LL)), "019abcde-f012-7fff-bfff-ffff00000000");
}

TEST(EventId, NeverRepeatsWithinAProcessEvenInOneMillisecond) {
    EventIdGenerator ids(42);
    std::set<std::string> seen;
    for (int i = 0; i < 10000; ++i) ASSERT_TRUE(seen.insert(ids.next(at_ms(1'764'000'000'000))).second) << i;
}

TEST(EventId, TwoProcessesDrawDifferentBitsSoTheirIdsDiffer) {
    // Two daemons (a restart, another host): same millisecond, same sequence.
    EventIdGenerator first, second;
    EXPECT_NE(first.next(at_ms(5)), second.next(at_ms(5)));
    // And the random part is what makes them differ, not the clock.
    EventIdGenerator a(1), b(2);
    EXPECT_NE(a.next(at_ms(5)), b.next(at_ms(5)));
    EventIdGenerator c(1);
    EXPECT_EQ(EventIdGenerator(1).next(at_ms(5)), c.next(at_ms(5)));
}

TEST(EventId, SortsByTime) {
    EventIdGenerator ids(7);
    const std::string earlier = ids.next(at_ms(1'000));
    const std::string later = ids.next(at_ms(1'001));
    EXPECT_LT(earlier, later);
}

json event(const char* verdict, const char* rule, const char* action, const char* type = "syscall") {
    json j{{"type", type}, {"verdict", verdict}, {"action", action}};
    if (*rule) j["rule"] = rule;
    return j;
}

TEST(Severity, FollowsTheDocumentedTable) {
    struct Row {
        json event;
        Severity expected;
    };
    const Row rows[] = {
        {event("violation", "process.ptrace", "killed"), Severity::Critical},
        {event("violation", "exec.allow", "denied", "file"), Severity::Critical},
        {event("violation", "exec.sha256", "reported", "file"), Severity::Error},
        {event("violation", "process.bpf", "reported"), Severity::Error},
        {event("violation", "syscalls.allow", "killed"), Severity::Error},
        {event("violation", "files.write", "denied", "file"), Severity::Error},
        {event("violation", "network.egress", "reported", "network"), Severity::Warning},
        {event("violation", "", "", "violation_summary"), Severity::Warning},
        {event("undecided", "", "none", "file"), Severity::Notice},
        {event("allowed", "", "none"), Severity::Informational},
    };
    for (const Row& row : rows) EXPECT_EQ(severity_of(row.event), row.expected) << row.event.dump();
}

TEST(Severity, NamesAndSyslogPrioritiesShareOneScale) {
    EXPECT_EQ(to_string(Severity::Critical), "critical");
    EXPECT_EQ(syslog_priority(Severity::Critical), 2);
    EXPECT_EQ(to_string(Severity::Informational), "informational");
    EXPECT_EQ(syslog_priority(Severity::Informational), 6);
    EXPECT_EQ(syslog_priority(Severity::Warning), 4);
}

TEST(StampEvent, OverwritesWhatAClientClaimed) {
    // A launcher's event passes through the daemon: its host and id are the daemon's.
    json forged = event("violation", "process.ptrace", "killed");
    forged["host"] = "elsewhere";
    forged["id"] = "00000000-0000-7000-8000-000000000000";
    forged["severity"] = "informational";
    forged["schema_version"] = 99;
    stamp_event(forged);
    EXPECT_EQ(forged["host"], event_host());
    EXPECT_NE(forged["id"], "00000000-0000-7000-8000-000000000000");
    EXPECT_TRUE(std::regex_match(forged["id"].get<std::string>(), kUuidV7));
    EXPECT_EQ(forged["severity"], "critical");
    EXPECT_EQ(forged["schema_version"], kEventSchemaVersion);
    EXPECT_FALSE(event_host().empty());
}

TEST(EventHost, IsNodeNameWhenSetElseTheHostname) {
    char hostname[256] = {};
    ASSERT_EQ(::gethostname(hostname, sizeof(hostname) - 1), 0);
    EXPECT_EQ(event_host_from("node-7"), "node-7");
    EXPECT_EQ(event_host_from(nullptr), hostname);
    EXPECT_EQ(event_host_from(""), hostname);  // set but empty: as if unset
}

}  // namespace
}  // namespace fnw
