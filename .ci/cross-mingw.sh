#!/usr/bin/env bash
# cross-mingw.sh - the Windows backend (VirtualAlloc) from a Linux host: cross-compile
# with mingw-w64 (cmake/mingw-w64-x86_64.cmake) and run the tests under wine.
#
# Two configurations: build-mingw (Debug, ZHEAP_SAFETY on) and build-mingw-release
# (Release, safety off), sharing one wine prefix. Cross builds have no cmocka, so
# the tests are the framework-free conformance_main; --no-tests=error makes a build
# that registered none fail. Benchmarks are not built (they are native-only).
# Non-interactive: no display, no stdin, installs packages only when missing.
#   .ci/cross-mingw.sh [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${ZHEAP_JOBS:-2}

# ---- tools --------------------------------------------------------------------------
need=()
command -v x86_64-w64-mingw32-gcc-win32 >/dev/null || need+=(gcc-mingw-w64-x86-64)
[[ -x /usr/lib/wine/wine64 ]] || command -v wine64 >/dev/null || need+=(wine wine64)
command -v cmake >/dev/null || need+=(cmake make)
if ((${#need[@]} > 0)); then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  echo "cross-mingw: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq </dev/null
  $SUDO apt-get install -y -qq "${need[@]}" </dev/null >/dev/null
fi

# ---- wine: one quiet prefix for both builds, no GUI -----------------------------------
export WINEPREFIX="$PWD/build-mingw/wineprefix"
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY
mkdir -p build-mingw

# ---- configure, build, test ------------------------------------------------------------
run_config() {
  local build=$1 type=$2
  shift 2
  echo "==== mingw-w64 $type ($build) ===="
  cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake \
        -DCMAKE_BUILD_TYPE="$type" -DZHEAP_BUILD_BENCH=OFF "$@" </dev/null
  cmake --build "$build" -j"$jobs" </dev/null
  ctest --test-dir "$build" --output-on-failure --no-tests=error -j"$jobs" </dev/null
}

run_config build-mingw Debug "$@"
run_config build-mingw-release Release "$@"

# Let the wine server of this prefix finish before the job ends.
wineserver=$(command -v wineserver || echo /usr/lib/wine/wineserver64)
[[ -x $wineserver ]] && "$wineserver" -w || true
echo "cross-mingw: ok"
