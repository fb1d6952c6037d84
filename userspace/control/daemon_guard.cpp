// SPDX-License-Identifier: Apache-2.0
#include "control/daemon_guard.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace fnw {
namespace {
constexpr auto kRequestTimeout = std::chrono::seconds(5);
// While resuming, the run loop waits on each attempt: short, so signals and
// seccomp notifications are not held up long by a daemon still starting.
constexpr auto kResumeRequestTimeout = std::chrono::seconds(2);

long long seconds(std::chrono::steady_clock::duration d) {
    return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}
}  // namespace

Status DaemonGuard::arm(const GuardRequest& request) {
    if (request.learn) return fail("learning runs with its own probes (fnwarden learn), not through the daemon");
    RegisterRequest registration{request.function, request.cgroup_id, request.cgroup_path.string(), request.pid,
                                 request.trace, request.landlock};
    auto reply = client_->ask(registration, kRequestTimeout);
    if (!reply) return fail("the daemon did not answer the registration: " + client_->last_error());
    Result<RegisteredReply> registered = expect_reply<RegisteredReply>(*reply);
    if (!registered) return fail("the daemon refused the registration: " + registered.error());
    policy_id_ = registered->policy_id;
    pinned_ = registered->pinned;
    registration.cgroup_id = registered->cgroup_id;
    registration_ = std::move(registration);
    return {};
}

void DaemonGuard::disarm(uint64_t cgroup_id) {
    // Closing the connection would do too; asking keeps the daemon's log exact.
    if (client_ && !client_->closed()) client_->ask(UnregisterRequest{cgroup_id}, kRequestTimeout);
}

bool DaemonGuard::service() {
    if (resuming_) return try_resume(std::chrono::steady_clock::now());
    // The daemon only speaks when asked; anything else on the connection is
    // a notice (or its hang-up). Read it all so the socket never fills.
    while (auto message = client_->receive(std::chrono::milliseconds(0))) {
        Result<ControlReply> notice = parse_reply(*message);
        if (notice && std::holds_alternative<ErrorReply>(*notice))
            spdlog::warn("daemon: {}", std::get<ErrorReply>(*notice).error);
    }
    if (!client_->closed()) return true;
    return pinned_ && registration_ && start_resuming();
}

// The daemon's pinned probes still check the function: it runs on while
// the launcher looks for the next daemon.
bool DaemonGuard::start_resuming() {
    const auto now = std::chrono::steady_clock::now();
    spdlog::warn("{}: the daemon hung up; its pinned probes keep guarding the function; waiting up to {} s for "
                 "the next daemon at {}",
                 ctx_.function, seconds(kDaemonResumeBound), socket_path_);
    client_.reset();  // its fd leaves the run loop's poll set
    resuming_ = Resuming{now + kDaemonResumeBound, now + kDaemonResumeRetry};
    return true;
}

bool DaemonGuard::try_resume(std::chrono::steady_clock::time_point now) {
    if (now < resuming_->next_try) return true;
    if (now >= resuming_->deadline) {
        spdlog::error("{}: no daemon at {} took the function back within {} s", ctx_.function, socket_path_,
                      seconds(kDaemonResumeBound));
        resuming_.reset();
        return false;
    }
    resuming_->next_try = now + kDaemonResumeRetry;
    const auto timeout = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(resuming_->deadline - now),
                                    std::chrono::milliseconds(1), std::chrono::milliseconds(kResumeRequestTimeout));
    auto connected = ControlClient::connect(socket_path_, timeout);
    if (!connected) return true;  // not listening yet
    RegisterRequest again = *registration_;
    again.resume = true;
    auto reply = connected->ask(again, timeout);
    if (!reply) return true;  // still starting, or gone again: next attempt
    Result<RegisteredReply> registered = expect_reply<RegisteredReply>(*reply);
    if (!registered) {
        spdlog::error("{}: the daemon at {} refused to take the function back: {}", ctx_.function, socket_path_,
                      registered.error());
        resuming_.reset();
        return false;
    }
    spdlog::info("{}: registered again with the daemon at {} (policy {}, {} mode)", ctx_.function, socket_path_,
                 registered->policy, registered->mode);
    policy_id_ = registered->policy_id;
    pinned_ = registered->pinned;
    client_.emplace(std::move(*connected));
    resuming_.reset();
    return true;
}

void DaemonGuard::launcher_event(const fnw_syscall_event& record, std::string_view exe) {
    auto event = to_json(Record(record), ctx_, clock_, exe);
    if (!event) return;
    if (!client_) {
        spdlog::warn("{}: an event the launcher produced is lost: no daemon to hand it to (waiting for the next one)",
                     ctx_.function);
        return;
    }
    if (!client_->tell(EventRequest{std::move(*event)}))
        spdlog::warn("{}: could not hand an event to the daemon: {}", ctx_.function, client_->last_error());
}

}  // namespace fnw
