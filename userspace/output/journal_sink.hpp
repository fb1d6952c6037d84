// SPDX-License-Identifier: Apache-2.0
// Events as structured journal entries when fnwarden runs under systemd:
// `journalctl FNWARDEN_POLICY=web -p crit` finds them without parsing JSON.
// Unlike the daemon's log lines (daemon/journal_priority.hpp: a prefix on
// stderr, so no line is lost without a journal socket), an event's fields
// need sd_journal_sendv. Without a journal socket libsystemd drops the entry
// quietly (and returns 0); the JSON-lines and webhook outputs still carry it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "output/event_sinks.hpp"

namespace fnw {

// Where journal entries go: sd_journal_sendv in production, a fake in tests.
class JournalWriter {
public:
    virtual ~JournalWriter() = default;
    // Each field is "NAME=value". 0 or a negative errno, as sd_journal_sendv.
    virtual int send(std::span<const std::string> fields) = 0;
};

// systemd's journal socket, through libsystemd.
std::unique_ptr<JournalWriter> systemd_journal_writer();

// True under systemd: $JOURNAL_STREAM (stdout/stderr connected to the
// journal) or $INVOCATION_ID (any unit, whatever its StandardOutput=).
bool running_under_systemd();

// The entry of a native event (docs/events.md): MESSAGE (event_summary),
// PRIORITY (syslog_priority of its severity), SYSLOG_IDENTIFIER=fnwarden,
// FNWARDEN_EVENT_ID, FNWARDEN_SEVERITY, FNWARDEN_TYPE, FNWARDEN_FUNCTION,
// FNWARDEN_POLICY, FNWARDEN_MODE, FNWARDEN_RULE, FNWARDEN_ACTION,
// FNWARDEN_MECHANISM, FNWARDEN_VERDICT, FNWARDEN_PID, FNWARDEN_TID,
// FNWARDEN_COMM, FNWARDEN_CGROUP_ID, FNWARDEN_PATH (file events),
// FNWARDEN_K8S_NAMESPACE / _POD / _CONTAINER_ID, FNWARDEN_HOST, and
// FNWARDEN_EVENT (the whole JSON line). A field the event lacks is left out.
std::vector<std::string> journal_fields(const nlohmann::json& event);

// Reads native JSON lines and writes one journal entry per event.
class JournalSink final : public EventSink {
public:
    explicit JournalSink(std::unique_ptr<JournalWriter> writer) : writer_(std::move(writer)) {}
    void write_lines(std::span<const std::string_view> lines) override;
    std::string name() const override { return "journal"; }
    uint64_t sent() const { return sent_; }
    uint64_t failed() const { return failed_; }

private:
    std::unique_ptr<JournalWriter> writer_;
    uint64_t sent_ = 0;
    uint64_t failed_ = 0;
    WarningThrottle warnings_;
};

}  // namespace fnw
