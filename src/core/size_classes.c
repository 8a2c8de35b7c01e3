/* size_classes.c - the size-class / page-run engine (see size_classes.h).
 *
 * Costs: small alloc/free are a list pop/push or a bump, plus a class-map lookup to
 * count the bigpage's live slots, O(1); a class's fresh bigpage and every big
 * alloc/free add one insert/removal in the class map (open addressing, at most half
 * full); alignment above a bigpage walks the free runs. Space: up to 2x from
 * power-of-two rounding, no per-block header, two map words per bigpage in use
 * (about 0.02%). Free runs are split on demand, and a freed run (or a range given
 * back: zh__sc_run_free_range, growth padding, an emptied small-class bigpage)
 * merges with a free neighbour of its size, level after level, so split-then-free
 * loops run in bounded memory; finding the neighbour walks that size's free list
 * (O(free runs of the size) per big free).
 *
 * Emptied small-class bigpages: Zig's SbrkAllocator and WasmAllocator keep a
 * bigpage with its class for good, so a workload that moves from small blocks to
 * big ones holds both peaks. Here each carved bigpage counts its live slots (in its
 * class-map entry), and when the runs cannot serve a request, before the source is
 * asked for more, every bigpage with no live slot leaves its class: its slots are
 * unlinked from the class's free list (one walk of the lists of the classes that
 * had a page empty since the last time), and the page joins the runs (or goes back
 * to an unmapping source). Done lazily so that a loop allocating and freeing one
 * small block never moves a page in and out of its class. What Zig promises is
 * kept: slot sizes and addresses (multiples of their size), which resizes succeed,
 * LIFO reuse within a class.
 *
 * Memory checkers (core/track.h), for heaps initialised with track_blocks: blocks
 * form one memcheck mempool anchored at the heap (a leaked block is reported with
 * the stack of its allocation), a block's slack past the requested length and every
 * free slot or run is unaddressable, and the engine's own links in free memory are
 * read and written through link_get / link_set, which open and close the word. */
#include "core/size_classes.h"

#include "common.h"
#include "core/track.h"

#define BIGPAGE ZH__SC_BIGPAGE
#define MIN_SLOT sizeof(void *)
#define BRK_FAILED ((void *)-1)
#define CODE_MASK ((uintptr_t)(BIGPAGE - 1))
#define BIG_CODE 32u

enum { TRACK_OFF, TRACK_WANTED, TRACK_ON };

static size_t run_bytes(unsigned k) { return ((size_t)1 << k) * BIGPAGE; }

bool zh__sc_classify(size_t need, zh__sc_class *out) {
    unsigned min_log2 = zh__log2_pow2(MIN_SLOT);
    if (need < BIGPAGE) {
        unsigned log2 = zh__ceil_log2(need < MIN_SLOT ? MIN_SLOT : need);
        if (log2 < zh__log2_pow2(BIGPAGE)) {
            *out = (zh__sc_class){false, log2 - min_log2, (size_t)1 << log2};
            return true;
        }
    }
    size_t pages = zh__div_ceil(need, BIGPAGE);
    unsigned k = zh__ceil_log2(pages);
    if (k >= ZH__SC_BIG_CLASSES) return false;
    *out = (zh__sc_class){true, k, run_bytes(k)};
    return true;
}

/* ---- memory checkers ------------------------------------------------------------------- */

static bool tracking(const zh__sc_heap *h) { return ZH__TRACK_ENABLED && h->track == TRACK_ON; }

/* The first memory a heap gets decides whether it can be described (track.h). */
static void note_memory(zh__sc_heap *h, void *p) {
    if (h->track == TRACK_WANTED) h->track = zh__track_region_ok(p) ? TRACK_ON : TRACK_OFF;
}

/* The first len bytes of a slot of `bytes` are handed out; the rest stays closed. */
static void track_handout(zh__sc_heap *h, void *p, size_t len, size_t bytes) {
    if (!tracking(h)) return;
    zh__track_mem_noaccess(p, bytes);
    zh__track_group_alloc(h, p, len);
}

static void track_giveback(zh__sc_heap *h, void *p, size_t bytes) {
    if (tracking(h)) zh__track_group_free(h, p, bytes);
}

/* Memory the engine keeps for itself or passes on (a map table, a page for a class,
 * a run for an unmapping source): open (undefined) or closed. */
static void track_open(const zh__sc_heap *h, void *p, size_t bytes) {
    if (tracking(h)) zh__track_mem_undefined(p, bytes);
}

static void track_close(const zh__sc_heap *h, void *p, size_t bytes) {
    if (tracking(h)) zh__track_mem_noaccess(p, bytes);
}

/* ---- free lists: linked through the first word of each free block ---------------------- */

static void *link_get(const zh__sc_heap *h, void *block) {
    if (!tracking(h)) return *(void **)block;
    zh__track_mem_defined(block, sizeof(void *));
    void *next = *(void **)block;
    zh__track_mem_noaccess(block, sizeof(void *));
    return next;
}

static void link_set(const zh__sc_heap *h, void *block, void *next) {
    if (!tracking(h)) {
        *(void **)block = next;
        return;
    }
    zh__track_mem_undefined(block, sizeof(void *));
    *(void **)block = next;
    zh__track_mem_noaccess(block, sizeof(void *));
}

static void push(const zh__sc_heap *h, void **list, void *block) {
    link_set(h, block, *list);
    *list = block;
}

static void *pop(const zh__sc_heap *h, void **list) {
    void *block = *list;
    if (block != NULL) *list = link_get(h, block);
    return block;
}

/* ---- the class map: linear probing, backward-shift deletion ------------------------------ */

static uintptr_t class_code(zh__sc_class c) { return c.big ? BIG_CODE + c.index : 1u + c.index; }

static zh__sc_class class_from_code(uintptr_t code) {
    if (code >= BIG_CODE) {
        unsigned k = (unsigned)(code - BIG_CODE);
        return (zh__sc_class){true, k, run_bytes(k)};
    }
    unsigned index = (unsigned)(code - 1);
    return (zh__sc_class){false, index, MIN_SLOT << index};
}

static uintptr_t entry_key(zh__sc_entry e) { return e.key_code & ~CODE_MASK; }
static bool entry_is_small(zh__sc_entry e) { return (e.key_code & CODE_MASK) < BIG_CODE; }

static size_t home(uintptr_t key, size_t cap) {
    uint64_t h = (uint64_t)key * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h >> 32) & (cap - 1);
}

static void map_place(zh__sc_entry *entries, size_t cap, zh__sc_entry entry) {
    size_t i = home(entry_key(entry), cap);
    while (entries[i].key_code != 0) i = (i + 1) & (cap - 1);
    entries[i] = entry;
}

/* The index of `key`'s entry, or SIZE_MAX. */
static size_t map_find(const zh__sc_heap *h, uintptr_t key) {
    size_t cap = h->map_capacity;
    for (size_t i = home(key, cap);; i = (i + 1) & (cap - 1)) {
        if (h->map[i].key_code == 0) return SIZE_MAX;
        if (entry_key(h->map[i]) == key) return i;
    }
}

static void *alloc_block(zh__sc_heap *h, zh__sc_class c, size_t alignment);
static void free_block(zh__sc_heap *h, void *p, zh__sc_class c);

/* Makes room for one more entry (at most half full). The new table is a block of
 * this heap: taking it may record one fresh bigpage, which fits in the old table
 * (it is at most half full), so a nested call does nothing. False when out of memory. */
static bool map_reserve(zh__sc_heap *h) {
    if (h->map_growing || (h->map_count + 1) * 2 <= h->map_capacity) return true;
    /* A whole bigpage at least: tables of each size in a small class of their own
     * would take a bigpage of every class they pass through. */
    size_t cap = h->map_capacity * 2;
    if (cap < BIGPAGE / sizeof(zh__sc_entry)) cap = BIGPAGE / sizeof(zh__sc_entry);
    zh__sc_class c;
    if (cap > SIZE_MAX / sizeof(zh__sc_entry) || !zh__sc_classify(cap * sizeof(zh__sc_entry), &c))
        return false;
    h->map_growing = true;
    zh__sc_entry *entries = alloc_block(h, c, _Alignof(zh__sc_entry));
    h->map_growing = false;
    if (entries == NULL) return false;
    track_open(h, entries, cap * sizeof(zh__sc_entry));
    memset(entries, 0, cap * sizeof(zh__sc_entry));
    for (size_t i = 0; i < h->map_capacity; i++)
        if (h->map[i].key_code != 0) map_place(entries, cap, h->map[i]);
    zh__sc_entry *old = h->map;
    size_t old_bytes = h->map_capacity * sizeof(zh__sc_entry);
    h->map = entries; /* first, so that freeing the old table updates the new one */
    h->map_capacity = cap;
    if (old != h->map_inline) {
        zh__sc_class old_c = {0}; /* the class the old table was taken with */
        (void)zh__sc_classify(old_bytes, &old_c);
        free_block(h, old, old_c);
    }
    return true;
}

/* Records the class of the bigpage block at `key` (room was reserved). */
static void map_insert(zh__sc_heap *h, uintptr_t key, zh__sc_class c, uintptr_t live) {
    map_place(h->map, h->map_capacity, (zh__sc_entry){key | class_code(c), live});
    h->map_count++;
}

static void map_remove_at(zh__sc_heap *h, size_t i) {
    size_t mask = h->map_capacity - 1;
    /* Pull later entries of the probe run back over the hole so lookups never stop
     * early: an entry moves unless its home lies cyclically in (hole, j]. */
    for (size_t j = (i + 1) & mask; h->map[j].key_code != 0; j = (j + 1) & mask) {
        size_t k = home(entry_key(h->map[j]), h->map_capacity);
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays) continue;
        h->map[i] = h->map[j];
        i = j;
    }
    h->map[i] = (zh__sc_entry){0, 0};
    h->map_count--;
}

bool zh__sc_class_of(const zh__sc_heap *h, const void *p, zh__sc_class *out) {
    uintptr_t addr = (uintptr_t)p, key = zh__align_backward_addr(addr, BIGPAGE);
    size_t i = map_find(h, key);
    if (i == SIZE_MAX) return false;
    zh__sc_class c = class_from_code(h->map[i].key_code & CODE_MASK);
    if (c.big ? addr != key : !zh__is_aligned(p, c.bytes)) return false;
    *out = c;
    return true;
}

/* The map entry of the small-class bigpage holding `slot`, or NULL. */
static zh__sc_entry *page_entry(const zh__sc_heap *h, const void *slot) {
    size_t i = map_find(h, zh__align_backward_addr((uintptr_t)slot, BIGPAGE));
    return i != SIZE_MAX && entry_is_small(h->map[i]) ? &h->map[i] : NULL;
}

/* ---- the source ---------------------------------------------------------------------------- */

/* Takes `cur` out of `list`; `prev` is the block before it (NULL: it is the head). */
static void unlink_after(const zh__sc_heap *h, void **list, void *prev, void *cur) {
    void *next = link_get(h, cur);
    if (prev == NULL) *list = next;
    else link_set(h, prev, next);
}

/* The free run of `bytes` right before or right after `run` is unlinked from `list`
 * and returned; 0 when there is none. */
static uintptr_t unlink_neighbour(const zh__sc_heap *h, void **list, uintptr_t run,
                                  size_t bytes) {
    void *prev = NULL;
    for (void *cur = *list; cur != NULL; prev = cur, cur = link_get(h, cur)) {
        uintptr_t other = (uintptr_t)cur;
        if (other != run + bytes && other + bytes != run) continue;
        unlink_after(h, list, prev, cur);
        return other;
    }
    return 0;
}

/* Pushes a free run of 2^k bigpages, first merging it with the run at the head of
 * its list while the two are neighbours. O(1), and not a full coalescing: it joins
 * a range given back piece by piece, such as a mapping of three pages unmapped
 * right after its tail page went back, which otherwise could never again serve a
 * request of its original size. */
static void push_merged(zh__sc_heap *h, uintptr_t run, unsigned k) {
    for (; k + 1 < ZH__SC_BIG_CLASSES; k++) {
        /* unlinked: the two become one run of 2^(k+1) */
        uintptr_t neighbour = unlink_neighbour(h, &h->big_free[k], run, run_bytes(k));
        if (neighbour == 0) break;
        if (neighbour < run) run = neighbour;
    }
    push(h, &h->big_free[k], (void *)run);
}

/* A free run of 2^k bigpages goes onto its list: merged with free neighbours, or as
 * it is in a heap that shares runs between classes only under pressure. */
static void give_run(zh__sc_heap *h, uintptr_t run, unsigned k) {
    if (h->grow_first) push(h, &h->big_free[k], (void *)run);
    else push_merged(h, run, k);
}

/* Gives whole bigpages of [lo, hi) to the run free lists; counts the rest as lost. */
static void salvage(zh__sc_heap *h, uintptr_t lo, uintptr_t hi) {
    if (hi <= lo) return;
    uintptr_t first = zh__align_forward_addr(lo, BIGPAGE);
    uintptr_t last = zh__align_backward_addr(hi, BIGPAGE);
    if (first >= last || first < lo) {
        h->bytes_lost += (size_t)(hi - lo);
        return;
    }
    h->bytes_lost += (size_t)(first - lo) + (size_t)(hi - last);
    while (first < last) {
        unsigned k = zh__floor_log2((size_t)(last - first) / BIGPAGE); /* largest 2^k that fits */
        if (k >= ZH__SC_BIG_CLASSES) k = ZH__SC_BIG_CLASSES - 1;
        give_run(h, first, k);
        first += run_bytes(k);
    }
}

/* `bytes` (a multiple of a bigpage) at an address aligned to `alignment` (>= a
 * bigpage) from a break: reads it, requests padding + bytes, and checks where the
 * memory really landed. If another user moved the break in between, the block may
 * still fit in what came back; if not, that memory is salvaged and it tries again. */
/* The free run of at most `most` bytes that ends at `end`, unlinked; 0 if none. */
static uintptr_t unlink_run_ending_at(zh__sc_heap *h, uintptr_t end, size_t most) {
    for (unsigned k = 0; k < ZH__SC_BIG_CLASSES; k++) {
        size_t bytes = run_bytes(k);
        if (bytes > end || bytes > most) break;
        /* nothing of ours lies past the break, so the match is the run before it */
        uintptr_t run = unlink_neighbour(h, &h->big_free[k], end, bytes);
        if (run != 0) return run;
    }
    return 0;
}

/* Free runs that end at the break `brk` (the heap's top) become the start of the
 * block instead of being left behind below it, so that growth asks only for the
 * rest. NULL (the runs back on their lists) when there are none, or the break
 * moved meanwhile. */
static void *grow_top(zh__sc_heap *h, uintptr_t brk, size_t bytes) {
    uintptr_t start = brk, run;
    while (brk - start < bytes &&
           (run = unlink_run_ending_at(h, start, bytes - (size_t)(brk - start))) != 0)
        start = run;
    if (start == brk) return NULL;
    size_t have = (size_t)(brk - start);
    if (have < bytes) {
        size_t more = bytes - have;
        void *got = more <= (size_t)INTPTR_MAX ? h->source.brk(h->source.ctx, (intptr_t)more)
                                                : BRK_FAILED;
        if (got != BRK_FAILED) h->bytes_obtained += more;
        if (got != (void *)brk) {
            if (got != BRK_FAILED) salvage(h, (uintptr_t)got, (uintptr_t)got + more);
            salvage(h, start, brk);
            return NULL;
        }
    }
    return (void *)start;
}

static void *grow_break(zh__sc_heap *h, size_t bytes, size_t alignment) {
    void *ctx = h->source.ctx;
    for (int attempt = 0; attempt < 4; attempt++) {
        void *cur = h->source.brk(ctx, 0);
        if (cur == BRK_FAILED) return NULL;
        if (alignment == BIGPAGE) {
            void *block = grow_top(h, (uintptr_t)cur, bytes);
            if (block != NULL) return block;
        }
        uintptr_t brk = (uintptr_t)cur, aligned = zh__align_forward_addr(brk, alignment);
        if (aligned < brk) return NULL; /* the padding would wrap around */
        size_t pad = (size_t)(aligned - brk);
        if (pad > (size_t)INTPTR_MAX || bytes > (size_t)INTPTR_MAX - pad) return NULL;
        size_t inc = pad + bytes;
        void *got = h->source.brk(ctx, (intptr_t)inc);
        if (got == BRK_FAILED) return NULL;
        note_memory(h, got);
        h->bytes_obtained += inc;
        uintptr_t lo = (uintptr_t)got, hi = lo + inc;
        uintptr_t block = zh__align_forward_addr(lo, alignment);
        if (block >= lo && block <= hi && hi - block >= bytes) {
            salvage(h, lo, block);
            salvage(h, block + bytes, hi);
            return (void *)block;
        }
        salvage(h, lo, hi);
    }
    return NULL;
}

static void *obtain(zh__sc_heap *h, size_t bytes, size_t alignment) {
    if (h->source.brk != NULL) return grow_break(h, bytes, alignment);
    void *p = h->source.map(h->source.ctx, bytes, alignment);
    if (p == NULL) return NULL;
    note_memory(h, p);
    h->bytes_obtained += bytes;
    return p;
}

/* ---- runs ------------------------------------------------------------------------------------- */

/* For alignment above a bigpage: the first free run of 2^k .. 2^last bigpages that
 * holds an aligned run of `bytes`; it is unlinked and the bigpages around the run
 * go back to the free lists. NULL when no free run has one. */
static void *carve_aligned(zh__sc_heap *h, unsigned k, unsigned last, size_t bytes,
                           size_t alignment) {
    for (unsigned j = k; j <= last; j++) {
        size_t block_bytes = run_bytes(j);
        void *prev = NULL;
        for (void *cur = h->big_free[j]; cur != NULL; prev = cur, cur = link_get(h, cur)) {
            uintptr_t block = (uintptr_t)cur, end = block + block_bytes;
            uintptr_t run = zh__align_forward_addr(block, alignment);
            if (run < block || run > end || end - run < bytes) continue;
            unlink_after(h, &h->big_free[j], prev, cur);
            salvage(h, block, run);
            salvage(h, run + bytes, end);
            return (void *)run;
        }
    }
    return NULL;
}

/* Keeps the first 2^k bigpages of a free run of 2^j; the halves after them go back,
 * smallest first. */
static void *split_larger(zh__sc_heap *h, unsigned k) {
    for (unsigned j = k + 1; j < ZH__SC_BIG_CLASSES; j++) {
        void *block = pop(h, &h->big_free[j]);
        if (block == NULL) continue;
        for (unsigned i = k; i < j; i++) push(h, &h->big_free[i], (char *)block + run_bytes(i));
        return block;
    }
    return NULL;
}

/* A free run for (k, alignment), or NULL. */
static void *take_free_run(zh__sc_heap *h, unsigned k, size_t alignment) {
    if (alignment > BIGPAGE)
        return carve_aligned(h, k, ZH__SC_BIG_CLASSES - 1, run_bytes(k), alignment);
    void *block = pop(h, &h->big_free[k]);
    return block != NULL ? block : split_larger(h, k);
}

static bool reclaim_empty_pages(zh__sc_heap *h);

/* The largest power of two that divides `addr` (> 0): the alignment it has. */
static uintptr_t address_alignment(uintptr_t addr) { return addr & (~addr + 1); }

/* Grow first: of the class's free runs (2^k bigpages) that start at a multiple of
 * `alignment`, the least aligned one, unlinked; NULL if none. Once the heap has
 * been asked for an alignment above a bigpage, a request leaves the runs such a
 * request needs to it: taking a run at a multiple of 128 KiB for a request that
 * needs 64 KiB while one at an odd bigpage lay free made the next 128 KiB-aligned
 * request grow the break by a run and its padding (the fuzzer's usage bound). So a
 * run serves an alignment it does not need only while every run less aligned is
 * live, and (for one alignment above a bigpage) the class's runs number at most
 * the peak of its live bigpage-aligned runs plus the peak of its live over-aligned
 * ones. Until such a request, and for 1-bigpage runs (an alignment above a bigpage
 * needs at least two), a pop: the walk, O(free runs of the class), is paid only
 * where it matters. */
static void *take_least_aligned(zh__sc_heap *h, unsigned k, size_t alignment) {
    if (alignment > BIGPAGE) h->over_aligned = true;
    if (!h->over_aligned || k == 0) return pop(h, &h->big_free[k]);
    void *best = NULL, *best_prev = NULL, *prev = NULL;
    uintptr_t best_alignment = 0;
    for (void *cur = h->big_free[k]; cur != NULL; prev = cur, cur = link_get(h, cur)) {
        uintptr_t a = address_alignment((uintptr_t)cur);
        if (a < alignment || (best != NULL && a >= best_alignment)) continue;
        best = cur, best_prev = prev, best_alignment = a;
        if (a == alignment) break; /* none can be less aligned */
    }
    if (best != NULL) unlink_after(h, &h->big_free[k], best_prev, best);
    return best;
}

/* Every free run merged with its free neighbours of its size, level after level. */
static void merge_free_runs(zh__sc_heap *h) {
    for (unsigned k = 0; k < ZH__SC_BIG_CLASSES; k++) {
        void *run = h->big_free[k];
        h->big_free[k] = NULL;
        while (run != NULL) {
            void *next = link_get(h, run);
            push_merged(h, (uintptr_t)run, k);
            run = next;
        }
    }
}

/* Eager sharing (the backends): a free run of the class, a split larger one, the
 * pages of emptied small classes, then the source. */
static void *run_alloc_shared(zh__sc_heap *h, unsigned k, size_t alignment) {
    void *block = take_free_run(h, k, alignment);
    if (block == NULL && reclaim_empty_pages(h)) block = take_free_run(h, k, alignment);
    if (block != NULL) return block;
    return obtain(h, run_bytes(k), alignment > BIGPAGE ? alignment : BIGPAGE);
}

/* Grow first (the sbrk allocator): a run of the class's own list, else the source
 * (extending free runs at the top of a break), and only when the source refuses,
 * free runs merged and split across classes. A class then asks for memory only
 * when all its runs are live (all that suit the alignment, taken least aligned
 * first: take_least_aligned), so it never holds more than its peak; splitting
 * early would leave the rest of a larger run on lists of classes that may never
 * use it, and the larger class would grow again (size_classes.h). Emptied
 * small-class pages are 1-bigpage runs: they serve a bigpage request at once. */
static void *run_alloc_grow_first(zh__sc_heap *h, unsigned k, size_t alignment) {
    void *block = take_least_aligned(h, k, alignment);
    if (block == NULL && k == 0 && reclaim_empty_pages(h)) block = pop(h, &h->big_free[0]);
    if (block == NULL) block = obtain(h, run_bytes(k), alignment > BIGPAGE ? alignment : BIGPAGE);
    if (block != NULL) return block;
    (void)reclaim_empty_pages(h);
    merge_free_runs(h);
    return take_free_run(h, k, alignment);
}

void *zh__sc_run_alloc(zh__sc_heap *h, unsigned k, size_t alignment) {
    return h->grow_first ? run_alloc_grow_first(h, k, alignment)
                         : run_alloc_shared(h, k, alignment);
}

void zh__sc_run_free_range(zh__sc_heap *h, void *p, size_t bytes) {
    salvage(h, (uintptr_t)p, (uintptr_t)p + bytes);
}

/* ---- small-class bigpages: live counts, and the way back to the runs ----------------------- */

/* One more slot of the page holding `slot` is live. */
static void slot_taken(zh__sc_heap *h, void *slot) {
    zh__sc_entry *e = page_entry(h, slot);
    if (e != NULL) e->live++;
}

/* One slot fewer of the page holding `slot` (of class `index`) is live. */
static void slot_released(zh__sc_heap *h, void *slot, unsigned index) {
    zh__sc_entry *e = page_entry(h, slot);
    if (e != NULL && --e->live == 0) h->empty_classes |= (uint16_t)(1u << index);
}

static bool page_is_empty(const zh__sc_heap *h, const void *slot) {
    const zh__sc_entry *e = page_entry(h, slot);
    return e != NULL && e->live == 0;
}

/* Unlinks class `index`'s free slots that lie in pages with no live slot, and stops
 * the class's bump in such a page. True if there were any. */
static bool unlink_empty_slots(zh__sc_heap *h, unsigned index) {
    bool any = false;
    void *prev = NULL, *cur = h->small_free[index];
    while (cur != NULL) {
        void *next = link_get(h, cur);
        if (page_is_empty(h, cur)) {
            any = true;
            unlink_after(h, &h->small_free[index], prev, cur);
        } else {
            prev = cur;
        }
        cur = next;
    }
    uintptr_t bump = h->next_slot[index];
    if (!zh__is_aligned((void *)bump, BIGPAGE) && page_is_empty(h, (void *)bump))
        h->next_slot[index] = 0;
    return any;
}

/* A bigpage leaves its class: to the source if it takes memory back, else to the runs. */
static void release_page(zh__sc_heap *h, uintptr_t page) {
    if (h->source.unmap != NULL) {
        track_open(h, (void *)page, BIGPAGE); /* the source's memory again */
        h->source.unmap(h->source.ctx, (void *)page, BIGPAGE);
    } else {
        give_run(h, page, 0);
    }
}

/* Every small-class bigpage with no live slot goes back (header comment). The map
 * is swept in place: a removal pulls later entries back over index i, so i is
 * looked at again; entries only ever move towards positions already looked at. */
static bool reclaim_empty_pages(zh__sc_heap *h) {
    unsigned classes = h->empty_classes;
    if (classes == 0) return false;
    h->empty_classes = 0;
    bool any = false;
    for (unsigned index = 0; index < ZH__SC_SMALL_CLASSES; index++)
        if (classes & (1u << index)) any |= unlink_empty_slots(h, index);
    if (!any) return false;
    for (size_t i = 0; i < h->map_capacity;) {
        zh__sc_entry e = h->map[i];
        if (e.key_code == 0 || !entry_is_small(e) || e.live != 0) {
            i++;
            continue;
        }
        map_remove_at(h, i);
        release_page(h, entry_key(e));
    }
    return true;
}

/* ---- blocks -------------------------------------------------------------------------------------- */

static void *alloc_small(zh__sc_heap *h, zh__sc_class c) {
    void *slot = pop(h, &h->small_free[c.index]);
    if (slot != NULL) {
        slot_taken(h, slot);
        return slot;
    }
    uintptr_t next = h->next_slot[c.index];
    if (zh__is_aligned((void *)next, BIGPAGE)) { /* 0 or the end of the bigpage being carved */
        if (!map_reserve(h)) return NULL;
        void *page = zh__sc_run_alloc(h, 0, BIGPAGE);
        if (page == NULL) return NULL;
        track_close(h, page, BIGPAGE); /* slots open as they are handed out */
        map_insert(h, (uintptr_t)page, c, 1);
        next = (uintptr_t)page;
    } else {
        slot_taken(h, (void *)next);
    }
    h->next_slot[c.index] = next + c.bytes;
    return (void *)next;
}

static void *alloc_block(zh__sc_heap *h, zh__sc_class c, size_t alignment) {
    if (!c.big) return alloc_small(h, c);
    if (!map_reserve(h)) return NULL;
    void *run = zh__sc_run_alloc(h, c.index, alignment);
    if (run != NULL) map_insert(h, (uintptr_t)run, c, 0);
    return run;
}

void *zh__sc_alloc(zh__sc_heap *h, zh__sc_class c, size_t alignment, size_t len) {
    void *p = alloc_block(h, c, alignment);
    if (p != NULL) track_handout(h, p, len, c.bytes);
    return p;
}

void zh__sc_resized(zh__sc_heap *h, void *p, size_t old_len, size_t new_len) {
    if (tracking(h)) zh__track_group_resize(h, p, old_len, new_len);
}

static void free_block(zh__sc_heap *h, void *p, zh__sc_class c) {
    if (!c.big) {
        track_close(h, p, c.bytes);
        slot_released(h, p, c.index);
        push(h, &h->small_free[c.index], p);
        return;
    }
    size_t i = map_find(h, (uintptr_t)p);
    if (i != SIZE_MAX) map_remove_at(h, i);
    if (h->source.unmap != NULL) {
        track_open(h, p, c.bytes); /* the source's memory again */
        h->source.unmap(h->source.ctx, p, c.bytes);
    } else {
        track_close(h, p, c.bytes);
        give_run(h, (uintptr_t)p, c.index);
    }
}

/* The checks behind ZHEAP_SAFETY: the block's recorded class must be the one its
 * length and alignment claim, and it must not be the block freed last. */
static void check_free(const zh__sc_heap *h, void *p, zh__sc_class c) {
    zh__sc_class recorded;
    if (!zh__sc_class_of(h, p, &recorded))
        zh__panic(h->name, "free of %p: not a live block (a %zu-byte %s block was claimed); "
                  "double free, or a pointer this allocator did not return?", p, c.bytes,
                  c.big ? "run" : "slot");
    if (!zh__sc_same_class(recorded, c))
        zh__panic(h->name, "free of %p: the block is a %zu-byte %s, but its length and "
                  "alignment claim a %zu-byte %s; wrong length or alignment?", p,
                  recorded.bytes, recorded.big ? "run" : "slot", c.bytes,
                  c.big ? "run" : "slot");
    if (!c.big && h->small_free[c.index] == p)
        zh__panic(h->name, "double free of %p", p);
}

void zh__sc_free(zh__sc_heap *h, void *p, zh__sc_class c) {
    if (zh__config_safety) check_free(h, p, c);
    track_giveback(h, p, c.bytes);
    free_block(h, p, c);
}

void zh__sc_init(zh__sc_heap *h, zh__sc_source source, const char *name, unsigned flags) {
    memset(h, 0, sizeof *h);
    h->source = source;
    h->name = name;
    h->map = h->map_inline;
    h->map_capacity = ZH__SC_MAP_INLINE;
    h->grow_first = (flags & ZH__SC_GROW_FIRST) != 0;
    if (ZH__TRACK_ENABLED && (flags & ZH__SC_TRACK_BLOCKS)) {
        h->track = TRACK_WANTED;
        zh__track_group_create(h);
    }
}
