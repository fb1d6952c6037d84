#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The quick-start demo, from a fresh Debian 12 machine: installs the
# dependencies, builds, then starts the host daemon with the bundled rules
# (rules/: baseline.yaml + examples/) and runs the demo function
# (examples/demo/handler.sh) under it:
#   1. `fnwarden daemon` loads the probes once and every policy in rules/;
#   2. `fnwarden trace` streams the daemon's live events;
#   3. `fnwarden run` registers the demo function with the daemon: its one
#      syscall outside the allowlist (mkdir) is reported (policy in audit);
#   4. a shell under the `sandboxed` policy (enforce) tries to create a
#      directory outside its file allowlist: Landlock refuses it;
#   4b. hello-fn (examples/hello-fn) runs clean, then misbehaves five ways
#      (reads /etc/shadow, writes its code, runs /bin/sh, connects out,
#      maps writable+executable memory):
#      one violation each, with the canonical path or address;
#   5. `fnwarden status` and /metrics show what the daemon guards and counted.
# Last, without the daemon, `fnwarden run --mode enforce` kills the demo's
# mkdir before it runs (seccomp).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "demo.sh: run as root (fnwarden loads BPF programs and creates cgroups)" >&2
  exit 1
fi
bash packaging/deps/install-debian.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

banner() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fnw=build/fnwarden
# A private socket and output: a daemon already installed on this host (on
# /run/fnwarden/fnwarden.sock) is left alone.
demo_dir=$(mktemp -d /tmp/fnwarden-demo.XXXXXX)
sock=$demo_dir/fnwarden.sock
daemon_pid=
trace_pid=
installed_hello=
cleanup() {
  [[ -n $installed_hello ]] && rm -rf /var/task/hello-fn /tmp/hello-fn && rmdir /var/task 2>/dev/null
  [[ -n $trace_pid ]] && kill "$trace_pid" 2>/dev/null
  [[ -n $daemon_pid ]] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  rm -rf "$demo_dir"
}
trap cleanup EXIT

banner "policy check: $fnw policy validate rules/baseline.yaml rules/examples/*.yaml"
$fnw policy validate rules/baseline.yaml rules/examples/*.yaml

banner "daemon: $fnw daemon --unload-on-exit --rules rules --mode enforce --socket $sock --output events.jsonl --metrics 127.0.0.1:0"
$fnw daemon --unload-on-exit --rules rules --mode enforce --socket "$sock" --output "$demo_dir/events.jsonl" \
  --metrics 127.0.0.1:0 2>"$demo_dir/daemon.log" &
daemon_pid=$!
for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.1; done
[[ -S $sock ]] || { cat "$demo_dir/daemon.log"; exit 1; }
cat "$demo_dir/daemon.log"

$fnw trace --socket "$sock" --violations >"$demo_dir/trace.txt" 2>&1 &
trace_pid=$!
sleep 0.3

set +e
banner "run under the daemon: demo policy is in audit, so mkdir is reported and allowed"
$fnw run --socket "$sock" --function demo -- examples/demo/handler.sh '{"name":"daemon"}'
echo "exit status: $?"

banner "files: the sandboxed policy (enforce) refuses a directory outside its allowlist (Landlock)"
$fnw run --socket "$sock" --function sandboxed -- sh -c 'mkdir /tmp/fnwarden-demo-forbidden'
echo "exit status: $?"
sleep 0.3

# hello-fn (examples/hello-fn) lives where Lambda puts code: /var/task.
# Only installed if nothing else is there, and removed at the end.
hello_dir=/var/task/hello-fn
if [[ ! -e $hello_dir ]]; then
  install -D -m 0755 build/examples/hello-fn "$hello_dir/hello-fn"
  install -m 0644 examples/hello-fn/greeting.txt "$hello_dir/greeting.txt"
  installed_hello=1
  banner "hello-fn behaves: its policy allows all it does, no event"
  $fnw run --socket "$sock" --function hello-fn -- "$hello_dir/hello-fn" alice
  banner "hello-fn misbehaves (audit policy): each is one violation, with the path the kernel used"
  for what in shadow write-code exec-sh connect shellcode; do
    $fnw run --socket "$sock" --function hello-fn -- "$hello_dir/hello-fn" mallory "--misbehave=$what" | tail -n1
  done
  install -m 0644 examples/hello-fn/greeting.txt "$hello_dir/greeting.txt"
fi
sleep 0.3

banner "what '$fnw trace --violations' showed meanwhile"
cat "$demo_dir/trace.txt"

banner "$fnw status"
$fnw status --socket "$sock"

metrics=$($fnw status --socket "$sock" -o json | grep -o '"metrics": *"[^"]*"' | cut -d'"' -f4)
banner "curl http://$metrics/metrics | grep violations"
curl -s "http://$metrics/metrics" | grep '^fnwarden_violations_total' || true

banner "the daemon's JSON-lines output ($demo_dir/events.jsonl)"
cat "$demo_dir/events.jsonl"

kill "$trace_pid" "$daemon_pid"
wait "$daemon_pid"
trace_pid=
daemon_pid=

banner "standalone, enforce mode: the process that calls mkdir is killed before the syscall runs (seccomp)"
$fnw run --standalone --function demo --policy rules/examples/demo.yaml --mode enforce -- \
  examples/demo/handler.sh '{"name":"enforce"}'
echo "exit status: $?"
set -e
