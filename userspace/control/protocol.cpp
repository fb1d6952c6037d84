// SPDX-License-Identifier: Apache-2.0
#include "control/protocol.hpp"

#include <stdexcept>
#include <type_traits>

#include "common/json_nesting.hpp"

namespace fnw {
namespace {

using nlohmann::json;

const char* const kNotARequest = "a request must be a JSON object with a string \"op\"";

// ---- writing: a key per field; optional ones left out when empty, nullable
// ones written as null.
template <class T>
void put(json& j, const char* key, const T& value) {
    j[key] = value;
}
template <class T>
void put(json& j, const char* key, const std::optional<T>& value) {
    if (value) j[key] = *value;
}
template <class T>
void put(json& j, const char* key, const Nullable<T>& value) {
    j[key] = value ? json(*value) : json(nullptr);
}

// ---- reading: lenient (see the header). Type errors still throw; callers
// catch them at the boundary (parse_reply).
void read(const json& j, std::string& out) {
    out = j.is_string() ? j.get<std::string>() : j.dump(-1, ' ', false, json::error_handler_t::replace);
}
template <class T>
void read(const json& j, T& out) {
    j.get_to(out);
}
template <class T>
void read(const json& j, std::vector<T>& out) {
    if (!j.is_array()) throw std::invalid_argument("expected an array, got " + j.dump());
    out.clear();
    for (const json& element : j) read(element, out.emplace_back());
}
template <class T>
void read(const json& j, std::optional<T>& out) {
    read(j, out.emplace());
}
template <class T>
void read(const json& j, Nullable<T>& out) {
    read(j, out.emplace());
}
// Absent or null: the default stays.
template <class T>
void get(const json& j, const char* key, T& out) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return;
    read(*it, out);
}

void require_object(const json& j, const char* what) {
    if (!j.is_object()) throw std::invalid_argument(std::string(what) + " is not an object: " + j.dump());
}

}  // namespace

#define FNW_PUT_FIELD(field) put(j, #field, v.field);
#define FNW_GET_FIELD(field) get(j, #field, v.field);
// to_json and from_json of a struct whose JSON keys are its field names.
#define FNW_JSON_FIELDS(Type, ...)                                          \
    void to_json(json& j, const Type& v) {                                  \
        j = json::object();                                                 \
        NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(FNW_PUT_FIELD, __VA_ARGS__)) \
    }                                                                       \
    void from_json(const json& j, Type& v) {                                \
        require_object(j, #Type);                                           \
        NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(FNW_GET_FIELD, __VA_ARGS__)) \
    }

FNW_JSON_FIELDS(DaemonInfo, version, started, mode, rules, socket, metrics, output, webhook, pid, uptime_seconds)
FNW_JSON_FIELDS(KernelInfo, release, lsm_programs, seccomp_user_notif, landlock_abi, lsm_hooks, active_lsms)
FNW_JSON_FIELDS(PinnedInfo, origin, dir, why_unpinned, adopted_links, unread_gap_seconds, replaced, unpinned_links)
FNW_JSON_FIELDS(EnforcementInfo, events, launched, watched, not_used)
FNW_JSON_FIELDS(ProgramInfo, name, section, loaded, attached, run_count, run_time_ns)
FNW_JSON_FIELDS(LastReloadInfo, result, time, errors, warnings)
FNW_JSON_FIELDS(PolicySetInfo, version, loaded_at, baseline, reloads_ok, reloads_failed, last_reload)
FNW_JSON_FIELDS(FunctionPoliciesInfo, source, scope, synced, objects, lists, relists_410, reconnects, errors,
                resource_version, last_error, status_patches, status_patch_errors, status_last_error)
FNW_JSON_FIELDS(BundleInfo, file, digest, signer, created, expires, files, pins, require_signed, last_refusal_reason,
                last_refusal, last_refusal_time)
FNW_JSON_FIELDS(RulesInfo, valid, errors, function_policies, bundle)
FNW_JSON_FIELDS(CgroupInfo, cgroup_id, policy_id, function, flags, path, registered_by, launcher, found_by, k8s)
FNW_JSON_FIELDS(GrantsInfo, used, unused, not_counted, observed_seconds)
FNW_JSON_FIELDS(CodePinsInfo, pins, dirs, dirs_not_checked, on_violation)
FNW_JSON_FIELDS(RootInfo, mnt_ns, root_dev, root_ino, pid, path, rights)
FNW_JSON_FIELDS(FunctionInfo, function, policy, file, mode, policy_id, cgroups, events, violations, coverage_gaps,
                usage, code, roots)
FNW_JSON_FIELDS(ControlInfo, register_refused, max_registrations_per_client, admin_group, launcher_parent)
FNW_JSON_FIELDS(WebhookCounters, sent_events, failed_attempts, dropped, queued)
FNW_JSON_FIELDS(StatusCounters, kernel, daemon, control, webhook)
FNW_JSON_FIELDS(KubernetesInfo, node, resource_version, last_error, synced, pods, lists, relists_410, reconnects,
                events, errors, cgroups_waiting_for_their_pod)
FNW_JSON_FIELDS(ClientInfo, id, pid, uid, role, queued_bytes, dropped)
FNW_JSON_FIELDS(StatusReply, daemon, kernel, pinned, enforcement, programs, programs_stats, policy_set, rules,
                cgroups, functions, counters, kubernetes, clients)

void to_json(json& j, const DaemonCounters& v) {
    j = json::object();
    FNW_DAEMON_COUNTERS(FNW_PUT_FIELD)
}
void from_json(const json& j, DaemonCounters& v) {
    require_object(j, "DaemonCounters");
    FNW_DAEMON_COUNTERS(FNW_GET_FIELD)
}

void to_json(json& j, const ProbeCounters& v) {
    j = json::object();
    for (const KernelCounter& counter : kKernelCounters) j[counter.key] = v.*counter.field;
}
void from_json(const json& j, ProbeCounters& v) {
    require_object(j, "ProbeCounters");
    for (const KernelCounter& counter : kKernelCounters) get(j, counter.key, v.*counter.field);
}

// "namespace" is a C++ keyword: the one key that is not its field's name.
void to_json(json& j, const CgroupPodInfo& v) {
    j = {{"namespace", v.namespace_}, {"pod", v.pod}, {"container_id", v.container_id}};
}
void from_json(const json& j, CgroupPodInfo& v) {
    require_object(j, "CgroupPodInfo");
    get(j, "namespace", v.namespace_);
    get(j, "pod", v.pod);
    get(j, "container_id", v.container_id);
}

// ---- requests ------------------------------------------------------------------

namespace {

Result<ControlRequest> parse_register(const json& r) {
    RegisterRequest request;
    request.function = r.at("function").get<std::string>();
    request.cgroup_path = r.value("cgroup_path", "");
    request.pid = r.value("pid", int64_t{0});
    request.trace = r.value("trace", false);
    request.landlock = r.value("landlock", false);
    request.resume = r.value("resume", false);
    if (r.contains("cgroup_id")) request.cgroup_id = r.at("cgroup_id").get<uint64_t>();
    return ControlRequest{std::move(request)};
}

Result<ControlRequest> parse_container(const json& r) {
    ContainerRequest request;
    request.id = r.value("id", "");
    request.cgroup_path = r.value("cgroup_path", "");
    request.function = r.value("function", "");
    request.namespace_ = r.value("namespace", "");
    request.pod = r.value("pod", "");
    request.container = r.value("container", "");
    request.register_cgroup = r.value("register", false);
    request.landlock = r.value("landlock", false);
    return ControlRequest{std::move(request)};
}

Result<ControlRequest> parse_known_op(const std::string& op, const json& r) {
    if (op == "status") return ControlRequest{StatusRequest{}};
    if (op == "reload") return ControlRequest{ReloadRequest{}};
    if (op == "policy") return ControlRequest{PolicyRequest{r.at("function").get<std::string>()}};
    if (op == "policy_report") return ControlRequest{PolicyReportRequest{r.at("function").get<std::string>()}};
    if (op == "register") return parse_register(r);
    if (op == "container") return parse_container(r);
    if (op == "unregister") return ControlRequest{UnregisterRequest{r.at("cgroup_id").get<uint64_t>()}};
    if (op == "trace") {
        Result<TraceRequest> trace = parse_trace_request(r);
        if (!trace) return fail(trace.error());
        return ControlRequest{std::move(*trace)};
    }
    if (op == "event") {
        const json& event = r.at("event");
        if (!event.is_object()) return fail("event must be an object");
        return ControlRequest{EventRequest{event}};
    }
    return fail("unknown op \"" + op + "\" (status, policy, register, unregister, event, trace, reload, container, policy_report)");
}

}  // namespace

const char* op_of(const ControlRequest& request) {
    static constexpr const char* kOps[] = {"status", "policy", "register",  "unregister",   "event",
                                           "trace",  "reload", "container", "policy_report"};
    static_assert(std::size(kOps) == std::variant_size_v<ControlRequest>);
    return kOps[request.index()];
}

Result<json> parse_request_line(std::string_view line) {
    if (json_nesting_exceeds(line, kMaxControlRequestDepth))
        return fail("request nested deeper than " + std::to_string(kMaxControlRequestDepth) + " levels");
    json request;
    try {
        request = json::parse(line);
    } catch (const json::parse_error& e) {
        return fail(std::string("invalid JSON: ") + e.what());
    }
    auto op = request.is_object() ? request.find("op") : request.end();
    if (!request.is_object() || op == request.end() || !op->is_string()) return fail(kNotARequest);
    return request;
}

Result<ControlRequest> parse_request(const json& request) {
    auto op = request.is_object() ? request.find("op") : request.end();
    if (!request.is_object() || op == request.end() || !op->is_string()) return fail(kNotARequest);
    try {
        return parse_known_op(op->get<std::string>(), request);
    } catch (const json::exception& e) {
        return fail(std::string("bad request: ") + e.what());
    }
}

Result<EventKind> parse_trace_kind(std::string_view name) {
    const std::optional<EventKind> kind = parse_event_kind(name);
    if (!kind || *kind == EventKind::ViolationSummary)
        return fail("unknown event kind \"" + std::string(name) + "\" (syscall, file, net, exec)");
    return *kind;
}

Result<TraceRequest> parse_trace_request(const json& r) {
    TraceRequest request;
    for (const json& f : r.value("functions", json::array())) request.functions.push_back(f.get<std::string>());
    for (const json& k : r.value("events", json::array())) {
        std::string kind = k.get<std::string>();
        if (Result<EventKind> known = parse_trace_kind(kind); !known) return fail(known.error());
        request.events.push_back(std::move(kind));
    }
    request.violations_only = r.value("violations_only", false);
    return request;
}

json request_json(const ControlRequest& request) {
    json j = {{"op", op_of(request)}};
    if (auto* r = std::get_if<PolicyRequest>(&request)) j["function"] = r->function;
    if (auto* r = std::get_if<PolicyReportRequest>(&request)) j["function"] = r->function;
    if (auto* r = std::get_if<RegisterRequest>(&request)) {
        j.update({{"function", r->function},
                  {"cgroup_path", r->cgroup_path},
                  {"pid", r->pid},
                  {"trace", r->trace},
                  {"landlock", r->landlock}});
        put(j, "cgroup_id", r->cgroup_id);
        if (r->resume) j["resume"] = true;
    }
    if (auto* r = std::get_if<UnregisterRequest>(&request)) j["cgroup_id"] = r->cgroup_id;
    if (auto* r = std::get_if<ContainerRequest>(&request))
        j.update({{"id", r->id},
                  {"cgroup_path", r->cgroup_path},
                  {"function", r->function},
                  {"namespace", r->namespace_},
                  {"pod", r->pod},
                  {"container", r->container},
                  {"register", r->register_cgroup},
                  {"landlock", r->landlock}});
    if (auto* r = std::get_if<EventRequest>(&request)) j["event"] = r->event;
    if (auto* r = std::get_if<TraceRequest>(&request))
        j.update({{"functions", r->functions}, {"events", r->events}, {"violations_only", r->violations_only}});
    return j;
}

// ---- replies -------------------------------------------------------------------

namespace {

struct ReplyWriter {
    json operator()(const ErrorReply& r) const {
        json j = {{"type", "error"}, {"error", r.error}};
        put(j, "reason", r.reason);
        return j;
    }
    json operator()(const StatusReply& r) const {
        json j = r;
        j["type"] = "status";
        return j;
    }
    json operator()(const PolicyReply& r) const {
        json j = {{"type", "policy"},    {"function", r.function}, {"name", r.name},
                  {"file", r.file},      {"mode", r.mode},         {"version", r.version}};
        put(j, "baseline", r.baseline);
        put(j, "document", r.document);
        put(j, "baseline_document", r.baseline_document);
        return j;
    }
    json operator()(const RegisteredReply& r) const {
        return {{"type", "registered"}, {"cgroup_id", r.cgroup_id}, {"policy_id", r.policy_id},
                {"policy", r.policy},   {"mode", r.mode},         {"pinned", r.pinned}};
    }
    json operator()(const UnregisteredReply& r) const { return {{"type", "unregistered"}, {"cgroup_id", r.cgroup_id}}; }
    json operator()(const SubscribedReply&) const { return {{"type", "subscribed"}}; }
    json operator()(const ReloadedReply& r) const {
        return {{"type", "reloaded"}, {"ok", r.ok}, {"version", r.version}, {"errors", r.errors}};
    }
    json operator()(const EventMessage& r) const { return {{"type", "event"}, {"event", r.event}}; }
    json operator()(const DroppedNotice& r) const { return {{"type", "dropped"}, {"count", r.count}}; }
    json operator()(const ContainerReply& r) const {
        return {{"type", "container"}, {"function", r.function},   {"policy", r.policy},
                {"mode", r.mode},       {"cgroup_id", r.cgroup_id}, {"policy_id", r.policy_id}};
    }
    json operator()(const PolicyReportReply& r) const { return {{"type", "policy_report"}, {"report", r.report}}; }
};

ControlReply read_reply(const std::string& type, const json& j) {
    if (type == "error") {
        ErrorReply r;
        get(j, "error", r.error);
        get(j, "reason", r.reason);
        return r;
    }
    if (type == "status") return j.get<StatusReply>();
    if (type == "policy") {
        PolicyReply r;
        get(j, "function", r.function);
        get(j, "name", r.name);
        get(j, "file", r.file);
        get(j, "mode", r.mode);
        get(j, "version", r.version);
        get(j, "baseline", r.baseline);
        get(j, "document", r.document);
        get(j, "baseline_document", r.baseline_document);
        return r;
    }
    if (type == "registered") {
        RegisteredReply r;
        get(j, "cgroup_id", r.cgroup_id);
        get(j, "policy_id", r.policy_id);
        get(j, "policy", r.policy);
        get(j, "mode", r.mode);
        get(j, "pinned", r.pinned);
        return r;
    }
    if (type == "unregistered") return UnregisteredReply{j.value("cgroup_id", uint64_t{0})};
    if (type == "subscribed") return SubscribedReply{};
    if (type == "reloaded") {
        ReloadedReply r;
        get(j, "ok", r.ok);
        get(j, "version", r.version);
        get(j, "errors", r.errors);
        return r;
    }
    if (type == "event") return EventMessage{j.at("event")};
    if (type == "dropped") return DroppedNotice{j.value("count", uint64_t{0})};
    if (type == "container") {
        ContainerReply r;
        get(j, "function", r.function);
        get(j, "policy", r.policy);
        get(j, "mode", r.mode);
        get(j, "cgroup_id", r.cgroup_id);
        get(j, "policy_id", r.policy_id);
        return r;
    }
    if (type == "policy_report") return PolicyReportReply{j.at("report")};
    throw std::invalid_argument("unknown message type \"" + type + "\"");
}

}  // namespace

json reply_json(const ControlReply& reply) { return std::visit(ReplyWriter{}, reply); }

Result<ControlReply> parse_reply(const json& message) {
    auto type = message.is_object() ? message.find("type") : message.end();
    if (type == message.end() || !type->is_string()) return fail("a message must be a JSON object with a string \"type\"");
    try {
        return read_reply(type->get<std::string>(), message);
    } catch (const std::exception& e) {
        return fail(e.what());
    }
}

}  // namespace fnw
