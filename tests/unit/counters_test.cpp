// SPDX-License-Identifier: Apache-2.0
// The kernel's counters are listed once (FNW_KERNEL_COUNTERS in
// <fnwarden/counters.h>): the BPF struct, ProbeCounters, the per-CPU sum,
// the status JSON, the metrics and the CLI all follow that list.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/tables.hpp"
#include "control/protocol.hpp"
#include "output/metrics.hpp"
#include "probes/probe_counters.hpp"

namespace fnw {
namespace {

constexpr size_t kCount = std::size(kKernelCounters);

size_t offset_of(uint64_t ProbeCounters::*field) {
    ProbeCounters counters;
    return static_cast<size_t>(reinterpret_cast<const char*>(&(counters.*field)) -
                               reinterpret_cast<const char*>(&counters));
}

// Counter i set to value(i), by position in the kernel's struct.
ProbeCounters numbered(uint64_t base) {
    ProbeCounters counters;
    for (size_t i = 0; i < kCount; ++i) counters.*kKernelCounters[i].field = base + i;
    return counters;
}

TEST(KernelCounters, TheKernelStructAndProbeCountersHaveTheListsFieldsInOrder) {
    EXPECT_EQ(sizeof(fnw_counters), kCount * sizeof(__u64));
    EXPECT_EQ(sizeof(ProbeCounters), kCount * sizeof(uint64_t));
    std::set<std::string> keys;
    for (size_t i = 0; i < kCount; ++i) {
        EXPECT_EQ(offset_of(kKernelCounters[i].field), i * sizeof(uint64_t)) << kKernelCounters[i].key;
        EXPECT_TRUE(keys.insert(kKernelCounters[i].key).second) << "twice: " << kKernelCounters[i].key;
    }
    EXPECT_EQ(offsetof(fnw_counters, events), 0u);
    EXPECT_EQ(offsetof(fnw_counters, violations_aggregated), (kCount - 1) * sizeof(__u64));
}

TEST(KernelCounters, ThePerCpuSumAddsEveryField) {
    // Each CPU's counter i holds a distinct value, laid out as the kernel
    // writes it: the sum must land in the same counter, for every counter.
    std::vector<fnw_counters> per_cpu(3);
    for (size_t cpu = 0; cpu < per_cpu.size(); ++cpu) {
        std::vector<__u64> raw(kCount);
        for (size_t i = 0; i < kCount; ++i) raw[i] = (i + 1) * 1000 + cpu + 1;
        std::memcpy(&per_cpu[cpu], raw.data(), sizeof(fnw_counters));
    }
    const ProbeCounters total = sum_per_cpu(per_cpu);
    for (size_t i = 0; i < kCount; ++i)
        EXPECT_EQ(total.*kKernelCounters[i].field, 3 * (i + 1) * 1000 + 6) << kKernelCounters[i].key;
}

TEST(KernelCounters, StatusJsonHasEveryCounterOnceUnderItsName) {
    const ProbeCounters counters = numbered(100);
    const nlohmann::json j = counters;
    EXPECT_EQ(j.size(), kCount);
    for (size_t i = 0; i < kCount; ++i) EXPECT_EQ(j.at(kKernelCounters[i].key), 100 + i) << kKernelCounters[i].key;
    ProbeCounters back;
    from_json(j, back);
    EXPECT_EQ(nlohmann::json(back), j);
}

// Names and HELP texts are what docs/daemon.md documents and the daemon e2e
// scrapes: they must not change.
TEST(KernelCounters, MetricsAreDeclaredFromTheListWithTheirDocumentedNames) {
    const std::map<std::string, std::string> documented = {
        {"fnwarden_kernel_syscalls_total", "Syscalls of monitored cgroups seen by the probes."},
        {"fnwarden_ringbuf_drops_total", "Events lost because the ring buffer was full (kernel counter)."},
        {"fnwarden_kernel_kills_total", "Processes killed from the sys_enter probe."},
        {"fnwarden_fail_closed_kills_total",
         "Processes killed because an access only fnwarden could decide found the ring full."},
        {"fnwarden_kernel_holds_total", "Processes stopped at an operation's end until userspace's verdict on it."},
    };
    std::map<std::string, std::string> declared;
    for (const KernelCounter& counter : kKernelCounters)
        if (*counter.metric) declared[counter.metric] = counter.help;
    EXPECT_EQ(declared, documented);

    MetricsRegistry registry;
    const ProbeCounters counters = numbered(7);
    declare_kernel_counter_metrics(registry, [&] { return counters; });
    const std::string text = registry.render();
    for (const KernelCounter& counter : kKernelCounters) {
        if (!*counter.metric) continue;
        const std::string name = counter.metric;
        EXPECT_NE(text.find("# HELP " + name + " " + counter.help + "\n"), std::string::npos) << text;
        EXPECT_NE(text.find("\n" + name + " " + std::to_string(counters.*counter.field) + "\n"), std::string::npos)
            << text;
    }
}

TEST(KernelCounters, EveryCounterHasItsWordsForTheCli) {
    std::set<std::string> seen;
    for (const KernelCounter& counter : kKernelCounters) {
        EXPECT_NE(std::string(counter.cli_text), "") << counter.key;
        EXPECT_NE(std::string(counter.help), "") << counter.key;
    }
    // The status table prints each counter it shows with the list's words.
    StatusReply status;
    status.counters.kernel = numbered(500);
    std::ostringstream out;
    cli::print_status_table(status, out);
    for (auto field : {&ProbeCounters::events, &ProbeCounters::violations, &ProbeCounters::kills,
                       &ProbeCounters::net_checks, &ProbeCounters::net_denied, &ProbeCounters::ringbuf_drops,
                       &ProbeCounters::file_checks, &ProbeCounters::file_cache_hits, &ProbeCounters::file_violations,
                       &ProbeCounters::file_pending, &ProbeCounters::file_pending_lost, &ProbeCounters::file_lsm_denied,
                       &ProbeCounters::process_violations, &ProbeCounters::process_denied}) {
        const std::string shown = std::to_string(status.counters.kernel.*field) + " " + kernel_counter(field).cli_text;
        EXPECT_NE(out.str().find(shown), std::string::npos) << shown << "\n" << out.str();
    }
}

}  // namespace
}  // namespace fnw
