// SPDX-License-Identifier: Apache-2.0
#include "output/metrics_process.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "output/metrics.hpp"

namespace fnw {

namespace {

Result<std::string> read_whole_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail("cannot read " + path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

Result<uint64_t> parse_uint(std::string_view field, std::string_view what) {
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
    if (ec != std::errc() || end != field.data() + field.size())
        return fail(std::string(what) + ": not a number: \"" + std::string(field) + "\"");
    return value;
}

// Fields separated by single spaces, as the kernel writes them.
std::vector<std::string_view> split_on_spaces(std::string_view text) {
    std::vector<std::string_view> fields;
    while (!text.empty()) {
        size_t space = text.find(' ');
        std::string_view field = text.substr(0, space);
        if (!field.empty()) fields.push_back(field);
        if (space == std::string_view::npos) break;
        text.remove_prefix(space + 1);
    }
    return fields;
}

// The registry's callbacks say "unreadable" by throwing: the sample is then
// left out of that scrape (MetricsRegistry::gauge_callback).
template <class T>
T value_or_throw(Result<T> result) {
    if (!result) throw std::runtime_error(result.error());
    return *result;
}

ProcStat read_proc_stat(const std::string& proc_self) {
    return value_or_throw(parse_proc_stat(value_or_throw(read_whole_file(proc_self + "/stat"))));
}

double open_fd_count(const std::string& proc_self) {
    std::error_code error;
    std::filesystem::directory_iterator fds(proc_self + "/fd", error);
    if (error) throw std::runtime_error(proc_self + "/fd: " + error.message());
    double count = 0;
    for (auto it = fds; it != std::filesystem::directory_iterator(); it.increment(error)) {
        if (error) throw std::runtime_error(proc_self + "/fd: " + error.message());
        ++count;
    }
    // Counts the descriptor reading the directory too, as the Go client does.
    return count;
}

}  // namespace

Result<ProcStat> parse_proc_stat(std::string_view text) {
    size_t command_end = text.rfind(')');
    if (command_end == std::string_view::npos) return fail("/proc stat: no command name");
    // After "pid (comm) ": field 3 (state) onwards.
    std::vector<std::string_view> fields = split_on_spaces(text.substr(command_end + 1));
    constexpr size_t kFirstField = 3, kRssField = 24;
    if (fields.size() < kRssField - kFirstField + 1) return fail("/proc stat: too few fields");
    auto field = [&](size_t number) { return fields[number - kFirstField]; };
    ProcStat stat;
    struct {
        uint64_t* into;
        size_t number;
        const char* name;
    } const wanted[] = {{&stat.user_ticks, 14, "utime"},
                        {&stat.system_ticks, 15, "stime"},
                        {&stat.start_ticks, 22, "starttime"},
                        {&stat.virtual_bytes, 23, "vsize"},
                        {&stat.resident_pages, 24, "rss"}};
    for (const auto& w : wanted) {
        auto value = parse_uint(field(w.number), w.name);
        if (!value) return value.wrap("/proc stat");
        *w.into = *value;
    }
    return stat;
}

Result<uint64_t> parse_boot_time(std::string_view proc_stat_text) {
    constexpr std::string_view kPrefix = "btime ";
    for (size_t at = 0; at < proc_stat_text.size();) {
        size_t end = proc_stat_text.find('\n', at);
        std::string_view line = proc_stat_text.substr(at, end == std::string_view::npos ? end : end - at);
        if (line.starts_with(kPrefix)) return parse_uint(line.substr(kPrefix.size()), "/proc/stat btime");
        if (end == std::string_view::npos) break;
        at = end + 1;
    }
    return fail("/proc/stat: no btime line");
}

void declare_process_metrics(MetricsRegistry& registry, const std::string& proc_self) {
    const double ticks_per_second = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const double page_bytes = static_cast<double>(::sysconf(_SC_PAGESIZE));
    registry.counter_callback("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                              [proc_self, ticks_per_second] {
                                  ProcStat stat = read_proc_stat(proc_self);
                                  return static_cast<double>(stat.user_ticks + stat.system_ticks) / ticks_per_second;
                              });
    registry.gauge_callback("process_resident_memory_bytes", "Resident memory size in bytes.",
                            [proc_self, page_bytes] {
                                return static_cast<double>(read_proc_stat(proc_self).resident_pages) * page_bytes;
                            });
    registry.gauge_callback("process_virtual_memory_bytes", "Virtual memory size in bytes.", [proc_self] {
        return static_cast<double>(read_proc_stat(proc_self).virtual_bytes);
    });
    // The process' start in ticks after boot, plus the boot time, as the Go
    // client computes it.
    registry.gauge_callback(
        "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
        [proc_self, ticks_per_second] {
            uint64_t boot = value_or_throw(parse_boot_time(value_or_throw(read_whole_file("/proc/stat"))));
            return static_cast<double>(boot) +
                   static_cast<double>(read_proc_stat(proc_self).start_ticks) / ticks_per_second;
        });
    registry.gauge_callback("process_open_fds", "Number of open file descriptors.",
                            [proc_self] { return open_fd_count(proc_self); });
    registry.gauge_callback("process_max_fds", "Maximum number of open file descriptors.", [] {
        struct rlimit limit {};
        if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) throw std::runtime_error("getrlimit(RLIMIT_NOFILE)");
        return limit.rlim_cur == RLIM_INFINITY ? std::numeric_limits<double>::infinity()
                                               : static_cast<double>(limit.rlim_cur);
    });
}

void declare_build_info(MetricsRegistry& registry, std::string_view version, std::string_view commit) {
    registry
        .gauge("fnwarden_build_info", "A constant 1, labelled with the version and git commit fnwarden was built from.",
               {"version", "commit"})
        .with({std::string(version), std::string(commit)})
        .set(1);
}

}  // namespace fnw
