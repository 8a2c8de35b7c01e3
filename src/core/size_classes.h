/* size_classes.h - the size-class / page-run engine under the sbrk allocator, the wasm
 * allocator, the sbrk backend and the wasm backend. Internal; names no OS; calls
 * nothing above src/core/ (its memory comes from a source the caller supplies).
 *
 * The unit is the bigpage (ZH__SC_BIGPAGE, 64 KiB on every target).
 *   - A *small* block is a power-of-two slot below a bigpage. Each small class bumps
 *     through bigpages of its own and keeps a LIFO free list. Slots sit at multiples
 *     of their size. A carved bigpage counts its live slots; once none is live it
 *     goes back to the page runs the next time they run dry (before the source is
 *     asked for more).
 *   - A *big* block is a run of 2^k bigpages, with one free list per k; a free run is
 *     split for a smaller request before more memory is asked for.
 *   - Free lists are linked through the first word of each free block.
 *   - The heap remembers the class of every bigpage it handed out (small classes:
 *     while carved; big blocks: while live) in a small hash map kept in its own memory,
 *     so a block's class can be found from its address alone: the sbrk backend
 *     unmaps by address, and with ZHEAP_SAFETY a free whose length claims another
 *     class than the block's aborts instead of corrupting a list.
 *
 * Memory comes from a *source*: either a break that only grows (sbrk(2), a caller's
 * sbrk-like function, memory.grow expressed in bytes) or a function that returns
 * aligned blocks (the platform seam's zh__os_map). Growth over a break reads it
 * first, asks for padding plus the block and checks where the memory really landed,
 * retrying if someone else moved the break in between; padding that holds whole
 * bigpages goes on the free lists, slivers are counted in bytes_lost.
 *
 * Memory checkers (core/track.h): a heap initialised with track_blocks describes its
 * blocks to valgrind (one mempool anchored at the heap) and ASan (freed slots and the
 * slack past the requested length poisoned), and keeps its own free-list links
 * unaddressable between its accesses.
 *
 * Not thread-safe: the caller serialises every call on one heap (or has no threads).
 * Memory never goes back to a break source. */
#ifndef ZHEAP_SRC_CORE_SIZE_CLASSES_H
#define ZHEAP_SRC_CORE_SIZE_CLASSES_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZH__SC_BIGPAGE ((size_t)64 * 1024)
/* Small classes: slots of sizeof(void *) bytes up to half a bigpage (an upper bound
 * for every pointer width). */
#define ZH__SC_SMALL_CLASSES 14u
/* Big classes: runs of 2^0 .. 2^(bits - 17) bigpages, so that every run size fits. */
#define ZH__SC_BIG_CLASSES ((unsigned)(sizeof(size_t) * CHAR_BIT) - 16u)
#define ZH__SC_MAP_INLINE 8u

/* How a block is stored: a small slot or a run of 2^index bigpages. Two requests
 * share a block exactly when their classes are equal (zh__sc_same_class). */
typedef struct zh__sc_class {
    bool big;
    unsigned index; /* small: log2(bytes) - log2(sizeof(void *)); big: log2(bigpages) */
    size_t bytes;   /* the slot or run size */
} zh__sc_class;

/* Where fresh memory comes from; set exactly one of brk and map.
 *   brk(ctx, n): extends a break by n >= 0 bytes and returns the old break, or
 *     (void *)-1; brk(ctx, 0) reads it. Memory never goes back.
 *   map(ctx, bytes, alignment): a block of `bytes` (a multiple of a bigpage) aligned
 *     to `alignment` (>= a bigpage), or NULL. With unmap set, freed big blocks go
 *     back through unmap(ctx, p, bytes) instead of onto the heap's own lists. */
typedef struct zh__sc_source {
    void *(*brk)(void *ctx, intptr_t increment);
    void *(*map)(void *ctx, size_t bytes, size_t alignment);
    void (*unmap)(void *ctx, void *p, size_t bytes);
    void *ctx;
} zh__sc_source;

/* A class-map entry: the bigpage's address | its class code, and for a small class
 * the number of its slots that are live. */
typedef struct zh__sc_entry {
    uintptr_t key_code;
    uintptr_t live;
} zh__sc_entry;

/* One heap; its fields are the engine's. */
typedef struct zh__sc_heap {
    zh__sc_source source;
    const char *name; /* the call named in contract-violation messages */
    /* Next fresh slot of each small class; 0 or a bigpage boundary: none left. */
    uintptr_t next_slot[ZH__SC_SMALL_CLASSES];
    void *small_free[ZH__SC_SMALL_CLASSES];
    void *big_free[ZH__SC_BIG_CLASSES];
    /* Bytes obtained from the source, and those of them too small to use. */
    size_t bytes_obtained;
    size_t bytes_lost;
    /* The class map: open addressing, one entry per bigpage in use. */
    zh__sc_entry *map;
    size_t map_capacity, map_count;
    bool map_growing;
    bool grow_first;         /* ZH__SC_GROW_FIRST */
    bool over_aligned;       /* a run aligned above a bigpage was asked for (grow first) */
    uint8_t track;           /* memory checkers: off, wanted (decided at first memory), on */
    uint16_t empty_classes;  /* bit i: a page of small class i may have no live slot */
    zh__sc_entry map_inline[ZH__SC_MAP_INLINE];
} zh__sc_heap;

/* zh__sc_init flags.
 *   ZH__SC_TRACK_BLOCKS: the blocks of zh__sc_alloc are described to memory checkers
 *     (the allocators whose blocks are the user's: sbrk, wasm; not the backends,
 *     whose blocks are pages that allocators above carve).
 *   ZH__SC_GROW_FIRST: a big class takes a run from its own list or from the
 *     source, and runs are merged and split across classes only when the source
 *     refuses; each class then holds at most its peak live bytes (rounded to its
 *     class), small classes at most one bigpage more each. Without it runs are
 *     shared eagerly (split before growing, merged on free): less memory in
 *     typical use, no such bound. */
#define ZH__SC_TRACK_BLOCKS 1u
#define ZH__SC_GROW_FIRST 2u

/* Initialises `h` (flags above); no memory is asked for until the first allocation. */
void zh__sc_init(zh__sc_heap *h, zh__sc_source source, const char *name, unsigned flags);

/* The class of a block of `need` bytes (need >= 1: the caller folds its alignment
 * and any per-block overhead in); false when no class is large enough. */
bool zh__sc_classify(size_t need, zh__sc_class *out);

static inline bool zh__sc_same_class(zh__sc_class a, zh__sc_class b) {
    return a.big == b.big && a.index == b.index;
}

/* A block of class `c` aligned to `alignment` (a power of two; up to c.bytes is
 * free, more is honoured for big blocks), of which the caller uses the first `len`
 * bytes (len <= c.bytes; what memory checkers are told). NULL when the source
 * refuses; nothing changes then. */
void *zh__sc_alloc(zh__sc_heap *h, zh__sc_class c, size_t alignment, size_t len);

/* The caller now uses new_len bytes of its live block at p instead of old_len (a
 * resize within the class); only memory checkers are told. */
void zh__sc_resized(zh__sc_heap *h, void *p, size_t old_len, size_t new_len);

/* Returns a block of class `c` to its free list. With ZHEAP_SAFETY, a block whose
 * recorded class differs, or that is not a block start, aborts naming h->name. */
void zh__sc_free(zh__sc_heap *h, void *p, zh__sc_class c);

/* The class of the live block starting at `p`, from the class map; false when `p`
 * is not the start of a block this heap handed out. */
bool zh__sc_class_of(const zh__sc_heap *h, const void *p, zh__sc_class *out);

/* ---- page runs (the wasm backend): no classes recorded ----------------------------- */

/* A run of 2^k bigpages aligned to `alignment` (>= a bigpage): the run's free list,
 * a split larger run, an aligned cut of a free run, or the source. NULL when the
 * source refuses. */
void *zh__sc_run_alloc(zh__sc_heap *h, unsigned k, size_t alignment);

/* Gives [p, p + bytes) back: the whole bigpages in it go onto the run free lists
 * (each piece joining a neighbouring free run of its size at the head of that
 * list), the rest is counted as lost. */
void zh__sc_run_free_range(zh__sc_heap *h, void *p, size_t bytes);

#endif /* ZHEAP_SRC_CORE_SIZE_CLASSES_H */
