// SPDX-License-Identifier: Apache-2.0
// CLOCK_BOOTTIME in nanoseconds: the clock the kernel stamps records with
// (bpf_ktime_get_boot_ns), so userspace times compare with theirs.
#pragma once

#include <time.h>

#include <cstdint>

namespace fnw {

inline uint64_t boot_now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace fnw
