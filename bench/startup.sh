#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Start-up and memory (docs/performance.md, "Start-up"): what a run costs
# over the bare command, standalone and under a daemon (fnwarden run and the
# quick launcher fnwarden-run, interleaved); how long the daemon
# takes to answer its socket with every probe loaded; its RSS idle and after
# a traced storm. Medians of STARTUP_ROUNDS. Wall times include waiting for
# a CPU: read them next to the CPU times (user+sys, children included).
# Called by bench/run.sh (SCENARIOS); alone: sudo bench/startup.sh
# env: STARTUP_ROUNDS (5), STORM_N (2000000), BENCH_CPU (1), FNW_BUILD_DIR (<repo>/build),
#      READY_ONLY=1: only the daemon's ready time, READY_ROUNDS (3) starts,
#      alternating with FNW_BASELINE_DIR's fnwarden when that is set (before/after)
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${FNW_BUILD_DIR:-$src/build}
rounds=${STARTUP_ROUNDS:-5}
storm_n=${STORM_N:-2000000}
cpu=${BENCH_CPU:-1}
fnw=$build/fnwarden
launcher=$build/fnwarden-run
loop=$build/bench/syscall_loop
for b in "$fnw" "$launcher" "$loop"; do
  [[ -x $b ]] || { echo "startup.sh: $b not found: build it first (cmake --build $build)" >&2; exit 1; }
done
work=$(mktemp -d)
daemon_pid=
cleanup() {
  [[ -z $daemon_pid ]] || { kill -TERM "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
now_ms() { echo $(($(date +%s%N) / 1000)) | awk '{ printf "%.1f", $1 / 1000 }'; }

# timed CMD...: "wall_ms cpu_ms" of one run (cpu: user+sys of CMD and its children)
timed() {
  local t0 t1 cpu
  t0=$(now_ms)
  /usr/bin/time -o "$work/time" -f '%U %S' "$@" >/dev/null 2>&1 || true
  cpu=$(tail -n1 "$work/time" | awk '{ printf "%.0f", ($1 + $2) * 1000 }')
  t1=$(now_ms)
  awk -v a="$t0" -v b="$t1" -v c="$cpu" 'BEGIN { printf "%.1f %s", b - a, c }'
}

# row LABEL CMD...: median wall and CPU of rounds runs
row() {
  local label=$1 walls="" cpus="" r sample
  shift
  for ((r = 0; r < rounds; r++)); do
    sample=$(timed "$@")
    walls+="${sample% *} "
    cpus+="${sample#* } "
  done
  echo "$label $(median <<<"$walls") $(median <<<"$cpus")"
}

vm_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

start_daemon() { # [LOG_LEVEL [FNWARDEN]]: sets daemon_pid and ready_ms (and load_ms, started_ms at debug)
  local sock=$work/d.sock t0 i bin=${2:-$fnw}
  rm -f "$sock"
  t0=$(now_ms)
  "$bin" daemon --socket "$sock" --pin-root none --rules "$work/rules" --metrics off --output "$work/daemon.jsonl" \
    --log-level "${1:-info}" >"$work/daemon.log" 2>&1 &
  daemon_pid=$!
  for ((i = 0; i < 3000; i++)); do "$fnw" status --socket "$sock" >/dev/null 2>&1 && break; sleep 0.01; done
  ready_ms=$(awk -v a="$t0" -v b="$(now_ms)" 'BEGIN { printf "%.0f", b - a }')
  # The daemon's own account (daemon_start.cpp, debug): the BPF object's
  # load, mostly the kernel's verifier, and the whole start-up to the loop.
  load_ms=$(grep -oE 'BPF object opened and loaded in [0-9]+ ms' "$work/daemon.log" | grep -oE '[0-9]+' | head -n1 || true)
  started_ms=$(grep -oE 'first policy set applied .* \(at [0-9]+ ms\)' "$work/daemon.log" | grep -oE '[0-9]+ ms\)$' |
    grep -oE '[0-9]+' | head -n1 || true)
}
stop_daemon() { kill -TERM "$daemon_pid"; wait "$daemon_pid" 2>/dev/null || true; daemon_pid=; }

mkdir -p "$work/rules"
cp "$src/bench/trace-policy.yaml" "$work/rules/"

if [[ -n ${READY_ONLY:-} ]]; then
  # ready_rounds BIN LABEL...: one start each in turn, so drift hits them alike
  baseline=${FNW_BASELINE_DIR:+$FNW_BASELINE_DIR/fnwarden}
  declare -A r_ready r_load
  for ((r = 0; r < ${READY_ROUNDS:-3}; r++)); do
    for bin in ${baseline:+"$baseline"} "$fnw"; do
      start_daemon debug "$bin"
      r_ready[$bin]+="$ready_ms "
      r_load[$bin]+="${load_ms:-?} "
      stop_daemon
    done
  done
  echo "| daemon ready, every probe (${READY_ROUNDS:-3} starts each, alternated) | ready ms, median | runs | BPF object load ms (debug log) |"
  echo "|---|---:|---|---|"
  for bin in ${baseline:+"$baseline"} "$fnw"; do
    echo "| $bin | $(median <<<"${r_ready[$bin]}") | ${r_ready[$bin]% } | ${r_load[$bin]% } |"
  done
  exit 0
fi
declare -A wall cpu_ms
while read -r key w c; do wall[$key]=$w cpu_ms[$key]=$c; done < <(
  row bare /bin/true
  row standalone_minimal "$fnw" run --standalone --no-baseline --function fnwbench-start \
    --policy "$src/bench/trace-policy.yaml" -- /bin/true
  row standalone_allow_all "$fnw" run --standalone --no-baseline --function fnwbench-start \
    --policy "$src/bench/allow-all.yaml" -- /bin/true
)
readies="" loads="" starts=""
for ((r = 0; r < 3; r++)); do
  start_daemon debug  # each step's time in its log (a few lines, none per event)
  readies+="$ready_ms "
  loads+="${load_ms:-?} "
  starts+="${started_ms:-?} "
  stop_daemon
done
start_daemon  # at info, as deployed: the RSS and the runs below
sleep 1
idle_rss=$(vm_kib "$daemon_pid" VmRSS)
# fnwarden run and fnwarden-run (the quick launcher) under the daemon, and
# the bare command again, interleaved round by round: the machine's load
# then weighs on all three alike.
interleaved() {
  local r sample key
  declare -A walls cpus
  for ((r = 0; r < rounds; r++)); do
    sample=$(timed /bin/true)
    walls[bare_daemon]+="${sample% *} " cpus[bare_daemon]+="${sample#* } "
    sample=$(timed "$fnw" run --socket "$work/d.sock" --function fnwbench-trace -- /bin/true)
    walls[under_daemon]+="${sample% *} " cpus[under_daemon]+="${sample#* } "
    sample=$(timed "$launcher" --socket "$work/d.sock" --function fnwbench-trace -- /bin/true)
    walls[launcher]+="${sample% *} " cpus[launcher]+="${sample#* } "
  done
  for key in bare_daemon under_daemon launcher; do
    echo "$key $(median <<<"${walls[$key]}") $(median <<<"${cpus[$key]}")"
  done
}
while read -r key w c; do wall[$key]=$w cpu_ms[$key]=$c; done < <(interleaved)
"$fnw" run --socket "$work/d.sock" --trace --function fnwbench-trace -- taskset -c "$cpu" "$loop" getppid "$storm_n" \
  >"$work/storm.out" 2>/dev/null
storm_ns=$(cat "$work/storm.out")
storm_hwm=$(vm_kib "$daemon_pid" VmHWM)
after_rss=$(vm_kib "$daemon_pid" VmRSS)

over() { awk -v x="${wall[$1]}" -v b="${wall[${2:-bare}]}" 'BEGIN { printf "%+.1f", x - b }'; }
echo "| start-up | wall ms (median of $rounds) | over the bare command | CPU ms (user+sys) |"
echo "|---|---:|---:|---:|"
echo "| /bin/true | ${wall[bare]} | | ${cpu_ms[bare]} |"
echo "| run --standalone, policy without sections | ${wall[standalone_minimal]} | $(over standalone_minimal) | ${cpu_ms[standalone_minimal]} |"
echo "| run --standalone, bench/allow-all.yaml | ${wall[standalone_allow_all]} | $(over standalone_allow_all) | ${cpu_ms[standalone_allow_all]} |"
echo "| /bin/true, interleaved with the two below | ${wall[bare_daemon]} | | ${cpu_ms[bare_daemon]} |"
echo "| fnwarden run under the daemon | ${wall[under_daemon]} | $(over under_daemon bare_daemon) | ${cpu_ms[under_daemon]} |"
echo "| fnwarden-run under the daemon | ${wall[launcher]} | $(over launcher bare_daemon) | ${cpu_ms[launcher]} |"
echo
ratio() { awk -v x="$1" -v b="$2" 'BEGIN { printf "%.2fx", x / b }'; }
ready=$(median <<<"$readies")
echo "Daemon ready (socket answers, every probe loaded), ms: $ready (runs: ${readies% }), $(ratio "$ready" 500) the 500 ms target"
echo "  of which, by the daemon's debug log: BPF object load (verifier) ${loads% } ms, start-up to the loop ${starts% } ms"
for key in under_daemon launcher; do
  echo "$([[ $key == launcher ]] && echo fnwarden-run || echo "fnwarden run") under the daemon: $(over $key bare_daemon) ms" \
    "over the bare command ($(ratio "${wall[$key]}" "${wall[bare_daemon]}") its wall time)," \
    "$(ratio "$(over $key bare_daemon | tr -d +)" 10) the 10 ms target"
done
echo "Daemon RSS: idle $((idle_rss / 1024)) MiB ($(ratio "$idle_rss" $((40 * 1024))) the 40 MiB target); during a traced storm of ${storm_n} getppid" \
  "($(awk -v ns="$storm_ns" 'BEGIN { printf "%.2fM events/s", 1000 / ns }') offered) peak $((storm_hwm / 1024)) MiB, after it $((after_rss / 1024)) MiB"
