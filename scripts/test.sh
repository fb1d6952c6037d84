#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs the
# dependencies, builds, and runs every test:
#   1. the unit tests again under ASan+UBSan (build-asan/),
#   2. bounded libFuzzer runs of the policy and cgroup-path parsers (build-fuzz/, clang),
#   3. everything else: unit, bpf, e2e and the vm lane (build/).
# Run as root: the bpf/e2e/vm tests load real probes and create real cgroups.
# FNW_REQUIRE_BPF=1 (set by CI) turns "cannot load probes" into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

bash packaging/deps/install-debian.sh

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFNW_SANITIZE=ON -DFNW_BUILD_BENCH=OFF
cmake --build build-asan -j"$jobs" --target fnw_unit_tests
(cd build-asan && ctest -L unit --output-on-failure)

cmake -S . -B build-fuzz -DFNW_FUZZ=ON -DFNW_BUILD_BENCH=OFF \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
cmake --build build-fuzz -j"$jobs" --target fnw_fuzz_policy_parser fnw_fuzz_cgroup_path fnw_fuzz_daemon_config
(cd build-fuzz && ctest -L fuzz --output-on-failure)

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$jobs"
cd build
status=0
ctest --output-on-failure --timeout 900 || status=$?
# ctest shows a passing test's output nowhere: print the vm lane's own
# summary (guest kernel, its active LSMs, each suite's result) so the log
# says where the BPF-LSM tests ran, pass or fail.
if [[ -f Testing/Temporary/LastTest.log ]]; then
  echo
  grep -E '^guest: (uname -r|lsm):' Testing/Temporary/LastTest.log || true
  sed -n '/^=== vm lane summary/,/^run-in-vm: kernel/p' Testing/Temporary/LastTest.log
fi
exit "$status"
