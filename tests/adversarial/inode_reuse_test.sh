#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A grant must follow the object, not its inode number (threat-model.md,
# "A grant that follows an inode number"). Tried as a new user would: a
# daemon-watched function (found by its cgroup path, so no Landlock: its
# rules are object-bound too, see the threat model) in enforce,
# `read: [..., $work/d/A/**]`. While it
# runs, the platform recreates its tree (rm -rf A B, then mkdir in one
# order or the other): ext4 hands the new B the inode number the old A had.
# The function then reads A/f (allowed by its pattern) and B/secret (not):
#  - A/f must be read, not killed;
#  - B/secret must be killed and reported, never read silently.
# Before the fix (rules keyed on dev+ino) the B-first order let B/secret be
# read with no event on ext4, and A/f was killed in both orders.
# usage: inode_reuse_test.sh FNWARDEN [WORKLOAD] (the workload is not needed here)
set -u
fnw=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../e2e/lib.sh
source "$here/../e2e/lib.sh"
require_root

# On the root filesystem (ext4 on the usual Debian host), where inode
# numbers are reused; /var/tmp is not a tmpfs there.
work=$(mktemp -d /var/tmp/fnw-inode-reuse.XXXXXX)
work=$(cd "$work" && pwd -P)  # the kernel reports resolved paths
rules=$work/rules
sock=$work/fnwarden.sock
out=$work/events.jsonl
pids=()
cg2=$(cgroup2_mount)
cg=$cg2/fnwtest-reuse-$$
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rmdir "$cg/fn-reuse" "$cg" 2>/dev/null
  [[ -n ${FNW_KEEP_WORK:-} ]] || rm -rf "$work"
}
trap cleanup EXIT
echo "filesystem under test: $(stat -f -c %T "$work")"

mkdir -p "$rules" "$work/d" "$work/sync"
cat >"$rules/reuse.yaml" <<YAML
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: reuse}
spec:
  selector: {cgroupPath: 'fnwtest-reuse-$$/(fn-reuse)'}
  mode: enforce
  files:
    read: ["/usr/**", "/lib/**", "/lib64/**", "/etc/**", "/proc/**", "/dev/**", "$work/d/A/**"]
    write: ["/dev/null", "$work/sync/**"]
    create: ["$work/sync/**"]
    onViolation: kill
YAML

make_tree() { # first second: the order the directories are made in
  mkdir "$work/d/$1" "$work/d/$2"
  echo allowed >"$work/d/A/f"
  echo secret >"$work/d/B/secret"
}

mkdir -p "$cg/fn-reuse"
make_tree A B  # before the daemon: its rules name the first A
printf "logLevel: debug\n" > "$work/config.yaml"
start_daemon "$work/daemon.log" "$sock" --config "$work/config.yaml" --rules "$rules" --output "$out" --metrics "" \
  --mode enforce
# Every read pattern names an object the kernel can identify: the reads
# are the kernel's to decide (nothing left to the asynchronous matcher).
if grep -q "matched in userspace" "$work/daemon.log"; then
  fail "a read pattern is left to userspace: $(grep "matched in userspace" "$work/daemon.log")"
else pass "every read pattern is decided in the kernel"; fi
status_has() { "$fnw" status --socket "$sock" -o json 2>/dev/null | grep -qF "$1"; }
if eventually 10 status_has '"function": "fn-reuse"'; then pass "the function's cgroup is watched"; else
  fail "fn-reuse not identified: $("$fnw" status --socket "$sock" 2>&1 | head -40)"; exit 1
fi


# The function: reads A/f, says it is ready, waits until the tree was made
# again, then reads A/f and B/secret. Only `cat` opens the files (bash's
# [ -e ] is a stat, not an open). Each read's exit status goes to stdout.
function_body='
  cat "$D/A/f" >/dev/null; echo "before=$?"
  : >"$D/../sync/ready"
  while [ ! -e "$D/../sync/go" ]; do sleep 0.05; done
  cat "$D/A/f" >/dev/null; echo "a_after=$?"
  cat "$D/A/f" >/dev/null; echo "a_again=$?"
  cat "$D/B/secret" >"$D/../sync/leak" 2>/dev/null; echo "b_after=$?"
'

run_order() { # first second
  local first=$1 second=$2 tag="$1-first"
  rm -rf "$work"/sync/*
  local old_a b_before a_before
  old_a=$(stat -c %i "$work/d/A")
  b_before=$(count_matching "$out" '"function":"fn-reuse"' "\"path\":\"$work/d/B/secret\"" '"verdict":"violation"' || echo 0)
  a_before=$(count_matching "$out" '"function":"fn-reuse"' "\"path\":\"$work/d/A/f\"" '"verdict":"violation"' || echo 0)
  CG=$cg/fn-reuse D=$work/d FB=$function_body timeout 60 \
    bash -c 'echo $$ >"$CG/cgroup.procs" && exec bash -c "$FB"' >"$work/run-$tag.out" 2>&1 &
  local runner=$!
  pids+=($runner)
  if ! eventually 20 test -e "$work/sync/ready"; then
    fail "$tag: the function never got ready: $(cat "$work/run-$tag.out")"; return
  fi
  rm -rf "$work/d/A" "$work/d/B"
  make_tree "$first" "$second"
  [[ $(stat -c %i "$work/d/B") == "$old_a" ]] && echo "$tag: B got the old A's inode number ($old_a)"
  : >"$work/sync/go"
  wait "$runner"
  local o
  o=$(cat "$work/run-$tag.out")
  expect_eq "$tag: A/f read before the tree was made again" "before=0" "$(grep -o 'before=[0-9]*' <<<"$o")"
  expect_eq "$tag: the new A/f is read, not killed" "a_after=0" "$(grep -o 'a_after=[0-9]*' <<<"$o")"
  expect_eq "$tag: and again" "a_again=0" "$(grep -o 'a_again=[0-9]*' <<<"$o")"
  expect_eq "$tag: the new B/secret read is killed" "b_after=137" "$(grep -o 'b_after=[0-9]*' <<<"$o")"
  if [[ -s $work/sync/leak ]]; then fail "$tag: B/secret was read: $(cat "$work/sync/leak")"; else
    pass "$tag: nothing of B/secret was read"; fi
  if eventually 5 more_than "$b_before" "$out" '"function":"fn-reuse"' "\"path\":\"$work/d/B/secret\"" '"verdict":"violation"'; then
    pass "$tag: the read of B/secret is reported"
    expect_eq "$tag: and killed by the kernel" 1 \
      "$(count_matching "$out" "\"path\":\"$work/d/B/secret\"" '"mechanism":"sigkill"' '"action":"killed"' |
        awk -v b="$b_before" '{ print ($1 > b) ? 1 : 0 }')"
  else
    fail "$tag: no violation for B/secret: $(grep -c . "$out" 2>/dev/null) lines in the output"
  fi
  local a_violations
  a_violations=$(count_matching "$out" '"function":"fn-reuse"' "\"path\":\"$work/d/A/f\"" '"verdict":"violation"')
  expect_eq "$tag: no violation for A/f" "$a_before" "${a_violations:-missing}"
}

run_order B A
run_order A B

finish inode_reuse
