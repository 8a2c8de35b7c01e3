/* sbrk.c - SbrkAllocator: power-of-two size classes over any sbrk-like function.
 *
 * What it is for: a general-purpose allocator where the only source of memory is a
 * break that grows (sbrk(2), a static buffer, a bare-metal heap region).
 *
 * Design (Zig's SbrkAllocator, with one unit and an aligned break): a request of
 * max(len, alignment) bytes is rounded up to a power of two and served by the
 * size-class engine (src/core/size_classes.h) over `fn`: below a 64 KiB bigpage a
 * slot of its class (free list, else a bump through the class's bigpage); from a
 * bigpage up a run of 2^k bigpages (its class's free list, else `fn`; free runs
 * are merged and split across classes only when `fn` refuses: ZH__SC_GROW_FIRST,
 * so a class never holds more than its peak until then). A bigpage of a small
 * class whose slots are all free goes back to the runs (Zig keeps it for good).
 * Slots sit at multiples of their size and bigpages are bigpage-aligned, so
 * alignment up to the slot size is free; beyond a bigpage the break is padded.
 * Zig assumes the initial break is aligned; here every growth reads the break
 * first, asks for the padding with the block, and checks the address it got, so a
 * misaligned start or a break moved by someone else costs padding, never
 * correctness.
 *
 * Resize succeeds within the block's size class only, as in Zig: a block that
 * shrinks into a smaller class would strand the rest of its slot (free lists never
 * merge), so zh_realloc moves it instead. The engine remembers the class of every
 * bigpage, so with ZHEAP_SAFETY a free with the wrong length aborts.
 *
 * Costs: O(1) alloc/free in the common case (one lock, a list pop or a bump);
 * O(free runs) for requests aligned above 64 KiB; up to 2x space from rounding;
 * memory never returns to `fn`. No OS call here: only `fn` and the platform mutex.
 * Memory checkers see every block (src/core/track.h, via the engine). */
#include "zheap/sbrk.h"

#include "common.h"
#include "core/size_classes.h"
#include "platform/platform.h"

_Static_assert(sizeof(zh__sc_heap) <= sizeof(((zh_sbrk *)0)->state),
               "ZH__SBRK_STATE_WORDS is too small for the size-class engine");
_Static_assert(_Alignof(zh__sc_heap) <= _Alignof(uintptr_t),
               "zh_sbrk state is not aligned enough for the size-class engine");
_Static_assert(ZH__SBRK_SMALL_CLASSES == ZH__SC_SMALL_CLASSES &&
                   ZH__SBRK_BIG_CLASSES == ZH__SC_BIG_CLASSES &&
                   ZH_SBRK_BIGPAGE_SIZE == ZH__SC_BIGPAGE,
               "sbrk.h and the size-class engine disagree");

#define CALL "zh_sbrk_allocator"

static zh__sc_heap *heap_of(zh_sbrk *s) { return (zh__sc_heap *)(void *)s->state.words; }

static void *call_fn(void *ctx, intptr_t increment) { return ((zh_sbrk *)ctx)->fn(increment); }

/* The class of a (len, alignment) pair; false when no class is large enough. */
static bool classify(size_t len, zh_align align, zh__sc_class *out) {
    size_t alignment = zh_align_to_bytes(align);
    return zh__sc_classify(len > alignment ? len : alignment, out);
}

static void *sbrk_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ret_addr;
    zh_sbrk *s = ctx;
    zh__sc_class c;
    if (!classify(len, align, &c)) return NULL;
    zh__mutex_lock(&s->mutex);
    void *p = zh__sc_alloc(heap_of(s), c, zh_align_to_bytes(align), len);
    zh__mutex_unlock(&s->mutex);
    return p;
}

/* Within the size class only (no lock: the heap does not change; memory checkers
 * are told about the block, which only its owner touches). */
static bool sbrk_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                        uintptr_t ret_addr) {
    (void)ret_addr;
    zh__sc_class old_c, new_c;
    if (!classify(len, align, &old_c) || !classify(new_len, align, &new_c) ||
        !zh__sc_same_class(old_c, new_c))
        return false;
    zh__sc_resized(heap_of(ctx), mem, len, new_len);
    return true;
}

static void *sbrk_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                        uintptr_t ret_addr) {
    return sbrk_resize(ctx, mem, len, align, new_len, ret_addr) ? mem : NULL;
}

static void sbrk_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ret_addr;
    zh_sbrk *s = ctx;
    zh__sc_class c;
    if (!classify(len, align, &c)) {
        if (zh__config_safety)
            zh__panic(CALL, "free of %p (len %zu, alignment %zu): no block is that large", mem,
                      len, zh_align_to_bytes(align));
        return;
    }
    zh__mutex_lock(&s->mutex);
    zh__sc_free(heap_of(s), mem, c);
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
    zh__sc_init(heap_of(s), (zh__sc_source){.brk = call_fn, .ctx = s}, CALL,
                ZH__SC_TRACK_BLOCKS | ZH__SC_GROW_FIRST);
}

zh_allocator zh_sbrk_allocator(zh_sbrk *s) {
    return (zh_allocator){.ctx = s, .vtable = &sbrk_vtable};
}
