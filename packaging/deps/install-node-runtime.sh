#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what the functions-framework e2e test (tests/e2e/faas/) needs:
# Node.js and npm (Debian apt, only when `node` or `npm` is missing), curl, and
# the test function's npm dependencies (@google-cloud/functions-framework,
# pinned with tests/e2e/faas/package-lock.json) into DEST/node_modules.
#
# usage: install-node-runtime.sh [DEST]      (default: <repo>/build/faas-node)
#
# DEST is outside the source tree (the build tree or a cache dir). Idempotent
# and non-interactive: apt runs only when a command is missing, `npm ci` only
# when DEST has no install stamped with the current lock file and Node major.
# Root is needed only when apt has something to install.
#
# Version choice: functions-framework 3.5.1 (express 4, cloudevents 8) runs on
# Node 16-22, which covers Debian 12's nodejs (18.x) and NodeSource 20.x.
# 4.0.1 and 5.x depend on cloudevents 10, which declares Node >= 20.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
fn_src=$repo/tests/e2e/faas
dest=${1:-$repo/build/faas-node}
min_node_major=16
max_node_major=22  # newest Node functions-framework 3.5.1's dependencies declare

say() { echo "install-node-runtime.sh: $*"; }

# --- system packages -----------------------------------------------------------
need=()
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v curl >/dev/null 2>&1 || need+=(curl)
if ((${#need[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    say "missing ${need[*]}; run as root to install them with apt-get" >&2
    exit 1
  fi
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" ca-certificates
fi

node_version=$(node --version)  # v20.20.2
node_major=${node_version#v}
node_major=${node_major%%.*}
if ((node_major < min_node_major)); then
  say "Node $node_version is too old: functions-framework 3.5.1 needs Node >= $min_node_major" >&2
  exit 1
fi
if ((node_major > max_node_major)); then
  say "warning: Node $node_version is newer than $max_node_major, the newest the pinned dependencies declare" >&2
fi

# --- the function's npm dependencies ---------------------------------------------
mkdir -p "$dest"
dest=$(cd "$dest" && pwd -P)
case $dest in
  "$fn_src" | "$fn_src"/*)
    say "DEST must be outside tests/e2e/faas (use the build tree)" >&2
    exit 1
    ;;
esac
stamp="$dest/.installed"
want="$(sha256sum "$fn_src/package-lock.json" | cut -d' ' -f1) node$node_major"
if [[ -f $stamp && $(cat "$stamp") == "$want" && -f $dest/node_modules/@google-cloud/functions-framework/package.json ]]; then
  say "functions-framework already installed in $dest (Node $node_version)"
  exit 0
fi

cp "$fn_src/package.json" "$fn_src/package-lock.json" "$dest/"
rm -f "$stamp"
say "npm ci in $dest (Node $node_version, npm $(npm --version))"
(cd "$dest" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
installed=$(node -p 'require(process.argv[1]).version' \
  "$dest/node_modules/@google-cloud/functions-framework/package.json")
echo "$want" >"$stamp"
say "installed @google-cloud/functions-framework $installed in $dest"
