#!/usr/bin/env bash
# tests/fuzz/run.sh - fuzz every target of the harness for a bounded time.
#
#   tests/fuzz/run.sh [-t SECONDS] [-j JOBS] [-b BUILD_DIR] [--strict] [TARGET...]
#
# Builds the `fuzz` preset (clang 14, libFuzzer, ASan+UBSan, safety on) unless -b
# names a build that has zheap-fuzz, then runs each TARGET (default: all) for
# SECONDS (default 20), JOBS targets at a time (default 2). Each run starts from
# the seed corpus (tests/fuzz/corpus/<target>) and keeps what it finds new in
# BUILD_DIR/fuzz-corpus/<target>; a crash is written to BUILD_DIR/fuzz-findings/.
# Prints executions, executions per second and coverage per target; exits nonzero
# if any target found something. No finding is tolerated (--strict, once the way to
# allow known findings, is accepted and changes nothing). Long runs: -t 3600 -j 2 TARGET.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=20 jobs=2 build="" targets=()
while (($#)); do
  case "$1" in
    -t) seconds=$2; shift 2 ;;
    -j) jobs=$2; shift 2 ;;
    -b) build=$2; shift 2 ;;
    --strict) shift ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [[ -z "$build" ]]; then
  build=build/fuzz
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz --target zheap-fuzz >/dev/null
fi
fuzzer="$build/tests/fuzz/zheap-fuzz"
((${#targets[@]})) || mapfile -t targets < <(ls tests/fuzz/corpus)
mkdir -p "$build/fuzz-findings" "$build/fuzz-logs"

run_one() {
  local t=$1 work="$build/fuzz-corpus/$1"
  mkdir -p "$work"
  ZH_FUZZ_TARGET=$t "$fuzzer" "$work" "tests/fuzz/corpus/$t" \
    -max_total_time="$seconds" -max_len=1024 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$build/fuzz-findings/$t-" \
    >"$build/fuzz-logs/$t.log" 2>&1
}
export -f run_one
export build fuzzer seconds
status=0
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}' || status=1

printf '%-18s %10s %8s %6s %7s  %s\n' target execs exec/s cov features result
for t in "${targets[@]}"; do
  log="$build/fuzz-logs/$t.log"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  result=ok
  if grep -q -E 'zheap fuzz: |ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|runtime error' "$log"; then
    result="FINDING: $(grep -m1 -E 'zheap fuzz: |ERROR: |runtime error' "$log")"
    status=1
  fi
  printf '%-18s %10s %8s %6s %7s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$result"
done
((status == 0)) || echo "fuzz: findings (inputs in $build/fuzz-findings, logs in $build/fuzz-logs)"
exit $status
