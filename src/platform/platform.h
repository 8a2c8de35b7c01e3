/* platform.h - the operating-system contract of libzheap.
 *
 * Every allocator reaches the OS through these functions and nothing else; this is
 * the only directory that names an OS. Exactly one backend implements the contract
 * in a build, chosen at configure time with ZHEAP_PLATFORM:
 *
 *   mmap.c         POSIX mmap/munmap (+ mremap on Linux)
 *   virtualalloc.c Windows VirtualAlloc/VirtualFree, 64 KiB allocation granularity
 *   sbrk.c         a process-wide SbrkAllocator over sbrk(2); memory never returns
 *   wasm.c         wasm32 memory.grow with 64 KiB pages; memory never returns
 *
 * What a backend cannot do it says in zh__os_info().caps, and callers adapt (for
 * example the page allocator only shrinks in place when ZH__OS_CAN_SHRINK is set).
 *
 * Conventions: lengths and addresses given to map/unmap/shrink/grow/remap are
 * multiples of zh__os_info()->page_size (the caller rounds up). No function here
 * allocates from the C heap or takes a lock that the C heap takes, so all are safe
 * to call while holding a zheap lock. All are thread-safe unless the backend lacks
 * ZH__OS_HAS_THREADS (then the whole library is single-threaded). */
#ifndef ZHEAP_PLATFORM_H
#define ZHEAP_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zheap/mutex.h"

/* ---- capabilities ------------------------------------------------------------- */

/* zh__os_unmap accepts any page-aligned sub-range of a mapping (POSIX munmap).
 * Without it (VirtualFree MEM_RELEASE) only whole mappings are unmapped. */
#define ZH__OS_CAN_UNMAP_PARTIAL (1u << 0)
/* zh__os_shrink gives the tail pages of a mapping back to the OS (POSIX: unmap
 * them; Windows: decommit them, the address range stays reserved). */
#define ZH__OS_CAN_SHRINK (1u << 1)
/* zh__os_grow can extend a mapping in place when the following pages are free. */
#define ZH__OS_CAN_GROW (1u << 2)
/* zh__os_remap can move a mapping without copying (Linux mremap). */
#define ZH__OS_CAN_REMAP (1u << 3)
/* zh__os_unmap returns memory to the OS. Without it (sbrk, memory.grow) unmapped
 * memory is only reused by later maps in this process. */
#define ZH__OS_CAN_RETURN_MEMORY (1u << 4)
/* zh__os_map honours the address hint. */
#define ZH__OS_HAS_ADDR_HINT (1u << 5)
/* The platform has threads; without it the mutex functions are no-ops. */
#define ZH__OS_HAS_THREADS (1u << 6)

typedef struct zh__os_info {
    /* The unit of mapping: 4 KiB on most systems, 64 KiB for wasm32. */
    size_t page_size;
    /* Every address zh__os_map returns is aligned to this without asking (the page
     * size on POSIX, 64 KiB on Windows). Asking for more costs over-reservation. */
    size_t granularity;
    /* ZH__OS_* flags above. */
    unsigned caps;
    /* Backend name for diagnostics: "mmap", "virtualalloc", "sbrk" or "wasm". */
    const char *name;
} zh__os_info;

/* The backend's description; computed once, cheap to call. */
const zh__os_info *zh__os_info_get(void);

/* ---- address space -------------------------------------------------------------- */

/* Maps `len` bytes of zero-filled, readable and writable memory whose address is a
 * multiple of `alignment` (a power of two; any value, also above the granularity).
 * `hint` is where the caller would like it (NULL: anywhere); it may be ignored.
 * Returns NULL when the OS refuses. */
void *zh__os_map(size_t len, size_t alignment, void *hint);

/* Unmaps [p, p + len). Without ZH__OS_CAN_UNMAP_PARTIAL, `p` must be an address
 * zh__os_map returned and the whole mapping goes, whatever `len` says. */
void zh__os_unmap(void *p, size_t len);

/* Shrinks the mapping [p, p + old_len) to [p, p + new_len) in place, giving the
 * tail back. False, with nothing changed, when the backend cannot. */
bool zh__os_shrink(void *p, size_t old_len, size_t new_len);

/* Grows the mapping [p, p + old_len) to [p, p + new_len) in place. False, with
 * nothing changed, when the pages after it are taken or the backend cannot. */
bool zh__os_grow(void *p, size_t old_len, size_t new_len);

/* Moves or resizes the mapping without copying, returning its new address, or
 * NULL (nothing changed) when the backend cannot. */
void *zh__os_remap(void *p, size_t old_len, size_t new_len);

/* ---- locks -----------------------------------------------------------------------
 * A plain non-recursive mutex in caller-provided storage. Must not be copied once
 * initialised. Locking never allocates. */
void zh__mutex_init(zh_mutex *m);
void zh__mutex_lock(zh_mutex *m);
void zh__mutex_unlock(zh_mutex *m);
void zh__mutex_destroy(zh_mutex *m);

/* Gives the processor to another thread (used by spin-then-yield loops). */
void zh__os_yield(void);

/* ---- C library facts --------------------------------------------------------------- */

/* The usable size of a block from the C library's malloc/realloc (at least what was
 * asked), or 0 when the C library cannot tell (then callers assume exactly the
 * requested size). Used by zh_c_allocator for in-place growth. */
size_t zh__os_malloc_usable_size(void *p);

/* ---- backend-specific primitives ------------------------------------------------
 * Declared for every build, defined only by the backends that have them; code that
 * calls them is itself compiled only with that backend (see CMakeLists.txt). */

/* sbrk(2) of this process: the old break, or (void *)-1. (sbrk backend, and POSIX
 * backends where the system has sbrk, for tests of the sbrk allocator.) */
void *zh__os_sbrk(intptr_t increment);

/* wasm32 memory.grow on memory 0: the previous size in 64 KiB pages, or SIZE_MAX
 * when the engine refuses (memory.grow returned -1). (wasm backend only.) */
size_t zh__os_memory_grow(size_t pages);

#endif /* ZHEAP_PLATFORM_H */
