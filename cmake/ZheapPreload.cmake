# ZheapPreload.cmake - libzheap-malloc.so (issue 11): the C allocation surface
# (malloc, free, ...) over the SMP and debug allocators, for LD_PRELOAD.
#
# Target zheap_malloc (exported as zheap::zheap_malloc, installed as
# lib/libzheap-malloc.so): libzheap's sources compiled again, position-independent
# and with the initial-exec TLS model (no __tls_get_addr on an allocation path),
# plus src/preload/, with link-time optimisation in optimised builds where the
# toolchain supports it. Only the malloc names are exported (src/preload/exports.map).
# libunwind and libdw are not linked but opened at run time (STACK_DLOPEN), in debug
# mode only (config.c's constructor) and when reporting a foreign pointer: an SMP-mode
# process maps libc alone besides this library.
# Linux with glibc only; not built with ZHEAP_SANITIZE (a sanitizer's runtime owns
# malloc) nor when cross-compiling. ZHEAP_BUILD_PRELOAD turns it off.

set(_zh_preload_default OFF)
if(CMAKE_SYSTEM_NAME STREQUAL "Linux" AND NOT CMAKE_CROSSCOMPILING
   AND ZHEAP_PLATFORM_RESOLVED STREQUAL "mmap" AND CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
  include(CheckSymbolExists)
  check_symbol_exists(__GLIBC__ "features.h" ZHEAP_HAVE_GLIBC)
  if(ZHEAP_HAVE_GLIBC)
    set(_zh_preload_default ON)
  endif()
endif()
option(ZHEAP_BUILD_PRELOAD "Build libzheap-malloc.so, the LD_PRELOAD malloc (Linux/glibc)"
       ${_zh_preload_default})
if(ZHEAP_BUILD_PRELOAD AND ZHEAP_SANITIZE)
  message(STATUS "zheap: libzheap-malloc.so is not built with ZHEAP_SANITIZE=${ZHEAP_SANITIZE}")
  set(ZHEAP_BUILD_PRELOAD OFF)
endif()
if(ZHEAP_BUILD_PRELOAD AND NOT _zh_preload_default)
  message(FATAL_ERROR "zheap: ZHEAP_BUILD_PRELOAD needs Linux with glibc and the mmap backend")
endif()

if(ZHEAP_BUILD_PRELOAD)
  zheap_add_library(zheap_malloc SHARED STACK_DLOPEN) # libunwind/libdw: debug mode only
  target_sources(zheap_malloc PRIVATE src/preload/malloc.c src/preload/config.c)
  # Sections per function, collected: only what malloc & co. reach stays (the
  # other allocators' code would be mapped into every process for nothing).
  target_compile_options(zheap_malloc PRIVATE -ftls-model=initial-exec
                         -ffunction-sections -fdata-sections)
  set(_zh_map "${PROJECT_SOURCE_DIR}/src/preload/exports.map")
  target_link_options(zheap_malloc PRIVATE "LINKER:--version-script=${_zh_map}"
                                           "LINKER:--no-undefined" "LINKER:-z,nodelete"
                                           "LINKER:--gc-sections")
  set_target_properties(zheap_malloc PROPERTIES
    OUTPUT_NAME zheap-malloc
    POSITION_INDEPENDENT_CODE ON
    LINK_DEPENDS "${_zh_map}"
    EXPORT_NAME zheap_malloc)
  target_link_libraries(zheap_malloc PRIVATE ${CMAKE_DL_LIBS})
  # Link-time optimisation in optimised builds: malloc and free then inline the SMP
  # allocator's fast paths across files (no tail call, no function-pointer argument):
  # 0.97x the churn and threads8 time (docs/benchmarks.md, "The preload library
  # with LTO"). Skipped, with a message, where the toolchain cannot do it.
  include(CheckIPOSupported)
  check_ipo_supported(RESULT _zh_preload_lto OUTPUT _zh_preload_lto_why LANGUAGES C)
  if(_zh_preload_lto)
    foreach(_zh_config RELEASE RELWITHDEBINFO MINSIZEREL)
      set_property(TARGET zheap_malloc PROPERTY INTERPROCEDURAL_OPTIMIZATION_${_zh_config} ON)
    endforeach()
  else()
    message(STATUS "zheap: libzheap-malloc.so without link-time optimisation: "
                   "${_zh_preload_lto_why}")
  endif()
  add_library(zheap::zheap_malloc ALIAS zheap_malloc)
  list(APPEND ZHEAP_EXPORTED_TARGETS zheap_malloc)
  if(ZHEAP_BUILD_TESTS)
    add_subdirectory(tests/preload)
  endif()
endif()
