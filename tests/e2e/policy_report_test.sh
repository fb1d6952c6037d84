#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `fnwarden policy report` through the real kernel (docs/policy.md, "Unused
# grants"): a function whose policy grants exactly ten things it never
# uses (three syscalls, two file rights, two programs, an egress port, a
# listen port, ptrace) besides the ones it does use runs once standalone
# (`run --report`) and once under a daemon; the report lists exactly those
# ten as unused, each used grant as used, and writes a tightened policy
# that validates. Under the daemon `status -o json` and /metrics carry the
# counts. About 10 s.
# usage: policy_report_test.sh FNWARDEN WORKLOAD
set -u
fnw=$1
workload=$(realpath "$2")
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
command -v jq >/dev/null || { fail "jq not installed (packaging/deps)"; exit 1; }

use_work_dir

fn=report-e2e-$$-$RANDOM
rules=$work/rules
sock=$work/fnwarden.sock
mkdir -p "$rules"
echo used >"$work/used.txt"
echo spare >"$work/spare-read.txt"
echo spare >"$work/spare-write.txt"
port=$((20000 + RANDOM % 20000))  # nothing listens: the connect is refused after the hook allowed it
true_bin=$(realpath /usr/bin/true)

# Used: four syscalls, one file read, two programs (the workload itself and
# true), one egress port. Unused: the ten the expectations below name.
cat >"$rules/fn.yaml" <<YAML
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: $fn}
spec:
  selector: {function: $fn}
  mode: audit
  syscalls: {allow: [getppid, openat, read, exit_group, sethostname, setdomainname, acct]}
  files:
    read: [$work/used.txt, $work/spare-read.txt]
    write: [$work/spare-write.txt]
  exec:
    allow: [$workload, $true_bin, /usr/bin/false, /usr/bin/env]
  network:
    egress:
      - {cidr: 127.0.0.1/32, ports: [$port], protocol: tcp}
      - {cidr: 10.255.255.1/32, ports: [443], protocol: tcp}
    listen: [{port: 45678, protocol: tcp}]
  process: {ptrace: true}
YAML

expected_unused=$(printf '%s\n' \
  "exec /usr/bin/env" "exec /usr/bin/false" \
  "files.read $work/spare-read.txt" "files.write $work/spare-write.txt" \
  "network.egress 10.255.255.1/32 tcp 443" "network.listen tcp 45678" \
  "process ptrace" \
  "syscalls acct" "syscalls setdomainname" "syscalls sethostname" | sort)
expected_used=$(printf '%s\n' \
  "exec $true_bin" "exec $workload" "files.read $work/used.txt" \
  "network.egress 127.0.0.1/32 tcp $port" \
  "syscalls exit_group" "syscalls getppid" "syscalls openat" "syscalls read" | sort)
steps=(getppid "read:$work/used.txt" "tcp4:127.0.0.1:$port" "exec:$true_bin")

grants_with() { jq -r --arg use "$1" '.grants[] | select(.use == $use) | "\(.section) \(.item)"' "$2" | sort; }

check_report() { # WHERE REPORT_JSON
  expect_eq "$1: exactly the ten unused grants" "$expected_unused" "$(grants_with unused "$2")"
  expect_eq "$1: every used grant counted" "$expected_used" "$(grants_with used "$2")"
  expect_eq "$1: nothing left uncounted" "" "$(grants_with "not counted" "$2")"
  jq -e '.observed_seconds > 0' "$2" >/dev/null && pass "$1: the window is given" || fail "$1: no window"
}

# --- standalone: run --report, then policy report --from ---------------------
"$fnw" run --standalone --socket "$work/none.sock" --no-baseline --function "$fn" --policy "$rules/fn.yaml" \
  --report "$work/run-report.json" -- "$workload" "${steps[@]}" >"$work/run.out" 2>&1
check "run --report wrote a report" test -s "$work/run-report.json" || cat "$work/run.out"
check_report "run --report" "$work/run-report.json"

"$fnw" policy report --from "$work/run-report.json" -o json >"$work/again.json"
check_report "policy report --from" "$work/again.json"
"$fnw" policy report --from "$work/run-report.json" -o markdown --write-policy "$work/tight.yaml" >"$work/report.md"
check "markdown lists an unused grant" grep -qF '| exec | `/usr/bin/false` |' "$work/report.md"
check "markdown leaves used grants out" bash -c "! grep -qF '\`$true_bin\`' '$work/report.md'"
check "the suggested policy validates" "$fnw" policy validate "$work/tight.yaml" >/dev/null
check "the suggested policy keeps what was used" grep -qF -- "$work/used.txt" "$work/tight.yaml"
check "the suggested policy drops the unused" bash -c "! grep -qE 'sethostname|/usr/bin/env|45678|spare-' '$work/tight.yaml'"
"$fnw" policy report --from "$work/run-report.json" --fail-on-unused >"$work/table.txt"
expect_eq "--fail-on-unused exits 1" 1 $?
check "the table names the function" grep -qF "$fn" "$work/table.txt"

# --- under a daemon: the control socket, status and /metrics -----------------
start_daemon "$work/daemon.log" "$sock" --rules "$rules" --metrics 127.0.0.1:0
"$fnw" run --socket "$sock" --function "$fn" -- "$workload" "${steps[@]}" >"$work/run-daemon.out" 2>&1
"$fnw" policy report --socket "$sock" --function "$fn" -o json >"$work/daemon-report.json" ||
  fail "policy report from the daemon: $(cat "$work/daemon-report.json")"
check_report "daemon" "$work/daemon-report.json"

"$fnw" status --socket "$sock" -o json >"$work/status.json"
expect_eq "status: grants of the function" "10 8 0" \
  "$(jq -r --arg fn "$fn" '.functions[] | select(.function == $fn) | .usage | "\(.unused) \(.used) \(.not_counted)"' "$work/status.json")"
metrics=$(jq -r '.daemon.metrics' "$work/status.json")
scrape() { curl -sf "http://$metrics/metrics"; }
has_unused_gauge() { scrape | grep -qF "fnwarden_policy_grants{function=\"$fn\",use=\"unused\"} 10"; }
if eventually 5 has_unused_gauge; then pass "/metrics: unused grants per function"; else
  fail "/metrics: $(scrape | grep fnwarden_policy_grants)"
fi

finish policy_report
