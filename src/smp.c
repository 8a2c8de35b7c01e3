/* smp.c - the SMP allocator (Zig's std.heap.SmpAllocator, redesigned).
 *
 * What it is for: a fast general-purpose allocator for multi-threaded programs, a
 * process-wide singleton that gives freed memory back.
 *
 * Design (docs/smp.md has the pictures):
 * - Segments: 16 MiB mappings aligned to 16 MiB, cut into 1024 units of 16 KiB.
 *   The first 9 units hold the segment header with one page record per unit, so
 *   the record of any address is found by masking it (segment) and shifting
 *   (unit), and a dense array of unit tags (owner heap and class), which is all a
 *   free of a block of an owned page reads besides the owner's half of the record.
 *   Units are handed out in runs under one global lock: a run is either a small
 *   page (one size class, owned by one thread heap: one unit up to 8 KiB blocks, two
 *   up to 16 KiB) or one large block. A heap takes its one-unit pages from a chunk
 *   of 64 units of its own where that costs no memory (while no freed unit is
 *   resident elsewhere), so that the tags of its units share cache lines with its
 *   own pages rather than with other threads'. Small units keep what a thread holds
 *   per size class small (a class with few live blocks costs one 16 KiB page); a
 *   heap that holds 16 pages of a class takes new ones twice as long, at 32 four
 *   times (fewer page switches and records where a class has many blocks).
 * - Huge blocks (above 4 MiB, or over-aligned) get their own mapping, also aligned
 *   to 16 MiB so that the same mask finds their header; a few freed mappings are
 *   cached.
 * - Thread heaps: each thread allocates from its own heap (found through a
 *   thread-local pointer) without any lock or atomic operation: per size class a
 *   current page with a free list and a bump pointer, and a queue of the class's
 *   other pages in the order they ran out (a ring); when the current page runs
 *   out it changes places with the oldest queued page that has an eighth of its
 *   blocks free (the first of 8 looked at), so a free never moves a page between
 *   lists. Up to 32 empty pages per heap (32 units together) wait as spares for any
 *   class (no lock to reuse them). Heaps are created on demand
 *   (no thread cap) and recycled at thread exit through the platform's TLS
 *   destructor; the exiting thread's empty pages go back to the segments, the
 *   others are abandoned to a global list and adopted by the next thread that
 *   needs that size class (blocks freed into them meanwhile are taken under the
 *   global lock).
 * - Cross-thread frees: a block freed by a thread other than its page's owner goes
 *   into a batch for that owner in the freeing thread's outbox (an array of up to
 *   30 addresses in a 256-byte block), sent onto the owner heap's remote list with
 *   one compare-and-swap when full or on the freer's slow paths and exit; the owner
 *   takes the whole list with one atomic exchange when it next runs out of a page
 *   and frees the blocks locally, so memory returns to the owner (snmalloc's
 *   batched message passing with mimalloc's exchange).
 * - Memory return: empty pages and freed large runs go back to their segment at
 *   once and stay resident for reuse without page faults, until they have been
 *   free for SMP_PURGE_DELAY (100 ms) or resident free memory exceeds twice the
 *   recent active peak; then they are purged (zh__os_purge) and fully free
 *   segments beyond SMP_KEEP_FREE_SEGMENTS are unmapped. A thread's current and
 *   spare pages that stayed empty for the delay are given back by that thread on
 *   a later slow path (an idle check, at most every 16th page switch or before it
 *   takes a page from the segments). zh_smp_trim purges all.
 * - Fork: the global lock is taken around fork() (zh__os_atfork); the child keeps
 *   its own heap and the global state; other threads' heaps are left alone.
 * - Memory checkers (core/track.h; nothing in other builds): every block is a chunk
 *   of one memcheck mempool (a leak is reported with its allocation stack) or, under
 *   ASan, unpoisoned memory. A block's requested length is addressable, the rest of
 *   its slot (slack), free blocks, fresh pages and free runs are not; the free-list
 *   links (local, remote, abandoned) are read and written through link_get /
 *   link_set, which open just the link word. A block pushed by a remote free belongs
 *   to the pusher until the owner takes the list, so one party at a time changes its
 *   state. zh_smp_usable_size promises the whole usable size (as malloc_usable_size
 *   does): it widens the block to its slot, the requested length being unknown
 *   there (track.h, zh__track_group_widen). Memory leaving for the OS (a segment, a
 *   huge mapping or its tail) is opened first, so no poison outlives the mapping.
 *
 * Costs: small alloc and same-thread free are a few loads and stores (a free: the
 * unit's tag, the owner's half of the page record, the block's link); a remote
 * free is a store into a batch, and one CAS per batch (per 30 blocks or 32 KiB; a
 * thread holds back at most 384 KiB of other heaps' blocks); a page switch (every
 * eighth of a page's blocks, at least one) is a few dozen instructions without a
 * lock; a page from the segments (every 16-64 KiB of new allocation) takes the
 * global lock; large blocks take the global lock per alloc/free but no system call
 * in the steady state. Memory: 16-byte
 * granularity up to 128 bytes, then at most 25 % rounding; 144 KiB of address
 * space per segment for headers (resident only where records are used); a large
 * block is rounded up to 16 KiB (address space; untouched pages cost nothing). */
#include "zheap/smp.h"

#include "common.h"
#include "smp_internal.h"
#include "core/track.h"
#include "platform/platform.h"

/* ---- geometry ------------------------------------------------------------------- */

#define SMP_SEGMENT_SHIFT 24
#define SMP_SEGMENT_SIZE ((size_t)1 << SMP_SEGMENT_SHIFT)
/* 16 KiB units: a thread's page of a size class is 16 KiB (docs/smp.md, "Memory
 * layout"), so a class with few live blocks holds little memory. */
#define SMP_UNIT_SHIFT 14
#define SMP_UNIT_SIZE ((size_t)1 << SMP_UNIT_SHIFT)
#define SMP_UNITS (SMP_SEGMENT_SIZE / SMP_UNIT_SIZE) /* 1024; the first hold the header */
#define SMP_BITMAP_WORDS (SMP_UNITS / 64)
/* Large blocks up to this size come from segments; larger ones are huge. */
#define SMP_LARGE_MAX ((size_t)4 << 20)
#define SMP_LARGE_MAX_UNITS (SMP_LARGE_MAX >> SMP_UNIT_SHIFT)
/* A page spans the fewest units (a power of two) that hold this many blocks of its
 * class: one unit up to 8 KiB blocks, 2 up to 16 KiB, 4 above. */
#define SMP_PAGE_MIN_BLOCKS 2
#define SMP_CLASSES ZH_SMP_CLASS_COUNT
#define SMP_NOT_SMALL SMP_CLASSES
#define SMP_MIN_ALIGN 16
#define SMP_MIN_ALIGN_LOG2 4
_Static_assert(SMP_MIN_ALIGN == 1 << SMP_MIN_ALIGN_LOG2, "the two forms agree");

/* ---- the memory policy (docs/smp.md, "Giving memory back") ----------------------- */

/* Free memory kept resident for reuse, process-wide (free units, free segments
 * and cached huge mappings), is bounded two ways (docs/smp.md, "Giving memory back"):
 * - by age: memory freed more than SMP_PURGE_DELAY ms ago and not reused since is
 *   purged (free segments beyond SMP_KEEP_FREE_SEGMENTS are unmapped), checked at
 *   most every SMP_PURGE_CHECK ms on the allocator's slow paths (a page refill or
 *   release, a large alloc or free);
 * - by size: at most twice the active bytes (or twice their peak within the last
 *   one or two delays, whichever is more), at least SMP_RETAIN_MIN; a release that
 *   takes it over purges it down to half.
 * Without a platform clock the delay counts unit operations instead of ms. */
#define SMP_RETAIN_MIN ((size_t)2 << 20)
#define SMP_RETAIN_ACTIVE_FACTOR 2
#define SMP_PURGE_DELAY 100u
#define SMP_PURGE_CHECK 25u
/* Fully free segments kept mapped however old (their units follow the retain
 * bound); more are unmapped once they stayed free for the purge delay, or when the
 * size bound needs it. */
#define SMP_KEEP_FREE_SEGMENTS 1
/* Freed huge mappings kept for reuse, and the largest one worth keeping. */
#define SMP_HUGE_CACHE_SLOTS 4
#define SMP_HUGE_CACHE_MAX_LEN ((size_t)64 << 20)
/* A page that becomes empty again after at most this many allocations of its class
 * counts as empty since the earlier time (a lone alloc/free does not keep an idle
 * page resident). */
#define SMP_IDLE_BRIEF_USE 4
/* Empty pages a heap keeps for reuse without the global lock, over all classes: at
 * most this many units together (grown pages are longer), so at most as many pages. */
#define SMP_HEAP_SPARE_UNITS 32
#define SMP_HEAP_SPARES SMP_HEAP_SPARE_UNITS
/* The bit of a heap's idle_classes that stands for its spares. */
#define SMP_IDLE_SPARES ((uint64_t)1 << 63)
/* A page switch runs the idle check (and takes the remote list) at least once in this
 * many while some class has an empty page: switches are frequent, the check is due
 * at most every SMP_PURGE_CHECK ms. */
#define SMP_IDLE_CHECK_TRIPS 16
/* Queued pages a page switch looks at before it takes the general path, and the
 * general path before it takes a spare or fresh page. */
#define SMP_QUEUE_PROBES 8
#define SMP_QUEUE_SCAN 8
/* A queued page is used again once this fraction of its blocks is free (an eighth;
 * at least one block). */
#define SMP_REUSE_DIV 8
/* A heap's new pages of a class grow with what it holds of the class: twice the
 * class's span once it holds SMP_GROW_PAGES pages, up to SMP_GROW_MAX times (page
 * switches and records are per page; a class with few blocks keeps small pages). */
#define SMP_GROW_PAGES 16
#define SMP_GROW_MAX 4
/* A heap's chunk: the units of one word of a segment's `used` bits (1 MiB). */
#define SMP_CHUNK_UNITS 64
_Static_assert(SMP_CHUNK_UNITS == 64, "a chunk is one word of the used bits");
/* Abandoned pages adopted at most per refill before a fresh page is taken. */
#define SMP_ADOPT_MAX 8

/* ---- records -------------------------------------------------------------------- */

typedef struct smp_block {
    struct smp_block *next;
} smp_block;

typedef struct smp_heap smp_heap;

/* A batch of blocks that one thread freed into pages another heap owns, sent to that
 * heap as one entry of its remote list (snmalloc's batching): the sender writes
 * only this array, never the freed blocks, and the owner's drain reads an array of
 * independent addresses instead of chasing a list through blocks another core
 * wrote. A batch is itself a small block of its sender's heap (30 addresses with
 * 64-bit pointers, 61 with 32-bit ones). */
#define SMP_MSG_SIZE 256
#define SMP_MSG_BLOCKS ((SMP_MSG_SIZE - sizeof(void *) - 2 * sizeof(uint32_t)) / sizeof(void *))
typedef struct smp_msg {
    smp_block link; /* first, like a block's: the remote list's link */
    uint32_t count;
    uint32_t bytes; /* the blocks' sizes together */
    smp_block *blocks[SMP_MSG_BLOCKS];
} smp_msg;
_Static_assert(sizeof(smp_msg) <= SMP_MSG_SIZE, "a batch fits its block");

/* Batches a heap builds at once (one per owner, direct-mapped by the owner's
 * address), and the bytes after which one is sent before it is full: what a thread
 * holds back from other heaps is at most SMP_OUTBOX_SLOTS * (SMP_MSG_BYTES + the
 * largest small block), 384 KiB. */
#define SMP_OUTBOX_SLOTS 8
#define SMP_MSG_BYTES ((uint32_t)32 << 10)

typedef struct smp_outbox {
    smp_heap *owner;
    smp_msg *msg; /* NULL: nothing waits */
} smp_outbox;

enum { PAGE_FREE = 0, PAGE_SMALL, PAGE_LARGE };
enum { SEGMENT_UNITS = 1, SEGMENT_HUGE };

/* One per unit. For a run, the first unit's record describes it; `head` of the
 * run's first unit (and of every unit of a small page) points to that record - a
 * large block is only ever looked up by its start, so its other units' heads are
 * left as they were (a stale head leads to a free record or one whose range
 * excludes the address). Two halves on separate cache lines: what every
 * freeing thread reads (set when the run changes hands), and what the owner writes
 * on each alloc and free - so remote frees do not bounce the owner's line. Padded
 * to ZH__CACHE_LINE: neighbouring units belong to different threads. */
#define SMP_HALF_LINE 64
typedef struct smp_page {
    _Alignas(ZH__CACHE_LINE) struct smp_page *head;
    _Atomic(smp_heap *) owner; /* NULL: abandoned (or not small) */
    uint32_t block_size;       /* small: bytes per block */
    uint16_t span;             /* units in the run */
    uint16_t index;            /* unit index in the segment */
    uint8_t kind;              /* PAGE_* */
    uint8_t class_index;
    uint32_t blocks_len;       /* small: bytes from the page start to its last block's end */
    uint64_t start_test;       /* small: block_start_test(block_size) */
    uintptr_t start;           /* small: page_start(), for the block-start check */
    _Alignas(SMP_HALF_LINE) smp_block *free; /* owner's free list */
    uintptr_t bump;                          /* next never-used block */
    uintptr_t bump_end;
    uint32_t used;      /* blocks handed out, not yet freed locally */
    uint32_t reuse_at; /* a queued page is used again at this `used` or below */
    uint32_t empty_since;     /* the heap's clock when it last became empty */
    uint32_t allocs_at_empty; /* its heap's allocations of the class then */
    struct smp_page *prev, *next;
} smp_page;

/* A unit's tag (smp_segment.tags): 0 where no heap owns a small page, else the owner
 * heap's address (heap records are SMP_HEAP_ALIGN aligned) with, in its low bits, the
 * page's class and log2 of its span (together its shape, the low byte) and the
 * unit's place in the page. The owner's free reads the tag and the owner's half of
 * the page record, never the shared half (docs/smp.md, "Memory layout"); tags are
 * dense, 8 units to a 64-byte line. */
#define SMP_TAG_CLASS_BITS 6
#define SMP_TAG_SPAN_BITS 2
#define SMP_TAG_SHAPE_BITS (SMP_TAG_CLASS_BITS + SMP_TAG_SPAN_BITS)
#define SMP_TAG_PLACE_BITS 3
#define SMP_TAG_BITS (SMP_TAG_SHAPE_BITS + SMP_TAG_PLACE_BITS)
#define SMP_TAG_SHAPES (1u << SMP_TAG_SHAPE_BITS)
#define SMP_HEAP_ALIGN ((size_t)1 << SMP_TAG_BITS)
#define SMP_TAG_LOW (SMP_HEAP_ALIGN - 1)
/* The longest small page: SMP_GROW_MAX times the longest class's span. */
#define SMP_SMALL_SPAN_MAX                                                                     \
    (SMP_GROW_MAX *                                                                            \
     ((SMP_PAGE_MIN_BLOCKS * ZH_SMP_SMALL_MAX + SMP_UNIT_SIZE - 1) >> SMP_UNIT_SHIFT))
_Static_assert(SMP_SMALL_SPAN_MAX <= 1 << SMP_TAG_PLACE_BITS, "a unit's place fits its tag");
_Static_assert(SMP_SMALL_SPAN_MAX <= 1 << ((1 << SMP_TAG_SPAN_BITS) - 1), "a span fits its tag");
_Static_assert(ZH_SMP_CLASS_COUNT <= 1 << SMP_TAG_CLASS_BITS, "a class fits its tag");

typedef struct smp_segment {
    uint8_t kind; /* SEGMENT_UNITS; first, like smp_huge's; read by every free */
    /* Per unit: its small page's owner and geometry (SMP_TAG_BITS), read by the
     * owner's frees; written when a page changes hands. */
    _Alignas(ZH__CACHE_LINE) _Atomic(uintptr_t) tags[SMP_UNITS];
    _Alignas(ZH__CACHE_LINE) uint16_t free_units; /* the rest changes under the lock */
    uint32_t last_release; /* the purge clock at its last release */
    bool records_purged;   /* free and purged, its units' records too (segment_purge_records) */
    struct smp_segment *prev, *next;
    uint64_t used[SMP_BITMAP_WORDS];  /* unit handed out */
    /* A bit per word of `used`: all set, none set (the hole search skips them). */
    uint64_t used_full, used_none;
    uint64_t dirty[SMP_BITMAP_WORDS]; /* free unit that may be resident */
    uint32_t released_at[SMP_UNITS];  /* the purge clock when a dirty unit was freed */
    smp_page pages[SMP_UNITS];
} smp_segment;

/* The header of a huge mapping, at segment_of(block). */
typedef struct smp_huge {
    uint8_t kind; /* SEGMENT_HUGE */
    bool purged;  /* while cached */
    uint32_t released_at; /* the purge clock when it was cached */
    char *base;   /* the mapping */
    size_t map_len;
    char *block;
} smp_huge;

#define SMP_HUGE_HEADER 64

/* The first units of a segment hold its header. */
#define SMP_HEADER_UNITS ((sizeof(smp_segment) + SMP_UNIT_SIZE - 1) >> SMP_UNIT_SHIFT)
_Static_assert(SMP_HEADER_UNITS * 8 <= SMP_UNITS, "the segment header takes few units");
_Static_assert(SMP_BITMAP_WORDS <= 64, "a word of bits summarises the unit bitmap");
_Static_assert(SMP_CLASSES < 63, "idle_classes has a bit for each class and the spares");
_Static_assert(sizeof(smp_huge) <= SMP_HUGE_HEADER, "the huge header fits before its block");

struct smp_heap {
    _Alignas(ZH__CACHE_LINE) _Atomic(smp_block *) remote; /* pushed by other threads */
    _Atomic(bool) released; /* its thread has left: pushers drain it themselves */
    _Alignas(ZH__CACHE_LINE) smp_page *current[SMP_CLASSES];
    /* The other pages of a class that hold blocks, in the order they ran out (a ring,
     * oldest first; docs/smp.md, "Threads"). */
    smp_page *queue[SMP_CLASSES];
    /* Remote frees waiting to go to their owners (docs/smp.md, "Threads"); a bit per
     * slot that holds a batch. */
    smp_outbox outbox[SMP_OUTBOX_SLOTS];
    uint32_t outbox_pending;
    /* Pages of each class the heap holds (current and queued): what its new pages'
     * span follows (heap_page_units). */
    uint32_t class_pages[SMP_CLASSES];
    /* Empty pages kept for reuse by any class (in no list), newest last. */
    smp_page *spares[SMP_HEAP_SPARES];
    uint32_t spare_count;
    uint32_t spare_units; /* their spans' sum */
    /* Classes whose current page was empty at its last free, and SMP_IDLE_SPARES
     * while spares wait: what the idle check retires once it stayed empty for the
     * delay. */
    uint64_t idle_classes;
    uint32_t clock;      /* the purge clock at this heap's last read of it */
    uint32_t last_idle_check;
    uint32_t idle_trips; /* page switches while idle_classes was set */
    /* Written only by the owner (relaxed load + store: no locked instruction),
     * read by zh_smp_get_stats. */
    _Atomic(uint64_t) allocs[SMP_CLASSES];
    _Atomic(uint64_t) frees[SMP_CLASSES];
    /* The chunk (SMP_CHUNK_UNITS: a word of the segment's `used` bits) its one-unit pages
     * come from first (global lock; a hint, checked before use). */
    smp_segment *chunk_seg;
    uint32_t chunk_word;
    smp_heap *all_next;  /* every heap ever created (global lock) */
    smp_heap *pool_next; /* recycled heaps (global lock) */
    bool in_use;
};

/* ---- size classes ------------------------------------------------------------------ */

static const uint32_t class_block_size[SMP_CLASSES] = {
    16,    32,    48,    64,    80,    96,    112,   128,   160,   192,
    224,   256,   320,   384,   448,   512,   640,   768,   896,   1024,
    1280,  1536,  1792,  2048,  2560,  3072,  3584,  4096,  5120,  6144,
    7168,  8192,  10240, 12288, 14336, 16384,
};

/* The smallest class whose blocks hold n bytes (1 <= n <= ZH_SMP_SMALL_MAX):
 * 16-byte steps to 128, then four classes per power of two. */
static unsigned class_of_size(size_t n) {
    if (n <= 128) return (unsigned)(zh__align_forward(n, 16) / 16 - 1);
    unsigned e = zh__floor_log2(n - 1);
    return 8 + (e - 7) * 4 + (unsigned)(((n - 1) >> (e - 2)) & 3);
}

/* class_of_size for n <= SMP_DIRECT_MAX, indexed by (n + 15) / 16: every class up to
 * there is a multiple of 16, so each 16-byte step has one class. One load instead of
 * the arithmetic on the common sizes (mimalloc indexes its pages by size likewise). */
#define SMP_DIRECT_MAX 1024
static const uint8_t class_direct[SMP_DIRECT_MAX / 16 + 1] = {
    0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 9, 10, 10, 11,
    11, 12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15,
    15, 16, 16, 16, 16, 16, 16, 16, 16, 17, 17, 17, 17, 17, 17, 17,
    17, 18, 18, 18, 18, 18, 18, 18, 18, 19, 19, 19, 19, 19, 19, 19,
    19,
};

/* Whether class_direct serves a request (compares the alignment's log2: no shift). */
static bool direct_request(size_t len, zh_align align) {
    return len <= SMP_DIRECT_MAX && align <= SMP_MIN_ALIGN_LOG2;
}

static unsigned class_direct_of(size_t len) { return class_direct[(len + 15) >> 4]; }

/* The class of a request, or SMP_NOT_SMALL. Blocks sit at multiples of their size
 * from a 64 KiB boundary, so an alignment is met by a class whose size it divides. */
static unsigned class_for(size_t len, zh_align align) {
    if (ZH__LIKELY(direct_request(len, align)))
        return class_direct_of(len);
    size_t alignment = zh_align_to_bytes(align);
    if (len > ZH_SMP_SMALL_MAX || alignment > ZH_SMP_SMALL_MAX) return SMP_NOT_SMALL;
    unsigned c = class_of_size(len < alignment ? alignment : len);
    if (alignment > SMP_MIN_ALIGN)
        while (c < SMP_CLASSES && (class_block_size[c] & (alignment - 1)) != 0) c++;
    return c;
}

static size_t class_page_units(unsigned c) {
    size_t units = 1;
    while (units * SMP_UNIT_SIZE < SMP_PAGE_MIN_BLOCKS * (size_t)class_block_size[c]) units *= 2;
    return units;
}

/* Where a page of class c may start, in units: at a multiple of the largest power of
 * two dividing its block size, so that its blocks meet every alignment that size has. */
static size_t class_page_step(unsigned c) {
    size_t size_align = class_block_size[c] & (0u - class_block_size[c]);
    return size_align > SMP_UNIT_SIZE ? size_align >> SMP_UNIT_SHIFT : 1;
}

/* The span of a new page of class c for h: the class's own, doubled for every
 * SMP_GROW_PAGES pages of the class h holds per unit of that span, up to
 * SMP_GROW_MAX times. A class with many live blocks switches pages and touches
 * records less often; one with few keeps the small page (a partly used page costs
 * at most a quarter more than the class's live blocks, once grown). */
static size_t heap_page_units(const smp_heap *h, unsigned c) {
    size_t base = class_page_units(c), units = base;
    while (units < SMP_GROW_MAX * base && h->class_pages[c] >= SMP_GROW_PAGES * (units / base))
        units *= 2;
    return units;
}

/* ---- global state --------------------------------------------------------------------- */

static struct {
    zh__lock lock; /* everything below that is not atomic */
    smp_segment *segments;
    size_t free_segments; /* segments with every unit free */
    size_t free_unit_bytes, dirty_unit_bytes;
    size_t huge_dirty_bytes, huge_purged_bytes;
    smp_huge *huge_cache[SMP_HUGE_CACHE_SLOTS]; /* oldest first */
    size_t huge_cached;
    size_t mapped, active, peak_active;
    uint32_t ops;            /* unit claims and releases: the clock without a clock */
    uint32_t now;            /* the purge clock (ms) at the last policy check */
    uint32_t last_age_check; /* when aged memory was last looked for */
    uint32_t window_start;   /* the active peak is tracked per purge delay */
    size_t window_peak, previous_window_peak;
    size_t large_live, large_bytes;
    smp_page *abandoned[SMP_CLASSES];
    uint64_t abandoned_frees[SMP_CLASSES];
    smp_heap *heaps, *heap_pool;
    size_t heaps_live, heaps_created;
    char *meta_next, *meta_end; /* where the next heap record is carved */
    _Atomic(size_t) abandoned_count[SMP_CLASSES];
    _Atomic(uint64_t) os_maps, os_unmaps, os_purges;
    /* Set at each unlock: resident free memory or surplus free segments exist, so a
     * page emptied on a thread's fast path is worth an idle check. */
    _Atomic(bool) work_pending;
} g;

static zh__once init_once = ZH__ONCE_INIT;
static zh__tls_key heap_key;
static bool heap_key_ok;
static ZH__THREAD_LOCAL smp_heap *tl_heap;

/* Never has room: the current page of every class of a fresh heap. */
static smp_page empty_page;

static size_t retained_bytes(void) { return g.dirty_unit_bytes + g.huge_dirty_bytes; }

static void global_lock(void) { zh__lock_acquire(&g.lock); }
static void global_unlock(void) {
    zh__atomic_store_relaxed(&g.work_pending, retained_bytes() != 0 ||
                                                  g.free_segments > SMP_KEEP_FREE_SEGMENTS);
    zh__lock_release(&g.lock);
}

static void count_up(_Atomic(uint64_t) *counter) { zh__atomic_add_relaxed(counter, 1); }

/* Owner-only counters: a plain read-modify-write, visible to the stats reader. */
static void count_owned(_Atomic(uint64_t) *counter) {
    zh__atomic_store_relaxed(counter, zh__atomic_load_relaxed(counter) + 1);
}

static const zh__os_info *os(void) { return zh__os_info_get(); }
static bool can_purge(void) {
    return (os()->caps & ZH__OS_CAN_PURGE) && os()->page_size <= SMP_UNIT_SIZE;
}

static void *os_map(size_t len, size_t alignment) {
    void *p = zh__os_map(len, alignment, NULL);
    if (p != NULL) count_up(&g.os_maps);
    return p;
}
static void os_unmap(void *p, size_t len) {
    count_up(&g.os_unmaps);
    zh__os_unmap(p, len);
}
static bool os_purge(void *p, size_t len) {
    if (!can_purge()) return false;
    count_up(&g.os_purges);
    return zh__os_purge(p, len);
}

static void active_add(size_t bytes) {
    g.active += bytes;
    if (g.active > g.peak_active) g.peak_active = g.active;
    if (g.active > g.window_peak) g.window_peak = g.active;
}

/* ---- address lookup ------------------------------------------------------------------- */

/* The header of the segment or huge mapping holding block p. A block never starts
 * at a 16 MiB boundary of its own mapping except a huge block aligned to 16 MiB or
 * more, whose header is placed 16 MiB below it: p - 1 covers both. */
static smp_segment *segment_of(const void *p) {
    return (smp_segment *)zh__align_backward_addr((uintptr_t)p - 1, SMP_SEGMENT_SIZE);
}

static size_t unit_of(const smp_segment *seg, const void *p) {
    return ((uintptr_t)p - (uintptr_t)seg) >> SMP_UNIT_SHIFT;
}

static char *unit_address(smp_segment *seg, size_t index) {
    return (char *)seg + (index << SMP_UNIT_SHIFT);
}

static smp_page *page_of(smp_segment *seg, const void *p) {
    return seg->pages[unit_of(seg, p)].head;
}

/* ---- memory checkers (core/track.h; empty in other builds) --------------------------- */

/* The anchor of the memcheck mempool of every block, created under the global lock
 * before the first block is handed out (small, large or huge). */
static const char track_pool;
static bool track_pool_made;

/* Locked. */
static void track_setup(void) {
    if (!ZH__TRACK_ENABLED || track_pool_made) return;
    zh__track_group_create(&track_pool);
    track_pool_made = true;
}

static size_t block_usable(const void *p);

/* p (when not NULL) is handed out for len bytes; the rest of its slot stays closed. */
static inline void *track_handout(void *p, size_t len) {
    if (!ZH__TRACK_ENABLED || p == NULL) return p;
    size_t usable = block_usable(p);
    zh__track_mem_noaccess((char *)p + len, usable - len);
    zh__track_group_alloc(&track_pool, p, len);
    return p;
}

/* The live block p is given back (before the allocator links it anywhere). */
static inline void track_giveback(void *p) {
    if (ZH__TRACK_ENABLED) zh__track_group_free(&track_pool, p, block_usable(p));
}

/* The live block p changed length in place; the rest of its (new) slot is closed.
 * What a shrink gave away (tail units, a mapping's tail) is no longer described:
 * others may use it now (large_resize closed its units before giving them back). */
static void track_resized(void *p, size_t old_len, size_t new_len) {
    if (!ZH__TRACK_ENABLED) return;
    size_t usable = block_usable(p);
    zh__track_group_resize(&track_pool, p, old_len < usable ? old_len : usable, new_len);
    if (usable > new_len) zh__track_mem_noaccess((char *)p + new_len, usable - new_len);
}

/* Memory the allocator keeps but hands out nowhere (a fresh page), or memory about
 * to go back to the OS (opened: ASan's poison would outlive the mapping). */
static void track_close(void *p, size_t len) {
    if (ZH__TRACK_ENABLED) zh__track_mem_noaccess(p, len);
}
static void track_open(void *p, size_t len) {
    if (ZH__TRACK_ENABLED) zh__track_mem_undefined(p, len);
}

/* The free-list link in the first word of a free block, opened just for the access. */
static inline smp_block *link_get(smp_block *b) {
    if (!ZH__TRACK_ENABLED) return b->next;
    zh__track_mem_defined(b, sizeof b->next);
    smp_block *next = b->next;
    zh__track_mem_noaccess(b, sizeof b->next);
    return next;
}
static inline void link_set(smp_block *b, smp_block *next) {
    if (!ZH__TRACK_ENABLED) {
        b->next = next;
        return;
    }
    zh__track_mem_undefined(b, sizeof b->next);
    b->next = next;
    zh__track_mem_noaccess(b, sizeof b->next);
}

/* ---- ownership (zh_smp_owns) ------------------------------------------------------------ */

/* One bit per 16 MiB granule of the address space that holds a segment or a huge
 * header, so that zh_smp_owns can answer for any address without reading memory
 * that may not be mapped (the preload library's free of a foreign pointer). 2 MiB of
 * zero pages for a 48-bit address space, touched only where segments live. */
#if UINTPTR_MAX > 0xffffffffu
#define SMP_ADDRESS_BITS 48
#else
#define SMP_ADDRESS_BITS 32
#endif
#define SMP_GRANULES ((size_t)1 << (SMP_ADDRESS_BITS - SMP_SEGMENT_SHIFT))
static _Atomic(uint64_t) owned_granules[SMP_GRANULES / 64];

static void owned_mark(const void *header, bool on) {
    size_t i = (uintptr_t)header >> SMP_SEGMENT_SHIFT;
    uint64_t bit = (uint64_t)1 << (i % 64);
    if (on) atomic_fetch_or_explicit(&owned_granules[i / 64], bit, memory_order_release);
    else atomic_fetch_and_explicit(&owned_granules[i / 64], ~bit, memory_order_release);
}

static bool owned_granule(const void *header) {
    size_t i = (uintptr_t)header >> SMP_SEGMENT_SHIFT;
    return i < SMP_GRANULES &&
           ((zh__atomic_load_acquire(&owned_granules[i / 64]) >> (i % 64)) & 1);
}

/* ---- unit bitmaps ------------------------------------------------------------------- */

static bool bit_get(const uint64_t *bits, size_t i) { return (bits[i / 64] >> (i % 64)) & 1; }
/* The bits of [i, i + n) that lie in word i / 64, and how many they are. */
static uint64_t bits_word_mask(size_t i, size_t n, size_t *taken) {
    size_t shift = i % 64;
    *taken = 64 - shift < n ? 64 - shift : n;
    uint64_t ones = *taken == 64 ? ~(uint64_t)0 : ((uint64_t)1 << *taken) - 1;
    return ones << shift;
}
static void bits_set(uint64_t *bits, size_t i, size_t n, bool on) {
    for (size_t taken; n > 0; i += taken, n -= taken) {
        uint64_t m = bits_word_mask(i, n, &taken);
        bits[i / 64] = on ? bits[i / 64] | m : bits[i / 64] & ~m;
    }
}
/* The first index >= i whose bit is `value`, or SMP_UNITS: a word at a time. */
static size_t bits_next(const uint64_t *bits, size_t i, bool value) {
    while (i < SMP_UNITS) {
        uint64_t word = value ? bits[i / 64] : ~bits[i / 64];
        word &= ~(uint64_t)0 << (i % 64);
        if (word != 0) return (i & ~(size_t)63) + (size_t)__builtin_ctzll(word);
        i = (i & ~(size_t)63) + 64;
    }
    return SMP_UNITS;
}
static size_t bits_count(const uint64_t *bits, size_t i, size_t n) {
    size_t c = 0;
    for (size_t taken; n > 0; i += taken, n -= taken)
        c += (size_t)__builtin_popcountll(bits[i / 64] & bits_word_mask(i, n, &taken));
    return c;
}

/* Marks units [i, i + n) of seg handed out or free, keeping the word summaries. */
static void used_set(smp_segment *seg, size_t i, size_t n, bool on) {
    bits_set(seg->used, i, n, on);
    for (size_t w = i / 64; w <= (i + n - 1) / 64; w++) {
        uint64_t bit = (uint64_t)1 << w;
        seg->used_full &= ~bit;
        seg->used_none &= ~bit;
        if (seg->used[w] == ~(uint64_t)0) seg->used_full |= bit;
        if (seg->used[w] == 0) seg->used_none |= bit;
    }
}

/* The first unit >= i whose `used` bit is `value`, or SMP_UNITS: words that hold
 * no such bit are skipped through the summary. */
static size_t used_next(const smp_segment *seg, size_t i, bool value) {
    if (i >= SMP_UNITS) return SMP_UNITS;
    size_t w = i / 64;
    uint64_t word = (value ? seg->used[w] : ~seg->used[w]) & (~(uint64_t)0 << (i % 64));
    if (word == 0) {
        uint64_t skip = value ? seg->used_none : seg->used_full; /* words without one */
        uint64_t rest = ~skip & (w + 1 < 64 ? ~(uint64_t)0 << (w + 1) : 0);
        if (SMP_BITMAP_WORDS < 64) rest &= ((uint64_t)1 << SMP_BITMAP_WORDS) - 1;
        if (rest == 0) return SMP_UNITS;
        w = (size_t)__builtin_ctzll(rest);
        word = value ? seg->used[w] : ~seg->used[w];
    }
    return w * 64 + (size_t)__builtin_ctzll(word);
}

/* Whether unit k is free (and, when `resident`, not purged). */
static bool unit_usable(const smp_segment *seg, size_t k, bool resident) {
    return !bit_get(seg->used, k) && (!resident || bit_get(seg->dirty, k));
}

/* First i, a multiple of `step`, with units [i, i + n) free (and resident when
 * asked: reuse without page faults); 0 when none. */
static size_t find_run(const smp_segment *seg, size_t n, size_t step, bool resident) {
    if (n == 1 && step == 1) {
        for (size_t w = 0; w < SMP_BITMAP_WORDS; w++) {
            uint64_t usable = ~seg->used[w] & (resident ? seg->dirty[w] : ~(uint64_t)0);
            if (usable) return w * 64 + (size_t)__builtin_ctzll(usable);
        }
        return 0;
    }
    size_t i = zh__align_forward(SMP_HEADER_UNITS, step);
    while (i + n <= SMP_UNITS) {
        size_t k = 0;
        while (k < n && unit_usable(seg, i + k, resident)) k++;
        if (k == n) return i;
        i = zh__align_forward(i + k + 1, step);
    }
    return 0;
}

/* ---- segments ---------------------------------------------------------------------- */

static void segment_link(smp_segment *seg) {
    seg->prev = NULL;
    seg->next = g.segments;
    if (g.segments) g.segments->prev = seg;
    g.segments = seg;
}

static void segment_unlink(smp_segment *seg) {
    if (seg->prev) seg->prev->next = seg->next;
    else g.segments = seg->next;
    if (seg->next) seg->next->prev = seg->prev;
}

/* Locked. A fresh, fully free segment, or NULL when the OS refuses. */
static smp_segment *segment_new(void) {
    smp_segment *seg = os_map(SMP_SEGMENT_SIZE, SMP_SEGMENT_SIZE);
    if (seg == NULL) return NULL;
    seg->kind = SEGMENT_UNITS;
    seg->free_units = SMP_UNITS - SMP_HEADER_UNITS;
    seg->records_purged = true; /* fresh pages: nothing to purge yet */
    seg->used_none = SMP_BITMAP_WORDS == 64 ? ~(uint64_t)0 : ((uint64_t)1 << SMP_BITMAP_WORDS) - 1;
    used_set(seg, 0, SMP_HEADER_UNITS, true);
    for (size_t k = 0; k < SMP_HEADER_UNITS; k++) seg->pages[k].head = &seg->pages[0];
    owned_mark(seg, true);
    segment_link(seg);
    g.mapped += SMP_SEGMENT_SIZE;
    g.free_unit_bytes += (SMP_UNITS - SMP_HEADER_UNITS) * SMP_UNIT_SIZE;
    g.free_segments++;
    return seg;
}

/* Locked. */
static void segment_free(smp_segment *seg) {
    owned_mark(seg, false);
    segment_unlink(seg);
    g.dirty_unit_bytes -= bits_count(seg->dirty, 0, SMP_UNITS) * SMP_UNIT_SIZE;
    g.free_unit_bytes -= (SMP_UNITS - SMP_HEADER_UNITS) * SMP_UNIT_SIZE;
    g.mapped -= SMP_SEGMENT_SIZE;
    g.free_segments--;
    track_open(unit_address(seg, SMP_HEADER_UNITS),
               SMP_SEGMENT_SIZE - SMP_HEADER_UNITS * SMP_UNIT_SIZE);
    os_unmap(seg, SMP_SEGMENT_SIZE);
}

static bool segment_all_free(const smp_segment *seg) {
    return seg->free_units == SMP_UNITS - SMP_HEADER_UNITS;
}

/* Locked. Takes units [i, i + n) of seg as one run and returns its record. */
static smp_page *run_claim(smp_segment *seg, size_t i, size_t n) {
    if (segment_all_free(seg)) g.free_segments--;
    seg->records_purged = false;
    g.ops++;
    size_t dirty = bits_count(seg->dirty, i, n);
    used_set(seg, i, n, true);
    bits_set(seg->dirty, i, n, false);
    seg->free_units = (uint16_t)(seg->free_units - n);
    g.free_unit_bytes -= n * SMP_UNIT_SIZE;
    g.dirty_unit_bytes -= dirty * SMP_UNIT_SIZE;
    active_add(n * SMP_UNIT_SIZE);
    smp_page *run = &seg->pages[i];
    run->head = run; /* the other units' heads: page_init (a large run needs none) */
    run->span = (uint16_t)n;
    run->index = (uint16_t)i;
    return run;
}

/* The free hole of `seg` that fits n units at a multiple of `step` most tightly
 * (best fit keeps large holes for large runs); false when none fits. */
typedef struct smp_fit {
    smp_segment *seg;
    size_t start, slack;
} smp_fit;

static void best_hole(const smp_segment *seg, size_t n, size_t step, bool resident,
                      smp_fit *best) {
    /* The holes: runs of free units, or of free and resident ones. */
    uint64_t usable[SMP_BITMAP_WORDS];
    if (resident)
        for (size_t w = 0; w < SMP_BITMAP_WORDS; w++) usable[w] = ~seg->used[w] & seg->dirty[w];
    size_t i = SMP_HEADER_UNITS;
    while ((i = resident ? bits_next(usable, i, true) : used_next(seg, i, false)) < SMP_UNITS) {
        size_t end = resident ? bits_next(usable, i, false) : used_next(seg, i, true);
        size_t start = zh__align_forward(i, step);
        if (start + n <= end && (best->seg == NULL || end - start - n < best->slack)) {
            best->seg = (smp_segment *)seg;
            best->start = start;
            best->slack = end - start - n;
            if (best->slack == 0) return;
        }
        i = end;
    }
}

static void enforce_retain_budget(void);

/* Locked. A run of n units starting at a multiple of `step`, or NULL: resident free
 * units first (reuse without page faults), then any free ones. A single unit is the
 * first one found; longer runs go where they fit best. */
static smp_page *run_take(size_t n, size_t step) {
    enforce_retain_budget(); /* the policy's clock also runs on claims */
    for (int resident = 1; resident >= 0; resident--) {
        /* Resident free units first, for pages and large blocks alike: a large block
         * placed over purged units while freed ones stay resident adds both to RSS. */
        if (resident && g.dirty_unit_bytes < n * SMP_UNIT_SIZE) continue;
        smp_fit best = {NULL, 0, 0};
        for (smp_segment *seg = g.segments; seg != NULL && !(best.seg && best.slack == 0);
             seg = seg->next) {
            if (seg->free_units < n) continue;
            if (n == 1 && step == 1) {
                size_t i = find_run(seg, 1, 1, resident);
                if (i != 0) return run_claim(seg, i, 1);
            } else {
                best_hole(seg, n, step, resident, &best);
            }
        }
        if (best.seg != NULL) return run_claim(best.seg, best.start, n);
    }
    smp_segment *seg = segment_new();
    if (seg == NULL) return NULL;
    return run_claim(seg, find_run(seg, n, step, false), n);
}

static size_t retain_budget(void) {
    size_t recent = g.window_peak > g.previous_window_peak ? g.window_peak
                                                           : g.previous_window_peak;
    size_t budget = (g.active > recent ? g.active : recent) * SMP_RETAIN_ACTIVE_FACTOR;
    return budget > SMP_RETAIN_MIN ? budget : SMP_RETAIN_MIN;
}

static void purge_down_to(size_t target);
static void purge_aged(void);

/* Locked. Reads the purge clock (ms, or unit operations without a platform clock)
 * and rolls the active-peak window. */
static void policy_clock_update(void) {
    uint64_t ms = zh__os_monotonic_ms();
    g.now = ms != 0 ? (uint32_t)ms : g.ops;
    if (g.now - g.window_start >= SMP_PURGE_DELAY) {
        g.previous_window_peak = g.window_peak;
        g.window_peak = g.active;
        g.window_start = g.now;
    }
}

/* Locked. After a release: keeps resident free memory within its age and size. */
static void enforce_retain_budget(void) {
    policy_clock_update();
    if (g.now - g.last_age_check >= SMP_PURGE_CHECK) {
        g.last_age_check = g.now;
        purge_aged();
    }
    if (retained_bytes() > retain_budget()) purge_down_to(retain_budget() / 2);
}

/* Locked. Marks units [i, i + n) free and resident. `aged`: they already stayed
 * unused for the purge delay (an idle page), so the next purge takes them. */
static void units_mark_free(smp_segment *seg, size_t i, size_t n, bool aged) {
    size_t bytes = n * SMP_UNIT_SIZE;
    used_set(seg, i, n, false);
    bits_set(seg->dirty, i, n, true);
    g.ops++;
    policy_clock_update();
    uint32_t stamp = aged ? g.now - SMP_PURGE_DELAY - 1 : g.now;
    for (size_t k = i; k < i + n; k++) seg->released_at[k] = stamp;
    seg->free_units = (uint16_t)(seg->free_units + n);
    g.free_unit_bytes += bytes;
    g.dirty_unit_bytes += bytes;
    g.active -= bytes;
    if (!aged) seg->last_release = g.now;
    if (segment_all_free(seg)) g.free_segments++;
}

/* Locked. Gives units [i, i + n) back, resident; the segment goes when it is free
 * and enough free ones are kept. */
static void units_release(smp_segment *seg, size_t i, size_t n) {
    units_mark_free(seg, i, n, false);
    enforce_retain_budget();
}

/* ---- unit tags (docs/smp.md, "Memory layout") ---------------------------------------------- */

/* The tag of unit `place` of the small page pg owned by h (h not NULL). */
static uintptr_t tag_of(const smp_page *pg, const smp_heap *h, size_t place) {
    uintptr_t span_log2 = (uintptr_t)__builtin_ctz(pg->span);
    return (uintptr_t)h | pg->class_index | span_log2 << SMP_TAG_CLASS_BITS |
           place << SMP_TAG_SHAPE_BITS;
}

static smp_heap *tag_owner(uintptr_t tag) { return (smp_heap *)(tag & ~(uintptr_t)SMP_TAG_LOW); }
static unsigned tag_class(uintptr_t tag) {
    return (unsigned)(tag & ((1u << SMP_TAG_CLASS_BITS) - 1));
}
static unsigned tag_shape(uintptr_t tag) { return (unsigned)(tag & (SMP_TAG_SHAPES - 1)); }
/* The unit's place in its page, in units. */
static size_t tag_place(uintptr_t tag) { return (tag & SMP_TAG_LOW) >> SMP_TAG_SHAPE_BITS; }

/* The tag of p's unit, p in the unit segment seg. */
static uintptr_t unit_tag(const smp_segment *seg, const void *p) {
    return zh__atomic_load_relaxed(&seg->tags[unit_of(seg, p)]);
}

/* The first unit of the small page whose unit of p has the tag `tag`. */
static size_t tag_first_unit(const smp_segment *seg, const void *p, uintptr_t tag) {
    return unit_of(seg, p) - tag_place(tag);
}

/* The record of that page. */
static smp_page *tag_page(smp_segment *seg, const void *p, uintptr_t tag) {
    return &seg->pages[tag_first_unit(seg, p, tag)];
}

/* Gives the small page pg to h (NULL: no heap owns it now; also for a run that is
 * not small): its record and its units' tags. */
static void page_set_owner(smp_page *pg, smp_heap *h) {
    bool span_fits = pg->span <= SMP_SMALL_SPAN_MAX && zh__is_pow2(pg->span);
    if (zh__config_safety && h != NULL && !span_fits)
        zh__panic("zh_smp_allocator", "a small page of %u units", (unsigned)pg->span);
    zh__atomic_store_release(&pg->owner, h);
    smp_segment *seg = segment_of(pg);
    for (size_t k = 0; k < pg->span; k++)
        zh__atomic_store_relaxed(&seg->tags[pg->index + k], h != NULL ? tag_of(pg, h, k) : 0);
}

/* Locked. Without the policy check: the caller runs it. */
static void run_mark_free(smp_page *run, bool aged) {
    run->kind = PAGE_FREE;
    page_set_owner(run, NULL);
    units_mark_free(segment_of(run), run->index, run->span, aged);
}

/* Locked. */
static void run_release(smp_page *run) {
    run_mark_free(run, false);
    enforce_retain_budget();
}

/* ---- page lists (owner-only, or locked for the abandoned lists) ------------------------ */

static void list_push(smp_page **list, smp_page *pg) {
    pg->prev = NULL;
    pg->next = *list;
    if (*list) (*list)->prev = pg;
    *list = pg;
}

static void list_remove(smp_page **list, smp_page *pg) {
    if (pg->prev) pg->prev->next = pg->next;
    else *list = pg->next;
    if (pg->next) pg->next->prev = pg->prev;
    pg->prev = pg->next = NULL;
}

/* A heap's queue of a class: a ring (circular, doubly linked) entered by its head,
 * the oldest page; owner-only. */
static void ring_push_back(smp_page **ring, smp_page *pg) {
    smp_page *head = *ring;
    if (head == NULL) {
        pg->prev = pg->next = pg;
        *ring = pg;
        return;
    }
    pg->next = head;
    pg->prev = head->prev;
    head->prev->next = pg;
    head->prev = pg;
}

static void ring_remove(smp_page **ring, smp_page *pg) {
    if (pg->next == pg) {
        *ring = NULL;
    } else {
        pg->prev->next = pg->next;
        pg->next->prev = pg->prev;
        if (*ring == pg) *ring = pg->next;
    }
    pg->prev = pg->next = NULL;
}

/* Takes the head out of a non-empty ring and puts pg at its back, in one step. */
static smp_page *ring_swap_head(smp_page **ring, smp_page *pg) {
    smp_page *head = *ring;
    if (head->next == head) {
        pg->prev = pg->next = pg;
    } else {
        pg->prev = head->prev;
        pg->next = head->next;
        head->prev->next = pg;
        head->next->prev = pg;
    }
    *ring = pg->next;
    head->prev = head->next = NULL;
    return head;
}

/* ---- small pages ------------------------------------------------------------------------ */

static char *page_start(const smp_page *pg) { return unit_address(segment_of(pg), pg->index); }

static bool page_has_room(const smp_page *pg) {
    return pg->free != NULL || pg->bump < pg->bump_end;
}

/* Whether a 32-bit offset is a multiple of d, by one multiplication (Lemire,
 * Kaser and Kurz, "Faster remainder by direct computation", 2019): with
 * t = 2^64 / d rounded up, n % d == 0 exactly when n * t (mod 2^64) < t. */
static uint64_t block_start_test(uint32_t d) { return UINT64_MAX / d + 1; }

static bool is_multiple(uint32_t n, uint64_t test) { return (uint64_t)n * test < test; }

/* Per page shape (class and log2 of the span, the low byte of a tag): the class's
 * block_start_test and the offset of the page's last block, side by side so that
 * the preload free's check finds both with one index; set before the first heap
 * exists. */
typedef struct shape_check {
    uint64_t start_test;
    uint32_t last_start;
} shape_check;
static shape_check shape_checks[SMP_TAG_SHAPES];

/* Whether p is the start of one of a small page's block slots (handed out or
 * not): the page's own fields only, no division. */
static bool page_block_start(const smp_page *pg, const void *p) {
    uintptr_t offset = (uintptr_t)p - pg->start;
    return offset < pg->blocks_len && is_multiple((uint32_t)offset, pg->start_test);
}

/* Turns a fresh run into an empty page of class c owned by h. */
static void page_init(smp_page *pg, smp_heap *h, unsigned c) {
    size_t size = class_block_size[c];
    size_t capacity = pg->span * SMP_UNIT_SIZE / size;
    pg->free = NULL;
    pg->start = (uintptr_t)page_start(pg);
    pg->bump = pg->start;
    pg->bump_end = pg->bump + capacity * size;
    pg->used = 0;
    size_t reuse_free = capacity >= 2 * SMP_REUSE_DIV ? capacity / SMP_REUSE_DIV : 1;
    pg->reuse_at = (uint32_t)(capacity - reuse_free);
    pg->block_size = (uint32_t)size;
    pg->blocks_len = (uint32_t)(capacity * size);
    pg->start_test = block_start_test((uint32_t)size);
    pg->class_index = (uint8_t)c;
    pg->prev = pg->next = NULL;
    pg->empty_since = h->clock;
    pg->allocs_at_empty = (uint32_t)zh__atomic_load_relaxed(&h->allocs[c]);
    pg->kind = PAGE_SMALL;
    smp_segment *seg = segment_of(pg);
    for (size_t k = 1; k < pg->span; k++) seg->pages[pg->index + k].head = pg;
    track_close(page_start(pg), pg->span * SMP_UNIT_SIZE); /* blocks open as handed out */
    page_set_owner(pg, h);
}

/* Locked. A unit of h's chunk for a one-unit page, or NULL (then run_take places it).
 * A unit that is not resident is taken only while no freed unit is (claiming one
 * would add to RSS what reusing the other would not); so is a unit of a new chunk,
 * a word of units that are all free. */
static smp_page *chunk_take(smp_heap *h) {
    bool fresh_ok = g.dirty_unit_bytes == 0;
    smp_segment *seg = h->chunk_seg;
    /* The hint may name a segment unmapped since (its granule then is not ours) or
     * one mapped at the same address later (a valid chunk all the same). */
    if (seg != NULL && owned_granule(seg) && seg->kind == SEGMENT_UNITS) {
        size_t w = h->chunk_word;
        uint64_t usable = ~seg->used[w] & (fresh_ok ? ~(uint64_t)0 : seg->dirty[w]);
        if (usable != 0)
            return run_claim(seg, w * SMP_CHUNK_UNITS + (size_t)__builtin_ctzll(usable), 1);
    }
    if (!fresh_ok) return NULL;
    for (seg = g.segments; seg != NULL; seg = seg->next) {
        if (seg->free_units < SMP_CHUNK_UNITS) continue;
        for (size_t w = 1; w < SMP_BITMAP_WORDS; w++) /* word 0 holds the header */
            if (seg->used[w] == 0) return run_claim(seg, w * SMP_CHUNK_UNITS, 1);
    }
    return NULL;
}

/* Locked. A run of n units (aligned to step) for a page of h: a one-unit page from
 * h's chunk if it can, else where run_take puts it; the chunk of the unit taken
 * becomes h's. */
static smp_page *page_run_take(smp_heap *h, size_t n, size_t step) {
    if (n != 1 || step != 1) return run_take(n, step);
    enforce_retain_budget(); /* as run_take does */
    smp_page *run = chunk_take(h);
    if (run == NULL) run = run_take(1, 1);
    if (run != NULL) {
        h->chunk_seg = segment_of(run);
        h->chunk_word = run->index / SMP_CHUNK_UNITS;
    }
    return run;
}

/* An empty page of class c for h from the segments, or NULL when out of memory. */
static smp_page *page_new(smp_heap *h, unsigned c) {
    global_lock();
    smp_page *pg = page_run_take(h, heap_page_units(h, c), class_page_step(c));
    global_unlock();
    if (pg == NULL) return NULL;
    page_init(pg, h, c);
    h->class_pages[c]++;
    return pg;
}

/* Returns an empty page (used == 0, in no list) to its segment. */
static void page_retire(smp_page *pg) {
    global_lock();
    run_release(pg);
    global_unlock();
}

/* Adopts abandoned pages of class c until one has room (then returned) or
 * SMP_ADOPT_MAX were taken; pages without room join h's queue. */
static smp_page *page_adopt(smp_heap *h, unsigned c) {
    if (zh__atomic_load_relaxed(&g.abandoned_count[c]) == 0) return NULL;
    smp_page *found = NULL;
    global_lock();
    for (int k = 0; k < SMP_ADOPT_MAX && g.abandoned[c] != NULL && found == NULL; k++) {
        smp_page *pg = g.abandoned[c];
        list_remove(&g.abandoned[c], pg);
        zh__atomic_sub_relaxed(&g.abandoned_count[c], 1);
        page_set_owner(pg, h);
        h->class_pages[c]++;
        if (page_has_room(pg)) found = pg;
        else ring_push_back(&h->queue[c], pg);
    }
    global_unlock();
    return found;
}

/* ---- thread heaps ------------------------------------------------------------------------- */

static void heap_reset_lists(smp_heap *h) {
    for (unsigned c = 0; c < SMP_CLASSES; c++) {
        h->current[c] = &empty_page;
        h->queue[c] = NULL;
        h->class_pages[c] = 0;
    }
    h->spare_count = 0;
    h->spare_units = 0;
    h->idle_classes = 0;
}

/* Locked. A heap record from the pool or freshly carved, or NULL. */
static smp_heap *heap_record_new(void) {
    smp_heap *h = g.heap_pool;
    if (h != NULL) {
        g.heap_pool = h->pool_next;
        return h;
    }
    size_t size = zh__align_forward(sizeof(smp_heap), SMP_HEAP_ALIGN); /* tag_of */
    if ((size_t)(g.meta_end - g.meta_next) < size) {
        size_t chunk = zh__align_forward(64 * size, os()->page_size);
        char *p = os_map(chunk, SMP_HEAP_ALIGN);
        if (p == NULL) return NULL;
        g.mapped += chunk;
        g.meta_next = p;
        g.meta_end = p + chunk;
    }
    h = (smp_heap *)g.meta_next;
    g.meta_next += size;
    heap_reset_lists(h);
    h->all_next = g.heaps;
    g.heaps = h;
    g.heaps_created++;
    return h;
}

static ZH_NOINLINE void small_free_to(smp_page *pg, smp_block *b, smp_heap *owner);
static void heap_drain_remote(smp_heap *h);
static void heap_pass_on_remote(smp_heap *h);
static void outbox_flush(smp_heap *h);

/* Called at thread exit with the thread's heap: its batches of remote frees are
 * sent, empty pages go back, the others are abandoned for adoption, and the record
 * returns to the pool. */
static void heap_release(smp_heap *h) {
    outbox_flush(h);
    heap_drain_remote(h);
    for (unsigned c = 0; c < SMP_CLASSES; c++) {
        smp_page *queue = h->queue[c];
        if (queue != NULL) queue->prev->next = NULL; /* the ring as a list */
        smp_page *lists[2] = {h->current[c] != &empty_page ? h->current[c] : NULL, queue};
        h->current[c] = &empty_page;
        h->queue[c] = NULL;
        h->class_pages[c] = 0;
        h->idle_classes = 0;
        global_lock();
        for (int l = 0; l < 2; l++) {
            smp_page *pg = lists[l];
            while (pg != NULL) {
                smp_page *next = l == 0 ? NULL : pg->next;
                if (pg->used == 0) {
                    run_release(pg);
                } else {
                    page_set_owner(pg, NULL);
                    list_push(&g.abandoned[c], pg);
                    zh__atomic_add_relaxed(&g.abandoned_count[c], 1);
                }
                pg = next;
            }
        }
        global_unlock();
    }
    global_lock();
    while (h->spare_count > 0) run_release(h->spares[--h->spare_count]);
    h->spare_units = 0;
    h->chunk_seg = NULL; /* the record's next thread starts a chunk of its own */
    global_unlock();
    atomic_store_explicit(&h->released, true, memory_order_seq_cst);
    heap_pass_on_remote(h); /* frees that raced with the abandoning */
    global_lock();
    h->in_use = false;
    h->pool_next = g.heap_pool;
    g.heap_pool = h;
    g.heaps_live--;
    global_unlock();
}

static void heap_thread_exit(void *value) {
    heap_release(value);
    tl_heap = NULL;
}

static void fork_prepare(void) { global_lock(); }
static void fork_parent(void) { global_unlock(); }
static void fork_child(void) { global_unlock(); }

static void init_process(void *unused) {
    (void)unused;
    for (unsigned c = 0; c < SMP_CLASSES; c++) {
        uint32_t size = class_block_size[c];
        for (unsigned s = 0; s < 1u << SMP_TAG_SPAN_BITS; s++) {
            uint32_t page = (uint32_t)SMP_UNIT_SIZE << s;
            uint32_t last = page < size ? 0 : (page / size - 1) * size;
            shape_checks[c | s << SMP_TAG_CLASS_BITS] = (shape_check){block_start_test(size), last};
        }
    }
    heap_key_ok = zh__tls_key_create(&heap_key, heap_thread_exit);
    zh__os_atfork(fork_prepare, fork_parent, fork_child);
}

static uint32_t heap_clock(smp_heap *h);

/* The calling thread's heap, created on first use; NULL when out of memory. */
static ZH_NOINLINE smp_heap *heap_attach(void) {
    zh__os_once(&init_once, init_process, NULL);
    global_lock();
    track_setup();
    smp_heap *h = heap_record_new();
    if (h != NULL) {
        h->in_use = true;
        g.heaps_live++;
    }
    global_unlock();
    if (h == NULL) return NULL;
    atomic_store_explicit(&h->released, false, memory_order_seq_cst);
    heap_clock(h); /* its pages' empty times start from now, not from a previous owner */
    heap_pass_on_remote(h); /* frees that reached the record after its last owner left */
    if (heap_key_ok) zh__tls_set(heap_key, h);
    tl_heap = h;
    return h;
}

/* ---- idle pages (docs/smp.md, "Giving memory back") ------------------------------------------ */

/* The purge clock as this heap sees it (ms; without a platform clock, a count of
 * its reads). */
static uint32_t heap_clock(smp_heap *h) {
    uint64_t ms = zh__os_monotonic_ms();
    h->clock = ms != 0 ? (uint32_t)ms : h->clock + 1;
    return h->clock;
}

/* An empty page of the heap's own that has stayed so for the purge delay. */
static bool page_idle(const smp_page *pg, uint32_t now) {
    return pg != &empty_page && pg->used == 0 && now - pg->empty_since > SMP_PURGE_DELAY;
}

/* Locked. Gives back h's current and spare pages that stayed empty for the purge
 * delay (already aged: the purge that follows takes them); the classes left without
 * an empty page stop being candidates. */
static void heap_retire_idle(smp_heap *h, uint32_t now) {
    for (uint64_t bits = h->idle_classes & ~SMP_IDLE_SPARES; bits != 0; bits &= bits - 1) {
        unsigned c = (unsigned)__builtin_ctzll(bits);
        if (page_idle(h->current[c], now)) {
            run_mark_free(h->current[c], true);
            h->current[c] = &empty_page;
            h->class_pages[c]--;
        }
        bool empty_current = h->current[c] != &empty_page && h->current[c]->used == 0;
        if (!empty_current) h->idle_classes &= ~((uint64_t)1 << c);
    }
    uint32_t kept = 0, kept_units = 0;
    for (uint32_t k = 0; k < h->spare_count; k++) {
        smp_page *pg = h->spares[k];
        if (page_idle(pg, now)) {
            run_mark_free(pg, true);
        } else {
            h->spares[kept++] = pg;
            kept_units += pg->span;
        }
    }
    h->spare_count = kept;
    h->spare_units = kept_units;
    if (kept == 0) h->idle_classes &= ~SMP_IDLE_SPARES;
}

/* The owner's idle check, at most every SMP_PURGE_CHECK: its idle pages go back,
 * then what stayed free process-wide for the delay is purged. */
static ZH_NOINLINE void heap_idle_check(smp_heap *h, uint32_t now) {
    if (now - h->last_idle_check < SMP_PURGE_CHECK) return;
    h->last_idle_check = now;
    outbox_flush(h);
    global_lock();
    heap_retire_idle(h, now);
    policy_clock_update();
    g.last_age_check = g.now;
    purge_aged();
    enforce_retain_budget();
    global_unlock();
}

/* A page of h (its current page or its new spare) just became empty. The clock is
 * read only when there is something else to give back (another idle page of h, or
 * resident free memory anywhere), so a block allocated and freed in a loop costs no
 * clock read once the process is settled. */
static void page_became_idle(smp_heap *h, smp_page *pg) {
    unsigned c = pg->class_index;
    uint64_t bit = (uint64_t)1 << c;
    bool others = (h->idle_classes & ~bit) != 0 || zh__atomic_load_relaxed(&g.work_pending);
    h->idle_classes |= bit;
    uint32_t allocs = (uint32_t)zh__atomic_load_relaxed(&h->allocs[c]);
    bool brief = allocs - pg->allocs_at_empty <= SMP_IDLE_BRIEF_USE;
    pg->allocs_at_empty = allocs;
    uint32_t now = others ? heap_clock(h) : h->clock;
    if (!brief) pg->empty_since = now;
    if (others) heap_idle_check(h, now);
}

/* ---- small blocks -------------------------------------------------------------------------- */

/* A block of class c from pg, which has room. The next block of the free list is
 * fetched ahead: a page's free blocks were freed long ago and are out of the
 * caches, and the program writes the block the next allocation of the class returns
 * (docs/benchmarks.md, "A prefetch of the next free block, measured again"). */
static inline void *page_pop(smp_heap *h, smp_page *pg, unsigned c) {
    smp_block *b = pg->free;
    if (ZH__LIKELY(b != NULL)) {
        smp_block *next = link_get(b);
        pg->free = next;
        ZH__PREFETCH_WRITE(next);
    } else {
        b = (smp_block *)pg->bump;
        pg->bump += pg->block_size;
    }
    pg->used++;
    count_owned(&h->allocs[c]);
    return b;
}

/* Whether a queued page has enough free blocks to be used again. */
static bool page_reusable(const smp_page *pg) { return pg->used <= pg->reuse_at; }

/* The first of the oldest SMP_QUEUE_SCAN pages of h's queue of class c that is
 * reusable, taken out of the queue; NULL when none is. The pages passed over move to
 * the back. */
static smp_page *queue_take(smp_heap *h, unsigned c) {
    smp_page *head = h->queue[c];
    if (head == NULL) return NULL;
    smp_page *pg = head;
    size_t n = 0;
    do {
        if (page_reusable(pg)) {
            h->queue[c] = pg;
            ring_remove(&h->queue[c], pg);
            return pg;
        }
        pg = pg->next;
    } while (pg != head && ++n < SMP_QUEUE_SCAN);
    h->queue[c] = pg;
    return NULL;
}

/* An empty page for class c from h's spares (the newest that fits: no longer than a
 * new page of the class would be, made over for c if it served another class), or
 * NULL. */
static smp_page *spare_take(smp_heap *h, unsigned c) {
    if (h->spare_count == 0) return NULL;
    size_t least = class_page_units(c), most = heap_page_units(h, c), step = class_page_step(c);
    for (uint32_t k = h->spare_count; k-- > 0;) {
        smp_page *pg = h->spares[k];
        if (pg->span < least || pg->span > most || pg->index % step != 0) continue;
        h->spares[k] = h->spares[--h->spare_count];
        h->spare_units -= pg->span;
        if (pg->class_index != c) page_init(pg, h, c);
        h->class_pages[c]++;
        return pg;
    }
    return NULL;
}

/* The current page of class c has no room: the general case. */
static ZH_NOINLINE void *small_alloc_refill(smp_heap *h, unsigned c, bool idle_due) {
    if (zh__atomic_load_relaxed(&h->remote) != NULL) heap_drain_remote(h);
    if (idle_due) heap_idle_check(h, heap_clock(h));
    smp_page *pg = h->current[c];
    if (page_has_room(pg)) return page_pop(h, pg, c);
    if (pg != &empty_page) {
        ring_push_back(&h->queue[c], pg);
        h->current[c] = &empty_page;
    }
    pg = queue_take(h, c);
    if (pg == NULL) pg = spare_take(h, c);
    if (pg == NULL) {
        /* To the global lists: idle pages first (they may be what is taken). */
        if (!idle_due && h->idle_classes != 0) heap_idle_check(h, heap_clock(h));
        outbox_flush(h); /* the global lists: a slow path anyway */
        pg = page_adopt(h, c);
    }
    if (pg == NULL) pg = page_new(h, c);
    if (pg == NULL) return NULL;
    h->current[c] = pg;
    return page_pop(h, pg, c);
}

/* The current page of class c has no room. The common case - the oldest queued page
 * is reusable, no remote frees wait and no idle check is due (one in
 * SMP_IDLE_CHECK_TRIPS switches) - swaps the two without saving a register. */
static ZH_NOINLINE void *small_alloc_slow(smp_heap *h, unsigned c) {
    smp_page *pg = h->current[c], *next = h->queue[c];
    bool idle_due = h->idle_classes != 0 && ++h->idle_trips % SMP_IDLE_CHECK_TRIPS == 0;
    if (next == NULL || pg == &empty_page || zh__atomic_load_relaxed(&h->remote) != NULL ||
        idle_due)
        return small_alloc_refill(h, c, idle_due);
    for (int k = 0; !page_reusable(next); k++) {
        if (k == SMP_QUEUE_PROBES) return small_alloc_refill(h, c, false);
        next = next->next;
    }
    h->queue[c] = next; /* the pages passed over move to the back */
    h->current[c] = ring_swap_head(&h->queue[c], pg);
    return page_pop(h, next, c);
}

/* A block of class c from h's current page, or NULL when the slow path is needed
 * (kept apart so that a caller can tail-call its own slow path). */
static inline void *small_alloc_fast(smp_heap *h, unsigned c) {
    smp_page *pg = h->current[c];
    return ZH__LIKELY(page_has_room(pg)) ? page_pop(h, pg, c) : NULL;
}

static inline void *small_alloc(smp_heap *h, unsigned c) {
    void *p = small_alloc_fast(h, c);
    return ZH__LIKELY(p != NULL) ? p : small_alloc_slow(h, c);
}

/* A page of h that just became empty: the current page stays (until idle), a
 * queued one becomes the class's spare or goes back. */
static ZH_NOINLINE void page_free_slow(smp_heap *h, smp_page *pg) {
    unsigned c = pg->class_index;
    if (pg == h->current[c]) {
        page_became_idle(h, pg);
        return;
    }
    ring_remove(&h->queue[c], pg);
    h->class_pages[c]--;
    /* Empty pages wait for reuse by any class: churn around a page boundary, or a
     * producer whose pages a consumer empties, then costs no trip to the segments. */
    if (h->spare_units + pg->span <= SMP_HEAP_SPARE_UNITS) { /* a page spans a unit or more */
        h->spares[h->spare_count++] = pg;
        h->spare_units += pg->span;
        page_became_idle(h, pg);
        h->idle_classes |= SMP_IDLE_SPARES;
        return;
    }
    page_retire(pg);
}

/* b, of class c, back into its page pg of h. */
static inline void page_put(smp_heap *h, smp_page *pg, unsigned c, smp_block *b) {
    link_set(b, pg->free);
    pg->free = b;
    count_owned(&h->frees[c]);
    if (ZH__UNLIKELY(--pg->used == 0)) page_free_slow(h, pg);
}

/* A free into a page without an owner, under the global lock (adoption takes it
 * too, so the page cannot change hands meanwhile). */
static void small_free_abandoned(smp_page *pg, smp_block *b) {
    global_lock();
    smp_heap *owner = zh__atomic_load_acquire(&pg->owner);
    if (owner != NULL) { /* adopted meanwhile */
        global_unlock();
        small_free_to(pg, b, owner);
        return;
    }
    unsigned c = pg->class_index;
    link_set(b, pg->free);
    pg->free = b;
    g.abandoned_frees[c]++;
    if (--pg->used == 0) {
        list_remove(&g.abandoned[c], pg);
        zh__atomic_sub_relaxed(&g.abandoned_count[c], 1);
        run_release(pg);
    }
    global_unlock();
}

/* Publishes an entry (a block, or a batch's tagged address) on owner's remote list,
 * linked through the word at `link`. */
static void remote_post(smp_heap *owner, smp_block *link, smp_block *entry) {
    smp_block *top = zh__atomic_load_relaxed(&owner->remote);
    do {
        link_set(link, top);
    } while (!atomic_compare_exchange_weak_explicit(&owner->remote, &top, entry,
                                                    memory_order_seq_cst, memory_order_relaxed));
    /* The owner may have left after we read it from the page, and drained for the
     * last time before our push: then the entry is ours to pass on. (Sequentially
     * consistent push and flag: either its final drain sees the entry or this load
     * sees the flag.) */
    if (ZH__UNLIKELY(atomic_load_explicit(&owner->released, memory_order_seq_cst)))
        heap_pass_on_remote(owner);
}

/* Hands b to the heap owning its page (not the calling thread's), at once. */
static ZH_NOINLINE void small_free_to(smp_page *pg, smp_block *b, smp_heap *owner) {
    if (owner == NULL) small_free_abandoned(pg, b);
    else remote_post(owner, b, b);
}

/* A remote list entry is a block or a batch; a batch's address has bit 0 set (blocks
 * are 16-byte aligned). */
static smp_block *msg_entry(smp_msg *m) { return (smp_block *)((uintptr_t)m | 1); }
static smp_msg *entry_msg(smp_block *e) {
    return ((uintptr_t)e & 1) ? (smp_msg *)((uintptr_t)e - 1) : NULL;
}

/* b, which another thread freed, from a remote list: freed into its page if `mine`
 * (the calling thread's heap, or NULL) owns it, else handed on to whoever does. */
static void remote_block_free(smp_heap *mine, smp_block *b) {
    smp_segment *seg = segment_of(b);
    uintptr_t tag = unit_tag(seg, b);
    if (tag_owner(tag) == mine && mine != NULL) {
        page_put(mine, tag_page(seg, b, tag), tag_class(tag), b);
        return;
    }
    smp_page *pg = page_of(seg, b);
    small_free_to(pg, b, zh__atomic_load_acquire(&pg->owner));
}

/* Frees every entry of a remote list the calling thread took (its own heap's when
 * `mine` is not NULL). A batch's blocks first (independent loads), then the batch
 * itself - straight to its sender, never into an outbox, so this allocates nothing. */
static void remote_list_free(smp_heap *mine, smp_block *e) {
    while (e != NULL) {
        smp_msg *m = entry_msg(e);
        smp_block *next = link_get(m != NULL ? &m->link : e);
        if (m == NULL) {
            remote_block_free(mine, e);
        } else {
            for (uint32_t k = 0; k < m->count; k++) remote_block_free(mine, m->blocks[k]);
            track_giveback(m);
            remote_block_free(mine, &m->link);
        }
        e = next;
    }
}

/* Empties the remote list of a heap whose thread left (or that a new thread just
 * took), handing each block to whoever owns its page now - never freeing it into h
 * from here: h may have a new owner thread meanwhile. */
static void heap_pass_on_remote(smp_heap *h) {
    remote_list_free(NULL, atomic_exchange_explicit(&h->remote, NULL, memory_order_seq_cst));
}

/* Frees every block other threads sent to h. */
static void heap_drain_remote(smp_heap *h) {
    if (zh__atomic_load_relaxed(&h->remote) == NULL) return;
    remote_list_free(h, zh__atomic_exchange_acq_rel(&h->remote, NULL));
}

/* ---- batches of remote frees (docs/smp.md, "Threads") ---------------------------------- */

static unsigned outbox_slot(const smp_heap *owner) {
    /* Fibonacci hashing of the record's address: heaps are cache-line apart. */
    return (unsigned)(((uintptr_t)owner >> 6) * UINT64_C(0x9e3779b97f4a7c15) >> 61) %
           SMP_OUTBOX_SLOTS;
}

static void outbox_send(smp_heap *h, unsigned slot) {
    smp_outbox *o = &h->outbox[slot];
    smp_msg *m = o->msg;
    o->msg = NULL;
    h->outbox_pending &= ~(1u << slot);
    remote_post(o->owner, &m->link, msg_entry(m));
}

/* Sends every batch h holds: on its slow paths, at thread exit and on trim, so what
 * waits is bounded in time by the thread's own activity. */
static void outbox_flush(smp_heap *h) {
    while (h->outbox_pending != 0) outbox_send(h, (unsigned)__builtin_ctz(h->outbox_pending));
}

static void *small_alloc(smp_heap *h, unsigned c);

/* A new batch for h's outbox slot `slot`, addressed to owner, or NULL when out of
 * memory. The batch the slot held, if any, is sent first (after the allocation:
 * it may take h's slow path, which may send batches itself). */
static smp_msg *outbox_open(smp_heap *h, unsigned slot, smp_heap *owner) {
    smp_msg *m = track_handout(small_alloc(h, class_direct_of(SMP_MSG_SIZE)), sizeof *m);
    if (m == NULL) return NULL;
    if (h->outbox[slot].msg != NULL) outbox_send(h, slot);
    m->count = 0;
    m->bytes = 0;
    h->outbox[slot] = (smp_outbox){owner, m};
    h->outbox_pending |= 1u << slot;
    return m;
}

/* h's thread frees b into a page that owner (another heap) holds: into the batch
 * for owner, sent when full. */
static void outbox_add(smp_heap *h, smp_heap *owner, smp_block *b, uint32_t size) {
    unsigned slot = outbox_slot(owner);
    smp_msg *m = h->outbox[slot].msg;
    if (m == NULL || h->outbox[slot].owner != owner) {
        m = outbox_open(h, slot, owner);
        if (ZH__UNLIKELY(m == NULL)) {
            remote_post(owner, b, b);
            return;
        }
    }
    m->blocks[m->count++] = b;
    m->bytes += size;
    if (m->count == SMP_MSG_BLOCKS || m->bytes >= SMP_MSG_BYTES) outbox_send(h, slot);
}

/* A free by the calling thread (its heap me, if any) of b, of `size` bytes, in the
 * small page pg that another heap, owner (NULL: none), holds. */
static ZH_NOINLINE void small_free_remote(smp_heap *me, smp_page *pg, smp_block *b,
                                          smp_heap *owner, uint32_t size) {
    /* A thread that only frees (a consumer) gets a heap for its outbox. */
    if (me == NULL && owner != NULL) me = heap_attach();
    if (me == NULL || owner == NULL) small_free_to(pg, b, owner);
    else outbox_add(me, owner, b, size);
}

/* Frees p, in a unit of seg whose tag is tag (not 0), without the page record's
 * shared half: the calling thread's own page, or into a batch for the owner the tag
 * names (a later owner, if it changed hands meanwhile, gets it from there). */
static inline void small_free_tagged(smp_segment *seg, void *p, uintptr_t tag) {
    smp_heap *me = tl_heap, *owner = tag_owner(tag);
    smp_page *pg = tag_page(seg, p, tag);
    if (ZH__LIKELY(owner == me)) page_put(me, pg, tag_class(tag), p);
    else small_free_remote(me, pg, p, owner, class_block_size[tag_class(tag)]);
}

/* Frees p, of the small page pg, by its record (a page no heap owns, or one that
 * changed hands since its tag was read). */
static void small_free(smp_page *pg, void *p) {
    smp_heap *owner = zh__atomic_load_acquire(&pg->owner);
    smp_heap *me = tl_heap;
    if (owner == me && me != NULL) page_put(me, pg, pg->class_index, p);
    else small_free_remote(me, pg, p, owner, pg->block_size);
}

/* ---- large blocks (unit runs) ----------------------------------------------------------------- */

static size_t units_for(size_t len) {
    return zh__align_forward(len, SMP_UNIT_SIZE) >> SMP_UNIT_SHIFT;
}

static bool is_large(size_t len, size_t alignment) {
    return len <= SMP_LARGE_MAX && alignment <= SMP_LARGE_MAX;
}

static ZH_NOINLINE void *large_alloc(size_t len, size_t alignment) {
    size_t n = units_for(len);
    size_t step = alignment > SMP_UNIT_SIZE ? alignment >> SMP_UNIT_SHIFT : 1;
    global_lock();
    track_setup();
    smp_page *run = run_take(n, step);
    if (run != NULL) {
        run->kind = PAGE_LARGE;
        g.large_live++;
        g.large_bytes += n * SMP_UNIT_SIZE;
    }
    global_unlock();
    return run != NULL ? page_start(run) : NULL;
}

static ZH_NOINLINE void large_free(smp_page *run) {
    global_lock();
    g.large_live--;
    g.large_bytes -= run->span * SMP_UNIT_SIZE;
    run_release(run);
    global_unlock();
}

/* Changes the run to n units in place: gives tail units back or takes the free
 * units after it. */
static bool large_resize(smp_page *run, size_t n) {
    if (n == run->span) return true;
    if (n > SMP_LARGE_MAX_UNITS) return false;
    smp_segment *seg = segment_of(run);
    size_t i = run->index, old = run->span;
    bool ok = true;
    if (n < old) track_close(unit_address(seg, i + n), (old - n) * SMP_UNIT_SIZE);
    global_lock();
    if (n < old) {
        units_release(seg, i + n, old - n);
        g.large_bytes -= (old - n) * SMP_UNIT_SIZE;
        run->span = (uint16_t)n;
    } else if (i + n <= SMP_UNITS && bits_count(seg->used, i + old, n - old) == 0) {
        run_claim(seg, i + old, n - old)->head = run;
        g.large_bytes += (n - old) * SMP_UNIT_SIZE;
        run->span = (uint16_t)n;
    } else {
        ok = false;
    }
    global_unlock();
    return ok;
}

/* ---- huge blocks (own mappings) --------------------------------------------------------------- */

/* Where the block goes in a mapping of at least the segment alignment. */
static size_t huge_offset(size_t alignment) {
    return alignment > SMP_HUGE_HEADER ? alignment : SMP_HUGE_HEADER;
}

static smp_huge *huge_header(char *block, size_t alignment) {
    return alignment >= SMP_SEGMENT_SIZE ? (smp_huge *)(block - SMP_SEGMENT_SIZE)
                                         : (smp_huge *)segment_of(block);
}

/* Locked. Takes entry k out of the cache. */
static smp_huge *huge_cache_remove(size_t k) {
    smp_huge *m = g.huge_cache[k];
    for (size_t j = k + 1; j < g.huge_cached; j++) g.huge_cache[j - 1] = g.huge_cache[j];
    g.huge_cached--;
    if (m->purged) g.huge_purged_bytes -= m->map_len;
    else g.huge_dirty_bytes -= m->map_len;
    return m;
}

/* Locked. A cached mapping of at least `need` bytes (at most twice that), or NULL. */
static smp_huge *huge_cache_take(size_t need) {
    for (size_t k = 0; k < g.huge_cached; k++) {
        size_t len = g.huge_cache[k]->map_len;
        if (len >= need && len / 2 <= need) return huge_cache_remove(k);
    }
    return NULL;
}

static ZH_NOINLINE void *huge_alloc(size_t len, size_t alignment) {
    size_t off = huge_offset(alignment);
    size_t need;
    if (len > SIZE_MAX - off || !zh__align_forward_checked(off + len, os()->page_size, &need))
        return NULL;
    smp_huge *m = NULL;
    char *base = NULL;
    if (alignment < SMP_SEGMENT_SIZE) {
        global_lock();
        m = huge_cache_take(need);
        global_unlock();
    }
    if (m != NULL) {
        base = m->base;
        need = m->map_len;
    } else {
        base = os_map(need, alignment < SMP_SEGMENT_SIZE ? SMP_SEGMENT_SIZE : alignment);
        if (base == NULL) return NULL;
        global_lock();
        g.mapped += need;
        global_unlock();
    }
    char *block = base + off;
    m = huge_header(block, alignment);
    m->kind = SEGMENT_HUGE;
    m->purged = false;
    m->base = base;
    m->map_len = need;
    m->block = block;
    owned_mark(m, true);
    global_lock();
    track_setup();
    active_add(need);
    g.large_live++;
    g.large_bytes += need - off;
    global_unlock();
    return block;
}

static size_t huge_usable(const smp_huge *m) {
    return m->map_len - (size_t)(m->block - m->base);
}

/* Locked. Unmaps a mapping that leaves the allocator. */
static void huge_unmap(smp_huge *m) {
    g.mapped -= m->map_len;
    owned_mark(m, false);
    track_open(m->block, huge_usable(m));
    os_unmap(m->base, m->map_len);
}

static ZH_NOINLINE void huge_free(smp_huge *m) {
    bool cacheable = m->map_len <= SMP_HUGE_CACHE_MAX_LEN && (char *)m == m->base;
    global_lock();
    g.active -= m->map_len;
    g.large_live--;
    g.large_bytes -= huge_usable(m);
    if (!cacheable) {
        huge_unmap(m);
    } else {
        if (g.huge_cached == SMP_HUGE_CACHE_SLOTS) huge_unmap(huge_cache_remove(0));
        m->purged = false;
        m->released_at = g.now;
        g.huge_dirty_bytes += m->map_len;
        g.huge_cache[g.huge_cached++] = m;
        enforce_retain_budget();
    }
    global_unlock();
}

/* In place: within the mapping, or by growing or shrinking it where the OS can. */
static bool huge_resize(smp_huge *m, size_t new_len) {
    size_t off = (size_t)(m->block - m->base);
    size_t new_map;
    if (new_len > SIZE_MAX - off ||
        !zh__align_forward_checked(off + new_len, os()->page_size, &new_map))
        return false;
    if (new_map == m->map_len) return true;
    bool ok;
    if (new_map < m->map_len) {
        /* Keep the mapping unless at least half of it would go. */
        if (new_map > m->map_len / 2 || !(os()->caps & ZH__OS_CAN_SHRINK)) return true;
        track_open(m->base + new_map, m->map_len - new_map); /* may leave the process */
        ok = zh__os_shrink(m->base, m->map_len, new_map);
    } else {
        ok = (os()->caps & ZH__OS_CAN_GROW) && zh__os_grow(m->base, m->map_len, new_map);
    }
    if (!ok) return new_map < m->map_len;
    global_lock();
    g.mapped = g.mapped - m->map_len + new_map;
    g.active = g.active - m->map_len + new_map;
    active_add(0);
    g.large_bytes = g.large_bytes - m->map_len + new_map;
    global_unlock();
    m->map_len = new_map;
    return true;
}

/* ---- the vtable ---------------------------------------------------------------------------- */

/* The record of a live block: its segment is units (page set) or huge. */
typedef struct smp_where {
    smp_segment *seg;
    smp_page *page; /* NULL for huge */
} smp_where;

static smp_where where_is(const void *p) {
    smp_where w = {segment_of(p), NULL};
    if (ZH__LIKELY(w.seg->kind == SEGMENT_UNITS)) w.page = page_of(w.seg, p);
    return w;
}

static void check_live(const char *call, const void *p, smp_where w) {
    if (!zh__config_safety) return;
    if (w.seg->kind != SEGMENT_UNITS && w.seg->kind != SEGMENT_HUGE)
        zh__panic(call, "%p is not a block of zh_smp_allocator", p);
    if (w.page != NULL && w.page->kind == PAGE_FREE)
        zh__panic(call, "%p is not a live block (double free?)", p);
    if (w.page != NULL && w.page->kind == PAGE_SMALL && !page_block_start(w.page, p))
        zh__panic(call, "%p is not the start of a block", p);
}

static size_t usable_of(const void *p, smp_where w) {
    if (w.page == NULL) return huge_usable((const smp_huge *)w.seg);
    if (w.page->kind == PAGE_SMALL) return w.page->block_size;
    return (size_t)w.page->span * SMP_UNIT_SIZE - ((uintptr_t)p - (uintptr_t)page_start(w.page));
}

static size_t block_usable(const void *p) { return usable_of(p, where_is(p)); }

/* The caller's length and alignment must describe the block (safety builds). */
static void check_request(const char *call, const void *p, smp_where w, size_t len,
                          zh_align align) {
    if (!zh__config_safety) return;
    check_live(call, p, w);
    unsigned c = class_for(len, align);
    bool small = w.page != NULL && w.page->kind == PAGE_SMALL;
    if (small && c != w.page->class_index)
        zh__panic(call, "%p: length %zu (alignment %zu) is not the block's size class (%u bytes)",
                  p, len, zh_align_to_bytes(align), (unsigned)w.page->block_size);
    if (!small && (c != SMP_NOT_SMALL || len > usable_of(p, w)))
        zh__panic(call, "%p: length %zu does not match the large block", p, len);
}

/* Kept out of line so that the small path needs no saved registers. */
static ZH_NOINLINE void *not_small_alloc(size_t len, size_t alignment) {
    return is_large(len, alignment) ? large_alloc(len, alignment) : huge_alloc(len, alignment);
}

/* A thread's first allocation: its heap is created first. */
static ZH_NOINLINE void *small_alloc_first(unsigned c) {
    smp_heap *h = heap_attach();
    return h != NULL ? small_alloc(h, c) : NULL;
}

static inline void *small_alloc_class(unsigned c) {
    smp_heap *h = tl_heap;
    if (ZH__UNLIKELY(h == NULL)) return small_alloc_first(c);
    return small_alloc(h, c);
}

static void *smp_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ctx;
    (void)ret_addr;
    /* The common sizes first, without class_for's bound check. */
    if (ZH__LIKELY(direct_request(len, align)))
        return track_handout(small_alloc_class(class_direct_of(len)), len);
    unsigned c = class_for(len, align);
    if (ZH__LIKELY(c < SMP_CLASSES)) return track_handout(small_alloc_class(c), len);
    return track_handout(not_small_alloc(len, zh_align_to_bytes(align)), len);
}

/* Zig's rule: a block stays in its category (small or large). */
static bool resize_in_place(void *mem, size_t len, zh_align align, size_t new_len) {
    smp_where w = where_is(mem);
    check_request("zh_smp_allocator: resize", mem, w, len, align);
    unsigned new_class = class_for(new_len, align);
    if (w.page != NULL && w.page->kind == PAGE_SMALL) return new_class == w.page->class_index;
    if (new_class != SMP_NOT_SMALL) return false;
    if (w.page == NULL) return huge_resize((smp_huge *)w.seg, new_len);
    return large_resize(w.page, units_for(new_len));
}

static bool smp_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                       uintptr_t ret_addr) {
    (void)ctx;
    (void)ret_addr;
    bool ok = resize_in_place(mem, len, align, new_len);
    if (ok) track_resized(mem, len, new_len);
    return ok;
}

/* Never moves: a move between mappings would lose the address lookup. */
static void *smp_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                       uintptr_t ret_addr) {
    return smp_resize(ctx, mem, len, align, new_len, ret_addr) ? mem : NULL;
}

/* Frees p, a live block of the segment or huge mapping seg: a block of a page some
 * heap owns by its unit's tag, the others by their records. */
static inline void free_block(void *p, smp_segment *seg) {
    track_giveback(p);
    if (ZH__UNLIKELY(seg->kind != SEGMENT_UNITS)) {
        huge_free((smp_huge *)seg);
        return;
    }
    uintptr_t tag = unit_tag(seg, p);
    if (ZH__LIKELY(tag != 0)) {
        small_free_tagged(seg, p, tag);
        return;
    }
    smp_page *pg = page_of(seg, p);
    if (ZH__LIKELY(pg->kind == PAGE_SMALL)) small_free(pg, p);
    else large_free(pg);
}

static void smp_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ctx;
    (void)ret_addr;
    if (zh__config_safety) check_request("zh_smp_allocator: free", mem, where_is(mem), len, align);
    free_block(mem, segment_of(mem));
}

static const zh_allocator_vtable smp_vtable = {
    .alloc = smp_alloc,
    .resize = smp_resize,
    .remap = smp_remap,
    .free = smp_free,
};

const zh_allocator zh_smp_allocator = {.ctx = NULL, .vtable = &smp_vtable};

/* ---- beyond the vtable ------------------------------------------------------------------------ */

size_t zh_smp_usable_size(const void *p) {
    smp_where w = where_is(p);
    check_live("zh_smp_usable_size", p, w);
    size_t usable = usable_of(p, w);
    if (ZH__TRACK_ENABLED) zh__track_group_widen(&track_pool, (void *)p, usable);
    return usable;
}

void zh_smp_free_unsized(void *p) {
    if (p == NULL) return;
    smp_where w = where_is(p);
    check_live("zh_smp_free_unsized", p, w);
    free_block(p, w.seg);
}

/* Whether p starts a block: a small block slot, a live large run or a huge block.
 * Reads only the allocator's own records (the granule bit first). */
static bool owned_block(const void *p, smp_where *w) {
    if (!owned_granule(segment_of(p))) return false; /* NULL too: its "segment" is not */
    *w = where_is(p);
    /* No page: a huge block, or a unit of a segment never handed out (NULL head). */
    if (ZH__UNLIKELY(w->page == NULL))
        return w->seg->kind == SEGMENT_HUGE && ((const smp_huge *)w->seg)->block == p;
    if (ZH__LIKELY(w->page->kind == PAGE_SMALL)) return page_block_start(w->page, p);
    return w->page->kind == PAGE_LARGE && (char *)p == page_start(w->page);
}

bool zh_smp_owns(const void *p) {
    smp_where w;
    return owned_block(p, &w);
}

bool zh_smp_free_owned(void *p) {
    smp_where w;
    if (!owned_block(p, &w)) return false;
    free_block(p, w.seg);
    return true;
}

static ZH_NOINLINE void *malloc_or_slow(size_t len, void *(*failed)(size_t len)) {
    void *p = smp_alloc(NULL, len, SMP_MIN_ALIGN_LOG2, 0);
    if (ZH__UNLIKELY(p == NULL)) return failed(len);
    return p;
}

/* The common case inline, without saving a register: a common size from the current
 * page of a thread that has a heap. */
void *zh__smp_malloc_or(size_t len, void *(*failed)(size_t len)) {
    smp_heap *h = tl_heap;
    if (ZH__LIKELY(direct_request(len, SMP_MIN_ALIGN_LOG2) && h != NULL)) {
        void *p = small_alloc_fast(h, class_direct_of(len));
        if (ZH__LIKELY(p != NULL)) return track_handout(p, len);
    }
    return malloc_or_slow(len, failed);
}

/* Whether p starts a block of the small page whose unit of p has the tag `tag`
 * (owned_block's test without the page record; units are aligned to their size). */
static bool tag_block_start(smp_segment *seg, const void *p, uintptr_t tag) {
    size_t offset = (uintptr_t)p - (uintptr_t)unit_address(seg, tag_first_unit(seg, p, tag));
    const shape_check *check = &shape_checks[tag_shape(tag)];
    return offset <= check->last_start && is_multiple((uint32_t)offset, check->start_test);
}

/* zh__smp_free_or's general case: any block, or not one of ours. */
static ZH_NOINLINE void free_or_slow(void *p, void (*not_ours)(void *p)) {
    smp_where w;
    if (ZH__UNLIKELY(!owned_block(p, &w))) {
        not_ours(p);
        return;
    }
    free_block(p, w.seg);
}

/* The common case inline: a block of a page some heap owns (its unit's tag),
 * checked to start a block. */
void zh__smp_free_or(void *p, void (*not_ours)(void *p)) {
    smp_segment *seg = segment_of(p);
    if (ZH__LIKELY(owned_granule(seg) && seg->kind == SEGMENT_UNITS)) {
        uintptr_t tag = unit_tag(seg, p);
        if (ZH__LIKELY(tag != 0 && tag_block_start(seg, p, tag))) {
            track_giveback(p);
            small_free_tagged(seg, p, tag);
            return;
        }
    }
    free_or_slow(p, not_ours);
}

/* The whole OS pages of seg's header that hold only its units' records. */
static void records_range(const smp_segment *seg, uintptr_t range[2]) {
    range[0] = zh__align_forward_addr((uintptr_t)&seg->pages[SMP_HEADER_UNITS], os()->page_size);
    range[1] = zh__align_backward_addr((uintptr_t)&seg->pages[SMP_UNITS], os()->page_size);
}

void zh__smp_records_range(const void *p, uintptr_t range[2]) {
    records_range(segment_of(p), range);
}

size_t zh__smp_page_units(const void *p) {
    smp_where w = where_is(p);
    return w.page != NULL ? w.page->span : 0;
}

void *zh__smp_page_start(const void *p) {
    smp_where w = where_is(p);
    return w.page != NULL ? page_start(w.page) : NULL;
}

/* A dirty unit eligible for purging: any, or (aged_only) one freed long ago. */
static bool unit_purgeable(const smp_segment *seg, size_t k, bool aged_only) {
    return bit_get(seg->dirty, k) &&
           (!aged_only || g.now - seg->released_at[k] > SMP_PURGE_DELAY);
}

/* Locked. Once a kept segment is free and none of its units is resident, the page
 * records of its units go too: a segment that served every unit holds 127 KiB of
 * them, resident until its units are used again (purged pages read as zeros: a free
 * record, NULL head). The header units' own records and the bitmaps stay. */
static void segment_purge_records(smp_segment *seg) {
    if (seg->records_purged || !segment_all_free(seg) || bits_count(seg->dirty, 0, SMP_UNITS))
        return;
    uintptr_t range[2];
    records_range(seg, range);
    if (range[0] < range[1] && os_purge((void *)range[0], range[1] - range[0]))
        seg->records_purged = true;
}

/* Locked. Purges resident free units of seg (with aged_only, those not reused
 * within the purge delay), one contiguous range at a time, until at most `target`
 * bytes stay resident process-wide. */
static void purge_segment(smp_segment *seg, size_t target, bool aged_only) {
    size_t i = SMP_HEADER_UNITS;
    /* Dirty units only, found a bitmap word at a time. */
    while ((i = bits_next(seg->dirty, i, true)) < SMP_UNITS && retained_bytes() > target) {
        if (!unit_purgeable(seg, i, aged_only)) {
            i++;
            continue;
        }
        size_t n = 1;
        while (i + n < SMP_UNITS && unit_purgeable(seg, i + n, aged_only)) n++;
        if (os_purge(unit_address(seg, i), n * SMP_UNIT_SIZE)) {
            bits_set(seg->dirty, i, n, false);
            g.dirty_unit_bytes -= n * SMP_UNIT_SIZE;
        }
        i += n;
    }
    segment_purge_records(seg);
}

/* Locked. Unmaps fully free segments beyond SMP_KEEP_FREE_SEGMENTS (with
 * aged_only, those free for the purge delay), until at most `target` bytes stay
 * resident. */
static void unmap_free_segments(size_t target, bool aged_only) {
    smp_segment *seg = g.segments;
    while (seg != NULL && g.free_segments > SMP_KEEP_FREE_SEGMENTS &&
           retained_bytes() + (aged_only ? 1 : 0) > target) {
        smp_segment *next = seg->next;
        if (segment_all_free(seg) &&
            (!aged_only || g.now - seg->last_release > SMP_PURGE_DELAY))
            segment_free(seg);
        seg = next;
    }
}

/* Locked. Purges a cached huge mapping (all but its header page). */
static void huge_cache_purge(smp_huge *m) {
    size_t page = os()->page_size;
    if (m->purged || !os_purge(m->base + page, m->map_len - page)) return;
    m->purged = true;
    g.huge_dirty_bytes -= m->map_len;
    g.huge_purged_bytes += m->map_len;
}

/* Locked. Gives back what stayed unused for the purge delay: free segments
 * beyond the kept ones, and free units. */
static void purge_aged(void) {
    unmap_free_segments(0, true);
    for (size_t k = 0; k < g.huge_cached; k++)
        if (g.now - g.huge_cache[k]->released_at > SMP_PURGE_DELAY)
            huge_cache_purge(g.huge_cache[k]);
    if (g.dirty_unit_bytes == 0) return;
    for (smp_segment *seg = g.segments; seg != NULL; seg = seg->next) purge_segment(seg, 0, true);
}

/* Locked. Purges resident free memory, cached huge mappings (oldest first) and
 * then units, until at most `target` bytes stay resident. */
static void purge_down_to(size_t target) {
    unmap_free_segments(target, false);
    for (size_t k = 0; k < g.huge_cached && retained_bytes() > target; k++)
        huge_cache_purge(g.huge_cache[k]);
    for (smp_segment *seg = g.segments; seg != NULL && retained_bytes() > target; seg = seg->next)
        purge_segment(seg, target, false);
}

/* The calling thread's spare pages and current pages that hold nothing go back. */
static void heap_trim(smp_heap *h) {
    outbox_flush(h);
    heap_drain_remote(h);
    for (unsigned c = 0; c < SMP_CLASSES; c++) {
        smp_page *pg = h->current[c];
        if (pg == &empty_page || pg->used != 0) continue;
        h->current[c] = &empty_page;
        h->class_pages[c]--;
        page_retire(pg);
    }
    while (h->spare_count > 0) page_retire(h->spares[--h->spare_count]);
    h->spare_units = 0;
}

void zh_smp_trim(void) {
    if (tl_heap != NULL) heap_trim(tl_heap);
    global_lock();
    while (g.huge_cached > 0) huge_unmap(huge_cache_remove(0));
    smp_segment *seg = g.segments;
    while (seg != NULL) {
        smp_segment *next = seg->next;
        if (segment_all_free(seg)) segment_free(seg);
        else purge_segment(seg, 0, false);
        seg = next;
    }
    global_unlock();
}

void zh_smp_get_stats(zh_smp_stats *out) {
    memset(out, 0, sizeof *out);
    global_lock();
    out->active = g.active;
    out->peak_active = g.peak_active;
    out->mapped = g.mapped;
    out->cached = g.dirty_unit_bytes + g.huge_dirty_bytes;
    out->purged = (g.free_unit_bytes - g.dirty_unit_bytes) + g.huge_purged_bytes;
    out->heaps = g.heaps_live;
    out->heaps_created = g.heaps_created;
    out->large_live = g.large_live;
    out->allocated = g.large_bytes;
    uint64_t frees[SMP_CLASSES];
    for (unsigned c = 0; c < SMP_CLASSES; c++) frees[c] = g.abandoned_frees[c];
    for (smp_heap *h = g.heaps; h != NULL; h = h->all_next) {
        for (unsigned c = 0; c < SMP_CLASSES; c++) {
            out->classes[c].allocations += zh__atomic_load_relaxed(&h->allocs[c]);
            frees[c] += zh__atomic_load_relaxed(&h->frees[c]);
        }
    }
    global_unlock();
    for (unsigned c = 0; c < SMP_CLASSES; c++) {
        zh_smp_class_stats *cs = &out->classes[c];
        cs->block_size = class_block_size[c];
        /* Counters of different threads are read at slightly different times. */
        cs->live = cs->allocations > frees[c] ? cs->allocations - frees[c] : 0;
        out->allocated += (size_t)cs->live * cs->block_size;
    }
    out->os_maps = zh__atomic_load_relaxed(&g.os_maps);
    out->os_unmaps = zh__atomic_load_relaxed(&g.os_unmaps);
    out->os_purges = zh__atomic_load_relaxed(&g.os_purges);
}
