#!/bin/sh
# bench/run.sh - build libzheap's benchmarks in Release and run them side by side.
#
#   bench/run.sh [--quick] [build-dir]
#
# Configures <build-dir> (default: build-bench at the top of the source tree) as a
# Release build without tests, builds it, runs every zheap-bench-* executable that
# exists in a fixed order, prints their tables, and writes one CSV per bench, a
# combined CSV and a combined markdown summary to <build-dir>/bench-results/.
# --quick passes --quick to every bench (a smoke run of a few seconds).
#
# Exits nonzero only when the build fails or a bench fails to run; slow results are
# reported, never judged. Environment: CMAKE_GENERATOR, CC and JOBS (default 2) are
# honoured; extra cmake arguments can go in ZHEAP_BENCH_CMAKE_ARGS.
set -eu

usage() {
    echo "usage: $0 [--quick] [build-dir]" >&2
    exit 2
}

quick=""
build_dir=""
for arg in "$@"; do
    case "$arg" in
        --quick) quick="--quick" ;;
        -h|--help) usage ;;
        -*) echo "$0: unknown option '$arg'" >&2; usage ;;
        *) [ -z "$build_dir" ] || usage; build_dir="$arg" ;;
    esac
done

source_dir=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
[ -n "$build_dir" ] || build_dir="$source_dir/build-bench"
jobs="${JOBS:-2}"

echo "== configuring $build_dir (Release)"
# shellcheck disable=SC2086 # ZHEAP_BENCH_CMAKE_ARGS is a list of arguments
cmake -S "$source_dir" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
    -DZHEAP_BUILD_TESTS=OFF -DZHEAP_BUILD_BENCH=ON ${ZHEAP_BENCH_CMAKE_ARGS:-} >/dev/null
echo "== building"
build_failed=""
if ! cmake --build "$build_dir" -j "$jobs" >"$build_dir/bench-build.log" 2>&1; then
    # Run what did build (an executable may be stale), but fail at the end.
    grep -E 'error|Error' "$build_dir/bench-build.log" | head -n 20 >&2 || true
    echo "run.sh: the build failed (log: $build_dir/bench-build.log)" >&2
    build_failed=1
fi

# A fixed order: the building blocks first, then what is built on them.
benches="page c fba arena arena_growth pool smp debug"

results="$build_dir/bench-results"
mkdir -p "$results"
summary="$results/summary.md"
combined_csv="$results/all.csv"
rm -f "$results"/*.csv "$results"/*.md.part "$summary"

{
    echo "# libzheap benchmark results"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- command: bench/run.sh${quick:+ $quick}"
    echo "- commit: $(git -C "$source_dir" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- machine: $(uname -srm), $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') CPUs"
    model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
    [ -z "$model" ] || echo "- cpu: $model"
    echo
    echo "Figures are ns per op (median over repetitions, min..max); ratio is the median"
    echo "over the first case of its group (the baseline). >1 means slower than the baseline."
    echo
} >"$summary"

failed=""
ran=0
for name in $benches; do
    exe="$build_dir/bench/zheap-bench-$name"
    [ -x "$exe" ] || continue
    ran=$((ran + 1))
    csv="$results/$name.csv"
    part="$results/$name.md.part"
    # $quick is empty or one word; leaving it unquoted drops it when empty.
    if "$exe" $quick --csv "$csv" --markdown "$part"; then
        cat "$part" >>"$summary"
    else
        echo "run.sh: zheap-bench-$name failed (exit $?)" >&2
        failed="$failed $name"
        printf '### zheap-bench-%s\n\nFAILED to run.\n\n' "$name" >>"$summary"
    fi
    rm -f "$part"
done

# One CSV for everything: the header once, then every bench's rows.
first=1
for name in $benches; do
    csv="$results/$name.csv"
    [ -f "$csv" ] || continue
    if [ "$first" = 1 ]; then
        cat "$csv" >"$combined_csv"
        first=0
    else
        tail -n +2 "$csv" >>"$combined_csv"
    fi
done

if [ "$ran" = 0 ]; then
    echo "run.sh: no zheap-bench-* executable was built in $build_dir/bench" >&2
    exit 1
fi
echo "== results: $summary, $combined_csv"
if [ -n "$failed" ]; then
    echo "run.sh: failed:$failed" >&2
    exit 1
fi
[ -z "$build_failed" ] || exit 1
