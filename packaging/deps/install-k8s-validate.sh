#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what the Kubernetes manifest test (tests/k8s/validate_manifests.sh)
# needs: kubectl (to render the kustomizations), Node.js and npm, and the
# validator's npm packages (tests/k8s/package-lock.json) into DEST/node_modules.
#
# usage: install-k8s-validate.sh [DEST]     (default: <repo>/build/k8s-validate)
#        install-k8s-validate.sh --commands-only   (kubectl, node, npm; from install-debian.sh)
#
# kubectl: any kubectl that has `kustomize` (1.14+). When none is on PATH,
# Debian 12's package kubernetes-client (kubectl 1.20, kustomize v2.0.3) is
# installed: the manifests are written so that it renders them too. Debian
# ships no newer kubectl, and nothing is downloaded from anywhere but Debian
# and the npm registry.
# Node: Debian 12's nodejs 18 or newer (the packages declare Node >= 14).
#
# Idempotent: apt runs only when a command is missing; `npm ci` only when DEST
# has no install stamped with the current lock file and Node major. npm
# prefers its cache (--prefer-offline), so a machine that installed once needs
# no network for the next build tree. Root is needed only for apt.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
src=$repo/tests/k8s
dest=${1:-$repo/build/k8s-validate}
say() { echo "install-k8s-validate.sh: $*"; }

need=()
command -v kubectl >/dev/null 2>&1 || need+=(kubernetes-client)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
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

# The npm packages go into a build tree, not the system.
[[ ${1:-} == --commands-only ]] && exit 0

node_major=$(node --version)
node_major=${node_major#v}
node_major=${node_major%%.*}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd -P)
case $dest in
  "$src" | "$src"/*)
    say "DEST must be outside tests/k8s (use the build tree)" >&2
    exit 1
    ;;
esac
stamp=$dest/.installed
want="$(sha256sum "$src/package-lock.json" | cut -d' ' -f1) node$node_major"
if [[ -f $stamp && $(cat "$stamp") == "$want" && -f $dest/node_modules/kubernetes-models/package.json ]]; then
  exit 0
fi
cp "$src/package.json" "$src/package-lock.json" "$dest/"
rm -f "$stamp"
say "npm ci in $dest (Node $(node --version), npm $(npm --version))"
(cd "$dest" && npm ci --prefer-offline --ignore-scripts --no-audit --no-fund --loglevel=error)
echo "$want" >"$stamp"
