// SPDX-License-Identifier: Apache-2.0
#include "daemon/event_router.hpp"

#include <algorithm>
#include <array>
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
    compile_rules_in_root_of(parts_.maps, *decoded, slot.function);
    // Pinned execs come back later, through the hash worker (the loop).
    respond_to_record(std::move(*decoded), slot.kill, [this](const Record& r) { publish_record(r); }, &parts_.files,
                      &parts_.lineage);
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
    // Allowed events reach the outputs only when a launcher asked for
    // --trace; a trace client's interest is its own.
    bool to_outputs = violation;
    if (!violation) {
        const Registration* reg = parts_.registrations.find(hdr.cgroup_id);
        to_outputs = reg && reg->trace;
    }
    const Destination to{function, hdr.cgroup_id, violation, to_outputs};
    if (const auto* syscall = std::get_if<fnw_syscall_event>(&r)) {
        publish_syscall(*syscall, slot, found, to);
    } else if (!publish_as_json(r, slot, found, to)) {
        return;
    }
    if (published_++ % kLatencyClockEvery == 0 || hdr.boot_ns >= latency_clock_ns_) latency_clock_ns_ = boot_now_ns();
    if (latency_clock_ns_ > hdr.boot_ns) latency_.observe(static_cast<double>(latency_clock_ns_ - hdr.boot_ns) / 1e9);
}

// The trace flood: one line written straight from the record (what
// to_json(...).dump() writes, output/event_line.hpp), no JSON object unless
// this process's own trace asks for one.
void EventRouter::publish_syscall(const fnw_syscall_event& ev, const SlotInfo& slot, const IdentifiedCgroup* found,
                                  const Destination& to) {
    line_.clear();
    // /proc lookups only for violations: a traced flood must stay cheap.
    const LineContext ctx{to.function, slot.policy, slot.mode, /*resolve_exe=*/to.violation, k8s_json(found)};
    // A violation names the image it ran, read now as before: the process
    // may have exec'd since a cached read (the router sees execs as exec
    // records, which the line writer's cache does not).
    if (to.violation) syscall_lines_.forget_exe(ev.hdr.tid);
    syscall_lines_.append(ev, ctx, line_);
    syscall_events_.inc();
    per_function_.count(to.function, to.violation);
    if (to.violation)
        metrics_.violations_total->with({to.function, std::string(json_type(EventKind::Syscall)),
                                         std::string(action_name(ev.action))}).inc();
    deliver(EventKind::Syscall, nullptr, to);
}

// Every other record (files, network, exec, summaries: far fewer) through
// the JSON encoder. False when the record is no event.
bool EventRouter::publish_as_json(const Record& r, const SlotInfo& slot, const IdentifiedCgroup* found,
                                  const Destination& to) {
    EventContext ctx{to.function, slot.policy, slot.mode, /*resolve_exe=*/to.violation, slot.refused_interpreters};
    if (slot.interpreter_rules) name_glob_program_interpreter(r, *slot.interpreter_rules, ctx);
    auto event = to_json(r, ctx, clock_);
    if (!event) {
        ++malformed_;
        return false;
    }
    if (found && !found->k8s_pod.empty()) (*event)["k8s"] = k8s_object(*found);
    publish(*event, to.function, to.cgroup_id, to.violation, to.to_outputs);
    return true;
}

nlohmann::json EventRouter::k8s_object(const IdentifiedCgroup& cgroup) {
    return {{"namespace", cgroup.k8s_namespace}, {"pod", cgroup.k8s_pod}, {"container", cgroup.container_name},
            {"container_id", cgroup.container_id}};
}

// The serialized "k8s" object of the last pod seen: a flood is one cgroup's.
std::string_view EventRouter::k8s_json(const IdentifiedCgroup* found) {
    if (!found || found->k8s_pod.empty()) return {};
    const std::array<std::string_view, 4> key{found->k8s_namespace, found->k8s_pod, found->container_name,
                                              found->container_id};
    if (!std::equal(key.begin(), key.end(), k8s_key_.begin(), k8s_key_.end())) {
        k8s_key_.assign(key.begin(), key.end());
        k8s_json_ = k8s_object(*found).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    return k8s_json_;
}

void EventRouter::publish(const nlohmann::json& event, const std::string& function, uint64_t cgroup_id,
                          bool violation, bool to_outputs) {
    const std::string type = event.value("type", "unknown");
    count(event, type, function, violation);
    line_ = event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    deliver(trace_kind_of(event), &event, Destination{function, cgroup_id, violation, to_outputs});
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

// line_ to the trace subscribers that want it, and to the outputs. `event`
// is the line's JSON when the caller built it; this process's own trace
// (which takes JSON) parses the line otherwise.
void EventRouter::deliver(std::optional<EventKind> kind, const nlohmann::json* event, const Destination& to) {
    if (!subscribers_.empty()) {
        message_.assign(R"({"type":"event","event":)");
        message_ += line_;
        message_.push_back('}');
        for (const auto& [client, filter] : subscribers_) {
            if (!filter.matches(kind, to.function, to.violation) || !may_see(filter, to.cgroup_id)) continue;
            if (client == kLocalClient) {
                local_trace_(event ? *event : nlohmann::json::parse(line_));
                ++traced_sent_;
            } else if (server_ && server_->send_line(client, message_)) {
                ++traced_sent_;
            }
        }
    }
    if (to.to_outputs && !parts_.output.push(line_)) ++output_refused_;
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
