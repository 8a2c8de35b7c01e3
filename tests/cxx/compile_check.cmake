# compile_check.cmake - compile C or C++ sources with a given compiler, for tests/cxx.
#
#   cmake -DCOMPILER=<path> -DLANG=c|c++ -DSTD=c11|c++17|... -DINCLUDES=<dir|dir>
#         -DWORK=<dir> -DMODE=<mode> [...] -P compile_check.cmake
#
# MODE=headers  HEADER_DIR=<dir>: every zheap/*.h (and, for C++, *.hpp) alone in a TU,
#               compiled with -Wall -Wextra -Wpedantic -Werror; fails if any does not.
# MODE=run      SOURCE=<file> LINK=<arg|arg...> [RUN=ON|OFF]: compile warning-free and,
#               with RUN=ON, link with LINK and run the program (exit status 0).
#               RUN=OFF compiles to an object only (e.g. a sanitized libzheap built by
#               another compiler cannot be linked with this one's runtime).
# MODE=fail     SOURCE=<file> EXPECT=<regex>: the compile must fail with output
#               matching EXPECT.
cmake_minimum_required(VERSION 3.25)
string(REPLACE "|" ";" INCLUDES "${INCLUDES}")
string(REPLACE "|" ";" LINK "${LINK}")
foreach(_var COMPILER LANG STD WORK MODE)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "compile_check: ${_var} is required")
  endif()
endforeach()
file(MAKE_DIRECTORY "${WORK}")

set(_flags -x ${LANG} -std=${STD} -Wall -Wextra -Wpedantic -Wshadow -Werror)
if(LANG STREQUAL "c")
  list(APPEND _flags -Wstrict-prototypes -Wmissing-prototypes)
endif()
foreach(_dir IN LISTS INCLUDES)
  list(APPEND _flags "-I${_dir}")
endforeach()

function(compile out_var)
  execute_process(COMMAND "${COMPILER}" ${_flags} ${ARGN}
                  RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
  set(${out_var}_rc "${_rc}" PARENT_SCOPE)
  set(${out_var}_out "${_out}" PARENT_SCOPE)
endfunction()

if(MODE STREQUAL "headers")
  file(GLOB _headers RELATIVE "${HEADER_DIR}" "${HEADER_DIR}/zheap/*.h")
  if(LANG STREQUAL "c++")
    file(GLOB _hpp RELATIVE "${HEADER_DIR}" "${HEADER_DIR}/zheap/*.hpp")
    list(APPEND _headers ${_hpp})
  endif()
  list(APPEND _headers zheap/config.h)  # generated into the build tree
  list(REMOVE_DUPLICATES _headers)
  set(_failed "")
  foreach(_h IN LISTS _headers)
    string(MAKE_C_IDENTIFIER "${_h}" _id)
    set(_tu "${WORK}/${_id}.${LANG}")
    file(WRITE "${_tu}" "#include <${_h}>\n#include <${_h}> /* twice: include guard */\n"
                        "typedef int zh_header_check_${_id};\n")
    compile(_c -fsyntax-only "${_tu}")
    if(_c_rc EQUAL 0)
      message(STATUS "ok   ${_h} as ${STD}")
    else()
      message(STATUS "FAIL ${_h} as ${STD}:\n${_c_out}")
      list(APPEND _failed ${_h})
    endif()
  endforeach()
  if(_failed)
    message(FATAL_ERROR "headers that do not compile alone as ${STD} with ${COMPILER}: ${_failed}")
  endif()
elseif(MODE STREQUAL "run")
  get_filename_component(_name "${SOURCE}" NAME_WE)
  set(_exe "${WORK}/${_name}")
  if(RUN)
    compile(_c "${SOURCE}" -o "${_exe}" -x none ${LINK})
  else()
    compile(_c -c "${SOURCE}" -o "${_exe}.o")
  endif()
  if(NOT _c_rc EQUAL 0)
    message(FATAL_ERROR "${SOURCE} as ${STD} with ${COMPILER}:\n${_c_out}")
  endif()
  if(NOT RUN)
    message(STATUS "compiled ${SOURCE} as ${STD} (not linked: sanitized libzheap)")
    return()
  endif()
  execute_process(COMMAND "${_exe}" RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
  message(STATUS "${_out}")
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "${_exe} (${STD}, ${COMPILER}) exited with ${_rc}")
  endif()
elseif(MODE STREQUAL "fail")
  compile(_c -fsyntax-only "${SOURCE}")
  if(_c_rc EQUAL 0)
    message(FATAL_ERROR "${SOURCE} compiled as ${STD}, but must not")
  endif()
  if(NOT _c_out MATCHES "${EXPECT}")
    message(FATAL_ERROR "${SOURCE} failed as ${STD} without \"${EXPECT}\":\n${_c_out}")
  endif()
  message(STATUS "rejected as expected: ${EXPECT}")
else()
  message(FATAL_ERROR "compile_check: unknown MODE ${MODE}")
endif()
