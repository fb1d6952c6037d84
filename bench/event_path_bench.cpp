// SPDX-License-Identifier: Apache-2.0
// What userspace pays per traced event, one core, no ring buffer: the
// binary decode and the match a trace subscriber's filter makes (target:
// 5M events/s), the JSON line of the trace hot path (output/event_line.hpp)
// next to the nlohmann::json it replaced, and the whole standalone consumer
// (decode, respond_to_record, the line). docs/performance.md, "Tracing".
//
//   cmake --build build --target fnw_event_path_bench
//   build/bench/fnw_event_path_bench
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <set>
#include <span>
#include <string>

#include <fnwarden/events.h>

#include "core/event_kind.hpp"
#include "output/event_json.hpp"
#include "output/event_line.hpp"
#include "probes/record.hpp"
#include "runtime/violation_response.hpp"

namespace {

using namespace fnw;

// A traced getppid as the kernel writes it.
fnw_syscall_event traced_getppid() {
    fnw_syscall_event ev{};
    ev.hdr.type = FNW_EVENT_SYSCALL;
    ev.hdr.size = sizeof(ev);
    ev.hdr.boot_ns = 123'456'789'012;
    ev.hdr.cgroup_id = 4242;
    ev.hdr.pid = ev.hdr.tid = 1000;
    ev.hdr.ppid = 999;
    std::strncpy(ev.hdr.comm, "syscall_loop", sizeof(ev.hdr.comm));
    ev.nr = 110;
    ev.verdict = FNW_VERDICT_ALLOWED;
    // getppid takes none: its six are whatever the registers held, mostly
    // pointers (these from a traced syscall_loop's line).
    const uint64_t registers[FNW_SYSCALL_ARGS] = {140736716315532, 94618237681856, 0, 8, 140251226390528, 1};
    std::copy(std::begin(registers), std::end(registers), ev.args);
    return ev;
}

std::span<const std::byte> bytes_of(const fnw_syscall_event& ev) {
    return {reinterpret_cast<const std::byte*>(&ev), sizeof(ev)};
}

EventContext context() {
    EventContext ctx;
    ctx.function = "bench-fn";
    ctx.policy = "bench-policy";
    ctx.resolve_exe = false;  // /proc is a syscall: measured with the cache in the consumer below
    return ctx;
}

// decode_record, then what a trace subscriber's filter asks of the record:
// its function (the daemon maps cgroup -> function before), violation or not,
// and its kind among those asked for.
void BM_DecodeAndMatch(benchmark::State& state) {
    const fnw_syscall_event ev = traced_getppid();
    const std::set<EventKind> kinds{EventKind::Syscall, EventKind::File};
    uint64_t matched = 0;
    for (auto _ : state) {
        auto record = decode_record(bytes_of(ev));
        if (!record) state.SkipWithError("decode failed");
        const bool violation = is_violation(*record);
        const auto kind = trace_kind(*record);
        if (!violation && kind && kinds.count(*kind) && header(*record).cgroup_id == 4242) ++matched;
        benchmark::DoNotOptimize(matched);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeAndMatch);

void BM_LineFast(benchmark::State& state) {
    const EventContext ctx = context();
    EventLineWriter writer(ctx, WallClock(0));
    const Record record(traced_getppid());
    std::string out;
    for (auto _ : state) {
        out.clear();
        writer.append(record, out);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(int64_t(state.iterations() * out.size()));
}
BENCHMARK(BM_LineFast);

// What `run --trace` did before: nlohmann::json per event, then dump().
void BM_LineNlohmann(benchmark::State& state) {
    const EventContext ctx = context();
    const WallClock clock(0);
    const Record record(traced_getppid());
    for (auto _ : state) {
        auto line = to_json(record, ctx, clock)->dump();
        benchmark::DoNotOptimize(line.data());
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LineNlohmann);

// The standalone consumer's work per record after libbpf hands it over:
// decode, respond_to_record (nothing to kill), the line with exe looked up
// through the cache (this process's pid: the /proc read is paid once a second).
void BM_StandaloneConsumer(benchmark::State& state) {
    EventContext ctx = context();
    ctx.resolve_exe = true;
    EventLineWriter writer(ctx, WallClock(0));
    fnw_syscall_event ev = traced_getppid();
    ev.hdr.pid = static_cast<uint32_t>(::getpid());
    const KillOnViolation kill{};
    std::string out;
    const DecodedRecordHandler to_line = [&](const Record& record) { writer.append(record, out); };
    for (auto _ : state) {
        if (out.size() > (1u << 20)) out.clear();
        auto record = decode_record(bytes_of(ev));
        respond_to_record(std::move(*record), kill, to_line);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StandaloneConsumer);

}  // namespace

BENCHMARK_MAIN();
