#!/usr/bin/env bash
# install-deps.sh - everything libzheap's build, tests and benchmarks need on a fresh
# Debian 12 machine. Idempotent; uses sudo when not root.
#   .ci/install-deps.sh           build + tests + benchmark peers (valgrind for
#                                 bench/run.sh --instructions, gnuplot for its chart)
#                                 + Debian packaging (dpkg-dev: dpkg-shlibdeps)
#   .ci/install-deps.sh --cross   also the mingw-w64/wine and wasm32-wasi toolchains
set -euo pipefail
packages=(cmake make gcc g++ clang-14 pkg-config libcmocka-dev libunwind-dev libdw-dev
          libtalloc-dev libjemalloc-dev libmimalloc-dev libgoogle-perftools-dev
          binutils valgrind python3 dpkg-dev gnuplot-nox xz-utils git  # xz, git: tests/preload
          libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 strace  # bench_smp: peers, syscall counts
          libclang-rt-14-dev llvm-14)  # libFuzzer, llvm-cov: tests/fuzz
if [[ "${1:-}" == "--cross" ]]; then
  packages+=(gcc-mingw-w64-x86-64 wine wine64 wasi-libc libclang-rt-14-dev-wasm32 lld-14 nodejs)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
echo "install-deps: done"
