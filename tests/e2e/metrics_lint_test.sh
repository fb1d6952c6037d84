#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A live daemon's /metrics passes `promtool check metrics` (Prometheus' own
# parser and naming lint: HELP on every family, _total on counters, base
# units), before and after a refused reload, and carries what an operator
# joins on: fnwarden_build_info with the version `fnwarden version` prints,
# the process_* metrics, and the last-reload pair (successful 1, then 0 with
# the success timestamp left where it was).
# promtool: $FNW_PROMTOOL, or on PATH (packaging/deps/install-debian.sh puts
# it in /usr/local/bin). Without it the test skips, or fails under
# FNW_REQUIRE_BPF=1.
# usage: metrics_lint_test.sh FNWARDEN
set -u
fnw=$1
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_bpffs

promtool=${FNW_PROMTOOL:-$(command -v promtool || true)}
if [[ ! -x $promtool ]]; then
  [[ ${FNW_REQUIRE_BPF:-0} == 1 ]] && { echo "FAIL: promtool not found (packaging/deps/install-debian.sh)"; exit 1; }
  echo "SKIP: promtool not found (packaging/deps/install-debian.sh installs it)"; exit 77
fi

work=$(mktemp -d)
sock=$work/fnwarden.sock
main_shell=$BASHPID
pids=()
cleanup() {
  [[ $BASHPID == "$main_shell" ]] || return 0
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/rules"
cat >"$work/rules/lint.yaml" <<YAML
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: lint-policy}
spec:
  selector: {function: metrics-lint-fn-$$}
  mode: audit
  syscalls:
    onViolation: report
    allow: [read, write, exit_group]
YAML

start_daemon "$work/daemon.log" "$sock" --rules "$work/rules" --output "$work/events.jsonl" --metrics 127.0.0.1:0
address() { "$fnw" status --socket "$sock" -o json | grep -o '"metrics": *"[^"]*"' | cut -d'"' -f4; }
metrics=$(address)
[[ $metrics == 127.0.0.1:* ]] || { fail "metrics address '$metrics'"; finish metrics_lint; exit; }

# value TEXT NAME: the value of the one sample whose name (labels included)
# starts with NAME; empty when there is none.
value() { awk -v name="$2" 'index($0, name) == 1 && substr($0, length(name) + 1, 1) ~ /[ {]/ { print $NF; exit }' <<<"$1"; }
lint() { # lint WHEN TEXT
  local out
  if out=$("$promtool" check metrics <<<"$2" 2>&1); then pass "promtool check metrics $1"; else
    fail "promtool check metrics $1: $out"
  fi
}

scrape=$(curl -sf "http://$metrics/metrics") || fail "cannot scrape http://$metrics/metrics"
lint "after start" "$scrape"

version=$("$fnw" version | awk '{print $2}')
grep -q "^fnwarden_build_info{version=\"$version\",commit=\"[^\"]*\"} 1$" <<<"$scrape" &&
  pass "fnwarden_build_info carries version $version" ||
  fail "fnwarden_build_info: '$(grep '^fnwarden_build_info' <<<"$scrape")', want version $version"
for metric in process_cpu_seconds_total process_resident_memory_bytes process_virtual_memory_bytes \
  process_start_time_seconds process_open_fds process_max_fds; do
  v=$(value "$scrape" "$metric")
  [[ -n $v ]] && awk -v v="$v" 'BEGIN { exit !(v >= 0) }' && pass "$metric = $v" || fail "$metric: '$v'"
done
awk -v v="$(value "$scrape" process_resident_memory_bytes)" 'BEGIN { exit !(v > 1000000) }' &&
  pass "resident memory is the daemon's (over 1 MB)" || fail "process_resident_memory_bytes too small"
started=$(value "$scrape" process_start_time_seconds)
awk -v s="$started" -v now="$(date +%s)" 'BEGIN { exit !(s > now - 3600 && s <= now + 1) }' &&
  pass "process_start_time_seconds is this daemon's start ($started)" || fail "process_start_time_seconds '$started'"
expect_eq "last reload successful" 1 "$(value "$scrape" fnwarden_policy_set_last_reload_successful)"
success_time=$(value "$scrape" fnwarden_policy_set_last_reload_success_timestamp_seconds)
awk -v s="$success_time" 'BEGIN { exit !(s > 1577836800) }' &&
  pass "last reload success timestamp set ($success_time)" || fail "success timestamp '$success_time'"

# A refused reload: successful drops to 0, the success timestamp stays.
printf 'apiVersion: fnwarden.io/v1\nkind: FunctionPolicy\nmetadata: {name: broken}\nspec:\n  selector: {function: x}\n  syscalls:\n    allow: [opne]\n' \
  >"$work/rules/broken.yaml"
kill -HUP "$daemon_pid"
refused() { [[ $(value "$(curl -sf "http://$metrics/metrics")" fnwarden_policy_set_last_reload_successful) == 0 ]]; }
if eventually $((10 * ${FNW_TEST_SLOWDOWN:-1})) refused; then pass "last reload successful 0 after a refused reload"; else
  fail "fnwarden_policy_set_last_reload_successful did not drop to 0: $(tail -3 "$work/daemon.log")"
fi
scrape=$(curl -sf "http://$metrics/metrics")
expect_eq "success timestamp unchanged by the refused reload" "$success_time" \
  "$(value "$scrape" fnwarden_policy_set_last_reload_success_timestamp_seconds)"
lint "after a refused reload" "$scrape"

finish metrics_lint
