# ZheapWarnings.cmake - how zheap's own targets are compiled: ISO C11, warnings,
# ZHEAP_WERROR and ZHEAP_SANITIZE.
#
# zheap_target_defaults(<target>) gives one of zheap's targets (the libraries, tests,
# benches; C and C++ alike, the C-only warnings on C sources) all of that, PRIVATE
# only: nothing reaches a consumer's targets, in-tree (add_subdirectory, FetchContent)
# or installed.

function(zheap_target_defaults target)
  # The one place C11 is required; the libraries also tell consumers their headers
  # need C11 (an INTERFACE compile feature in CMakeLists.txt). C++ targets (tests/cxx)
  # choose their standard; extensions stay off for both.
  set_target_properties(${target} PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON
                                             C_EXTENSIONS OFF CXX_EXTENSIONS OFF)
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                           "$<$<COMPILE_LANGUAGE:C>:-Wstrict-prototypes;-Wmissing-prototypes>"
                           -Wno-unknown-pragmas)
    if(ZHEAP_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  elseif(MSVC)
    target_compile_options(${target} PRIVATE /W4)
  endif()
  if(ZHEAP_SANITIZE)
    string(REPLACE ";" "," _san "${ZHEAP_SANITIZE}")
    target_compile_options(${target} PRIVATE -fsanitize=${_san} -fno-omit-frame-pointer
                           -fno-sanitize-recover=all)
    # Linked into whatever zheap links itself (the shared library, tests, benches).
    # A static archive links nothing, and its flags are not handed on: a parent that
    # embeds a sanitized static zheap links its program with the sanitizer itself.
    get_target_property(_type ${target} TYPE)
    if(NOT _type STREQUAL "STATIC_LIBRARY")
      target_link_options(${target} PRIVATE -fsanitize=${_san})
    endif()
  endif()
endfunction()
