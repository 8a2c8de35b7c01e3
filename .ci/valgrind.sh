#!/usr/bin/env bash
# .ci/valgrind.sh - the CTest suite under valgrind's memcheck.
#
# Builds the `valgrind` preset (Debug, ZHEAP_VALGRIND=ON: the allocators tell
# memcheck which bytes they hand out) and runs `ctest -T memcheck`: a memory error
# or a definite leak fails the test (tests/CMakeLists.txt has the options and
# tests/valgrind.supp the intended oddities). Tests labelled no_valgrind are left
# out (the reasons are in tests/CMakeLists.txt), and so are the packaging and
# language-mode tests (labels package, lang): they drive cmake, which would be the
# program under memcheck, not zheap (the lang tests run under ASan in the asan preset);
# and the preload tests (label preload), which replace malloc in other programs as
# memcheck itself does.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset valgrind
cmake --build --preset valgrind
ctest --test-dir build/valgrind -T memcheck -j2 -LE "no_valgrind|package|lang|preload" --timeout 900 \
  --output-on-failure
