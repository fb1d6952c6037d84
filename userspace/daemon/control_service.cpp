#include "daemon/control_service.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "core/display_name.hpp"

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
                              RegisterRefusal::monitored, RegisterRefusal::owner}) {
        refused_total_->with({to_string(r)});
        refused_[to_string(r)];
    }
}

const std::map<std::string, ControlService::Handler>& ControlService::handlers() {
    static const std::map<std::string, Handler> by_op = {
        {"status", &ControlService::on_status},         {"policy", &ControlService::on_policy},
        {"register", &ControlService::on_register},     {"unregister", &ControlService::on_unregister},
        {"event", &ControlService::on_event},           {"trace", &ControlService::on_trace},
        {"reload", &ControlService::on_reload},
    };
    return by_op;
}

void ControlService::on_message(ClientId client, const nlohmann::json& request) {
    const std::string op = request.value("op", "");
    try {
        auto handler = handlers().find(op);
        if (handler == handlers().end())
            return reply_error(client,
                               "unknown op \"" + op + "\" (status, policy, register, unregister, event, trace, reload)");
        (this->*handler->second)(client, request);
    } catch (const nlohmann::json::exception& e) {
        reply_error(client, std::string("bad request: ") + e.what());
    }
}

void ControlService::reply_error(ClientId client, const std::string& message) {
    parts_.server.send(client, {{"type", "error"}, {"error", message}});
}

void ControlService::on_status(ClientId client, const nlohmann::json&) {
    parts_.server.send(client, hooks_.status());
    parts_.server.close_after_flush(client);
}

void ControlService::on_policy(ClientId client, const nlohmann::json& request) {
    const std::string function = request.at("function").get<std::string>();
    const PolicySet* set = parts_.policies.set();
    const FunctionPolicy* policy = set ? set->find(function) : nullptr;
    if (!policy)
        return reply_error(client, "no policy for function \"" + function + "\" in " +
                                       parts_.policies.rules_dir().string());
    nlohmann::json reply = {{"type", "policy"},
                            {"function", function},
                            {"name", policy->name},
                            {"file", policy->source},
                            {"mode", to_string(parts_.policies.table().effective_mode_of(*policy))},
                            {"version", set->version}};
    if (set->baseline) reply["baseline"] = set->baseline->source;
    parts_.server.send(client, reply);
}

void ControlService::on_register(ClientId client, const nlohmann::json& request) {
    parts_.server.send(client, handle_register(client, request));
}

void ControlService::on_unregister(ClientId client, const nlohmann::json& request) {
    const uint64_t cgroup_id = request.at("cgroup_id").get<uint64_t>();
    if (parts_.registrations.unregister(client, cgroup_id)) parts_.router.refresh_trace_flags();
    parts_.server.send(client, {{"type", "unregistered"}, {"cgroup_id", cgroup_id}});
}

// An event the launcher produced itself (seccomp stopped the syscall before
// any probe saw it): one stream for everything.
void ControlService::on_event(ClientId client, const nlohmann::json& request) {
    const auto& all = parts_.registrations.all();
    auto reg = std::find_if(all.begin(), all.end(), [&](const auto& r) { return r.second.client == client; });
    if (reg == all.end()) return reply_error(client, "event from a client with no registered function");
    nlohmann::json event = request.at("event");
    if (!event.is_object()) return reply_error(client, "event must be an object");
    event["function"] = reg->second.function;
    event["source"] = "launcher";
    const bool violation = event.value("verdict", "") == "violation";
    parts_.router.publish(event, reg->second.function, reg->first, violation, violation || reg->second.trace);
}

void ControlService::on_trace(ClientId client, const nlohmann::json& request) {
    auto filter = parse_trace_filter(request);
    if (!filter) return reply_error(client, filter.error());
    // One subscription per connection (a second replaces the first):
    // max_clients bounds them, clientQueueBytes what each may queue.
    const auto peer = parts_.server.peer(client);
    if (!peer || !peer->admin) filter->only_uid = peer ? peer->uid : 0;
    parts_.router.subscribe(client, std::move(*filter));
    parts_.server.send(client, {{"type", "subscribed"}});
    parts_.router.refresh_trace_flags();
}

void ControlService::on_reload(ClientId client, const nlohmann::json&) {
    const bool ok = hooks_.reload("requested by client");
    const PolicySet* set = parts_.policies.set();
    parts_.server.send(client, {{"type", "reloaded"},
                                {"ok", ok},
                                {"version", set ? set->version : ""},
                                {"errors", parts_.policies.last_errors()}});
}

void ControlService::on_disconnect(ClientId client) {
    bool changed = parts_.router.unsubscribe(client);
    if (parts_.registrations.release_client(client)) changed = true;
    if (changed) parts_.router.refresh_trace_flags();
}

nlohmann::json ControlService::refuse(const std::string& reason, const std::string& message) {
    ++refused_[reason];
    refused_total_->with({reason}).inc();
    return {{"type", "error"}, {"error", "register refused: " + message}, {"reason", reason}};
}

Monitoring ControlService::monitoring_of(uint64_t cgroup_id) const {
    if (parts_.registrations.contains(cgroup_id)) return Monitoring::registered;
    if (parts_.identifier.find(cgroup_id)) return Monitoring::identified;
    if (parts_.maps.monitored_cgroup(cgroup_id)) return Monitoring::in_kernel;
    return Monitoring::none;
}

// Who may register what: register_policy.hpp. Everything the decision needs
// is read here, from one opened directory and the daemon's own maps.
nlohmann::json ControlService::handle_register(ClientId client, const nlohmann::json& request) {
    const std::optional<ControlPeer> peer = parts_.server.peer(client);
    if (!peer) return {{"type", "error"}, {"error", "client gone"}};
    Registration reg;
    reg.function = request.at("function").get<std::string>();
    reg.path = request.value("cgroup_path", "");
    reg.pid = request.value("pid", 0);
    reg.trace = request.value("trace", false);
    reg.landlock = request.value("landlock", false);
    reg.client = client;
    reg.uid = peer->uid;
    const PolicyTable& table = parts_.policies.table();
    const auto slot = table.slot_of(reg.function);
    if (!slot)
        return {{"type", "error"},
                {"error", "no policy for function \"" + reg.function + "\" in " +
                              parts_.policies.rules_dir().string()}};

    RegisterRequestFacts facts;
    facts.peer_uid = peer->uid;
    facts.peer_privileged = peer->privileged;
    facts.path = reg.path;
    facts.parent = launcher_parent_;
    if (request.contains("cgroup_id")) facts.requested_id = request.at("cgroup_id").get<uint64_t>();
    facts.client_registrations = parts_.registrations.count_of(client);
    if (auto leaf = register_path_leaf(reg.path, launcher_parent_, nullptr)) {
        auto inspected = inspect_cgroup(launcher_parent_, *leaf);
        if (auto* found = std::get_if<CgroupFacts>(&inspected)) {
            facts.cgroup = *found;
            facts.monitoring = monitoring_of(found->id);
        } else {
            facts.open_error = std::get<std::string>(inspected);
        }
    }
    const RegisterDecision decision = authorize_register(facts);
    if (!decision.allowed()) {
        spdlog::warn("{}: register refused to client {} (pid {}, uid {}): {}", display_name(reg.function), client,
                     peer->pid, peer->uid, display_name(decision.message));
        return refuse(to_string(decision.refusal), decision.message);
    }
    const uint64_t cgroup_id = facts.cgroup->id;

    std::string error;
    if (reg.landlock && !hooks_.attach_landlock_reporting(&error)) return {{"type", "error"}, {"error", error}};
    fnw_cgroup_entry entry{};
    entry.policy_id = *slot;
    entry.flags = FNW_CGROUP_ARM_ON_EXEC | (reg.landlock ? uint32_t{FNW_CGROUP_LANDLOCK} : 0u);
    if (!parts_.maps.monitor_cgroup(cgroup_id, entry, &error)) return {{"type", "error"}, {"error", error}};
    const SlotInfo& info = *table.info(*slot);
    spdlog::info("{}: cgroup {} registered by pid {} uid {} (policy {}, {})", display_name(reg.function),
                 display_name(reg.path), reg.pid, reg.uid, display_name(info.policy), to_string(info.mode));
    parts_.identifier.forget(cgroup_id);  // a selector may have matched its birth first: the launcher names it
    parts_.registrations.add(cgroup_id, std::move(reg));
    parts_.router.refresh_trace_flags();  // may set TRACE (launcher --trace, or a trace client)
    return {{"type", "registered"},
            {"cgroup_id", cgroup_id},
            {"policy_id", *slot},
            {"policy", info.policy},
            {"mode", to_string(info.mode)}};
}

void ControlService::add_status_counters(nlohmann::json& counters) const {
    uint64_t refused_total = 0;
    for (const auto& [reason, n] : refused_) refused_total += n;
    counters["daemon"]["registrations_refused"] = refused_total;
    counters["control"] = {{"register_refused", refused_},
                           {"max_registrations_per_client", kMaxRegistrationsPerClient},
                           {"admin_group", admin_group_},
                           {"launcher_parent", launcher_parent_.string()}};
}

nlohmann::json ControlService::clients_status() const {
    nlohmann::json clients = nlohmann::json::array();
    for (const auto& c : parts_.server.stats().clients) {
        std::string role = "client";
        if (parts_.router.subscribed(c.id)) role = "trace";
        for (const auto& [id, reg] : parts_.registrations.all())
            if (reg.client == c.id) role = "run";
        clients.push_back({{"id", c.id},
                           {"pid", c.peer.pid},
                           {"uid", c.peer.uid},
                           {"role", role},
                           {"queued_bytes", c.queued_bytes},
                           {"dropped", c.dropped_total}});
    }
    return clients;
}

}  // namespace fnw
