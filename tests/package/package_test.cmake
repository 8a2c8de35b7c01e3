# package_test.cmake - cmake -DMODE=find_package|pkg_config|add_subdirectory
#   -DBUILD_DIR=<zheap build> -DSOURCE_DIR=<zheap source> -DWORK_DIR=<scratch>
#   -DC_COMPILER=<cc> -DCONFIG=<build type> -P this
# Installs the build into WORK_DIR/prefix (find_package, pkg_config), builds a consumer
# program the way a user would, and runs it.

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "failed (${rc}): ${cmd}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()

if(NOT CONFIG)
  set(CONFIG Debug)
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")

if(MODE STREQUAL "find_package" OR MODE STREQUAL "pkg_config")
  run("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}" --config "${CONFIG}")
endif()

if(MODE STREQUAL "find_package")
  run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}/tests/package/consumer" -B "${WORK_DIR}/build"
      -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_C_COMPILER=${C_COMPILER}
      -DCMAKE_BUILD_TYPE=${CONFIG})
  run("${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
  run("${WORK_DIR}/build/consumer")          # shared: found through the install RPATH
  run("${WORK_DIR}/build/consumer_static")
elseif(MODE STREQUAL "pkg_config")
  find_program(PKG_CONFIG NAMES pkg-config pkgconf REQUIRED)
  file(GLOB_RECURSE pcfile "${prefix}/*/zheap.pc")
  get_filename_component(pcdir "${pcfile}" DIRECTORY)
  set(ENV{PKG_CONFIG_PATH} "${pcdir}")
  execute_process(COMMAND "${PKG_CONFIG}" --cflags --libs zheap
                  OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config cannot find zheap in ${pcdir}")
  endif()
  separate_arguments(flags UNIX_COMMAND "${flags}")
  file(MAKE_DIRECTORY "${WORK_DIR}/build")
  run("${C_COMPILER}" -std=c11 -Wall -Wextra -Wpedantic -Werror
      "${SOURCE_DIR}/tests/package/consumer/main.c" ${flags} -o "${WORK_DIR}/build/consumer")
  string(REGEX MATCH "-L[^ ;]+" libflag "${flags}")
  string(SUBSTRING "${libflag}" 2 -1 libdir)
  set(ENV{LD_LIBRARY_PATH} "${libdir}")
  run("${WORK_DIR}/build/consumer")
elseif(MODE STREQUAL "add_subdirectory")
  run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}/tests/package/subdir" -B "${WORK_DIR}/build"
      -DZHEAP_SOURCE_DIR=${SOURCE_DIR} -DCMAKE_C_COMPILER=${C_COMPILER}
      -DCMAKE_BUILD_TYPE=${CONFIG})
  run("${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
  run("${WORK_DIR}/build/consumer")
else()
  message(FATAL_ERROR "unknown MODE '${MODE}'")
endif()
