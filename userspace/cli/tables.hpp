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

#include <nlohmann/json.hpp>

#include "control/protocol.hpp"

namespace fnw::cli {

// j[key] as printable text (display_name()), `fallback` when absent or null.
std::string str(const nlohmann::json& j, const char* key, std::string fallback = "");

std::string format_duration(int64_t seconds);
void print_status_table(const StatusReply& status, std::ostream& out);
// The same from the reply as JSON, read leniently (protocol.hpp); throws
// when a part has the wrong shape.
void print_status_table(const nlohmann::json& status, std::ostream& out);

void print_trace_header(std::ostream& out);
void print_trace_row(const nlohmann::json& event, bool color, std::ostream& out);

void print_top_header(std::ostream& out);
void print_top_row(const std::string& function, const std::string& cgroups, const std::string& events_rate,
                   const std::string& violations_rate, uint64_t events, uint64_t violations, std::ostream& out);

}  // namespace fnw::cli
