// SPDX-License-Identifier: Apache-2.0
// Records -> JSON lines on the trace hot path. A traced function emits one
// syscall record per syscall (1M+ a second); building an nlohmann::json for
// each (a std::map per object, a string per key), resolving /proc/PID/exe
// and formatting the time with strftime cost ~8 us an event here, so the
// consumer fell behind and the ring overflowed (docs/performance.md,
// "Tracing"). EventLineWriter writes the syscall record's line straight into
// a buffer, byte for byte what to_json(...).dump() writes (keys in the same
// sorted order; tests/unit/event_line_test.cpp compares the two), and falls
// back to to_json for every other record (rare: files, network, summaries).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "output/event_json.hpp"
#include "output/event_stamp.hpp"
#include "output/line_cursor.hpp"
#include "probes/record.hpp"

namespace fnw {

// /proc/PID/exe, read once per thread and kept while it keeps its image: a
// traced execve drops the entry (the next event reads the new image), so
// does a change of the thread's comm (an exec sets it to the new program's
// name: the execs no line was written for, an untraced function's), and
// an entry older than `max_age` is read again (a recycled pid). Per thread,
// not per process: threads a program names apart (prctl PR_SET_NAME) would
// otherwise read /proc in turn. The age is counted on the caller's clock
// (`now_ns`, any monotonic nanoseconds: the writer gives the event's own
// stamp), so a hit costs no clock read.
class ExeCache {
public:
    explicit ExeCache(std::chrono::milliseconds max_age = std::chrono::seconds(1)) : max_age_(max_age) {}
    // The printable exe of process `pid` as a JSON string, quotes included
    // ("\"\"" when the process is gone), for an event of its thread `tid`
    // whose comm was `comm`.
    const std::string& exe_json(uint32_t pid, uint32_t tid, std::string_view comm, uint64_t now_ns);
    void forget(uint32_t tid) { entries_.erase(tid); }

private:
    struct Entry {
        std::string json;
        std::string comm;  // the event's when it was read
        uint64_t read_at_ns = 0;
    };

    std::chrono::milliseconds max_age_;
    std::unordered_map<uint32_t, Entry> entries_;
};

// "2026-11-28T13:26:54.123456789Z" for a boot-time stamp, like
// WallClock::rfc3339, with the date and time of the last second kept: a
// flood of events shares its second, so most cost only the nine digits.
class EventTimeFormatter {
public:
    explicit EventTimeFormatter(WallClock clock) : clock_(clock) {}
    // The stamp, quotes included.
    void append(uint64_t boot_ns, std::string& out);
    void append(uint64_t boot_ns, LineCursor& line);
    const WallClock& clock() const { return clock_; }
    // strftime's buffer (event_json.cpp), the fraction and the quotes.
    static constexpr size_t kMaxSize = 64 + 12;

private:
    WallClock clock_;
    int64_t cached_second_ = -1;
    std::string cached_prefix_;  // up to the seconds, without the fraction
};

// What a syscall line says about its cgroup, as the strings are (the
// writer escapes them): a daemon publishes many functions through one writer.
struct LineContext {
    std::string_view function;
    std::string_view policy;
    Mode mode = Mode::Audit;
    bool resolve_exe = false;
    // The "k8s" object, serialized (nlohmann's key order); empty: none.
    std::string_view k8s_json;
};

// A string and its JSON spelling, spelled again only when it changes: the
// events of a flood share their function and policy.
class JsonStringCache {
public:
    const std::string& json(std::string_view text);
    // Moves whenever json() spells a new text: what was built from the
    // last spelling is stale when this differs.
    uint64_t generation() const { return generation_; }

private:
    bool filled_ = false;
    uint64_t generation_ = 0;
    std::string text_, json_;
};

// The syscall record's line, context per call: what to_json(...).dump()
// writes for it (with "k8s" where the daemon adds it), without the newline.
class SyscallLineWriter {
public:
    explicit SyscallLineWriter(WallClock clock);
    // `exe`: the process's program already known ("" for unknown), used
    // instead of the cache's read of /proc when ctx.resolve_exe.
    void append(const fnw_syscall_event& ev, const LineContext& ctx, std::string& out,
                std::optional<std::string_view> exe = std::nullopt);
    // The next line of thread `tid` reads its exe again.
    void forget_exe(uint32_t tid) { exes_.forget(tid); }

private:
    // The parts of a line that a thread's records share, built for the
    // first of them and copied into the next: a traced loop's lines differ
    // only in their arguments, id, syscall, thread and time. Spelling these
    // fields anew (four numbers, comm's escaping, five strings) was a fifth
    // of the consumer's cost per line (docs/performance.md, "The event file
    // written directly").
    struct TaskSegments {
        // What they were built from: the header's cgroup, pid, ppid, comm
        // and lineage (not its time or thread), and the context.
        fnw_event_header header{};
        uint64_t function_generation = 0, policy_generation = 0;
        Mode mode = Mode::Audit;
        bool resolve_exe = false;
        std::string exe, k8s_json;
        bool built = false;
        // "cgroup_id":... through "host":..., the key before "id".
        std::string before_id;
        // ,"k8s":... ,"lineage":[...] and its flags: between the id and "mechanism".
        std::string before_mechanism;
        // ","mode":"..." through "ppid":N, after the mechanism's name.
        std::string after_mechanism;

        bool built_for(const fnw_event_header& hdr, const LineContext& ctx, uint64_t function_generation,
                       uint64_t policy_generation, std::string_view exe) const;
    };
    // `function`, `policy` and `exe` as JSON strings, quotes included.
    void build_segments(const fnw_event_header& hdr, const LineContext& ctx, std::string_view function,
                        std::string_view policy, std::string_view exe);

    EventTimeFormatter time_;
    ExeCache exes_;
    std::string known_exe_json_;  // a given exe, spelled
    EventIdGenerator ids_;
    JsonStringCache function_json_, policy_json_;
    std::string host_json_;
    TaskSegments segments_;
};

class EventLineWriter {
public:
    // `ctx` must outlive the writer (run_command's may grow as interpreters
    // are named: the fallback reads it as it is).
    EventLineWriter(const EventContext& ctx, WallClock clock) : ctx_(ctx), clock_(clock), syscalls_(clock) {}

    // Appends the record's JSON and a newline to `out`; false (nothing
    // appended) for a record that is no event (a cgroup birth). `exe`: the
    // process's program already known (to_json's), for a launcher event.
    bool append(const Record& record, std::string& out, std::optional<std::string_view> exe = std::nullopt);

private:
    const EventContext& ctx_;
    WallClock clock_;
    SyscallLineWriter syscalls_;
};

}  // namespace fnw
