#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The CLI's conventions on a built fnwarden, none of which loads a probe:
#   - --help at every level (the top, each subcommand, policy validate,
#     version) prints to stdout and exits 0;
#   - run and learn exit 125 for their own errors (bad options, an invalid
#     policy), never 1 or 2, which a function may well return itself;
#     126/127 and the function's own status need probes: tests/e2e/run_cli_test.sh;
#   - status, trace and top never fall back to loading probes without
#     --standalone (a mistyped --socket is an error, exit 1);
#   - --color takes auto, always or never;
#   - --version and `version` print "fnwarden X.Y.Z (commit C)", X.Y.Z being
#     CMakeLists.txt's project version.
#
#   tests/cli/cli_test.sh BUILD_DIR SOURCE_DIR
#
# Exit 77 (skipped) when BUILD_DIR has no fnwarden binary.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

# exits CODE WHAT ARGS...: fnwarden ARGS exits CODE. Bounded: a command that
# started tracing or waiting instead of failing would never return.
exits() {
  local code=$1 what=$2
  shift 2
  timeout 20 "$fnw" "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  if [[ $rc == "$code" ]]; then pass "$what: exit $code"; else fail "$what: exit $rc, expected $code: $(head -c 400 "$work/err")"; fi
}

# --- --help at every level ------------------------------------------------------
commands=$(listed_commands)
[[ $(wc -l <<<"$commands") -ge 9 ]] || fail "fnwarden --help lists too few commands: $commands"
for top in --help -h help; do
  exits 0 "fnwarden $top" "$top"
done
for command in $commands; do
  for help in --help -h; do
    exits 0 "fnwarden $command $help" "$command" "$help"
    [[ -s $work/out ]] || fail "fnwarden $command $help printed nothing on stdout"
  done
done
exits 0 "fnwarden policy validate --help" policy validate --help
exits 0 "fnwarden run --function f --help (help wins)" run --function f --help
exits 2 "fnwarden with no command (usage)"
exits 2 "fnwarden bogus" bogus

# --- run and learn: their own errors are 125 -----------------------------------------
bad_policy=$src/tests/fixtures/policies/bad-unknown-syscall.yaml
[[ -f $bad_policy ]] || fail "fixture $bad_policy is missing"
none=$work/no-daemon.sock
exits 125 "run with an unknown option" run --bogus -- true
exits 125 "run without --function" run -- true
exits 125 "run with a function name that climbs out of the cgroup" run --function ../x --standalone --policy "$bad_policy" -- true
exits 125 "run without a command" run --function f --standalone --policy "$bad_policy"
exits 125 "run --standalone without --policy" run --function f --standalone -- true
exits 125 "run with an invalid policy" run --function f --standalone --policy "$bad_policy" -- true
exits 125 "run, no daemon, invalid policy" run --function f --socket "$none" --policy "$bad_policy" -- true
exits 125 "learn with an unknown option" learn --bogus -- true
exits 125 "learn without a command" learn --function f
exits 125 "learn --merge an invalid policy" learn --function f --merge "$bad_policy" -- true

# --- status, trace, top: no probes unless --standalone ------------------------------
exits 1 "status with no daemon" status --socket "$none"
grep -q 'fnwarden daemon' "$work/err" || fail "status does not point at the daemon: $(cat "$work/err")"
exits 1 "trace with no daemon and no --standalone" trace --socket "$none"
grep -q -- '--standalone' "$work/err" || fail "trace does not mention --standalone: $(cat "$work/err")"
grep -q 'tracing standalone' "$work/err" && fail "trace went standalone without --standalone"
exits 1 "top with no daemon" top --socket "$none" -n 1
exits 2 "status --color with a bad value" status --socket "$none" --color sometimes
exits 2 "trace --color with a bad value" trace --socket "$none" --color yes
exits 2 "top --color with a bad value" top --socket "$none" --color 1

# --- version ------------------------------------------------------------------------
version=$(sed -n 's/^project(fnwarden VERSION \([0-9][0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
line=$("$fnw" --version)
if [[ $line =~ ^fnwarden\ ${version//./\\.}\ \(commit\ ([0-9a-f]{12}(-dirty)?|unknown)\)$ ]]; then
  pass "--version: $line"
else
  fail "--version printed '$line', expected 'fnwarden $version (commit <12 hex>[-dirty])'"
fi
[[ $("$fnw" version) == "$line" ]] && pass "version prints the same" || fail "version printed '$("$fnw" version)'"
# In a git checkout the commit is the checkout's (the build step reads it).
if head=$(git -C "$src" rev-parse --verify -q HEAD 2>/dev/null); then
  [[ $line == *"(commit ${head:0:12}"* ]] && pass "the commit is the checkout's HEAD" ||
    fail "--version names another commit than HEAD ${head:0:12}: $line"
fi

finish CLI
