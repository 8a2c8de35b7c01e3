/* wasm.c - WasmAllocator: Zig's std.heap.WasmAllocator for wasm32, over memory.grow.
 *
 * What it is for: the general-purpose allocator of single-threaded wasm32 programs,
 * small and fast, with no headers in front of blocks.
 *
 * Design (Zig 0.15's, with the fixes noted below):
 *   - A request occupies a slot of the next power of two of
 *     max(len + sizeof(size_t), alignment) bytes; the extra word holds the free-list
 *     link once the slot is free (at the end of the slot, as in Zig).
 *   - Slots up to 32 KiB are "small": each size class bumps through 64 KiB big
 *     pages of its own and keeps a LIFO free list of returned slots. A slot's
 *     address is a multiple of its size, which gives every alignment up to it.
 *   - Larger slots are runs of 2^k big pages with one free list per k.
 *   - Big-page runs come from the free lists or from memory.grow (via
 *     zh__os_memory_grow). Runs are only guaranteed 64 KiB alignment; a request for
 *     more alignment scans its free list for a suitable run, or grows memory with a
 *     gap whose pages are recycled into the free lists.
 *   - Nothing assumes memory.grow returns memory contiguous with earlier growth:
 *     wasi-libc's malloc grows the same memory.
 * Fixes relative to Zig: alignment above 64 KiB is honoured; a run size is the exact
 * ceiling in pages; resize never moves a block between the small and big paths
 * (Zig could shrink a one-page block into a small class and leak the page); when
 * memory.grow refuses, a larger free run is split instead of failing at once.
 *
 * Costs: alloc and free are O(1) except aligned requests above 64 KiB (a free-list
 * scan). Internal fragmentation up to 2x (power-of-two slots); freed memory is
 * reused only by the same size class (no coalescing) and never returned to the
 * engine. Single-threaded: global state, no locks. */
#include "zheap/wasm.h"

#include "common.h"
#include "platform/platform.h"
#include "wasm_pages.h"

#define PAGE ZH__WASM_PAGE_SIZE
#define WORD sizeof(size_t)
#define SIZE_BITS (sizeof(size_t) * 8u)

/* Smallest slot: room for at least one byte and the link word (8 bytes on wasm32). */
#define MIN_SLOT_LOG2 (WORD <= 4 ? 3u : 4u)
/* Slots of 8 bytes .. 32 KiB; a 64 KiB slot is a one-page big run. */
#define SMALL_SLOT_MAX (PAGE / 2)
#define SMALL_CLASSES (16u - MIN_SLOT_LOG2)
/* Runs of 2^0 .. 2^(SIZE_BITS - 17) pages: the largest run size fits a size_t. */
#define BIG_CLASSES (SIZE_BITS - 16u)

/* Free lists and bump pointers; 0 means empty (memory.grow never returns page 0). */
static uintptr_t small_next[SMALL_CLASSES];
static uintptr_t small_frees[SMALL_CLASSES];
static uintptr_t big_frees[BIG_CLASSES];

/* ---- arithmetic ---------------------------------------------------------------------- */

static unsigned floor_log2(size_t x) {
#if defined(__GNUC__) || defined(__clang__)
    return (unsigned)(sizeof(unsigned long long) * 8u - 1u) -
           (unsigned)__builtin_clzll((unsigned long long)x);
#else
    unsigned n = 0;
    while (x > 1) x >>= 1, n++;
    return n;
#endif
}

/* log2 of the next power of two >= x (x > 0). */
static unsigned ceil_log2(size_t x) { return x <= 1 ? 0u : floor_log2(x - 1) + 1u; }

static size_t pages_for(size_t bytes) { return bytes / PAGE + (bytes % PAGE != 0); }

/* ---- big-page runs ------------------------------------------------------------------
 * A free run of 2^k pages keeps the address of the next free run of the same size
 * in its first word. */

static uintptr_t *run_link(uintptr_t run) { return (uintptr_t *)run; }

static void push_run(uintptr_t run, unsigned cls) {
    *run_link(run) = big_frees[cls];
    big_frees[cls] = run;
}

/* Unlinks the first free run of class `cls` aligned to `alignment`, or returns 0. */
static uintptr_t pop_run(unsigned cls, size_t alignment) {
    uintptr_t *prev = &big_frees[cls];
    for (uintptr_t run = *prev; run != 0; prev = run_link(run), run = *prev) {
        if ((run & (alignment - 1)) == 0) {
            *prev = *run_link(run);
            return run;
        }
    }
    return 0;
}

void zh__wasm_pages_free(void *p, size_t pages) {
    uintptr_t run = (uintptr_t)p;
    while (pages > 0) {
        unsigned cls = floor_log2(pages);
        if (cls >= BIG_CLASSES) cls = BIG_CLASSES - 1;
        push_run(run, cls);
        run += ((size_t)1 << cls) * PAGE;
        pages -= (size_t)1 << cls;
    }
}

/* Fresh pages from memory.grow: a run of 2^cls pages aligned to `alignment`. The
 * pages skipped to reach the alignment go to the free lists. Returns 0 when the
 * engine refuses, with nothing changed. */
static uintptr_t grow_run(unsigned cls, size_t alignment) {
    size_t want = (size_t)1 << cls;
    size_t align_pages = alignment / PAGE;
    /* Single-threaded, so nothing grows memory between the two calls. Should an
     * unexpected grower slip in, what we got is recycled and we retry once. */
    for (int attempt = 0; attempt < 2; attempt++) {
        size_t cur = zh__os_memory_grow(0);
        if (cur == SIZE_MAX || cur > SIZE_MAX - (align_pages - 1)) return 0;
        size_t start = zh__align_forward(cur, align_pages);
        size_t gap = start - cur;
        if (want > SIZE_MAX - gap) return 0;
        size_t old = zh__os_memory_grow(gap + want);
        if (old == SIZE_MAX) return 0; /* memory.grow returned -1: nothing changed */
        if (old == cur) {
            if (gap > 0) zh__wasm_pages_free((void *)(cur * PAGE), gap);
            return (uintptr_t)start * PAGE;
        }
        zh__wasm_pages_free((void *)(old * PAGE), gap + want);
    }
    return 0;
}

/* Last resort when memory cannot grow: halve a larger free run down to 2^cls
 * pages, keeping the halves. Only for page alignment. */
static uintptr_t split_run(unsigned cls) {
    for (unsigned big = cls + 1; big < BIG_CLASSES; big++) {
        uintptr_t run = big_frees[big];
        if (run == 0) continue;
        big_frees[big] = *run_link(run);
        while (big-- > cls) push_run(run + ((size_t)1 << big) * PAGE, big);
        return run;
    }
    return 0;
}

/* A run of 2^cls pages aligned to `alignment` (>= PAGE); 0 when out of memory. */
static uintptr_t alloc_run(unsigned cls, size_t alignment, bool *zeroed) {
    uintptr_t run = pop_run(cls, alignment);
    *zeroed = false;
    if (run != 0) return run;
    run = grow_run(cls, alignment);
    if (run != 0) {
        *zeroed = true;
        return run;
    }
    return alignment == PAGE ? split_run(cls) : 0;
}

void *zh__wasm_pages_alloc(size_t pages, size_t alignment, bool *zeroed) {
    unsigned cls = ceil_log2(pages);
    if (pages == 0 || cls >= BIG_CLASSES) return NULL;
    uintptr_t run = alloc_run(cls, alignment < PAGE ? PAGE : alignment, zeroed);
    if (run == 0) return NULL;
    size_t tail = ((size_t)1 << cls) - pages;
    if (tail > 0) zh__wasm_pages_free((void *)(run + pages * PAGE), tail);
    return (void *)run;
}

bool zh__wasm_pages_grow(void *p, size_t pages, size_t more) {
    size_t end = (uintptr_t)p / PAGE + pages;
    if (more == 0) return true;
    if (zh__os_memory_grow(0) != end) return false;
    size_t old = zh__os_memory_grow(more);
    if (old == end) return true;
    if (old != SIZE_MAX) zh__wasm_pages_free((void *)(old * PAGE), more);
    return false;
}

/* ---- slots ---------------------------------------------------------------------------
 * A request's slot: a small class (slot of 2^(cls + MIN_SLOT_LOG2) bytes) or a big
 * class (a run of 2^cls pages). Two requests share a slot exactly when their
 * zh_slot values are equal, which is what resize needs. */

typedef struct zh_slot {
    bool big;
    unsigned cls;
} zh_slot;

/* False when the request cannot be represented (then alloc answers NULL). */
static bool slot_for(size_t len, size_t alignment, zh_slot *slot) {
    if (len > SIZE_MAX - WORD) return false;
    size_t actual = len + WORD > alignment ? len + WORD : alignment;
    if (actual <= SMALL_SLOT_MAX) {
        unsigned log2 = ceil_log2(actual);
        slot->big = false;
        slot->cls = (log2 < MIN_SLOT_LOG2 ? MIN_SLOT_LOG2 : log2) - MIN_SLOT_LOG2;
        return true;
    }
    slot->big = true;
    slot->cls = ceil_log2(pages_for(actual));
    return slot->cls < BIG_CLASSES;
}

static size_t small_size(unsigned cls) { return (size_t)1 << (cls + MIN_SLOT_LOG2); }

/* The link word of a free small slot sits in its last word. */
static uintptr_t *small_link(uintptr_t slot, size_t size) {
    return (uintptr_t *)(slot + size - WORD);
}

static void *small_alloc(unsigned cls) {
    size_t size = small_size(cls);
    uintptr_t top = small_frees[cls];
    if (top != 0) {
        small_frees[cls] = *small_link(top, size);
        return (void *)top;
    }
    uintptr_t next = small_next[cls];
    if (next % PAGE == 0) { /* no page yet, or the last one is used up */
        bool zeroed;
        uintptr_t page = alloc_run(0, PAGE, &zeroed);
        if (page == 0) return NULL;
        next = page;
    }
    small_next[cls] = next + size;
    return (void *)next;
}

static void small_free(uintptr_t slot, unsigned cls) {
    size_t size = small_size(cls);
    if (zh__config_safety) {
        if (slot % size != 0)
            zh__panic("zh_wasm_allocator", "free of %p: not a slot of %zu bytes", (void *)slot,
                      size);
        if (slot == small_frees[cls])
            zh__panic("zh_wasm_allocator", "double free of %p", (void *)slot);
    }
    *small_link(slot, size) = small_frees[cls];
    small_frees[cls] = slot;
}

static void big_free(uintptr_t run, unsigned cls) {
    if (zh__config_safety) {
        if (run % PAGE != 0)
            zh__panic("zh_wasm_allocator", "free of %p: not a big-page block", (void *)run);
        if (run == big_frees[cls])
            zh__panic("zh_wasm_allocator", "double free of %p", (void *)run);
    }
    push_run(run, cls);
}

/* ---- the vtable ------------------------------------------------------------------------ */

static void *wasm_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ctx, (void)ret_addr;
    size_t alignment = zh_align_to_bytes(align);
    zh_slot slot;
    if (!slot_for(len, alignment, &slot)) return NULL;
    if (!slot.big) return small_alloc(slot.cls);
    bool zeroed;
    return (void *)alloc_run(slot.cls, alignment < PAGE ? PAGE : alignment, &zeroed);
}

/* Bytes between powers of two are recovered in place; a block never changes slot. */
static bool wasm_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                        uintptr_t ret_addr) {
    (void)ctx, (void)mem, (void)ret_addr;
    size_t alignment = zh_align_to_bytes(align);
    zh_slot old_slot, new_slot;
    if (!slot_for(len, alignment, &old_slot) || !slot_for(new_len, alignment, &new_slot))
        return false;
    return old_slot.big == new_slot.big && old_slot.cls == new_slot.cls;
}

static void *wasm_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                        uintptr_t ret_addr) {
    return wasm_resize(ctx, mem, len, align, new_len, ret_addr) ? mem : NULL;
}

static void wasm_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ctx, (void)ret_addr;
    zh_slot slot;
    if (!slot_for(len, zh_align_to_bytes(align), &slot))
        zh__panic("zh_wasm_allocator", "free of %p: length %zu was never allocated", mem, len);
    if (slot.big)
        big_free((uintptr_t)mem, slot.cls);
    else
        small_free((uintptr_t)mem, slot.cls);
}

static const zh_allocator_vtable wasm_vtable = {
    wasm_alloc,
    wasm_resize,
    wasm_remap,
    wasm_free,
};

const zh_allocator zh_wasm_allocator = {NULL, &wasm_vtable};
