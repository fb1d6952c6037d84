// SPDX-License-Identifier: Apache-2.0
#include "cli/tables.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

using nlohmann::json;

namespace fnw::cli {
namespace {

// A cgroup path, a pod label or a client's function name: all chosen by
// whoever runs the function.
const std::string kHostile = std::string("evil\x1b[2J\rforged\x9b") + "31m";

// What a terminal would act on: C0 controls but the row's own newline, DEL,
// C1 controls as raw bytes or UTF-8.
bool acts_on_terminal(const std::string& text) {
    for (unsigned char c : text)
        if ((c < 0x20 && c != '\n') || c == 0x7f || (c >= 0x80 && c <= 0x9f)) return true;
    return text.find("\xc2\x9b") != std::string::npos;
}

TEST(CliTables, TraceRowPrintsHostileNamesEscaped) {
    const json event = {{"type", "file"},         {"time", "2026-01-01T00:00:00.000000000Z"},
                        {"function", kHostile},  {"pid", 42},
                        {"comm", kHostile},       {"verdict", "violation"},
                        {"action", "kill"},       {"file", {{"op", "open"}, {"path", "/tmp/\x1b]0;title\x07"}}}};
    std::ostringstream out;
    print_trace_row(event, /*color=*/false, out);
    EXPECT_FALSE(acts_on_terminal(out.str())) << out.str();
    // Cut to the FUNCTION column's width (a stream cannot widen it).
    EXPECT_NE(out.str().find("evil\\x1b[2J\\x0dforge"), std::string::npos) << out.str();
}

TEST(CliTables, ASummaryRowReadsAsTheViolationItRepeatsTimesN) {
    const json event = {{"type", "violation_summary"},
                        {"time", "2026-12-05T01:32:18.677710816Z"},
                        {"function", "fn-loop"},
                        {"verdict", "violation"},
                        {"repeats", 19999},
                        {"of", {{"type", "syscall"}, {"syscall", {{"name", "getpgid"}, {"nr", 121}}}}}};
    std::ostringstream out;
    print_trace_row(event, /*color=*/false, out);
    EXPECT_NE(out.str().find("getpgid"), std::string::npos) << out.str();
    EXPECT_NE(out.str().find("syscall"), std::string::npos) << out.str();
    EXPECT_NE(out.str().find("VIOLATION x19999 more"), std::string::npos) << out.str();

    const json net = {{"type", "violation_summary"}, {"verdict", "violation"}, {"repeats", 3},
                      {"of", {{"type", "network"}, {"net", {{"op", "connect"}, {"protocol", "tcp"}, {"port", 443}}}}}};
    out.str("");
    print_trace_row(net, false, out);
    EXPECT_NE(out.str().find("connect :443/tcp"), std::string::npos) << out.str();
    EXPECT_NE(out.str().find("net"), std::string::npos) << out.str();
}

// The EVENT column is the kind `trace --events` filters on, parsed once
// from the JSON with the mapping the daemon's filter uses.
TEST(CliTables, TheEventColumnIsTheKindTheTraceFilterUses) {
    auto row = [](json event) {
        event["time"] = "2026-12-05T01:32:18.677710816Z";
        event["comm"] = "c";
        std::ostringstream out;
        print_trace_row(event, /*color=*/false, out);
        return out.str();
    };
    const json file = {{"op", "execve"}, {"path", "/usr/bin/x"}};
    EXPECT_NE(row({{"type", "file"}, {"rule", "exec.allow"}, {"file", file}}).find("c               exec     execve /usr/bin/x"),
              std::string::npos);
    EXPECT_NE(row({{"type", "file"}, {"rule", "files.read"}, {"file", file}}).find("c               file     execve"),
              std::string::npos);
    const json net = {{"op", "connect"}, {"daddr", "10.0.0.1"}, {"dport", 443}, {"protocol", "tcp"}};
    EXPECT_NE(row({{"type", "network"}, {"net", net}}).find("c               net      connect 10.0.0.1:443/tcp"),
              std::string::npos);
    EXPECT_NE(row({{"type", "syscall"}, {"syscall", {{"name", "mkdir"}}}}).find("c               syscall  mkdir"),
              std::string::npos);
    // A type this CLI does not know (a newer daemon): shown as it came.
    EXPECT_NE(row({{"type", "bogus"}}).find("c               bogus    "), std::string::npos) << row({{"type", "bogus"}});
}

TEST(CliTables, StatusTablePrintsHostileNamesEscaped) {
    const json status = {
        {"daemon", {{"version", "0.1"}, {"pid", 1}, {"uptime_seconds", 5}, {"mode", "audit"}, {"rules", "/r"},
                    {"output", "stdout"}, {"webhook", ""}, {"metrics", ""}, {"socket", "/s"}}},
        {"policy_set", {{"version", "v1"}, {"loaded_at", "t"}, {"reloads_ok", 1}, {"reloads_failed", 1},
                        {"last_reload", {{"result", "error"}, {"time", "t"}, {"errors", {kHostile}}}}}},
        {"kernel", {{"release", "6.18"}, {"seccomp_user_notif", true}, {"landlock_abi", 4}, {"lsm_programs", 0}}},
        {"enforcement", json::array()},
        {"functions", {{{"function", kHostile}, {"policy", kHostile}, {"mode", "audit"}, {"cgroups", 1},
                        {"events", 2}, {"violations", 3}, {"file", kHostile}}}},
        {"cgroups", {{{"cgroup_id", 7}, {"function", kHostile}, {"policy_id", 1}, {"flags", {kHostile}},
                      {"path", "faas/" + kHostile}}}},
        {"programs", json::array()},
        {"programs_stats", false},
        {"counters", {{"kernel", json::object()}, {"daemon", json::object()}}},
        {"clients", json::array()}};
    std::ostringstream out;
    print_status_table(status, out);
    EXPECT_FALSE(acts_on_terminal(out.str())) << out.str();
    EXPECT_NE(out.str().find("evil\\x1b[2J"), std::string::npos) << out.str();
}

TEST(CliTables, TopRowPrintsHostileNamesEscaped) {
    std::ostringstream out;
    print_top_table({TopRow{kHostile, "1", "0.0", "0.0", 1, 0}}, out);
    EXPECT_FALSE(acts_on_terminal(out.str())) << out.str();
    EXPECT_NE(out.str().find("evil\\x1b[2J\\x0dforged\\x9b31m"), std::string::npos) << out.str();
}

}  // namespace
}  // namespace fnw::cli
