// SPDX-License-Identifier: Apache-2.0
// The kernel's counters in userspace: struct fnw_counters summed over CPUs.
// Fields, JSON keys, metric names and CLI words all come from one list,
// FNW_KERNEL_COUNTERS in <fnwarden/counters.h>.
#pragma once

#include <cstdint>
#include <span>

#include <fnwarden/kernel_abi.h>

namespace fnw {

// Sum over CPUs of struct fnw_counters: the same fields, in the same order.
struct ProbeCounters {
#define FNW_PROBE_COUNTER_FIELD(field, cli_text, metric, help) uint64_t field = 0;
    FNW_KERNEL_COUNTERS(FNW_PROBE_COUNTER_FIELD)
#undef FNW_PROBE_COUNTER_FIELD
};

// One row of the list, for code that walks every counter (status JSON,
// metrics, tests) instead of naming each.
struct KernelCounter {
    const char* key;  // the field's name: JSON key under counters.kernel
    uint64_t ProbeCounters::*field;
    const char* cli_text;  // follows the number in `fnwarden status`
    const char* metric;    // Prometheus counter name, "" for none
    const char* help;
};

inline constexpr KernelCounter kKernelCounters[] = {
#define FNW_KERNEL_COUNTER_ROW(field, cli_text, metric, help) {#field, &ProbeCounters::field, cli_text, metric, help},
    FNW_KERNEL_COUNTERS(FNW_KERNEL_COUNTER_ROW)
#undef FNW_KERNEL_COUNTER_ROW
};

// The row of a field (every field has one: both come from the same list).
inline const KernelCounter& kernel_counter(uint64_t ProbeCounters::*field) {
    for (const KernelCounter& counter : kKernelCounters)
        if (counter.field == field) return counter;
    return kKernelCounters[0];  // unreachable
}

// What a lookup in the per-CPU array map returns, added up.
inline ProbeCounters sum_per_cpu(std::span<const fnw_counters> per_cpu) {
    ProbeCounters total;
    for (const fnw_counters& cpu : per_cpu) {
#define FNW_ADD_COUNTER(field, cli_text, metric, help) total.field += cpu.field;
        FNW_KERNEL_COUNTERS(FNW_ADD_COUNTER)
#undef FNW_ADD_COUNTER
    }
    return total;
}

}  // namespace fnw
