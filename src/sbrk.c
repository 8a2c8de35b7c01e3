/* sbrk.c - SbrkAllocator: power-of-two size classes over any sbrk-like function.
 *
 * What it is for: a general-purpose allocator where the only source of memory is a
 * break that grows (sbrk(2), a static buffer, a bare-metal heap region).
 *
 * Design (Zig's SbrkAllocator, with one unit and an aligned break): the unit is the
 * bigpage (ZH_SBRK_BIGPAGE_SIZE, 64 KiB). A request of max(len, alignment) bytes is
 * rounded up to a power of two. Below a bigpage that is a small slot: popped from
 * the class's free list, or bumped from the bigpage the class is carving; a class
 * takes a new bigpage exactly when its bump pointer reaches a bigpage boundary.
 * (Zig tests that boundary against the OS page size instead, so with 4 KiB pages
 * it abandons 60 KiB of every 64 KiB bigpage; here the bigpage is the only unit.)
 * From a bigpage up, the block is a power-of-two number of bigpages, popped from
 * that count's free list, split off a larger free block, or taken from `fn`
 * (over-aligned ones are cut out of any free block that holds an aligned run).
 * Slots inside a bigpage sit at multiples of their size, and bigpages are
 * bigpage-aligned, so alignment up to the slot size is free; beyond a bigpage the
 * break is padded to the alignment. Zig assumes the initial break is aligned; here
 * every growth reads the break first, asks for the padding with the block, and
 * checks the address it got, so a misaligned start or a break moved by someone
 * else between two calls costs padding, never correctness. Padding and leftovers
 * that hold whole bigpages go onto the free lists; smaller slivers are counted in
 * bytes_lost.
 *
 * Shrinking never fails: the slot's tail halves go onto the smaller classes' lists.
 *
 * Costs: O(1) alloc/free in the common case (one lock, a list pop or a bump);
 * O(free bigpage blocks) for requests aligned above 64 KiB; up to 2x
 * space from rounding; memory never returns to `fn`. Free bigpage blocks are split
 * but never merged. No OS call here: only `fn` and the platform mutex. */
#include "zheap/sbrk.h"

#include "common.h"
#include "platform/platform.h"

#define BIGPAGE ZH_SBRK_BIGPAGE_SIZE
#define MIN_SLOT sizeof(void *)
#define SBRK_FAILED ((void *)-1)

/* How a (len, alignment) pair is stored: a small slot size or a bigpage count. */
typedef struct sbrk_class {
    bool big;
    unsigned index;     /* small: log2(slot) - log2(MIN_SLOT); big: log2(bigpages) */
    size_t slot_bytes;  /* bytes of the slot or bigpage block */
} sbrk_class;

/* The smallest power of two >= x, or 0 when it does not fit in size_t. */
static size_t ceil_pow2(size_t x) {
    if (x <= 1) return 1;
    unsigned bits = (unsigned)(sizeof(size_t) * CHAR_BIT);
#if defined(__GNUC__) || defined(__clang__)
    /* clzll counts in unsigned long long, which is wider than size_t on 32-bit targets. */
    unsigned width = (unsigned)(sizeof(unsigned long long) * CHAR_BIT) -
                     (unsigned)__builtin_clzll((unsigned long long)(x - 1));
#else
    unsigned width = 0;
    for (size_t v = x - 1; v != 0; v >>= 1) width++;
#endif
    return width >= bits ? 0 : (size_t)1 << width;
}

/* Classifies a block; false when it cannot be represented (too large). */
static bool classify(size_t len, zh_align align, sbrk_class *out) {
    size_t alignment = zh_align_to_bytes(align);
    size_t need = len > alignment ? len : alignment;
    if (need < MIN_SLOT) need = MIN_SLOT;
    if (need < BIGPAGE) {
        size_t slot = ceil_pow2(need);
        if (slot < BIGPAGE) {
            *out = (sbrk_class){false, zh__log2_pow2(slot) - zh__log2_pow2(MIN_SLOT), slot};
            return true;
        }
    }
    size_t pages = need / BIGPAGE + (need % BIGPAGE != 0);
    size_t pow2_pages = ceil_pow2(pages);
    if (pow2_pages == 0 || pow2_pages > SIZE_MAX / BIGPAGE) return false;
    *out = (sbrk_class){true, zh__log2_pow2(pow2_pages), pow2_pages * BIGPAGE};
    return out->index < ZH__SBRK_BIG_CLASSES;
}

/* ---- free lists -------------------------------------------------------------------- */

static void push(void **list, void *block) {
    *(void **)block = *list;
    *list = block;
}

static void *pop(void **list) {
    void *block = *list;
    if (block != NULL) *list = *(void **)block;
    return block;
}

/* Gives whole bigpages of [lo, hi) to the big free lists; counts the rest as lost. */
static void salvage(zh_sbrk *s, uintptr_t lo, uintptr_t hi) {
    if (hi <= lo) return;
    uintptr_t first = zh__align_forward_addr(lo, BIGPAGE);
    uintptr_t last = hi & ~(uintptr_t)(BIGPAGE - 1);
    if (first >= last) {
        s->bytes_lost += (size_t)(hi - lo);
        return;
    }
    s->bytes_lost += (size_t)(first - lo) + (size_t)(hi - last);
    while (first < last) {
        size_t pages = (size_t)(last - first) / BIGPAGE;
        unsigned k = zh__log2_pow2(ceil_pow2(pages + 1) >> 1); /* largest 2^k <= pages */
        push(&s->big_free[k], (void *)first);
        first += ((uintptr_t)1 << k) * BIGPAGE;
    }
}

/* For alignment above a bigpage: the first free block of 2^k or more bigpages that
 * holds an aligned run of `bytes`; it is unlinked and the bigpages around the run
 * go back to the free lists. NULL when no free block has one. */
static void *carve_aligned(zh_sbrk *s, unsigned k, size_t bytes, size_t alignment) {
    for (unsigned j = k; j < ZH__SBRK_BIG_CLASSES; j++) {
        size_t block_bytes = ((size_t)1 << j) * BIGPAGE;
        for (void **link = &s->big_free[j]; *link != NULL; link = (void **)*link) {
            uintptr_t block = (uintptr_t)*link, end = block + block_bytes;
            uintptr_t run = zh__align_forward_addr(block, alignment);
            if (run < block || run > end || end - run < bytes) continue;
            *link = *(void **)*link;
            salvage(s, block, run);
            salvage(s, run + bytes, end);
            return (void *)run;
        }
    }
    return NULL;
}

/* ---- growth through fn ----------------------------------------------------------------- */

/* Asks fn for `bytes` (a multiple of BIGPAGE) at an address aligned to `alignment`
 * (>= BIGPAGE). Reads the break, requests padding + bytes, and checks where the
 * memory really landed: if another user moved the break in between, the block may
 * still fit in what came back; if not, that memory is salvaged and it tries again.
 * NULL when fn fails; nothing is handed out beyond what fn returned. */
static void *grow(zh_sbrk *s, size_t bytes, size_t alignment) {
    for (int attempt = 0; attempt < 4; attempt++) {
        void *cur = s->fn(0);
        if (cur == SBRK_FAILED) return NULL;
        uintptr_t brk = (uintptr_t)cur, aligned = zh__align_forward_addr(brk, alignment);
        if (aligned < brk) return NULL; /* the padding would wrap around */
        size_t pad = (size_t)(aligned - brk);
        if (pad > (size_t)INTPTR_MAX || bytes > (size_t)INTPTR_MAX - pad) return NULL;
        size_t inc = pad + bytes;
        void *got = s->fn((intptr_t)inc);
        if (got == SBRK_FAILED) return NULL;
        s->bytes_obtained += inc;
        uintptr_t lo = (uintptr_t)got, hi = lo + inc;
        uintptr_t block = zh__align_forward_addr(lo, alignment);
        if (block >= lo && block <= hi && hi - block >= bytes) {
            salvage(s, lo, block);
            salvage(s, block + bytes, hi);
            return (void *)block;
        }
        salvage(s, lo, hi);
    }
    return NULL;
}

/* ---- the two kinds of block ------------------------------------------------------------ */

/* A block of 2^k bigpages: same count free list, a split larger block, or fn. */
static void *alloc_bigpages(zh_sbrk *s, unsigned k, size_t alignment) {
    size_t bytes = ((size_t)1 << k) * BIGPAGE;
    if (alignment > BIGPAGE) {
        void *block = carve_aligned(s, k, bytes, alignment);
        return block != NULL ? block : grow(s, bytes, alignment);
    }
    void *block = pop(&s->big_free[k]);
    if (block != NULL) return block;
    for (unsigned j = k + 1; j < ZH__SBRK_BIG_CLASSES; j++) {
        block = pop(&s->big_free[j]);
        if (block == NULL) continue;
        /* Keep the first 2^k bigpages; the halves after them go back, smallest first. */
        for (unsigned i = k; i < j; i++)
            push(&s->big_free[i], (char *)block + ((size_t)1 << i) * BIGPAGE);
        return block;
    }
    return grow(s, bytes, BIGPAGE);
}

static void *alloc_small(zh_sbrk *s, sbrk_class c) {
    void *slot = pop(&s->small_free[c.index]);
    if (slot != NULL) return slot;
    uintptr_t next = s->next_slot[c.index];
    if (next % BIGPAGE == 0) { /* 0 or the end of the bigpage being carved */
        void *page = alloc_bigpages(s, 0, BIGPAGE);
        if (page == NULL) return NULL;
        next = (uintptr_t)page;
    }
    s->next_slot[c.index] = next + c.slot_bytes;
    return (void *)next;
}

/* ---- the vtable ---------------------------------------------------------------------------- */

static void *sbrk_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ret_addr;
    zh_sbrk *s = ctx;
    sbrk_class c;
    if (!classify(len, align, &c)) return NULL;
    zh__mutex_lock(&s->mutex);
    void *p = c.big ? alloc_bigpages(s, c.index, zh_align_to_bytes(align))
                    : alloc_small(s, c);
    zh__mutex_unlock(&s->mutex);
    return p;
}

/* Pushes the pieces of a block beyond its first `new_c.slot_bytes` onto the free
 * lists: the halves of a power-of-two block, largest last, each aligned to its size
 * relative to the block (so small pieces keep their natural alignment). */
static void give_back_tail(zh_sbrk *s, uintptr_t base, sbrk_class old_c, sbrk_class new_c) {
    unsigned small_classes = zh__log2_pow2(BIGPAGE) - zh__log2_pow2(MIN_SLOT);
    if (old_c.big) {
        for (unsigned i = new_c.big ? new_c.index : 0; i < old_c.index; i++)
            push(&s->big_free[i], (void *)(base + ((uintptr_t)1 << i) * BIGPAGE));
        if (new_c.big) return;
        old_c.index = small_classes; /* then split the first bigpage as a small slot */
    }
    for (unsigned i = new_c.index; i < old_c.index; i++)
        push(&s->small_free[i], (void *)(base + ((uintptr_t)MIN_SLOT << i)));
}

/* Growing stays within the block's class (the slot already holds new_len bytes);
 * shrinking into a smaller class gives the rest of the slot back to the free lists. */
static bool sbrk_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                        uintptr_t ret_addr) {
    (void)ret_addr;
    zh_sbrk *s = ctx;
    sbrk_class old_c, new_c;
    if (!classify(len, align, &old_c) || !classify(new_len, align, &new_c)) return false;
    if (old_c.big == new_c.big && old_c.index == new_c.index) return true;
    if (new_c.slot_bytes > old_c.slot_bytes) return false;
    zh__mutex_lock(&s->mutex);
    give_back_tail(s, (uintptr_t)mem, old_c, new_c);
    zh__mutex_unlock(&s->mutex);
    return true;
}

static void *sbrk_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                        uintptr_t ret_addr) {
    return sbrk_resize(ctx, mem, len, align, new_len, ret_addr) ? mem : NULL;
}

static void sbrk_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ret_addr;
    zh_sbrk *s = ctx;
    sbrk_class c;
    bool valid = classify(len, align, &c);
    if (zh__config_safety) {
        if (!valid || !zh__is_aligned(mem, c.big ? BIGPAGE : c.slot_bytes))
            zh__panic("zh_sbrk_allocator", "free of %p (len %zu, alignment %zu): not a block "
                      "of that size class; wrong length or alignment?", mem, len,
                      zh_align_to_bytes(align));
    }
    if (!valid) return;
    zh__mutex_lock(&s->mutex);
    push(c.big ? &s->big_free[c.index] : &s->small_free[c.index], mem);
    zh__mutex_unlock(&s->mutex);
}

static const zh_allocator_vtable sbrk_vtable = {
    .alloc = sbrk_alloc,
    .resize = sbrk_resize,
    .remap = sbrk_remap,
    .free = sbrk_free,
};

void zh_sbrk_init(zh_sbrk *s, void *(*fn)(intptr_t increment)) {
    if (s == NULL || fn == NULL) zh__panic("zh_sbrk_init", "NULL %s", s == NULL ? "state" : "fn");
    memset(s, 0, sizeof *s);
    s->fn = fn;
    zh__mutex_init(&s->mutex);
}

zh_allocator zh_sbrk_allocator(zh_sbrk *s) {
    return (zh_allocator){.ctx = s, .vtable = &sbrk_vtable};
}
