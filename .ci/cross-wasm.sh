#!/usr/bin/env bash
# cross-wasm.sh - the wasm backend from a Linux host: cross-compile for wasm32-wasi
# with clang + wasi-libc (cmake/wasm32-wasi.cmake) and run the tests under node's
# WASI (tests/wasi-run.mjs).
#
# Two configurations: build-wasm (Debug, ZHEAP_SAFETY on) and build-wasm-release
# (Release, safety off). wasm32-wasi has no cmocka, threads or shared libraries, so
# the tests are the framework-free conformance_main and wasm_main (plus the
# double-free abort check with safety on); --no-tests=error makes a build that
# registered none fail. Benchmarks are not built (they are native-only).
# Non-interactive; installs packages only when missing.
#   .ci/cross-wasm.sh [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${ZHEAP_JOBS:-2}

# ---- tools --------------------------------------------------------------------------
need=()
command -v clang-14 >/dev/null || need+=(clang-14)
command -v wasm-ld >/dev/null || command -v wasm-ld-14 >/dev/null || need+=(lld-14)
[[ -f /usr/include/wasm32-wasi/stdlib.h ]] || need+=(wasi-libc)
[[ -f /usr/lib/llvm-14/lib/clang/14.0.6/lib/wasi/libclang_rt.builtins-wasm32.a ]] ||
  ls /usr/lib/llvm-14/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1 ||
  need+=(libclang-rt-14-dev-wasm32)
command -v node >/dev/null || command -v nodejs >/dev/null || need+=(nodejs)
command -v cmake >/dev/null || need+=(cmake make)
if ((${#need[@]} > 0)); then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  echo "cross-wasm: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq </dev/null
  $SUDO apt-get install -y -qq "${need[@]}" </dev/null >/dev/null
fi
# wasm-ld is what clang looks for; Debian's lld-14 provides wasm-ld-14 and, with the
# lld package, the unversioned name.
if ! command -v wasm-ld >/dev/null; then
  mkdir -p build-wasm/bin
  ln -sf "$(command -v wasm-ld-14)" build-wasm/bin/wasm-ld
  export PATH="$PWD/build-wasm/bin:$PATH"
fi
echo "cross-wasm: $(clang-14 --version | head -n1); node $(node --version 2>/dev/null || nodejs --version)"

# ---- configure, build, test ------------------------------------------------------------
run_config() {
  local build=$1 type=$2
  shift 2
  echo "==== wasm32-wasi $type ($build) ===="
  cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE=cmake/wasm32-wasi.cmake \
        -DCMAKE_BUILD_TYPE="$type" -DZHEAP_BUILD_BENCH=OFF -DZHEAP_WERROR=ON "$@"
  cmake --build "$build" -j"$jobs"
  ctest --test-dir "$build" --output-on-failure --no-tests=error -j"$jobs"
}

run_config build-wasm Debug "$@"
run_config build-wasm-release Release "$@"
echo "cross-wasm: all configurations passed"
