#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Issue 21's acceptance, as a new user tried it: a function the daemon
# watches by cgroupPath (not launched: no Landlock, no seccomp), enforce,
# files.onViolation kill, a read list that mixes directories with single
# files (/etc/passwd, /etc/ld.so.cache) as real policies do. Real programs:
#   - `cat` of a file outside the list dies before it prints (the kernel
#     decides a sibling of a single-file rule: killed at sys_exit);
#   - `rm` of a file the policy does not let it delete dies before it
#     returns (held at sys_exit until fnwarden's verdict); the file stays
#     where BPF-LSM can refuse (the 6.1 VM), and is gone here, where
#     nothing can refuse it;
#   - allowed work passes; each event says what acted.
# usage: watched_mixed_rules_test.sh FNWARDEN
set -u
fnw=$(realpath "$1")
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_bpffs
command -v jq >/dev/null || { echo "FAIL: jq is missing (packaging/deps/install-debian.sh installs it)"; exit 1; }
cg2=$(cgroup2_mount)
[[ -n $cg2 ]] || { fail "no cgroup2 mount"; exit 1; }

work=$(realpath "$(mktemp -d /tmp/fnwmixed.XXXXXX)")
chmod 755 "$work"
cg=fnwmixed-$$-$RANDOM
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  echo 1 >"$cg2/$cg/cgroup.kill" 2>/dev/null
  eventually 5 grep -q 'populated 0' "$cg2/$cg/cgroup.events"
  rmdir "$cg2/$cg" 2>/dev/null
  [[ ${FNW_TEST_KEEP:-0} == 1 ]] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
mkdir "$cg2/$cg" || { fail "cannot create cgroup $cg"; exit 1; }

mkdir -p "$work/rules" "$work/app" "$work/secret" "$work/data"
echo "handler" >"$work/app/handler.txt"
echo "TOP SECRET" >"$work/secret/token"
echo "keep me" >"$work/data/keep"
cat >"$work/rules/mixed.yaml" <<EOF
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: mixed}
spec:
  selector: {function: mixed, cgroupPath: '$cg'}
  mode: enforce
  files:
    read: [/usr/**, /proc/**, /dev/**, /etc/passwd, /etc/ld.so.cache, /etc/locale.alias, '$work/app/**', '$work/data/**']
    write: [/dev/null, /dev/pts/**]
    delete: ['$work/app/**']
    onViolation: kill
EOF
sock=$work/daemon.sock
out=$work/events.jsonl
start_daemon "$work/daemon.log" "$sock" --rules "$work/rules" --output "$out" --metrics off --mode enforce
watched() { "$fnw" status --socket "$sock" -o json 2>/dev/null | grep -q "\"path\": \"$cg\""; }
eventually 20 watched || { fail "the daemon did not find $cg: $(tail -5 "$work/daemon.log")"; exit 1; }

# in_function PROGRAM ARGS...: runs it in the watched cgroup; its output in
# $work/run.out, its exit status returned.
in_function() {
  bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$cg2/$cg" "$@" >"$work/run.out" 2>&1
}

in_function /usr/bin/cat "$work/app/handler.txt"
expect_eq "cat of an allowed file exits 0" 0 $?
check "it printed the file" grep -q handler "$work/run.out"

in_function /usr/bin/cat "$work/secret/token"
expect_eq "cat of a file outside the list is killed" 137 $?
check "it never printed the file" bash -c '! grep -q "TOP SECRET" "$1"' _ "$work/run.out"

in_function /usr/bin/rm "$work/data/keep"
expect_eq "rm of a file the policy does not let it delete is killed" 137 $?
if "$fnw" status --socket "$sock" -o json | jq -e '.kernel.lsm_hooks.path_unlink == "loaded"' >/dev/null 2>&1; then
  check "BPF-LSM refused the unlink: the file is still there" test -e "$work/data/keep"
else
  echo "info: no BPF-LSM here: the unlink happened before the verdict (enforcement.md)"
fi

# The events, with what acted.
eventually 10 more_than 1 "$out" '"function":"mixed"' '"verdict":"violation"'
read_ev=$(jq -c "select(.function == \"mixed\" and .file.path == \"$work/secret/token\")" "$out" | head -1)
rm_ev=$(jq -c "select(.function == \"mixed\" and .file.path == \"$work/data/keep\")" "$out" | head -1)
expect_eq "the read's rule" files.read "$(jq -r .rule <<<"$read_ev")"
expect_eq "the read's action" killed "$(jq -r .action <<<"$read_ev")"
expect_eq "decided in the kernel, killed at sys_exit" sigkill "$(jq -r .mechanism <<<"$read_ev")"
expect_eq "the rm's rule" files.delete "$(jq -r .rule <<<"$rm_ev")"
expect_eq "the rm's action" killed "$(jq -r .action <<<"$rm_ev")"
mech=$(jq -r .mechanism <<<"$rm_ev")
check "held until fnwarden's verdict, or refused by BPF-LSM (got $mech)" \
  bash -c '[[ $1 == held-sigkill || $1 == bpf-lsm ]]' _ "$mech"
expect_eq "no allowed access was reported" 0 \
  "$(jq -c "select(.function == \"mixed\" and .verdict == \"violation\" and (.file.path // \"\" | startswith(\"$work/app\")))" "$out" | wc -l)"
held=$("$fnw" status --socket "$sock" -o json | jq '.counters.daemon.holds_killed // 0')
check "the daemon counted the held kill (holds_killed $held)" test "${held:-0}" -ge 1

finish e2e.watched_mixed_rules
