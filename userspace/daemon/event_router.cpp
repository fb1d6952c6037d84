// SPDX-License-Identifier: Apache-2.0
#include "daemon/event_router.hpp"

#include <cstring>

#include <spdlog/spdlog.h>

#include <fnwarden/events.h>

#include "core/display_name.hpp"
#include "core/event_kind.hpp"
#include "daemon/clock.hpp"

namespace fnw {
namespace {

const SlotInfo& slot_or_unknown(const PolicyTable& table, uint32_t slot) {
    static const SlotInfo unknown{"unknown", "", "", Mode::Audit, {}};
    const SlotInfo* info = table.info(slot);
    return info ? *info : unknown;
}

}  // namespace

Result<TraceFilter> trace_filter_of(const TraceRequest& request) {
    TraceFilter filter;
    filter.functions.insert(request.functions.begin(), request.functions.end());
    for (const std::string& name : request.events) {
        Result<EventKind> kind = parse_trace_kind(name);
        if (!kind) return fail(kind.error());
        filter.kinds.insert(*kind);
    }
    filter.violations_only = request.violations_only;
    return filter;
}

void EventRouter::handle_record(std::span<const std::byte> record) {
    ++records_;
    auto decoded = decode_record(record);
    if (!decoded) {
        ++malformed_;
        return;
    }
    const fnw_event_header hdr = header(*decoded);
    if (const auto* birth = std::get_if<CgroupRecord>(&*decoded)) return handle_birth(hdr, **birth);
    const SlotInfo& slot = slot_or_unknown(parts_.table, hdr.policy_id);
    if (const auto* file = std::get_if<FileRecord>(&*decoded); file && (*file)->verdict == FNW_VERDICT_PENDING)
        compile_in_root_of(hdr);
    // Pinned execs come back later, through the hash worker (the loop).
    respond_to_record(std::move(*decoded), slot.kill, [this](const Record& r) { publish_record(r); }, &parts_.files,
                      &parts_.lineage);
}

// The kernel decides a miss only for tasks in a root the slot's rules were
// compiled in (path.bpf.h, rules_root_rights); a container's process gets
// there through its first access that comes here. This one is decided by
// name as before; the next are the kernel's. A held process waits. Asked
// for every such record: a process changes roots (runc's init pivots and
// execs the entrypoint), and a known root costs a few stat() calls.
void EventRouter::compile_in_root_of(const fnw_event_header& hdr) {
    Result<bool> added = parts_.maps.add_rules_root(hdr.policy_id, static_cast<pid_t>(hdr.pid));
    const SlotInfo* info = parts_.table.info(hdr.policy_id);
    const std::string function = info ? display_name(info->function) : "slot " + std::to_string(hdr.policy_id);
    if (!added)  // most often the process is gone already
        spdlog::debug("{}: file rules not compiled in the root of pid {}: {}", function, hdr.pid, added.error());
    else if (*added)
        spdlog::info("{}: file rules compiled in the root of pid {} (policy slot {}): the kernel decides there",
                     function, hdr.pid, hdr.policy_id);
}

// Identity input, not a policy event: match it, publish nothing.
void EventRouter::handle_birth(const fnw_event_header& hdr, const fnw_cgroup_event& birth) {
    ++births_seen_;
    if (birth.path_truncated) {
        spdlog::warn("cgroup {} has a path longer than {} bytes: no selector can match it", hdr.cgroup_id,
                     FNW_CGROUP_PATH_MAX - 1);
        return;
    }
    if (parts_.identifier.wants_births())
        parts_.identifier.identify(hdr.cgroup_id, std::string(bounded(birth.path)), birth.parent_id, "cgroupPath");
}


void EventRouter::publish_record(const Record& r) {
    const fnw_event_header& hdr = header(r);
    const SlotInfo& slot = slot_or_unknown(parts_.table, hdr.policy_id);
    // A capture group in a cgroupPath selector names the function per cgroup.
    const IdentifiedCgroup* found = parts_.identifier.find(hdr.cgroup_id);
    const std::string& function = found ? found->function : slot.function;
    const bool violation = is_violation(r);  // the file decider may have decided it
    // /proc lookups only for violations: a traced flood must stay cheap.
    EventContext ctx{function, slot.policy, slot.mode, /*resolve_exe=*/violation, slot.refused_interpreters};
    if (slot.interpreter_rules) name_glob_program_interpreter(r, *slot.interpreter_rules, ctx);
    auto event = to_json(r, ctx, clock_);
    if (!event) {
        ++malformed_;
        return;
    }
    if (found && !found->k8s_pod.empty())
        (*event)["k8s"] = {
            {"namespace", found->k8s_namespace}, {"pod", found->k8s_pod}, {"container", found->container_name},
            {"container_id", found->container_id}};
    // Allowed events reach the outputs only when a launcher asked for
    // --trace; a trace client's interest is its own.
    bool to_outputs = violation;
    if (!violation) {
        const Registration* reg = parts_.registrations.find(hdr.cgroup_id);
        to_outputs = reg && reg->trace;
    }
    publish(*event, function, hdr.cgroup_id, violation, to_outputs);
    const uint64_t now = boot_now_ns();
    if (now > hdr.boot_ns) metrics_.latency->with({}).observe(static_cast<double>(now - hdr.boot_ns) / 1e9);
}

void EventRouter::publish(const nlohmann::json& event, const std::string& function, uint64_t cgroup_id,
                          bool violation, bool to_outputs) {
    const std::string type = event.value("type", "unknown");
    count(event, type, function, violation);
    std::string line = event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (!subscribers_.empty()) send_to_subscribers(event, line, function, cgroup_id, violation);
    if (to_outputs && !parts_.output.push(std::move(line))) ++output_refused_;
}

void EventRouter::count(const nlohmann::json& event, const std::string& type, const std::string& function,
                        bool violation) {
    metrics_.events_total->with({type}).inc();
    if (type == "violation_summary" && event.contains("of") && event["of"].is_object()) {
        // Repeats the kernel counted: N violations of the kind they repeat.
        const uint64_t repeats = event.value("repeats", uint64_t{0});
        per_function_.count(function, true, repeats);
        metrics_.violations_total->with({function, event["of"].value("type", "unknown"), "repeated"}).inc(repeats);
    } else {
        per_function_.count(function, violation);
        if (violation) metrics_.violations_total->with({function, type, event.value("action", "")}).inc();
    }
}

void EventRouter::send_to_subscribers(const nlohmann::json& event, const std::string& line,
                                      const std::string& function, uint64_t cgroup_id, bool violation) {
    const std::string message = R"({"type":"event","event":)" + line + "}";
    for (const auto& [client, filter] : subscribers_) {
        if (!filter.matches(event, function, violation) || !may_see(filter, cgroup_id)) continue;
        if (client == kLocalClient) {
            local_trace_(event);
            ++traced_sent_;
        } else if (server_ && server_->send_line(client, message)) {
            ++traced_sent_;
        }
    }
}

bool EventRouter::may_see(const TraceFilter& filter, uint64_t cgroup_id) const {
    if (!filter.only_uid) return true;
    const Registration* reg = parts_.registrations.find(cgroup_id);
    return reg && reg->uid == *filter.only_uid;
}

void EventRouter::refresh_trace_flags() {
    std::set<std::string> traced;
    std::set<uint64_t> traced_cgroups;  // for members who see only their own
    const auto& registrations = parts_.registrations.all();
    for (const auto& [id, reg] : registrations)
        if (reg.trace) traced.insert(reg.function);
    for (const auto& [client, filter] : subscribers_) {
        if (filter.only_uid) {
            // Only the cgroups its uid registered: a member must not turn on
            // allowed events (ring-buffer load) for everybody's functions.
            for (const auto& [id, reg] : registrations)
                if (reg.uid == *filter.only_uid && filter.wants_allowed_events_of(reg.function))
                    traced_cgroups.insert(id);
            continue;
        }
        for (const auto& [fn, slot] : parts_.table.function_slots())
            if (filter.wants_allowed_events_of(fn)) traced.insert(fn);
    }
    auto monitored = parts_.maps.monitored_cgroups();
    parts_.monitored_count = monitored.size();
    for (auto [cgroup_id, entry] : monitored) {
        const SlotInfo* info = parts_.table.info(entry.policy_id);
        if (!info) continue;
        const bool want = traced.count(info->function) > 0 || traced_cgroups.count(cgroup_id) > 0;
        if (want == ((entry.flags & FNW_CGROUP_TRACE) != 0)) continue;
        entry.flags = want ? (entry.flags | FNW_CGROUP_TRACE) : (entry.flags & ~uint32_t{FNW_CGROUP_TRACE});
        // Best effort: a failed update leaves the entry's TRACE flag as it was.
        static_cast<void>(parts_.maps.monitor_cgroup(cgroup_id, entry));
    }
}

void EventRouter::add_status_counters(DaemonCounters& daemon_counters) const {
    daemon_counters.records = records_;
    daemon_counters.malformed = malformed_;
    daemon_counters.traced_sent = traced_sent_;
    daemon_counters.cgroup_births_seen = births_seen_;
    daemon_counters.functions_overflow_events = per_function_.overflow().events;
}

}  // namespace fnw
