#!/usr/bin/env bash
# run_exit_threads.sh LIB PROGRAM PYTHON RUNS - runs exit_threads RUNS times in debug
# mode (the exit leak check racing three churning threads), each under a 60 s
# timeout, and fails on a status other than 0, a missing "exiting" line or a report
# check_exit_report.py rejects. Odd runs exit at once (threads just started), even
# runs after more steps; every third run uses 0 frames per trace.
set -uo pipefail
lib=$1 program=$2 python=$3 runs=$4
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for ((r = 1; r <= runs; r++)); do
  steps=$((r % 2 ? 50 : 5000)) frames=$((r % 3 ? 8 : 0))
  report="$scratch/report.$r"
  out=$(timeout 60 env LD_PRELOAD="$lib" ZHEAP_ALLOCATOR=debug ZHEAP_DEBUG_FRAMES=$frames \
        ZHEAP_REPORT="$report" "$program" "$steps" 2>&1); rc=$?
  if [[ $rc != 0 ]]; then echo "FAIL: run $r: status $rc (124: timed out, a deadlock)"; echo "$out"; exit 1; fi
  grep -q "exit_threads: exiting" <<<"$out" || { echo "FAIL: run $r: no exiting line"; echo "$out"; exit 1; }
  if [[ -n $python && -x $python ]]; then
    "$python" "$here/check_exit_report.py" "$report" > "$scratch/check" ||
      { echo "FAIL: run $r (steps $steps, frames $frames):"; cat "$scratch/check"; exit 1; }
  fi
done
echo "ok: $runs runs exited cleanly; last: $(cat "$scratch/check" 2>/dev/null)"
