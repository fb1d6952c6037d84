#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One bounded libFuzzer run as a ctest test (label fuzz), which fails when
# the target crashes, leaks or times out, and also when libFuzzer is blind
# to the code it fuzzes: a library built without coverage counters still
# "passes" on crashes alone. So the run must (1) grow coverage and (2) have
# covered functions in each --covers source file. (1) alone is not enough:
# the harness's own branches and inlined headers grow a little even when the
# parser is not instrumented (measured: policy parser 105 -> 112 edges blind,
# 1780 -> 2310 instrumented), while (2) is 0 functions blind.
#
# usage: run_fuzzer.sh FUZZER SECONDS [--covers SOURCE_FILE]... [SEED_DIR...]
# New inputs go to a fresh directory per run, so the coverage at start is
# the seeds' and every run has room to grow. Set FNW_FUZZ_KEEP_CORPUS=DIR to
# keep them (DIR is then read as a seed too).
set -u
if [[ $# -lt 2 ]]; then
  echo "usage: $0 FUZZER SECONDS [SEED_DIR...]" >&2
  exit 2
fi
fuzzer=$1
seconds=$2
shift 2
covers=()
while [[ ${1:-} == --covers ]]; do
  covers+=("$2")
  shift 2
done
log=$(mktemp)
scratch=("$log")
corpus=${FNW_FUZZ_KEEP_CORPUS:-}
if [[ -z $corpus ]]; then
  corpus=$(mktemp -d)
  scratch+=("$corpus")
fi
trap 'rm -rf "${scratch[@]}"' EXIT
mkdir -p "$corpus"

ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$fuzzer" -max_total_time="$seconds" -timeout=5 \
  -rss_limit_mb=2048 -print_final_stats=1 -print_coverage=1 "$corpus" "$@" 2>"$log"
rc=$?
# libFuzzer's status lines: "#1234 INITED cov: 812 ft: 2051 corp: 40/3Kb ..."
# then "#N NEW/REDUCE/pulse ... cov: C ...". The first is after the seeds.
start=$(grep -m1 -oE 'INITED cov: [0-9]+' "$log" | grep -oE '[0-9]+$')
end=$(grep -oE '^#[0-9]+.* cov: [0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+' | grep -oE '[0-9]+$')
execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
if [[ $rc -ne 0 ]]; then
  tail -n 60 "$log"
  echo "FAIL: $(basename "$fuzzer") exited $rc"
  exit 1
fi
if [[ -z $start || -z $end ]]; then
  tail -n 30 "$log"
  echo "FAIL: $(basename "$fuzzer"): no coverage figures in libFuzzer's output"
  exit 1
fi
echo "$(basename "$fuzzer"): ${execs:-?} inputs in ${seconds}s, coverage $start at start -> $end at end"
if ((end <= start)); then
  echo "FAIL: $(basename "$fuzzer"): coverage did not grow (is the fuzzed library built with -fsanitize=fuzzer-no-link?)"
  exit 1
fi
for source in "${covers[@]}"; do
  # "COVERED_FUNC: hits: 81 edges: 14/25 fnw::parse(...) /path/to/source.cpp:110"
  functions=$(grep '^COVERED_FUNC' "$log" | grep -c -- "$source:")
  if ((functions == 0)); then
    echo "FAIL: $(basename "$fuzzer"): no covered function in $source (is it built with -fsanitize=fuzzer-no-link?)"
    exit 1
  fi
  echo "covered: $functions functions in $source"
done
echo "PASS: coverage grew by $((end - start))"
