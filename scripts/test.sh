#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs the
# dependencies, builds, and runs every ctest label (unit, bpf, e2e, vm).
# Run as root: the bpf/e2e tests load real probes and create real cgroups.
# FNW_REQUIRE_BPF=1 (set by CI) turns "cannot load probes" into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

bash packaging/deps/install-debian.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
cd build
ctest --output-on-failure --timeout 900
