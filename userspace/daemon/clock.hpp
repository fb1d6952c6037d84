// SPDX-License-Identifier: Apache-2.0
// The daemon's two clocks in events and status: CLOCK_BOOTTIME (what the
// kernel stamps records with) and wall time as RFC 3339.
#pragma once

#include <time.h>

#include <cstdint>
#include <string>

#include "common/boot_clock.hpp"
#include "output/event_json.hpp"

namespace fnw {

inline std::string iso_now() { return WallClock::now().rfc3339(boot_now_ns()); }

}  // namespace fnw
