#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Measures what `fnwarden daemon` uses, for the DaemonSet's requests and
# limits (docs/kubernetes.md, "Resources"). By hand, as root; not a ctest:
# its numbers depend on the machine and on what else runs.
#
#   tests/k8s/measure_daemon_resources.sh FNWARDEN WORKLOAD [SECONDS]
#
# The daemon runs with the bundled rules (rules/baseline.yaml and
# rules/examples/*.yaml), in a cgroup of its own, so memory.current and
# cpu.stat count what a pod's cgroup would: its RSS, and the kernel memory
# charged to it (BPF maps and ring buffers are charged to the creator's
# memory cgroup since 5.11). Three phases of SECONDS each (default 30):
#   idle   the daemon alone;
#   storm  a function (`fnwarden run --function hello-fn`) opening a file
#          outside its files.read in a tight loop: a violation per open;
#   trace  the same with a `fnwarden trace` client connected, which makes
#          every event, allowed ones too, cross the ring buffer (worst case).
# Prints, per phase: CPU (cores), the cgroup's memory at the end (all of
# it, page cache of the binary included, and the part that cannot be
# reclaimed: anonymous + kernel memory, the BPF maps among it) and its peak
# so far, the daemon's VmRSS, and the violation events written per second.
# Where cgroup2 has no memory controller (a hybrid host), the v1 memory and
# cpuacct hierarchies count instead (memory.usage_in_bytes includes kernel
# memory there too, unless the kernel runs with cgroup.memory=nokmem).
set -euo pipefail
fnw=$(realpath "$1")
workload=$(realpath "$2")
seconds=${3:-30}
src=$(cd "$(dirname "$0")/../.." && pwd)

cg2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
[[ -n $cg2 ]] || { echo "no cgroup2 mount" >&2; exit 1; }
work=$(mktemp -d)
cg=$cg2/fnw-measure-$$
mkdir "$cg"
v1_mount() { awk -v c="$1" '$9 == "cgroup" && $NF ~ "(^|,)" c "(,|$)" { print $5; exit }' /proc/self/mountinfo; }
if grep -qw memory "$cg2/cgroup.controllers"; then
  echo +memory >"$cg2/cgroup.subtree_control" 2>/dev/null || true
  mem_cg=$cg cpu_cg=$cg
  mem_now() { cat "$mem_cg/memory.current"; }
  mem_peak() { cat "$mem_cg/memory.peak" 2>/dev/null || echo 0; }
  mem_unreclaimable() { awk '$1 == "anon" || $1 == "kernel" { n += $2 } END { print n }' "$mem_cg/memory.stat"; }
  usage() { awk '$1 == "usage_usec" { print $2 }' "$cpu_cg/cpu.stat"; }
else
  mem_cg=$(v1_mount memory)/fnw-measure-$$ cpu_cg=$(v1_mount cpuacct)/fnw-measure-$$
  mkdir "$mem_cg" "$cpu_cg"
  mem_now() { cat "$mem_cg/memory.usage_in_bytes"; }
  mem_peak() { cat "$mem_cg/memory.max_usage_in_bytes"; }
  mem_unreclaimable() {
    echo $(($(awk '$1 == "rss" { print $2 }' "$mem_cg/memory.stat") + $(cat "$mem_cg/memory.kmem.usage_in_bytes")))
  }
  usage() { echo $(($(cat "$cpu_cg/cpuacct.usage") / 1000)); }
fi
daemon=
cleanup() {
  [[ -n $daemon ]] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  jobs -p | xargs -r kill 2>/dev/null || true
  wait 2>/dev/null || true
  rmdir "$cg" 2>/dev/null || true
  [[ $mem_cg != "$cg" ]] && rmdir "$mem_cg" "$cpu_cg" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/rules"
cp "$src/rules/baseline.yaml" "$src"/rules/examples/*.yaml "$work/rules/"
port=$((20000 + $$ % 10000))
sock=$work/fnwarden.sock
cat >"$work/fnwarden.yaml" <<EOF
rules: $work/rules
mode: audit
output: stdout
socket: $sock
socketGroup: ""
metrics: 127.0.0.1:$port
pinRoot: none
EOF

# Started inside its cgroup: everything it allocates is charged there.
sh -c "for g in $cg $mem_cg $cpu_cg; do echo \$\$ > \$g/cgroup.procs; done; exec \"$fnw\" daemon --config $work/fnwarden.yaml" >/dev/null 2>"$work/daemon.log" &
daemon=$!
for _ in $(seq 120); do
  "$fnw" status --socket "$sock" >/dev/null 2>&1 && break
  sleep 0.5
done
"$fnw" status --socket "$sock" >/dev/null || { cat "$work/daemon.log" >&2; exit 1; }

kernel_count() { "$fnw" status --socket "$sock" -o json | tr -d ' \n' | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2; }
phase() {
  local name=$1 u0 u1 t0 t1 e0 e1
  u0=$(usage) t0=$(date +%s%N) e0=$(kernel_count output_written)
  sleep "$seconds"
  u1=$(usage) t1=$(date +%s%N) e1=$(kernel_count output_written)
  printf '%-6s cpu %.3f cores  memory %4d MiB (anon+kernel %4d)  peak %4d MiB  VmRSS %4d MiB  events/s %d\n' \
    "$name" "$(echo "($u1 - $u0) * 1000 / ($t1 - $t0)" | bc -l)" \
    $(($(mem_now) / 1048576)) $(($(mem_unreclaimable) / 1048576)) $(($(mem_peak) / 1048576)) \
    $(($(awk '/^VmRSS/ { print $2 }' "/proc/$daemon/status") / 1024)) \
    $(((${e1:-0} - ${e0:-0}) / seconds))
}

phase idle
stop=$work/storm.stop
"$fnw" run --socket "$sock" --function hello-fn -- "$workload" \
  "open-until:$stop:$(((2 * seconds + 30) * 1000)):/var/tmp" >/dev/null 2>&1 &
storm=$!
sleep 1
phase storm
"$fnw" trace --socket "$sock" -o json >/dev/null 2>&1 &
sleep 1
phase trace
touch "$stop"
wait "$storm" 2>/dev/null || true
echo "events written in all: $(kernel_count output_written)"
