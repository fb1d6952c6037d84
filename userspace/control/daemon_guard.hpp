// FunctionGuard backed by the host daemon: `fnwarden run` registers its
// function's cgroup over the control socket instead of loading a second
// copy of the probes. The daemon guards the cgroup for as long as this
// connection lives.
#pragma once

#include <cstdint>
#include <string>

#include "control/control_client.hpp"
#include "output/event_json.hpp"
#include "probes/kernel_capabilities.hpp"
#include "runtime/function_runner.hpp"

namespace fnw {

class DaemonGuard final : public FunctionGuard {
public:
    // `ctx` describes the function for the events the launcher produces
    // itself (seccomp denials), which the daemon publishes with its own.
    DaemonGuard(ControlClient client, EventContext ctx) : client_(std::move(client)), ctx_(std::move(ctx)) {}

    Status arm(const GuardRequest& request) override;
    void disarm(uint64_t cgroup_id) override;
    uint32_t policy_id() const override { return policy_id_; }
    // This kernel; the LSM programs are the daemon's (fnwarden status says
    // which loaded): nothing the launcher adds depends on them.
    const EnforcementCapabilities& capabilities() const override { return capabilities_; }
    int poll_fd() const override { return client_.fd(); }
    bool service() override;
    void launcher_event(const fnw_syscall_event& event) override;

private:
    ControlClient client_;
    EventContext ctx_;
    WallClock clock_ = WallClock::now();
    uint32_t policy_id_ = 0;
    EnforcementCapabilities capabilities_ =
        enforcement_capabilities(probe_kernel_capabilities(), "loaded by the daemon (see fnwarden status)", {});
};

}  // namespace fnw
