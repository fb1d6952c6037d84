// SPDX-License-Identifier: Apache-2.0
// Decoded records -> one JSON object per event (the event schema of
// docs/events.md). JSON is made only here, for the outputs and the control
// socket; everything before works on the typed Record (probes/record.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/event_kind.hpp"
#include "core/policy.hpp"
#include "probes/record.hpp"

namespace fnw {

// Converts bpf_ktime_get_boot_ns() stamps to wall-clock time.
class WallClock {
public:
    static WallClock now();
    explicit WallClock(int64_t boot_to_realtime_ns) : offset_ns_(boot_to_realtime_ns) {}
    // RFC 3339, UTC, nanoseconds: 2026-11-28T13:26:54.123456789Z
    std::string rfc3339(uint64_t boot_ns) const;
    int64_t offset_ns() const { return offset_ns_; }

private:
    int64_t offset_ns_;
};

// The JSON spelling of a record's verdict, action and mechanism (enum
// fnw_verdict, fnw_action, fnw_mechanism), and of a syscall event's rule.
std::string_view verdict_name(uint8_t verdict);
std::string_view action_name(uint8_t action);
std::string_view mechanism_name(uint8_t mechanism);
std::string_view syscall_rule_name(uint8_t rule);

// What userspace knows about the cgroup an event came from.
struct EventContext {
    std::string function;
    std::string policy;  // metadata.name
    Mode mode = Mode::Audit;
    // Add "exe" from /proc/PID/exe when the record is decoded (best effort:
    // empty when the process is gone), or the program the launcher read
    // while a process waited in its seccomp notification (to_json with
    // `exe`). Off in tests, on in the CLI.
    bool resolve_exe = false;
    // Allowed program -> its ELF interpreter, which the policy refuses
    // (refused_interpreters): a Landlock refusal of the program's exec is
    // the interpreter's, and the event names it. Programs an exec.allow glob
    // allows are added as their refusals arrive (name_glob_program_interpreter).
    std::map<std::string, std::string> refused_interpreters;
};

// A launched function's Landlock exec refusal of a program an exec.allow
// glob allows: the refused object is its interpreter when `policy` refuses
// that, read now (no list names glob-allowed programs in advance); added to
// ctx.refused_interpreters so the event names it. Call only where
// interpreter_may_be_refused(policy): it reads the program's ELF header.
void name_glob_program_interpreter(const Record& record, const FunctionPolicy& policy, EventContext& ctx);

// /proc/PID/exe of an event's process, read now; "" when the process is
// gone, or when its thread `tid` no longer has the event's `comm`: an exec
// since the event sets the new program's name and ends every other thread,
// so the program read now is not the one that ran then. (Not caught: an
// exec of a program with the same name, and the instants inside exec
// between the new image and its new name.)
std::string current_exe(uint32_t pid, uint32_t tid, std::string_view comm);

// The event's JSON; nullopt for a record that is no policy event (a cgroup
// birth). `exe`: the process's program already known ("" for unknown: the
// launcher read it while the process waited), put in "exe" where
// ctx.resolve_exe asks for it instead of a read of /proc now.
std::optional<nlohmann::json> to_json(const Record& record, const EventContext& ctx, const WallClock& clock,
                                      std::optional<std::string_view> exe = std::nullopt);

// decode_record, then to_json: for callers that hold the bytes only.
// nullopt when the record is malformed (wrong size, unknown type).
std::optional<nlohmann::json> event_to_json(std::span<const std::byte> record, const EventContext& ctx,
                                            const WallClock& clock);

// The kind of an event read back from its JSON (its "type", and "rule" to
// tell an exec): for those who only have the JSON (the CLI, launcher events).
std::optional<EventKind> event_kind_of(const nlohmann::json& event);
// What `trace --events` filters on: a summary is of the kind it repeats.
std::optional<EventKind> trace_kind_of(const nlohmann::json& event);

}  // namespace fnw
