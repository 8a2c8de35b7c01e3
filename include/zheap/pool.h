/* pool.h - a memory pool: fixed-size items created and destroyed in O(1).
 *
 * Zig's std.heap.MemoryPool, MemoryPoolAligned and MemoryPoolExtra in one type:
 * the item size and alignment are run-time options. Items come from an internal
 * arena (arena.h) over the backing allocator; a destroyed item goes onto an
 * intrusive free list (the item's own first bytes hold the link) and is handed
 * out again by the next create, last destroyed first (LIFO). Memory goes back to
 * the backing allocator only at zh_pool_reset or zh_pool_deinit.
 *
 * Item layout: every item is at least a pointer in size and pointer-aligned (to
 * hold the link), and its size is rounded up to a multiple of its alignment so
 * consecutive items stay aligned. zh_pool's item_size/item_align fields hold the
 * effective values.
 *
 * Ownership: the zh_pool struct is caller-owned and must outlive its items; the
 * backing allocator must outlive the pool. Items belong to the pool; a caller
 * borrows one from create to destroy (or to reset/deinit, which invalidate all).
 *
 * Thread safety: none. One thread at a time; guard a shared pool with a mutex.
 *
 * Failure: create and preheat report out-of-memory (NULL / false) and leave the
 * pool usable. Bad options abort with a message naming zh_pool_init. */
#ifndef ZHEAP_POOL_H
#define ZHEAP_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "zheap/allocator.h"
#include "zheap/arena.h"
#include "zheap/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zh_pool_options {
    /* public */
    /* Bytes per item. 0 is allowed (items are then pointer-sized). */
    size_t item_size;
    /* Alignment of every item in bytes, a power of two up to 2^ZH_ALIGN_LOG2_MAX;
     * 0 means ZH_MALLOC_ALIGNMENT. Raised to pointer alignment if lower. */
    size_t item_align;
    /* true: create takes new items from the backing allocator when the free list
     * is empty. false: only preheated items are handed out; create returns NULL
     * when they are all in use. */
    bool growable;
} zh_pool_options;

/* Options for a growable pool of objects of type T (Zig's MemoryPool(T)). */
#define ZH_POOL_OPTIONS(T) (ZH__LITERAL(zh_pool_options){sizeof(T), ZH__ALIGNOF(T), true})

/* Caller-owned pool state, visible for the inline fast paths (see "Public
 * structs" in docs/architecture.md). */
typedef struct zh_pool {
    /* read-only */
    size_t item_size;  /* effective size of every item */
    size_t item_align; /* effective alignment of every item */
    bool checked;      /* the library was built with ZHEAP_SAFETY: every call,
                          inline or not, takes the checked path */
    /* private */
    bool growable;
    void *free_list;   /* first free item; each free item starts with the next */
    size_t carved;     /* items taken from the arena since the last reset */
    zh_arena arena;    /* where items come from */
} zh_pool;

/* Starts an empty pool taking items from `backing` (not called until the first
 * create or preheat). Aborts, naming zh_pool_init, when item_align is not a power
 * of two or too large, or when the rounded item size overflows. */
ZH_EXTERN void zh_pool_init(zh_pool *pool, zh_allocator backing, zh_pool_options options);

/* Returns all memory to the backing allocator; every item becomes invalid. The
 * pool is left empty and may be used again (it keeps its options). */
ZH_EXTERN void zh_pool_deinit(zh_pool *pool);

/* Adds `count` new items to the free list (in one request to the arena), so that
 * `count` more creates succeed without calling the backing allocator. This is how
 * a non-growable pool gets its items. False on out-of-memory (nothing added). */
ZH_EXTERN bool zh_pool_preheat(zh_pool *pool, size_t count);

/* An item of item_size bytes aligned to item_align, contents undefined (0xaa
 * under ZHEAP_SAFETY), or NULL on out-of-memory or, for a non-growable pool, when
 * every preheated item is in use. O(1). */
ZH_EXTERN void *zh_pool_create(zh_pool *pool);

/* Gives an item from zh_pool_create of this pool back; it is the next one
 * create hands out. O(1). With ZHEAP_SAFETY on, NULL or a misaligned item aborts,
 * naming zh_pool_destroy, and the item is filled with 0xaa. */
ZH_EXTERN void zh_pool_destroy(zh_pool *pool, void *item);

/* Destroys every item at once and resets the internal arena with `mode`/`limit`
 * (see zh_arena_reset). A non-growable pool gets back, as free items, as many of
 * the items it had as the retained capacity holds. Returns false when the
 * capacity asked for could not be kept; the pool is usable either way. */
ZH_EXTERN bool zh_pool_reset(zh_pool *pool, zh_arena_reset_mode mode, size_t limit);

/* ---- inline fast paths ----------------------------------------------------------
 * zh_pool_create_inline and zh_pool_destroy_inline are zh_pool_create and
 * zh_pool_destroy in the header: the same results and checks in every build (see
 * "Inline fast paths" in docs/guide.md). They pop or push the free list inline and
 * call the exported function when the list is empty, and always in a library
 * built with ZHEAP_SAFETY (the pool's `checked` field, set by zh_pool_init), so
 * that every safety check runs. Inlined even in unoptimized builds, so the
 * backing allocator sees their caller as the return address. */

/* zh_pool_create without a call while free items are left. */
ZH__ALWAYS_INLINE void *zh_pool_create_inline(zh_pool *pool) {
    void *item = pool->free_list;
    if (ZH__LIKELY(item != NULL && !pool->checked)) {
        pool->free_list = *(void **)item;
        return item;
    }
    return zh_pool_create(pool);
}

/* zh_pool_destroy without a call (a library built without ZHEAP_SAFETY). */
ZH__ALWAYS_INLINE void zh_pool_destroy_inline(zh_pool *pool, void *item) {
    if (ZH__LIKELY(!pool->checked)) {
        *(void **)item = pool->free_list;
        pool->free_list = item;
        return;
    }
    zh_pool_destroy(pool, item);
}

#ifdef __cplusplus
}
#endif

#endif /* ZHEAP_POOL_H */
