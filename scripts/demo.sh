#!/usr/bin/env bash
# The quick-start demo, from a fresh Debian 12 machine: installs the
# dependencies, builds, then runs the bundled demo function
# (examples/demo/handler.sh) under `fnwarden run` with its policy
# (rules/examples/demo.yaml): first in audit mode, where the one syscall
# outside the allowlist (mkdir) is reported and allowed, then in enforce
# mode, where the process making it is killed before the syscall runs.
# Last, a shell under rules/examples/sandboxed.yaml tries to create a
# directory outside its file allowlist: Landlock refuses it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "demo.sh: run as root (fnwarden loads BPF programs and creates cgroups)" >&2
  exit 1
fi
bash packaging/deps/install-debian.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

banner() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

banner "policy check: build/fnwarden policy validate rules/examples/demo.yaml"
build/fnwarden policy validate rules/examples/demo.yaml

banner "audit mode: the violation is reported (JSON on stderr), the function finishes"
set +e
build/fnwarden run --function demo --policy rules/examples/demo.yaml --mode audit -- \
  examples/demo/handler.sh '{"name":"audit"}'
echo "exit status: $?"

banner "enforce mode: the process that calls mkdir is killed before the syscall runs (seccomp)"
build/fnwarden run --function demo --policy rules/examples/demo.yaml --mode enforce -- \
  examples/demo/handler.sh '{"name":"enforce"}'
echo "exit status: $?"

banner "files: creating a directory outside the allowlist fails, nothing is created (Landlock)"
build/fnwarden run --function sandboxed --policy rules/examples/sandboxed.yaml -- \
  sh -c 'mkdir /tmp/fnwarden-demo-forbidden'
echo "exit status: $?"
set -e
