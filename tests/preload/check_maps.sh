#!/usr/bin/env bash
# check_maps.sh LIB EXPECTED... - the libraries a process maps under the preload:
# in SMP mode none of libunwind, libdw, libelf (opened only for debug mode); in debug
# mode each EXPECTED one (the providers this build opens at run time).
set -uo pipefail
lib=$1; shift
smp=$(env LD_PRELOAD="$lib" cat /proc/self/maps) || { echo "FAIL: smp run"; exit 1; }
if grep -Eq '/lib(unwind|dw|elf)[.-]' <<<"$smp"; then
  echo "FAIL: SMP mode maps an unwinder or symbolizer:"; grep -E '/lib(unwind|dw|elf)[.-]' <<<"$smp"; exit 1
fi
debug=$(env LD_PRELOAD="$lib" ZHEAP_ALLOCATOR=debug ZHEAP_LEAKS=0 cat /proc/self/maps) || { echo "FAIL: debug run"; exit 1; }
for want in "$@"; do
  grep -q "/$want" <<<"$debug" || { echo "FAIL: debug mode does not map $want"; echo "$debug"; exit 1; }
done
echo "ok: smp maps none of libunwind/libdw/libelf; debug maps: ${*:-(nothing expected)}"
