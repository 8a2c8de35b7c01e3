/* pool.c - Zig's MemoryPool: fixed-size items, an intrusive free list, an arena.
 *
 * Design: new items are bumped out of an internal zh_arena over the backing
 * allocator; destroyed items are pushed onto a singly linked free list threaded
 * through the items themselves, and create pops it first. The pop/push fast
 * paths are inline in pool.h; this file has the rest (new items, checks and
 * 0xaa fill in ZHEAP_SAFETY builds, preheat, reset).
 *
 * Costs: create and destroy are O(1) - a pointer pop/push when the free list has
 * items, an arena bump otherwise, and a backing-allocator call only when the
 * arena's buffer is full. No per-item header: memory use is item_size per item
 * plus the arena's per-buffer overhead. Reset costs O(arena buffers) plus, for
 * a non-growable pool, O(items) to rebuild its free list. */
#include "zheap/pool.h"

#include "common.h"

static void validate_options(zh_pool_options *o) {
    if (o->item_align == 0) o->item_align = ZH_MALLOC_ALIGNMENT;
    if (!zh__is_pow2(o->item_align))
        zh__panic("zh_pool_init", "item_align %zu is not a power of two", o->item_align);
    if (zh__log2_pow2(o->item_align) > ZH_ALIGN_LOG2_MAX)
        zh__panic("zh_pool_init", "item_align %zu exceeds the maximum 2^%d", o->item_align,
                  ZH_ALIGN_LOG2_MAX);
    if (o->item_align < _Alignof(void *)) o->item_align = _Alignof(void *);
    if (o->item_size < sizeof(void *)) o->item_size = sizeof(void *);
    size_t rounded;
    if (!zh__align_forward_checked(o->item_size, o->item_align, &rounded))
        zh__panic("zh_pool_init", "item_size %zu rounded up to alignment %zu overflows",
                  o->item_size, o->item_align);
    o->item_size = rounded;
}

void zh_pool_init(zh_pool *pool, zh_allocator backing, zh_pool_options options) {
    validate_options(&options);
    pool->free_list = NULL;
    pool->checked = zh__config_safety;
    pool->growable = options.growable;
    pool->item_size = options.item_size;
    pool->item_align = options.item_align;
    pool->carved = 0;
    zh_arena_init(&pool->arena, backing);
}

void zh_pool_deinit(zh_pool *pool) {
    zh_arena_deinit(&pool->arena);
    pool->free_list = NULL;
    pool->carved = 0;
}

static void push_free(zh_pool *pool, void *item) {
    *(void **)item = pool->free_list;
    pool->free_list = item;
}

/* Threads `count` consecutive items starting at `first` onto the free list, so
 * that the lowest address is handed out first. */
static void push_run(zh_pool *pool, unsigned char *first, size_t count) {
    for (size_t i = count; i > 0; i--) push_free(pool, first + (i - 1) * pool->item_size);
}

bool zh_pool_preheat(zh_pool *pool, size_t count) {
    if (count == 0) return true;
    if (count > SIZE_MAX / pool->item_size) return false;
    unsigned char *run = zh_arena_alloc(&pool->arena, count * pool->item_size, pool->item_align);
    if (run == NULL) return false;
    zh__mark_undefined(run, count * pool->item_size);
    pool->carved += count;
    push_run(pool, run, count);
    return true;
}

void *(zh_pool_create)(zh_pool *pool) {
    void *item = pool->free_list;
    if (item != NULL) {
        pool->free_list = *(void **)item;
    } else {
        if (!pool->growable) return NULL;
        item = zh_arena_alloc(&pool->arena, pool->item_size, pool->item_align);
        if (item == NULL) return NULL;
        pool->carved++;
    }
    zh__mark_undefined(item, pool->item_size);
    return item;
}

void(zh_pool_destroy)(zh_pool *pool, void *item) {
    if (zh__config_safety) {
        if (item == NULL) zh__panic("zh_pool_destroy", "NULL item");
        if (!zh__is_aligned(item, pool->item_align))
            zh__panic("zh_pool_destroy", "item %p is not aligned to %zu: not from this pool",
                      item, pool->item_align);
        zh__mark_undefined(item, pool->item_size);
    }
    push_free(pool, item);
}

/* After a retaining reset the arena holds one buffer; carve up to `count` items
 * from it without asking the backing allocator for more. */
static void carve_retained(zh_pool *pool, size_t count) {
    zh_arena *a = &pool->arena;
    if (a->buffers == NULL) return;
    size_t pad = (size_t)(-(uintptr_t)a->cur) & (pool->item_align - 1);
    size_t avail = (size_t)(a->end - a->cur);
    size_t fits = avail < pad ? 0 : (avail - pad) / pool->item_size;
    if (count > fits) count = fits;
    if (count == 0) return;
    unsigned char *run = zh_arena_alloc(a, count * pool->item_size, pool->item_align);
    pool->carved = count;
    push_run(pool, run, count);
}

bool zh_pool_reset(zh_pool *pool, zh_arena_reset_mode mode, size_t limit) {
    size_t had = pool->carved;
    bool ok = zh_arena_reset(&pool->arena, mode, limit);
    pool->free_list = NULL;
    pool->carved = 0;
    if (!pool->growable) carve_retained(pool, had);
    return ok;
}
