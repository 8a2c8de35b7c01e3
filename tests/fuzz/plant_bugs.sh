#!/usr/bin/env bash
# tests/fuzz/plant_bugs.sh - a mutation check of the fuzz harness: proof its oracle
# can fail. Each planted bug is a one-line change to a copy of the sources
# (build/plant/<n>/), built like the `fuzz` preset and fuzzed on the target that
# should find it for at most SECONDS (default 60), starting from an empty corpus
# (so the time is the fuzzer's search, not a seed that happens to hit the bug).
# Prints the time to the finding per bug; exits nonzero if one was not found.
#
#   tests/fuzz/plant_bugs.sh [-t SECONDS] [BUG_NUMBER...]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=60
if [[ "${1:-}" == "-t" ]]; then seconds=$2; shift 2; fi

# number|target|file|exact original text|planted text|what it is   (\n: a newline)
plants=(
"1|fba|include/zheap/fba.h|    fba->end = start + len;|    fba->end = start + len - 1;|fba bump off by one (the next block overlaps the last byte)"
"2|fba|src/fba.c|if (zh_fba_is_last_allocation(fba, mem, len)) set_end(fba, end_of(fba) - len);|set_end(fba, end_of(fba) - len);|fba free forgets the last-allocation check"
"3|arena_c|src/arena.c|if (is_last(arena, mem, len)) arena->cur -= len;|arena->cur -= len;|arena free forgets the last-allocation check"
"4|arena_c|src/arena.c|if (new_len - len > room_left(arena)) return false;|if (new_len - len > room_left(arena) + 1) return false;|arena resize grows one byte past its buffer"
"5|pool|src/pool.c|bool ok = zh__arena_reset_for(&pool->arena, mode, limit, ZH_RETURN_ADDRESS());\n    pool->free_list = NULL;|bool ok = zh__arena_reset_for(&pool->arena, mode, limit, ZH_RETURN_ADDRESS());|pool reset keeps the free list (items of freed buffers come back)"
"6|sbrk|src/core/size_classes.c|h->next_slot[c.index] = next + c.bytes;|h->next_slot[c.index] = next + c.bytes / 2;|sbrk slot bump advances half a slot (neighbours overlap)"
)

wanted=("$@")
status=0
printf '%-3s %-9s %-9s %s\n' bug target found what
for entry in "${plants[@]}"; do
  IFS='|' read -r n target file old new what <<<"$entry"
  if ((${#wanted[@]})) && [[ ! " ${wanted[*]} " =~ " $n " ]]; then continue; fi
  dir="build/plant/$n"
  rm -rf "$dir" && mkdir -p "$dir/src"
  git ls-files -z | xargs -0 cp --parents -t "$dir/src" # the tracked tree, as it is now
  rm -rf "$dir/src/tests/fuzz/known"
  if ! OLD="$old" NEW="$new" python3 - "$dir/src/$file" <<'PY'
import os, sys
path = sys.argv[1]
text = open(path).read()
old, new = (os.environ[k].replace("\\n", "\n") for k in ("OLD", "NEW"))
if text.count(old) != 1:
    sys.exit(1)
open(path, "w").write(text.replace(old, new))
PY
  then
    printf '%-3s %-9s %-9s %s\n' "$n" "$target" "STALE" "$what: the original line is gone from $file; update the plant"
    status=1
    continue
  fi
  if ! cmake -S "$dir/src" -B "$dir/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
         -DCMAKE_C_COMPILER=clang-14 -DZHEAP_SAFETY=ON -DZHEAP_SANITIZE=address,undefined \
         -DZHEAP_FUZZ=ON -DZHEAP_BUILD_BENCH=OFF -DZHEAP_BUILD_SHARED=OFF >"$dir/configure.log" 2>&1 ||
     ! cmake --build "$dir/build" -j2 --target zheap-fuzz >"$dir/build.log" 2>&1; then
    printf '%-3s %-9s %-9s %s\n' "$n" "$target" "NO BUILD" "$what (see $dir/*.log)"
    status=1
    continue
  fi
  mkdir -p "$dir/corpus"
  begin=$(date +%s%N)
  set +e
  ZH_FUZZ_TARGET=$target "$dir/build/tests/fuzz/zheap-fuzz" \
    "$dir/corpus" -max_total_time="$seconds" -max_len=1024 \
    -timeout=10 -artifact_prefix="$dir/" >"$dir/fuzz.log" 2>&1
  rc=$?
  set -e
  took=$(( ($(date +%s%N) - begin) / 100000000 ))  # tenths of a second
  if ((rc != 0)) && ls "$dir"/crash-* >/dev/null 2>&1; then
    printf '%-3s %-9s %-9s %s -- %s\n' "$n" "$target" "$((took / 10)).$((took % 10))s" "$what" \
      "$(grep -m1 -E 'zheap fuzz: |zheap: |AddressSanitizer: [A-Za-z-]*|runtime error|deadly signal' "$dir/fuzz.log" | cut -c1-110)"
  else
    printf '%-3s %-9s %-9s %s\n' "$n" "$target" "NOT FOUND" "$what (in ${seconds}s)"
    status=1
  fi
done
exit $status
