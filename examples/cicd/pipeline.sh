#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A CI/CD pipeline for one function, end to end on this host (README.md):
#
#   setup   -> an Ed25519 key pair; the host's daemon, waiting for a bundle
#   learn   -> the function's policy, learned from a test run
#   review  -> `policy diff` against the last approved policy
#   report  -> a test run under that policy in enforce, `policy report` (markdown)
#   bundle  -> signed, the code pinned at its deployed path; `policy verify`
#   deploy  -> the bundle replaces the host's; the function runs under it
#   tamper  -> one line appended to the deployed handler.py: caught when
#              Python opens it (rule code.sha256, both digests), killed
#
# Root, with built binaries: FNWARDEN=/path/to/fnwarden, else `fnwarden` on
# PATH. Everything happens in a temp dir, removed at exit (KEEP=1 keeps it).
# FNW_CICD_STRICT_REVIEW=1 fails the review stage when the learned policy
# differs from the approved one (a real pipeline does: see README.md).
# Exit status: 0 every stage passed, 1 a stage failed (it says which), 2 the
# host cannot run it (not root, no fnwarden, no openssl, no python3).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fnw=${FNWARDEN:-$(command -v fnwarden || true)}
python=/usr/bin/python3
fn=${FN_NAME:-cicd-greeter-$$}

cannot() { echo "pipeline.sh: $*" >&2; exit 2; }
[[ -n $fnw && -x $fnw ]] || cannot "no fnwarden binary (set FNWARDEN or put fnwarden on PATH)"
[[ $(id -u) == 0 ]] || cannot "run it as root (it loads BPF probes and starts a daemon)"
command -v openssl >/dev/null || cannot "openssl is not installed"
[[ -x $python ]] || cannot "$python is not installed"

work=$(mktemp -d /tmp/fnwarden-cicd.XXXXXX)
build=$work/build/fn    # the pipeline's checkout of the function: what gets pinned
task=$work/task         # the deployed layout: task/fn (code), task/data, task/tmp (output)
keys=$work/keys         # the signing key: made here, never leaves the pipeline
host=$work/host         # what a host gets: the bundle and the public key, nothing else
sock=$work/fnwarden.sock
events=$work/events.jsonl
daemon_pid=

cleanup() {
  if [[ -n $daemon_pid ]]; then kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null; fi
  if [[ ${KEEP:-0} == 1 ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

stage() { printf '\n===== %s: %s (at %d s) =====\n' "$1" "$2" "$SECONDS"; }
ok() { echo "ok: $*"; }
failed() { echo "FAILED: $*" >&2; exit 1; }

# The function as the deployed layout holds it, output directory emptied.
deploy_code() {
  rm -rf "$task/fn"
  cp -r "$build" "$task/fn"
  rm -rf "$task/tmp" && mkdir -p "$task/tmp"
}
invoke() { "$fnw" run "$@" -- "$python" -B "$task/fn/handler.py"; }
expect_greetings() {
  grep -qx "Hello, Ada!" "$task/tmp/greetings.txt" && grep -qx "Hello, Linus!" "$task/tmp/greetings.txt" ||
    failed "$1: the function did not write its greetings"
}
# wait_for SECONDS CMD...: CMD succeeds within SECONDS (checked every 0.1 s).
wait_for() {
  local tries=$(($1 * 10))
  shift
  until "$@"; do
    ((--tries > 0)) || return 1
    sleep 0.1
  done
}

mkdir -p "$work/build" "$task/data" "$keys" "$host" "$work/rules"
chmod 700 "$keys"
cp -r "$here/fn" "$build"
printf 'Ada\nLinus\n' >"$task/data/names.txt"
echo "function $fn; work dir $work; fnwarden $fnw"

# ---------------------------------------------------------------------------
stage setup "the signing key pair, and the host's daemon"
# Made once in a real pipeline: the private key goes to the CI secret store,
# the public key to every host. The host's daemon runs before this release
# and after it: it watches the bundle's directory and loads only what
# verifies with that public key; until the deploy stage there is no bundle,
# so no policy set. (Started first, so its probes load while the pipeline
# works.)
openssl genpkey -algorithm ed25519 -out "$keys/signing.pem" 2>/dev/null || failed "openssl genpkey"
openssl pkey -in "$keys/signing.pem" -pubout -out "$host/trusted.pem" || failed "openssl pkey -pubout"
"$fnw" daemon --socket "$sock" --pin-root none --bundle "$host/policies.fnwb" --trusted-key "$host/trusted.pem" \
  --mode enforce --output "$events" --metrics off >"$work/daemon.log" 2>&1 &
daemon_pid=$!
ok "setup: key pair made, daemon $daemon_pid starting"

# ---------------------------------------------------------------------------
stage learn "what the function does in a test run"
# The test run uses the deployed layout, so the policy names the paths the
# function will have in production.
deploy_code
"$fnw" learn --function "$fn" -o "$work/learned.yaml" -- "$python" -B "$task/fn/handler.py" ||
  failed "learn: the test run failed"
expect_greetings learn
# Learned in audit with onViolation deny; production enforces and kills.
sed -e 's/^  mode: audit$/  mode: enforce/' -e 's/onViolation: deny$/onViolation: kill/' \
  "$work/learned.yaml" >"$work/candidate.yaml"
"$fnw" policy validate "$work/candidate.yaml" >/dev/null || failed "learn: the learned policy does not validate"
ok "learn: $work/candidate.yaml"

# ---------------------------------------------------------------------------
stage review "what changes against the last approved policy"
# approved/greeter.yaml is committed with the deployment's root and the
# function's name as @TASK@ and @FUNCTION@ (this example deploys to a temp
# dir); rendered here for this run.
sed -e "s|@TASK@|$task|g" -e "s|@FUNCTION@|$fn|g" "$here/approved/greeter.yaml" >"$work/approved.yaml"
review=0
"$fnw" policy diff "$work/approved.yaml" "$work/candidate.yaml" || review=$?
"$fnw" policy diff "$work/approved.yaml" "$work/candidate.yaml" -o markdown >"$work/review.md" || true
case $review in
  0) ok "review: the learned policy grants exactly what was approved" ;;
  1)
    echo "review: the learned policy differs from approved/greeter.yaml (the PR comment: $work/review.md)."
    echo "review: to approve it, commit: sed -e 's|$task|@TASK@|g' -e 's|$fn|@FUNCTION@|g' candidate.yaml"
    [[ ${FNW_CICD_STRICT_REVIEW:-0} == 1 ]] && failed "review: not approved (FNW_CICD_STRICT_REVIEW=1)"
    ok "review: differences shown; going on (FNW_CICD_STRICT_REVIEW=1 stops here)"
    ;;
  *) failed "review: policy diff could not compare the policies (exit $review)" ;;
esac

# ---------------------------------------------------------------------------
stage report "a test run in enforce, and the grants it left unused"
deploy_code
invoke --standalone --function "$fn" --policy "$work/candidate.yaml" --no-baseline --report "$work/report.json" ||
  failed "report: the function failed under its own policy in enforce"
expect_greetings report
"$fnw" policy report --from "$work/report.json" -o markdown >"$work/report.md" || failed "report: policy report failed"
cat "$work/report.md"
ok "report: $work/report.md is what the CI job posts on the pull request"

# ---------------------------------------------------------------------------
stage bundle "sign the policy and pin the function's code"
cp "$work/candidate.yaml" "$work/rules/$fn.yaml"
# Hashed in the checkout, pinned where the host runs it.
"$fnw" policy bundle --key "$keys/signing.pem" -o "$work/policies.fnwb" "$work/rules" \
  --pin "$build=$task/fn" --expires 1h || failed "bundle: policy bundle"
rm -f "$keys/signing.pem"  # the key's work is done: it never leaves the pipeline
"$fnw" policy verify --trusted-key "$host/trusted.pem" "$work/policies.fnwb" | tee "$work/verify.out" ||
  failed "bundle: policy verify refused the bundle"
handler_digest=$(sha256sum "$build/handler.py" | cut -d' ' -f1)
grep -q "pin $task/fn/handler.py sha256 $handler_digest" "$work/verify.out" ||
  failed "bundle: handler.py is not pinned at its deployed path"
ok "bundle: signed, verified, handler.py pinned as $task/fn/handler.py"

# ---------------------------------------------------------------------------
stage deploy "the signed bundle to the host's daemon; the function under it"
wait_for 20 test -S "$sock" || failed "deploy: the daemon did not start: $(cat "$work/daemon.log")"
# Renamed into place, as a package or a ConfigMap swap does: the daemon
# never reads half a bundle.
cp "$work/policies.fnwb" "$host/.policies.fnwb.new"
mv "$host/.policies.fnwb.new" "$host/policies.fnwb"
bundle_digest=$(sha256sum "$host/policies.fnwb" | cut -d' ' -f1)
in_force() { "$fnw" status --socket "$sock" -o json | tr -d ' \n' | grep -q "\"digest\":\"$bundle_digest\""; }
wait_for 10 in_force || failed "deploy: the daemon did not take the bundle: $(cat "$work/daemon.log")"
echo "deploy: bundle $bundle_digest in force"
deploy_code
invoke --socket "$sock" --function "$fn" || failed "deploy: the function failed under the daemon"
expect_greetings deploy
ok "deploy: the function ran under the signed policy, enforced"

# ---------------------------------------------------------------------------
stage tamper "one line injected into the deployed handler.py"
rm -f "$task/tmp/greetings.txt"
echo 'print("injected")' >>"$task/fn/handler.py"
tampered_digest=$(sha256sum "$task/fn/handler.py" | cut -d' ' -f1)
status=0
invoke --socket "$sock" --function "$fn" >"$work/tamper.out" 2>&1 || status=$?
cat "$work/tamper.out"
caught() { grep -F '"rule":"code.sha256"' "$events" | grep -F "$fn" | grep -F "$handler_digest" | grep -qF "$tampered_digest"; }
wait_for 5 caught || true
grep -q injected "$work/tamper.out" && echo "the injected line ran"
echo "expected: exit 137, an event with rule code.sha256, $handler_digest (pinned) and $tampered_digest (found)"
if [[ $status == 137 ]] && caught && ! grep -q injected "$work/tamper.out"; then
  ok "tamper: caught at its first import and killed"
else
  failed "tamper: not caught (exit $status; events: $(grep -F "$fn" "$events" | tail -3))"
fi
echo
echo "pipeline passed"
