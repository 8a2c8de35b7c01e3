# Packaging checks registered with CTest (label: package). Native ELF builds only.
#   exports        the shared library exports only zh_ symbols (nm -D)
#   soname         the shared library has SONAME libzheap.so.<major>
#   find_package   install into a temporary prefix, build and run find_package consumers
#                  (zheap::zheap needs libzheap.so, zheap::zheap_static does not)
#   pkg_config     the same install, consumers built with zheap.pc and zheap-static.pc
#                  (the latter needs no libzheap.so)
#   add_subdirectory  a parent that embeds the source tree: static by default, zheap's
#                  install rules off, no zheap flags (warnings, -Werror, sanitizers) on
#                  the parent's targets
#   fetchcontent   the same through FetchContent with BUILD_SHARED_LIBS=ON: shared
# Sanitized builds skip the consumer builds: an uninstrumented program cannot load an
# ASan-instrumented libzheap (and the embedding tests build zheap themselves, so the
# unsanitized configurations cover them).

set(_pkg_dir "${CMAKE_CURRENT_SOURCE_DIR}/package")
set(_work "${CMAKE_CURRENT_BINARY_DIR}/package-work")

if(ZHEAP_BUILD_SHARED AND NOT WIN32 AND NOT APPLE)
  add_test(NAME exports COMMAND "${CMAKE_COMMAND}"
    -DLIB=$<TARGET_FILE:zheap_shared> -DNM=${CMAKE_NM}
    -DREADELF=${CMAKE_READELF} -DMAJOR=${PROJECT_VERSION_MAJOR}
    -P "${_pkg_dir}/check_exports.cmake")
  set_tests_properties(exports PROPERTIES LABELS "package")
endif()

if(ZHEAP_SANITIZE OR NOT CMAKE_READELF)
  return()
endif()
set(_modes add_subdirectory fetchcontent)
if(ZHEAP_INSTALL AND ZHEAP_BUILD_SHARED AND ZHEAP_BUILD_STATIC)
  list(APPEND _modes find_package pkg_config)
endif()
foreach(_mode IN LISTS _modes)
  add_test(NAME ${_mode} COMMAND "${CMAKE_COMMAND}"
    -DMODE=${_mode} -DBUILD_DIR=${PROJECT_BINARY_DIR} -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
    -DWORK_DIR=${_work}/${_mode} -DC_COMPILER=${CMAKE_C_COMPILER}
    -DCONFIG=$<CONFIG> -DREADELF=${CMAKE_READELF} -DMAJOR=${PROJECT_VERSION_MAJOR}
    -P "${_pkg_dir}/package_test.cmake")
  # They share nothing but the source tree; one at a time keeps 2-core machines responsive.
  set_tests_properties(${_mode} PROPERTIES LABELS "package" TIMEOUT 600 RUN_SERIAL ON)
endforeach()
