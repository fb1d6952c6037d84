#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# examples/cicd/pipeline.sh end to end with the built fnwarden: learn,
# review (policy diff), report, bundle (pinned under the deployed path),
# deploy to a daemon (enforce), and the tamper stage: a line appended to the
# deployed handler.py is caught when Python opens it (rule code.sha256 with
# the pinned and the found digest) and the run is killed (exit 137).
# usage: cicd_example_test.sh FNWARDEN
set -u
fnw=$(realpath "$1")
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
command -v openssl >/dev/null || { fail "openssl not installed (packaging/deps)"; exit 1; }
[[ -x /usr/bin/python3 ]] || { fail "python3 not installed (packaging/deps)"; exit 1; }

pipeline=$(dirname "${BASH_SOURCE[0]}")/../../examples/cicd/pipeline.sh
out=$(mktemp)
trap 'rm -f "$out"' EXIT

FNWARDEN=$fnw FN_NAME=cicd-e2e-$$-$RANDOM bash "$pipeline" >"$out" 2>&1
rc=$?
cat "$out"
echo "--- pipeline.sh exited $rc"

# Each stage, in order, said it passed.
stage_passed() { grep -q "^ok: $1" "$out" && pass "stage $1" || fail "stage $1: no \"ok: $1\" line"; }
stage_passed learn
stage_passed review
stage_passed report
grep -q '^### fnwarden policy report: ' "$out" && pass "report: markdown for the pull request" ||
  fail "report: no markdown"
stage_passed bundle
stage_passed deploy
stage_passed tamper
[[ $rc == 0 ]] && grep -q "^pipeline passed$" "$out" && pass "pipeline.sh exits 0" || fail "pipeline.sh exited $rc"
finish cicd_example
