# check_exports.cmake -DNM=nm -DLIB=libzheap-malloc.so: the library's dynamic symbol
# table defines exactly the C allocation surface.
set(expected __libc_calloc __libc_free __libc_malloc __libc_memalign __libc_pvalloc
    __libc_realloc __libc_valloc __posix_memalign aligned_alloc calloc cfree free
    free_aligned_sized free_sized malloc malloc_usable_size memalign posix_memalign pvalloc
    realloc reallocarray valloc)
execute_process(COMMAND "${NM}" -D --defined-only "${LIB}" OUTPUT_VARIABLE out
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nm failed on ${LIB}")
endif()
string(REGEX MATCHALL "[^\n]+" lines "${out}")
set(found)
foreach(line IN LISTS lines)
  string(REGEX REPLACE "^[0-9a-fA-F]* *[A-Za-z] " "" name "${line}")
  string(REGEX REPLACE "@.*" "" name "${name}")
  list(APPEND found "${name}")
endforeach()
list(SORT found)
list(REMOVE_DUPLICATES found)
list(SORT expected)
if(NOT found STREQUAL expected)
  message(FATAL_ERROR "exported: ${found}\nexpected: ${expected}")
endif()
list(LENGTH found n)
message(STATUS "libzheap-malloc.so exports exactly the ${n} C allocation names")
