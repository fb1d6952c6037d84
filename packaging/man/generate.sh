#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Writes fnwarden(8) and one page per subcommand (fnwarden-run(8), ...) into
# OUTDIR, gzipped, from the binary's own --help: the options a page lists
# are the ones the program parses, so the two cannot drift. help2man
# (Debian's help2man) turns each --help into a page; the sections --help
# has no room for (exit status, files, see also) come from the .h2m files
# beside this script.
#
#   packaging/man/generate.sh FNWARDEN OUTDIR
set -euo pipefail
if [[ $# -ne 2 ]]; then
  echo "usage: $0 FNWARDEN OUTDIR" >&2
  exit 2
fi
fnwarden=$(realpath "$1")
outdir=$2
here=$(cd "$(dirname "$0")" && pwd)
command -v help2man >/dev/null || { echo "generate.sh: help2man not found (apt-get install help2man)" >&2; exit 1; }
# "fnwarden X.Y.Z (commit C)": the pages carry X.Y.Z, CMakeLists.txt's
# project version the binary was built with.
version=$("$fnwarden" --version | sed -n 's/^fnwarden \([0-9][0-9.]*\).*/\1/p')
[[ -n $version ]] || { echo "generate.sh: $fnwarden --version printed no version" >&2; exit 1; }
mkdir -p "$outdir"
# Pages carry the commit's date, not today's, so one commit gives the same
# bytes (reproducible builds).
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$here" log -1 --format=%ct 2>/dev/null || date +%s)}

# page SUBCOMMAND DESCRIPTION: "" is the top-level page.
page() {
  local sub=$1 description=$2 name=fnwarden help_option=--help include
  if [[ -n $sub ]]; then
    name=fnwarden-${sub// /-}
    help_option="$sub --help"
  fi
  include=$here/$name.h2m
  local args=(--no-info --section=8 --name="$description" --version-string="$version"
              --help-option="$help_option" --no-discard-stderr --include="$here/common.h2m")
  [[ -f $include ]] && args+=(--include="$include")
  help2man "${args[@]}" "$fnwarden" >"$outdir/$name.8.tmp"
  # help2man names every page after the program; the title says which one.
  local title=${name^^}
  sed -i -e "s/^\.TH FNWARDEN /.TH $title /" -e "/^\.SH NAME/{n;s/^fnwarden /$name /}" "$outdir/$name.8.tmp"
  gzip -9n <"$outdir/$name.8.tmp" >"$outdir/$name.8.gz"
  rm "$outdir/$name.8.tmp"
}

page "" "eBPF sandbox monitor for serverless functions"
page run "run a command as a monitored function under its policy"
page learn "run a command and write the policy that allows what it did"
page daemon "the host daemon: probes, policies, control socket, metrics"
page status "what the daemon guards, with which mechanism, and its counters"
page trace "live events from the daemon"
page top "per-function event and violation rates"
page unload "remove the probes a stopped daemon left pinned"
page "policy" "check policy files and say what they allow"
