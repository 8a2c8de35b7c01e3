# wasm32-wasi.cmake - CMake toolchain for wasm32-wasi (WASI preview 1) with clang.
#
#   cmake -S . -B build-wasm -DCMAKE_TOOLCHAIN_FILE=cmake/wasm32-wasi.cmake
#   cmake --build build-wasm -j2 && ctest --test-dir build-wasm --output-on-failure
#
# Defaults fit Debian/Ubuntu packages (clang-14, lld-14, wasi-libc,
# libclang-rt-14-dev-wasm32); override with -D:
#   ZHEAP_WASI_CLANG    the C compiler (clang-14, else clang)
#   ZHEAP_WASI_SYSROOT  the wasi-libc sysroot (Debian: /usr, holding include/wasm32-wasi
#                       and lib/wasm32-wasi; wasi-sdk: <sdk>/share/wasi-sysroot)
#   ZHEAP_WASI_NODE     node (>= 18) used to run tests through tests/wasi-run.mjs
#
# CMake 3.25 has no WASI platform module, so the system is Generic with processor
# wasm32 (cmake/ZheapPlatform.cmake picks the wasm backend from the processor).
# wasm32-wasi has no shared libraries, no threads and no cmocka: the static library
# is built alone, and ctest runs the framework-free tests under node.

set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR wasm32)
set(CMAKE_SYSTEM_VERSION 1)

find_program(ZHEAP_WASI_CLANG NAMES clang-14 clang REQUIRED)
set(CMAKE_C_COMPILER "${ZHEAP_WASI_CLANG}")
set(CMAKE_C_COMPILER_TARGET wasm32-wasi)

if(NOT ZHEAP_WASI_SYSROOT)
  if(EXISTS /usr/include/wasm32-wasi/stdlib.h)
    set(ZHEAP_WASI_SYSROOT /usr)
  elseif(EXISTS /opt/wasi-sdk/share/wasi-sysroot)
    set(ZHEAP_WASI_SYSROOT /opt/wasi-sdk/share/wasi-sysroot)
  else()
    message(FATAL_ERROR "zheap: no wasi-libc sysroot found; install wasi-libc "
                        "(Debian: apt-get install wasi-libc) or set ZHEAP_WASI_SYSROOT")
  endif()
endif()
set(ZHEAP_WASI_SYSROOT "${ZHEAP_WASI_SYSROOT}" CACHE PATH "wasi-libc sysroot")
# Given to the compiler only: as CMAKE_SYSROOT it would re-root find_* into the host's
# /usr, where host libraries (cmocka) live.
set(CMAKE_C_FLAGS_INIT "--sysroot=${ZHEAP_WASI_SYSROOT}")
set(CMAKE_EXE_LINKER_FLAGS_INIT
    # A 1 MiB stack placed first in memory, so an overflow traps instead of
    # silently overwriting static data.
    "--sysroot=${ZHEAP_WASI_SYSROOT} -Wl,--stack-first -Wl,-z,stack-size=1048576")

set(CMAKE_EXECUTABLE_SUFFIX ".wasm")
set(CMAKE_EXECUTABLE_SUFFIX_C ".wasm")

# Never pick up host headers or libraries.
set(CMAKE_FIND_ROOT_PATH "${ZHEAP_WASI_SYSROOT}/lib/wasm32-wasi")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_DISABLE_FIND_PACKAGE_CMocka TRUE)

# Project defaults that fit the target (a cache entry given with -D still wins).
set(ZHEAP_BUILD_SHARED OFF CACHE BOOL "Build libzheap as a shared library")
set(ZHEAP_BUILD_BENCH OFF CACHE BOOL "Build the benchmarks")

# Tests run under node's WASI (preview 1).
find_program(ZHEAP_WASI_NODE NAMES node nodejs)
if(ZHEAP_WASI_NODE)
  get_filename_component(_zh_wasi_runner "${CMAKE_CURRENT_LIST_DIR}/../tests/wasi-run.mjs"
                         ABSOLUTE)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${ZHEAP_WASI_NODE};${_zh_wasi_runner}")
endif()
