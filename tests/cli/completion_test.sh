#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The bash completion (packaging/completion/fnwarden.bash) against a built
# fnwarden: sourced in this bash, _fnwarden called with COMP_WORDS and
# COMP_CWORD set as readline would, COMPREPLY checked. The options it
# offers for each subcommand must be exactly those its --help lists, parsed
# here independently (as tests/packaging/deb_test.sh does for the man pages).
#
#   tests/cli/completion_test.sh BUILD_DIR SOURCE_DIR
#
# Exit 77 (skipped) when BUILD_DIR has no fnwarden binary.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

# shellcheck source=/dev/null
source "$src/packaging/completion/fnwarden.bash"
complete -p fnwarden | grep -q -- '-F _fnwarden' && pass "registers _fnwarden for fnwarden" ||
  fail "no 'complete -F _fnwarden fnwarden'"

# complete WORD... : the words of the line, the last one being completed.
complete_line() {
  COMP_WORDS=("$fnw" "$@")
  COMP_CWORD=$#
  COMPREPLY=()
  _fnwarden fnwarden
  printf '%s\n' "${COMPREPLY[@]}" | sort -u
}
has() {  # has WHAT EXPECTED REPLY
  grep -qxF -- "$2" <<<"$3" && pass "$1" || fail "$1: '$2' not in: $(tr '\n' ' ' <<<"$3")"
}
lacks() {
  grep -qxF -- "$2" <<<"$3" && fail "$1: '$2' offered: $(tr '\n' ' ' <<<"$3")" || pass "$1"
}

# --- subcommands ---------------------------------------------------------------
commands=$(listed_commands)
[[ $(wc -l <<<"$commands") -ge 9 ]] || fail "fnwarden --help lists too few commands: $commands"
offered=$(complete_line "" | grep -v '^-')
[[ $offered == "$commands" ]] && pass "subcommands: $(tr '\n' ' ' <<<"$offered")" ||
  fail "subcommands offered: $(tr '\n' ' ' <<<"$offered"), --help lists: $(tr '\n' ' ' <<<"$commands")"
has "'tr' completes to trace" trace "$(complete_line tr)"

# --- each subcommand's options are its --help's ----------------------------------
for command in $commands; do
  [[ $command == policy || $command == version ]] && continue
  listed=$("$fnw" "$command" --help | grep -oE '^  (-[a-z] \[ )?--[a-z0-9-]+' | grep -oE -- '--[a-z0-9-]+' | sort -u)
  offered=$(complete_line "$command" -- | sort -u)
  if [[ -n $listed && $offered == "$listed" ]]; then
    pass "$command: $(wc -l <<<"$listed") options, as --help lists them"
  else
    fail "$command: offered $(tr '\n' ' ' <<<"$offered"); --help lists $(tr '\n' ' ' <<<"$listed")"
  fi
done
# The case a user meets first: `fnwarden run --<TAB>`.
run_options=$(complete_line run --)
has "run -- offers --function" --function "$run_options"
has "run -- offers --policy" --policy "$run_options"
has "run --st offers --standalone" --standalone "$(complete_line run --st)"
has "status offers --color" --color "$(complete_line status --)"
has "status -o offers json" json "$(complete_line status -o '')"
has "trace --color= offers always" always "$(complete_line trace --color = '')"
has "trace --events offers file after syscall," syscall,file "$(complete_line trace --events syscall,f)"
has "run --mode offers enforce" enforce "$(complete_line run --function f --mode '')"

# --- policy files ------------------------------------------------------------------
mkdir -p "$work/rules/nested"
touch "$work/rules/a.yaml" "$work/rules/b.yaml" "$work/rules/notes.txt"
cd "$work" || exit 1
policies=$(complete_line run --function f --policy rules/)
has "--policy offers a.yaml" rules/a.yaml "$policies"
has "--policy offers directories" rules/nested "$policies"
lacks "--policy leaves out notes.txt" rules/notes.txt "$policies"
has "learn --merge offers *.yaml" rules/b.yaml "$(complete_line learn --merge rules/)"
has "policy offers validate" validate "$(complete_line policy '')"
validate=$(complete_line policy validate rules/a.yaml rules/)
has "policy validate offers *.yaml" rules/b.yaml "$validate"
lacks "policy validate leaves out notes.txt" rules/notes.txt "$validate"
# The function's own command line is not fnwarden's.
lacks "no fnwarden option after run ... --" --policy "$(complete_line run --function f -- ls --)"

finish completion
