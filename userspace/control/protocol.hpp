// SPDX-License-Identifier: Apache-2.0
// The control protocol, typed: one struct per request and per reply, shared
// by the daemon (parse a request, serialise a reply) and its clients (build a
// request, parse the reply). The wire format is unchanged: one JSON object
// per line, requests {"op": ...}, replies {"type": ...}; docs/daemon.md.
//
// Parsing never throws: a request the daemon cannot act on is an Error whose
// message goes back to the client as {"type":"error"}. Replies are read
// leniently (a missing key keeps its default, a number where text is
// expected is shown as text), so a CLI still prints what an older or newer
// daemon sends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "core/event_kind.hpp"
#include "probes/probe_counters.hpp"

namespace fnw {

// Past this a request is refused before it is parsed: nlohmann's parser is
// iterative, but dump() and the handlers recurse.
inline constexpr size_t kMaxControlRequestDepth = 64;

// Absent: key left out of the JSON. Nullable: key present, null when empty.
template <class T>
struct Nullable : std::optional<T> {
    using std::optional<T>::optional;
    using std::optional<T>::operator=;
};

// ---- requests ------------------------------------------------------------------

struct StatusRequest {};
struct PolicyRequest {
    std::string function;
};
struct RegisterRequest {
    std::string function;
    std::optional<uint64_t> cgroup_id;  // checked against the directory when sent
    std::string cgroup_path;
    int64_t pid = 0;
    bool trace = false;
    bool landlock = false;
    // The launcher registers again, after its daemon hung up, a cgroup whose
    // function already runs: the daemon accepts it only if the kernel entry
    // is one it adopted from the pinned set for the same function, and
    // leaves that entry as it is (docs/daemon.md, "Launched functions across
    // a restart"). Sent only when true.
    bool resume = false;
};
struct UnregisterRequest {
    uint64_t cgroup_id = 0;
};
// An event the launcher produced itself (seccomp stopped the syscall before
// any probe saw it), in the daemon's event JSON.
struct EventRequest {
    nlohmann::json event = nlohmann::json::object();
};
struct TraceRequest {
    std::vector<std::string> functions;  // empty: all
    std::vector<std::string> events;     // syscall, file, net, exec; empty: all
    bool violations_only = false;
};
struct ReloadRequest {};
// fnwarden-runtime (root only): which function a container about to start
// belongs to, and, with register_cgroup, its cgroup guarded from the
// container's entrypoint on (armed past the container's init). The
// registration outlives the connection: it ends with the cgroup.
struct ContainerRequest {
    std::string id;           // the OCI container id (for the log)
    std::string cgroup_path;  // absolute, under the daemon's cgroup2 mount
    std::string function;     // the fnwarden.io/function annotation, "" when absent
    std::string namespace_, pod, container;  // Kubernetes annotations ("namespace" on the wire)
    bool register_cgroup = false;            // "register" on the wire
    bool landlock = false;                   // the init applies Landlock: report EACCES
};

// fnwarden policy report: which grants of a function's policy went unused.
struct PolicyReportRequest {
    std::string function;
};

using ControlRequest = std::variant<StatusRequest, PolicyRequest, RegisterRequest, UnregisterRequest, EventRequest,
                                    TraceRequest, ReloadRequest, ContainerRequest, PolicyReportRequest>;

// The op of each request type, as sent.
const char* op_of(const ControlRequest& request);

// A request line as the server receives it: not deeper than
// kMaxControlRequestDepth, valid JSON, an object with a string "op". The
// errors are the texts the server sends back.
Result<nlohmann::json> parse_request_line(std::string_view line);
// The typed request, or why it is not one ("unknown op ...", "bad request:
// ...", "unknown event kind ...").
Result<ControlRequest> parse_request(const nlohmann::json& request);
// The members of a trace request ({"functions", "events",
// "violations_only"}; "op" not needed: the daemon's own `trace` builds one
// too). Throws nlohmann::json::exception on wrongly typed members, which
// parse_request turns into "bad request: ...".
Result<TraceRequest> parse_trace_request(const nlohmann::json& request);
// A kind a trace may ask for (syscall, file, net, exec): the one check of
// the names, for the parser and for whoever turns a TraceRequest into a
// filter.
Result<EventKind> parse_trace_kind(std::string_view name);
nlohmann::json request_json(const ControlRequest& request);

// ---- replies -------------------------------------------------------------------

struct ErrorReply {
    std::string error;
    std::optional<std::string> reason;  // register refusals: RegisterRefusal's label
};
struct PolicyReply {
    std::string function, name, file, mode, version;
    std::optional<std::string> baseline;
    // From a signed bundle there is no file to read: the verified texts.
    std::optional<std::string> document, baseline_document;
};
struct RegisteredReply {
    uint64_t cgroup_id = 0;
    uint32_t policy_id = 0;
    std::string policy, mode;
    // The daemon's probes are pinned and stay when it exits: the kernel
    // keeps guarding the cgroup while no daemon runs, so the launcher may
    // wait for the next one instead of killing the function.
    bool pinned = false;
};
struct UnregisteredReply {
    uint64_t cgroup_id = 0;
};
// The answer to ContainerRequest: function "" when no policy takes the
// container; cgroup_id 0 when nothing was registered.
struct ContainerReply {
    std::string function, policy, mode;
    uint64_t cgroup_id = 0;
    uint32_t policy_id = 0;
};
struct SubscribedReply {};
struct ReloadedReply {
    bool ok = false;
    std::string version;
    std::vector<std::string> errors;
};
// One event of a trace subscription.
struct EventMessage {
    nlohmann::json event = nlohmann::json::object();
};
// The grant report (output/grant_report_json.hpp: the same JSON that
// `run --report` writes).
struct PolicyReportReply {
    nlohmann::json report = nlohmann::json::object();
};
// Messages the server dropped for a client that read too slowly.
struct DroppedNotice {
    uint64_t count = 0;
};

// ---- status ----------------------------------------------------------------------

struct DaemonInfo {
    std::string version, started, mode, rules, socket, metrics, output, webhook;
    int64_t pid = 0;
    int64_t uptime_seconds = 0;
};
struct KernelInfo {
    std::string release, lsm_programs;
    bool seccomp_user_notif = false;
    Nullable<int64_t> landlock_abi;
    std::map<std::string, std::string> lsm_hooks;  // hook -> "loaded" or why not
    Nullable<std::vector<std::string>> active_lsms;  // null: securityfs not mounted
};
// Where the probes live in bpffs, and how this daemon came by them
// (probes/pinned_set.hpp): the enforcement that outlives the daemon.
struct PinnedInfo {
    std::string origin;  // unpinned | fresh | adopted | replacing
    std::string dir, why_unpinned;
    uint64_t adopted_links = 0;
    // Adopted: how long no daemon read the rings before this one.
    Nullable<double> unread_gap_seconds;
    std::vector<std::string> replaced, unpinned_links;
};
struct EnforcementInfo {
    std::string events, launched, watched;
    std::vector<std::string> not_used;
};
struct ProgramInfo {
    std::string name, section;
    bool loaded = false, attached = false;
    uint64_t run_count = 0, run_time_ns = 0;
};
struct LastReloadInfo {
    std::string result, time;
    std::vector<std::string> errors, warnings;
};
struct PolicySetInfo {
    std::string version, loaded_at, baseline;
    uint64_t reloads_ok = 0, reloads_failed = 0;
    LastReloadInfo last_reload;
};
// Whether the rules directory, as last read, is the set in force, and if
// not, why (the reload's errors).
// FunctionPolicy objects from the Kubernetes API (policySource kubernetes
// or both): whether the list is in, and what went wrong reading it. An
// object's own errors are in RulesInfo::errors, named
// "functionpolicies/NAMESPACE/NAME".
struct FunctionPoliciesInfo {
    std::string source;  // kubernetes | both
    std::string scope;   // "" every namespace, else the one watched
    bool synced = false;
    uint64_t objects = 0, lists = 0, relists_410 = 0, reconnects = 0, errors = 0;
    std::string resource_version, last_error;
    // Verdicts written into the objects' status (functionPolicyStatus).
    uint64_t status_patches = 0, status_patch_errors = 0;
    std::string status_last_error;
};
// A signed bundle (--bundle) or --require-signed: the bundle in force and
// the last refusal (docs/policy.md, "Signed bundles").
struct BundleInfo {
    std::string file, digest, signer, created, expires;  // of the bundle in force; expires "" = none
    uint64_t files = 0, pins = 0;
    bool require_signed = false;
    std::string last_refusal_reason, last_refusal, last_refusal_time;  // "" none yet
};
struct RulesInfo {
    bool valid = false;
    std::vector<std::string> errors;
    std::optional<FunctionPoliciesInfo> function_policies;  // absent: files only
    std::optional<BundleInfo> bundle;                       // absent: no bundle, not require-signed
};
struct CgroupPodInfo {
    std::string namespace_, pod, container_id;  // "namespace" on the wire
};
struct CgroupInfo {
    uint64_t cgroup_id = 0;
    uint32_t policy_id = 0;
    std::string function;
    std::vector<std::string> flags;
    std::optional<std::string> path;  // absent: inherited from a monitored parent
    std::optional<int64_t> registered_by;
    std::optional<std::string> launcher, found_by;
    std::optional<CgroupPodInfo> k8s;
};
// How many grants of a function's policy were used since its slot was
// written (core/grant_usage.hpp): counts only, `policy report` lists them.
struct GrantsInfo {
    uint64_t used = 0, unused = 0, not_counted = 0;
    double observed_seconds = 0;
};
// A function's code pins (a signed bundle's): how many, the code
// directories the kernel checks and those it cannot (with why), and what a
// file that is not the pinned code gets.
struct CodePinsInfo {
    uint64_t pins = 0;
    std::vector<std::string> dirs, dirs_not_checked;
    std::string on_violation;  // "held, then killed" or "reported"
};
// A root besides fnwarden's own that the function's file rules are
// compiled in (a container's, a chroot's): where the kernel decides for it.
struct RootInfo {
    uint32_t mnt_ns = 0;      // the mount namespace's inode number (/proc/PID/ns/mnt)
    std::string root_dev;     // "major:minor" of the root directory, as the kernel reads it
    uint64_t root_ino = 0;
    int64_t pid = 0;          // a process living in it
    std::string path;         // that process's root as the daemon sees it ("" once gone)
    std::vector<std::string> rights;  // decided in the kernel there
};
struct FunctionInfo {
    std::string function, policy, file, mode;
    uint32_t policy_id = 0;
    uint64_t cgroups = 0, events = 0, violations = 0, coverage_gaps = 0;
    // Absent where the kernel does not count them. Named to sort after
    // "mode": scripts match `"function":...,"mode":...` in the JSON.
    std::optional<GrantsInfo> usage;
    std::optional<CodePinsInfo> code;  // absent without pins
    std::optional<std::vector<RootInfo>> roots;  // absent while there is none
};

// counters.daemon: what the daemon counts itself, listed once like the
// kernel's (key = field).
#define FNW_DAEMON_COUNTERS(X)                                                                                     \
    X(records) X(file_decided_allowed) X(file_decided_violations) X(file_verdicts_remembered)                     \
    X(file_rule_objects_replaced) X(file_rule_refreshes) X(violation_repeats_reported) X(exec_sha256_mismatches) \
    X(exec_sha256_hashed) X(exec_sha256_cache_hits) X(exec_sha256_not_regular) X(exec_sha256_too_large)           \
    X(exec_sha256_late) X(exec_sha256_pending) X(exec_hash_threads_stuck) X(kills_sent) X(kill_target_gone)       \
    X(kill_not_the_event_process) X(malformed) X(traced_sent) X(cgroup_births_seen)                               \
    X(cgroup_rescans_after_lost_births) X(cgroups_identified) X(nested_matches_refused)                           \
    X(launcher_cgroups_emptied) X(launcher_cgroups_removed) X(output_written) X(output_dropped) X(output_queued)  \
    X(client_dropped) X(clients_refused) X(functions_overflow_events) X(registrations_refused)                     \
    X(holds_released) X(holds_killed) X(holds_gone) X(holds_expired)

struct DaemonCounters {
#define FNW_DAEMON_COUNTER_FIELD(field) uint64_t field = 0;
    FNW_DAEMON_COUNTERS(FNW_DAEMON_COUNTER_FIELD)
#undef FNW_DAEMON_COUNTER_FIELD
};
struct ControlInfo {
    std::map<std::string, uint64_t> register_refused;  // by RegisterRefusal label
    uint64_t max_registrations_per_client = 0;
    std::string admin_group, launcher_parent;
};
struct WebhookCounters {
    uint64_t sent_events = 0, failed_attempts = 0, dropped = 0, queued = 0;
};
struct StatusCounters {
    ProbeCounters kernel;
    DaemonCounters daemon;
    ControlInfo control;
    std::optional<WebhookCounters> webhook;  // with a webhook only
};
struct KubernetesInfo {
    std::string node, resource_version, last_error;
    bool synced = false;
    uint64_t pods = 0, lists = 0, relists_410 = 0, reconnects = 0, events = 0, errors = 0;
    uint64_t cgroups_waiting_for_their_pod = 0;
};
struct ClientInfo {
    uint64_t id = 0;
    int64_t pid = 0;
    uint64_t uid = 0;
    std::string role;  // client, trace, run
    uint64_t queued_bytes = 0, dropped = 0;
};
// The answer to `status`, one part per component of the daemon.
struct StatusReply {
    DaemonInfo daemon;
    KernelInfo kernel;
    std::optional<PinnedInfo> pinned;  // absent from daemons before pinning
    std::vector<EnforcementInfo> enforcement;
    std::vector<ProgramInfo> programs;
    std::string programs_stats;  // "on" or "off: why"
    PolicySetInfo policy_set;
    // Absent from daemons older than it (they exited on invalid rules).
    std::optional<RulesInfo> rules;
    std::vector<CgroupInfo> cgroups;
    std::vector<FunctionInfo> functions;
    StatusCounters counters;
    Nullable<KubernetesInfo> kubernetes;  // null without a pod watcher
    std::vector<ClientInfo> clients;
};

using ControlReply = std::variant<ErrorReply, StatusReply, PolicyReply, RegisteredReply, UnregisteredReply,
                                  SubscribedReply, ReloadedReply, EventMessage, DroppedNotice, ContainerReply,
                                  PolicyReportReply>;

// The reply with its "type"; what the server sends.
nlohmann::json reply_json(const ControlReply& reply);
// Any message from the daemon: the variant its "type" names.
Result<ControlReply> parse_reply(const nlohmann::json& message);
// The reply when it is of type R; an ErrorReply's text (or the unexpected
// type) otherwise.
template <class R>
Result<R> expect_reply(const nlohmann::json& message) {
    Result<ControlReply> parsed = parse_reply(message);
    if (!parsed) return parsed.wrap("unreadable reply");
    if (auto* wanted = std::get_if<R>(&*parsed)) return std::move(*wanted);
    if (auto* error = std::get_if<ErrorReply>(&*parsed)) return fail(error->error);
    return fail("unexpected reply: " + message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

// Field-wise JSON of each part (no "type"): the daemon builds its status
// from them. Reading is lenient, as said at the top.
#define FNW_PROTOCOL_JSON(Type)                      \
    void to_json(nlohmann::json& j, const Type& v); \
    void from_json(const nlohmann::json& j, Type& v);
FNW_PROTOCOL_JSON(ProbeCounters)
FNW_PROTOCOL_JSON(DaemonCounters)
FNW_PROTOCOL_JSON(DaemonInfo)
FNW_PROTOCOL_JSON(KernelInfo)
FNW_PROTOCOL_JSON(PinnedInfo)
FNW_PROTOCOL_JSON(EnforcementInfo)
FNW_PROTOCOL_JSON(ProgramInfo)
FNW_PROTOCOL_JSON(LastReloadInfo)
FNW_PROTOCOL_JSON(PolicySetInfo)
FNW_PROTOCOL_JSON(FunctionPoliciesInfo)
FNW_PROTOCOL_JSON(BundleInfo)
FNW_PROTOCOL_JSON(RulesInfo)
FNW_PROTOCOL_JSON(CgroupPodInfo)
FNW_PROTOCOL_JSON(CgroupInfo)
FNW_PROTOCOL_JSON(GrantsInfo)
FNW_PROTOCOL_JSON(RootInfo)
FNW_PROTOCOL_JSON(FunctionInfo)
FNW_PROTOCOL_JSON(ControlInfo)
FNW_PROTOCOL_JSON(WebhookCounters)
FNW_PROTOCOL_JSON(StatusCounters)
FNW_PROTOCOL_JSON(KubernetesInfo)
FNW_PROTOCOL_JSON(ClientInfo)
FNW_PROTOCOL_JSON(StatusReply)
#undef FNW_PROTOCOL_JSON

}  // namespace fnw
