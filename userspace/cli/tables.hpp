// SPDX-License-Identifier: Apache-2.0
// The tables `fnwarden status`, `trace` and `top` print. Every string in
// them comes from the daemon, which got many of them from outside: cgroup
// paths, pod names and labels, function names clients sent, process names
// and paths. They are printed through display_name(), so none of them can
// drive the terminal (clear it, move the cursor, forge a row).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/protocol.hpp"

namespace fnw::cli {

// j[key] as printable text (display_name()), `fallback` when absent or null.
std::string str(const nlohmann::json& j, const char* key, std::string fallback = "");

std::string format_duration(int64_t seconds);
// Tables sized from their content (text_table.hpp); `color` marks failed
// reloads, programs not attached and functions with violations.
void print_status_table(const StatusReply& status, std::ostream& out, bool color = false);
// The same from the reply as JSON, read leniently (protocol.hpp); throws
// when a part has the wrong shape.
void print_status_table(const nlohmann::json& status, std::ostream& out, bool color = false);

// A stream: fixed columns, a longer cell cut with "..."; `color` marks
// violations (red when killed or denied, yellow when only reported).
void print_trace_header(std::ostream& out);
void print_trace_row(const nlohmann::json& event, bool color, std::ostream& out);

// One function in one refresh of `top`.
struct TopRow {
    std::string function, cgroups, events_rate, violations_rate;
    uint64_t events = 0, violations = 0;
    bool violations_rising = false;  // violations since the last refresh
};
void print_top_table(const std::vector<TopRow>& rows, std::ostream& out, bool color = false);

}  // namespace fnw::cli
