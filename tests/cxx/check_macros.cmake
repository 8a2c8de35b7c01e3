# check_macros.cmake - every public macro of include/zheap (and the generated config.h)
# is used by the C/C++ API test, so each one is compiled as C11, C17 and C++11/17/20.
#   cmake -DHEADER_DIR=<include> -DCONFIG_IN=<cmake/config.h.in> -DUSES=<file|file> -P ...
# Public macros: #define ZH_<UPPER...> and the lowercase function-like macros that
# shadow functions (#define zh_name(...)). ZH_EXTERN is exempt: every declaration
# the test calls carries it.
cmake_minimum_required(VERSION 3.25)
string(REPLACE "|" ";" USES "${USES}")
file(GLOB _headers "${HEADER_DIR}/zheap/*.h" "${HEADER_DIR}/zheap/*.hpp")
list(APPEND _headers "${CONFIG_IN}")
set(_uses "")
foreach(_f IN LISTS USES)
  file(READ "${_f}" _text)
  string(APPEND _uses "${_text}")
endforeach()
set(_missing "")
set(_count 0)
foreach(_h IN LISTS _headers)
  file(STRINGS "${_h}" _defines
       REGEX "^#[ \t]*define[ \t]+(ZH_[A-Z0-9][A-Z0-9_]*|zh_[a-z0-9_]+\\()")
  foreach(_line IN LISTS _defines)
    string(REGEX REPLACE "^#[ \t]*define[ \t]+([A-Za-z0-9_]+).*" "\\1" _macro "${_line}")
    if(_macro STREQUAL "ZH_EXTERN")
      continue()
    endif()
    math(EXPR _count "${_count} + 1")
    string(REGEX MATCH "[^A-Za-z0-9_]${_macro}[^A-Za-z0-9_]" _used "${_uses}")
    if(NOT _used)
      get_filename_component(_name "${_h}" NAME)
      list(APPEND _missing "${_macro} (${_name})")
    endif()
  endforeach()
endforeach()
if(_missing)
  list(JOIN _missing "\n  " _list)
  message(FATAL_ERROR
    "public macros not used by tests/cxx/public_api.inc or public_api.cpp:\n  ${_list}")
endif()
message(STATUS "all ${_count} public macros are used")
