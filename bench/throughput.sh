#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Tracing throughput (docs/performance.md, "Tracing"): a traced function
# calls getppid in a tight loop pinned to BENCH_CPU, fnwarden reads its
# events on the other CPU(s). One event per call, so the producer's rate is
# 1e9 / (ns per call). Prints, for
#   standalone  `run --standalone --trace`, JSON lines to a file, 8 MiB ring
#   daemon      `run --trace` under a daemon writing --output to a file, with
#               two `fnwarden trace` clients: one reading, one stalled
# the rate produced, the events delivered and the events lost (and where),
# and for the standalone case the consumer's CPU time a line (its CPUs'
# busy time from /proc/stat, start-up taken off): the rate it could take,
# then what each BPF program costs a traced call (bpf_stats, a run of its
# own).
# Called by bench/run.sh (SCENARIOS); alone: sudo bench/throughput.sh
# env: TRACE_N (1000000), BENCH_CPU (1), FNW_BUILD_DIR (<repo>/build),
#      CASES ("standalone paced daemon daemon-paced"; "daemon-output": the
#      daemon without trace clients), RATES (the paced cases' rates, in M
#      events/s: "1.6 2.0"), BUILD_LABEL (a word added to each row: which
#      build ran)
# paced, daemon-paced: the standalone case, and the daemon writing its
# output (no trace client), with the loop offering a set rate (one getppid
# every 1000/RATE ns, spinning on the vDSO clock in between): what the
# consumer takes without loss when the producer's tight loop offers more
# than it can format (docs/performance.md).
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${FNW_BUILD_DIR:-$src/build}
cpu=${BENCH_CPU:-1}
n=${TRACE_N:-1000000}
cases=${CASES:-standalone paced daemon daemon-paced}
read -ra rates <<<"${RATES:-1.6 2.0}"
label=${BUILD_LABEL:+ ($BUILD_LABEL)}
fnw=$build/fnwarden
loop=$build/bench/syscall_loop
helper_cpus=$(seq 0 $(($(nproc) - 1)) | grep -vx "$cpu" | paste -sd,)
work=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# rate NS_PER_CALL: events a second produced (one per call)
rate() { awk -v ns="$1" 'BEGIN { printf "%.2fM", 1000 / ns }'; }
# period_ns RATE (M events/s): the paced loop's ns between calls
period_ns() { awk -v r="$1" 'BEGIN { printf "%d", 1000 / r }'; }

# busy_ms CPUS: the time CPUS (comma-separated) spent busy so far, in ms
# (/proc/stat: user, nice, system, irq, softirq; jiffies. Not steal:
# time the host gave to others is not the consumer's work).
busy_ms() {
  awk -v cpus=",$1," -v hz="$(getconf CLK_TCK)" \
    '$1 ~ /^cpu[0-9]+$/ && index(cpus, "," substr($1, 4) ",") { b += $2 + $3 + $4 + $7 + $8 }
     END { printf "%d", b * 1000 / hz }' /proc/stat
}

standalone_run() {  # CALLS OUT LOG [PERIOD_NS]: prints ns a call
  taskset -c "$helper_cpus" "$fnw" run --standalone --no-baseline --trace --function fnwbench-trace \
    --policy "$src/bench/trace-policy.yaml" --events "$2" -- taskset -c "$cpu" "$loop" getppid "$1" ${4:+"$4"} 2>"$3"
}

# The producer's rate is capped by what a traced call costs it; what the
# consumer could take is its CPUs' busy time per line, beyond a run of one
# call (start-up and teardown): the consumer's capacity, whatever the
# producer offered.
standalone() {  # [RATE in M/s]: the loop paced to it
  local out=$work/standalone.jsonl log=$work/standalone.log ns drops seen lines b0 b1 b2 period="" what="standalone, JSON lines to a file"
  if [[ -n ${1:-} ]]; then
    period=$(period_ns "$1")
    what="standalone, paced at ${1}M/s"
  fi
  rm -f "$out"
  b0=$(busy_ms "$helper_cpus")
  standalone_run 1 "$work/startup.jsonl" "$work/startup.log" >/dev/null
  b1=$(busy_ms "$helper_cpus")
  ns=$(standalone_run "$n" "$out" "$log" "$period")
  b2=$(busy_ms "$helper_cpus")
  drops=$(grep -oE '[0-9]+ events dropped' "$log" | grep -oE '^[0-9]+' || echo '?')
  seen=$(grep -oE '[0-9]+ syscalls seen' "$log" | grep -oE '^[0-9]+' || echo '?')
  lines=$(wc -l <"$out")
  local capacity
  capacity=$(awk -v run=$((b2 - b1)) -v start=$((b1 - b0)) -v lines="$lines" \
    'BEGIN { ns = (run - start) * 1e6 / lines; if (ns > 0) printf "%.0f ns (%.2fM/s)", ns, 1000 / ns; else printf "?" }')
  echo "| $what$label | $ns | $(rate "$ns") | $seen | $lines | $drops (ring) | $capacity |"
}

# daemon CLIENTS [RATE in M/s]: the daemon's trace path, with 0 or 2 trace
# clients, the loop paced to RATE if given
daemon() {
  local clients=$1 sock=$work/d.sock rules=$work/rules out=$work/daemon.jsonl ns live=0 stalled_pid status period=""
  local what="daemon, --output file + $clients trace clients"
  if [[ -n ${2:-} ]]; then
    period=$(period_ns "$2")
    what="$what, paced at ${2}M/s"
  fi
  rm -rf "$rules" "$out" "$work/live.jsonl"
  mkdir -p "$rules"
  cp "$src/bench/trace-policy.yaml" "$rules/"
  taskset -c "$helper_cpus" "$fnw" daemon --socket "$sock" --pin-root none --rules "$rules" --metrics off \
    --output "$out" >"$work/daemon.log" 2>&1 &
  pids+=($!)
  local i
  for ((i = 0; i < 600; i++)); do "$fnw" status --socket "$sock" >/dev/null 2>&1 && break; sleep 0.05; done
  if ((clients > 0)); then
    taskset -c "$helper_cpus" "$fnw" trace --socket "$sock" --function fnwbench-trace -o json >"$work/live.jsonl" 2>/dev/null &
    pids+=($!)
    # Stalled: writes into a FIFO nobody reads (this shell holds it open),
    # so it stops reading from the daemon once the FIFO is full.
    [[ -p $work/stall ]] || { mkfifo "$work/stall" && exec 9<>"$work/stall"; }
    taskset -c "$helper_cpus" "$fnw" trace --socket "$sock" --function fnwbench-trace -o json >"$work/stall" 2>/dev/null &
    stalled_pid=$!
    pids+=("$stalled_pid")
  fi
  sleep 1
  ns=$(taskset -c "$helper_cpus" "$fnw" run --socket "$sock" --trace --function fnwbench-trace -- \
    taskset -c "$cpu" "$loop" getppid "$n" ${period:+"$period"} 2>"$work/run.log")
  sleep 2  # let the daemon and the live client finish what is queued
  "$fnw" status --socket "$sock" -o json >"$work/status.json"
  [[ ! -f $work/live.jsonl ]] || live=$(grep -c '"syscall"' "$work/live.jsonl" || true)
  python3 - "$ns" "$(rate "$ns")" "$(wc -l <"$out")" "$live" "$work/status.json" "$what" "$label" <<'PY'
import json, sys
ns, rate, written, live, status, what, label = sys.argv[1:8]
s = json.load(open(status))
k, d = s["counters"]["kernel"], s["counters"]["daemon"]
drops = sorted(c.get("dropped", 0) for c in s.get("clients", []))
print(f"| {what}{label} | {ns} | {rate} | {k['emitted']} | {written} (output), {live} (live client) "
      f"| {k['ringbuf_drops']} (ring), {d['output_dropped']} (output), per client: {drops} | |")
PY
}

echo "| tracing, getppid x $n (+10% warm-up) | ns/call | events/s produced | events emitted | lines delivered | lost | consumer CPU a line (its capacity) |"
echo "|---|---:|---:|---:|---:|---|---:|"
# Each daemon run stops its daemon and clients before the next.
stop_started() {
  local p
  for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pids=()
}
for c in $cases; do
  case $c in
    standalone) standalone ;;
    paced) for r in "${rates[@]}"; do standalone "$r"; done ;;
    daemon-paced) for r in "${rates[@]}"; do daemon 0 "$r"; stop_started; done ;;
    daemon) daemon 2 ;;
    daemon-output) daemon 0 ;;
  esac
  stop_started
done
[[ " $cases " == *" standalone "* ]] || exit 0  # the per-event benchmarks go with the standalone case

# The producer's side: what each fnwarden program costs a traced getppid in
# the kernel (bpf_stats run_time_ns over run_cnt, between two snapshots
# taken while the function waits on a FIFO before and after its loop). A
# run of its own: bpf_stats adds its own cost to every program run, so the
# rows above are taken with it off.
producer() {
  local go=$work/go done=$work/done out=$work/loop.out before=$work/before.json after=$work/after.json i
  mkfifo "$go" "$done"
  : >"$out"
  # Ids only grow: this run's programs are those above the newest now (a
  # daemon case's may still be on their way out).
  local newest
  newest=$(bpftool prog show -j | python3 -c 'import json, sys; print(max([p["id"] for p in json.load(sys.stdin)] or [0]))')
  sysctl -qw kernel.bpf_stats_enabled=1
  # shellcheck disable=SC2016  # expanded by the function's shell
  taskset -c "$helper_cpus" "$fnw" run --standalone --no-baseline --trace --function fnwbench-trace \
    --policy "$src/bench/trace-policy.yaml" --events /dev/null -- \
    sh -c 'read _ <"$1"; taskset -c "$2" "$3" getppid "$4" >"$5"; read _ <"$6"' sh \
    "$go" "$cpu" "$loop" "$n" "$out" "$done" 2>/dev/null &
  local run=$!
  for ((i = 0; i < 200; i++)); do
    bpftool prog show -j | python3 -c 'import json, sys
sys.exit(not any(p.get("name") == "fnw_sys_enter" and p["id"] > int(sys.argv[1]) for p in json.load(sys.stdin)))' "$newest" && break
    sleep 0.05
  done
  bpftool prog show -j >"$before"
  echo >"$go"
  for ((i = 0; i < 1200; i++)); do [[ -s $out ]] && break; sleep 0.05; done
  bpftool prog show -j >"$after"
  echo >"$done"
  wait "$run" || true
  sysctl -qw kernel.bpf_stats_enabled=0
  python3 - "$before" "$after" "$(cat "$out")" <<'PY'
import json, sys
before = {p["id"]: p for p in json.load(open(sys.argv[1]))}
after = json.load(open(sys.argv[2]))
rows = []
for p in after:
    b = before.get(p["id"])
    if not b or not p.get("name", "").startswith("fnw_"):
        continue
    runs = p.get("run_cnt", 0) - b.get("run_cnt", 0)
    if runs > 1000:
        rows.append((p["name"], (p["run_time_ns"] - b["run_time_ns"]) / runs, runs))
print()
print(f"| in the kernel, a traced getppid (bpf_stats on: {sys.argv[3]} ns a call with it) | ns a run | runs |")
print("|---|---:|---:|")
for name, ns, runs in sorted(rows, key=lambda r: -r[1]):
    print(f"| {name} | {ns:.0f} | {runs} |")
PY
}
if command -v bpftool >/dev/null && [[ -w /proc/sys/kernel/bpf_stats_enabled ]]; then producer; fi

# Per-event userspace cost on one core, without the ring (Google Benchmark:
# bench/event_path_bench.cpp), CPU time.
bench_bin=$build/bench/fnw_event_path_bench
[[ -x $bench_bin ]] || cmake --build "$build" --target fnw_event_path_bench >&2 || true
if [[ -x $bench_bin ]]; then
  echo
  echo "| per event, one core (CPU time) | ns | events/s |"
  echo "|---|---:|---:|"
  taskset -c "$cpu" "$bench_bin" --benchmark_format=json --benchmark_repetitions=3 \
    --benchmark_report_aggregates_only=true 2>/dev/null | python3 -c '
import json, sys
labels = {"BM_DecodeAndMatch": "decode + a subscriber'"'"'s match", "BM_LineFast": "JSON line (event_line.hpp)",
          "BM_LineNlohmann": "JSON line through nlohmann::json (before)", "BM_StandaloneConsumer": "standalone consumer: decode, respond, line"}
for b in json.load(sys.stdin)["benchmarks"]:
    if b.get("aggregate_name") != "median": continue
    name = b["run_name"]
    print(f"| {labels.get(name, name)} | {b['"'"'cpu_time'"'"']:.0f} | {1e9 / b['"'"'cpu_time'"'"'] / 1e6:.2f}M |")
'
else
  echo "(fnw_event_path_bench not built: libbenchmark-dev missing)"
fi
