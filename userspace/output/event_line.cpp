// SPDX-License-Identifier: Apache-2.0
#include "output/event_line.hpp"

#include <unistd.h>

#include <array>
#include <ctime>

#include <fnwarden/events.h>

#include "core/event_kind.hpp"
#include "core/syscall_table.hpp"
#include "output/line_cursor.hpp"

namespace fnw {
namespace {

// Literals with their length known at compile time: `out += "..."` would
// measure each one per event (strlen).
using namespace std::string_view_literals;

// What event_json's printable() and nlohmann's dump() make of process bytes:
// outside printable ASCII '?', then '"' and '\' escaped. The run of bytes
// that need none (all of them, nearly always) goes in with one copy.
void put_printable_string(LineCursor& line, std::string_view text) {
    line.put('"');
    while (!text.empty()) {
        size_t plain = 0;
        for (; plain < text.size(); ++plain) {
            const auto byte = static_cast<unsigned char>(text[plain]);
            if (byte < 0x20 || byte > 0x7e || byte == '"' || byte == '\\') break;
        }
        line.put(text.substr(0, plain));
        if (plain == text.size()) break;
        const char c = text[plain];
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte > 0x7e) {
            line.put('?');
        } else {
            line.put('\\');
            line.put(c);
        }
        text.remove_prefix(plain + 1);
    }
    line.put('"');
}

// `text` alone as a JSON string in `out` (replaced): outside printable
// ASCII '?', as event_json's printable() does.
void spell_printable_string(std::string_view text, std::string& out) {
    out.clear();
    LineCursor line(out, 2 * text.size() + 2);
    put_printable_string(line, text);
}

// Invalid UTF-8 replaced (U+FFFD), as the daemon's dump does: a function
// name from a cgroup path or a pod label can hold any byte.
std::string json_string(std::string_view text) {
    return nlohmann::json(std::string(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// severity_of() (event_stamp.cpp) for a syscall event.
std::string_view syscall_severity(const fnw_syscall_event& ev) {
    if (ev.verdict == FNW_VERDICT_PENDING) return to_string(Severity::Notice);
    if (ev.verdict != FNW_VERDICT_VIOLATION) return to_string(Severity::Informational);
    const bool stopped = ev.action == FNW_ACTION_KILLED || ev.action == FNW_ACTION_DENIED;
    const bool escape = syscall_rule_name(ev.rule).rfind("process.", 0) == 0;
    if (escape) return to_string(stopped ? Severity::Critical : Severity::Error);
    return to_string(stopped ? Severity::Error : Severity::Warning);
}

bool is_exec_syscall(uint32_t nr) { return nr == 59 || nr == 322; }  // x86_64 execve, execveat

}  // namespace

const std::string& ExeCache::exe_json(uint32_t pid, uint32_t tid, std::string_view comm, uint64_t now_ns) {
    const auto max_age_ns = static_cast<uint64_t>(std::chrono::nanoseconds(max_age_).count());
    auto found = entries_.find(tid);
    // A clock that went back (another caller's stamp) reads again too.
    if (found != entries_.end() && now_ns >= found->second.read_at_ns &&
        now_ns - found->second.read_at_ns < max_age_ns && found->second.comm == comm)
        return found->second.json;
    if (entries_.size() >= 4096) entries_.clear();  // bounded: pids come and go
    const std::string exe = current_exe(pid, tid, comm);
    Entry& entry = entries_[tid];
    entry.comm.assign(comm);
    spell_printable_string(exe, entry.json);
    entry.read_at_ns = now_ns;
    return entry.json;
}

void EventTimeFormatter::append(uint64_t boot_ns, std::string& out) {
    LineCursor line(out, kMaxSize);
    append(boot_ns, line);
}

void EventTimeFormatter::append(uint64_t boot_ns, LineCursor& line) {
    const int64_t ns = int64_t(boot_ns) + clock_.offset_ns();
    const int64_t second = ns / 1'000'000'000;
    if (second != cached_second_) {
        // The slow path formats the whole stamp; its prefix is the cache.
        cached_prefix_ = clock_.rfc3339(boot_ns);
        cached_prefix_.resize(cached_prefix_.size() - 11);  // ".123456789Z"
        cached_second_ = second;
    }
    line.put('"');
    line.put(cached_prefix_);
    line.put('.');
    const int64_t fraction = ns % 1'000'000'000;
    line.nine_digits(static_cast<uint32_t>(fraction < 0 ? fraction + 1'000'000'000 : fraction));
    line.put("Z\""sv);
}

const std::string& JsonStringCache::json(std::string_view text) {
    if (!filled_ || text != text_) {
        text_.assign(text);
        json_ = json_string(text);
        filled_ = true;
        ++generation_;
    }
    return json_;
}

SyscallLineWriter::SyscallLineWriter(WallClock clock) : time_(clock), host_json_(json_string(event_host())) {}

bool EventLineWriter::append(const Record& record, std::string& out, std::optional<std::string_view> exe) {
    if (const auto* ev = std::get_if<fnw_syscall_event>(&record)) {
        syscalls_.append(*ev, LineContext{ctx_.function, ctx_.policy, ctx_.mode, ctx_.resolve_exe, {}}, out, exe);
    } else if (auto event = to_json(record, ctx_, clock_, exe)) {
        out += event->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
        return false;
    }
    out.push_back('\n');
    return true;
}

// Keys in nlohmann's (sorted) order: action ... verdict; header_json and
// syscall_json (event_json.cpp) say what each means.
void SyscallLineWriter::append(const fnw_syscall_event& ev, const LineContext& ctx, std::string& out,
                               std::optional<std::string_view> known_exe) {
    const std::string& function = function_json_.json(ctx.function);
    const std::string& policy = policy_json_.json(ctx.policy);
    if (ctx.resolve_exe && known_exe) spell_printable_string(*known_exe, known_exe_json_);
    const std::string_view exe =
        !ctx.resolve_exe ? std::string_view()
        : known_exe      ? std::string_view(known_exe_json_)
                         : std::string_view(exes_.exe_json(ev.hdr.pid, ev.hdr.tid, bounded(ev.hdr.comm), ev.hdr.boot_ns));
    if (!segments_.built_for(ev.hdr, ctx, function_json_.generation(), policy_json_.generation(), exe))
        build_segments(ev.hdr, ctx, function, policy, exe);
    // The literals, numbers, names, time and id take under 1 KiB; the
    // segments hold what comes from outside. The cursor's growth is the
    // safety net should that ever fall short.
    LineCursor line(out, 1024 + segments_.before_id.size() + segments_.before_mechanism.size() +
                             segments_.after_mechanism.size());
    line.put("{\"action\":\""sv);
    line.put(action_name(ev.action));
    line.put("\",\"args\":["sv);
    for (size_t i = 0; i < FNW_SYSCALL_ARGS; ++i) {
        if (i) line.put(',');
        line.decimal(ev.args[i]);
    }
    line.put("],"sv);
    line.put(segments_.before_id);
    line.put(",\"id\":\""sv);
    // Stamped with the event's own time: no clock read per event.
    const int64_t wall_ns = static_cast<int64_t>(ev.hdr.boot_ns) + time_.clock().offset_ns();
    ids_.write_next(line.reserve(EventIdGenerator::kLength),
                    std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
                        std::chrono::nanoseconds(wall_ns))));
    line.advance(EventIdGenerator::kLength);
    line.put('"');
    line.put(segments_.before_mechanism);
    line.put(",\"mechanism\":\""sv);
    line.put(mechanism_name(ev.mechanism));
    line.put(segments_.after_mechanism);
    if (ev.verdict == FNW_VERDICT_VIOLATION) {
        line.put(",\"rule\":\""sv);
        line.put(syscall_rule_name(ev.rule));
        line.put('"');
    }
    line.put(",\"schema_version\":"sv);
    line.decimal(kEventSchemaVersion);
    line.put(",\"severity\":\""sv);
    line.put(syscall_severity(ev));
    line.put("\",\"syscall\":{\"name\":\""sv);
    const std::string_view name = SyscallTable::name(static_cast<int>(ev.nr));
    line.put(name.empty() ? std::string_view("unknown") : name);
    line.put("\",\"nr\":"sv);
    line.decimal(ev.nr);
    line.put("},\"tid\":"sv);
    line.decimal(ev.hdr.tid);
    line.put(",\"time\":"sv);
    time_.append(ev.hdr.boot_ns, line);
    line.put(",\"type\":\""sv);
    line.put(json_type(EventKind::Syscall));
    line.put("\",\"verdict\":\""sv);
    line.put(verdict_name(ev.verdict));
    line.put("\"}"sv);
    if (is_exec_syscall(ev.nr)) {
        // Its next events run the new image, as the process's main thread.
        exes_.forget(ev.hdr.tid);
        exes_.forget(ev.hdr.pid);
    }
}

bool SyscallLineWriter::TaskSegments::built_for(const fnw_event_header& hdr, const LineContext& ctx,
                                                uint64_t function_gen, uint64_t policy_gen, std::string_view exe_json) const {
    const fnw_event_header& was = header;
    return built && hdr.cgroup_id == was.cgroup_id && hdr.pid == was.pid && hdr.ppid == was.ppid &&
           hdr.lineage_len == was.lineage_len && hdr.lineage_truncated == was.lineage_truncated &&
           hdr.lineage_source == was.lineage_source && std::memcmp(hdr.comm, was.comm, sizeof(was.comm)) == 0 &&
           std::memcmp(hdr.lineage, was.lineage, sizeof(was.lineage)) == 0 && function_gen == function_generation &&
           policy_gen == policy_generation && ctx.mode == mode && ctx.resolve_exe == resolve_exe &&
           exe_json == exe && ctx.k8s_json == k8s_json;
}

// The fields of the three segments, in key order.
void SyscallLineWriter::build_segments(const fnw_event_header& hdr, const LineContext& ctx, std::string_view function,
                                       std::string_view policy, std::string_view exe) {
    TaskSegments& seg = segments_;
    seg.built = false;  // until every part is in place
    seg.header = hdr;
    seg.function_generation = function_json_.generation();
    seg.policy_generation = policy_json_.generation();
    seg.mode = ctx.mode;
    seg.resolve_exe = ctx.resolve_exe;
    seg.exe.assign(exe);
    seg.k8s_json.assign(ctx.k8s_json);

    const std::span<const uint32_t> ancestors = lineage(hdr);
    seg.before_id.clear();
    {
        LineCursor line(seg.before_id, 256 + function.size() + exe.size() + host_json_.size());
        line.put("\"cgroup_id\":"sv);
        line.decimal(hdr.cgroup_id);
        line.put(",\"comm\":"sv);
        put_printable_string(line, bounded(hdr.comm));
        if (ctx.resolve_exe) {
            line.put(",\"exe\":"sv);
            line.put(exe);
        }
        line.put(",\"function\":"sv);
        line.put(function);
        if (!hdr.lineage_truncated) {
            line.put(",\"function_root\":"sv);
            line.decimal(ancestors.empty() ? hdr.pid : ancestors.back());
        }
        line.put(",\"host\":"sv);
        line.put(host_json_);
    }
    seg.before_mechanism.clear();
    {
        LineCursor line(seg.before_mechanism, 256 + ctx.k8s_json.size() + 11 * ancestors.size());
        if (!ctx.k8s_json.empty()) {
            line.put(",\"k8s\":"sv);
            line.put(ctx.k8s_json);
        }
        line.put(",\"lineage\":["sv);
        for (size_t i = 0; i < ancestors.size(); ++i) {
            if (i) line.put(',');
            line.decimal(ancestors[i]);
        }
        line.put(']');
        if (hdr.lineage_source == FNW_LINEAGE_FROM_PROC) line.put(",\"lineage_from_proc\":true"sv);
        if (hdr.lineage_truncated) line.put(",\"lineage_truncated\":true"sv);
    }
    seg.after_mechanism.clear();
    {
        LineCursor line(seg.after_mechanism, 128 + policy.size());
        line.put("\",\"mode\":\""sv);
        line.put(to_string(ctx.mode));  // a fixed name: nothing to escape
        line.put("\",\"pid\":"sv);
        line.decimal(hdr.pid);
        line.put(",\"policy\":"sv);
        line.put(policy);
        line.put(",\"ppid\":"sv);
        line.decimal(hdr.ppid);
    }
    seg.built = true;
}

}  // namespace fnw
