#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What holding costs (docs/enforcement.md, "Held until the verdict"): a
# process the daemon watches creates and unlinks a new file in a loop
# (bench/syscall_loop createunlink): a new inode each time, so both the
# create (an open a `*` glob allows: only fnwarden can say) and the unlink
# (not an open: only fnwarden can say) go to the daemon every time.
#   (a) the same loop in an unmonitored cgroup
#   (b) watched, audit: each record goes to the daemon, the process runs on
#   (c) watched, enforce: each operation is held until the daemon's verdict
# (c - b) / 2 is the round trip one held operation adds. Interleaved rounds
# on a noisy machine: read the medians. Needs root and a built tree.
# usage: bench/hold_latency.sh [BUILD_DIR] [ROUNDS] [ITERATIONS]
set -u
build=$(realpath "${1:-build}")
rounds=${2:-5}
iterations=${3:-2000}
fnw=$build/fnwarden
loop=$build/bench/syscall_loop
[[ -x $fnw && -x $loop ]] || { echo "build $build first (fnwarden, bench/syscall_loop)"; exit 1; }
source "$(dirname "${BASH_SOURCE[0]}")/../tests/e2e/lib.sh"
require_root
cg2=$(cgroup2_mount)
work=$(mktemp -d /tmp/fnwhold.XXXXXX)
chmod 755 "$work"
base=fnwhold-$$
pids=()
cleanup() {
  local p c
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  for c in a b c; do rmdir "$cg2/$base-$c" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/rules" "$work/a" "$work/b" "$work/c"
for c in a b c; do mkdir "$cg2/$base-$c"; done
for m in b:audit c:enforce; do
  c=${m%%:*} mode=${m#*:}
  cat >"$work/rules/$c.yaml" <<YAML
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: hold-$c}
spec:
  selector: {function: hold-$c, cgroupPath: '$base-$c'}
  mode: $mode
  files:
    read: [/usr/**, /etc/**, /proc/**, /dev/**, '$work/$c/*']
    write: ['$work/$c/*', /dev/null]
    create: ['$work/$c/*']
    delete: ['$work/$c/*']
    onViolation: kill
YAML
done
start_daemon "$work/daemon.log" "$work/sock" --rules "$work/rules" --output none --metrics off --mode enforce \
  >/dev/null
found() {
  local n
  n=$("$fnw" status --socket "$work/sock" -o json | grep -c "\"path\": \"$base-")
  ((n >= 2))
}
eventually 20 found || { echo "the daemon did not find the cgroups"; exit 1; }
run_in() { # CONFIG: ns per iteration
  (cd "$work/$1" && bash -c 'echo $$ >"$1/cgroup.procs" && exec taskset -c 1 "$2" createunlink "$3"' _ \
    "$cg2/$base-$1" "$loop" "$iterations")
}
declare -A samples
for ((r = 0; r < rounds; r++)); do
  for c in a b c; do samples[$c]+="$(run_in "$c") "; done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
a=$(median <<<"${samples[a]}") b=$(median <<<"${samples[b]}") c=$(median <<<"${samples[c]}")
echo "create+close+unlink, ns per iteration (median of $rounds rounds x $iterations):"
printf '  (a) unmonitored        %10.0f\n' "$a"
printf '  (b) watched, audit     %10.0f  %.2fx\n' "$b" "$(echo "$b / $a" | bc -l)"
printf '  (c) watched, enforce   %10.0f  %.2fx\n' "$c" "$(echo "$c / $a" | bc -l)"
printf '  one held operation adds %.1f us over audit ((c - b) / 2)\n' "$(echo "($c - $b) / 2000" | bc -l)"
"$fnw" status --socket "$work/sock" -o json | grep -E '"(holds_released|holds_killed|file_held)"'
