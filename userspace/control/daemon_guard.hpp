// SPDX-License-Identifier: Apache-2.0
// FunctionGuard backed by the host daemon: `fnwarden run` registers its
// function's cgroup over the control socket instead of loading a second
// copy of the probes. The daemon guards the cgroup for as long as this
// connection lives; a daemon whose probes are pinned guards it beyond that
// (the kernel keeps enforcing), and the launcher then waits for the next
// daemon and registers the cgroup again (docs/daemon.md, "Launched
// functions across a restart").
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "control/control_client.hpp"
#include "output/event_json.hpp"
#include "probes/kernel_capabilities.hpp"
#include "runtime/function_runner.hpp"

namespace fnw {

// How long a launcher whose pinned daemon hung up waits for the next one
// before it treats the guard as gone (enforce: the function is killed).
// The unit restarts the daemon after 1 s (RestartSec) and an adopting
// daemon is up within a few seconds; 30 s covers that with room for a slow
// start, and bounds how long the function runs with only the kernel's half
// of the guard (no outputs, no userspace kill-on-violation, no file
// decisions the kernel left to the daemon) when no daemon is coming back.
inline constexpr auto kDaemonResumeBound = std::chrono::seconds(30);
// Between two attempts: a connect to a socket nobody listens on fails at
// once, so trying often costs nothing and finds the new daemon soon after
// it listens.
inline constexpr auto kDaemonResumeRetry = std::chrono::milliseconds(150);

class DaemonGuard final : public FunctionGuard {
public:
    // `ctx` describes the function for the events the launcher produces
    // itself (seccomp denials), which the daemon publishes with its own.
    // `socket_path`: where to find the next daemon after a hang-up.
    DaemonGuard(ControlClient client, std::string socket_path, EventContext ctx)
        : client_(std::move(client)), socket_path_(std::move(socket_path)), ctx_(std::move(ctx)) {}

    Status arm(const GuardRequest& request) override;
    void disarm(uint64_t cgroup_id) override;
    uint32_t policy_id() const override { return policy_id_; }
    // This kernel; the LSM programs are the daemon's (fnwarden status says
    // which loaded): nothing the launcher adds depends on them.
    const EnforcementCapabilities& capabilities() const override { return capabilities_; }
    // -1 while waiting for the next daemon.
    int poll_fd() const override { return client_ ? client_->fd() : -1; }
    // True while connected, and while waiting (bounded) for the next daemon
    // after a pinned one hung up.
    bool service() override;
    void launcher_event(const fnw_syscall_event& event, std::string_view exe) override;

private:
    // Waiting for the next daemon: until when, and when to try next.
    struct Resuming {
        std::chrono::steady_clock::time_point deadline, next_try;
    };
    bool start_resuming();
    // One attempt when due; false once the bound passed or the next daemon
    // refused the cgroup.
    bool try_resume(std::chrono::steady_clock::time_point now);

    std::optional<ControlClient> client_;  // empty while waiting for the next daemon
    std::string socket_path_;
    EventContext ctx_;
    WallClock clock_ = WallClock::now();
    uint32_t policy_id_ = 0;
    // What arm() sent, to send again; whether the daemon said its probes
    // outlive it.
    std::optional<RegisterRequest> registration_;
    bool pinned_ = false;
    std::optional<Resuming> resuming_;
    EnforcementCapabilities capabilities_ =
        enforcement_capabilities(probe_kernel_capabilities(), "loaded by the daemon (see fnwarden status)", {});
};

}  // namespace fnw
