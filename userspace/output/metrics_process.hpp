// SPDX-License-Identifier: Apache-2.0
// The metrics every Prometheus client exports about itself, under the names
// of the client guidelines (process_cpu_seconds_total, ...), read from
// /proc/self when scraped, and fnwarden_build_info: what an operator needs
// to tell a restart, a leak or a stale binary from the dashboard.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace fnw {

class MetricsRegistry;

// The fields of /proc/<pid>/stat the process_* metrics need, in the units
// the kernel gives (clock ticks, pages, bytes).
struct ProcStat {
    uint64_t user_ticks = 0;      // utime, field 14
    uint64_t system_ticks = 0;    // stime, field 15
    uint64_t start_ticks = 0;     // starttime since boot, field 22
    uint64_t virtual_bytes = 0;   // vsize, field 23
    uint64_t resident_pages = 0;  // rss, field 24
};

// Parses /proc/<pid>/stat. The command name (field 2) may hold spaces and
// parentheses: fields are counted from its last ')'.
Result<ProcStat> parse_proc_stat(std::string_view text);

// The "btime" line of /proc/stat: boot time in seconds since the epoch.
Result<uint64_t> parse_boot_time(std::string_view proc_stat_text);

// process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_start_time_seconds, process_open_fds
// and process_max_fds of the calling process. proc_self: "/proc/self"
// except in tests. A value that cannot be read is left out of that scrape.
void declare_process_metrics(MetricsRegistry& registry, const std::string& proc_self = "/proc/self");

// fnwarden_build_info{version,commit} 1. Constant: join on it
// (`* on(instance) group_left(version) fnwarden_build_info`).
void declare_build_info(MetricsRegistry& registry, std::string_view version, std::string_view commit);

}  // namespace fnw
