#include "cli/tables.hpp"

#include <algorithm>
#include <iomanip>
#include <sstream>

#include "core/display_name.hpp"

using nlohmann::json;

namespace fnw::cli {
namespace {

// Long enough for any path or error message; a name is never the whole screen.
constexpr size_t kShownBytes = 1024;

std::string shown(const json& value) {
    return display_name(value.is_string() ? value.get<std::string>()
                                          : value.dump(-1, ' ', false, json::error_handler_t::replace),
                        kShownBytes);
}

}  // namespace

std::string str(const json& j, const char* key, std::string fallback) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    return shown(*it);
}

// ---- status -------------------------------------------------------------------

std::string format_duration(int64_t seconds) {
    std::ostringstream out;
    if (seconds >= 86400) out << seconds / 86400 << "d";
    if (seconds >= 3600) out << (seconds % 86400) / 3600 << "h";
    if (seconds >= 60) out << (seconds % 3600) / 60 << "m";
    out << seconds % 60 << "s";
    return out.str();
}

void print_status_table(const json& s, std::ostream& out) {
    const json& d = s.at("daemon");
    const json& p = s.at("policy_set");
    const json& k = s.at("kernel");
    out << "fnwarden " << str(d, "version") << "  pid " << str(d, "pid") << "  up "
        << format_duration(d.value("uptime_seconds", 0)) << "  mode " << str(d, "mode") << "\n";
    out << "rules    " << str(d, "rules") << "  policy set " << str(p, "version") << " (loaded "
        << str(p, "loaded_at") << "; reloads ok " << str(p, "reloads_ok") << ", failed " << str(p, "reloads_failed")
        << ")\n";
    const json& last = p.at("last_reload");
    if (str(last, "result") == "error") {
        out << "  LAST RELOAD FAILED at " << str(last, "time") << ": the set above stays in force\n";
        for (const auto& e : last.at("errors")) out << "    " << shown(e) << "\n";
    }
    out << "kernel   " << str(k, "release") << "  seccomp user_notif " << (k.value("seccomp_user_notif", false) ? "yes" : "no")
        << "  landlock " << (k.at("landlock_abi").is_null() ? "no" : "ABI " + str(k, "landlock_abi"))
        << "  bpf-lsm programs " << str(k, "lsm_programs") << "\n";
    if (auto hooks = k.find("lsm_hooks"); hooks != k.end() && hooks->is_object() && !hooks->empty()) {
        // One line when every hook shares its state (all refused for the
        // same reason here), else one per hook.
        const json& first = hooks->begin().value();
        const bool shared = std::all_of(hooks->begin(), hooks->end(), [&](const json& state) { return state == first; });
        auto text = [](const json& state) { return state.is_string() ? shown(state) : std::string("?"); };
        if (shared)
            out << "         all " << hooks->size() << " lsm hooks: " << text(first) << "\n";
        else
            for (const auto& [hook, state] : hooks->items()) out << "         lsm/" << display_name(hook) << ": " << text(state) << "\n";
    }
    out << "outputs  " << str(d, "output") << (str(d, "webhook").empty() ? "" : ", webhook " + str(d, "webhook"))
        << "  metrics " << (str(d, "metrics").empty() ? "off" : "http://" + str(d, "metrics") + "/metrics")
        << "  socket " << str(d, "socket") << "\n\n";

    out << "ENFORCEMENT (strongest mechanism that works on this kernel)\n";
    for (const auto& row : s.at("enforcement")) {
        out << "  " << std::left << std::setw(9) << str(row, "events") << "fnwarden run: " << str(row, "launched")
            << "\n";
        out << "  " << std::setw(9) << "" << "other cgroups: " << str(row, "watched") << "\n";
        for (const auto& why : row.at("not_used")) out << "  " << std::setw(9) << "" << "  not used: " << shown(why) << "\n";
    }

    out << "\n" << std::left << std::setw(18) << "FUNCTION" << std::setw(18) << "POLICY" << std::setw(9) << "MODE"
        << std::setw(9) << "CGROUPS" << std::setw(10) << "EVENTS" << std::setw(11) << "VIOLATIONS" << "FILE\n";
    for (const auto& f : s.at("functions"))
        out << std::setw(18) << str(f, "function") << std::setw(18) << str(f, "policy") << std::setw(9)
            << str(f, "mode") << std::setw(9) << str(f, "cgroups") << std::setw(10) << str(f, "events")
            << std::setw(11) << str(f, "violations") << str(f, "file") << "\n";

    if (!s.at("cgroups").empty()) {
        out << "\n" << std::setw(12) << "CGROUP ID" << std::setw(18) << "FUNCTION" << std::setw(8) << "SLOT"
            << std::setw(24) << "FLAGS" << "PATH\n";
        for (const auto& c : s.at("cgroups")) {
            std::string flags;
            for (const auto& f : c.at("flags")) flags += (flags.empty() ? "" : ",") + shown(f);
            out << std::setw(12) << str(c, "cgroup_id") << std::setw(18) << str(c, "function") << std::setw(8)
                << str(c, "policy_id") << std::setw(24) << (flags.empty() ? "-" : flags)
                << str(c, "path", "(inherited)") << "\n";
        }
    }

    out << "\n" << std::setw(24) << "PROGRAM" << std::setw(34) << "HOOK" << std::setw(12) << "ATTACHED"
        << std::setw(14) << "RUNS" << "AVG NS  (bpf_stats " << str(s, "programs_stats") << ")\n";
    for (const auto& prog : s.at("programs")) {
        const uint64_t runs = prog.value("run_count", uint64_t{0});
        const uint64_t ns = prog.value("run_time_ns", uint64_t{0});
        std::string attached = !prog.value("loaded", false) ? "not loaded" : prog.value("attached", false) ? "yes" : "no";
        out << std::setw(24) << str(prog, "name") << std::setw(34) << str(prog, "section") << std::setw(12) << attached
            << std::setw(14) << runs << (runs ? std::to_string(ns / runs) : "-") << "\n";
    }

    const json& kc = s.at("counters").at("kernel");
    const json& dc = s.at("counters").at("daemon");
    out << "\nCOUNTERS kernel: " << str(kc, "events") << " syscalls seen, " << str(kc, "violations") << " violations, "
        << str(kc, "kills") << " killed, " << str(kc, "net_checks") << " network checks ("
        << str(kc, "net_denied") << " denied), " << str(kc, "ringbuf_drops") << " ring-buffer drops\n";
    out << "         files: " << str(kc, "file_checks") << " checked in the kernel, " << str(kc, "file_cache_hits")
        << " answered by the verdict cache, " << str(kc, "file_violations") << " violations decided there, "
        << str(kc, "file_pending") << " sent to userspace (" << str(dc, "file_decided_allowed") << " allowed, "
        << str(dc, "file_decided_violations") << " violations), " << str(kc, "file_pending_lost")
        << " lost (pending map full), " << str(kc, "file_lsm_denied") << " refused by bpf-lsm\n";
    out << "         process: " << str(kc, "process_violations", "0") << " ptrace/bpf/exec-memory violations, "
        << str(kc, "process_denied", "0") << " refused by bpf-lsm\n";
    out << "         exec sha256: " << str(dc, "exec_sha256_hashed", "0") << " files hashed, "
        << str(dc, "exec_sha256_cache_hits", "0") << " answered by the cache, "
        << str(dc, "exec_sha256_mismatches", "0") << " mismatches or unreadable\n";
    out << "         daemon: " << str(dc, "records") << " records, " << str(dc, "malformed") << " malformed, "
        << str(dc, "output_written") << " written, " << str(dc, "output_dropped") << " output drops, "
        << str(dc, "client_dropped") << " client drops, " << str(dc, "clients_refused") << " clients refused, "
        << str(dc, "registrations_refused", "0") << " registrations refused\n";
    if (s.at("counters").contains("webhook")) {
        const json& w = s.at("counters").at("webhook");
        out << "         webhook: " << str(w, "sent_events") << " sent, " << str(w, "failed_attempts")
            << " failed attempts, " << str(w, "dropped") << " dropped, " << str(w, "queued") << " queued\n";
    }
    if (!s.at("clients").empty()) {
        out << "CLIENTS ";
        for (const auto& c : s.at("clients"))
            out << " [" << str(c, "role") << " pid " << str(c, "pid") << " uid " << str(c, "uid") << ", dropped "
                << str(c, "dropped") << "]";
        out << "\n";
    }
}

// ---- trace --------------------------------------------------------------------

std::string short_time(const std::string& rfc3339) {
    // 2026-12-01T20:21:17.123456789Z -> 20:21:17.123
    if (rfc3339.size() >= 23) return rfc3339.substr(11, 12);
    return rfc3339;
}

std::string event_detail(const json& e) {
    const std::string type = str(e, "type");
    if (type == "syscall") {
        // A process rule's violation says which rule; syscalls.allow is the default.
        const std::string rule = str(e, "rule");
        return str(e.at("syscall"), "name") + (rule.rfind("process.", 0) == 0 ? " (" + rule + ")" : "");
    }
    if (type == "file") {
        const json& f = e.at("file");
        std::string path = str(f, "path");
        if (path.empty()) path = str(f, "raw_path");
        if (path.empty() && f.contains("access")) return f.at("access").dump();  // a summary's: rights only
        return str(f, "op") + " " + path;
    }
    if (type == "network") {
        const json& n = e.at("net");
        if (str(n, "family") == "unix") return str(n, "op") + " unix:" + str(n, "path");
        if (!n.contains("daddr") && !n.contains("addr") && !n.contains("saddr"))  // a summary's: port only
            return str(n, "op") + " :" + str(n, "port") + "/" + str(n, "protocol");
        if (n.contains("saddr"))  // accept: who came in, on which of our ports
            return str(n, "op") + " " + str(n, "saddr") + ":" + str(n, "sport") + " -> :" + str(n, "port") + "/" +
                   str(n, "protocol");
        const bool bind = n.contains("addr");
        return str(n, "op") + " " + str(n, bind ? "addr" : "daddr") + ":" + str(n, bind ? "port" : "dport") + "/" +
               str(n, "protocol");
    }
    return shown(e);
}

void print_trace_header(std::ostream& out) {
    out << std::left << std::setw(13) << "TIME" << std::setw(16) << "FUNCTION" << std::setw(8) << "PID"
        << std::setw(16) << "COMM" << std::setw(9) << "EVENT" << std::setw(44) << "DETAIL"
        << "VERDICT\n";
}

void print_trace_row(const json& e, bool color, std::ostream& out) {
    const bool violation = str(e, "verdict") == "violation";
    // A summary of repeats reads as the event it repeats, times N.
    const bool summary = str(e, "type") == "violation_summary" && e.contains("of") && e.at("of").is_object();
    const json& about = summary ? e.at("of") : e;
    std::string kind = str(about, "type");
    if (kind == "file" && str(e, "rule").rfind("exec.", 0) == 0) kind = "exec";
    if (kind == "network") kind = "net";
    std::string verdict = violation ? "VIOLATION " + str(e, "action") : "allowed";
    if (summary) verdict = "VIOLATION x" + str(e, "repeats") + " more";
    if (violation && str(e, "mechanism") != "none" && !str(e, "mechanism").empty())
        verdict += " (" + str(e, "mechanism") + ")";
    std::string detail = event_detail(about);
    if (detail.size() > 43) detail = detail.substr(0, 40) + "...";
    if (color && violation) out << "\033[1;31m";
    out << std::left << std::setw(13) << short_time(str(e, "time")) << std::setw(16) << str(e, "function")
        << std::setw(8) << str(e, "pid") << std::setw(16) << str(e, "comm") << std::setw(9) << kind << std::setw(44)
        << detail << verdict;
    if (color && violation) out << "\033[0m";
    out << "\n";
}

void print_top_header(std::ostream& out) {
    out << std::left << std::setw(18) << "FUNCTION" << std::setw(9) << "CGROUPS" << std::setw(12) << "EVENTS/S"
        << std::setw(14) << "VIOLATIONS/S" << std::setw(12) << "EVENTS" << "VIOLATIONS\n";
}

void print_top_row(const std::string& function, const std::string& cgroups, const std::string& events_rate,
                   const std::string& violations_rate, uint64_t events, uint64_t violations, std::ostream& out) {
    out << std::left << std::setw(18) << display_name(function, kShownBytes) << std::setw(9)
        << display_name(cgroups, kShownBytes) << std::setw(12) << events_rate << std::setw(14) << violations_rate
        << std::setw(12) << events << violations << "\n";
}

}  // namespace fnw::cli
