// SPDX-License-Identifier: Apache-2.0
#include "output/event_line.hpp"

#include <unistd.h>

#include <array>
#include <charconv>
#include <ctime>

#include <fnwarden/events.h>

#include "core/event_kind.hpp"
#include "core/syscall_table.hpp"

namespace fnw {
namespace {

// Literals with their length known at compile time: `out += "..."` would
// measure each one per event (strlen).
using namespace std::string_view_literals;

template <typename Number>
void append_number(std::string& out, Number value) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof(digits), value).ptr;
    out.append(digits, end);
}

// What event_json's printable() and nlohmann's dump() make of process bytes:
// outside printable ASCII '?', then '"' and '\' escaped. The run of bytes
// that need none (all of them, nearly always) goes in with one append.
void append_printable_string(std::string& out, std::string_view text) {
    out.push_back('"');
    while (!text.empty()) {
        size_t plain = 0;
        for (; plain < text.size(); ++plain) {
            const auto byte = static_cast<unsigned char>(text[plain]);
            if (byte < 0x20 || byte > 0x7e || byte == '"' || byte == '\\') break;
        }
        out.append(text.data(), plain);
        if (plain == text.size()) break;
        const char c = text[plain];
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte > 0x7e) {
            out.push_back('?');
        } else {
            out.push_back('\\');
            out.push_back(c);
        }
        text.remove_prefix(plain + 1);
    }
    out.push_back('"');
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

const std::string& ExeCache::exe_json(uint32_t pid, uint64_t now_ns) {
    const auto max_age_ns = static_cast<uint64_t>(std::chrono::nanoseconds(max_age_).count());
    auto found = entries_.find(pid);
    // A clock that went back (another caller's stamp) reads again too.
    if (found != entries_.end() && now_ns >= found->second.read_at_ns && now_ns - found->second.read_at_ns < max_age_ns)
        return found->second.json;
    if (entries_.size() >= 4096) entries_.clear();  // bounded: pids come and go
    std::array<char, 4096> target{};
    const std::string link = "/proc/" + std::to_string(pid) + "/exe";
    const ssize_t n = ::readlink(link.c_str(), target.data(), target.size());
    Entry& entry = entries_[pid];
    entry.json.clear();
    // Outside printable ASCII '?', as event_json's printable() does.
    append_printable_string(entry.json, std::string_view(target.data(), n > 0 ? static_cast<size_t>(n) : 0));
    entry.read_at_ns = now_ns;
    return entry.json;
}

void EventTimeFormatter::append(uint64_t boot_ns, std::string& out) {
    const int64_t ns = int64_t(boot_ns) + clock_.offset_ns();
    const int64_t second = ns / 1'000'000'000;
    if (second != cached_second_) {
        // The slow path formats the whole stamp; its prefix is the cache.
        cached_prefix_ = clock_.rfc3339(boot_ns);
        cached_prefix_.resize(cached_prefix_.size() - 11);  // ".123456789Z"
        cached_second_ = second;
    }
    out.push_back('"');
    out += cached_prefix_;
    char fraction[12] = {'.', '0', '0', '0', '0', '0', '0', '0', '0', '0', 'Z', '"'};
    for (int64_t rest = ns % 1'000'000'000, i = 9; i >= 1; --i, rest /= 10) fraction[i] = char('0' + rest % 10);
    out.append(fraction, sizeof(fraction));
}

const std::string& JsonStringCache::json(std::string_view text) {
    if (!filled_ || text != text_) {
        text_.assign(text);
        json_ = json_string(text);
        filled_ = true;
    }
    return json_;
}

SyscallLineWriter::SyscallLineWriter(WallClock clock) : time_(clock), host_json_(json_string(event_host())) {}

bool EventLineWriter::append(const Record& record, std::string& out) {
    if (const auto* ev = std::get_if<fnw_syscall_event>(&record)) {
        syscalls_.append(*ev, LineContext{ctx_.function, ctx_.policy, ctx_.mode, ctx_.resolve_exe, {}}, out);
    } else if (auto event = to_json(record, ctx_, clock_)) {
        out += event->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
        return false;
    }
    out.push_back('\n');
    return true;
}

// Keys in nlohmann's (sorted) order: action ... verdict; header_json and
// syscall_json (event_json.cpp) say what each means.
void SyscallLineWriter::append(const fnw_syscall_event& ev, const LineContext& ctx, std::string& out) {
    out += "{\"action\":\""sv;
    out += action_name(ev.action);
    out += "\",\"args\":["sv;
    for (size_t i = 0; i < FNW_SYSCALL_ARGS; ++i) {
        if (i) out.push_back(',');
        append_number(out, ev.args[i]);
    }
    out += "],"sv;
    append_header_fields(ev.hdr, ctx, out);
    out += ",\"mechanism\":\""sv;
    out += mechanism_name(ev.mechanism);
    out += "\",\"mode\":\""sv;
    out += to_string(ctx.mode);  // a fixed name: nothing to escape
    out += "\",\"pid\":"sv;
    append_number(out, ev.hdr.pid);
    out += ",\"policy\":"sv;
    out += policy_json_.json(ctx.policy);
    out += ",\"ppid\":"sv;
    append_number(out, ev.hdr.ppid);
    if (ev.verdict == FNW_VERDICT_VIOLATION) {
        out += ",\"rule\":\""sv;
        out += syscall_rule_name(ev.rule);
        out.push_back('"');
    }
    out += ",\"schema_version\":"sv;
    append_number(out, kEventSchemaVersion);
    out += ",\"severity\":\""sv;
    out += syscall_severity(ev);
    out += "\",\"syscall\":{\"name\":\""sv;
    const std::string_view name = SyscallTable::name(static_cast<int>(ev.nr));
    out += name.empty() ? std::string_view("unknown") : name;
    out += "\",\"nr\":"sv;
    append_number(out, ev.nr);
    out += "},\"tid\":"sv;
    append_number(out, ev.hdr.tid);
    out += ",\"time\":"sv;
    time_.append(ev.hdr.boot_ns, out);
    out += ",\"type\":\""sv;
    out += json_type(EventKind::Syscall);
    out += "\",\"verdict\":\""sv;
    out += verdict_name(ev.verdict);
    out += "\"}"sv;
    if (is_exec_syscall(ev.nr)) exes_.forget(ev.hdr.pid);  // its next events run the new image
}

// cgroup_id through lineage_truncated, in key order.
void SyscallLineWriter::append_header_fields(const fnw_event_header& hdr, const LineContext& ctx, std::string& out) {
    out += "\"cgroup_id\":"sv;
    append_number(out, hdr.cgroup_id);
    out += ",\"comm\":"sv;
    append_printable_string(out, bounded(hdr.comm));
    if (ctx.resolve_exe) {
        out += ",\"exe\":"sv;
        out += exes_.exe_json(hdr.pid, hdr.boot_ns);
    }
    out += ",\"function\":"sv;
    out += function_json_.json(ctx.function);
    const std::span<const uint32_t> ancestors = lineage(hdr);
    if (!hdr.lineage_truncated) {
        out += ",\"function_root\":"sv;
        append_number(out, ancestors.empty() ? hdr.pid : ancestors.back());
    }
    out += ",\"host\":"sv;
    out += host_json_;
    out += ",\"id\":\""sv;
    // Stamped with the event's own time: no clock read per event.
    const int64_t wall_ns = static_cast<int64_t>(hdr.boot_ns) + time_.clock().offset_ns();
    ids_.append_next(out, std::chrono::system_clock::time_point(
                              std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                  std::chrono::nanoseconds(wall_ns))));
    out.push_back('"');
    if (!ctx.k8s_json.empty()) {
        out += ",\"k8s\":"sv;
        out += ctx.k8s_json;
    }
    out += ",\"lineage\":["sv;
    for (size_t i = 0; i < ancestors.size(); ++i) {
        if (i) out.push_back(',');
        append_number(out, ancestors[i]);
    }
    out.push_back(']');
    if (hdr.lineage_source == FNW_LINEAGE_FROM_PROC) out += ",\"lineage_from_proc\":true"sv;
    if (hdr.lineage_truncated) out += ",\"lineage_truncated\":true"sv;
}

}  // namespace fnw
