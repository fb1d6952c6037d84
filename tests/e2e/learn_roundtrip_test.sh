#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# learn -> enforce round trips with real runtimes (docs/policy.md, "Learning
# it"), each:
#   1. `fnwarden learn` while the workload runs: every section is learned
#      (files, exec and the ELF interpreter, network, process, syscalls);
#   2. `fnwarden run --mode enforce` with the learned policy: the same
#      workload, the same output, zero violations; then one step outside
#      the learned set is refused and reported;
#   3. the same under the daemon (enforce): the learned policy in its rules
#      directory, the function in a cgroup the daemon watches from before
#      the runtime's exec.
# Runtimes: a Python 3 stdlib HTTP function (learn_py_handler.py: reads a
# data file, writes and deletes a scratch file per request, connects to a
# peer, listens on loopback), and the Fn Project FDK (@fnproject/fdk, npm:
# serves faas/fdk_func.js on a unix socket). Node + functions-framework:
# learned and enforced under the daemon here, launched in
# faas/faas_runtime_test.sh.
# usage: learn_roundtrip_test.sh FNWARDEN_BINARY SOURCE_DIR DEPS_DIR
# env: FNW_REQUIRE_FAAS=1 fails instead of skipping the FDK when npm cannot
#      install it.
set -u
fnw=$(readlink -f "$1")
src=$(readlink -f "$2")
deps=${3:-}
[[ -n $deps ]] && mkdir -p "$deps" && deps=$(readlink -f "$deps")
. "$src/tests/e2e/lib.sh"
require_root
require_bpffs

work=$(mktemp -d /tmp/fnw-learn.XXXXXX)
cg2=$(cgroup2_mount)
cgname=fnwlearn-$$
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  for p in "$cg2/$cgname"/*; do
    [[ -d $p ]] || continue
    echo 1 >"$p/cgroup.kill" 2>/dev/null
    eventually 5 rmdir "$p" 2>/dev/null
  done
  rmdir "$cg2/$cgname" 2>/dev/null
  [[ ${FNW_KEEP_WORK:-0} == 1 ]] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
t0=$EPOCHREALTIME
mkdir -p "$cg2/$cgname"
echo "never read while learning" >"$work/secret.txt"

# --- the phases, for the runtime the rt_* variables and functions describe --------------
# rt: its name; cmd: its command; rt_env: VAR=value for it; rt_answers: it
# serves; rt_exercise FILE: the learned workload, bodies into FILE;
# rt_outside EVENTS ENFORCER: the steps outside (ENFORCER: launched|daemon).

# Start "$@" in the background as $bg; wait until the runtime answers.
start_bg() { # log args...
  local log=$1; shift
  rt_reset
  env "${rt_env[@]}" "$@" >"$work/$rt-$log.out" 2>"$work/$rt-$log.err" &
  bg=$!
  pids+=("$bg")
  eventually 30 rt_answers || { fail "$rt $log: no answer: $(cat "$work/$rt-$log.err")"; return 1; }
}
count() { local n; n=$(grep -c "$@" 2>/dev/null); echo "${n:-0}"; }  # count PATTERN FILE
stop_bg() { # pid: SIGTERM, wait; its status in $rc
  kill -TERM "$1" 2>/dev/null
  wait "$1"; rc=$?
}

learn_phase() {
  policy=$work/$rt.yaml
  start_bg learn "$fnw" learn --function "$rt-$$" -o "$policy" -- "${cmd[@]}" && rt_exercise "$work/$rt-learn.bodies"
  stop_bg "$bg"
  expect_eq "$rt: learn exits 0 after SIGTERM" 0 "$rc"
  [[ -s $policy ]] || { fail "$rt: no policy written: $(cat "$work/$rt-learn.err")"; return 1; }
  check "$rt: the learned policy validates" "$fnw" policy validate "$policy"
  local section missing=
  for section in syscalls files.read files.write files.create files.delete exec network.egress network.listen network.unix process; do
    grep -q "^  $section: " "$work/$rt-learn.err" || missing+=" $section"
  done
  expect_eq "$rt: learn prints a summary line per section" "" "$missing"
  sed -n '/the policy allows/,$p' "$work/$rt-learn.err"
  local want
  for want in "${cmd[0]}" "$(readlink -f /lib64/ld-linux-x86-64.so.2)" libc.so.6 "${rt_learned[@]}"; do
    grep -qF -- "$want" "$policy" && pass "$rt: policy has $want" || fail "$rt: policy lacks $want"
  done
  grep -qF "$work/secret.txt" "$policy" && fail "$rt: policy already has the secret" || pass "$rt: policy lacks the secret"
}

launched_phase() {
  local events=$work/$rt-run.jsonl
  if start_bg run "$fnw" run --function "$rt-$$" --policy "$policy" --mode enforce --events "$events" -- "${cmd[@]}"; then
    rt_exercise "$work/$rt-run.bodies"
    check "$rt launched: the same output as while learning" cmp -s "$work/$rt-learn.bodies" "$work/$rt-run.bodies"
    expect_eq "$rt launched: zero violations" 0 "$(count . "$events")"
    rt_outside "$events" launched
  fi
  stop_bg "$bg"
}

daemon_phase() {
  local events=$work/$rt-daemon.jsonl sock=$work/$rt-daemon.sock rules=$work/$rt-rules fnpid
  mkdir -p "$rules" "$cg2/$cgname/$rt"
  # The learned policy, selecting the watched cgroup instead of a function name.
  sed -e "s|^  mode: audit|  mode: enforce|" -e "s|^    function: $rt-$$\$|    cgroupPath: '$cgname/$rt'|" "$policy" >"$rules/learned.yaml"
  grep -q "cgroupPath: '$cgname/$rt'" "$rules/learned.yaml" || fail "$rt: selector not rewritten: $(head -12 "$rules/learned.yaml")"
  start_daemon "$work/$rt-daemon.log" "$sock" --rules "$rules" --output "$events" --metrics off --mode enforce
  # Stopped before it execs the runtime, moved into the watched cgroup, let
  # go: the runtime is under the daemon's eye from its first syscall on.
  rt_reset
  env "${rt_env[@]}" bash -c 'kill -STOP $$; exec "$@"' _ "${cmd[@]}" >"$work/$rt-daemon-fn.out" 2>&1 &
  fnpid=$!
  pids+=("$fnpid")
  eventually 5 grep -q '^State:.*T' "/proc/$fnpid/status"
  echo "$fnpid" >"$cg2/$cgname/$rt/cgroup.procs"
  watched() { "$fnw" status --socket "$sock" -o json 2>/dev/null | grep -q "\"path\": \"$cgname/$rt\""; }
  eventually 10 watched ||
    fail "$rt: the daemon does not watch $cgname/$rt"
  kill -CONT "$fnpid"
  if eventually 30 rt_answers; then
    rt_exercise "$work/$rt-daemon.bodies"
    check "$rt daemon: the same output as while learning" cmp -s "$work/$rt-learn.bodies" "$work/$rt-daemon.bodies"
    expect_eq "$rt daemon: zero violations" 0 "$(count '"verdict":"violation"' "$events")"
    rt_outside "$events" daemon
    # The daemon's probes cannot refuse an open: deny falls back to kill.
    eventually 5 bash -c "! kill -0 $fnpid 2>/dev/null" && pass "$rt daemon: killed for the read" || fail "$rt: survived the read"
  else
    fail "$rt daemon: no answer: $(cat "$work/$rt-daemon-fn.out"; tail -3 "$events")"
  fi
  [[ -s $events ]] && echo "$rt daemon events: $(cut -c1-300 "$events")"
  kill -TERM "$fnpid" "$daemon_pid" 2>/dev/null
  wait "$fnpid" "$daemon_pid" 2>/dev/null
}

# The read of the secret: launched, Landlock refuses it (the answer says
# so); under the daemon (no BPF-LSM on this host) the open is decided by
# name in userspace and the reader killed after the fact: the answer may
# or may not get out first (docs/policy.md), so only the event and the
# kill (daemon_phase) are checked. Either way it is reported.
outside_read() { # answer launched-answer events enforcer
  [[ $4 == launched ]] && expect_eq "$rt launched: read of a file not learned refused" "$2" "$1"
  read_reported "$3"
}
# EVENTS has a violation naming the secret, under files.
read_reported() { # events
  eventually 5 grep -q "\"path\":\"$work/secret.txt\"" "$1" && pass "$rt: the refused read is reported" ||
    fail "$rt: no event for the read: $(cat "$1")"
  grep "\"path\":\"$work/secret.txt\"" "$1" | grep -q '"rule":"files' && pass "$rt: ... as files.*" || fail "$rt: read event: $(cat "$1")"
}

round_trip() {
  learn_phase || return
  launched_phase
  daemon_phase
}

# --- Python: a stdlib HTTP function ---------------------------------------------------------
py=$(readlink -f /usr/bin/python3)  # the real binary: `python3` on PATH may be a shim script
mkdir -p "$work/data" "$work/spool"
echo "from the data file" >"$work/data/greeting.txt"
port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
other=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rt=python
cmd=("$py" -B "$src/tests/e2e/learn_py_handler.py" "$port" "$work/data" "$work/spool")
rt_env=()
rt_reset() { :; }
rt_learned=("$work/data/greeting.txt" "$work/spool/**" "{port: $port, protocol: tcp}"
  "{cidr: 127.0.0.1/32, ports: [$port], protocol: tcp}")
get() { curl -s --max-time 10 "http://127.0.0.1:$port$1"; }
rt_answers() { curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/read?path=/nonexistent"; }
rt_exercise() { local i; for ((i = 1; i <= 10; i++)); do get "/?name=r$i"; done >"$1"
  expect_eq "$rt: answered" 10 "$(grep -c '^hello r[0-9]*, from the data file$' "$1")"; }
rt_outside() { # events enforcer
  # launched: Landlock refuses (EACCES); daemon: the cgroup socket hook (EPERM).
  expect_eq "$rt $2: connect to port $other refused" "connect failed: $([[ $2 == launched ]] && echo 13 || echo 1)" \
    "$(get "/connect?port=$other")"
  eventually 5 grep -q "\"dport\":$other" "$1" && pass "$rt $2: the refused connect is reported" || fail "$rt: no connect event"
  grep "\"dport\":$other" "$1" | grep -q '"rule":"network.egress"' && pass "$rt $2: ... as network.egress" || fail "$rt: connect event: $(cat "$1")"
  outside_read "$(get "/read?path=$work/secret.txt")" "read failed: 13" "$1" "$2"
}
round_trip

# --merge: a second run (another program, another file) united with the
# Python policy, every section kept and grown.
echo "another file" >"$work/data/other.txt"
"$fnw" learn --function "python-$$" --merge "$work/python.yaml" -o "$work/merged.yaml" -- \
  /usr/bin/cat "$work/data/other.txt" >/dev/null 2>"$work/merge.err"
expect_eq "learn --merge exits 0" 0 "$?"
for want in "$work/data/greeting.txt" "$work/data/other.txt" "$(readlink -f /usr/bin/cat)" "$py" \
  "$work/spool/**" "{port: $port, protocol: tcp}" "{cidr: 127.0.0.1/32, ports: [$port], protocol: tcp}" "      - accept4"; do
  grep -qF -- "$want" "$work/merged.yaml" && pass "merged policy has $want" || fail "merged policy lacks $want: $(cat "$work/merge.err")"
done

# Nothing silently lost: a ring too small for one file record (12 KiB)
# drops every access; learn names the counters and writes no policy.
"$fnw" learn --function "lossy-$$" --ringbuf-bytes 4096 -o "$work/lossy.yaml" -- /usr/bin/cat /etc/hostname \
  >/dev/null 2>"$work/lossy.err"
expect_eq "learn with drops fails (125: fnwarden's own failure)" 125 "$?"
[[ ! -e $work/lossy.yaml ]] && pass "learn with drops writes no policy" || fail "learn with drops wrote a policy"
grep -q 'ring-buffer drops (ringbuf_drops)' "$work/lossy.err" && pass "learn names the drop counter" ||
  fail "learn with drops: $(cat "$work/lossy.err")"

# --- the Fn Project FDK (Node), on a unix socket -------------------------------------------------
node=$(readlink -f "$(command -v node 2>/dev/null)")
if [[ -n $deps ]] && bash "$src/packaging/deps/install-node-runtime.sh" "$deps" >"$work/install.log" 2>&1 &&
  [[ -x $node && -f $deps/node_modules/@fnproject/fdk/package.json ]]; then
  rt=fdk
  mkdir -p "$work/fnsock" "$work/fdk"
  cp "$src/tests/e2e/faas/fdk_func.js" "$work/fdk/func.js"
  ln -s "$deps/node_modules" "$work/fdk/node_modules"
  lsnr=$work/fnsock/lsnr.sock
  cmd=("$node" "$work/fdk/func.js")
  rt_env=(FN_FORMAT=http-stream "FN_LISTENER=unix:$lsnr")
  rt_reset() { rm -f "$work/fnsock"/*; }  # every run starts as learning did: no socket yet
  rt_learned=("$work/fdk/func.js" "$work/fnsock/**" "$(readlink -f "$deps")/node_modules/@fnproject/fdk/fn-fdk.js")
  call() { curl -s --max-time 10 --unix-socket "$lsnr" -X POST -H 'Content-Type: application/json' \
    -H 'Fn-Call-Id: 01LEARN' -H 'Fn-Deadline: 2099-01-01T00:00:00.000Z' -d "$1" http://function/call; }
  rt_answers() { [[ -S $lsnr ]] && call '{"name":"ready"}' | grep -q hello; }
  rt_exercise() { local i; for ((i = 1; i <= 10; i++)); do call "{\"name\":\"r$i\"}"; echo; done >"$1"
    expect_eq "$rt: answered" 10 "$(grep -c '^{"hello":"r[0-9]*"}$' "$1")"; }
  rt_outside() { # events enforcer
    outside_read "$(call "{\"read\":\"$work/secret.txt\"}")" '{"error":"EACCES"}' "$1" "$2"
  }
  round_trip

  # --- Node + @google-cloud/functions-framework: under the daemon ------------------------------
  # Its learn and launched enforce run are faas/faas_runtime_test.sh's; here
  # the learned policy is enforced by the daemon on a watched cgroup.
  rt=gcf
  gport=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cmd=("$node" --require "$src/tests/e2e/faas/loopback.js"
    "$deps/node_modules/@google-cloud/functions-framework/build/src/main.js" --target=hello --port="$gport"
    --source="$src/tests/e2e/faas")
  rt_env=()
  rt_reset() { :; }
  rt_learned=("$src/tests/e2e/faas/index.js" "{port: $gport, protocol: tcp}")
  gget() { curl -s --max-time 10 "http://127.0.0.1:$gport$1"; }
  rt_answers() { curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$gport/healthz"; }
  rt_exercise() { local i; for ((i = 1; i <= 10; i++)); do gget "/?name=r$i"; done >"$1"
    expect_eq "$rt: answered" 10 "$(count '^hello r[0-9]*$' "$1")"; }
  rt_outside() { # events enforcer
    outside_read "$(gget "/read?path=$work/secret.txt")" "read failed: EACCES" "$1" "$2"
  }
  learn_phase && daemon_phase
elif [[ ${FNW_REQUIRE_FAAS:-0} == 1 ]]; then
  fail "cannot install the Fn FDK: $(tail -5 "$work/install.log")"
else
  echo "NOTE: Fn FDK round trip skipped: node or npm install unavailable ($(tail -1 "$work/install.log" 2>/dev/null))"
fi

echo "learn round trips: $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
finish e2e.learn_roundtrip
