// SPDX-License-Identifier: Apache-2.0
// Events as structured journal entries (output/journal_sink.hpp), against a
// fake journal: PID 1 here is not systemd.
#include "output/journal_sink.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "output/event_stamp.hpp"

namespace fnw {
namespace {

using json = nlohmann::json;

struct FakeJournal final : JournalWriter {
    explicit FakeJournal(std::vector<std::map<std::string, std::string>>& entries, int result = 0)
        : entries_(entries), result_(result) {}
    int send(std::span<const std::string> fields) override {
        std::map<std::string, std::string> entry;
        for (const std::string& field : fields) {
            const size_t eq = field.find('=');
            EXPECT_NE(eq, std::string::npos) << field;
            EXPECT_TRUE(entry.emplace(field.substr(0, eq), field.substr(eq + 1)).second) << "twice: " << field;
        }
        entries_.push_back(std::move(entry));
        return result_;
    }
    std::vector<std::map<std::string, std::string>>& entries_;
    int result_;
};

json ptrace_kill() {
    json event{{"type", "syscall"},        {"time", "2026-12-05T12:00:00.000000001Z"},
               {"function", "web"},        {"policy", "web-policy"},
               {"mode", "enforce"},        {"cgroup_id", 4242},
               {"pid", 100},               {"tid", 101},
               {"comm", "gdb"},            {"syscall", {{"name", "ptrace"}, {"nr", 101}}},
               {"verdict", "violation"},   {"action", "killed"},
               {"mechanism", "sigkill"},   {"rule", "process.ptrace"},
               {"k8s", {{"namespace", "shop"}, {"pod", "web-1"}, {"container_id", "abc"}}}};
    stamp_event(event);
    return event;
}

TEST(JournalSink, OneEntryPerEventWithItsFieldsAndPriority) {
    std::vector<std::map<std::string, std::string>> entries;
    JournalSink sink(std::make_unique<FakeJournal>(entries));
    const json event = ptrace_kill();
    const std::vector<std::string> lines{event.dump()};
    sink.write_batch(lines);
    ASSERT_EQ(entries.size(), 1u);
    const auto& entry = entries[0];
    EXPECT_EQ(entry.at("PRIORITY"), "2");  // critical
    EXPECT_EQ(entry.at("MESSAGE"),
              "syscall ptrace violates process.ptrace: killed by sigkill (function=web policy=web-policy "
              "mode=enforce pid=100 comm=gdb k8s.ns=shop k8s.pod=web-1)");
    EXPECT_EQ(entry.at("SYSLOG_IDENTIFIER"), "fnwarden");
    EXPECT_EQ(entry.at("FNWARDEN_POLICY"), "web-policy");
    EXPECT_EQ(entry.at("FNWARDEN_FUNCTION"), "web");
    EXPECT_EQ(entry.at("FNWARDEN_RULE"), "process.ptrace");
    EXPECT_EQ(entry.at("FNWARDEN_ACTION"), "killed");
    EXPECT_EQ(entry.at("FNWARDEN_EVENT_ID"), event["id"]);
    EXPECT_EQ(entry.at("FNWARDEN_SEVERITY"), "critical");
    EXPECT_EQ(entry.at("FNWARDEN_PID"), "100");
    EXPECT_EQ(entry.at("FNWARDEN_TID"), "101");
    EXPECT_EQ(entry.at("FNWARDEN_CGROUP_ID"), "4242");
    EXPECT_EQ(entry.at("FNWARDEN_K8S_POD"), "web-1");
    EXPECT_EQ(entry.at("FNWARDEN_HOST"), event_host());
    EXPECT_EQ(json::parse(entry.at("FNWARDEN_EVENT")), event);
    EXPECT_EQ(entry.count("FNWARDEN_PATH"), 0u);  // not a file event: left out, not empty
    EXPECT_EQ(sink.sent(), 1u);
}

TEST(JournalSink, FieldNamesAreValidJournalFieldNames) {
    // journald drops fields whose names are not [A-Z0-9_], not starting with '_' or a digit.
    for (const std::string& field : journal_fields(ptrace_kill())) {
        const std::string name = field.substr(0, field.find('='));
        ASSERT_FALSE(name.empty());
        EXPECT_NE(name.front(), '_') << name;
        for (char c : name) EXPECT_TRUE((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') << name;
    }
}

TEST(JournalSink, AllowedEventsAreInformationalAndFileEventsNameThePath) {
    json event{{"type", "file"}, {"verdict", "allowed"}, {"action", "none"}, {"file", {{"path", "/tmp/x"}}}};
    stamp_event(event);
    std::map<std::string, std::string> entry;
    for (const std::string& field : journal_fields(event)) entry[field.substr(0, field.find('='))] = field.substr(field.find('=') + 1);
    EXPECT_EQ(entry.at("PRIORITY"), "6");
    EXPECT_EQ(entry.at("FNWARDEN_PATH"), "/tmp/x");
}

TEST(JournalSink, CountsFailuresWithoutThrowing) {
    std::vector<std::map<std::string, std::string>> entries;
    JournalSink sink(std::make_unique<FakeJournal>(entries, -ENOENT));  // no journal socket
    const std::vector<std::string> lines{ptrace_kill().dump(), "{broken"};
    sink.write_batch(lines);
    EXPECT_EQ(sink.failed(), 2u);
    EXPECT_EQ(sink.sent(), 0u);
}

TEST(JournalSink, TheRealWriterHandsTheFieldsToSdJournalSendv) {
    // libsystemd's own code path. With no journal socket (PID 1 here is not
    // systemd) sd_journal_sendv drops the entry and still returns 0, so what
    // can be seen is that it got our fields: it refuses one without '='.
    auto writer = systemd_journal_writer();
    const std::vector<std::string> fields{"MESSAGE=fnwarden unit test", "PRIORITY=7", "SYSLOG_IDENTIFIER=fnwarden-test"};
    EXPECT_EQ(writer->send(fields), 0);
    const std::vector<std::string> broken{"MESSAGE=fnwarden unit test", "NO_EQUALS_SIGN"};
    EXPECT_EQ(writer->send(broken), -EINVAL);
}

TEST(RunningUnderSystemd, JournalStreamOrInvocationId) {
    const auto restore = [](const char* name, const char* old) {
        if (old) setenv(name, old, 1); else unsetenv(name);
    };
    const char* js = std::getenv("JOURNAL_STREAM");
    const char* inv = std::getenv("INVOCATION_ID");
    const std::string js_saved = js ? js : "", inv_saved = inv ? inv : "";
    unsetenv("JOURNAL_STREAM");
    unsetenv("INVOCATION_ID");
    EXPECT_FALSE(running_under_systemd());
    setenv("INVOCATION_ID", "0123456789abcdef", 1);
    EXPECT_TRUE(running_under_systemd());
    unsetenv("INVOCATION_ID");
    setenv("JOURNAL_STREAM", "8:12345", 1);
    EXPECT_TRUE(running_under_systemd());
    restore("JOURNAL_STREAM", js ? js_saved.c_str() : nullptr);
    restore("INVOCATION_ID", inv ? inv_saved.c_str() : nullptr);
}

}  // namespace
}  // namespace fnw
