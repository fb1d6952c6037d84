// SPDX-License-Identifier: Apache-2.0
#include "daemon/service_notifier.hpp"

#include <systemd/sd-daemon.h>

namespace fnw {

ServiceNotifier::ServiceNotifier() {
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) interval_ = std::chrono::microseconds(usec);
}

void ServiceNotifier::ready() { sd_notify(0, "READY=1\nSTATUS=guarding"); }

void ServiceNotifier::stopping() { sd_notify(0, "STOPPING=1"); }

void ServiceNotifier::alive(std::chrono::steady_clock::time_point now) {
    if (!interval_) return;
    // Half the interval, as sd_watchdog_enabled(3) advises: one late turn
    // of the loop is not a stall.
    if (last_ping_ && now - *last_ping_ < *interval_ / 2) return;
    if (sd_notify(0, "WATCHDOG=1") > 0) ++pings_;
    last_ping_ = now;
}

}  // namespace fnw
