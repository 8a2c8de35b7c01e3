/* size_classes.c - the size-class / page-run engine (see size_classes.h).
 *
 * Costs: small alloc/free are a list pop/push or a bump, O(1); a class's fresh
 * bigpage and every big alloc/free add one insert/removal in the class map
 * (open addressing, at most half full); alignment above a bigpage walks the free
 * runs. Space: up to 2x from power-of-two rounding, no per-block header, one map
 * word per bigpage in use (about 0.01%). Free runs are split on demand, and a
 * freed run (or a range given back: zh__sc_run_free_range, growth padding) merges
 * with a free neighbour of its size, level after level, so split-then-free loops
 * run in bounded memory; finding the neighbour walks that size's free list
 * (O(free runs of the size) per big free). Small-class bigpages are not merged. */
#include "core/size_classes.h"

#include "common.h"

#define BIGPAGE ZH__SC_BIGPAGE
#define MIN_SLOT sizeof(void *)
#define BRK_FAILED ((void *)-1)
#define CODE_MASK ((uintptr_t)(BIGPAGE - 1))
#define BIG_CODE 32u

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

/* ---- free lists ------------------------------------------------------------------------ */

static void push(void **list, void *block) {
    *(void **)block = *list;
    *list = block;
}

static void *pop(void **list) {
    void *block = *list;
    if (block != NULL) *list = *(void **)block;
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

static size_t home(uintptr_t key, size_t cap) {
    uint64_t h = (uint64_t)key * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h >> 32) & (cap - 1);
}

static void map_place(uintptr_t *entries, size_t cap, uintptr_t entry) {
    size_t i = home(entry & ~CODE_MASK, cap);
    while (entries[i] != 0) i = (i + 1) & (cap - 1);
    entries[i] = entry;
}

/* The index of `key`'s entry, or SIZE_MAX. */
static size_t map_find(const zh__sc_heap *h, uintptr_t key) {
    size_t cap = h->map_capacity;
    for (size_t i = home(key, cap);; i = (i + 1) & (cap - 1)) {
        if (h->map[i] == 0) return SIZE_MAX;
        if ((h->map[i] & ~CODE_MASK) == key) return i;
    }
}

static void *alloc_block(zh__sc_heap *h, zh__sc_class c, size_t alignment);
static void free_block(zh__sc_heap *h, void *p, zh__sc_class c);

/* Makes room for one more entry (at most half full). The new table is a block of
 * this heap: taking it may record one fresh bigpage, which fits in the old table
 * (it is at most half full), so a nested call does nothing. False when out of memory. */
static bool map_reserve(zh__sc_heap *h) {
    if (h->map_growing || (h->map_count + 1) * 2 <= h->map_capacity) return true;
    size_t cap = h->map_capacity * 2;
    zh__sc_class c;
    if (cap > SIZE_MAX / sizeof(uintptr_t) || !zh__sc_classify(cap * sizeof(uintptr_t), &c))
        return false;
    h->map_growing = true;
    uintptr_t *entries = alloc_block(h, c, _Alignof(uintptr_t));
    h->map_growing = false;
    if (entries == NULL) return false;
    memset(entries, 0, cap * sizeof(uintptr_t));
    for (size_t i = 0; i < h->map_capacity; i++)
        if (h->map[i] != 0) map_place(entries, cap, h->map[i]);
    uintptr_t *old = h->map;
    size_t old_bytes = h->map_capacity * sizeof(uintptr_t);
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
static void map_insert(zh__sc_heap *h, uintptr_t key, zh__sc_class c) {
    map_place(h->map, h->map_capacity, key | class_code(c));
    h->map_count++;
}

static void map_remove_at(zh__sc_heap *h, size_t i) {
    size_t mask = h->map_capacity - 1;
    /* Pull later entries of the probe run back over the hole so lookups never stop
     * early: an entry moves unless its home lies cyclically in (hole, j]. */
    for (size_t j = (i + 1) & mask; h->map[j] != 0; j = (j + 1) & mask) {
        size_t k = home(h->map[j] & ~CODE_MASK, h->map_capacity);
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays) continue;
        h->map[i] = h->map[j];
        i = j;
    }
    h->map[i] = 0;
    h->map_count--;
}

bool zh__sc_class_of(const zh__sc_heap *h, const void *p, zh__sc_class *out) {
    uintptr_t addr = (uintptr_t)p, key = zh__align_backward_addr(addr, BIGPAGE);
    size_t i = map_find(h, key);
    if (i == SIZE_MAX) return false;
    zh__sc_class c = class_from_code(h->map[i] & CODE_MASK);
    if (c.big ? addr != key : !zh__is_aligned(p, c.bytes)) return false;
    *out = c;
    return true;
}

/* ---- the source ---------------------------------------------------------------------------- */

/* The link of a free run of `bytes` right before or right after `run`, or NULL. */
static void **find_neighbour(void **list, uintptr_t run, size_t bytes) {
    for (void **link = list; *link != NULL; link = (void **)*link) {
        uintptr_t other = (uintptr_t)*link;
        if (other == run + bytes || other + bytes == run) return link;
    }
    return NULL;
}

/* Pushes a free run of 2^k bigpages, first merging it with the run at the head of
 * its list while the two are neighbours. O(1), and not a full coalescing: it joins
 * a range given back piece by piece, such as a mapping of three pages unmapped
 * right after its tail page went back, which otherwise could never again serve a
 * request of its original size. */
static void push_merged(zh__sc_heap *h, uintptr_t run, unsigned k) {
    for (; k + 1 < ZH__SC_BIG_CLASSES; k++) {
        void **link = find_neighbour(&h->big_free[k], run, run_bytes(k));
        if (link == NULL) break;
        uintptr_t neighbour = (uintptr_t)*link;
        *link = *(void **)*link; /* unlink it: the two become one run of 2^(k+1) */
        if (neighbour < run) run = neighbour;
    }
    push(&h->big_free[k], (void *)run);
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
        push_merged(h, first, k);
        first += run_bytes(k);
    }
}

/* `bytes` (a multiple of a bigpage) at an address aligned to `alignment` (>= a
 * bigpage) from a break: reads it, requests padding + bytes, and checks where the
 * memory really landed. If another user moved the break in between, the block may
 * still fit in what came back; if not, that memory is salvaged and it tries again. */
static void *grow_break(zh__sc_heap *h, size_t bytes, size_t alignment) {
    void *ctx = h->source.ctx;
    for (int attempt = 0; attempt < 4; attempt++) {
        void *cur = h->source.brk(ctx, 0);
        if (cur == BRK_FAILED) return NULL;
        uintptr_t brk = (uintptr_t)cur, aligned = zh__align_forward_addr(brk, alignment);
        if (aligned < brk) return NULL; /* the padding would wrap around */
        size_t pad = (size_t)(aligned - brk);
        if (pad > (size_t)INTPTR_MAX || bytes > (size_t)INTPTR_MAX - pad) return NULL;
        size_t inc = pad + bytes;
        void *got = h->source.brk(ctx, (intptr_t)inc);
        if (got == BRK_FAILED) return NULL;
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
    if (p != NULL) h->bytes_obtained += bytes;
    return p;
}

/* ---- runs ------------------------------------------------------------------------------------- */

/* For alignment above a bigpage: the first free run of 2^k or more bigpages that
 * holds an aligned run of `bytes`; it is unlinked and the bigpages around the run
 * go back to the free lists. NULL when no free run has one. */
static void *carve_aligned(zh__sc_heap *h, unsigned k, size_t bytes, size_t alignment) {
    for (unsigned j = k; j < ZH__SC_BIG_CLASSES; j++) {
        size_t block_bytes = run_bytes(j);
        for (void **link = &h->big_free[j]; *link != NULL; link = (void **)*link) {
            uintptr_t block = (uintptr_t)*link, end = block + block_bytes;
            uintptr_t run = zh__align_forward_addr(block, alignment);
            if (run < block || run > end || end - run < bytes) continue;
            *link = *(void **)*link;
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
        void *block = pop(&h->big_free[j]);
        if (block == NULL) continue;
        for (unsigned i = k; i < j; i++) push(&h->big_free[i], (char *)block + run_bytes(i));
        return block;
    }
    return NULL;
}

void *zh__sc_run_alloc(zh__sc_heap *h, unsigned k, size_t alignment) {
    size_t bytes = run_bytes(k);
    void *block;
    if (alignment > BIGPAGE) {
        block = carve_aligned(h, k, bytes, alignment);
    } else {
        alignment = BIGPAGE;
        block = pop(&h->big_free[k]);
        if (block == NULL) block = split_larger(h, k);
    }
    return block != NULL ? block : obtain(h, bytes, alignment);
}

void zh__sc_run_free_range(zh__sc_heap *h, void *p, size_t bytes) {
    salvage(h, (uintptr_t)p, (uintptr_t)p + bytes);
}

/* ---- blocks -------------------------------------------------------------------------------------- */

static void *alloc_small(zh__sc_heap *h, zh__sc_class c) {
    void *slot = pop(&h->small_free[c.index]);
    if (slot != NULL) return slot;
    uintptr_t next = h->next_slot[c.index];
    if (zh__is_aligned((void *)next, BIGPAGE)) { /* 0 or the end of the bigpage being carved */
        if (!map_reserve(h)) return NULL;
        void *page = zh__sc_run_alloc(h, 0, BIGPAGE);
        if (page == NULL) return NULL;
        map_insert(h, (uintptr_t)page, c);
        next = (uintptr_t)page;
    }
    h->next_slot[c.index] = next + c.bytes;
    return (void *)next;
}

static void *alloc_block(zh__sc_heap *h, zh__sc_class c, size_t alignment) {
    if (!c.big) return alloc_small(h, c);
    if (!map_reserve(h)) return NULL;
    void *run = zh__sc_run_alloc(h, c.index, alignment);
    if (run != NULL) map_insert(h, (uintptr_t)run, c);
    return run;
}

void *zh__sc_alloc(zh__sc_heap *h, zh__sc_class c, size_t alignment) {
    return alloc_block(h, c, alignment);
}

static void free_block(zh__sc_heap *h, void *p, zh__sc_class c) {
    if (!c.big) {
        push(&h->small_free[c.index], p);
        return;
    }
    size_t i = map_find(h, (uintptr_t)p);
    if (i != SIZE_MAX) map_remove_at(h, i);
    if (h->source.unmap != NULL)
        h->source.unmap(h->source.ctx, p, c.bytes);
    else
        push_merged(h, (uintptr_t)p, c.index);
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
    free_block(h, p, c);
}

void zh__sc_init(zh__sc_heap *h, zh__sc_source source, const char *name) {
    memset(h, 0, sizeof *h);
    h->source = source;
    h->name = name;
    h->map = h->map_inline;
    h->map_capacity = ZH__SC_MAP_INLINE;
}
