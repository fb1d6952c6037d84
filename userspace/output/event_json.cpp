#include "output/event_json.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <memory>
#include <cstring>
#include <ctime>
#include <vector>

#include <fnwarden/events.h>

#include "core/event_kind.hpp"
#include "core/file_access.hpp"
#include "core/syscall_table.hpp"
#include "runtime/exec_hash.hpp"

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

namespace {

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
    }
    return "unknown";
}

// Process names and paths are bytes chosen by a possibly hostile process:
// anything outside printable ASCII becomes '?', so the JSON is always valid
// and one line.
std::string printable(std::string text) {
    for (char& c : text)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
    return text;
}

// comm is NUL-padded, not guaranteed NUL-terminated.
std::string comm_string(const char (&comm)[FNW_COMM_LEN]) {
    return printable(std::string(comm, strnlen(comm, FNW_COMM_LEN)));
}

std::string_view sha256_check_name(uint8_t check) {
    switch (check) {
    case FNW_SHA256_MATCH: return "match";
    case FNW_SHA256_MISMATCH: return "mismatch";
    case FNW_SHA256_UNREADABLE: return "unreadable";
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
    const size_t len = std::min<size_t>(hdr.lineage_len, FNW_LINEAGE_MAX);
    j["lineage"] = std::vector<uint32_t>(hdr.lineage, hdr.lineage + len);
    if (hdr.lineage_source == FNW_LINEAGE_FROM_PROC) j["lineage_from_proc"] = true;
    if (hdr.lineage_truncated)
        j["lineage_truncated"] = true;
    else
        j["function_root"] = len ? hdr.lineage[len - 1] : hdr.pid;
    j["comm"] = comm_string(hdr.comm);
    if (ctx.resolve_exe) {
        std::error_code ec;
        auto exe = std::filesystem::read_symlink("/proc/" + std::to_string(hdr.pid) + "/exe", ec);
        j["exe"] = ec ? std::string() : printable(exe.string());
    }
    return j;
}

}  // namespace

std::optional<nlohmann::json> event_to_json(std::span<const std::byte> record, const EventContext& ctx,
                                            const WallClock& clock) {
    if (record.size() < sizeof(fnw_event_header)) return std::nullopt;
    fnw_event_header hdr;
    std::memcpy(&hdr, record.data(), sizeof(hdr));
    if (hdr.size != record.size()) return std::nullopt;

    switch (hdr.type) {
    case FNW_EVENT_SYSCALL: {
        if (record.size() != sizeof(fnw_syscall_event)) return std::nullopt;
        fnw_syscall_event ev;
        std::memcpy(&ev, record.data(), sizeof(ev));
        nlohmann::json j = header_json(ev.hdr, ctx, clock);
        j["type"] = "syscall";
        std::string_view name = SyscallTable::name(static_cast<int>(ev.nr));
        j["syscall"] = {{"nr", ev.nr}, {"name", name.empty() ? "unknown" : std::string(name)}};
        j["args"] = nlohmann::json::array();
        for (uint64_t a : ev.args) j["args"].push_back(a);
        j["verdict"] = verdict_name(ev.verdict);
        j["action"] = action_name(ev.action);
        j["mechanism"] = mechanism_name(ev.mechanism);
        if (ev.verdict == FNW_VERDICT_VIOLATION) {
            switch (ev.rule) {
            case FNW_RULE_PROCESS_PTRACE: j["rule"] = "process.ptrace"; break;
            case FNW_RULE_PROCESS_BPF: j["rule"] = "process.bpf"; break;
            case FNW_RULE_PROCESS_EXEC_MEMORY: j["rule"] = "process.execMemory"; break;
            default: j["rule"] = "syscalls.allow";
            }
        }
        return j;
    }
    case FNW_EVENT_FILE: {
        if (record.size() != sizeof(fnw_file_event)) return std::nullopt;
        auto ev = std::make_unique<fnw_file_event>();  // 12 KiB: not on the stack
        std::memcpy(ev.get(), record.data(), sizeof(*ev));
        nlohmann::json j = header_json(ev->hdr, ctx, clock);
        j["type"] = "file";
        // From the exec LSM hook or sched_process_exec there is no syscall,
        // only the exec itself; from the file LSM hooks with no syscall seen
        // (io_uring), only the open, create or delete.
        std::string_view name;
        switch (ev->nr) {
        case FNW_NR_LSM_EXEC:
        case FNW_NR_EXEC: name = "exec"; break;
        case FNW_NR_LSM_FILE_OPEN: name = "open"; break;
        case FNW_NR_LSM_CREATE: name = "create"; break;
        case FNW_NR_LSM_DELETE: name = "delete"; break;
        default: name = SyscallTable::name(static_cast<int>(ev->nr));
        }
        const bool from_lsm = ev->nr >= FNW_NR_LSM_DELETE;  // the pseudo numbers, at the top of the range
        const std::string raw = printable(std::string(ev->path, strnlen(ev->path, sizeof(ev->path))));
        const bool is_exec = is_exec_event(*ev);
        const EventPath path = event_path(*ev);
        j["file"] = {{"raw_path", raw},
                     {"path", printable(path.path)},
                     {"path_source", to_string(path.source)},
                     {"op", std::string(name.empty() ? "unknown" : name)},
                     {"error", ev->ret < 0 ? -ev->ret : 0}};
        if (ev->access) j["file"]["access"] = file_access_names(ev->access);
        if (ev->nr == FNW_NR_EXEC) {
            // argv as the new image got it: NUL-separated on its stack.
            nlohmann::json argv = nlohmann::json::array();
            const size_t len = std::min<size_t>(ev->argv_len, sizeof(ev->argv));
            for (size_t at = 0; at < len;) {
                const size_t end = std::find(ev->argv + at, ev->argv + len, '\0') - ev->argv;
                argv.push_back(printable(std::string(ev->argv + at, end - at)));
                at = end + 1;
            }
            j["exec"] = {{"argv", argv}};
            if (ev->path2_truncated) j["exec"]["argv_truncated"] = true;
            if (ev->sha256_check != FNW_SHA256_NOT_CHECKED) {
                j["exec"]["sha256_check"] = sha256_check_name(ev->sha256_check);
                if (ev->sha256_check != FNW_SHA256_UNREADABLE) {
                    Sha256 digest{};
                    std::memcpy(digest.data(), ev->sha256, digest.size());
                    j["exec"]["sha256"] = to_hex(digest);
                }
            }
        } else if (ev->path2[0] != '\0') {
            j["file"]["raw_path2"] = printable(std::string(ev->path2, strnlen(ev->path2, sizeof(ev->path2))));
            if (ev->access2) j["file"]["access2"] = file_access_names(ev->access2);
        }
        if (ev->resolved_kind == FNW_RESOLVED_OBJECT) {
            j["file"]["dev"] = ev->dev;
            j["file"]["ino"] = ev->ino;
        }
        if (ev->path_truncated || path.truncated) j["file"]["truncated"] = true;
        if (!from_lsm) j["syscall"] = {{"nr", ev->nr}, {"name", name.empty() ? "unknown" : std::string(name)}};
        j["verdict"] = verdict_name(ev->verdict);
        j["action"] = action_name(ev->action);
        j["mechanism"] = mechanism_name(ev->mechanism);
        const bool fileless = ev->object_flags & FNW_OBJECT_UNLINKED;
        if (fileless) j["file"]["unlinked"] = true;
        if (is_exec && fileless) {
            j["rule"] = "exec.fileless";  // a memfd or deleted file: no path to allow
        } else if (is_exec && (ev->sha256_check == FNW_SHA256_MISMATCH || ev->sha256_check == FNW_SHA256_UNREADABLE)) {
            j["rule"] = "exec.sha256";  // allowed by path, not by content
        } else if (is_exec) {
            j["rule"] = "exec.allow";
        } else if (const auto denied = file_access_names(ev->missing); !denied.empty()) {
            // The first right the policy does not grant names the section.
            j["rule"] = "files." + denied.front();
            j["file"]["denied_access"] = denied;
        } else if (ev->verdict == FNW_VERDICT_VIOLATION) {
            j["rule"] = "files";
        }
        return j;
    }
    case FNW_EVENT_NET: {
        if (record.size() != sizeof(fnw_net_event)) return std::nullopt;
        fnw_net_event ev;
        std::memcpy(&ev, record.data(), sizeof(ev));
        nlohmann::json j = header_json(ev.hdr, ctx, clock);
        j["type"] = "network";
        std::string_view rule = "network.egress";
        if (ev.op == FNW_NET_CONNECT_UNIX) {
            // An abstract name (leading NUL) is shown the way policies spell it: "@name".
            const size_t len = std::min<size_t>(ev.unix_path_len, sizeof(ev.unix_path));
            std::string name(ev.unix_path, len);
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
        j["verdict"] = verdict_name(ev.verdict);
        j["action"] = action_name(ev.action);
        j["mechanism"] = mechanism_name(ev.mechanism);
        if (ev.verdict == FNW_VERDICT_VIOLATION) j["rule"] = rule;
        return j;
    }
    case FNW_EVENT_VIOLATION_SUMMARY: {
        if (record.size() != sizeof(fnw_violation_summary_event)) return std::nullopt;
        fnw_violation_summary_event ev;
        std::memcpy(&ev, record.data(), sizeof(ev));
        // Many processes may have done it: no pid, lineage or comm.
        nlohmann::json j;
        j["type"] = "violation_summary";
        j["time"] = clock.rfc3339(ev.hdr.boot_ns);
        j["function"] = ctx.function;
        j["policy"] = ctx.policy;
        j["mode"] = to_string(ctx.mode);
        j["cgroup_id"] = ev.hdr.cgroup_id;
        j["verdict"] = "violation";
        j["repeats"] = ev.repeats;
        j["first"] = clock.rfc3339(ev.first_ns);
        j["last"] = clock.rfc3339(ev.last_ns);
        // What was repeated, in the words of the event it repeats.
        switch (ev.kind) {
        case FNW_EVENT_SYSCALL: {
            std::string_view name = SyscallTable::name(static_cast<int>(ev.what));
            j["of"] = {{"type", "syscall"},
                       {"syscall", {{"nr", ev.what}, {"name", name.empty() ? "unknown" : std::string(name)}}}};
            break;
        }
        case FNW_EVENT_NET:
            j["of"] = {{"type", "network"},
                       {"net",
                        {{"op", net_op_name(static_cast<uint8_t>(ev.what >> 24))},
                         {"protocol", protocol_name(static_cast<uint8_t>(ev.what >> 16))},
                         {"port", ev.what & 0xffff}}}};
            break;
        case FNW_EVENT_FILE:
            j["of"] = {{"type", "file"}, {"file", {{"access", file_access_names(ev.what)}}}};
            break;
        default:
            return std::nullopt;
        }
        return j;
    }
    }
    return std::nullopt;
}

}  // namespace fnw
