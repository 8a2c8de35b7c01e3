# ZheapWarnings.cmake - warnings and sanitizers for zheap's own targets only.
#
# zheap_target_defaults(<target>) gives a target the project's warning set and, when
# ZHEAP_SANITIZE is set, the sanitizers; C and C++ targets alike (the C-only warnings
# apply to C sources). Consumers' targets are never touched.

function(zheap_target_defaults target)
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
  # C++ targets (tests/cxx) choose their standard; extensions stay off for both.
  set_target_properties(${target} PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF
                                             CXX_EXTENSIONS OFF)
  if(ZHEAP_SANITIZE)
    string(REPLACE ";" "," _san "${ZHEAP_SANITIZE}")
    target_compile_options(${target} PRIVATE -fsanitize=${_san} -fno-omit-frame-pointer
                           -fno-sanitize-recover=all)
    get_target_property(_type ${target} TYPE)
    if(NOT _type STREQUAL "STATIC_LIBRARY")
      target_link_options(${target} PRIVATE -fsanitize=${_san})
    else()
      target_link_options(${target} INTERFACE -fsanitize=${_san})
    endif()
  endif()
endfunction()
