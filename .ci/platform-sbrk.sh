#!/usr/bin/env bash
# platform-sbrk.sh - the sbrk platform backend (ZHEAP_PLATFORM=sbrk) on a native host:
# configure build-sbrk, build, and run the whole test suite, whose page allocator
# (and everything built on it) now takes its memory from sbrk(2) through the
# process-wide SbrkAllocator.
#
# Debug with ASan + UBSan: ASan shadows the break region like any other memory and
# its own malloc uses mmap, so nothing else moves the break while the tests run.
#   .ci/platform-sbrk.sh [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-sbrk
jobs=${ZHEAP_JOBS:-2}
cmake -S . -B "$build" -DZHEAP_PLATFORM=sbrk -DCMAKE_BUILD_TYPE=Debug \
      -DZHEAP_SANITIZE=address,undefined -DZHEAP_BUILD_BENCH=OFF "$@"
cmake --build "$build" -j"$jobs"
ctest --test-dir "$build" --output-on-failure --no-tests=error -j"$jobs"
