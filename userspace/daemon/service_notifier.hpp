// SPDX-License-Identifier: Apache-2.0
// What the daemon tells its service manager: ready once the control socket
// and probes are up, alive on every turn of the event loop, stopping on
// exit. Under systemd with WatchdogSec= a loop that stops turning (a hash,
// a read, a lock that should never block) stops the pings, and systemd
// kills and restarts the daemon (docs/daemon.md, "Watchdog"). Without
// NOTIFY_SOCKET every call does nothing.
//
// libsystemd's sd_notify() and sd_watchdog_enabled() speak the protocol
// (a datagram to $NOTIFY_SOCKET, $WATCHDOG_USEC/$WATCHDOG_PID): systemd's
// own implementation, instead of a hand-written copy of it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace fnw {

class ServiceNotifier {
public:
    // Reads $WATCHDOG_USEC/$WATCHDOG_PID once (the variables stay set).
    ServiceNotifier();

    void ready();
    void stopping();
    // Pings the watchdog when half its interval passed since the last ping.
    void alive(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

    std::optional<std::chrono::microseconds> watchdog_interval() const { return interval_; }
    uint64_t pings() const { return pings_; }

private:
    std::optional<std::chrono::microseconds> interval_;
    std::optional<std::chrono::steady_clock::time_point> last_ping_;
    uint64_t pings_ = 0;
};

}  // namespace fnw
