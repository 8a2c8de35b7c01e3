# ZheapPackage.cmake - CPack: Debian packages made of the two install components.
#
#   cmake -B build/deb -DCMAKE_INSTALL_PREFIX=/usr -DZHEAP_BUILD_TESTS=OFF ...
#   cmake --build build/deb && (cd build/deb && cpack -G DEB)
#
# gives libzheap<MAJOR>_<version>_<arch>.deb (component zheap_runtime: the shared
# library) and libzheap-dev_<version>_<arch>.deb (zheap_development: headers, static
# library, libzheap.so link, CMake package, .pc files; depends on the exact runtime).
# Configuring with the /usr prefix puts the libraries in Debian's multiarch directory
# (lib/<triplet>); .ci/package-deb.sh builds, checks and installs them.

set(CPACK_PACKAGE_NAME libzheap)
set(CPACK_PACKAGE_VENDOR libzheap)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_CONTACT "libzheap developers <${PROJECT_HOMEPAGE_URL}>")
set(CPACK_RESOURCE_FILE_LICENSE "${PROJECT_SOURCE_DIR}/LICENSE")

set(ZHEAP_DEB_RUNTIME "libzheap${PROJECT_VERSION_MAJOR}")
set(CPACK_DEB_COMPONENT_INSTALL ON)
if(ZHEAP_BUILD_SHARED)
  set(CPACK_COMPONENTS_ALL zheap_runtime zheap_development)
  set(CPACK_DEBIAN_ZHEAP_DEVELOPMENT_PACKAGE_DEPENDS "${ZHEAP_DEB_RUNTIME} (= ${PROJECT_VERSION})")
else()   # static only: no runtime package
  set(CPACK_COMPONENTS_ALL zheap_development)
endif()
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${PROJECT_HOMEPAGE_URL}")

set(CPACK_DEBIAN_ZHEAP_RUNTIME_PACKAGE_NAME "${ZHEAP_DEB_RUNTIME}")
set(CPACK_DEBIAN_ZHEAP_RUNTIME_PACKAGE_SECTION libs)
# Each package's synopsis is CPACK_PACKAGE_DESCRIPTION_SUMMARY; these follow it.
string(CONCAT CPACK_COMPONENT_ZHEAP_RUNTIME_DESCRIPTION
    "The shared library libzheap.so.${PROJECT_VERSION_MAJOR}: every allocator behind the one\n"
    "zh_allocator vtable, and the conformance suite that checks any allocator\n"
    "against Zig's contract.")
# A shlibs file and ldconfig in postinst/postrm; Depends from dpkg-shlibdeps (dpkg-dev).
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
find_program(ZHEAP_DPKG_SHLIBDEPS dpkg-shlibdeps)
mark_as_advanced(ZHEAP_DPKG_SHLIBDEPS)
if(ZHEAP_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_ZHEAP_RUNTIME_PACKAGE_SHLIBDEPS ON)
endif()

set(CPACK_DEBIAN_ZHEAP_DEVELOPMENT_PACKAGE_NAME libzheap-dev)
set(CPACK_DEBIAN_ZHEAP_DEVELOPMENT_PACKAGE_SECTION libdevel)
string(CONCAT CPACK_COMPONENT_ZHEAP_DEVELOPMENT_DESCRIPTION
    "The development files: headers, the static library, the CMake package\n"
    "(find_package(zheap)) and the pkg-config files zheap.pc and zheap-static.pc.")

include(CPack)
