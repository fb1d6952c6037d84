// The daemon's two clocks in events and status: CLOCK_BOOTTIME (what the
// kernel stamps records with) and wall time as RFC 3339.
#pragma once

#include <time.h>

#include <cstdint>
#include <string>

#include "output/event_json.hpp"

namespace fnw {

inline uint64_t boot_now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

inline std::string iso_now() { return WallClock::now().rfc3339(boot_now_ns()); }

}  // namespace fnw
