// SPDX-License-Identifier: Apache-2.0
// What an event is about: the one list of event kinds, with the one
// spelling of each, shared by the trace filter (`trace --events`), the
// metrics' labels, the CLI's trace table and the JSON encoder.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include <fnwarden/events.h>

#include "core/syscall_table.hpp"

namespace fnw {

enum class EventKind {
    Syscall,
    File,
    Exec,  // a file event about exec.allow (exec LSM hook, sched_process_exec, execve)
    Net,
    ViolationSummary,  // repeats of one violation the kernel counted (fnw_violation_summary_event)
};

// The kinds as `trace --events` and the trace table spell them.
inline std::string_view to_string(EventKind kind) {
    constexpr std::array<std::string_view, 5> kNames = {"syscall", "file", "exec", "net", "violation_summary"};
    return kNames[static_cast<size_t>(kind)];
}

inline std::optional<EventKind> parse_event_kind(std::string_view name) {
    for (EventKind kind : {EventKind::Syscall, EventKind::File, EventKind::Exec, EventKind::Net,
                           EventKind::ViolationSummary})
        if (to_string(kind) == name) return kind;
    return std::nullopt;
}

// The event's "type" in its JSON (docs/events.md), also the metrics' `type`
// label: an exec is a file event there, and net is spelled out.
inline std::string_view json_type(EventKind kind) {
    switch (kind) {
    case EventKind::Syscall: return "syscall";
    case EventKind::File:
    case EventKind::Exec: return "file";
    case EventKind::Net: return "network";
    case EventKind::ViolationSummary: return "violation_summary";
    }
    return "unknown";
}

// The reverse, for readers that only have the JSON (the CLI, launcher
// events): the rule tells an exec from another file access.
inline std::optional<EventKind> kind_from_json_type(std::string_view type, std::string_view rule) {
    if (type == "file") return rule.substr(0, 5) == "exec." ? EventKind::Exec : EventKind::File;
    if (type == "network") return EventKind::Net;
    if (type == "syscall") return EventKind::Syscall;
    if (type == "violation_summary") return EventKind::ViolationSummary;
    return std::nullopt;
}

// A file event is about exec (the exec.allow section) when it comes from the
// LSM exec hook, sched_process_exec or an execve/execveat syscall (Landlock);
// otherwise about files.
inline bool is_exec_event(const fnw_file_event& ev) {
    if (ev.nr == FNW_NR_LSM_EXEC || ev.nr == FNW_NR_EXEC) return true;
    const auto name = SyscallTable::name(static_cast<int>(ev.nr));
    return name == "execve" || name == "execveat";
}

}  // namespace fnw
