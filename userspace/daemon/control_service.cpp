// SPDX-License-Identifier: Apache-2.0
#include "daemon/control_service.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "core/display_name.hpp"
#include "daemon/grant_reports.hpp"
#include "output/event_stamp.hpp"

namespace fnw {

ControlService::ControlService(Parts parts, Hooks hooks, std::filesystem::path launcher_parent,
                               std::string admin_group)
    : parts_(parts),
      hooks_(std::move(hooks)),
      launcher_parent_(std::move(launcher_parent)),
      admin_group_(std::move(admin_group)) {}

void ControlService::count_refusals_in(CounterFamily& refused_total) {
    refused_total_ = &refused_total;
    // Every reason from the start, at 0: "no refusal", not "no data".
    for (RegisterRefusal r : {RegisterRefusal::limit, RegisterRefusal::path, RegisterRefusal::cgroup_id,
                              RegisterRefusal::monitored, RegisterRefusal::owner, RegisterRefusal::resume}) {
        refused_total_->with({to_string(r)});
        refused_[to_string(r)];
    }
}

void ControlService::on_message(ClientId client, const nlohmann::json& message) {
    Result<ControlRequest> request = parse_request(message);
    if (!request) return reply(client, ErrorReply{refusal_of_unparsed(client, message, request.error())});
    try {
        std::visit([&](const auto& typed) { on_request(client, typed); }, *request);
    } catch (const nlohmann::json::exception& e) {
        reply(client, ErrorReply{std::string("bad request: ") + e.what()});  // an event's members, read as used
    }
}

std::string ControlService::refusal_of_unparsed(ClientId client, const nlohmann::json& message,
                                                const std::string& error) const {
    auto op = message.is_object() ? message.find("op") : message.end();
    if (op != message.end() && *op == "event" && !registration_of(client))
        return "event from a client with no registered function";
    return error;
}

void ControlService::reply(ClientId client, const ControlReply& reply) {
    parts_.server.send(client, reply_json(reply));
}

const Registrations::Map::value_type* ControlService::registration_of(ClientId client) const {
    for (const auto& entry : parts_.registrations.all())
        if (entry.second.client == client) return &entry;
    return nullptr;
}

void ControlService::on_request(ClientId client, const StatusRequest&) {
    parts_.server.send(client, reply_json(hooks_.status()));
    parts_.server.close_after_flush(client);
}

void ControlService::on_request(ClientId client, const PolicyRequest& request) {
    const PolicySet* set = parts_.policies.set();
    const FunctionPolicy* policy = set ? set->find(request.function) : nullptr;
    if (!policy) return reply(client, no_policy_for(request.function));
    PolicyReply answer{request.function, policy->name, policy->source,
                       std::string(to_string(parts_.policies.table().effective_mode_of(*policy))), set->version};
    if (set->baseline) answer.baseline = set->baseline->source;
    if (const std::string* text = parts_.policies.document_of(policy->source)) answer.document = *text;
    if (const std::string* text = set->baseline ? parts_.policies.document_of(set->baseline->source) : nullptr)
        answer.baseline_document = *text;
    reply(client, answer);
}

void ControlService::on_request(ClientId client, const PolicyReportRequest& request) {
    auto report = function_grant_report(parts_.policies, parts_.maps, request.function, std::chrono::steady_clock::now());
    if (!report) return reply(client, ErrorReply{report.error()});
    reply(client, PolicyReportReply{grant_report_json(*report)});
}

void ControlService::on_request(ClientId client, const RegisterRequest& request) {
    reply(client, handle_register(client, request));
}

void ControlService::on_request(ClientId client, const UnregisterRequest& request) {
    if (parts_.registrations.unregister(client, request.cgroup_id)) parts_.router.refresh_trace_flags();
    reply(client, UnregisteredReply{request.cgroup_id});
}

// An event the launcher produced itself (seccomp stopped the syscall before
// any probe saw it): one stream for everything.
void ControlService::on_request(ClientId client, const EventRequest& request) {
    const auto* reg = registration_of(client);
    if (!reg) return reply(client, ErrorReply{"event from a client with no registered function"});
    nlohmann::json event = request.event;
    event["function"] = reg->second.function;
    event["source"] = "launcher";
    stamp_event(event);  // this daemon's host and ids, whatever the client sent
    const bool violation = event.value("verdict", "") == "violation";
    parts_.router.publish(event, reg->second.function, reg->first, violation, violation || reg->second.trace);
}

void ControlService::on_request(ClientId client, const TraceRequest& request) {
    auto filter = trace_filter_of(request);
    if (!filter) return reply(client, ErrorReply{filter.error()});
    // One subscription per connection (a second replaces the first):
    // max_clients bounds them, clientQueueBytes what each may queue.
    const auto peer = parts_.server.peer(client);
    if (!peer || !peer->admin) filter->only_uid = peer ? peer->uid : 0;
    parts_.router.subscribe(client, std::move(*filter));
    reply(client, SubscribedReply{});
    parts_.router.refresh_trace_flags();
}

void ControlService::on_request(ClientId client, const ReloadRequest&) {
    const bool ok = hooks_.reload("requested by client");
    const PolicySet* set = parts_.policies.set();
    reply(client, ReloadedReply{ok, set ? set->version : "", parts_.policies.last_errors()});
}

void ControlService::on_disconnect(ClientId client) {
    bool changed = parts_.router.unsubscribe(client);
    if (parts_.registrations.release_client(client)) changed = true;
    if (changed) parts_.router.refresh_trace_flags();
}

// With no set in force at all the launcher's user should learn why, not
// look for a typo in the function's name.
ErrorReply ControlService::no_policy_for(const std::string& function) const {
    std::string error = "no policy for function \"" + function + "\" in " + parts_.policies.rules_dir().string();
    if (!parts_.policies.set())
        error += " (its rules are invalid, so no policy set is in force: `fnwarden status` shows the errors)";
    return ErrorReply{error};
}

ErrorReply ControlService::refuse(const std::string& reason, const std::string& message) {
    ++refused_[reason];
    refused_total_->with({reason}).inc();
    return ErrorReply{"register refused: " + message, reason};
}

Monitoring ControlService::monitoring_of(uint64_t cgroup_id, const std::string& function) const {
    if (parts_.registrations.contains(cgroup_id)) return Monitoring::registered;
    if (parts_.identifier.find(cgroup_id)) return Monitoring::identified;
    const std::optional<fnw_cgroup_entry> entry = parts_.maps.monitored_cgroup(cgroup_id);
    if (!entry) return Monitoring::none;
    // Adopted for this function, and still pointing at one of its slots
    // (the adopted one, or the one the first reload moved it to).
    const std::string* adopted = parts_.registrations.adopted_function(cgroup_id);
    const SlotInfo* slot = parts_.policies.table().info(entry->policy_id);
    if (adopted && *adopted == function && slot && slot->function == function) return Monitoring::adopted;
    return Monitoring::in_kernel;
}

// Who may register what: register_policy.hpp. Everything the decision needs
// is read here, from one opened directory and the daemon's own maps.
ControlReply ControlService::handle_register(ClientId client, const RegisterRequest& request) {
    const std::optional<ControlPeer> peer = parts_.server.peer(client);
    if (!peer) return ErrorReply{"client gone"};
    Registration reg;
    reg.function = request.function;
    reg.path = request.cgroup_path;
    reg.pid = static_cast<pid_t>(request.pid);
    reg.trace = request.trace;
    reg.landlock = request.landlock;
    reg.client = client;
    reg.uid = peer->uid;
    const PolicyTable& table = parts_.policies.table();
    const auto slot = table.slot_of(reg.function);
    if (!slot) return no_policy_for(reg.function);

    RegisterRequestFacts facts;
    facts.peer_uid = peer->uid;
    facts.peer_privileged = peer->privileged;
    facts.path = reg.path;
    facts.parent = launcher_parent_;
    facts.requested_id = request.cgroup_id;
    facts.client_registrations = parts_.registrations.count_of(client);
    facts.resume = request.resume;
    if (auto leaf = register_path_leaf(reg.path, launcher_parent_)) {
        auto inspected = hooks_.inspect_cgroup ? hooks_.inspect_cgroup(launcher_parent_, *leaf)
                                               : inspect_cgroup(launcher_parent_, *leaf);
        if (inspected) {
            facts.cgroup = *inspected;
            facts.monitoring = monitoring_of(inspected->id, reg.function);
        } else {
            facts.open_error = inspected.error();
        }
    }
    const RegisterDecision decision = authorize_register(facts);
    if (!decision.allowed()) {
        spdlog::warn("{}: register refused to client {} (pid {}, uid {}): {}", display_name(reg.function), client,
                     peer->pid, peer->uid, display_name(decision.message));
        return refuse(to_string(decision.refusal), decision.message);
    }
    const uint64_t cgroup_id = facts.cgroup->id;

    if (reg.landlock) {
        if (Status attached = hooks_.attach_landlock_reporting(); !attached) return ErrorReply{attached.error()};
    }
    if (!request.resume) {
        fnw_cgroup_entry entry{};
        entry.policy_id = *slot;
        entry.flags = FNW_CGROUP_ARM_ON_EXEC | (reg.landlock ? uint32_t{FNW_CGROUP_LANDLOCK} : 0u);
        if (Status monitored = parts_.maps.monitor_cgroup(cgroup_id, entry); !monitored)
            return ErrorReply{monitored.error()};
    }
    // Resumed: the adopted entry stays as the earlier daemon left it, armed
    // since the function's exec (ARM_ON_EXEC again would leave it unchecked
    // until its next exec), on the function's slot (moved by reloads).
    const SlotInfo& info = *table.info(*slot);
    spdlog::info("{}: cgroup {} {} by pid {} uid {} (policy {}, {})", display_name(reg.function),
                 display_name(reg.path), request.resume ? "registered again (resumed)" : "registered", reg.pid,
                 reg.uid, display_name(info.policy), to_string(info.mode));
    parts_.identifier.forget(cgroup_id);  // a selector may have matched its birth first: the launcher names it
    parts_.registrations.add(cgroup_id, std::move(reg));
    parts_.router.refresh_trace_flags();  // may set TRACE (launcher --trace, or a trace client)
    const bool pinned = hooks_.pinned && hooks_.pinned();
    return RegisteredReply{cgroup_id, *slot, info.policy, std::string(to_string(info.mode)), pinned};
}

void ControlService::add_status_counters(StatusCounters& counters) const {
    counters.control = ControlInfo{refused_, kMaxRegistrationsPerClient, admin_group_, launcher_parent_.string()};
    counters.daemon.registrations_refused = 0;
    for (const auto& [reason, n] : refused_) counters.daemon.registrations_refused += n;
}

std::vector<ClientInfo> ControlService::clients_status() const {
    std::vector<ClientInfo> clients;
    for (const auto& c : parts_.server.stats().clients) {
        std::string role = "client";
        if (parts_.router.subscribed(c.id)) role = "trace";
        if (registration_of(c.id)) role = "run";
        clients.push_back(ClientInfo{c.id, c.peer.pid, c.peer.uid, role, c.queued_bytes, c.dropped_total});
    }
    return clients;
}

}  // namespace fnw
