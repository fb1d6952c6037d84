// SPDX-License-Identifier: Apache-2.0
// The daemon's side of the control socket: each request parsed once into
// the protocol's typed request (control/protocol.hpp), one handler per op
// (status, policy, register, unregister, event, trace, reload, container),
// replies built as the protocol's reply structs; and what a client's
// disconnect releases. The wire form is documented in docs/control.md.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/control_socket.hpp"
#include "control/protocol.hpp"
#include "control/register_policy.hpp"
#include "daemon/active_policies.hpp"
#include "daemon/cgroup_identifier.hpp"
#include "daemon/event_router.hpp"
#include "daemon/registrations.hpp"
#include "output/metrics.hpp"
#include "probes/kernel_maps.hpp"

namespace fnw {

class ControlService {
public:
    struct Parts {
        ControlServer& server;
        KernelMaps& maps;
        ActivePolicies& policies;
        Registrations& registrations;
        CgroupIdentifier& identifier;
        EventRouter& router;
    };
    // What the service asks of the daemon around it.
    struct Hooks {
        std::function<StatusReply()> status;
        std::function<bool(const std::string& why)> reload;
        std::function<Status()> attach_landlock_reporting;
        // The kernel keeps guarding registered cgroups after this daemon
        // exits (pinned probes, not unloaded on exit): said in each
        // RegisteredReply. Unset: not pinned.
        std::function<bool()> pinned;
        // Reads a cgroup's facts; unset: inspect_cgroup() (register_policy.hpp).
        // Tests stand in for cgroupfs, which needs root.
        std::function<Result<CgroupFacts>(const std::filesystem::path& parent, const std::string& leaf)>
            inspect_cgroup;
    };
    ControlService(Parts parts, Hooks hooks, std::filesystem::path launcher_parent, std::string admin_group);

    // fnwarden-runtime's containers (control_container.cpp): cgroups
    // anywhere below `cgroup2_root`, registered by root only.
    void set_cgroup2_root(std::filesystem::path cgroup2_root) { cgroup2_root_ = std::move(cgroup2_root); }

    // Refusals go to fnwarden_control_refused_total{reason} too; every
    // reason starts at 0.
    void count_refusals_in(CounterFamily& refused_total);

    void on_message(ClientId client, const nlohmann::json& request);
    void on_disconnect(ClientId client);

    // status: counters.daemon.registrations_refused and counters.control.
    void add_status_counters(StatusCounters& counters) const;
    // status: "clients", as the protocol's StatusReply has them.
    std::vector<ClientInfo> clients_status() const;

private:
    void on_request(ClientId client, const StatusRequest& request);
    void on_request(ClientId client, const PolicyRequest& request);
    void on_request(ClientId client, const RegisterRequest& request);
    void on_request(ClientId client, const UnregisterRequest& request);
    void on_request(ClientId client, const EventRequest& request);
    void on_request(ClientId client, const TraceRequest& request);
    void on_request(ClientId client, const ReloadRequest& request);
    void on_request(ClientId client, const ContainerRequest& request);
    // control_container.cpp: the function a container belongs to, "" none.
    Result<std::string> container_function(const ContainerRequest& request) const;
    ControlReply register_container(ClientId client, const ContainerRequest& request, const std::string& function);
    void on_request(ClientId client, const PolicyReportRequest& request);

    void reply(ClientId client, const ControlReply& reply);
    // Why a request that did not parse is refused: for an event from a
    // client with no registration, that (who may comes before what).
    std::string refusal_of_unparsed(ClientId client, const nlohmann::json& message, const std::string& error) const;
    const Registrations::Map::value_type* registration_of(ClientId client) const;
    ControlReply handle_register(ClientId client, const RegisterRequest& request);
    ErrorReply refuse(const std::string& reason, const std::string& message);
    // "no policy for function ...": for `policy` and `register` alike.
    ErrorReply no_policy_for(const std::string& function) const;
    // Anything already guarding the cgroup: a registration must not replace
    // it, unless it is an adopted entry of `function` (a resume).
    Monitoring monitoring_of(uint64_t cgroup_id, const std::string& function) const;

    Parts parts_;
    Hooks hooks_;
    std::filesystem::path launcher_parent_;
    std::filesystem::path cgroup2_root_;
    std::string admin_group_;
    // Requests refused (docs/threat-model.md, "A hostile control-socket
    // client"), by reason: status and fnwarden_control_refused_total{reason}.
    std::map<std::string, uint64_t> refused_;
    CounterFamily* refused_total_ = nullptr;
};

}  // namespace fnw
