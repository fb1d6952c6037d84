#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Code pins from a signed bundle, enforced where the code is used (issue 22,
# docs/policy.md "Code pins"): a real Python function whose directory the
# bundle pins (`policy bundle --pin DIR`) runs under a daemon that loaded
# the bundle, in enforce mode. Unchanged, it runs. With one line appended to
# handler.py, which the bootstrap imports, the import is held at the open until the hash
# verdict and killed: the appended line never runs, and the event says
# `rule: code.sha256` with the digest the bundle pinned and the one read.
# A module added next to the pinned ones (one that would shadow a library
# module) is refused the same way (`sha256_check: not_pinned`).
# usage: code_pin_test.sh FNWARDEN
set -u
fnw=$1
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
command -v openssl >/dev/null || { fail "openssl not installed (packaging/deps)"; exit 1; }
python=/usr/bin/python3  # not a version shim: the real interpreter
[[ -x $python ]] || python=$(command -v python3) || { fail "python3 not installed (packaging/deps)"; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  umount "$work/code" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

fn=code-pin-e2e-$$-$RANDOM
sock=$work/fnwarden.sock
out=$work/events.jsonl
# The code on a tmpfs: inode identities the kernel proves on any host (the
# CI's root may be an overlay, whose directories cannot be keyed).
mkdir -p "$work/rules" "$work/code"
mount -t tmpfs -o size=4m,mode=0755 tmpfs "$work/code" || { fail "cannot mount a tmpfs"; exit 1; }
code=$work/code/fn
mkdir -p "$code"
# Lambda-style: the runtime's bootstrap imports the handler module, which
# imports a helper module.
cat >"$code/bootstrap.py" <<'EOF'
import json

import handler

print(json.dumps(handler.handle({"name": "world"})))
EOF
cat >"$code/handler.py" <<'EOF'
import greet


def handle(event):
    return {"greeting": greet.hello(event["name"])}
EOF
cat >"$code/greet.py" <<'EOF'
def hello(name):
    return "hello " + name + " from the pinned code"
EOF
{
  echo "apiVersion: fnwarden.io/v1"
  echo "kind: FunctionPolicy"
  echo "metadata: {name: $fn}"
  echo "spec:"
  echo "  selector: {function: $fn}"
  echo "  mode: enforce"
} >"$work/rules/fn.yaml"

openssl genpkey -algorithm ed25519 -out "$work/key.pem" 2>/dev/null &&
  openssl pkey -in "$work/key.pem" -pubout -out "$work/pub.pem" || { fail "openssl could not make keys"; exit 1; }
"$fnw" policy bundle --key "$work/key.pem" -o "$work/policies.fnwb" "$work/rules" --pin "$code" \
  >"$work/bundle.out" 2>&1 || { fail "bundle: $(cat "$work/bundle.out")"; exit 1; }
pinned=$(sha256sum "$code/handler.py" | cut -d' ' -f1)

start_daemon "$work/daemon.log" "$sock" --bundle "$work/policies.fnwb" --trusted-key "$work/pub.pem" \
  --output "$out" --metrics off --mode enforce

# -B: no __pycache__ written next to the code (a .pyc is code: a pipeline
# pins it, or the function runs without one, as here).
run_fn() { "$fnw" run --socket "$sock" --function "$fn" -- "$python" -B "$code/bootstrap.py" >"$work/run.out" 2>&1; }

# status says what guards the code, per function.
"$fnw" status --socket "$sock" -o json | "$python" -c '
import json, sys
fn, code = sys.argv[1], sys.argv[2]
f = [f for f in json.load(sys.stdin)["functions"] if f["function"] == fn][0]
assert f["code"] == {"pins": 3, "dirs": [code], "dirs_not_checked": [], "on_violation": "held, then killed"}, f
' "$fn" "$code" && pass "status shows the pins, the code directory and what a change gets" ||
  fail "status: $("$fnw" status --socket "$sock" -o json | grep -A8 '"code"')"

run_fn
rc=$?
[[ $rc == 0 ]] && grep -q "hello world from the pinned code" "$work/run.out" && pass "the pinned code runs" ||
  fail "unchanged code: exit $rc, $(cat "$work/run.out"); daemon: $(tail -5 "$work/daemon.log")"
[[ $(count_matching "$out" '"code.sha256"') == 0 ]] && pass "nothing reported for it" ||
  fail "the pinned code was reported: $(grep code.sha256 "$out")"

# The injected change: one appended line in the handler the bootstrap imports.
echo "open('$work/injected', 'w').write('ran')" >>"$code/handler.py"
actual=$(sha256sum "$code/handler.py" | cut -d' ' -f1)
run_fn
rc=$?
[[ $rc == 137 ]] && pass "the changed code is killed (exit 137)" || fail "changed code: exit $rc, $(cat "$work/run.out")"
[[ ! -e $work/injected ]] && pass "the appended line never ran" || fail "the injected line ran"
match=("\"function\":\"$fn\"" '"rule":"code.sha256"' "\"path\":\"$code/handler.py\"" '"sha256_check":"mismatch"'
  "\"sha256\":\"$actual\"" "\"expected_sha256\":\"$pinned\"" '"action":"killed"' '"mechanism":"held-sigkill"')
eventually 5 more_than 0 "$out" "${match[@]}" &&
  pass "reported at its import with both digests, killed while held" ||
  fail "no such event: $(grep -h "$fn" "$out" | grep handler | head -3)"

# A module added next to the pinned ones, named like the standard library's
# json, which the bootstrap imports: Python finds it first. Not the bundle's
# code either.
sed -i '$d' "$code/handler.py"  # the pinned content again
echo "print('shadowed')" >"$code/json.py"
run_fn
rc=$?
[[ $rc == 137 ]] && ! grep -q shadowed "$work/run.out" && pass "a module added to the code is killed before it runs" ||
  fail "added module: exit $rc, $(cat "$work/run.out")"
eventually 5 more_than 0 "$out" "\"function\":\"$fn\"" '"rule":"code.sha256"' "\"path\":\"$code/json.py\"" \
  '"sha256_check":"not_pinned"' && pass "reported as not pinned" ||
  fail "no not_pinned event: $(grep -h "$fn" "$out" | tail -3)"

finish code_pin
