#!/usr/bin/env bash
# run_program.sh LIB MODE PROGRAM - runs a real program (python, git, sort, xz,
# cmake) normally and under LD_PRELOAD=LIB with ZHEAP_ALLOCATOR=MODE, in the same
# scratch directory, and fails unless stdout and the exit status are identical. In
# debug mode it also fails when the report names any problem other than leaks
# (a false positive of the debug allocator or of the preload library).
# Environment: PYTHON (default /usr/bin/python3), WORKLOAD (workload.py's path),
# ZH_SCRATCH (scratch root, default a mktemp directory).
set -euo pipefail
lib=$1 mode=$2 program=$3
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-/usr/bin/python3}
scratch=${ZH_SCRATCH:-$(mktemp -d)}
work="$scratch/$program-$mode"
trap 'rm -rf "$scratch"' EXIT

need() { command -v "$1" >/dev/null || { echo "SKIP: $1 not installed"; exit 77; }; }

# Input files live outside $work, which is recreated for each run.
prepare() {
  case $program in
    sort) awk 'BEGIN { srand(11); for (i = 0; i < 300000; i++) printf "%08x %d line %d\n", int(rand() * 4294967295), int(rand() * 1000), i }' > "$scratch/sort.in" ;;
    xz) awk 'BEGIN { srand(5); for (i = 0; i < 150000; i++) printf "%d,%s,%08x\n", i, (i % 7 ? "alpha" : "beta"), int(rand() * 65536) }' > "$scratch/xz.in" ;;
  esac
}

scenario() {
  rm -rf "$work" && mkdir -p "$work" && cd "$work"
  case $program in
    python) "$python" "$here/workload.py" 2 ;;
    git)
      export GIT_AUTHOR_NAME=zheap GIT_AUTHOR_EMAIL=z@example.org GIT_COMMITTER_NAME=zheap \
             GIT_COMMITTER_EMAIL=z@example.org GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' \
             GIT_COMMITTER_DATE='2026-01-01T00:00:00Z' GIT_CONFIG_NOSYSTEM=1 HOME="$work"
      git init -q -b main repo && cd repo
      for i in $(seq 1 40); do seq "$i" $((i * 50)) > "file$i.txt"; done
      git add . && git commit -q -m "first"
      for i in $(seq 1 40 | awk 'NR % 3 == 0'); do echo "change $i" >> "file$i.txt"; done
      git rm -q file2.txt && git commit -q -am "second"
      git log --stat --format='%H %s'
      git status --short
      git diff HEAD~1 --stat ;;
    sort) sort -k2,2n -k1,1 "$scratch/sort.in" | md5sum ;;
    xz)
      xz -T2 -1 --block-size=256KiB -c "$scratch/xz.in" > data.xz
      md5sum < data.xz
      xz -T2 -d -c data.xz | md5sum ;;
    cmake)
      mkdir src && printf 'cmake_minimum_required(VERSION 3.13)\nproject(tiny C)\nadd_executable(tiny main.c)\ninclude(CheckIncludeFile)\ncheck_include_file(stdio.h HAVE_STDIO)\n' > src/CMakeLists.txt
      echo 'int main(void) { return 0; }' > src/main.c
      cmake -S src -B build -DCMAKE_BUILD_TYPE=Release | grep -v -e '^-- Configuring done' -e '^-- Generating done' ;;
    *) echo "unknown program $program"; exit 2 ;;
  esac
}

case $program in python) need "$python" ;; *) need "$program" ;; esac
prepare
set +e
expected=$(scenario 2>/dev/null); expected_rc=$?
if [[ $mode == debug ]]; then
  got=$(LD_PRELOAD="$lib" ZHEAP_ALLOCATOR=debug ZHEAP_LEAKS=0 ZHEAP_REPORT="$scratch/report.%p" scenario 2>/dev/null); got_rc=$?
else
  got=$(LD_PRELOAD="$lib" ZHEAP_ALLOCATOR="$mode" scenario 2>/dev/null); got_rc=$?
fi
set -e
if [[ "$expected" != "$got" || $expected_rc != $got_rc ]]; then
  echo "FAIL: $program under ZHEAP_ALLOCATOR=$mode differs (exit $got_rc, normally $expected_rc)"
  diff <(echo "$expected") <(echo "$got") | head -40
  exit 1
fi
if [[ $mode == debug ]]; then
  reports=$(cat "$scratch"/report.* 2>/dev/null || true)
  if grep -q 'ERROR:' <<<"$reports"; then
    echo "FAIL: the debug allocator reported problems in $program:"
    head -60 <<<"$reports"
    exit 1
  fi
  echo "$(grep -c 'leaked in' <<<"$reports" || true) process(es) reported leaks at exit (summary only: ZHEAP_LEAKS=0)"
fi
echo "ok: $program output identical under ZHEAP_ALLOCATOR=$mode ($(wc -l <<<"$got") lines)"
