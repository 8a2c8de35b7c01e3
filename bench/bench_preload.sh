#!/usr/bin/env bash
# bench/bench_preload.sh - libzheap-malloc.so (issue 11) against glibc, jemalloc,
# mimalloc and tcmalloc, all preloaded into the same unmodified programs.
#
#   bench/bench_preload.sh [--quick] [--reps N] [--programs-only] BUILD_DIR [OUT.md]
#
# 1. The SMP benchmark's malloc-level workloads (zheap-bench-smp), where the peer
#    "zheap-preload" is the SMP allocator behind malloc through this library (the
#    build directory is added to ZHEAP_BENCH_PEER_DIRS so that it is found).
# 2. Real programs timed whole: python3 running tests/preload/workload.py (threads),
#    xz -T2 compressing and decompressing a generated file, and a git session
#    (init, add, commit, log). Each allocator runs each program N times (default 5,
#    --quick 1), the allocators interleaved in a rotating order; the table gives the
#    median wall time, the median CPU time (user + system, all processes: the
#    figure to read on a shared machine), the median peak RSS (ru_maxrss of the
#    largest process, /usr/bin/time) and each as a ratio to glibc. zheap-debug is ZHEAP_ALLOCATOR=debug with the
#    default 8 frames per trace and leak reports off (ZHEAP_LEAKS=0).
# 3. zheap-bench-free_unsized: free() without a size against the sized free.
# --programs-only runs part 2 alone (bench/run.sh runs the other two itself).
# A peer library that is not installed is skipped with a message. The machine may
# be shared: interleaving spreads the noise, it does not remove it.
set -euo pipefail
quick="" reps=5 programs_only=""
while [[ $# -gt 0 && $1 == --* ]]; do
  case $1 in
    --quick) quick=--quick reps=1 ;;
    --reps) reps=$2; shift ;;
    --programs-only) programs_only=1 ;;
    *) echo "usage: $0 [--quick] [--reps N] [--programs-only] BUILD_DIR [OUT.md]" >&2; exit 2 ;;
  esac
  shift
done
build=$(cd "${1:?build directory}" && pwd)
out=${2:-$build/bench-results/preload.md}
mkdir -p "$(dirname "$out")" && out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
here=$(cd "$(dirname "$0")/.." && pwd)
lib="$build/libzheap-malloc.so"
[[ -f $lib ]] || { echo "bench_preload: $lib not built" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
python=/usr/bin/python3; [[ -x $python ]] || python=$(command -v python3)
libdir=/usr/lib/$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)

names=(glibc) preloads=("") modes=("")
for peer in jemalloc:libjemalloc.so.2 mimalloc:libmimalloc.so.2 tcmalloc:libtcmalloc_minimal.so.4; do
  if [[ -f $libdir/${peer#*:} ]]; then names+=("${peer%%:*}"); preloads+=("$libdir/${peer#*:}"); modes+=("")
  else echo "bench_preload: ${peer%%:*} not installed ($libdir/${peer#*:}), skipped" >&2; fi
done
names+=(zheap-smp zheap-debug) preloads+=("$lib" "$lib") modes+=(smp debug)

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
lines=$([[ -n $quick ]] && echo 100000 || echo 600000)
awk -v n="$lines" 'BEGIN { srand(5); for (i = 0; i < n; i++) printf "%d,%s,%08x\n", i, (i % 7 ? "alpha" : "beta"), int(rand() * 65536) }' > "$scratch/xz.in"
pyscale=$([[ -n $quick ]] && echo 1 || echo 4)

program() { # name
  case $1 in
    python) "$python" "$here/tests/preload/workload.py" "$pyscale" > "$scratch/py.out" ;;
    xz) xz -T2 -3 --block-size=1MiB -c "$scratch/xz.in" > "$scratch/x.xz" && xz -T2 -d -c "$scratch/x.xz" > "$scratch/x.out" ;;
    git)
      rm -rf "$scratch/repo" && mkdir "$scratch/repo" && cd "$scratch/repo"
      export GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@e GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@e HOME="$scratch"
      git init -q -b main . && for i in $(seq 1 200); do seq "$i" $((i * 40)) > "f$i"; done
      git add . && git commit -q -m one && for i in $(seq 1 200 | awk 'NR % 4 == 0'); do echo x >> "f$i"; done
      git commit -q -am two && git log --stat > /dev/null && git gc -q ;;
  esac
}

# One timed run: prints "seconds peak_kib cpu_seconds".
timed() { # program index
  local env=(env)
  [[ -n ${preloads[$2]} ]] && env+=("LD_PRELOAD=${preloads[$2]}")
  [[ -n ${modes[$2]} ]] && env+=("ZHEAP_ALLOCATOR=${modes[$2]}" ZHEAP_LEAKS=0 "ZHEAP_REPORT=$scratch/report.%p")
  export -f program; export scratch here python pyscale
  /usr/bin/time -f "%e %M %U %S" -o "$scratch/time" "${env[@]}" bash -c "program $1" >/dev/null 2>&1
  awk '{ printf "%s %s %.2f\n", $1, $2, $3 + $4 }' "$scratch/time"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

declare -A secs peak cpu
n=${#names[@]}
for prog in python xz git; do
  [[ $prog == python && ! -x $python ]] && continue
  command -v "$prog" >/dev/null || [[ $prog == python ]] || { echo "bench_preload: $prog missing, skipped" >&2; continue; }
  (program "$prog") >/dev/null 2>&1 # warm the page cache (a subshell: git cds)
  for ((r = 0; r < reps; r++)); do
    for ((k = 0; k < n; k++)); do
      i=$(((k + r) % n))
      read -r s m c < <(timed "$prog" "$i")
      secs[$prog,$i]+="$s "; peak[$prog,$i]+="$m "; cpu[$prog,$i]+="$c "
    done
  done
  echo "bench_preload: $prog done" >&2
done

{
  echo "### Real programs, whole runs ($reps runs each, interleaved)"
  echo
  echo "| program | allocator | wall s | vs glibc | CPU s | vs glibc | peak RSS MiB | vs glibc |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|"
  for prog in python xz git; do
    [[ -n ${secs[$prog,0]:-} ]] || continue
    base_s=$(tr ' ' '\n' <<<"${secs[$prog,0]}" | grep . | median)
    base_m=$(tr ' ' '\n' <<<"${peak[$prog,0]}" | grep . | median)
    base_c=$(tr ' ' '\n' <<<"${cpu[$prog,0]}" | grep . | median)
    for ((i = 0; i < n; i++)); do
      s=$(tr ' ' '\n' <<<"${secs[$prog,$i]}" | grep . | median)
      m=$(tr ' ' '\n' <<<"${peak[$prog,$i]}" | grep . | median)
      c=$(tr ' ' '\n' <<<"${cpu[$prog,$i]}" | grep . | median)
      awk -v p="$prog" -v a="${names[$i]}" -v s="$s" -v bs="$base_s" -v m="$m" -v bm="$base_m" \
          -v c="$c" -v bc="$base_c" \
        'BEGIN { printf "| %s | %s | %.2f | %.2fx | %.2f | %.2fx | %.1f | %.2fx |\n", p, a, s, (bs > 0 ? s / bs : 0), c, (bc > 0 ? c / bc : 0), m / 1024, (bm > 0 ? m / bm : 0) }'
    done
  done
  echo
  echo "python: tests/preload/workload.py $pyscale (4 threads); xz: -T2 -3 on $lines generated CSV lines, then -d;"
  echo "git: init, add 200 files, 2 commits, log --stat, gc. Peak RSS is the largest process's."
  echo
} > "$out"
if [[ -n $programs_only ]]; then cat "$out"; exit 0; fi
{ echo "### Malloc-level workloads (zheap-bench-smp, zheap-preload = this library)"; echo; } >> "$out"

echo "== zheap-bench-smp (with the preload library as a peer)" >&2
ZHEAP_BENCH_PEER_DIRS="$build:$libdir" "$build/bench/zheap-bench-smp" $quick --markdown "$scratch/smp.md" >&2
cat "$scratch/smp.md" >> "$out"
echo "== zheap-bench-free_unsized" >&2
"$build/bench/zheap-bench-free_unsized" $quick --markdown "$scratch/free.md" >&2
{ echo; echo "### free() without a size"; echo; cat "$scratch/free.md"; } >> "$out"
cat "$out"
