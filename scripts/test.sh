#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite, from a fresh Debian 12 machine: installs the
# dependencies, builds, and runs every test. Run as root: the bpf/e2e/vm
# tests load real probes and create real cgroups. FNW_REQUIRE_BPF=1 (set by
# CI) turns "cannot load probes" into a failure.
#
#   bash scripts/test.sh          the default lane (.ci/run, about 20 min)
#   bash scripts/test.sh --full   the same, with the full VM lane instead of
#                                 the LSM one: every BPF test and the e2e
#                                 scripts on Debian's 6.1 (docs/development.md)
#
# One tree per build type, each configured and built once:
#   build-asan/  Debug + ASan/UBSan: the unit tests (they run only here),
#   build-tsan/  clang, Release + ThreadSanitizer, every target: the daemon
#                threads start/stop test, and the proof that clang builds
#                the whole project in Release with warnings as errors,
#   build-fuzz/  clang + libFuzzer: bounded fuzz runs that must grow coverage,
#   build/       GCC, Release: the BPF tests, the e2e scripts, packaging,
#                and the VM lane, which runs beside the host's BPF tests
#                (the guest has its own kernel, so they share no state).
# It ends with a table of each stage's wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
lane=lsm
case ${1:-} in
  "") ;;
  --full) lane=full ;;
  *) echo "usage: $0 [--full]" >&2; exit 2 ;;
esac
jobs=$(nproc)
src=$PWD
# ccache (when installed) keys on paths relative to the checkout, so a fresh
# clone elsewhere still hits the cache.
export CCACHE_BASEDIR=$src

stage_names=()
stage_times=()
stage_results=()
tests_passed=0
tests_failed=0
suite_start=$(date +%s)
scratch=$(mktemp -d)
print_stage_table() {
  local rc=$? i
  echo
  echo "=== where the time went ($lane lane)"
  printf '%-34s %8s  %s\n' stage seconds result
  for i in "${!stage_names[@]}"; do
    printf '%-34s %8s  %s\n' "${stage_names[$i]}" "${stage_times[$i]}" "${stage_results[$i]}"
  done
  printf '%-34s %8s  %s\n' "total (wall)" $(($(date +%s) - suite_start)) "$([[ $rc -eq 0 ]] && echo ok || echo "FAILED ($rc)")"
  # Every ctest run's count, summed: one closing line for the whole suite.
  echo "tests: $tests_passed passed, $tests_failed failed"
  rm -rf "$scratch"
}
trap print_stage_table EXIT

# Adds the counts of ctest's "N% tests passed, F tests failed out of T"
# lines in FILE to the suite's totals.
count_tests() {
  local line total failed
  while read -r line; do
    failed=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.* tests failed out of ([0-9]+).*/\1/' <<<"$line")
    tests_passed=$((tests_passed + total - failed))
    tests_failed=$((tests_failed + failed))
  done < <(grep -E '[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$1")
  # The unit stage runs its gtest binary by itself, outside ctest: its
  # "[  PASSED  ] N tests." and "[  FAILED  ] N tests, listed below:".
  if [[ ${2:-} == gtest ]]; then
    tests_passed=$((tests_passed + $(awk '/^\[  PASSED  \] [0-9]+ tests?\.$/ {n += $4} END {print n + 0}' "$1")))
    tests_failed=$((tests_failed + $(awk '/^\[  FAILED  \] [0-9]+ tests?, listed below:$/ {n += $4} END {print n + 0}' "$1")))
  fi
}

# stage NAME COMMAND...: runs it, records its wall time and its tests;
# stops the suite on failure (after recording it), like set -e.
stage() {
  local name=$1 t0 rc=0 log=$scratch/stage.log
  shift
  echo
  echo "=== stage: $name"
  t0=$(date +%s)
  # errexit is off on the left of ||, so a failing command still reaches rc=.
  { "$@" 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}; } || true
  count_tests "$log" "${stage_count:-}"
  stage_names+=("$name")
  stage_times+=($(($(date +%s) - t0)))
  stage_results+=("$([[ $rc -eq 0 ]] && echo ok || echo "FAILED ($rc)")")
  return "$rc"
}

# ctest prints passing tests' output nowhere: after the VM lane, print its own
# summary (guest kernel, active LSMs, each suite's result) so the log says
# where the BPF-LSM tests ran, pass or fail.
vm_lane() {
  local rc=0
  (cd build && ctest -R "^vm\\.$lane\$" --output-on-failure --output-log "$vm_log") || rc=$?
  echo
  grep -E '^guest: (uname -r|lsm):' "$vm_log" || true
  sed -n '/^=== vm lane summary/,/^run-in-vm: kernel/p' "$vm_log"
  return "$rc"
}

stage deps bash packaging/deps/install-debian.sh

stage "build asan (unit tests)" bash -c "
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFNW_SANITIZE=ON -DFNW_WERROR=ON -DFNW_BUILD_BENCH=OFF >/dev/null &&
  cmake --build build-asan -j$jobs --target fnw_unit_tests"
# The gtest binary in one process (each of its tests is a ctest entry too,
# named Suite.Test, for a developer's -R); then the other unit tests.
stage_count=gtest stage "unit (asan+ubsan)" bash -c "build-asan/tests/fnw_unit_tests --gtest_brief=1 &&
  cd build-asan && ctest -L unit -LE packaging -E '^[A-Z]' -j$jobs --output-on-failure"

# The daemon's threads started and stopped under ThreadSanitizer (its own
# tree: TSan cannot share a build with ASan).
# Built by clang in Release, every target but the unit tests (run above): so
# CI compiles the project with both compilers and both Release flag sets
# (GCC below), warnings as errors. ThreadSanitizer changes code generation,
# not what the compiler accepts.
stage "build tsan (clang Release)" bash -c "
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Release -DFNW_TSAN=ON -DFNW_WERROR=ON -DFNW_BUILD_BENCH=OFF \
    -DFNW_BUILD_UNIT_TESTS=OFF -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null &&
  cmake --build build-tsan -j$jobs"
stage tsan bash -c "cd build-tsan && ctest -L tsan --output-on-failure"

# 15 s a target here (30 by default): coverage grows within the first
# seconds, and a longer run is `ctest -L fuzz` in a tree of your own.
stage "build fuzz (clang)" bash -c "
  cmake -S . -B build-fuzz -DFNW_FUZZ=ON -DFNW_FUZZ_SECONDS=15 -DFNW_WERROR=ON -DFNW_BUILD_BENCH=OFF \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null &&
  cmake --build build-fuzz -j$jobs --target fnw_fuzz_policy_parser fnw_fuzz_cgroup_path fnw_fuzz_daemon_config \
    fnw_fuzz_elf_interpreter fnw_fuzz_bundle_reader"
# Each target runs 15 s and must grow coverage (tests/fuzz/run_fuzzer.sh).
stage fuzz bash -c "cd build-fuzz && ctest -L fuzz -j$jobs --output-on-failure"

# The unit tests are built and run in build-asan only: the main tree is
# configured without them, so nothing is compiled twice.
stage "build main" bash -c "
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFNW_WERROR=ON -DFNW_BUILD_UNIT_TESTS=OFF >/dev/null &&
  cmake --build build -j$jobs"
stage packaging bash -c "cd build && ctest -L packaging --output-on-failure"

# The container image for k8s.pod_e2e, built beside the host's BPF tests:
# mostly downloads and dpkg, little CPU. The test uses it when it is ready
# (FNW_IMAGE_PREBUILT) and builds one itself otherwise.
image_log=$scratch/image.log
image_t0=$(date +%s)
FNW_IMAGE_APT_CACHE=$src/build/image-apt-cache bash packaging/image/build.sh build/image build >"$image_log" 2>&1 &
image_pid=$!

# The VM lane starts now and runs beside the host's BPF and e2e tests.
vm_log=$src/build/vm-lane.log
vm_out=$src/build/vm-lane.out
vm_t0=$(date +%s)
vm_lane >"$vm_out" 2>&1 &
vm_pid=$!

host_rc=0
# Host BPF tests share the host kernel's probes and cgroups: ctest runs them
# one at a time (RUN_SERIAL), each with its own timeout.
# BpfLsmOnly* tests have nothing to check where BPF-LSM is refused (as on
# the CI host, which could only skip them): they run in the VM lane, where
# a skip is a failure.
# All of them are gtest's (Suite.Test): one process runs them in turn, as
# the unit stage does, instead of one ctest process each (half the time:
# 135 s against 252 s). A hang still ends: the whole run has a bound.
stage_count=gtest stage "host bpf" bash -c "cd build && timeout 900 tests/fnw_bpf_tests --gtest_brief=1 \
  --gtest_filter='-BpfLsmOnly*' && ctest -L bpf -LE e2e -E '^[A-Z]' --output-on-failure --no-tests=ignore" ||
  host_rc=$?
image_rc=0
wait "$image_pid" || image_rc=$?
if [[ $image_rc -eq 0 ]]; then
  export FNW_IMAGE_PREBUILT=$src/build/image
  echo "image built beside the host BPF tests in $(($(date +%s) - image_t0)) s"
else
  echo "image build failed ($image_rc); k8s.pod_e2e builds its own:"
  tail -20 "$image_log"
fi
if [[ $host_rc -eq 0 ]]; then
  stage e2e bash -c "cd build && ctest -L e2e --output-on-failure" || host_rc=$?
fi

echo
echo "=== waiting for the VM lane ($lane)"
vm_rc=0
wait "$vm_pid" || vm_rc=$?
cat "$vm_out"
count_tests "$vm_out"
stage_names+=("vm ($lane lane, beside host bpf)")
stage_times+=($(($(date +%s) - vm_t0)))
stage_results+=("$([[ $vm_rc -eq 0 ]] && echo ok || echo "FAILED ($vm_rc)")")

((host_rc == 0 && vm_rc == 0))
