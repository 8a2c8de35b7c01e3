# ZheapBenchPeers.cmake - the optional peers the benchmarks can compare against, found
# once for bench/ and for the configure summary. None is required: a bench built
# without one leaves it out, and the summary says which are missing.
#
# Output, for each peer in ZHEAP_BENCH_PEERS:
#   ZHEAP_PEER_<PEER>  (upper case) what to use: an imported target for the libraries,
#                      the program for valgrind; empty when not found
#   ZHEAP_BENCH_PEERS_FOUND, ZHEAP_BENCH_PEERS_MISSING   the names, for the summary
#
# Debian 12 packages: libtalloc-dev, libjemalloc-dev, libmimalloc-dev,
# libgoogle-perftools-dev (tcmalloc), valgrind (all in .ci/install-deps.sh).

set(ZHEAP_BENCH_PEERS talloc jemalloc mimalloc tcmalloc valgrind)

find_package(PkgConfig QUIET)
# <peer> found through pkg-config module <module>: the target PkgConfig::ZHEAP_PEER_<PEER>.
macro(_zheap_pkg_config_peer peer module)
  string(TOUPPER "${peer}" _zh_peer)
  set(ZHEAP_PEER_${_zh_peer} "")
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(ZHEAP_PEER_PC_${_zh_peer} QUIET IMPORTED_TARGET ${module})
    if(ZHEAP_PEER_PC_${_zh_peer}_FOUND)
      set(ZHEAP_PEER_${_zh_peer} PkgConfig::ZHEAP_PEER_PC_${_zh_peer})
    endif()
  endif()
endmacro()

_zheap_pkg_config_peer(talloc talloc)
_zheap_pkg_config_peer(jemalloc jemalloc)
_zheap_pkg_config_peer(tcmalloc libtcmalloc)

# mimalloc installs a CMake package (Debian's has no .pc file).
set(ZHEAP_PEER_MIMALLOC "")
find_package(mimalloc CONFIG QUIET)
if(TARGET mimalloc)
  set(ZHEAP_PEER_MIMALLOC mimalloc)
endif()

# Not ZHEAP_VALGRIND: that is the memcheck-hooks option, and a find_program()
# cache entry of the same name turned the hooks on in every build with bench.
find_program(ZHEAP_VALGRIND_PROGRAM valgrind)
mark_as_advanced(ZHEAP_VALGRIND_PROGRAM)
set(ZHEAP_PEER_VALGRIND "")
if(ZHEAP_VALGRIND_PROGRAM)
  set(ZHEAP_PEER_VALGRIND "${ZHEAP_VALGRIND_PROGRAM}")
endif()

set(ZHEAP_BENCH_PEERS_FOUND "")
set(ZHEAP_BENCH_PEERS_MISSING "")
foreach(_zh_peer_name IN LISTS ZHEAP_BENCH_PEERS)
  string(TOUPPER "${_zh_peer_name}" _zh_peer)
  if(ZHEAP_PEER_${_zh_peer})
    list(APPEND ZHEAP_BENCH_PEERS_FOUND ${_zh_peer_name})
  else()
    list(APPEND ZHEAP_BENCH_PEERS_MISSING ${_zh_peer_name})
  endif()
endforeach()
