// SPDX-License-Identifier: Apache-2.0
// /metrics side by side: fnwarden's registry (output/metrics.hpp) against
// prometheus-cpp core 1.0.1 (Debian 12's prometheus-cpp-dev), the same
// families and series in both. Measures what a scrape costs (render, or
// Collect() + TextSerializer) and what a series costs in heap (mallinfo2).
// Numbers and the decision they led to: docs/performance.md, "Metrics".
//
//   cmake --build build --target fnw_metrics_bench
//   build/bench/fnw_metrics_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "output/metrics.hpp"

namespace {

// The series a busy daemon grows: fnwarden_violations_total{function,type,action}.
// 10000 is the registry's per-family cap (kDefaultMaxSeriesPerFamily).
struct SeriesLabels {
    std::string function, type, action;
};

SeriesLabels labels_of(int64_t i) {
    static const char* const kTypes[] = {"exec", "file_open", "connect", "bind", "ptrace"};
    static const char* const kActions[] = {"report", "deny", "kill"};
    return {"payments-fn-" + std::to_string(i / 15), kTypes[i % 5], kActions[(i / 5) % 3]};
}

const std::vector<double> kLatencyBuckets = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

// What a daemon declares today (userspace/daemon/daemon_start.cpp): a few
// labelled counters with their usual handful of series, one histogram, and
// label-less values. `violation_series` on top, in fnwarden_violations_total.
void fill_ours(fnw::MetricsRegistry& registry, int64_t violation_series) {
    auto& events = registry.counter("fnwarden_events_total", "Events decoded by the daemon, by type.", {"type"});
    for (const char* type : {"exec", "file_open", "connect", "bind", "ptrace", "exit", "violation_summary"})
        events.with({type}).inc(1234);
    auto& reloads = registry.counter("fnwarden_policy_reloads_total", "Policy set reloads, by result.", {"result"});
    reloads.with({"ok"}).inc(3);
    reloads.with({"error"}).inc(1);
    auto& latency = registry.histogram("fnwarden_event_latency_seconds", "From the kernel's timestamp.", {},
                                       kLatencyBuckets);
    latency.with().observe(0.002);
    for (int i = 0; i < 16; ++i)
        registry.counter_callback("fnwarden_kernel_counter_" + std::to_string(i) + "_total", "A kernel counter.",
                                  [] { return 42.0; });
    auto& violations = registry.counter("fnwarden_violations_total", "Policy violations.",
                                        {"function", "type", "action"});
    for (int64_t i = 0; i < violation_series; ++i) {
        SeriesLabels l = labels_of(i);
        violations.with({l.function, l.type, l.action}).inc(7);
    }
}

// The same in prometheus-cpp. Its callbacks would be a custom Collectable;
// a Gauge/Counter set once costs the same to serialize.
void fill_theirs(prometheus::Registry& registry, int64_t violation_series) {
    auto& events = prometheus::BuildCounter().Name("fnwarden_events_total").Help("Events decoded.").Register(registry);
    for (const char* type : {"exec", "file_open", "connect", "bind", "ptrace", "exit", "violation_summary"})
        events.Add({{"type", type}}).Increment(1234);
    auto& reloads =
        prometheus::BuildCounter().Name("fnwarden_policy_reloads_total").Help("Reloads.").Register(registry);
    reloads.Add({{"result", "ok"}}).Increment(3);
    reloads.Add({{"result", "error"}}).Increment(1);
    auto& latency = prometheus::BuildHistogram()
                        .Name("fnwarden_event_latency_seconds")
                        .Help("From the kernel's timestamp.")
                        .Register(registry);
    latency.Add({}, kLatencyBuckets).Observe(0.002);
    for (int i = 0; i < 16; ++i)
        prometheus::BuildCounter()
            .Name("fnwarden_kernel_counter_" + std::to_string(i) + "_total")
            .Help("A kernel counter.")
            .Register(registry)
            .Add({})
            .Increment(42);
    auto& violations =
        prometheus::BuildCounter().Name("fnwarden_violations_total").Help("Policy violations.").Register(registry);
    for (int64_t i = 0; i < violation_series; ++i) {
        SeriesLabels l = labels_of(i);
        violations.Add({{"function", l.function}, {"type", l.type}, {"action", l.action}}).Increment(7);
    }
}

size_t heap_in_use() { return mallinfo2().uordblks; }

void BM_RenderOurs(benchmark::State& state) {
    fnw::MetricsRegistry registry;
    fill_ours(registry, state.range(0));
    size_t bytes = 0;
    for (auto _ : state) {
        std::string text = registry.render();
        bytes = text.size();
        benchmark::DoNotOptimize(text);
    }
    state.counters["exposition_bytes"] = static_cast<double>(bytes);
}

void BM_RenderPrometheusCpp(benchmark::State& state) {
    auto registry = std::make_shared<prometheus::Registry>();
    fill_theirs(*registry, state.range(0));
    prometheus::TextSerializer serializer;
    size_t bytes = 0;
    for (auto _ : state) {
        // What prometheus-cpp's pull Exposer (and any server of ours) does per scrape.
        std::ostringstream out;
        serializer.Serialize(out, registry->Collect());
        std::string text = out.str();
        bytes = text.size();
        benchmark::DoNotOptimize(text);
    }
    state.counters["exposition_bytes"] = static_cast<double>(bytes);
}

// Heap held by a registry once its series exist: make_filled(n) builds one
// with n violation series (the fixed part is the n = 0 run).
template <class MakeFilled>
void measure_heap(benchmark::State& state, MakeFilled make_filled) {
    size_t held = 0;
    for (auto _ : state) {
        size_t before = heap_in_use();
        auto registry = make_filled(state.range(0));
        held = heap_in_use() - before;
        benchmark::DoNotOptimize(registry);
    }
    state.counters["heap_bytes"] = static_cast<double>(held);
}

void BM_HeapOurs(benchmark::State& state) {
    measure_heap(state, [](int64_t n) {
        auto registry = std::make_unique<fnw::MetricsRegistry>();
        fill_ours(*registry, n);
        return registry;
    });
}

void BM_HeapPrometheusCpp(benchmark::State& state) {
    measure_heap(state, [](int64_t n) {
        auto registry = std::make_shared<prometheus::Registry>();
        fill_theirs(*registry, n);
        return registry;
    });
}

// 0: today's daemon with no violations yet (about 40 series); 40: a quiet
// day; 10000: the per-family cap.
BENCHMARK(BM_RenderOurs)->Arg(0)->Arg(40)->Arg(10000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RenderPrometheusCpp)->Arg(0)->Arg(40)->Arg(10000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_HeapOurs)->Arg(0)->Arg(10000)->Iterations(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_HeapPrometheusCpp)->Arg(0)->Arg(10000)->Iterations(3)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
