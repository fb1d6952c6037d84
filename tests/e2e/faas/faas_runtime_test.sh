#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End to end with a real FaaS runtime nobody on the project wrote: Google's
# @google-cloud/functions-framework (npm) serving index.js over HTTP on
# 127.0.0.1. Learns a policy from one run (start, requests, SIGTERM), enforces
# it on a second identical run (every request answered, zero violations; one
# known shutdown race aside, see section 2), and proves enforcement is live on
# a third (routes never exercised while learning get EPERM from seccomp, are
# reported as denied, and the function keeps serving). Needs root (BPF +
# cgroups), Node.js and npm: the dependencies are installed on first use by
# packaging/deps/install-node-runtime.sh into DEPS_DIR (needs apt/npm access
# the first time).
# usage: faas_runtime_test.sh FNWARDEN_BINARY SOURCE_DIR DEPS_DIR
# env: FNW_REQUIRE_BPF=1 or FNW_REQUIRE_FAAS=1 turn a skip into a failure;
#      FNW_FAAS_STRICT=1 tolerates no violation at shutdown either;
#      FNW_FAAS_ROUNDS=N request rounds per phase (default 5, 3 requests each).
set -u
fnw=$1
src=$2
deps=$3
skip=77
if [[ $(id -u) -ne 0 ]]; then
  [[ ${FNW_REQUIRE_BPF:-0} == 1 ]] && { echo "FAIL: FNW_REQUIRE_BPF=1 but not root"; exit 1; }
  echo "SKIP: needs root"; exit $skip
fi

fnw=$(readlink -f "$fnw")
src=$(readlink -f "$src")
mkdir -p "$deps" && deps=$(readlink -f "$deps")
fn_dir=$src/tests/e2e/faas
function=gcf-e2e
rounds=${FNW_FAAS_ROUNDS:-5}   # request rounds per phase (3 requests each)
work=$(mktemp -d)
run_pid=                       # the fnwarden run this script started and has not reaped
failures=0
served=0
t0=$EPOCHREALTIME

cgroot=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)

# Stop a run: SIGTERM to fnwarden (it forwards it), bounded wait, then SIGKILL
# for it and whatever is left in its function's cgroup.
stop_run() { # pid [seconds]
  local pid=$1 limit=${2:-15} i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < limit * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "stop_run: fnwarden pid $pid ignored SIGTERM for ${limit}s, killing it" >&2
  pkill -KILL -P "$pid" 2>/dev/null
  kill -KILL "$pid" 2>/dev/null
}
cleanup() {
  local d
  [[ -n $run_pid ]] && stop_run "$run_pid" 5
  # A SIGKILLed fnwarden leaves its cgroup (and maybe node) behind.
  for d in "$cgroot"/fnwarden/"$function"-*; do
    [[ -d $d ]] || continue
    [[ -e $d/cgroup.kill ]] && echo 1 >"$d/cgroup.kill" 2>/dev/null
    sleep 0.2
    rmdir "$d" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect_eq() { # what expected actual
  if [[ "$2" == "$3" ]]; then pass "$1"; else fail "$1: expected '$2', got '$3'"; fi
}
# An unmet precondition: skip, or fail when the suite requires every lane.
cannot_run() {
  if [[ ${FNW_REQUIRE_BPF:-0} == 1 || ${FNW_REQUIRE_FAAS:-0} == 1 ]]; then
    echo "FAIL: $*"; exit 1
  fi
  echo "SKIP: $*"; exit $skip
}

# --- the runtime -------------------------------------------------------------------
if ! bash "$src/packaging/deps/install-node-runtime.sh" "$deps" >"$work/install.log" 2>&1; then
  cat "$work/install.log"
  cannot_run "cannot install Node.js / functions-framework (packaging/deps/install-node-runtime.sh)"
fi
# The real binary: #!/usr/bin/env node wrappers would add failing execve()s.
node=$(readlink -f "$(command -v node)")
ff_main=$deps/node_modules/@google-cloud/functions-framework/build/src/main.js
[[ -f $ff_main ]] || cannot_run "functions-framework is not in $deps"
ff_version=$("$node" -p 'require(process.argv[1]).version' "$deps/node_modules/@google-cloud/functions-framework/package.json")
echo "runtime: node $("$node" --version), @google-cloud/functions-framework $ff_version"

# A free loopback port (the kernel picks it; released just before use).
port=$("$node" -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
[[ $port =~ ^[0-9]+$ ]] || cannot_run "no free port on 127.0.0.1"
url=http://127.0.0.1:$port
runtime_cmd=("$node" --require "$fn_dir/loopback.js" "$ff_main" --target=hello --port="$port" --source="$fn_dir")

# Start the runtime under fnwarden in the background as $run_pid, wait
# (bounded) until it answers HTTP.
start_and_wait() { # log-prefix fnwarden-args...
  local log=$1 i
  shift
  FNW_FAAS_MKDIR=$work/forbidden "$fnw" "$@" -- "${runtime_cmd[@]}" >"$work/$log.out" 2>"$work/$log.err" &
  run_pid=$!
  for ((i = 0; i < 300; i++)); do  # 30 s
    if ! kill -0 "$run_pid" 2>/dev/null; then
      fail "$log: fnwarden exited before the function answered: $(cat "$work/$log.out" "$work/$log.err")"
      return 1
    fi
    curl -s -o /dev/null --max-time 1 "$url/healthz" && return 0
    sleep 0.1
  done
  fail "$log: no HTTP answer on $url within 30 s: $(cat "$work/$log.err")"
  return 1
}

# One request: expected status and body (exact).
request() { # what expected-status expected-body curl-args...
  local what=$1 want_status=$2 want_body=$3 out status body
  shift 3
  out=$(curl -s --max-time 10 -w '\n%{http_code}' "$@")
  status=${out##*$'\n'}
  body=${out%$'\n'*}
  body=${body%$'\n'}  # the function ends every body with a newline
  if [[ $status == "$want_status" && $body == "$want_body" ]]; then
    [[ $status == 200 ]] && served=$((served + 1))
    return 0
  fi
  fail "$what: expected $want_status '$want_body', got ${status:-no answer} '$body'"
  return 1
}

# The learned workload: the same requests in every phase.
exercise() { # phase
  local ok=0 i
  for ((i = 1; i <= rounds; i++)); do
    request "$1 GET ?name" 200 "hello faas$i" "$url/?name=faas$i" || ok=1
    request "$1 POST json" 200 "hello post$i" -H 'Content-Type: application/json' -d "{\"name\":\"post$i\"}" "$url/" || ok=1
    request "$1 GET /healthz" 200 "hello world" "$url/healthz" || ok=1
  done
  [[ $ok == 0 ]] && pass "$1: $((rounds * 3)) requests answered 200 with the expected body"
}

# Stop the run started last; its exit status into $run_rc.
stop_and_reap() {
  stop_run "$run_pid"
  wait "$run_pid"
  run_rc=$?
  run_pid=
}

# --- 1. learn ---------------------------------------------------------------------------
policy=$work/learned.yaml
if start_and_wait learn learn --function "$function" -o "$policy"; then
  # Listening on loopback only (LISTEN = 0A; 0100007F = 127.0.0.1).
  hexport=$(printf '%04X' "$port")
  listeners=$(awk -v p=":$hexport" '$4 == "0A" && substr($2, length($2) - 4) == p { print $2 }' /proc/net/tcp /proc/net/tcp6)
  expect_eq "the runtime listens on 127.0.0.1 only" "0100007F:$hexport" "$listeners"
  exercise learn
fi
stop_and_reap
expect_eq "learn exits 0 after SIGTERM (functions-framework exits 0 on SIGTERM)" 0 "$run_rc"
if [[ ! -s $policy ]]; then
  fail "learn wrote no policy: $(cat "$work/learn.err")"
  echo "e2e faas: $failures failure(s)"
  exit 1
fi
"$fnw" policy validate "$policy" >"$work/validate" 2>&1
expect_eq "the learned policy validates" 0 $?
learned=$(awk '/^  syscalls:/ { s = 1; next } /^  [a-z]/ { s = 0 } s && /^      - /' "$policy" | wc -l)
echo "learned $learned syscalls"
for s in socket bind listen accept4; do  # the HTTP server (epoll_wait vs epoll_pwait depends on libuv)
  grep -qx "      - $s" "$policy" && pass "learned policy allows $s" || fail "learned policy lacks $s"
done
# The negative controls below mean nothing if learning saw their syscalls.
for s in mkdir socketpair; do
  grep -qx "      - $s" "$policy" && fail "learned policy already allows $s" || pass "learned policy does not allow $s"
done
# Every section is learned: the runtime, its interpreter, its code, its port.
for want in "$node" "$(readlink -f /lib64/ld-linux-x86-64.so.2)" "$fn_dir/index.js" "$ff_main" "{port: $port, protocol: tcp}"; do
  grep -qF -- "$want" "$policy" && pass "learned policy has $want" || fail "learned policy lacks $want"
done
grep -q 'execMemory: true' "$policy" && pass "learned execMemory: true (V8)" || fail "learned policy lacks execMemory: true"

# --- 2. enforce the learned policy: the same workload runs clean ----------------------------
# Node's shutdown races: in some runs (about 1 in 3 learn runs, 1 in 7-10
# enforce runs on a 2-CPU VM) libuv's uv__async_spin() calls sched_yield() on
# the platform's delayed-task thread (pid+1) while process.exit() tears the
# platform down. Learning from one run may or may not have seen it. Starting and serving must be violation-free; at
# shutdown only that syscall is tolerated (FNW_FAAS_STRICT=1: nothing is).
shutdown_race='"syscall":{"name":"sched_yield","nr":24}'
events=$work/enforce.jsonl
serving=missing
if start_and_wait enforce run --function "$function" --policy "$policy" --mode enforce --events "$events"; then
  exercise enforce
  serving=$(wc -l <"$events")
fi
stop_and_reap
expect_eq "enforce run exits 0 after SIGTERM" 0 "$run_rc"
expect_eq "enforce run: zero violations while starting and serving" 0 "$serving"
if [[ $serving =~ ^[0-9]+$ ]]; then
  tail -n +$((serving + 1)) "$events" >"$work/shutdown.jsonl"
  races=$(grep -cF "$shutdown_race" "$work/shutdown.jsonl")
  other=$(grep -vF "$shutdown_race" "$work/shutdown.jsonl" | grep -c .)
  if [[ ${FNW_FAAS_STRICT:-0} == 1 ]]; then
    expect_eq "enforce run: zero violations at shutdown (strict)" 0 "$((races + other))"
  else
    expect_eq "enforce run: zero violations at shutdown, libuv's sched_yield race aside" 0 "$other"
    ((races)) && echo "NOTE: shutdown race: sched_yield denied $races time(s), not learned from this run's learn phase"
  fi
  [[ -s $events ]] && echo "enforce events: $(cat "$events")"
fi
grep -q ' 0 violations there (0 killed), [0-9]* stopped by seccomp, 0 events dropped' "$work/enforce.err" \
  && pass "enforce summary: probe saw no violation, nothing dropped" || fail "enforce summary: $(tail -n 3 "$work/enforce.err")"

# --- 3. negative control: unlearned routes are denied, the function keeps serving -----------
events=$work/negative.jsonl
if start_and_wait negative run --function "$function" --policy "$policy" --mode enforce --events "$events"; then
  exercise negative-before
  request "mkdir route" 500 "mkdir failed: EPERM" "$url/mkdir" && pass "mkdir in the function failed with EPERM"
  [[ ! -e $work/forbidden ]] && pass "denied mkdir left nothing behind" || fail "denied mkdir created $work/forbidden"
  request "spawn route" 500 "spawn failed: EPERM" "$url/spawn" && pass "spawning a child in the function failed with EPERM"
  # learn writes a files section: a file the function never read is refused.
  echo "not learned" >"$work/secret.txt"
  request "read route" 500 "read failed: EACCES" "$url/read?path=$work/secret.txt" && pass "reading a file not learned failed with EACCES"
  exercise negative-after
fi
stop_and_reap
expect_eq "negative run exits 0 after SIGTERM (the runtime survived)" 0 "$run_rc"
n_events=$(wc -l <"$events" 2>/dev/null || echo 0)
((n_events >= 2)) && pass "negative run reported $n_events violations" || fail "negative run reported $n_events violations"
expect_eq "exactly one mkdir violation" 1 "$(grep -c '"syscall":{"name":"mkdir","nr":83}' "$events")"
bad=$(grep -v '"action":"denied"' "$events" | grep -c . ; true)
expect_eq "every violation is denied" 0 "$bad"
# The file refusal is Landlock's (the learned files section); every other one seccomp's.
expect_eq "the read of the file not learned is reported" 1 "$(grep "\"path\":\"$work/secret.txt\"" "$events" | grep -c '"mechanism":"landlock"')"
bad=$(grep -v '"mechanism":"seccomp"' "$events" | grep -vF "\"path\":\"$work/secret.txt\"" | grep -c . ; true)
expect_eq "every other violation is stopped by seccomp" 0 "$bad"
for field in '"function":"gcf-e2e"' '"comm":"node"' '"verdict":"violation"' '"rule":"syscalls.allow"'; do
  grep '"name":"mkdir"' "$events" | grep -q "$field" && pass "mkdir event has $field" || fail "mkdir event lacks $field: $(cat "$events")"
done
echo "violations in the negative run: $(grep -o '"syscall":{"name":"[a-z0-9_]*"' "$events" | cut -d'"' -f6 | sort | uniq -c | tr -s ' \n' ' ')"

left=$(find "$cgroot/fnwarden" -mindepth 1 -maxdepth 1 -type d -name "$function-*" 2>/dev/null | wc -l)
expect_eq "no per-run cgroup left behind" 0 "$left"

echo "faas e2e: $served requests answered 200, $learned learned syscalls," \
  "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
echo "e2e faas: $failures failure(s)"
[[ $failures -eq 0 ]]
