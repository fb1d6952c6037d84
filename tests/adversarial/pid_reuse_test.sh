#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# An asynchronous kill must never hit the process that holds the pid by the
# time fnwarden acts (threat-model.md, "pid reuse before an asynchronous
# kill"). The attacker controls the timing: it stalls the daemon (here:
# SIGSTOP, standing in for any stall), makes a violation only fnwarden can
# decide (a read its `*.txt` glob does not allow), exits, and lets the pid
# be taken by a host process outside the function before the daemon reads
# the record. The pid is handed over on purpose: ns_last_pid is set so that
# the next fork gets it.
#  - the innocent process must survive;
#  - the violation must still be reported, as "reported", not "killed";
#  - the daemon counts the refused kill (kill_not_the_event_process).
# A kill by bare pid (kill(pid, SIGKILL), the code before ProcessHandle)
# kills the innocent process.
# usage: pid_reuse_test.sh FNWARDEN WORKLOAD
set -u
fnw=$1
workload=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../e2e/lib.sh
source "$here/../e2e/lib.sh"
require_root

work=$(mktemp -d)
work=$(cd "$work" && pwd -P)
rules=$work/rules
sock=$work/fnwarden.sock
out=$work/events.jsonl
pids=()
daemon=
cg2=$(cgroup2_mount)
cg=$cg2/fnwtest-pid-$$
cleanup() {
  [[ -n $daemon ]] && kill -CONT "$daemon" 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rmdir "$cg/fn-pid" "$cg" 2>/dev/null
  [[ -n ${FNW_KEEP_WORK:-} ]] || rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$rules" "$work/g" "$cg/fn-pid"
echo "top secret" >"$work/g/secret.key"
cat >"$rules/pid.yaml" <<YAML
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: pid-reuse}
spec:
  selector: {cgroupPath: 'fnwtest-pid-$$/(fn-pid)'}
  mode: enforce
  files:
    read: ["/usr/**", "/lib/**", "/lib64/**", "/etc/**", "/proc/**", "/dev/**", "$work/g/*.txt"]
    write: ["/dev/null"]
    onViolation: kill
YAML
start_daemon "$work/daemon.log" "$sock" --rules "$rules" --output "$out" --metrics "" --mode enforce
daemon=$daemon_pid
status_json() { "$fnw" status --socket "$sock" -o json 2>/dev/null | tr -d ' \n'; }
status_num() { status_json | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2; }
identified() { status_json | grep -qF '"function":"fn-pid"'; }
eventually 10 identified || { fail "fn-pid not identified"; exit 1; }
pass "the function's cgroup is watched"
refused_before=$(status_num kill_not_the_event_process)

# The stall: the daemon reads nothing until SIGCONT.
kill -STOP "$daemon"
CG=$cg/fn-pid bash -c 'echo $$ >"$CG/cgroup.procs" && exec "$@"' bash \
  "$workload" "read:$work/g/secret.key" "exit:0" >/dev/null 2>&1 &
victim=$!
# Only fnwarden can decide the read (a glob): the probe holds the victim at
# the open's exit until the verdict (docs/enforcement.md), and the verdict
# waits for the stalled daemon. The function lets it go itself, with SIGCONT
# from another of its processes (threat-model.md: the hold's known gap), so
# that it can exit and hand its pid over before the daemon reads the record.
held() { [[ $(awk '{ print $3 }' "/proc/$victim/stat" 2>/dev/null) == T ]]; }
if eventually 10 held; then pass "the victim is held at the open's exit while the daemon stalls"; else
  fail "the victim was not held"; fi
kill -CONT "$victim"
wait "$victim"
echo "victim pid $victim read the secret and exited"

# Hand its pid to a host process outside the function: the next fork after
# ns_last_pid = victim - 1 gets it, unless something else forks first.
innocent=
for attempt in $(seq 1 50); do
  echo $((victim - 1)) >/proc/sys/kernel/ns_last_pid
  sleep 60 &
  if [[ $! == "$victim" ]]; then innocent=$!; break; fi
  kill $! 2>/dev/null
done
if [[ -z $innocent ]]; then
  kill -CONT "$daemon"
  fail "could not hand pid $victim to another process in 50 attempts (a busy host)"; finish pid_reuse; exit
fi
pids+=($innocent)
echo "innocent process (sleep, outside the function) now holds pid $innocent (attempt $attempt)"

kill -CONT "$daemon"
reported() { more_than 0 "$out" '"function":"fn-pid"' "\"path\":\"$work/g/secret.key\"" '"verdict":"violation"'; }
if eventually 10 reported; then pass "the violation is reported after the stall"; else
  fail "no violation for the secret: $(head -c 1500 "$out" 2>/dev/null)"; fi
sleep 0.5  # any kill would have been sent by now
if kill -0 "$innocent" 2>/dev/null; then pass "the process that took the pid survives"; else
  fail "the innocent process holding pid $innocent was killed"; fi
expect_eq "the violation says reported, not killed" 1 \
  "$(count_matching "$out" "\"path\":\"$work/g/secret.key\"" '"action":"reported"')"
refused_after=$(status_num kill_not_the_event_process)
if ((${refused_after:-0} > ${refused_before:-0})); then
  pass "the refused kill is counted (kill_not_the_event_process $refused_before -> $refused_after)"
else fail "kill_not_the_event_process ${refused_before:-?} -> ${refused_after:-?}"; fi

finish pid_reuse
