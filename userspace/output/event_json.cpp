// SPDX-License-Identifier: Apache-2.0
#include "output/event_json.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <cstring>
#include <fstream>
#include <ctime>
#include <initializer_list>
#include <vector>

#include <fnwarden/events.h>

#include "core/elf_interpreter.hpp"
#include "core/event_kind.hpp"
#include "core/file_access.hpp"
#include "core/syscall_table.hpp"
#include "output/event_stamp.hpp"
#include "runtime/exec_hash.hpp"
#include "runtime/proc_info.hpp"

namespace fnw {

WallClock WallClock::now() {
    timespec boot{}, real{};
    clock_gettime(CLOCK_BOOTTIME, &boot);
    clock_gettime(CLOCK_REALTIME, &real);
    int64_t boot_ns = int64_t(boot.tv_sec) * 1'000'000'000 + boot.tv_nsec;
    int64_t real_ns = int64_t(real.tv_sec) * 1'000'000'000 + real.tv_nsec;
    return WallClock(real_ns - boot_ns);
}

std::string WallClock::rfc3339(uint64_t boot_ns) const {
    int64_t ns = int64_t(boot_ns) + offset_ns_;
    time_t secs = static_cast<time_t>(ns / 1'000'000'000);
    long frac = static_cast<long>(ns % 1'000'000'000);
    tm utc{};
    gmtime_r(&secs, &utc);
    char buf[64];
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &utc);
    snprintf(buf + n, sizeof(buf) - n, ".%09ldZ", frac);
    return buf;
}

std::string_view verdict_name(uint8_t v) {
    switch (v) {
    case FNW_VERDICT_ALLOWED: return "allowed";
    case FNW_VERDICT_VIOLATION: return "violation";
    case FNW_VERDICT_PENDING: return "undecided";
    }
    return "unknown";
}

std::string_view action_name(uint8_t a) {
    switch (a) {
    case FNW_ACTION_NONE: return "none";
    case FNW_ACTION_REPORTED: return "reported";
    case FNW_ACTION_KILLED: return "killed";
    case FNW_ACTION_DENIED: return "denied";
    }
    return "unknown";
}

std::string_view mechanism_name(uint8_t m) {
    switch (m) {
    case FNW_MECH_NONE: return "none";
    case FNW_MECH_SIGKILL: return "sigkill";
    case FNW_MECH_SECCOMP: return "seccomp";
    case FNW_MECH_CGROUP_SOCK: return "cgroup-sock";
    case FNW_MECH_LANDLOCK: return "landlock";
    case FNW_MECH_BPF_LSM: return "bpf-lsm";
    case FNW_MECH_USER_KILL: return "fnwarden-sigkill";
    case FNW_MECH_HELD_KILL: return "held-sigkill";
    }
    return "unknown";
}

std::string_view syscall_rule_name(uint8_t rule) {
    switch (rule) {
    case FNW_RULE_PROCESS_PTRACE: return "process.ptrace";
    case FNW_RULE_PROCESS_BPF: return "process.bpf";
    case FNW_RULE_PROCESS_EXEC_MEMORY: return "process.execMemory";
    }
    return "syscalls.allow";
}

namespace {

// Process names and paths are bytes chosen by a possibly hostile process:
// anything outside printable ASCII becomes '?', so the JSON is always valid
// and one line.
std::string printable(std::string text) {
    for (char& c : text)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
    return text;
}


std::string_view sha256_check_name(uint8_t check) {
    switch (check) {
    case FNW_SHA256_MATCH: return "match";
    case FNW_SHA256_MISMATCH: return "mismatch";
    case FNW_SHA256_UNREADABLE: return "unreadable";
    case FNW_SHA256_NOT_PINNED: return "not_pinned";
    }
    return "unknown";
}

std::string_view net_op_name(uint8_t op) {
    switch (op) {
    case FNW_NET_CONNECT: return "connect";
    case FNW_NET_SENDMSG: return "sendmsg";
    case FNW_NET_BIND: return "bind";
    case FNW_NET_ACCEPT: return "accept";
    case FNW_NET_CONNECT_UNIX: return "connect";
    }
    return "unknown";
}

std::string protocol_name(uint8_t protocol) {
    switch (protocol) {
    case 6: return "tcp";
    case 17: return "udp";
    }
    return std::to_string(protocol);
}

nlohmann::json header_json(const fnw_event_header& hdr, const EventContext& ctx, const WallClock& clock) {
    nlohmann::json j;
    j["time"] = clock.rfc3339(hdr.boot_ns);
    j["function"] = ctx.function;
    j["policy"] = ctx.policy;
    j["mode"] = to_string(ctx.mode);
    j["cgroup_id"] = hdr.cgroup_id;
    j["pid"] = hdr.pid;
    j["tid"] = hdr.tid;
    j["ppid"] = hdr.ppid;
    // Ancestors inside the function, nearest first; the last is its root
    // process (the process itself when it has none there). Unknown when
    // the chain was longer than the record holds.
    const std::span<const uint32_t> ancestors = lineage(hdr);
    j["lineage"] = std::vector<uint32_t>(ancestors.begin(), ancestors.end());
    if (hdr.lineage_source == FNW_LINEAGE_FROM_PROC) j["lineage_from_proc"] = true;
    if (hdr.lineage_truncated)
        j["lineage_truncated"] = true;
    else
        j["function_root"] = ancestors.empty() ? hdr.pid : ancestors.back();
    j["comm"] = printable(std::string(bounded(hdr.comm)));
    if (ctx.resolve_exe) j["exe"] = printable(current_exe(hdr.pid, hdr.tid, bounded(hdr.comm)));
    return j;
}

std::string syscall_name(uint32_t nr) {
    const std::string_view name = SyscallTable::name(static_cast<int>(nr));
    return name.empty() ? "unknown" : std::string(name);
}

// verdict, action and mechanism: every policy event says what was done.
void outcome_json(nlohmann::json& j, uint8_t verdict, uint8_t action, uint8_t mechanism) {
    j["verdict"] = verdict_name(verdict);
    j["action"] = action_name(action);
    j["mechanism"] = mechanism_name(mechanism);
}

nlohmann::json syscall_json(const fnw_syscall_event& ev, const EventContext& ctx, const WallClock& clock) {
    nlohmann::json j = header_json(ev.hdr, ctx, clock);
    j["type"] = json_type(EventKind::Syscall);
    j["syscall"] = {{"nr", ev.nr}, {"name", syscall_name(ev.nr)}};
    j["args"] = nlohmann::json::array();
    for (uint64_t a : ev.args) j["args"].push_back(a);
    outcome_json(j, ev.verdict, ev.action, ev.mechanism);
    if (ev.verdict == FNW_VERDICT_VIOLATION) j["rule"] = syscall_rule_name(ev.rule);
    return j;
}

// From the exec LSM hook or sched_process_exec there is no syscall, only
// the exec itself; from the file LSM hooks with no syscall seen (io_uring),
// only the open, create or delete.
std::string file_op_name(uint32_t nr) {
    switch (nr) {
    case FNW_NR_LSM_EXEC:
    case FNW_NR_EXEC: return "exec";
    case FNW_NR_LSM_FILE_OPEN: return "open";
    case FNW_NR_LSM_CREATE: return "create";
    case FNW_NR_LSM_DELETE: return "delete";
    }
    return syscall_name(nr);
}

// What fnwarden made of a pinned program's or code file's content: the
// check, the digest it computed and the one the pin expects.
void digest_json(nlohmann::json& out, const fnw_file_event& ev) {
    if (ev.sha256_check == FNW_SHA256_NOT_CHECKED) return;
    out["sha256_check"] = sha256_check_name(ev.sha256_check);
    Sha256 digest{};
    if (ev.sha256_check == FNW_SHA256_MATCH || ev.sha256_check == FNW_SHA256_MISMATCH) {
        std::memcpy(digest.data(), ev.sha256, digest.size());
        out["sha256"] = to_hex(digest);
    }
    std::memcpy(digest.data(), ev.expected_sha256, digest.size());
    if (digest != Sha256{}) out["expected_sha256"] = to_hex(digest);
}

// argv as the new image got it, and what fnwarden made of a pinned program.
nlohmann::json exec_json(const fnw_file_event& ev) {
    nlohmann::json argv = nlohmann::json::array();
    const std::string_view bytes = argv_bytes(ev);
    for (size_t at = 0; at < bytes.size();) {
        const size_t end = std::min(bytes.find('\0', at), bytes.size());
        argv.push_back(printable(std::string(bytes.substr(at, end - at))));
        at = end + 1;
    }
    nlohmann::json exec = {{"argv", argv}};
    if (ev.path2_truncated) exec["argv_truncated"] = true;
    digest_json(exec, ev);
    return exec;
}

// The policy section a file event answers to; names the rights it lacked.
void file_rule_json(nlohmann::json& j, const fnw_file_event& ev) {
    const bool is_exec = is_exec_event(ev);
    const bool content_refused = ev.sha256_check == FNW_SHA256_MISMATCH || ev.sha256_check == FNW_SHA256_UNREADABLE ||
                                 ev.sha256_check == FNW_SHA256_NOT_PINNED;
    if ((ev.object_flags & FNW_OBJECT_CODE_PINNED) && content_refused) {
        j["rule"] = "code.sha256";  // a file of a pinned code directory that is not the pinned code
    } else if (is_exec && (ev.object_flags & FNW_OBJECT_UNLINKED)) {
        j["rule"] = "exec.fileless";  // a memfd or deleted file: no path to allow
    } else if (is_exec && (ev.sha256_check == FNW_SHA256_MISMATCH || ev.sha256_check == FNW_SHA256_UNREADABLE)) {
        j["rule"] = "exec.sha256";  // allowed by path, not by content
    } else if (is_exec) {
        j["rule"] = "exec.allow";
    } else if (const auto denied = file_access_names(ev.missing); !denied.empty()) {
        // The first right the policy does not grant names the section.
        j["rule"] = "files." + denied.front();
        j["file"]["denied_access"] = denied;
    } else if (ev.verdict == FNW_VERDICT_VIOLATION) {
        j["rule"] = "files";
    }
}

// Landlock refused the exec of a program the policy allows: what the kernel
// was refused is the program's ELF interpreter, which it opens on the
// program's behalf. The event names it (the program stays in raw_path).
// The program is looked up by its canonical name and as the function gave it
// (exec.allow may list either).
void name_refused_interpreter(nlohmann::json& j, const EventContext& ctx, std::initializer_list<std::string> names) {
    for (const std::string& program : names) {
        const auto it = ctx.refused_interpreters.find(program);
        if (it == ctx.refused_interpreters.end()) continue;
        j["file"]["path"] = it->second;
        j["file"]["interpreter_of"] = program;
        j["note"] = "landlock refused " + it->second + ", the ELF interpreter (PT_INTERP) of " + program +
                    ", which the policy allows: the kernel opens the interpreter to run the program, so it needs "
                    "exec.allow and files.read";
        return;
    }
}

nlohmann::json file_json(const fnw_file_event& ev, const EventContext& ctx, const WallClock& clock) {
    nlohmann::json j = header_json(ev.hdr, ctx, clock);
    j["type"] = json_type(EventKind::File);
    const std::string op = file_op_name(ev.nr);
    const EventPath path = event_path(ev);
    j["file"] = {{"raw_path", printable(std::string(bounded(ev.path)))},
                 {"path", printable(path.path)},
                 {"path_source", to_string(path.source)},
                 {"op", op},
                 {"error", ev.ret < 0 ? -ev.ret : 0}};
    if (ev.access) j["file"]["access"] = file_access_names(ev.access);
    if (!path.reason.empty()) j["file"]["path_source_reason"] = path.reason;
    if (ev.nr == FNW_NR_EXEC) {
        j["exec"] = exec_json(ev);
    } else if (ev.path2[0] != '\0') {
        j["file"]["raw_path2"] = printable(std::string(bounded(ev.path2)));
        if (ev.access2) j["file"]["access2"] = file_access_names(ev.access2);
        // A rename's new name, a link's existing one: canonical like the first.
        if (const std::string_view op2 = op; op2.rfind("rename", 0) == 0 || op2 == "link" || op2 == "linkat") {
            const EventPath second = event_path2(ev);
            j["file"]["path2"] = printable(second.path);
            j["file"]["path2_source"] = to_string(second.source);
        }
    }
    if (ev.resolved_kind == FNW_RESOLVED_OBJECT) {
        j["file"]["dev"] = ev.dev;
        j["file"]["ino"] = ev.ino;
    }
    if (ev.path_truncated || path.truncated) j["file"]["truncated"] = true;
    const bool from_lsm = ev.nr >= FNW_NR_LSM_DELETE;  // the pseudo numbers, at the top of the range
    if (!from_lsm) j["syscall"] = {{"nr", ev.nr}, {"name", op}};
    outcome_json(j, ev.verdict, ev.action, ev.mechanism);
    if (ev.object_flags & FNW_OBJECT_UNLINKED) j["file"]["unlinked"] = true;
    if (ev.nr != FNW_NR_EXEC) digest_json(j["file"], ev);  // an exec's is under "exec"
    file_rule_json(j, ev);
    if (ev.mechanism == FNW_MECH_LANDLOCK && is_exec_event(ev)) name_refused_interpreter(j, ctx, {path.path, std::string(bounded(ev.path))});
    return j;
}

nlohmann::json net_json(const fnw_net_event& ev, const EventContext& ctx, const WallClock& clock) {
    nlohmann::json j = header_json(ev.hdr, ctx, clock);
    j["type"] = json_type(EventKind::Net);
    std::string_view rule = "network.egress";
    if (ev.op == FNW_NET_CONNECT_UNIX) {
        // An abstract name (leading NUL) is shown the way policies spell it: "@name".
        std::string name(unix_path(ev));
        if (!name.empty() && name.front() == '\0') name.front() = '@';
        j["net"] = {{"op", net_op_name(ev.op)}, {"family", "unix"}, {"path", printable(std::move(name))}};
        rule = "network.unix";
    } else {
        std::array<uint8_t, 16> addr{};
        std::memcpy(addr.data(), ev.addr, 16);
        const bool bind = ev.op == FNW_NET_BIND;
        const bool accept = ev.op == FNW_NET_ACCEPT;
        // accept: the peer that connected is the source; the port it came in on is ours.
        j["net"] = {{"op", net_op_name(ev.op)},
                    {"family", ev.family == 4 ? "ipv4" : "ipv6"},
                    {"protocol", protocol_name(ev.protocol)},
                    {bind ? "addr" : accept ? "saddr" : "daddr", format_ip(addr)},
                    {bind ? "port" : accept ? "sport" : "dport", ev.port}};
        if (accept) j["net"]["port"] = ev.local_port;
        if (bind || accept) rule = "network.listen";
    }
    outcome_json(j, ev.verdict, ev.action, ev.mechanism);
    if (ev.verdict == FNW_VERDICT_VIOLATION) j["rule"] = rule;
    return j;
}

// What was repeated, in the words of the event it repeats.
nlohmann::json repeated_json(const fnw_violation_summary_event& ev) {
    switch (repeated_kind(ev)) {
    case EventKind::Net:
        return {{"type", json_type(EventKind::Net)},
                {"net",
                 {{"op", net_op_name(static_cast<uint8_t>(ev.what >> 24))},
                  {"protocol", protocol_name(static_cast<uint8_t>(ev.what >> 16))},
                  {"port", ev.what & 0xffff}}}};
    case EventKind::File:
        return {{"type", json_type(EventKind::File)}, {"file", {{"access", file_access_names(ev.what)}}}};
    default:
        return {{"type", json_type(EventKind::Syscall)}, {"syscall", {{"nr", ev.what}, {"name", syscall_name(ev.what)}}}};
    }
}

nlohmann::json summary_json(const fnw_violation_summary_event& ev, const EventContext& ctx, const WallClock& clock) {
    // Many processes may have done it: no pid, lineage or comm.
    nlohmann::json j;
    j["type"] = json_type(EventKind::ViolationSummary);
    j["time"] = clock.rfc3339(ev.hdr.boot_ns);
    j["function"] = ctx.function;
    j["policy"] = ctx.policy;
    j["mode"] = to_string(ctx.mode);
    j["cgroup_id"] = ev.hdr.cgroup_id;
    j["verdict"] = "violation";
    j["repeats"] = ev.repeats;
    j["first"] = clock.rfc3339(ev.first_ns);
    j["last"] = clock.rfc3339(ev.last_ns);
    j["of"] = repeated_json(ev);
    return j;
}

}  // namespace

namespace {

std::optional<nlohmann::json> unstamped_json(const Record& record, const EventContext& ctx, const WallClock& clock) {
    if (const auto* ev = std::get_if<fnw_syscall_event>(&record)) return syscall_json(*ev, ctx, clock);
    if (const auto* ev = std::get_if<FileRecord>(&record)) return file_json(**ev, ctx, clock);
    if (const auto* ev = std::get_if<fnw_net_event>(&record)) return net_json(*ev, ctx, clock);
    if (const auto* ev = std::get_if<fnw_violation_summary_event>(&record)) return summary_json(*ev, ctx, clock);
    return std::nullopt;  // a cgroup birth: identity input, not an event
}

}  // namespace

std::string current_exe(uint32_t pid, uint32_t tid, std::string_view comm) {
    std::optional<std::string> exe = read_proc_exe(static_cast<pid_t>(pid));
    if (!exe) return {};
    // After the exe: a name read first could be the old one's while the exe
    // is already the new program's.
    std::ifstream comm_file("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/comm");
    std::string now;
    if (!std::getline(comm_file, now) || now != comm) return {};
    return std::move(*exe);
}

std::optional<nlohmann::json> to_json(const Record& record, const EventContext& ctx, const WallClock& clock,
                                      std::optional<std::string_view> exe) {
    std::optional<nlohmann::json> event;
    if (exe && ctx.resolve_exe) {
        EventContext known = ctx;  // launcher events only: rare, the copy does not matter
        known.resolve_exe = false;
        event = unstamped_json(record, known, clock);
        if (event) (*event)["exe"] = printable(std::string(*exe));
    } else {
        event = unstamped_json(record, ctx, clock);
    }
    if (event) stamp_event(*event);  // host, schema_version, id, severity
    return event;
}

std::optional<nlohmann::json> event_to_json(std::span<const std::byte> bytes, const EventContext& ctx,
                                            const WallClock& clock) {
    auto record = decode_record(bytes);
    if (!record) return std::nullopt;
    return to_json(*record, ctx, clock);
}

std::optional<EventKind> trace_kind_of(const nlohmann::json& event) {
    const auto kind = event_kind_of(event);
    if (kind != EventKind::ViolationSummary) return kind;
    // A summary of repeats is of the kind it repeats.
    const auto of = event.find("of");
    if (of == event.end() || !of->is_object()) return std::nullopt;
    return event_kind_of(*of);
}

std::optional<EventKind> event_kind_of(const nlohmann::json& event) {
    const auto text = [&event](const char* key) {
        const auto it = event.find(key);
        return it != event.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    return kind_from_json_type(text("type"), text("rule"));
}

void name_glob_program_interpreter(const Record& record, const FunctionPolicy& policy, EventContext& ctx) {
    const auto* file = std::get_if<FileRecord>(&record);
    if (!file) return;
    const fnw_file_event& ev = **file;
    if (ev.mechanism != FNW_MECH_LANDLOCK || !is_exec_event(ev)) return;
    const std::string program = event_path(ev).path;
    if (ctx.refused_interpreters.count(program)) return;
    if (auto interpreter = refused_interpreter_of(policy, program)) ctx.refused_interpreters.emplace(program, *interpreter);
}

}  // namespace fnw
