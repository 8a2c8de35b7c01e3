/* smp.h - the SMP allocator: libzheap's fast thread-safe general-purpose allocator
 * (Zig's std.heap.SmpAllocator, redesigned so that memory goes back).
 *
 * One process-wide singleton. Every thread allocates from its own heap without a
 * lock; a block freed by another thread goes back to the heap that owns it; heaps
 * of exited threads are reclaimed; freed memory is returned to the OS under a
 * bounded policy. The size of any block is found from its address alone, so a
 * size-less free and a usable-size query exist beside the zh_allocator vtable.
 * See docs/smp.md for the design, the memory bound and the costs. */
#ifndef ZHEAP_SMP_H
#define ZHEAP_SMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zheap/allocator.h"
#include "zheap/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The SMP allocator singleton; its context is unused.
 *   Ownership: a block belongs to the caller until freed, from any thread, with
 *     the same allocator, length and alignment (or with zh_smp_free_unsized).
 *   Thread safety: every function may be called from any thread at any time,
 *     also from a thread that is exiting and from the child of a fork().
 *   Failure: alloc and remap return NULL, resize returns false; the block, if
 *     any, is unchanged. The allocator stays usable after the OS refuses memory.
 *   Alignment: any power of two up to 1 << ZH_ALIGN_LOG2_MAX.
 *   Resize/remap follow Zig's category rule: a block never moves between the
 *     small category (size classes up to ZH_SMP_SMALL_MAX bytes) and the large
 *     one. A small block resizes in place only within its size class; a large
 *     block resizes in place within its 16 KiB units or OS mapping. */
ZH_EXTERN extern const zh_allocator zh_smp_allocator;

/* Blocks up to this many bytes (after alignment) come from size classes. */
#define ZH_SMP_SMALL_MAX ((size_t)16384)
/* Number of small size classes: 16-byte steps to 128, then four per power of two. */
#define ZH_SMP_CLASS_COUNT 36

/* The usable size of a live block from zh_smp_allocator, from its address alone:
 * at least the length it was allocated (or last resized) with, and a length it may
 * be resized to in place. `p` must be a live block of this allocator (not NULL,
 * not a zero-length block). Thread-safe; costs a few loads, no lock for small
 * blocks. */
ZH_EXTERN size_t zh_smp_usable_size(const void *p);

/* Frees a live block of zh_smp_allocator without its length or alignment (what
 * free() needs). NULL is a no-op. Costs the same as the sized free. Thread-safe. */
ZH_EXTERN void zh_smp_free_unsized(void *p);

/* Whether `p` is the start of a block of this allocator: false for NULL, for any
 * address it never mapped (read without touching that memory), for a pointer
 * inside a block and for a large or huge block already freed. A small block slot
 * is "owned" whether it is live, freed since or not yet handed out (a double free
 * is not detected). Thread-safe, lock-free: one bitmap load and a few reads of the
 * allocator's own records, no division. */
ZH_EXTERN bool zh_smp_owns(const void *p);

/* zh_smp_owns(p) and, when true, zh_smp_free_unsized(p) in one lookup: what free()
 * needs when it may be given memory of another allocator (the preload library's
 * free). Returns false and touches nothing (no memory of p, no allocator state) when
 * zh_smp_owns(p) is false, including NULL; then p is still the caller's.
 *   Ownership: on true the block went back to the allocator, as with
 *     zh_smp_free_unsized; freeing a small block twice is not detected.
 *   Thread safety: any thread, lock-free for small blocks (large and huge blocks
 *     take the global lock, as their sized free does).
 *   Alignment: any block start, whatever alignment it was allocated with.
 * Costs the sized free plus the granule bit and a bounds and multiple test. */
ZH_EXTERN bool zh_smp_free_owned(void *p);

/* Gives retained free memory back to the OS now: every free unit and cached
 * mapping is purged or unmapped (the bounded policy of docs/smp.md does this by
 * itself once memory stayed free for 100 ms, including each thread's empty pages,
 * which that thread gives back on its next slow path). The calling thread's own
 * empty pages are released too, however recent, and the blocks it freed into other
 * threads' pages are sent to them (their owners free them on their next slow path).
 * Thread-safe; takes the allocator's global lock. */
ZH_EXTERN void zh_smp_trim(void);

/* Per size class counts. */
typedef struct zh_smp_class_stats {
    /* public */
    size_t block_size;    /* bytes per block of this class */
    uint64_t allocations; /* blocks handed out since start */
    uint64_t live;        /* blocks handed out and not yet freed */
} zh_smp_class_stats;
/* The 256-byte class also counts the allocator's own batches of cross-thread frees
 * (docs/smp.md, "Threads") while they are on their way. */

/* A snapshot of the allocator. Byte figures are exact at page granularity
 * (active, mapped, cached); `allocated` and the class counts are sums of per-thread
 * counters read without stopping the threads, so under concurrent use they are
 * approximate (each counter is exact, their sum is not one instant). */
typedef struct zh_smp_stats {
    /* public */
    size_t allocated;      /* bytes in live blocks (size class or unit-rounded) */
    size_t active;         /* bytes of pages, runs and mappings holding live blocks */
    size_t peak_active;    /* the highest `active` since start */
    size_t mapped;         /* bytes mapped from the OS now */
    size_t cached;         /* free bytes kept resident for reuse (bounded) */
    size_t purged;         /* free bytes kept mapped but returned to the OS */
    uint64_t os_maps;      /* zh__os_map calls since start */
    uint64_t os_unmaps;    /* zh__os_unmap calls since start */
    uint64_t os_purges;    /* zh__os_purge calls since start */
    size_t heaps;          /* thread heaps in use now */
    size_t heaps_created;  /* thread heaps ever created (reused after thread exit) */
    size_t large_live;     /* live blocks above ZH_SMP_SMALL_MAX */
    zh_smp_class_stats classes[ZH_SMP_CLASS_COUNT];
} zh_smp_stats;

/* Fills *out with a snapshot. Thread-safe; takes the global lock briefly and walks
 * the thread heaps (cost grows with the number of heaps, not of blocks). */
ZH_EXTERN void zh_smp_get_stats(zh_smp_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* ZHEAP_SMP_H */
