# ZheapInstall.cmake - install rules: headers, libraries, the CMake package
# (zheapConfig.cmake, version file, export set under lib/cmake/zheap), zheap.pc and
# zheap-static.pc. Included when ZHEAP_INSTALL is ON (the default at top level only).
#
# After install, find_package(zheap CONFIG) provides the same target names as the
# build tree: zheap::zheap (as chosen at build time), zheap::zheap_shared,
# zheap::zheap_static.
#
# Two install components, which are also the two Debian packages (ZheapPackage.cmake):
#   zheap_runtime      the shared library (libzheap.so.MAJOR and the file it names),
#                      the LD_PRELOAD library libzheap-malloc.so where it is built,
#                      the license
#   zheap_development  headers, the static library, the libzheap.so link, the CMake
#                      package and the .pc files

include(CMakePackageConfigHelpers)
set(ZHEAP_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/zheap")

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/zheap"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" COMPONENT zheap_development
        FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp")
install(FILES "${PROJECT_BINARY_DIR}/include/zheap/config.h"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/zheap" COMPONENT zheap_development)

install(TARGETS ${ZHEAP_EXPORTED_TARGETS} EXPORT zheapTargets
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT zheap_runtime
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT zheap_runtime
          NAMELINK_COMPONENT zheap_development
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT zheap_development)
install(FILES "${PROJECT_SOURCE_DIR}/LICENSE" DESTINATION "${CMAKE_INSTALL_DOCDIR}"
        COMPONENT zheap_runtime)

install(EXPORT zheapTargets NAMESPACE zheap:: DESTINATION "${ZHEAP_CMAKE_DIR}"
        COMPONENT zheap_development)

# The static library needs Threads from its consumers on POSIX.
if(ZHEAP_BUILD_STATIC AND ZHEAP_HAVE_THREADS AND NOT WIN32)
  set(ZHEAP_CONFIG_NEEDS_THREADS ON)
else()
  set(ZHEAP_CONFIG_NEEDS_THREADS OFF)
endif()
configure_package_config_file(cmake/zheapConfig.cmake.in
  "${PROJECT_BINARY_DIR}/zheapConfig.cmake" INSTALL_DESTINATION "${ZHEAP_CMAKE_DIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/zheapConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)  # 0.x: minors may break
install(FILES "${PROJECT_BINARY_DIR}/zheapConfig.cmake"
              "${PROJECT_BINARY_DIR}/zheapConfigVersion.cmake"
        DESTINATION "${ZHEAP_CMAKE_DIR}" COMPONENT zheap_development)

# pkg-config. zheap.pc links the shared library when there is one, even with
# `pkg-config --static` (which only adds Libs.private): pkg-config cannot choose an
# archive. zheap-static.pc names the archive itself, so a program links no libzheap.so.
if(ZHEAP_HAVE_THREADS AND NOT WIN32)
  set(ZHEAP_PC_LIBS_PRIVATE "-pthread")
else()
  set(ZHEAP_PC_LIBS_PRIVATE "")
endif()
string(APPEND ZHEAP_PC_LIBS_PRIVATE "${ZHEAP_BACKTRACE_PC_LIBS}")  # stack traces
if(ZHEAP_BUILD_SHARED AND WIN32)
  set(ZHEAP_PC_CFLAGS_EXTRA "-DZH_USING_SHARED")
else()
  set(ZHEAP_PC_CFLAGS_EXTRA "")
endif()
# Relocatable: the prefix is found relative to the .pc file, so `cmake --install
# --prefix DIR` and moved installations work.
file(RELATIVE_PATH ZHEAP_PC_PREFIX_FROM_PCDIR "/zh/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/zh")
string(REGEX REPLACE "/$" "" ZHEAP_PC_PREFIX_FROM_PCDIR "${ZHEAP_PC_PREFIX_FROM_PCDIR}")
set(ZHEAP_PC_FILES zheap)
if(ZHEAP_BUILD_STATIC)
  get_target_property(_zh_static_name zheap_static OUTPUT_NAME)
  set(ZHEAP_PC_STATIC_ARCHIVE
      "${CMAKE_STATIC_LIBRARY_PREFIX}${_zh_static_name}${CMAKE_STATIC_LIBRARY_SUFFIX}")
  list(APPEND ZHEAP_PC_FILES zheap-static)
endif()
foreach(_zh_pc IN LISTS ZHEAP_PC_FILES)
  configure_file(cmake/${_zh_pc}.pc.in "${PROJECT_BINARY_DIR}/${_zh_pc}.pc" @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/${_zh_pc}.pc"
          DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig" COMPONENT zheap_development)
endforeach()
