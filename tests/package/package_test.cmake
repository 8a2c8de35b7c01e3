# package_test.cmake - cmake -DMODE=<mode> -DBUILD_DIR=<zheap build> -DSOURCE_DIR=<zheap
#   source> -DWORK_DIR=<scratch> -DC_COMPILER=<cc> -DCONFIG=<build type> -DREADELF=<readelf>
#   -DMAJOR=<soversion> -P this
# Builds a consumer program the way a user would, runs it, and checks how it linked:
#   find_package      install into WORK_DIR/prefix; zheap::zheap (shared) and
#                     zheap::zheap_static through find_package(zheap)
#   pkg_config        the same install; zheap.pc (shared) and zheap-static.pc (static:
#                     no libzheap.so NEEDED)
#   add_subdirectory  embedded in a parent with BUILD_SHARED_LIBS unset: static, no zheap
#                     install rules, none of zheap's flags on the parent's targets (also
#                     with ZHEAP_SANITIZE set, configure only)
#   fetchcontent      embedded through FetchContent with BUILD_SHARED_LIBS=ON: shared

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "failed (${rc}): ${cmd}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()

# expect_needed(<executable> YES|NO): whether it needs libzheap.so.MAJOR at run time.
function(expect_needed exe want)
  execute_process(COMMAND "${READELF}" -d "${exe}" OUTPUT_VARIABLE dyn RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "readelf -d ${exe} failed")
  endif()
  string(FIND "${dyn}" "[libzheap.so.${MAJOR}]" pos)
  if(want AND pos EQUAL -1)
    message(FATAL_ERROR "${exe} does not need libzheap.so.${MAJOR}:\n${dyn}")
  elseif(NOT want AND NOT pos EQUAL -1)
    message(FATAL_ERROR "${exe} needs libzheap.so.${MAJOR} but was linked statically:\n${dyn}")
  endif()
  if(dyn MATCHES "libzheap")
    message(STATUS "${exe}: NEEDED libzheap.so.${MAJOR}")
  else()
    message(STATUS "${exe}: no libzheap NEEDED")
  endif()
endfunction()

# expect_flags(<build dir> <file regex> <flag regex> YES|NO): whether every compile
# command of sources matching <file regex> (compile_commands.json) has the flag.
function(expect_flags build file_re flag_re want)
  file(READ "${build}/compile_commands.json" json)
  string(JSON n LENGTH "${json}")
  math(EXPR last "${n} - 1")
  set(seen 0)
  foreach(i RANGE ${last})
    string(JSON file GET "${json}" ${i} file)
    if(NOT file MATCHES "${file_re}")
      continue()
    endif()
    string(JSON command GET "${json}" ${i} command)
    math(EXPR seen "${seen} + 1")
    if(want AND NOT command MATCHES "${flag_re}")
      message(FATAL_ERROR "${file} compiled without ${flag_re}: ${command}")
    elseif(NOT want AND command MATCHES "${flag_re}")
      message(FATAL_ERROR "${file} compiled with ${flag_re} (leaked from zheap): ${command}")
    endif()
  endforeach()
  if(seen EQUAL 0)
    message(FATAL_ERROR "no compile command for ${file_re} in ${build}")
  endif()
endfunction()

# Flags that are zheap's business only (ZheapWarnings.cmake): warnings, -Werror, sanitizers.
set(zheap_only_flags " -(W[a-z]|Werror|fsanitize|fno-sanitize)")
set(parent_sources "/(consumer/main|subdir/loose)\\.c$")

# A parent project embedding zheap (tests/package/subdir): configure it into <build>.
# Empty CMAKE_C_FLAGS: any flag on the parent's sources then came from zheap (not from
# a CFLAGS in the environment).
function(configure_parent build)
  run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}/tests/package/subdir" -B "${build}"
      -DZHEAP_SOURCE_DIR=${SOURCE_DIR} -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_C_FLAGS=
      -DCMAKE_BUILD_TYPE=${CONFIG} -DCMAKE_EXPORT_COMPILE_COMMANDS=ON ${ARGN})
endfunction()

if(NOT CONFIG)
  set(CONFIG Release)
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
  expect_needed("${WORK_DIR}/build/consumer" YES)
  run("${WORK_DIR}/build/consumer_static")
  expect_needed("${WORK_DIR}/build/consumer_static" NO)
elseif(MODE STREQUAL "pkg_config")
  find_program(PKG_CONFIG NAMES pkg-config pkgconf REQUIRED)
  file(GLOB_RECURSE pcfile "${prefix}/*/zheap.pc")
  get_filename_component(pcdir "${pcfile}" DIRECTORY)
  set(ENV{PKG_CONFIG_PATH} "${pcdir}")
  file(MAKE_DIRECTORY "${WORK_DIR}/build")
  # <exe> built from main.c with `pkg-config --cflags --libs <module>`
  function(pkg_config_consumer module exe)
    execute_process(COMMAND "${PKG_CONFIG}" --cflags --libs ${module}
                    OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "pkg-config cannot find ${module} in ${pcdir}")
    endif()
    message(STATUS "pkg-config --cflags --libs ${module}: ${flags}")
    separate_arguments(flags UNIX_COMMAND "${flags}")
    run("${C_COMPILER}" -std=c11 -Wall -Wextra -Wpedantic -Werror
        "${SOURCE_DIR}/tests/package/consumer/main.c" ${flags} -o "${exe}")
  endfunction()
  pkg_config_consumer(zheap "${WORK_DIR}/build/consumer")
  expect_needed("${WORK_DIR}/build/consumer" YES)
  pkg_config_consumer(zheap-static "${WORK_DIR}/build/consumer_static")
  expect_needed("${WORK_DIR}/build/consumer_static" NO)
  run("${WORK_DIR}/build/consumer_static")
  execute_process(COMMAND "${PKG_CONFIG}" --variable=libdir zheap
                  OUTPUT_VARIABLE libdir OUTPUT_STRIP_TRAILING_WHITESPACE)
  set(ENV{LD_LIBRARY_PATH} "${libdir}")     # a non-system prefix, no rpath
  run("${WORK_DIR}/build/consumer")
elseif(MODE STREQUAL "add_subdirectory")
  # BUILD_SHARED_LIBS unset: the static library; the parent asks for -Werror in zheap.
  set(build "${WORK_DIR}/build")
  configure_parent("${build}" -DEXPECT_ZHEAP=zheap_static -DZHEAP_WERROR=ON)
  expect_flags("${build}" "/src/allocator\\.c$" " -Werror" YES)   # zheap got it
  expect_flags("${build}" "${parent_sources}" "${zheap_only_flags}" NO)
  run("${CMAKE_COMMAND}" --build "${build}")
  run("${build}/consumer")
  expect_needed("${build}/consumer" NO)
  # The parent's install holds the parent's program and nothing of zheap.
  run("${CMAKE_COMMAND}" --install "${build}" --prefix "${prefix}")
  file(GLOB_RECURSE installed RELATIVE "${prefix}" "${prefix}/*")
  if(NOT installed MATCHES "^bin/consumer(\\.exe)?$")
    message(FATAL_ERROR "the parent's install holds more than its program: ${installed}")
  endif()
  # Sanitizers for zheap stay on zheap's targets (configure only: an uninstrumented
  # program cannot link an instrumented static zheap without -fsanitize of its own).
  set(build "${WORK_DIR}/build-sanitize")
  configure_parent("${build}" -G "Unix Makefiles" -DBUILD_SHARED_LIBS=OFF
                   -DEXPECT_ZHEAP=zheap_static -DZHEAP_SANITIZE=address,undefined)
  expect_flags("${build}" "/src/allocator\\.c$" " -fsanitize=address,undefined" YES)
  expect_flags("${build}" "${parent_sources}" "${zheap_only_flags}" NO)
  file(READ "${build}/CMakeFiles/consumer.dir/link.txt" link)
  if(link MATCHES "-fsanitize")
    message(FATAL_ERROR "the parent's program links with zheap's sanitizers: ${link}")
  endif()
elseif(MODE STREQUAL "fetchcontent")
  set(build "${WORK_DIR}/build")
  configure_parent("${build}" -DEMBED=FetchContent -DBUILD_SHARED_LIBS=ON
                   -DEXPECT_ZHEAP=zheap_shared)
  expect_flags("${build}" "${parent_sources}" "${zheap_only_flags}" NO)
  run("${CMAKE_COMMAND}" --build "${build}")
  run("${build}/consumer")                  # libzheap.so through the build-tree RPATH
  expect_needed("${build}/consumer" YES)
else()
  message(FATAL_ERROR "unknown MODE '${MODE}'")
endif()
