/* track.h - tell memory checkers which bytes an allocator hands out.
 *
 * Allocators that carve blocks out of memory they already own (arena, pool, fixed
 * buffer, stack fallback, sbrk, wasm) are invisible to valgrind's memcheck and to
 * AddressSanitizer: to them a whole arena buffer is one live block, so a use after
 * a reset, a write past the end of a bump block or a leaked pool item goes
 * unreported. These hooks describe the carving to the checker:
 *
 * - built with ZHEAP_VALGRIND=ON (ZH__CONFIG_VALGRIND): valgrind client requests.
 *   A group of blocks that dies together (an arena, a pool) is a memcheck mempool,
 *   so a reset frees them all at once and a block never given back is reported as
 *   a leak with the stack of its allocation;
 * - compiled with AddressSanitizer (detected here, at compile time): manual
 *   poisoning, so freed and unused memory is unaddressable;
 * - otherwise every hook is an empty inline function.
 *
 * The hooks only describe; they never change what an allocator does, and cost
 * nothing in a build without a checker. Valgrind takes precedence when both are
 * configured (ASan and valgrind do not run together). In the spirit of mimalloc's
 * track.h; no code shared with it. */
#ifndef ZHEAP_CORE_TRACK_H
#define ZHEAP_CORE_TRACK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "zheap/config.h" /* ZH__CONFIG_VALGRIND */

#if ZH__CONFIG_VALGRIND
#define ZH__TRACK_VALGRIND 1
#elif defined(__SANITIZE_ADDRESS__)
#define ZH__TRACK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ZH__TRACK_ASAN 1
#endif
#endif

#if defined(ZH__TRACK_VALGRIND)
#include <valgrind/memcheck.h>
#elif defined(ZH__TRACK_ASAN)
#include <sanitizer/asan_interface.h>
#endif

/* True in builds where the hooks do something (tests use it to skip). */
#if defined(ZH__TRACK_VALGRIND) || defined(ZH__TRACK_ASAN)
#define ZH__TRACK_ENABLED 1
#else
#define ZH__TRACK_ENABLED 0
#endif

/* Used by: arena, fba, pool, stack fallback, size_classes.c (sbrk, wasm) and the
 * SMP allocator (one mempool for the process-wide singleton; a block's requested
 * length is tracked and its slot's slack is unaddressable until a usable-size query
 * widens it, see zh__track_group_widen). */

/* ---- raw memory states (bytes the allocator owns) -------------------------------- */

/* [p, p + len) is the allocator's but nobody may touch it (unused, freed). */
static inline void zh__track_mem_noaccess(void *p, size_t len) {
#if defined(ZH__TRACK_VALGRIND)
    (void)VALGRIND_MAKE_MEM_NOACCESS(p, len);
#elif defined(ZH__TRACK_ASAN)
    ASAN_POISON_MEMORY_REGION(p, len);
#else
    (void)p, (void)len;
#endif
}

/* [p, p + len) may be used, contents undefined (the allocator's own links, or a
 * region about to be handed out again). */
static inline void zh__track_mem_undefined(void *p, size_t len) {
#if defined(ZH__TRACK_VALGRIND)
    (void)VALGRIND_MAKE_MEM_UNDEFINED(p, len);
#elif defined(ZH__TRACK_ASAN)
    ASAN_UNPOISON_MEMORY_REGION(p, len);
#else
    (void)p, (void)len;
#endif
}

/* [p, p + len) may be used and holds defined bytes (e.g. a free-list link the
 * allocator wrote and is about to read back). */
static inline void zh__track_mem_defined(void *p, size_t len) {
#if defined(ZH__TRACK_VALGRIND)
    (void)VALGRIND_MAKE_MEM_DEFINED(p, len);
#elif defined(ZH__TRACK_ASAN)
    ASAN_UNPOISON_MEMORY_REGION(p, len);
#else
    (void)p, (void)len;
#endif
}

/* Whether the checker may be told about a caller's buffer at p (the fixed buffer).
 * Poison outlives the caller's use of its buffer: ASan keeps it on a stack frame
 * or a static array after the function returns, and a later, unrelated use of
 * those bytes would be reported. So under ASan only heap buffers (whose free()
 * resets their state) are described. Memcheck resets stack memory as frames come
 * and go itself, so there every buffer is. */
static inline int zh__track_buffer_ok(void *p) {
#if defined(ZH__TRACK_VALGRIND)
    (void)p;
    return 1;
#elif defined(ZH__TRACK_ASAN)
    char name[1];
    void *region = NULL;
    size_t size = 0;
    const char *kind = __asan_locate_address(p, name, sizeof name, &region, &size);
    /* "heap", and p inside the chunk it names (a wild pointer is no buffer) */
    return kind != NULL && strcmp(kind, "heap") == 0 && region != NULL &&
           (uintptr_t)p >= (uintptr_t)region && (uintptr_t)p - (uintptr_t)region < size;
#else
    (void)p;
    return 0;
#endif
}

/* Whether memory an allocator obtained at p and never gives back (a break, pages)
 * may be described. Under ASan, as for a buffer, not a static array or a stack
 * frame, which the language reuses without telling ASan; memory from a break or a
 * mapping ("heap-invalid" to ASan) and heap chunks are fine. */
static inline int zh__track_region_ok(void *p) {
#if defined(ZH__TRACK_ASAN)
    char name[1];
    void *region = NULL;
    size_t size = 0;
    const char *kind = __asan_locate_address(p, name, sizeof name, &region, &size);
    return kind == NULL || (strcmp(kind, "global") != 0 && strcmp(kind, "stack") != 0);
#else
    (void)p;
    return ZH__TRACK_ENABLED;
#endif
}

/* Whether the allocator may read the n bytes at p without the checker objecting:
 * they are addressable (ASan, memcheck) and defined (memcheck). For probes that
 * read memory which may or may not be the allocator's own (the debug allocator's
 * would-be bucket headers): bytes the checker would object to are not what the
 * probe looks for. Always true without a checker, or natively in a valgrind build.
 * Asks without reporting and without changing the bytes' state. */
static inline int zh__track_readable(const void *p, size_t n) {
#if defined(ZH__TRACK_VALGRIND)
    unsigned char vbits[64];
    const unsigned char *b = p;
    while (n > 0) {
        size_t k = n < sizeof vbits ? n : sizeof vbits;
        unsigned ret = (unsigned)VALGRIND_GET_VBITS(b, vbits, k);
        if (ret == 0) return 1; /* not running on valgrind */
        if (ret != 1) return 0; /* unaddressable */
        for (size_t i = 0; i < k; i++)
            if (vbits[i] != 0) return 0; /* undefined bits */
        b += k, n -= k;
    }
    return 1;
#elif defined(ZH__TRACK_ASAN)
    return __asan_region_is_poisoned((void *)(uintptr_t)p, n) == NULL;
#else
    (void)p, (void)n;
    return 1;
#endif
}

/* ---- single blocks (no group): fixed buffer ----------------------------------------- */

/* A block of len bytes at p is handed out. */
static inline void zh__track_alloc(void *p, size_t len) { zh__track_mem_undefined(p, len); }

/* The block is given back: no access until it is handed out again. */
static inline void zh__track_free(void *p, size_t len) { zh__track_mem_noaccess(p, len); }

/* A live block changes length in place: its tail becomes usable or unusable. */
static inline void zh__track_resize(void *p, size_t old_len, size_t new_len) {
    unsigned char *b = p;
    if (new_len > old_len) zh__track_mem_undefined(b + old_len, new_len - old_len);
    else if (old_len > new_len) zh__track_mem_noaccess(b + new_len, old_len - new_len);
}

/* ---- groups of blocks that die together: arena, pool ------------------------------- *
 * `group` is any stable address identifying the group (the arena or pool struct).
 * Under valgrind a group is a mempool: its live blocks are reported as leaks when
 * nobody points to them at exit, and a reset or destroy frees them all. */

static inline void zh__track_group_create(const void *group) {
#if defined(ZH__TRACK_VALGRIND)
    /* A group that ended without a destroy (a struct gone out of scope) may have
     * left its anchor at this address. */
    if (VALGRIND_MEMPOOL_EXISTS(group)) VALGRIND_DESTROY_MEMPOOL(group);
    VALGRIND_CREATE_MEMPOOL(group, 0, 0);
#else
    (void)group;
#endif
}

/* Every block of the group dies; the group stays usable (a reset). */
static inline void zh__track_group_reset(const void *group) {
#if defined(ZH__TRACK_VALGRIND)
    VALGRIND_MEMPOOL_TRIM(group, 0, 0);
#else
    (void)group;
#endif
}

/* Every block dies and the group is gone (deinit). */
static inline void zh__track_group_destroy(const void *group) {
#if defined(ZH__TRACK_VALGRIND)
    VALGRIND_DESTROY_MEMPOOL(group);
#else
    (void)group;
#endif
}

static inline void zh__track_group_alloc(const void *group, void *p, size_t len) {
#if defined(ZH__TRACK_VALGRIND)
    VALGRIND_MEMPOOL_ALLOC(group, p, len);
#else
    (void)group;
    zh__track_alloc(p, len);
#endif
}

static inline void zh__track_group_free(const void *group, void *p, size_t len) {
#if defined(ZH__TRACK_VALGRIND)
    VALGRIND_MEMPOOL_FREE(group, p);
    (void)len;
#else
    (void)group;
    zh__track_free(p, len);
#endif
}

/* A block of the group moved from old_p to new_p with new_len bytes (a remap):
 * only the group's record of it; the bytes' states are the caller's to set. */
static inline void zh__track_group_move(const void *group, void *old_p, void *new_p,
                                        size_t new_len) {
#if defined(ZH__TRACK_VALGRIND)
    VALGRIND_MEMPOOL_CHANGE(group, old_p, new_p, new_len);
#else
    (void)group, (void)old_p, (void)new_p, (void)new_len;
#endif
}

static inline void zh__track_group_resize(const void *group, void *p, size_t old_len,
                                          size_t new_len) {
#if defined(ZH__TRACK_VALGRIND)
    VALGRIND_MEMPOOL_CHANGE(group, p, p, new_len); /* the chunk's extent, not its bytes' */
#else
    (void)group;
#endif
    zh__track_resize(p, old_len, new_len);
}

/* A live block of the group may be used up to len bytes from p, whatever its
 * tracked length was: a usable-size query (zh_smp_usable_size, the contract of
 * malloc_usable_size), where the allocator does not know the requested length and
 * the caller may now use the whole slot. Memcheck cannot open only the unknown tail
 * without losing what the head's bytes hold, so the whole extent becomes defined:
 * from then on a read of that block's uninitialised bytes goes unreported (a missed
 * report, never a false one). */
static inline void zh__track_group_widen(const void *group, void *p, size_t len) {
#if defined(ZH__TRACK_VALGRIND)
    VALGRIND_MEMPOOL_CHANGE(group, p, p, len);
    zh__track_mem_defined(p, len);
#elif defined(ZH__TRACK_ASAN)
    /* The closed part of a live block is a suffix: nothing to do when its last byte
     * is open (a repeated query then costs one shadow load, not a shadow fill). */
    (void)group;
    if (len != 0 && __asan_address_is_poisoned((char *)p + len - 1))
        ASAN_UNPOISON_MEMORY_REGION(p, len);
#else
    (void)group, (void)p, (void)len;
#endif
}

#endif /* ZHEAP_CORE_TRACK_H */
