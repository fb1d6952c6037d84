# SPDX-License-Identifier: Apache-2.0
# Sourced by the tests/cli/ scripts: their arguments (BUILD_DIR SOURCE_DIR),
# the binary ($fnw, absolute: the tests change directory), a scratch
# directory ($work), and pass/fail/finish. Exits 77 (skipped) when
# BUILD_DIR has no fnwarden binary.
set -uo pipefail
build_dir=${1:?usage: $0 BUILD_DIR SOURCE_DIR}
src=$(realpath -m "${2:?usage: $0 BUILD_DIR SOURCE_DIR}")
fnw=$(realpath -m "$build_dir/fnwarden")
[[ -x $fnw ]] || { echo "SKIP: no $fnw (build the fnwarden target first)"; exit 77; }

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The subcommands `fnwarden --help` lists under "commands:".
listed_commands() { "$fnw" --help | sed -n '/^commands:/,$p' | sed -nE 's/^  ([a-z]+).*/\1/p' | sort -u; }

finish() {  # finish WHAT
  if ((failures)); then
    echo "$failures check(s) failed"
    exit 1
  fi
  echo "all $1 checks passed"
}
