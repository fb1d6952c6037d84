#include "control/daemon_guard.hpp"

#include <chrono>

#include <spdlog/spdlog.h>

namespace fnw {
namespace {
constexpr auto kRequestTimeout = std::chrono::seconds(5);
}

Status DaemonGuard::arm(const GuardRequest& request) {
    if (request.learn) return fail("learning runs with its own probes (fnwarden learn), not through the daemon");
    RegisterRequest registration{request.function, request.cgroup_id, request.cgroup_path.string(), request.pid,
                                 request.trace, request.landlock};
    auto reply = client_.ask(registration, kRequestTimeout);
    if (!reply) return fail("the daemon did not answer the registration: " + client_.last_error());
    Result<RegisteredReply> registered = expect_reply<RegisteredReply>(*reply);
    if (!registered) return fail("the daemon refused the registration: " + registered.error());
    policy_id_ = registered->policy_id;
    return {};
}

void DaemonGuard::disarm(uint64_t cgroup_id) {
    // Closing the connection would do too; asking keeps the daemon's log exact.
    if (!client_.closed()) client_.ask(UnregisterRequest{cgroup_id}, kRequestTimeout);
}

bool DaemonGuard::service() {
    // The daemon only speaks when asked; anything else on the connection is
    // a notice (or its hang-up). Read it all so the socket never fills.
    while (auto message = client_.receive(std::chrono::milliseconds(0))) {
        Result<ControlReply> notice = parse_reply(*message);
        if (notice && std::holds_alternative<ErrorReply>(*notice))
            spdlog::warn("daemon: {}", std::get<ErrorReply>(*notice).error);
    }
    return !client_.closed();
}

void DaemonGuard::launcher_event(const fnw_syscall_event& record) {
    auto event = to_json(Record(record), ctx_, clock_);
    if (!event) return;
    if (!client_.tell(EventRequest{std::move(*event)}))
        spdlog::warn("{}: could not hand an event to the daemon: {}", ctx_.function, client_.last_error());
}

}  // namespace fnw
