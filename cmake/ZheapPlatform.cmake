# ZheapPlatform.cmake - choose the one OS backend compiled into libzheap.
#
# Input:  ZHEAP_PLATFORM = auto or one of ZHEAP_PLATFORMS (declared here, beside the list)
# Output: ZHEAP_PLATFORM_RESOLVED, ZHEAP_PLATFORM_SOURCES, ZHEAP_PLATFORM_LIBS,
#         ZHEAP_PLATFORM_NAMES (the list as text), ZHEAP_PLATFORM_DEFINITIONS,
#         ZHEAP_PAGE_SIZE_MIN/MAX, ZHEAP_HAVE_WASM_ALLOCATOR,
#         ZHEAP_HAVE_THREADS

# The backends, each src/platform/<name>.c: the one list every check and message uses.
set(ZHEAP_PLATFORMS mmap virtualalloc sbrk wasm)
list(JOIN ZHEAP_PLATFORMS ", " ZHEAP_PLATFORM_NAMES)
set(ZHEAP_PLATFORM "auto" CACHE STRING "OS backend: auto or one of ${ZHEAP_PLATFORM_NAMES}")
set_property(CACHE ZHEAP_PLATFORM PROPERTY STRINGS auto ${ZHEAP_PLATFORMS})

set(_zh_platform "${ZHEAP_PLATFORM}")
if(_zh_platform STREQUAL "auto")
  if(WIN32)
    set(_zh_platform virtualalloc)
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^wasm" OR CMAKE_SYSTEM_NAME STREQUAL "WASI")
    set(_zh_platform wasm)
  else()
    set(_zh_platform mmap)
  endif()
endif()
if(NOT _zh_platform IN_LIST ZHEAP_PLATFORMS)
  message(FATAL_ERROR "zheap: ZHEAP_PLATFORM='${ZHEAP_PLATFORM}' is not one of "
                      "auto, ${ZHEAP_PLATFORM_NAMES}")
endif()
if(_zh_platform STREQUAL "virtualalloc" AND NOT WIN32)
  message(FATAL_ERROR "zheap: ZHEAP_PLATFORM=virtualalloc needs a Windows target "
                      "(use -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake)")
endif()
if(_zh_platform STREQUAL "wasm" AND NOT CMAKE_SYSTEM_PROCESSOR MATCHES "^wasm")
  message(FATAL_ERROR "zheap: ZHEAP_PLATFORM=wasm needs a wasm32 target "
                      "(use -DCMAKE_TOOLCHAIN_FILE=cmake/wasm32-wasi.cmake)")
endif()
set(ZHEAP_PLATFORM_RESOLVED ${_zh_platform})
set(ZHEAP_PLATFORM_SOURCES "src/platform/${_zh_platform}.c")
if(_zh_platform MATCHES "^(mmap|sbrk)$")
  list(APPEND ZHEAP_PLATFORM_SOURCES src/platform/posix.c)   # threads, diagnostics, libc facts
endif()
set(ZHEAP_PLATFORM_LIBS "")
set(ZHEAP_HAVE_WASM_ALLOCATOR 0)
set(ZHEAP_HAVE_THREADS ON)
# Compiler/target quirks handed to src/common.h (which names no OS).
set(ZHEAP_PLATFORM_DEFINITIONS "")
if(MINGW AND CMAKE_C_COMPILER_ID STREQUAL "GNU")
  list(APPEND ZHEAP_PLATFORM_DEFINITIONS ZH_CONFIG_PRINTF_ARCHETYPE=gnu_printf)
endif()
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^wasm")
  list(APPEND ZHEAP_PLATFORM_DEFINITIONS ZH_CONFIG_NO_RETURN_ADDRESS=1)
endif()

if(_zh_platform STREQUAL "wasm")
  set(ZHEAP_HAVE_WASM_ALLOCATOR 1)
  set(ZHEAP_HAVE_THREADS OFF)
elseif(NOT WIN32)
  set(THREADS_PREFER_PTHREAD_FLAG ON)
  find_package(Threads REQUIRED)
  list(APPEND ZHEAP_PLATFORM_LIBS Threads::Threads)
endif()

if(ZHEAP_HAVE_THREADS)
  set(ZHEAP_HAVE_THREADS_01 1)
else()
  set(ZHEAP_HAVE_THREADS_01 0)
endif()

# Page size bounds per architecture (the runtime value is zh_page_size()).
if(_zh_platform STREQUAL "wasm")
  set(ZHEAP_PAGE_SIZE_MIN 65536)
  set(ZHEAP_PAGE_SIZE_MAX 65536)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|i[3-6]86|x86)$")
  set(ZHEAP_PAGE_SIZE_MIN 4096)
  set(ZHEAP_PAGE_SIZE_MAX 4096)
else()
  # aarch64, ppc64, loongarch, riscv...: 4 KiB to 64 KiB kernels exist.
  set(ZHEAP_PAGE_SIZE_MIN 4096)
  set(ZHEAP_PAGE_SIZE_MAX 65536)
endif()
