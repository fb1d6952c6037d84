#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Signed policy bundles through the real binaries (docs/policy.md, "Signed
# bundles"): `policy bundle` refuses an invalid policy and signs a valid
# set; `policy verify` accepts it and refuses a changed one; a daemon
# started with --bundle loads it (a violation is reported per its policy);
# a copy with one flipped byte, one signed with another key, an expired
# one and one signed before it (a rollback) are each refused with their
# reason (status, a policy_refused event, fnwarden_policy_refused_total)
# while the old set stays in force (the same violation still reported);
# --require-signed refuses a plain rules directory.
# usage: bundle_test.sh FNWARDEN WORKLOAD
set -u
fnw=$1
workload=$(realpath "$2")
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
command -v openssl >/dev/null || { fail "openssl not installed (packaging/deps)"; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

fn=bundle-e2e-$$-$RANDOM
rules=$work/rules
deploy=$work/deploy  # what the daemon watches: the bundle is replaced here
bundle=$deploy/policies.fnwb
sock=$work/fnwarden.sock
out=$work/events.jsonl
mkdir -p "$rules" "$deploy"

# What the workload needs to start and exit: getpgid is a violation.
{
  echo "apiVersion: fnwarden.io/v1"
  echo "kind: FunctionPolicy"
  echo "metadata: {name: $fn}"
  echo "spec:"
  echo "  selector: {function: $fn}"
  echo "  mode: audit"
  echo "  syscalls:"
  echo "    onViolation: report"
  echo "    allow: [execve, brk, arch_prctl, mmap, munmap, mprotect, set_tid_address, set_robust_list, rseq,"
  echo "            prlimit64, getrandom, access, faccessat, openat, read, pread64, write, close, fstat,"
  echo "            newfstatat, exit, exit_group, futex, rt_sigaction, rt_sigprocmask, clock_gettime]"
} >"$rules/fn.yaml"

openssl genpkey -algorithm ed25519 -out "$work/key.pem" 2>/dev/null &&
  openssl pkey -in "$work/key.pem" -pubout -out "$work/pub.pem" &&
  openssl genpkey -algorithm ed25519 -out "$work/other.pem" 2>/dev/null || { fail "openssl could not make keys"; exit 1; }

status_json() { "$fnw" status --socket "$sock" -o json 2>/dev/null; }
refusal_is() { status_json | tr -d ' \n' | grep -q "\"last_refusal_reason\":\"$1\""; }
violations() { count_matching "$out" '"name":"getpgid"' "\"function\":\"$fn\""; }
run_violation() { "$fnw" run --socket "$sock" --function "$fn" -- "$workload" getpgid >"$work/run.out" 2>&1; }
replace_bundle() { cp "$1" "$deploy/.next" && mv "$deploy/.next" "$bundle"; }  # atomic, like a ConfigMap swap

# --- policy bundle / policy verify -------------------------------------------------
cp -r "$rules" "$work/bad-rules"
sed -i 's/clock_gettime\]/clock_gettime, opne]/' "$work/bad-rules/fn.yaml"  # no such syscall
"$fnw" policy bundle --key "$work/key.pem" -o "$work/bad.fnwb" "$work/bad-rules" >"$work/bad.out" 2>&1
rc=$?
[[ $rc == 2 && ! -e $work/bad.fnwb ]] && pass "an invalid policy is refused at bundle time" ||
  fail "bundle of an invalid policy: exit $rc, $(cat "$work/bad.out")"

# Signed before the good one ("created" counts seconds: the clock moves on
# first), so it is a rollback once the good one is in force.
"$fnw" policy bundle --key "$work/key.pem" -o "$work/older.fnwb" "$rules" --expires 1h >/dev/null 2>&1 || fail "bundle (older)"
older_signed=$(date +%s)
clock_moved_on() { (($(date +%s) > older_signed)); }
eventually 3 clock_moved_on || fail "the clock did not move on"
"$fnw" policy bundle --key "$work/key.pem" -o "$work/good.fnwb" "$rules" --pin "$workload" --expires 1h >"$work/bundle.out" 2>&1 &&
  pass "bundle signed" || { fail "bundle: $(cat "$work/bundle.out")"; exit 1; }
"$fnw" policy verify --trusted-key "$work/pub.pem" "$work/good.fnwb" >"$work/verify.out" 2>&1
rc=$?
[[ $rc == 0 ]] && grep -q "pin $workload sha256 $(sha256sum "$workload" | cut -d' ' -f1)" "$work/verify.out" &&
  pass "verify accepts it and shows the code pin" || fail "verify: exit $rc, $(cat "$work/verify.out")"

# One flipped byte inside the policy text (not the manifest).
cp "$work/good.fnwb" "$work/flipped.fnwb"
at=$(grep -obUa 'selector' "$work/flipped.fnwb" | head -1 | cut -d: -f1)
printf 'S' | dd of="$work/flipped.fnwb" bs=1 seek="$at" conv=notrunc status=none
"$fnw" policy verify --trusted-key "$work/pub.pem" "$work/flipped.fnwb" >"$work/verify-flipped.out" 2>&1
rc=$?
[[ $rc == 1 ]] && grep -q "refused (digest_mismatch)" "$work/verify-flipped.out" &&
  pass "verify refuses a flipped byte" || fail "verify flipped: exit $rc, $(cat "$work/verify-flipped.out")"
"$fnw" policy bundle --key "$work/other.pem" -o "$work/other.fnwb" "$rules" >/dev/null 2>&1 || fail "bundle (other key)"
"$fnw" policy bundle --key "$work/key.pem" -o "$work/expired.fnwb" "$rules" --expires 2020-01-01T00:00:00Z \
  >/dev/null 2>&1 || fail "bundle (expired)"

# --- the daemon loads the verified bundle ------------------------------------------
replace_bundle "$work/good.fnwb"
start_daemon "$work/daemon.log" "$sock" --bundle "$bundle" --trusted-key "$work/pub.pem" --output "$out" \
  --metrics 127.0.0.1:0 --mode audit
digest=$(sha256sum "$work/good.fnwb" | cut -d' ' -f1)
status_json | tr -d ' \n' | grep -q "\"digest\":\"$digest\"" && pass "status shows the bundle's digest" ||
  fail "status: $(status_json | grep -A12 '"bundle"')"
run_violation
eventually 5 more_than 0 "$out" '"name":"getpgid"' "\"function\":\"$fn\"" &&
  pass "a violation is reported per the bundle's policy" || fail "no violation: $(cat "$work/run.out")"

metrics=$(status_json | grep -o '"metrics": *"[^"]*"' | cut -d'"' -f4)
refused_metric() { curl -sf "http://$metrics/metrics" | grep -q "^fnwarden_policy_refused_total{reason=\"$1\"} 1"; }
# refused NAME FILE REASON: the daemon refuses FILE with REASON, and the set
# loaded before still reports the violation.
refused() {
  local before
  replace_bundle "$2"
  if eventually 5 refusal_is "$3"; then pass "$1: refused ($3) in status"; else
    fail "$1: status $(status_json | grep -A12 '"bundle"')"; fi
  eventually 2 more_than 0 "$out" '"type":"policy_refused"' "\"reason\":\"$3\"" &&
    pass "$1: a policy_refused event" || fail "$1: no event in $(cat "$out")"
  eventually 2 refused_metric "$3" && pass "$1: counted in /metrics" ||
    fail "$1: $(curl -sf "http://$metrics/metrics" | grep policy_refused)"
  status_json | tr -d ' \n' | grep -q "\"digest\":\"$digest\"" && pass "$1: the verified bundle stays in force" ||
    fail "$1: bundle in force changed"
  before=$(violations)
  run_violation
  eventually 5 more_than "$before" "$out" '"name":"getpgid"' "\"function\":\"$fn\"" &&
    pass "$1: the old set still reports the violation" || fail "$1: violation not reported after the refusal"
}
refused "one flipped byte" "$work/flipped.fnwb" digest_mismatch
refused "another key" "$work/other.fnwb" wrong_key
refused "expired" "$work/expired.fnwb" expired
refused "an older signed bundle" "$work/older.fnwb" rollback
kill "$daemon_pid" && wait "$daemon_pid" 2>/dev/null

# --- --require-signed refuses a plain rules directory --------------------------------
start_daemon "$work/daemon2.log" "$sock" --rules "$rules" --require-signed --output "$out" --metrics off
eventually 5 refusal_is unsigned_source && pass "require-signed: the rules directory is refused" ||
  fail "require-signed: $(status_json | grep -A12 '"bundle"')"
status_json | tr -d ' \n' | grep -q '"reloads_ok":0' && pass "require-signed: no policy set in force" ||
  fail "require-signed: a set is in force"
grep -q "no policy set is in force" "$work/daemon2.log" && pass "require-signed: the daemon says so" ||
  fail "daemon log: $(cat "$work/daemon2.log")"

finish bundle
