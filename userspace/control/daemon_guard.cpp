#include "control/daemon_guard.hpp"

#include <chrono>

#include <spdlog/spdlog.h>

namespace fnw {
namespace {
constexpr auto kRequestTimeout = std::chrono::seconds(5);
}

bool DaemonGuard::arm(const GuardRequest& request, std::string* error) {
    if (request.learn) {
        if (error) *error = "learning runs with its own probes (fnwarden learn), not through the daemon";
        return false;
    }
    auto reply = client_.request({{"op", "register"},
                                  {"function", request.function},
                                  {"cgroup_id", request.cgroup_id},
                                  {"cgroup_path", request.cgroup_path.string()},
                                  {"pid", request.pid},
                                  {"trace", request.trace},
                                  {"landlock", request.landlock}},
                                 kRequestTimeout);
    if (!reply) {
        if (error) *error = "the daemon did not answer the registration: " + client_.last_error();
        return false;
    }
    if (reply->value("type", "") != "registered") {
        if (error) *error = "the daemon refused the registration: " + reply->value("error", reply->dump());
        return false;
    }
    policy_id_ = reply->value("policy_id", 0u);
    return true;
}

void DaemonGuard::disarm(uint64_t cgroup_id) {
    // Closing the connection would do too; asking keeps the daemon's log exact.
    if (!client_.closed()) client_.request({{"op", "unregister"}, {"cgroup_id", cgroup_id}}, kRequestTimeout);
}

bool DaemonGuard::service() {
    // The daemon only speaks when asked; anything else on the connection is
    // a notice (or its hang-up). Read it all so the socket never fills.
    while (auto message = client_.receive(std::chrono::milliseconds(0))) {
        if (message->value("type", "") == "error") spdlog::warn("daemon: {}", message->value("error", ""));
    }
    return !client_.closed();
}

void DaemonGuard::launcher_event(std::span<const std::byte> record) {
    auto event = event_to_json(record, ctx_, clock_);
    if (!event) return;
    if (!client_.send({{"op", "event"}, {"event", *event}}))
        spdlog::warn("{}: could not hand an event to the daemon: {}", ctx_.function, client_.last_error());
}

}  // namespace fnw
