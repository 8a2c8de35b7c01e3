# Packaging checks registered with CTest (label: package). Native builds only.
#   exports        the shared library exports only zh_ symbols (nm -D)
#   soname         the shared library has SONAME libzheap.so.<major>
#   find_package   install into a temporary prefix, build and run a find_package consumer
#   pkg_config     the same install, a consumer compiled with pkg-config flags
#   add_subdirectory  a consumer that embeds the source tree
# Sanitized builds skip the consumer builds: an uninstrumented program cannot load an
# ASan-instrumented libzheap.

set(_pkg_dir "${CMAKE_CURRENT_SOURCE_DIR}/package")
set(_work "${CMAKE_CURRENT_BINARY_DIR}/package-work")

if(ZHEAP_BUILD_SHARED AND NOT WIN32 AND NOT APPLE)
  add_test(NAME exports COMMAND "${CMAKE_COMMAND}"
    -DLIB=$<TARGET_FILE:zheap_shared> -DNM=${CMAKE_NM}
    -DREADELF=${CMAKE_READELF} -DMAJOR=${PROJECT_VERSION_MAJOR}
    -P "${_pkg_dir}/check_exports.cmake")
  set_tests_properties(exports PROPERTIES LABELS "package")
endif()

if(NOT ZHEAP_SANITIZE AND ZHEAP_INSTALL)
  foreach(_mode find_package pkg_config add_subdirectory)
    add_test(NAME ${_mode} COMMAND "${CMAKE_COMMAND}"
      -DMODE=${_mode} -DBUILD_DIR=${PROJECT_BINARY_DIR} -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
      -DWORK_DIR=${_work}/${_mode} -DC_COMPILER=${CMAKE_C_COMPILER}
      -DCONFIG=$<CONFIG> -DBUILD_SHARED=${ZHEAP_BUILD_SHARED}
      -DBUILD_STATIC=${ZHEAP_BUILD_STATIC}
      -P "${_pkg_dir}/package_test.cmake")
    set_tests_properties(${_mode} PROPERTIES LABELS "package" TIMEOUT 600)
  endforeach()
  # The three share nothing but the source tree; running them one at a time keeps
  # 2-core machines responsive.
  set_tests_properties(find_package pkg_config add_subdirectory PROPERTIES RUN_SERIAL ON)
endif()
