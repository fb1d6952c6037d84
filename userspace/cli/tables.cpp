// SPDX-License-Identifier: Apache-2.0
#include "cli/tables.hpp"

#include <algorithm>
#include <iomanip>
#include <sstream>

#include "cli/text_table.hpp"
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

void print_daemon_lines(const StatusReply& s, std::ostream& out, bool color) {
    const DaemonInfo& d = s.daemon;
    const PolicySetInfo& p = s.policy_set;
    out << "fnwarden " << shown(d.version) << "  pid " << d.pid << "  up " << format_duration(d.uptime_seconds)
        << "  mode " << shown(d.mode) << "\n";
    out << "rules    " << shown(d.rules) << "  policy set " << shown(p.version) << " (loaded " << shown(p.loaded_at)
        << "; reloads ok " << p.reloads_ok << ", failed " << p.reloads_failed << ")\n";
    if (p.last_reload.result == "error") {
        // No version: the rules were invalid from the start, nothing of them applies.
        out << "  " << paint("LAST RELOAD FAILED", Tone::Bad, color) << " at " << shown(p.last_reload.time)
            << (p.version.empty() ? ": no policy set is in force until the rules are valid\n"
                                  : ": the set above stays in force\n");
        for (const auto& e : p.last_reload.errors) out << "    " << shown(e) << "\n";
    }
    if (s.rules && s.rules->bundle) {  // docs/policy.md, "Signed bundles"
        const BundleInfo& b = *s.rules->bundle;
        out << "bundle   " << (b.digest.empty() ? "none verified" : "sha256 " + b.digest.substr(0, 16) + "  signer " +
                                                        b.signer.substr(0, 16) + "  created " + b.created + "  expires " +
                                                        (b.expires.empty() ? "never" : b.expires))
            << (b.require_signed ? "  (require-signed)" : "") << "\n";
        if (!b.last_refusal_reason.empty())
            out << "  last refusal (" << b.last_refusal_reason << ") at " << shown(b.last_refusal_time) << ": "
                << shown(b.last_refusal) << "\n";
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

void print_functions_and_cgroups(const StatusReply& s, std::ostream& out, bool color) {
    TextTable functions({"FUNCTION", "POLICY", "MODE", "CGROUPS", "EVENTS", "VIOLATIONS", "FILE"});
    for (const auto& f : s.functions)
        functions.add_row({shown(f.function), shown(f.policy), shown(f.mode), std::to_string(f.cgroups),
                           std::to_string(f.events),
                           Cell(std::to_string(f.violations), f.violations ? Tone::Warning : Tone::Plain),
                           shown(f.file)});
    out << "\n";
    functions.print(out, color);
    // Containers' and chroots' roots the rules are compiled in: only when
    // there is one.
    TextTable roots({"FUNCTION", "ROOT (MNT NS, DEV INO)", "PID", "PATH", "DECIDED IN THE KERNEL"});
    for (const auto& f : s.functions) {
        if (!f.roots) continue;
        for (const auto& r : *f.roots) {
            std::string rights;
            for (const auto& right : r.rights) rights += (rights.empty() ? "" : ",") + shown(right);
            roots.add_row({shown(f.function),
                           std::to_string(r.mnt_ns) + " " + shown(r.root_dev) + " " + std::to_string(r.root_ino),
                           std::to_string(r.pid), r.path.empty() ? "-" : shown(r.path), rights.empty() ? "-" : rights});
        }
    }
    if (!roots.empty()) {
        out << "\n";
        roots.print(out, color);
    }
    if (s.cgroups.empty()) return;
    TextTable cgroups({"CGROUP ID", "FUNCTION", "SLOT", "FLAGS", "PATH"});
    for (const auto& c : s.cgroups) {
        std::string flags;
        for (const auto& f : c.flags) flags += (flags.empty() ? "" : ",") + shown(f);
        cgroups.add_row({std::to_string(c.cgroup_id), shown(c.function), std::to_string(c.policy_id),
                         flags.empty() ? "-" : flags, c.path ? shown(*c.path) : "(inherited)"});
    }
    out << "\n";
    cgroups.print(out, color);
}

void print_programs(const StatusReply& s, std::ostream& out, bool color) {
    TextTable programs({"PROGRAM", "HOOK", "ATTACHED", "RUNS", "AVG NS  (bpf_stats " + shown(s.programs_stats) + ")"});
    for (const auto& prog : s.programs) {
        Cell attached = !prog.loaded    ? Cell("not loaded", Tone::Bad)
                        : prog.attached ? Cell("yes")
                                        : Cell("no", Tone::Bad);
        programs.add_row({shown(prog.name), shown(prog.section), std::move(attached), std::to_string(prog.run_count),
                          prog.run_count ? std::to_string(prog.run_time_ns / prog.run_count) : "-"});
    }
    out << "\n";
    programs.print(out, color);
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

void print_status_table(const StatusReply& status, std::ostream& out, bool color) {
    print_daemon_lines(status, out, color);
    print_enforcement(status, out);
    print_functions_and_cgroups(status, out, color);
    print_programs(status, out, color);
    print_counters(status, out);
}

void print_status_table(const json& status, std::ostream& out, bool color) {
    StatusReply typed;
    from_json(status, typed);  // lenient: what is missing prints as empty or 0
    print_status_table(typed, out, color);
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

namespace {

// A trace is a stream: its columns cannot wait for the widest cell, so they
// are fixed and a longer cell is cut ("...") rather than shift its row.
struct TraceColumn {
    const char* title;
    size_t width;  // a space to the next column included; 0: the last column
};
constexpr TraceColumn kTraceColumns[] = {{"TIME", 13},  {"FUNCTION", 24}, {"PID", 8}, {"COMM", 16},
                                         {"EVENT", 9}, {"DETAIL", 44},   {"VERDICT", 0}};

void print_trace_cells(const std::string (&cells)[std::size(kTraceColumns)], Tone verdict_tone, bool color,
                       std::ostream& out) {
    for (size_t i = 0; i < std::size(kTraceColumns); ++i) {
        const size_t width = kTraceColumns[i].width;
        if (width == 0) {
            out << paint(cells[i], verdict_tone, color);
            break;
        }
        const std::string cell = fit_width(cells[i], width - 1);
        out << cell << std::string(width - display_width(cell), ' ');
    }
    out << "\n";
}

// Killed or denied: the function was stopped. Reported (audit): it went
// through and was only reported.
Tone verdict_tone(const std::string& action) {
    return action == "killed" || action == "denied" ? Tone::Bad : Tone::Warning;
}

}  // namespace

void print_trace_header(std::ostream& out) {
    std::string titles[std::size(kTraceColumns)];
    for (size_t i = 0; i < std::size(kTraceColumns); ++i) titles[i] = kTraceColumns[i].title;
    print_trace_cells(titles, Tone::Plain, false, out);
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
    const std::string cells[] = {short_time(str(e, "time")), str(e, "function"), str(e, "pid"), str(e, "comm"),
                                 kind, event_detail(about, known_kind), verdict};
    print_trace_cells(cells, violation ? verdict_tone(str(e, "action")) : Tone::Plain, color, out);
}

void print_top_table(const std::vector<TopRow>& rows, std::ostream& out, bool color) {
    TextTable table({"FUNCTION", "CGROUPS", "EVENTS/S", "VIOLATIONS/S", "EVENTS", "VIOLATIONS"});
    for (const TopRow& row : rows)
        table.add_row({display_name(row.function, kShownBytes), display_name(row.cgroups, kShownBytes),
                       row.events_rate,
                       Cell(row.violations_rate, row.violations_rising ? Tone::Bad : Tone::Plain),
                       std::to_string(row.events), std::to_string(row.violations)});
    table.print(out, color);
}

}  // namespace fnw::cli
