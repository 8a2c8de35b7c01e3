#!/bin/sh
# bench/run.sh - build libzheap's benchmarks in Release, run them side by side with
# their peers, and say what the numbers mean.
#
#   bench/run.sh [--quick] [--instructions] [build-dir]
#
# Configures <build-dir> (default: build-bench at the top of the source tree) as a
# Release build without tests, builds it, runs every zheap-bench-* executable that
# exists in a fixed order (each prints its table group by group), and ends with a
# summary: every target of docs/benchmarks.md with the figure measured in this run
# and met / not met, a text bar chart of the headline groups (and a PNG of it when
# gnuplot is installed), and the machine's load average at the start and the end.
#
#   --quick         3 short repetitions per case: a smoke run of well under a
#                   minute (CI); its figures are not a measurement
#   --instructions  after the timed runs, run every bench again under
#                   valgrind --tool=callgrind and report instructions per op (Ir)
#                   beside the times: the figure that does not move with load
#
# Writes to <build-dir>/bench-results/: <bench>.csv (times), <bench>.ir.csv
# (instructions), all.csv, summary.md (targets and every table, markdown),
# summary.txt (what the terminal showed at the end), chart.png (with gnuplot),
# callgrind/<bench>/ (callgrind's dumps, one per case, for callgrind_annotate).
#
# On a terminal, progress (build steps, bench, group, case, repetition) is shown
# on stderr and erased as it goes; in a log there is none. Exits nonzero only when
# the build fails or a bench fails to run; a missed target is reported, never an
# error. Environment: CMAKE_GENERATOR, CC and JOBS (default 2) are honoured; extra
# cmake arguments can go in ZHEAP_BENCH_CMAKE_ARGS, extra arguments for every timed
# bench in ZHEAP_BENCH_ARGS (e.g. "--reps 21" on a busy machine).
set -eu

usage() {
    echo "usage: $0 [--quick] [--instructions] [build-dir]" >&2
    exit 2
}

quick=""
instructions=""
build_dir=""
for arg in "$@"; do
    case "$arg" in
        --quick) quick="--quick" ;;
        --instructions) instructions=1 ;;
        -h|--help) usage ;;
        -*) echo "$0: unknown option '$arg'" >&2; usage ;;
        *) [ -z "$build_dir" ] || usage; build_dir="$arg" ;;
    esac
done

source_dir=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
[ -n "$build_dir" ] || build_dir="$source_dir/build-bench"
case "$build_dir" in /*) ;; *) build_dir="$(pwd)/$build_dir" ;; esac
jobs="${JOBS:-2}"
tty=""
[ -t 2 ] && tty=1

loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown; }
now() { date +%s; }
# A transient line on a terminal: written over by the next one, erased by clear.
status() { [ -z "$tty" ] || printf '\r%-79.79s' "$*" >&2; }
clear_status() { [ -z "$tty" ] || printf '\r%79s\r' '' >&2; }

if [ -n "$instructions" ] && ! command -v valgrind >/dev/null 2>&1; then
    echo "run.sh: --instructions needs valgrind (.ci/install-deps.sh installs it)" >&2
    exit 2
fi

load_start=$(loadavg)
started=$(now)
echo "== load average (1/5/15 min) at start: $load_start"

echo "== configuring $build_dir (Release)"
mkdir -p "$build_dir"
# shellcheck disable=SC2086 # ZHEAP_BENCH_CMAKE_ARGS is a list of arguments
cmake -S "$source_dir" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
    -DZHEAP_BUILD_TESTS=OFF -DZHEAP_BUILD_BENCH=ON ${ZHEAP_BENCH_CMAKE_ARGS:-} \
    >"$build_dir/bench-configure.log" 2>&1 || {
    tail -n 20 "$build_dir/bench-configure.log" >&2
    echo "run.sh: configuring failed (log: $build_dir/bench-configure.log)" >&2
    exit 1
}

echo "== building (log: $build_dir/bench-build.log)"
build_log="$build_dir/bench-build.log"
build_rc="$build_dir/bench-build.rc"
# The build's own progress lines, one over the other, on a terminal.
{ rc=0; cmake --build "$build_dir" -j "$jobs" 2>&1 || rc=$?; echo "$rc" >"$build_rc"; } |
    tee "$build_log" |
    while IFS= read -r line; do status "   $line"; done
clear_status
build_failed=""
if [ "$(cat "$build_rc")" != 0 ]; then
    # Run what did build (an executable may be stale), but fail at the end.
    grep -E 'error|Error' "$build_log" | head -n 20 >&2 || true
    echo "run.sh: the build failed (log: $build_log)" >&2
    build_failed=1
fi

# A fixed order: the building blocks first, then what is built on them.
all_benches="page c fba arena arena_growth pool smp free_unsized debug"
benches=""
for name in $all_benches; do
    [ -x "$build_dir/bench/zheap-bench-$name" ] && benches="$benches $name"
done
if [ -z "$benches" ]; then
    echo "run.sh: no zheap-bench-* executable was built in $build_dir/bench" >&2
    exit 1
fi
# shellcheck disable=SC2086 # word splitting wanted: one argument per bench
set -- $benches
count=$#

# zheap-bench-smp finds libzheap-malloc.so (the "zheap-preload" peer) in the build.
libdir="/usr/lib/$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)"
export ZHEAP_BENCH_PEER_DIRS="${ZHEAP_BENCH_PEER_DIRS:-$build_dir:$libdir:/usr/lib64:/usr/lib:/usr/local/lib}"

results="$build_dir/bench-results"
mkdir -p "$results"
rm -rf "$results"/*.csv "$results"/*.dat "$results"/chart.* "$results/callgrind" \
    "$results/summary.md" "$results/summary.txt"

failed=""
run_timed() { # name index
    exe="$build_dir/bench/zheap-bench-$1"
    echo
    echo "== [$2/$count] zheap-bench-$1${quick:+ (--quick)}"
    t0=$(now)
    # $quick is empty or one word; leaving it unquoted drops it when empty.
    # shellcheck disable=SC2086 # ZHEAP_BENCH_ARGS is a list of arguments
    if ! "$exe" $quick ${ZHEAP_BENCH_ARGS:-} --csv "$results/$1.csv"; then
        echo "run.sh: zheap-bench-$1 failed" >&2
        failed="$failed $1"
    fi
    echo "   ($(($(now) - t0)) s)"
}

run_counted() { # name index
    exe="$build_dir/bench/zheap-bench-$1"
    dumps="$results/callgrind/$1"
    mkdir -p "$dumps"
    echo
    echo "== [$2/$count] zheap-bench-$1 under callgrind (instructions per op)"
    t0=$(now)
    # arena_growth's counting pass (notes, not cases) would take a minute under
    # callgrind; its timed run has the counts.
    own=""
    [ "$1" != arena_growth ] || own="--no-counts"
    # callgrind writes callgrind.out.<pid>.<n> into the current directory, where
    # the harness reads each case's count back.
    # shellcheck disable=SC2086 # $quick and $own are empty or one word
    if ! (cd "$dumps" && valgrind --tool=callgrind -q "$exe" $quick $own --instructions \
            --csv "$results/$1.ir.csv"); then
        echo "run.sh: zheap-bench-$1 --instructions failed" >&2
        failed="$failed $1(instructions)"
    fi
    echo "   ($(($(now) - t0)) s)"
}

i=0
for name in $benches; do
    i=$((i + 1))
    run_timed "$name" "$i"
done
if [ -n "$instructions" ]; then
    i=0
    for name in $benches; do
        i=$((i + 1))
        run_counted "$name" "$i"
    done
fi
# Real programs under every preloaded allocator (issue 11; Linux/glibc builds).
if [ -f "$build_dir/libzheap-malloc.so" ]; then
    echo
    echo "== bench/bench_preload.sh --programs-only${quick:+ (--quick)}"
    # shellcheck disable=SC2086 # $quick is empty or one word
    if ! "$source_dir/bench/bench_preload.sh" $quick --programs-only "$build_dir" \
            "$results/preload.md"; then
        echo "run.sh: bench_preload.sh failed" >&2
        failed="$failed preload"
    fi
fi
load_end=$(loadavg)

# One CSV for everything: the header once, then every bench's rows.
combined="$results/all.csv"
first=1
for name in $benches; do
    for csv in "$results/$name.csv" "$results/$name.ir.csv"; do
        [ -f "$csv" ] || continue
        if [ "$first" = 1 ]; then cat "$csv" >"$combined"; first=0
        else tail -n +2 "$csv" >>"$combined"; fi
    done
done

summary="$results/summary.md"
commit=$(git -C "$source_dir" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$source_dir" status --porcelain --untracked-files=no 2>/dev/null | head -n 1)
[ -z "$dirty" ] || commit="$commit (with local changes)"
model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
command="bench/run.sh${quick:+ $quick}${instructions:+ --instructions}"
[ -z "${ZHEAP_BENCH_ARGS:-}" ] || command="ZHEAP_BENCH_ARGS='$ZHEAP_BENCH_ARGS' $command"
{
    echo "# libzheap benchmark results"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), $(($(now) - started)) s"
    echo "- command: \`$command\`"
    echo "- commit: $commit"
    echo "- machine: $(uname -srm), $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') CPUs${model:+, $model}"
    echo "- load average (1/5/15 min): $load_start at start, $load_end at end"
    echo
} >"$summary"

echo
awk -f "$source_dir/bench/summary.awk" -v md="$summary" -v chart_dir="$results" \
    -v quick="${quick:+1}" -v title="libzheap: $command, $commit, load $load_start .. $load_end" \
    "$combined" | tee "$results/summary.txt"

if command -v gnuplot >/dev/null 2>&1 && [ -f "$results/chart.gp" ]; then
    if gnuplot "$results/chart.gp" 2>"$results/chart.log"; then
        echo
        echo "== chart: $results/chart.png"
    else
        echo "run.sh: gnuplot failed (log: $results/chart.log)" >&2
    fi
else
    echo
    echo "== no PNG chart: gnuplot is not installed (apt-get install gnuplot-nox)"
fi
{
    echo
    echo "== load average (1/5/15 min): $load_start at start, $load_end at end"
    echo "   (other work on the machine slows every case of a group alike, as they are"
    echo "   interleaved, but widens the spread; instruction counts do not move)"
} | tee -a "$results/summary.txt"
if [ -f "$results/preload.md" ]; then
    { echo; echo "## Preload library: real programs"; echo; cat "$results/preload.md"; } >>"$summary"
fi
echo "== results: $summary, $combined"

if [ -n "$failed" ]; then
    echo "run.sh: failed:$failed" >&2
    exit 1
fi
[ -z "$build_failed" ] || exit 1
