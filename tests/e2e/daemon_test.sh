#!/usr/bin/env bash
# The host daemon end to end, with real probes, real cgroups and the real
# binaries: `fnwarden run` registers with the daemon, violations reach the
# JSON output, `trace -o json`, /metrics and the webhook; reloads (valid and
# broken), SIGHUP reopen, a trace client killed mid-stream, a refused
# non-root user, and an event flood during which `status` keeps answering.
# usage: daemon_test.sh FNWARDEN WORKLOAD WEBHOOK_RECEIVER FAKE_KUBE_API
set -u
fnw=$1
workload=$2
receiver=$3
kube_api=$4
skip=77
if [[ $(id -u) -ne 0 ]]; then
  [[ ${FNW_REQUIRE_BPF:-0} == 1 ]] && { echo "FAIL: FNW_REQUIRE_BPF=1 but not root"; exit 1; }
  echo "SKIP: needs root"; exit $skip
fi

work=$(mktemp -d)
rules=$work/rules
sock=$work/fnwarden.sock
out=$work/events.jsonl
pids=()
main_shell=$BASHPID
cleanup() {
  # A background job killed between fork and exec is still a copy of this
  # shell and would run this trap: only the main shell cleans up.
  [[ $BASHPID == "$main_shell" ]] || return 0
  [[ -n ${cg2:-} && -n ${ext:-} ]] && find "$cg2/$ext" -depth -type d -exec rmdir {} + 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Polls CONDITION (a command) for up to SECONDS; true when it held.
eventually() { # seconds command...
  local deadline=$((SECONDS + $1)); shift
  while ((SECONDS < deadline)); do
    "$@" && return 0
    sleep 0.1
  done
  "$@"
}
status_json() { "$fnw" status --socket "$sock" -o json; }
json_field() { # file-or-stdin python-free: jq is not assumed; use grep on compact JSON
  grep -o "\"$1\":[^,}]*" | head -1 | cut -d: -f2- | tr -d '" '
}

write_policy() { # allow-list of syscalls (space separated)
  {
    echo "apiVersion: fnwarden.io/v1"
    echo "kind: FunctionPolicy"
    echo "metadata: {name: e2e-policy}"
    echo "spec:"
    echo "  selector: {function: e2e}"
    echo "  mode: audit"
    echo "  syscalls:"
    echo "    onViolation: report"
    echo "    allow:"
    for s in "$@"; do echo "      - $s"; done
  } >"$rules/e2e.yaml.tmp"
  mv "$rules/e2e.yaml.tmp" "$rules/e2e.yaml"  # atomic, like a ConfigMap swap
}

# What the workload needs to start and exit, without getpgid / getppid.
base_syscalls="execve brk arch_prctl mmap munmap mprotect set_tid_address set_robust_list rseq prlimit64
  getrandom access faccessat openat read pread64 write close fstat newfstatat exit exit_group futex
  rt_sigaction rt_sigprocmask clock_gettime clock_nanosleep nanosleep"

mkdir -p "$rules"
write_policy $base_syscalls getppid

# --- start ---------------------------------------------------------------------
# The receiver fails the first two POSTs: the sink must retry and recover.
"$receiver" fail-first:2 "$work/webhook.jsonl" >"$work/receiver.port" &
pids+=($!)
eventually 5 test -s "$work/receiver.port" || fail "webhook receiver did not start"
hook_port=$(head -1 "$work/receiver.port")

"$fnw" daemon --rules "$rules" --socket "$sock" --output "$out" --metrics 127.0.0.1:0 \
  --webhook "http://127.0.0.1:$hook_port/events" --mode audit --program-stats >"$work/daemon.log" 2>&1 &
daemon=$!
pids+=($daemon)
if eventually 20 test -S "$sock"; then pass "daemon is listening"; else
  fail "daemon did not start: $(cat "$work/daemon.log")"; exit 1
fi
sock_mode=$(stat -c %a "$sock")
[[ $sock_mode == 660 || $sock_mode == 600 ]] && pass "socket mode $sock_mode" || fail "socket mode $sock_mode"
metrics=$(status_json | grep -o '"metrics": *"[^"]*"' | cut -d'"' -f4)
[[ $metrics == 127.0.0.1:* ]] && pass "metrics on loopback ($metrics)" || fail "metrics address '$metrics'"

# --- trace subscriber, then a run that registers --------------------------------
"$fnw" trace --socket "$sock" --function e2e -o json >"$work/trace.jsonl" 2>"$work/trace.err" &
trace=$!
pids+=($trace)
eventually 5 bash -c "\"$fnw\" status --socket \"$sock\" -o json | grep -q '\"role\": \"trace\"'" ||
  fail "trace client not seen by the daemon"

"$fnw" run --socket "$sock" --function e2e -- "$workload" getppid getpgid >"$work/run1.out" 2>&1
rc=$?
[[ $rc == 0 ]] && pass "run under the daemon exits 0 (audit)" || fail "run exit $rc: $(cat "$work/run1.out")"
grep -q "guarded by the daemon" "$work/run1.out" && pass "run registered with the daemon" ||
  fail "run did not register: $(cat "$work/run1.out")"

if eventually 5 grep -q '"name":"getpgid"' "$out"; then pass "violation in the JSON output"; else
  fail "no getpgid violation in $out: $(cat "$out")"; fi
grep '"name":"getpgid"' "$out" | grep -q '"function":"e2e"' && pass "event names the function" ||
  fail "event lacks function"
if eventually 5 grep -q '"name":"getpgid"' "$work/trace.jsonl"; then pass "violation on trace -o json"; else
  fail "trace saw no violation: $(head -c 2000 "$work/trace.jsonl")"; fi
# trace subscribed without --violations: allowed events cross the ring too.
eventually 5 grep -q '"verdict":"allowed"' "$work/trace.jsonl" && pass "trace shows allowed events" ||
  fail "trace shows no allowed events"
grep -q '"verdict":"allowed"' "$out" && fail "allowed events leaked into the output" ||
  pass "outputs carry violations only"

scrape=$(curl -sf "http://$metrics/metrics")
echo "$scrape" | grep -q 'fnwarden_violations_total{function="e2e",type="syscall",action="reported"} 1' &&
  pass "violation counted in /metrics" || fail "metrics: $(echo "$scrape" | grep violations)"
curl -sf "http://$metrics/healthz" | grep -q ok && pass "/healthz ok" || fail "/healthz"
if eventually 15 grep -qs getpgid "$work/webhook.jsonl"; then pass "violation delivered to the webhook after two 500s"; else
  fail "webhook got nothing: $(cat "$work/webhook.jsonl" 2>/dev/null)"; fi
failed_attempts=$(status_json | tr -d ' \n' | grep -o '"failed_attempts":[0-9]*' | cut -d: -f2)
[[ $failed_attempts == 2 ]] && pass "webhook: 2 failed attempts counted" || fail "webhook failed_attempts '$failed_attempts'"

runs=$(status_json | tr -d ' \n' | grep -o '"name":"fnw_sys_enter","run_count":[0-9]*' | grep -o '[0-9]*$')
((${runs:-0} > 0)) && pass "--program-stats: sys_enter ran $runs times" || fail "no run count for fnw_sys_enter"
"$fnw" top --socket "$sock" -n 1 >"$work/top.out" 2>&1
grep -q '^e2e ' "$work/top.out" && pass "top lists the function" || fail "top: $(cat "$work/top.out")"

# --- reload with a valid change: getppid becomes a violation -------------------
v1=$(status_json | grep -o '"version": *"[0-9a-f]*"' | head -1)
write_policy $base_syscalls getpgid
eventually 5 bash -c "! \"$fnw\" status --socket \"$sock\" -o json | grep -q '$v1'" &&
  pass "inotify reload changed the policy set version" || fail "no reload seen"
"$fnw" run --socket "$sock" --function e2e -- "$workload" getppid getpgid >"$work/run2.out" 2>&1
if eventually 5 grep -q '"name":"getppid"' "$out"; then pass "reloaded policy in force without restart"; else
  fail "getppid not a violation after reload"; fi

# --- reload with a broken file: the previous set stays, the error is visible ----
v2=$(status_json | grep -o '"version": *"[0-9a-f]*"' | head -1)
printf 'apiVersion: fnwarden.io/v1\nkind: FunctionPolicy\nmetadata: {name: broken}\nspec:\n  selector: {function: other}\n  syscalls:\n    allow: [opne]\n' \
  >"$rules/broken.yaml"
if eventually 5 bash -c "\"$fnw\" status --socket \"$sock\" -o json | grep -q 'broken.yaml:7'"; then
  pass "status shows the broken file with file:line"; else fail "no reload error in status: $(status_json | grep -A3 last_reload)"; fi
status_json | grep -q "$v2" && pass "previous policy set stays in force" || fail "policy set changed"
curl -sf "http://$metrics/metrics" | grep -q 'fnwarden_policy_reloads_total{result="error"} 1' &&
  pass "failed reload counted in /metrics" || fail "reload error not in metrics"
before=$(grep -c '"name":"getppid"' "$out")
"$fnw" run --socket "$sock" --function e2e -- "$workload" getppid >/dev/null 2>&1
eventually 5 test "$(grep -c '"name":"getppid"' "$out")" -gt "$before" && pass "old policy still enforced" ||
  fail "old policy not enforced after a broken reload"
rm -f "$rules/broken.yaml"
eventually 5 bash -c "\"$fnw\" status --socket \"$sock\" -o json | grep -q '\"result\": *\"ok\"'" &&
  pass "fixing the file reloads cleanly" || fail "reload did not recover"

# --- SIGHUP reopens the output (logrotate) --------------------------------------
mv "$out" "$out.1"
kill -HUP "$daemon"
eventually 5 test -e "$out" && pass "SIGHUP reopened the output file" || fail "no new output file after SIGHUP"
"$fnw" run --socket "$sock" --function e2e -- "$workload" getppid >/dev/null 2>&1
eventually 5 grep -q '"name":"getppid"' "$out" && pass "events go to the new file" || fail "new file stays empty"

# --- a trace client killed mid-stream ----------------------------------------------
kill -9 "$trace"
"$fnw" run --socket "$sock" --function e2e -- "$workload" repeat-getppid:2000 >/dev/null 2>&1
status_json >/dev/null && pass "daemon answers after its trace client was killed" || fail "daemon gone"
kill -0 "$daemon" 2>/dev/null && pass "daemon still running" || fail "daemon died"

# --- a non-root user outside the socket group is refused ------------------------------
chmod 755 "$work"
if setpriv --reuid 65534 --regid 65534 --clear-groups "$fnw" status --socket "$sock" >"$work/nobody.out" 2>&1; then
  fail "uid 65534 got status"
else
  grep -qi "permission denied" "$work/nobody.out" && pass "non-root non-group user refused" ||
    fail "unexpected refusal: $(cat "$work/nobody.out")"
fi

# --- a run for a function with no policy is refused, not silently unguarded ----------
"$fnw" run --socket "$sock" --function nosuch -- true >"$work/nosuch.out" 2>&1
rc=$?
[[ $rc == 2 ]] && grep -q 'no policy for function "nosuch"' "$work/nosuch.out" &&
  pass "run of an unknown function refused" || fail "unknown function: rc $rc $(cat "$work/nosuch.out")"

# --- functions found by cgroup path (selectors), not launched by fnwarden ---------------
cg2=$(findmnt -t cgroup2 -n -o TARGET | head -1)
ext=fnwtest-ext-$$
write_selector_policy() { # file name, selector yaml, extra allowed syscalls
  {
    echo "apiVersion: fnwarden.io/v1"
    echo "kind: FunctionPolicy"
    echo "metadata: {name: $2}"
    echo "spec:"
    echo "  selector: {cgroupPath: '$3'}"
    echo "  mode: audit"
    echo "  syscalls:"
    echo "    allow:"
    for s in $base_syscalls $4; do echo "      - $s"; done
  } >"$rules/$1.tmp"
  mv "$rules/$1.tmp" "$rules/$1"
}
mkdir "$cg2/$ext" "$cg2/$ext/fn-alpha"  # exists before its policy: found by the scan
# The runtime's parent directory gets a default policy: unknown children
# inherit it in the kernel at mkdir, before any process can run there.
write_selector_policy ext-default.yaml ext-default "$ext" ""
write_selector_policy ext-functions.yaml ext-functions "$ext/(fn-[a-z]+)" getppid
eventually 5 bash -c "\"$fnw\" status --socket \"$sock\" -o json | grep -q '\"function\": \"fn-alpha\"'" &&
  pass "existing cgroup found by the scan" || fail "fn-alpha not identified: $(status_json | grep -B2 -A6 fnwtest)"
# Moves itself into the cgroup, then becomes the workload: a process the
# daemon never launched.
run_in_cgroup() { bash -c "echo \$\$ > $cg2/$1/cgroup.procs && exec $workload ${*:2}"; }
run_in_cgroup "$ext/fn-alpha" getppid getpgid
eventually 5 grep -q '"function":"fn-alpha".*"name":"getpgid"\|"name":"getpgid".*"function":"fn-alpha"' "$out" &&
  pass "violation attributed to the function named by the capture group" ||
  fail "no fn-alpha violation: $(grep fn-alpha "$out" | head -3)"
grep '"function":"fn-alpha"' "$out" | grep -q '"name":"getppid"' && fail "fn-alpha's own policy not applied" ||
  pass "fn-alpha runs under its own policy (getppid allowed)"
mkdir "$cg2/$ext/unknown-1"
run_in_cgroup "$ext/unknown-1" getppid
eventually 5 grep -q '"function":"ext-default".*"name":"getppid"\|"name":"getppid".*"function":"ext-default"' "$out" &&
  pass "unknown child runs under the parent's default policy" || fail "unknown child not covered"
mkdir "$cg2/$ext/fn-beta"
eventually 5 bash -c "\"$fnw\" status --socket \"$sock\" -o json | grep -q '\"function\": \"fn-beta\"'" &&
  pass "new cgroup identified at birth" || fail "fn-beta not identified"
run_in_cgroup "$ext/fn-beta" getppid getpgid
eventually 5 grep -q '"function":"fn-beta".*"name":"getpgid"\|"name":"getpgid".*"function":"fn-beta"' "$out" &&
  pass "child upgraded from the default to the function's policy" || fail "no fn-beta violation"
grep '"function":"fn-beta"' "$out" | grep -q '"name":"getppid"' && fail "fn-beta still under the default policy" ||
  pass "fn-beta's getppid allowed by its own policy"
rmdir "$cg2/$ext/fn-alpha" "$cg2/$ext/fn-beta" "$cg2/$ext/unknown-1" "$cg2/$ext"
rm -f "$rules/ext-default.yaml" "$rules/ext-functions.yaml"

# --- flood: a traced function opening in a tight loop ---------------------------------
"$fnw" trace --socket "$sock" -o json >/dev/null 2>&1 &  # makes every event cross the ring
flood_trace=$!
pids+=($flood_trace)
# A reader that never reads: the client blocks on its full stdout pipe and
# stops draining the socket, like a terminal scrolled back.
"$fnw" trace --socket "$sock" -o json 2>/dev/null | sleep 600 &
slow_trace=$!
"$fnw" run --socket "$sock" --function e2e -- "$workload" open-loop:8000:/etc/hostname >/dev/null 2>&1 &
flood=$!
pids+=($flood)
responsive=0
for i in 1 2 3 4 5 6; do
  sleep 1
  if timeout 3 "$fnw" status --socket "$sock" -o json >"$work/flood-status.json"; then
    responsive=$((responsive + 1))
  fi
done
wait "$flood"
[[ $responsive == 6 ]] && pass "status answered 6/6 times during the flood" ||
  fail "status answered $responsive/6 times during the flood"
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$daemon/status")
((rss_kb < 262144)) && pass "daemon RSS bounded (${rss_kb} KiB)" || fail "daemon RSS ${rss_kb} KiB"
final=$(status_json | tr -d ' \n')
kernel_events=$(echo "$final" | grep -o '"kernel":{[^}]*}' | grep -o '"events":[0-9]*' | cut -d: -f2)
((kernel_events > 100000)) && pass "flood produced $kernel_events events" || fail "flood too small: $kernel_events"
client_dropped=$(echo "$final" | grep -o '"client_dropped":[0-9]*' | cut -d: -f2)
((client_dropped > 0)) && pass "stalled trace client: $client_dropped drops counted" ||
  fail "no client drops counted for a stalled reader"
ring_drops=$(echo "$final" | grep -o '"ringbuf_drops":[0-9]*' | cut -d: -f2)
scraped=$(curl -sf "http://$metrics/metrics" | awk '/^fnwarden_ringbuf_drops_total/ {print $2}')
[[ $scraped == "$ring_drops" || $scraped -ge $ring_drops ]] && pass "ring-buffer drops in status ($ring_drops) and metrics ($scraped)" ||
  fail "ring drops: status $ring_drops, metrics $scraped"
kill "$flood_trace" 2>/dev/null
pkill -f "trace --socket $sock -o json" 2>/dev/null
kill "$slow_trace" 2>/dev/null

# --- clean shutdown ----------------------------------------------------------------
# The programs this daemon holds (program and link fds name their prog_id).
prog_ids=$(cat /proc/$daemon/fdinfo/* 2>/dev/null | awk '/^prog_id:/ {print $2}' | sort -u)
[[ -n $prog_ids ]] && pass "daemon holds $(echo $prog_ids | wc -w) programs" || fail "no program fds in the daemon"
kill -TERM "$daemon"
wait "$daemon"
rc=$?
[[ $rc == 0 ]] && pass "SIGTERM: clean exit" || fail "daemon exit $rc"
[[ ! -e $sock ]] && pass "socket removed at exit" || fail "socket left behind"
still_loaded() { for id in $prog_ids; do bpftool prog show id "$id" >/dev/null 2>&1 && return 0; done; return 1; }
# Programs are freed after an RCU grace period: give the kernel a moment.
# (Other fnwarden instances on the host may legitimately hold their own.)
eventually 5 bash -c "$(declare -f still_loaded); prog_ids='$prog_ids'; ! still_loaded" && pass "programs detached at exit" ||
  fail "programs still loaded after exit"

# --- trace with no daemon: standalone, runs register with it ------------------------
"$fnw" trace --socket "$work/standalone.sock" --rules "$rules" --violations -o json \
  >"$work/standalone.jsonl" 2>"$work/standalone.err" &
standalone=$!
pids+=($standalone)
eventually 20 test -S "$work/standalone.sock" || fail "standalone trace did not start: $(cat "$work/standalone.err")"
"$fnw" run --socket "$work/standalone.sock" --function e2e -- "$workload" getppid >/dev/null 2>&1
eventually 5 grep -q '"name":"getppid"' "$work/standalone.jsonl" && pass "standalone trace shows the violation" ||
  fail "standalone trace: $(cat "$work/standalone.jsonl" "$work/standalone.err")"
grep -q '"verdict":"allowed"' "$work/standalone.jsonl" && fail "--violations let allowed events through" ||
  pass "standalone --violations shows violations only"
kill -INT "$standalone"
wait "$standalone"
rc=$?
[[ $rc == 0 ]] && pass "standalone trace ends cleanly on Ctrl-C" || fail "standalone trace exit $rc"

# --- Kubernetes: pods of this node from an API server, pod selectors -------------------
kdir=$work/k8s
mkdir -p "$kdir/rules"
pod_uid=5f1e2d3c-4b5a-4697-8877-665544332211
container=$(printf 'c%.0s' {1..1}; printf '0123456789abcdef%.0s' {1..4})
container=${container:1}
cat >"$kdir/pods.json" <<JSON
{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"100"},"items":[
 {"metadata":{"name":"hello-7d9f","namespace":"openfaas-fn","uid":"$pod_uid","resourceVersion":"99",
   "labels":{"faas_function":"hello","app":"hello"}},
  "spec":{"nodeName":"test-node"},
  "status":{"containerStatuses":[{"name":"hello","containerID":"containerd://$container"}]}}]}
JSON
"$kube_api" "$kdir/pods.json" >"$kdir/api.port" 2>"$kdir/api.log" &
pids+=($!)
eventually 5 test -s "$kdir/api.port" || fail "fake API server did not start"
cat >"$kdir/kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "http://127.0.0.1:$(head -1 "$kdir/api.port")"}}]
users: [{name: test, user: {token: e2e-token}}]
contexts: [{name: test, context: {cluster: test, user: test}}]
current-context: test
YAML
{
  echo "apiVersion: fnwarden.io/v1"
  echo "kind: FunctionPolicy"
  echo "metadata: {name: openfaas-functions}"
  echo "spec:"
  echo "  selector: {pod: {namespace: openfaas-fn, labels: {app: hello}}}"
  echo "  mode: audit"
  echo "  syscalls:"
  echo "    allow:"
  for s in $base_syscalls getppid; do echo "      - $s"; done
} >"$kdir/rules/openfaas.yaml"
ksock=$work/k8s.sock
"$fnw" daemon --rules "$kdir/rules" --socket "$ksock" --output "$kdir/events.jsonl" --metrics off \
  --kubeconfig "$kdir/kubeconfig" --node-name test-node >"$kdir/daemon.log" 2>&1 &
kdaemon=$!
pids+=($kdaemon)
eventually 20 test -S "$ksock" || fail "k8s daemon did not start: $(cat "$kdir/daemon.log")"
eventually 10 bash -c "\"$fnw\" status --socket \"$ksock\" -o json | tr -d ' \n' | grep -q '\"pods\":1,.*\"synced\":true'" &&
  pass "pod watcher synced: 1 pod on test-node" || fail "not synced: $("$fnw" status --socket "$ksock" -o json | grep -A12 kubernetes)"
grep -q 'fieldSelector=spec.nodeName=test-node' "$kdir/api.log" && pass "pods listed for this node only" ||
  fail "no node fieldSelector: $(head -3 "$kdir/api.log")"
grep -q 'auth=Bearer e2e-token' "$kdir/api.log" && pass "bearer token sent" || fail "no token"
eventually 10 bash -c "[[ \$(grep -c 'watch= ' '$kdir/api.log') -ge 2 ]]" && pass "relisted after a 410 on the watch" ||
  fail "no relist after 410: $(cat "$kdir/api.log")"
eventually 10 bash -c "[[ \$(grep -c 'watch=1.*resourceVersion=100 ' '$kdir/api.log') -ge 3 ]]" &&
  pass "reconnected from resourceVersion 100 after the watch dropped" ||
  fail "no reconnect after a dropped watch: $(cat "$kdir/api.log")"
# A container cgroup laid out like the kubelet's cgroupfs driver.
kpath=kubepods/besteffort/pod$pod_uid/$container
mkdir -p "$cg2/$kpath"
eventually 5 bash -c "\"$fnw\" status --socket \"$ksock\" -o json | grep -q '\"found_by\": \"pod\"'" &&
  pass "container cgroup matched through its pod's labels" ||
  fail "pod cgroup not identified: $(tail -5 "$kdir/daemon.log")"
run_in_cgroup "$kpath" getppid getpgid
if eventually 5 grep -q '"name":"getpgid"' "$kdir/events.jsonl"; then
  ev=$(grep '"name":"getpgid"' "$kdir/events.jsonl" | head -1)
  [[ $ev == *'"function":"hello"'* ]] && pass "function from the faas_function label" || fail "function: $ev"
  [[ $ev == *'"namespace":"openfaas-fn"'* && $ev == *'"pod":"hello-7d9f"'* && $ev == *"\"container_id\":\"$container\""* ]] &&
    pass "event carries k8s namespace, pod and container id" || fail "k8s fields: $ev"
else
  fail "no violation from the pod's container: $(cat "$kdir/events.jsonl")"
fi
grep -q '"name":"getppid"' "$kdir/events.jsonl" && fail "the pod's policy was not applied" ||
  pass "the pod runs under the selected policy"
kill -TERM "$kdaemon"; wait "$kdaemon"
find "$cg2/kubepods" -depth -type d -exec rmdir {} + 2>/dev/null

echo "daemon e2e: $failures failure(s)"
((failures == 0))
