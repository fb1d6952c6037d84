// SPDX-License-Identifier: Apache-2.0
// What every event carries so that a pipeline fed by many nodes can tell
// events apart and rank them: the node it came from (`host`), the schema it
// is written in (`schema_version`), an id of its own (`id`) and a severity
// (`severity`). docs/events.md, "Identity and severity".
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace fnw {

// Bumped when a key changes meaning, type or spelling, or goes away: a new
// key is no reason to bump it (readers ignore keys they do not know).
inline constexpr int kEventSchemaVersion = 1;

// One scale for every event, the syslog/Falco names: journald's PRIORITY and
// Falco's priority are read from it without a second table.
enum class Severity { Critical, Error, Warning, Notice, Informational };

// "critical", "error", "warning", "notice", "informational".
std::string_view to_string(Severity severity);
// The syslog priority journald files it under: critical 2 ... informational 6.
int syslog_priority(Severity severity);
// From the event's verdict, rule, action and type (the table in docs/events.md):
// - a violation of process.* or exec.* that was killed or denied: critical
//   (code that tried to leave the sandbox was stopped), only reported: error;
// - any other violation killed or denied: error, only reported: warning;
// - a violation_summary (repeats of a violation already reported): warning;
// - an undecided event (its verdict comes later): notice;
// - an allowed (traced) event: informational.
Severity severity_of(const nlohmann::json& event);

// The node's name as the events give it: $NODE_NAME (the Kubernetes
// DaemonSet sets it from spec.nodeName) when set, else gethostname(2).
// Read once per process.
const std::string& event_host();
// What event_host() reads, given $NODE_NAME's value (nullptr: unset).
std::string event_host_from(const char* node_name);

// Event ids: 128-bit, written as a UUID, version 7 layout (RFC 9562): the
// first 48 bits are the Unix time in milliseconds, so ids sort by time
// (a help for the indexes of Elasticsearch or Loki); then 42 bits drawn
// from getrandom(2) once per process; then a 32-bit sequence number.
// Within a process two ids never repeat (the sequence wraps only after 2^32
// ids, by which time the millisecond has moved on); across restarts and
// hosts two processes collide only when they draw the same 42 bits and
// number an event alike in the same millisecond. A boot_id + sequence id
// would repeat across two daemons of one boot, and needs both halves to be
// looked up; this one needs nothing but the clock and the entropy pool.
class EventIdGenerator {
public:
    EventIdGenerator();  // random bits from getrandom(2)
    explicit EventIdGenerator(uint64_t random_bits) : random_(random_bits & kRandomMask) {}
    // Thread-safe.
    std::string next(std::chrono::system_clock::time_point now = std::chrono::system_clock::now());
    // The same 36 characters appended to `out`: the trace hot path takes an
    // id per event, and a std::string of 36 is a heap allocation.
    void append_next(std::string& out, std::chrono::system_clock::time_point now);
    // The same kLength characters written at `at`.
    void write_next(char* at, std::chrono::system_clock::time_point now);
    static constexpr size_t kLength = 36;

private:
    static constexpr uint64_t kRandomMask = (uint64_t{1} << 42) - 1;
    uint64_t random_;
    std::atomic<uint32_t> sequence_{0};
};

// host, schema_version, id (from one generator per process) and severity,
// set whatever the event said before: a launcher's event is stamped again
// by the daemon that publishes it.
void stamp_event(nlohmann::json& event);

}  // namespace fnw
