# mingw-w64-x86_64.cmake - cross-compile libzheap for 64-bit Windows with Debian's
# gcc-mingw-w64-x86-64, and run its tests under wine.
#
#   cmake -S . -B build-mingw -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake
#
# Compiler variant: the "-win32" thread model, on purpose. libzheap uses Windows
# primitives directly (SRWLOCK, SwitchToThread) and needs no pthreads; the "-posix"
# variant would make libgcc (emulated TLS, atomics) depend on libwinpthread-1.dll,
# which then has to be shipped or linked statically. With -win32 plus
# -static-libgcc, binaries need only system DLLs (kernel32, msvcrt), so wine finds
# everything. Override with -DZHEAP_MINGW_PREFIX=... (e.g. x86_64-w64-mingw32 for
# the distribution default, or another triplet's tools).
#
# Tests: CMAKE_CROSSCOMPILING_EMULATOR runs each test through wine with a private
# WINEPREFIX (created once, at configure time, so parallel tests do not race to
# create it) and WINEDEBUG=-all to keep wine's diagnostics out of the test output.
# Set WINEPREFIX in the environment to use another prefix.

set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(ZHEAP_MINGW_TRIPLET x86_64-w64-mingw32)
if(NOT ZHEAP_MINGW_PREFIX)
  set(ZHEAP_MINGW_PREFIX ${ZHEAP_MINGW_TRIPLET}-)
  set(_zh_mingw_variant -win32)
endif()

find_program(CMAKE_C_COMPILER NAMES ${ZHEAP_MINGW_PREFIX}gcc${_zh_mingw_variant}
                                     ${ZHEAP_MINGW_PREFIX}gcc REQUIRED)
find_program(CMAKE_RC_COMPILER NAMES ${ZHEAP_MINGW_PREFIX}windres)
find_program(CMAKE_AR NAMES ${ZHEAP_MINGW_PREFIX}gcc-ar${_zh_mingw_variant}
                            ${ZHEAP_MINGW_PREFIX}ar)
find_program(CMAKE_RANLIB NAMES ${ZHEAP_MINGW_PREFIX}gcc-ranlib${_zh_mingw_variant}
                                ${ZHEAP_MINGW_PREFIX}ranlib)

# C99 printf/scanf (%zu, %lld, %p spelled the same as elsewhere) instead of
# msvcrt's own, so diagnostics look alike on every platform and -Wformat agrees.
set(CMAKE_C_FLAGS_INIT "-D__USE_MINGW_ANSI_STDIO=1")
# libgcc is linked statically so that wine needs no libgcc_s_seh-1.dll.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static-libgcc")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static-libgcc")

# Look for programs on the build host, for libraries and headers only in the
# target's sysroot (never pick up Linux libraries such as cmocka).
set(CMAKE_FIND_ROOT_PATH /usr/${ZHEAP_MINGW_TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# The same for pkg-config: only .pc files of the target (none by default).
set(ENV{PKG_CONFIG_LIBDIR} "/usr/${ZHEAP_MINGW_TRIPLET}/lib/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# ---- wine as the test runner --------------------------------------------------------
# Debian 12 installs the 64-bit loader as /usr/lib/wine/wine64 (package wine64); the
# /usr/bin/wine wrapper (package wine) prefers a 32-bit loader and complains when it
# is missing, so the 64-bit loader is taken directly when it exists.
find_program(ZHEAP_WINE NAMES wine64 wine PATHS /usr/lib/wine /usr/lib64/wine
             NO_CMAKE_FIND_ROOT_PATH)
if(ZHEAP_WINE)
  if(DEFINED ENV{WINEPREFIX})
    set(ZHEAP_WINEPREFIX "$ENV{WINEPREFIX}")
  elseif(NOT ZHEAP_WINEPREFIX)
    set(ZHEAP_WINEPREFIX "${CMAKE_BINARY_DIR}/wineprefix")
  endif()
  set(_zh_wine_env WINEPREFIX=${ZHEAP_WINEPREFIX} WINEDEBUG=-all
                   WINEDLLOVERRIDES=mscoree,mshtml=)   # never offer Mono/Gecko installers
  set(CMAKE_CROSSCOMPILING_EMULATOR ${CMAKE_COMMAND} -E env ${_zh_wine_env} ${ZHEAP_WINE})
  # Create the prefix once, outside try_compile projects (which never run tests).
  if(NOT CMAKE_IN_TRY_COMPILE AND NOT EXISTS "${ZHEAP_WINEPREFIX}/system.reg")
    message(STATUS "zheap: creating wine prefix ${ZHEAP_WINEPREFIX}")
    execute_process(COMMAND ${CMAKE_COMMAND} -E env ${_zh_wine_env} ${ZHEAP_WINE} wineboot --init
                    RESULT_VARIABLE _zh_wineboot_result OUTPUT_QUIET ERROR_QUIET
                    TIMEOUT 300)
    if(NOT _zh_wineboot_result EQUAL 0)
      message(WARNING "zheap: 'wine wineboot --init' failed (${_zh_wineboot_result}); "
                      "tests will create the prefix on first run")
    endif()
  endif()
else()
  message(STATUS "zheap: wine not found; cross-compiled tests cannot run "
                 "(Debian: apt-get install wine wine64)")
endif()
