#!/usr/bin/env bash
# tests/fuzz/coverage.sh - line and branch coverage of src/ reached by a fuzz corpus.
#
#   tests/fuzz/coverage.sh [CORPUS_ROOT...]
#
# Builds the replay main with clang's source-based coverage (build/fuzz-cov),
# replays the seed corpus (tests/fuzz/corpus) and every CORPUS_ROOT given (e.g.
# build/fuzz/fuzz-corpus after tests/fuzz/run.sh; its subdirectories are named
# after the targets), and prints llvm-cov's report (lines, branches, functions per
# file) for every source of src/ and the public headers' inline code.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build/fuzz-cov
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang-14 \
  -DCMAKE_CXX_COMPILER=clang++-14 -DZHEAP_SAFETY=ON \
  -DZHEAP_BUILD_BENCH=OFF -DZHEAP_BUILD_SHARED=OFF \
  -DCMAKE_C_FLAGS="-fprofile-instr-generate -fcoverage-mapping" \
  -DCMAKE_EXE_LINKER_FLAGS="-fprofile-instr-generate" >/dev/null
cmake --build "$build" -j2 --target zheap-fuzz-replay >/dev/null
rm -f "$build"/fuzz-*.profraw
dirs=(tests/fuzz/corpus/*)
for root in "$@"; do dirs+=("$root"/*); done
LLVM_PROFILE_FILE="$build/fuzz-%p.profraw" \
  "$build/tests/fuzz/zheap-fuzz-replay" "${dirs[@]}"
llvm-profdata-14 merge -sparse "$build"/fuzz-*.profraw -o "$build/fuzz.profdata"
# Every file of src/ the replay links (allocators, src/core, the platform layer) and
# the inline paths of the public headers.
llvm-cov-14 report "$build/tests/fuzz/zheap-fuzz-replay" -instr-profile="$build/fuzz.profdata" \
  src include/zheap
