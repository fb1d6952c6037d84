#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What code pins cost a cold start (docs/policy.md, "Code pins"): a Node
# function whose index.js requires MODULES modules of a node_modules tree,
# run under one daemon through `fnwarden run`, with the daemon's bundle
# swapped between rounds:
#   (a) the bare command, no fnwarden
#   (b) under the daemon, a bundle without pins
#   (c) under the daemon, the same bundle pinning the code and node_modules:
#       every module's open is held until its hash verdict (hashes cached)
#   (d) as (c), the first start after every file changed version (touched:
#       each file hashed again)
# Interleaved rounds on a noisy machine: read the medians and the ratios.
# Needs root, node and a built tree.
# usage: bench/code_pin_coldstart.sh [BUILD_DIR] [ROUNDS] [MODULES]
set -u
build=$(realpath "${1:-build}")
rounds=${2:-7}
modules=${3:-300}
fnw=$build/fnwarden
node=$(command -v node) || { echo "node is not installed"; exit 1; }
[[ -x $fnw ]] || { echo "build $build first (fnwarden)"; exit 1; }
source "$(dirname "${BASH_SOURCE[0]}")/../tests/e2e/lib.sh"
require_root
work=$(mktemp -d /tmp/fnwpins.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  umount "$work/code" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/rules" "$work/deploy" "$work/code"
mount -t tmpfs -o size=64m,mode=0755 tmpfs "$work/code"
app=$work/code/fn
mkdir -p "$app/node_modules"
{
  for ((i = 0; i < modules; ++i)); do echo "require('m$i');"; done
  echo "console.log('ok');"
} >"$app/index.js"
for ((i = 0; i < modules; ++i)); do
  mkdir -p "$app/node_modules/m$i/lib"
  echo "{\"name\": \"m$i\", \"main\": \"lib/index.js\"}" >"$app/node_modules/m$i/package.json"
  # A few KiB each, like a small library.
  { echo "module.exports = function m$i(x) {"; for ((l = 0; l < 60; ++l)); do
    echo "  x = (x * 31 + $l) % 1000003; // line $l of a module that does a little work"; done
    echo "  return x; };"; } >"$app/node_modules/m$i/lib/index.js"
done
cat >"$work/rules/fn.yaml" <<'YAML'
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: pinned-node}
spec:
  selector: {function: pinned-node}
  mode: enforce
YAML
openssl genpkey -algorithm ed25519 -out "$work/key.pem" 2>/dev/null
openssl pkey -in "$work/key.pem" -pubout -out "$work/pub.pem"
"$fnw" policy bundle --key "$work/key.pem" -o "$work/plain.fnwb" "$work/rules" >/dev/null
"$fnw" policy bundle --key "$work/key.pem" -o "$work/pinned.fnwb" "$work/rules" --pin "$app" >/dev/null
files=$(find "$app" -type f | wc -l)
cp "$work/plain.fnwb" "$work/deploy/policies.fnwb"
start_daemon "$work/daemon.log" "$work/sock" --bundle "$work/deploy/policies.fnwb" --trusted-key "$work/pub.pem" \
  --output none --metrics off --mode enforce >/dev/null
use_bundle() {
  local digest
  digest=$(sha256sum "$work/$1.fnwb" | cut -d' ' -f1)
  cp "$work/$1.fnwb" "$work/deploy/.next" && mv "$work/deploy/.next" "$work/deploy/policies.fnwb"
  eventually 10 bash -c "'$fnw' status --socket '$work/sock' -o json | tr -d ' \n' | grep -q '\"digest\":\"$digest\"'" ||
    { echo "the daemon did not load $1"; exit 1; }
}
# ms of one start; fails the bench if the function did not print ok.
once() {
  local t0 t1 out
  t0=$(date +%s%N)
  out=$("$@" 2>&1)
  t1=$(date +%s%N)
  [[ $out == *ok* ]] || { echo "the function failed: $out" >&2; exit 1; }
  echo $(((t1 - t0) / 1000000))
}
run_fn() { "$fnw" run --socket "$work/sock" --function pinned-node -- "$node" "$app/index.js"; }
declare -A ms
for ((r = 0; r < rounds; ++r)); do
  ms[a]+="$(once "$node" "$app/index.js") "
  use_bundle plain
  ms[b]+="$(once run_fn) "
  use_bundle pinned
  find "$app" -type f -exec touch {} +  # a new version of every file: hashed again
  ms[d]+="$(once run_fn) "
  ms[c]+="$(once run_fn) "
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
a=$(median <<<"${ms[a]}")
printf 'node cold start, %d modules (%d files pinned), %d rounds, median ms\n' "$modules" "$files" "$rounds"
for k in a b c d; do
  m=$(median <<<"${ms[$k]}")
  case $k in
  a) what="(a) bare node" ;;
  b) what="(b) fnwarden run, no pins" ;;
  c) what="(c) fnwarden run, pinned, hashes cached" ;;
  d) what="(d) fnwarden run, pinned, every file hashed" ;;
  esac
  printf '%-46s %6d ms  %5.2fx of (a)\n' "$what" "$m" "$(echo "$m / $a" | bc -l)"
done
b=$(median <<<"${ms[b]}")
c=$(median <<<"${ms[c]}")
printf 'per pinned open (c - b) / %d modules: %.0f us\n' "$modules" "$(echo "($c - $b) * 1000 / $modules" | bc -l)"
