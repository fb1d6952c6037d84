// SPDX-License-Identifier: Apache-2.0
#include "cli/tables.hpp"

#include <algorithm>
#include <iomanip>
#include <sstream>

#include "core/display_name.hpp"
#include "core/event_kind.hpp"
#include "output/event_json.hpp"
#include "probes/probe_counters.hpp"

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

namespace {

std::string shown(const std::string& text) { return display_name(text, kShownBytes); }

// "12 syscalls seen": the number and the words FNW_KERNEL_COUNTERS gives it.
std::string counted(const ProbeCounters& kernel, uint64_t ProbeCounters::*field) {
    return std::to_string(kernel.*field) + " " + kernel_counter(field).cli_text;
}

void print_daemon_lines(const StatusReply& s, std::ostream& out) {
    const DaemonInfo& d = s.daemon;
    const PolicySetInfo& p = s.policy_set;
    out << "fnwarden " << shown(d.version) << "  pid " << d.pid << "  up " << format_duration(d.uptime_seconds)
        << "  mode " << shown(d.mode) << "\n";
    out << "rules    " << shown(d.rules) << "  policy set " << shown(p.version) << " (loaded " << shown(p.loaded_at)
        << "; reloads ok " << p.reloads_ok << ", failed " << p.reloads_failed << ")\n";
    if (p.last_reload.result == "error") {
        // No version: the rules were invalid from the start, nothing of them applies.
        out << "  LAST RELOAD FAILED at " << shown(p.last_reload.time)
            << (p.version.empty() ? ": no policy set is in force until the rules are valid\n"
                                  : ": the set above stays in force\n");
        for (const auto& e : p.last_reload.errors) out << "    " << shown(e) << "\n";
    }
    const KernelInfo& k = s.kernel;
    out << "kernel   " << shown(k.release) << "  seccomp user_notif " << (k.seccomp_user_notif ? "yes" : "no")
        << "  landlock " << (k.landlock_abi ? "ABI " + std::to_string(*k.landlock_abi) : "no")
        << "  bpf-lsm programs " << shown(k.lsm_programs) << "\n";
    if (!k.lsm_hooks.empty()) {
        // One line when every hook shares its state (all refused for the
        // same reason here), else one per hook.
        const std::string& first = k.lsm_hooks.begin()->second;
        const bool same = std::all_of(k.lsm_hooks.begin(), k.lsm_hooks.end(),
                                      [&](const auto& hook) { return hook.second == first; });
        if (same)
            out << "         all " << k.lsm_hooks.size() << " lsm hooks: " << shown(first) << "\n";
        else
            for (const auto& [hook, state] : k.lsm_hooks)
                out << "         lsm/" << display_name(hook) << ": " << shown(state) << "\n";
    }
    const PinnedInfo pin = s.pinned.value_or(PinnedInfo{});
    if (!s.pinned) {
        // A daemon from before pinning: nothing to say.
    } else if (pin.origin == "unpinned" || pin.origin.empty()) {
        out << "pinned   no: the probes detach when the daemon exits"
            << (pin.why_unpinned.empty() ? "" : " (" + shown(pin.why_unpinned) + ")") << "\n";
    } else {
        std::ostringstream gap;
        if (pin.unread_gap_seconds) gap << ", unread for " << std::fixed << std::setprecision(1) << *pin.unread_gap_seconds << " s";
        out << "pinned   " << shown(pin.origin) << " " << shown(pin.dir) << " (" << pin.adopted_links << " links adopted"
            << gap.str() << (pin.replaced.empty() ? "" : ", replacing " + std::to_string(pin.replaced.size()) + " older")
            << "): enforcement outlives the daemon\n";
        for (const auto& link : pin.unpinned_links) out << "         not pinned: " << shown(link) << "\n";
    }
    out << "outputs  " << shown(d.output) << (d.webhook.empty() ? "" : ", webhook " + shown(d.webhook))
        << "  metrics " << (d.metrics.empty() ? "off" : "http://" + shown(d.metrics) + "/metrics") << "  socket "
        << shown(d.socket) << "\n\n";
}

void print_enforcement(const StatusReply& s, std::ostream& out) {
    out << "ENFORCEMENT (strongest mechanism that works on this kernel)\n";
    for (const auto& row : s.enforcement) {
        out << "  " << std::left << std::setw(9) << shown(row.events) << "fnwarden run: " << shown(row.launched)
            << "\n";
        out << "  " << std::setw(9) << "" << "other cgroups: " << shown(row.watched) << "\n";
        for (const auto& why : row.not_used) out << "  " << std::setw(9) << "" << "  not used: " << shown(why) << "\n";
    }
}

void print_functions_and_cgroups(const StatusReply& s, std::ostream& out) {
    out << "\n" << std::left << std::setw(18) << "FUNCTION" << std::setw(18) << "POLICY" << std::setw(9) << "MODE"
        << std::setw(9) << "CGROUPS" << std::setw(10) << "EVENTS" << std::setw(11) << "VIOLATIONS" << "FILE\n";
    for (const auto& f : s.functions)
        out << std::setw(18) << shown(f.function) << std::setw(18) << shown(f.policy) << std::setw(9) << shown(f.mode)
            << std::setw(9) << f.cgroups << std::setw(10) << f.events << std::setw(11) << f.violations
            << shown(f.file) << "\n";
    if (s.cgroups.empty()) return;
    out << "\n" << std::setw(12) << "CGROUP ID" << std::setw(18) << "FUNCTION" << std::setw(8) << "SLOT"
        << std::setw(24) << "FLAGS" << "PATH\n";
    for (const auto& c : s.cgroups) {
        std::string flags;
        for (const auto& f : c.flags) flags += (flags.empty() ? "" : ",") + shown(f);
        out << std::setw(12) << c.cgroup_id << std::setw(18) << shown(c.function) << std::setw(8) << c.policy_id
            << std::setw(24) << (flags.empty() ? "-" : flags) << (c.path ? shown(*c.path) : "(inherited)") << "\n";
    }
}

void print_programs(const StatusReply& s, std::ostream& out) {
    out << "\n" << std::setw(24) << "PROGRAM" << std::setw(34) << "HOOK" << std::setw(12) << "ATTACHED"
        << std::setw(14) << "RUNS" << "AVG NS  (bpf_stats " << shown(s.programs_stats) << ")\n";
    for (const auto& prog : s.programs) {
        std::string attached = !prog.loaded ? "not loaded" : prog.attached ? "yes" : "no";
        out << std::setw(24) << shown(prog.name) << std::setw(34) << shown(prog.section) << std::setw(12) << attached
            << std::setw(14) << prog.run_count
            << (prog.run_count ? std::to_string(prog.run_time_ns / prog.run_count) : "-") << "\n";
    }
}

void print_counters(const StatusReply& s, std::ostream& out) {
    const ProbeCounters& k = s.counters.kernel;
    const DaemonCounters& d = s.counters.daemon;
    using P = ProbeCounters;
    out << "\nCOUNTERS kernel: " << counted(k, &P::events) << ", " << counted(k, &P::violations) << ", "
        << counted(k, &P::kills) << ", " << counted(k, &P::net_checks) << " (" << counted(k, &P::net_denied) << "), "
        << counted(k, &P::ringbuf_drops) << "\n";
    out << "         files: " << counted(k, &P::file_checks) << ", " << counted(k, &P::file_cache_hits) << ", "
        << counted(k, &P::file_violations) << ", " << counted(k, &P::file_pending) << " (" << d.file_decided_allowed
        << " allowed, " << d.file_decided_violations << " violations), " << counted(k, &P::file_pending_lost) << ", "
        << counted(k, &P::file_lsm_denied) << "\n";
    out << "         process: " << counted(k, &P::process_violations) << ", " << counted(k, &P::process_denied) << "\n";
    out << "         exec sha256: " << d.exec_sha256_hashed << " files hashed, " << d.exec_sha256_cache_hits
        << " answered by the cache, " << d.exec_sha256_mismatches << " mismatches or unreadable\n";
    out << "         daemon: " << d.records << " records, " << d.malformed << " malformed, " << d.output_written
        << " written, " << d.output_dropped << " output drops, " << d.client_dropped << " client drops, "
        << d.clients_refused << " clients refused, " << d.registrations_refused << " registrations refused\n";
    if (const auto& w = s.counters.webhook)
        out << "         webhook: " << w->sent_events << " sent, " << w->failed_attempts << " failed attempts, "
            << w->dropped << " dropped, " << w->queued << " queued\n";
    if (s.clients.empty()) return;
    out << "CLIENTS ";
    for (const auto& c : s.clients)
        out << " [" << shown(c.role) << " pid " << c.pid << " uid " << c.uid << ", dropped " << c.dropped << "]";
    out << "\n";
}

}  // namespace

void print_status_table(const StatusReply& status, std::ostream& out) {
    print_daemon_lines(status, out);
    print_enforcement(status, out);
    print_functions_and_cgroups(status, out);
    print_programs(status, out);
    print_counters(status, out);
}

void print_status_table(const json& status, std::ostream& out) {
    StatusReply typed;
    from_json(status, typed);  // lenient: what is missing prints as empty or 0
    print_status_table(typed, out);
}

// ---- trace --------------------------------------------------------------------

std::string short_time(const std::string& rfc3339) {
    // 2026-12-01T20:21:17.123456789Z -> 20:21:17.123
    if (rfc3339.size() >= 23) return rfc3339.substr(11, 12);
    return rfc3339;
}

// `kind`: the event's, parsed once by the caller (print_trace_row).
std::string event_detail(const json& e, std::optional<EventKind> kind) {
    if (kind == EventKind::Syscall) {
        // A process rule's violation says which rule; syscalls.allow is the default.
        const std::string rule = str(e, "rule");
        return str(e.at("syscall"), "name") + (rule.rfind("process.", 0) == 0 ? " (" + rule + ")" : "");
    }
    if (kind == EventKind::File || kind == EventKind::Exec) {
        const json& f = e.at("file");
        std::string path = str(f, "path");
        if (path.empty()) path = str(f, "raw_path");
        if (path.empty() && f.contains("access")) return f.at("access").dump();  // a summary's: rights only
        return str(f, "op") + " " + path;
    }
    if (kind == EventKind::Net) {
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
    const bool summary =
        event_kind_of(e) == EventKind::ViolationSummary && e.contains("of") && e.at("of").is_object();
    const json& about = summary ? e.at("of") : e;
    const auto known_kind = trace_kind_of(e);
    const std::string kind = known_kind ? std::string(to_string(*known_kind)) : str(about, "type");
    std::string verdict = violation ? "VIOLATION " + str(e, "action") : "allowed";
    if (summary) verdict = "VIOLATION x" + str(e, "repeats") + " more";
    if (violation && str(e, "mechanism") != "none" && !str(e, "mechanism").empty())
        verdict += " (" + str(e, "mechanism") + ")";
    std::string detail = event_detail(about, known_kind);
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
