# ZheapBacktrace.cmake - choose the stack-capture provider compiled into libzheap.
#
# Input:  ZHEAP_BACKTRACE = auto | libunwind | frame-pointer | none
#         (auto: libunwind when pkg-config finds it, else the frame-pointer walker on
#          GCC/Clang POSIX targets, CaptureStackBackTrace on Windows, else none)
# Output: ZHEAP_BACKTRACE_RESOLVED, ZHEAP_BACKTRACE_SYMBOLIZER (libdw, dladdr, windows,
#         none), ZHEAP_BACKTRACE_COMPILE_OPTIONS/INCLUDE_DIRS/LINK_DIRS/PC_LIBS; appends to ZHEAP_PLATFORM_SOURCES, ZHEAP_PLATFORM_LIBS and
#         ZHEAP_PLATFORM_DEFINITIONS (set by ZheapPlatform.cmake, included first).
#         ZHEAP_BACKTRACE_DLOPEN_DEFINITIONS and ZHEAP_BACKTRACE_DLOPEN_LIBS: what a
#         target that opens libunwind/libdw at run time instead of linking them
#         (zheap_add_library(... STACK_DLOPEN), the preload library) adds to its
#         definitions and leaves out of its link (ZH_CONFIG_STACK_DLOPEN, the sonames).
# elfutils libdw (pkg-config libdw) is optional: with it reports name static
# functions and give file:line; without it dladdr names exported symbols only.

# The soname of the first library in `libs` whose file name starts with `prefix`
# (objdump -p), else its file name.
function(_zh_soname out prefix)
  set(name "")
  foreach(lib IN LISTS ARGN)
    get_filename_component(file "${lib}" NAME)
    if(NOT file MATCHES "^${prefix}")
      continue()
    endif()
    set(name "${file}")
    if(CMAKE_OBJDUMP AND EXISTS "${lib}")
      execute_process(COMMAND "${CMAKE_OBJDUMP}" -p "${lib}" OUTPUT_VARIABLE dump ERROR_QUIET)
      if(dump MATCHES "SONAME +([^ \n]+)")
        set(name "${CMAKE_MATCH_1}")
      endif()
    endif()
    break()
  endforeach()
  set(${out} "${name}" PARENT_SCOPE)
endfunction()

set(ZHEAP_BACKTRACE "auto" CACHE STRING
    "Stack-capture provider for the debug allocator: auto, libunwind, frame-pointer or none")
set_property(CACHE ZHEAP_BACKTRACE PROPERTY STRINGS auto libunwind frame-pointer none)
if(NOT ZHEAP_BACKTRACE MATCHES "^(auto|libunwind|frame-pointer|none)$")
  message(FATAL_ERROR "zheap: ZHEAP_BACKTRACE='${ZHEAP_BACKTRACE}' is not one of "
                      "auto, libunwind, frame-pointer, none")
endif()

set(_zh_elf_host OFF)
if(NOT WIN32 AND NOT ZHEAP_PLATFORM_RESOLVED STREQUAL "wasm"
   AND CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
  set(_zh_elf_host ON)
endif()

option(ZHEAP_BACKTRACE_LIBDW "Symbolize with elfutils libdw when pkg-config finds it" ON)

find_package(PkgConfig QUIET)
set(_zh_bt "${ZHEAP_BACKTRACE}")
if(_zh_elf_host AND PKG_CONFIG_FOUND AND _zh_bt MATCHES "^(auto|libunwind)$")
  pkg_check_modules(ZH_LIBUNWIND QUIET libunwind)
endif()
if(_zh_bt STREQUAL "auto")
  if(ZH_LIBUNWIND_FOUND)
    set(_zh_bt libunwind)
  elseif(_zh_elf_host)
    set(_zh_bt frame-pointer)
  elseif(WIN32)
    set(_zh_bt windows)
  else()
    set(_zh_bt none)
  endif()
endif()
if(_zh_bt STREQUAL "libunwind" AND NOT ZH_LIBUNWIND_FOUND)
  message(FATAL_ERROR "zheap: ZHEAP_BACKTRACE=libunwind but pkg-config found no libunwind "
                      "(Debian: apt-get install libunwind-dev)")
endif()
if(_zh_bt MATCHES "^(libunwind|frame-pointer)$" AND NOT _zh_elf_host)
  message(FATAL_ERROR "zheap: ZHEAP_BACKTRACE=${_zh_bt} needs a GCC/Clang POSIX target")
endif()
set(ZHEAP_BACKTRACE_RESOLVED ${_zh_bt})

set(ZHEAP_BACKTRACE_SYMBOLIZER none)
set(ZHEAP_BACKTRACE_COMPILE_OPTIONS "")
set(ZHEAP_BACKTRACE_INCLUDE_DIRS "")
set(ZHEAP_BACKTRACE_LINK_DIRS "")
set(ZHEAP_BACKTRACE_DLOPEN_DEFINITIONS ZH_CONFIG_STACK_DLOPEN=1)
set(ZHEAP_BACKTRACE_DLOPEN_LIBS "")
if(_zh_bt MATCHES "^(libunwind|frame-pointer)$")
  # The frame-pointer walk starts inside libzheap: every libzheap frame between the
  # caller and the walker must keep its frame pointer (about 1% of speed).
  set(ZHEAP_BACKTRACE_COMPILE_OPTIONS -fno-omit-frame-pointer)
  string(REPLACE "-" "_" _zh_bt_file "${_zh_bt}")
  list(APPEND ZHEAP_PLATFORM_SOURCES src/platform/stacktrace_${_zh_bt_file}.c
                                     src/platform/stacktrace_elf.c)
  # Plain library names (not imported targets) so that the exported static library's
  # link interface and zheap.pc work on a consumer's machine.
  if(_zh_bt STREQUAL "libunwind")
    list(APPEND ZHEAP_PLATFORM_LIBS ${ZH_LIBUNWIND_LIBRARIES})
    list(APPEND ZHEAP_BACKTRACE_INCLUDE_DIRS ${ZH_LIBUNWIND_INCLUDE_DIRS})
    list(APPEND ZHEAP_BACKTRACE_LINK_DIRS ${ZH_LIBUNWIND_LIBRARY_DIRS})
    list(APPEND ZHEAP_BACKTRACE_DLOPEN_LIBS ${ZH_LIBUNWIND_LIBRARIES})
    _zh_soname(_zh_unwind_soname libunwind ${ZH_LIBUNWIND_LINK_LIBRARIES})
    if(NOT _zh_unwind_soname)
      set(_zh_unwind_soname libunwind.so.8)
    endif()
    list(APPEND ZHEAP_BACKTRACE_DLOPEN_DEFINITIONS
         "ZH_CONFIG_LIBUNWIND_SONAME=\"${_zh_unwind_soname}\"")
  endif()
  if(PKG_CONFIG_FOUND AND ZHEAP_BACKTRACE_LIBDW)
    pkg_check_modules(ZH_LIBDW QUIET libdw)
  endif()
  if(ZH_LIBDW_FOUND)
    list(APPEND ZHEAP_PLATFORM_LIBS ${ZH_LIBDW_LIBRARIES})
    list(APPEND ZHEAP_BACKTRACE_INCLUDE_DIRS ${ZH_LIBDW_INCLUDE_DIRS})
    list(APPEND ZHEAP_BACKTRACE_LINK_DIRS ${ZH_LIBDW_LIBRARY_DIRS})
    list(APPEND ZHEAP_PLATFORM_DEFINITIONS ZH_CONFIG_HAVE_LIBDW=1)
    list(APPEND ZHEAP_BACKTRACE_DLOPEN_LIBS ${ZH_LIBDW_LIBRARIES})
    _zh_soname(_zh_dw_soname libdw ${ZH_LIBDW_LINK_LIBRARIES})
    if(NOT _zh_dw_soname)
      set(_zh_dw_soname libdw.so.1)
    endif()
    list(APPEND ZHEAP_BACKTRACE_DLOPEN_DEFINITIONS "ZH_CONFIG_LIBDW_SONAME=\"${_zh_dw_soname}\"")
    set(ZHEAP_BACKTRACE_SYMBOLIZER libdw)
  else()
    set(ZHEAP_BACKTRACE_SYMBOLIZER dladdr)
  endif()
  list(APPEND ZHEAP_PLATFORM_LIBS ${CMAKE_DL_LIBS})
  list(REMOVE_DUPLICATES ZHEAP_PLATFORM_LIBS)
elseif(_zh_bt STREQUAL "windows")
  list(APPEND ZHEAP_PLATFORM_SOURCES src/platform/stacktrace_windows.c)
  set(ZHEAP_BACKTRACE_SYMBOLIZER windows)
else()
  list(APPEND ZHEAP_PLATFORM_SOURCES src/platform/stacktrace_none.c)
endif()

# -l flags for zheap.pc's Libs.private (what the static library adds).
set(ZHEAP_BACKTRACE_PC_LIBS "")
if(ZHEAP_BACKTRACE_SYMBOLIZER MATCHES "^(libdw|dladdr)$")
  set(_zh_bt_names ${CMAKE_DL_LIBS})
  if(ZHEAP_BACKTRACE_RESOLVED STREQUAL "libunwind")
    list(APPEND _zh_bt_names ${ZH_LIBUNWIND_LIBRARIES})
  endif()
  if(ZH_LIBDW_FOUND)
    list(APPEND _zh_bt_names ${ZH_LIBDW_LIBRARIES})
  endif()
  foreach(_zh_lib IN LISTS _zh_bt_names)
    string(APPEND ZHEAP_BACKTRACE_PC_LIBS " -l${_zh_lib}")
  endforeach()
endif()
