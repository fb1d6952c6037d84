#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The vm lane's driver, run INSIDE the run-in-vm guest (Debian 6.1 kernel,
# lsm=...,bpf) by tests/vm/CMakeLists.txt, so that one boot runs every suite:
#
#   run-in-vm -- bash guest-suite.sh --lane LANE BUILD_DIR SOURCE_DIR [BPF_OBJECT BPFTOOL]
#
# BUILD_DIR is the host's build tree (the guest sees the host's / read-only,
# with a RAM overlay): fnwarden, tests/fnw_bpf_tests and the test helpers.
# FNW_REQUIRE_BPF=1 and FNW_REQUIRE_LSM=1 are set, so a probe that fails to
# load or verify, or an LSM test that would skip, is a failure.
#
# Two lanes, because every BPF test costs about 9 s in this guest under TCG:
#   lsm  (default, in .ci/run): the BPF-LSM suites, i.e. every test whose
#        outcome differs where BPF-LSM runs (LSM_SUITES below). Each of them
#        loads and attaches the whole object with every LSM hook, so the 6.1
#        verifier sees every program; plus the `cat /etc/shadow` check
#        and plain_runc_test.sh (EPERM for a plain runc container).
#   full (scripts/test.sh --full): the whole BPF suite, the check, and the
#        plain_runc, run_cli, daemon and pinned_restart e2e scripts.
# and, to iterate on an e2e script without the ~10 minutes of BPF tests (no
# ctest lane; run it by hand, docs/development.md):
#   e2e  the LSM check and the e2e scripts;  e2e.run_cli, e2e.daemon,
#        e2e.pinned_restart, e2e.plain_runc: one.
# If the BPF suite fails and BPF_OBJECT/BPFTOOL are given, the end of the
# 6.1 verifier log of every program that does not load is printed (fnwarden's
# own log lines are cut short, and the reason is at the end of the log).
# Exits 0 only if every check and suite passed.
set -u
lane=lsm
if [[ ${1:-} == --lane ]]; then
  lane=${2:-}
  shift 2
fi
case $lane in lsm | full | e2e | e2e.run_cli | e2e.daemon | e2e.pinned_restart | e2e.plain_runc) ;; *) lane="" ;; esac
if [[ -z $lane ]] || [[ $# -ne 2 && $# -ne 4 ]]; then
  echo "usage: $0 [--lane lsm|full|e2e|e2e.run_cli|e2e.daemon|e2e.pinned_restart|e2e.plain_runc] BUILD_DIR SOURCE_DIR [BPF_OBJECT BPFTOOL] (run through tests/vm/run-in-vm)" >&2
  exit 2
fi
if [[ ${RUN_IN_VM:-0} != 1 ]]; then
  echo "guest-suite: not inside the run-in-vm guest; run it through tests/vm/run-in-vm" >&2
  exit 2
fi
build=$1
src=$2
bpf_object=${3:-}
bpftool=${4:-}
bpf_tests=$build/tests/fnw_bpf_tests
fnw=$build/fnwarden
workload=$build/tests/fnw_test_workload
export FNW_REQUIRE_BPF=1
# The guest runs lsm=...,bpf: BPF-LSM tests must run here, not skip.
export FNW_REQUIRE_LSM=1
# run-in-vm's busybox init makes no /dev/fd, which bash's process
# substitution (here and in the e2e scripts) needs.
[[ -e /dev/fd ]] || ln -s /proc/self/fd /dev/fd
# The caller's environment is passed into the guest: an inherited
# GTEST_FILTER (or shuffle, repeat, ...) would silently change the suite.
while read -r var; do unset "$var"; done < <(compgen -e | grep '^GTEST_')

# The tests whose outcome depends on BPF-LSM: their LSM branch runs only
# here. One gtest pattern per line; each must match at least one test, so a
# renamed test fails the lane instead of silently leaving it.
LSM_SUITES=(
  'BpfLsmTest.*'
  'BpfLsmFileTest.*'
  'BpfLsmOnlyFileTest.*'
  'ProcessRulesTest.*'
  'ExecProbeTest.ExecOutsideTheAllowlistIsReportedWithTheProgramTheKernelRan'
  'ExecProbeTest.KillActionKillsTheNewImageBeforeItRuns'
  'NetworkTest.TcpConnectToAllowedPeerWorksAndDisallowedGetsEperm'
  'NetworkTest.AConnectSubmittedThroughIoUringIsRefusedToo'
  'NetworkTest.BindToUnlistedPortIsDeniedListedPortWorks'
  'NetworkTest.KillActionRefusesThenKills'
  'NetworkTest.AUnixConnectOutsideTheAllowlistIsRefusedUnderBpfLsmElseKilled'
  # Pinned sets: the LSM programs' links are pinned and adopted only here.
  'PinningTest.*'
)

# First what kernel this is and which LSMs are on, for the CI log.
lsm=$(cat /sys/kernel/security/lsm 2>/dev/null || echo "<no /sys/kernel/security/lsm>")
echo "guest: uname -r: $(uname -r)"
echo "guest: lsm: $lsm"
echo "guest: cgroup2 at $(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)"

# Hold every tracepoint fnwarden attaches to enabled for the whole lane, so
# that no test's attach or detach flips its static key. Each flip rewrites
# the tracepoint's call site in kernel text (text_poke_bp: an int3, then the
# new bytes), and under TCG a guest hung there for good (both vCPUs on
# sched_process_exit's site in do_exit, one in asm_exc_int3, for 10+
# minutes: docs/development.md, "The vm lane"). An enabled ftrace event is a
# probe of its own on the tracepoint: BPF links come and go beside it and
# the key stays on. tracing_on=0: nothing is recorded.
hold_tracepoints() {
  local t=/sys/kernel/tracing event held=()
  [[ -w $t/tracing_on ]] || { echo "guest: no tracefs: tracepoints not held"; return 0; }
  echo 0 >"$t/tracing_on"
  for event in sched/sched_process_exit sched/sched_process_exec cgroup/cgroup_mkdir cgroup/cgroup_rmdir \
    cgroup/cgroup_attach_task raw_syscalls/sys_enter raw_syscalls/sys_exit; do
    if echo 1 >"$t/events/$event/enable" 2>/dev/null; then held+=("${event#*/}"); fi
  done
  echo "guest: tracepoints held enabled (no text patching by tests): ${held[*]}"
}
hold_tracepoints

results=()
failures=0
# Loads the BPF object with bpftool, libbpf debug on, and prints the tail of
# each rejected program's verifier log.
verifier_report() {
  [[ -n $bpf_object && -x $bpftool ]] || return 0
  local out pin=/sys/fs/bpf/fnw-vm-verifier-check
  out=$(mktemp)
  echo
  echo "=== verifier check: $bpftool -d prog loadall $bpf_object ($(uname -r))"
  if "$bpftool" -d prog loadall "$bpf_object" "$pin" >"$out" 2>&1; then
    echo "verifier: every program in the object loads here"
  else
    awk '
      /BPF program load failed/ { bad = 1 }
      /-- BEGIN PROG LOAD LOG --/ { if (bad) { keep = 1; n = 0; name = $0 } ; next }
      /-- END PROG LOAD LOG --/ {
        if (keep) {
          print "verifier: " name " (last lines)"
          for (i = (n > 40 ? n - 40 : 0); i < n; i++) print "  " buf[i]
        }
        keep = 0; bad = 0; next
      }
      keep { buf[n++] = $0 }
      /^libbpf: .*failed to load/ { print "verifier: " $0 }
    ' "$out"
  fi
  rm -rf "$pin" "$out"
}

record() { # NAME STATUS(0=pass) SECONDS [DETAIL]
  if [[ $2 -eq 0 ]]; then
    results+=("PASS  $1 (${3}s)")
  else
    results+=("FAIL  $1 (${3}s)${4:+: $4}")
    failures=$((failures + 1))
  fi
}

# --- check: the BPF LSM is active (later lsm/ programs depend on it) ---------
if [[ ,$lsm, == *,bpf,* ]]; then
  echo "PASS: bpf is in the active LSM list"
  record lsm-contains-bpf 0 0
else
  echo "FAIL: bpf is not in the active LSM list: $lsm"
  record lsm-contains-bpf 1 0 "lsm=$lsm"
fi

# The e2e lanes skip the BPF suite and the shadow check (the full lane
# runs them).
if [[ $lane == lsm || $lane == full ]]; then
  # --- suite: the BPF gtest binary ----------------------------------------------
  # The count of tests that passed must equal the count gtest lists for the
  # same filter: a crash after some tests, or a filter that matches less than
  # intended, would otherwise still print "PASSED".
  filter='*'
  [[ $lane == lsm ]] && filter=$(IFS=:; echo "${LSM_SUITES[*]}")
  # "Suite." lines, then "  Test" lines (parameterized ones carry a comment).
  # One listing: every gtest start costs seconds under TCG.
  mapfile -t selected < <("$bpf_tests" --gtest_list_tests --gtest_filter="$filter" |
    awk '/^[^ ]/ { suite = $1; next } { print suite $1 }')
  expected=${#selected[@]}
  if [[ $lane == lsm ]]; then
    for pattern in "${LSM_SUITES[@]}"; do
      matched=0
      for name in "${selected[@]}"; do
        # shellcheck disable=SC2053 # gtest's * and ? are glob patterns
        [[ $name == $pattern ]] && { matched=1; break; }
      done
      if ((!matched)); then
        echo "FAIL: LSM suite pattern '$pattern' matches no test"
        record "lsm-suite-pattern $pattern" 1 0 "matches no test"
      fi
    done
  fi
  echo
  echo "=== suite bpf ($lane lane, $expected tests): $bpf_tests"
  log=$(mktemp)
  t0=$SECONDS
  "$bpf_tests" --gtest_color=no --gtest_filter="$filter" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  detail=""
  [[ $rc -ne 0 ]] && detail="exit $rc"
  # FNW_REQUIRE_BPF=1 turns "cannot load" into a failure; any other skip would
  # still hide a test from this lane, so it fails it too.
  if grep -q '^\[  SKIPPED \]' "$log"; then
    [[ $rc -eq 0 ]] && rc=1
    detail="${detail:+$detail, }tests skipped"
  fi
  passed=$(grep -oE '^\[  PASSED  \] [0-9]+' "$log" | grep -oE '[0-9]+$')
  if [[ ${passed:-0} -ne $expected || $expected -eq 0 ]]; then
    [[ $rc -eq 0 ]] && rc=1
    detail="${detail:+$detail, }${passed:-0} of $expected tests passed"
  fi
  record "bpf-tests ($lane: ${passed:-0}/$expected)" "$rc" $((SECONDS - t0)) "$detail"
  rm -f "$log"
  [[ $rc -ne 0 ]] && verifier_report

  # --- check: issue 4's acceptance, cat /etc/shadow in enforce mode -------------
  # A policy that does not allow /etc/shadow: cat must print "Permission
  # denied" and fnwarden must emit exactly one violation with action denied.
  echo
  echo "=== check: fnwarden run --mode enforce -- cat /etc/shadow"
  t0=$SECONDS
  shadow_dir=$(mktemp -d)
  cat >"$shadow_dir/policy.yaml" <<'YAML'
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata:
  name: no-shadow
spec:
  selector:
    function: no-shadow
  mode: enforce
  files:
    read: ["/usr/**", "/lib/**", "/lib64/**", "/etc/ld.so.cache", "/etc/locale.alias", "/proc/**", "/dev/**"]
    write: ["/dev/null", "/dev/tty"]
    onViolation: deny
YAML
  "$fnw" run --standalone --function no-shadow --policy "$shadow_dir/policy.yaml" --mode enforce \
    --events "$shadow_dir/events.jsonl" -- cat /etc/shadow >"$shadow_dir/out" 2>&1
  shadow_rc=$?
  detail=""
  grep -q "cat: /etc/shadow: Permission denied" "$shadow_dir/out" || detail="cat did not print Permission denied"
  shadow_events=$(grep -c '"verdict":"violation"' "$shadow_dir/events.jsonl" 2>/dev/null || echo 0)
  [[ $shadow_events -eq 1 ]] || detail="${detail:+$detail, }$shadow_events violations (want 1)"
  grep -q '"action":"denied"' "$shadow_dir/events.jsonl" 2>/dev/null || detail="${detail:+$detail, }no action denied"
  [[ $shadow_rc -ne 0 ]] || detail="${detail:+$detail, }cat exited 0"
  echo "cat exited $shadow_rc; output: $(head -c 300 "$shadow_dir/out")"
  echo "events: $(head -c 600 "$shadow_dir/events.jsonl" 2>/dev/null)"
  record cat-etc-shadow-denied "$([[ -z $detail ]] && echo 0 || echo 1)" $((SECONDS - t0)) "$detail"
  rm -rf "$shadow_dir"
fi

# --- full and e2e lanes: the e2e scripts against the 6.1 kernel --------------------
run_e2e() { # NAME SCRIPT ARGS...
  local name=$1 rc detail=""
  shift
  echo
  echo "=== suite $name: $*"
  t0=$SECONDS
  bash "$@"
  rc=$?
  case $rc in
    0) ;;
    77) detail="skipped (exit 77)" ;;
    *) detail="exit $rc" ;;
  esac
  record "$name" "$rc" $((SECONDS - t0)) "$detail"
}
# Issue 21's last acceptance point: a runc container on an overlay root
# (layers on a tmpfs: this guest's root is an overlay itself), started by
# plain runc, found by its cgroup path; BPF-LSM refuses its write of
# /app/handler.py with EPERM and the container goes on. In every lane
# that runs more than one script, the lsm lane (CI) included, and alone
# as e2e.plain_runc.
if [[ $lane == lsm || $lane == full || $lane == e2e || $lane == e2e.plain_runc ]]; then
  FNW_TEST_SLOWDOWN=10 run_e2e e2e.plain_runc "$src/tests/e2e/plain_runc_test.sh" "$fnw"
fi
if [[ $lane == full || $lane == e2e || $lane == e2e.run_cli ]]; then
  run_e2e e2e.run_cli "$src/tests/e2e/run_cli_test.sh" "$fnw" "$src" "$workload"
fi
if [[ $lane == full || $lane == e2e || $lane == e2e.daemon ]]; then
  # Under TCG the guest runs about ten times slower than the host: the
  # daemon test's bounds (waits, the flood's event count) scale with
  # FNW_TEST_SLOWDOWN.
  FNW_TEST_SLOWDOWN=10 run_e2e e2e.daemon "$src/tests/e2e/daemon_test.sh" "$fnw" "$workload" \
    "$build/tests/fnw_webhook_receiver" "$build/tests/fnw_fake_kube_api"
fi
if [[ $lane == full || $lane == e2e || $lane == e2e.pinned_restart ]]; then
  # kill -9 of a pinned daemon, adoption and an upgrade swap, with the
  # BPF-LSM programs among the pinned links.
  FNW_TEST_SLOWDOWN=10 run_e2e e2e.pinned_restart "$src/tests/e2e/pinned_restart_test.sh" "$fnw" "$workload"
fi

echo
echo "=== vm lane summary ($lane lane, guest $(uname -r))"
printf '%s\n' "${results[@]}"
echo "vm lane: $failures failure(s)"
[[ $failures -eq 0 ]]
