/* pool.c - Zig's MemoryPool: fixed-size items, an intrusive free list, an arena.
 *
 * Design: new items are bumped out of an internal zh_arena over the backing
 * allocator; destroyed items are pushed onto a singly linked free list threaded
 * through the items themselves, and create pops it first. The pop/push fast
 * paths are inline in pool.h; this file has the rest (new items, checks and
 * 0xaa fill in ZHEAP_SAFETY builds, preheat, reset). The pool uses the arena
 * only through its functions (arena.h, arena_internal.h), and names its own
 * caller to the arena, so the backing allocator sees the user's code as the
 * return address.
 *
 * Costs: create and destroy are O(1) - a pointer pop/push when the free list has
 * items, an arena bump otherwise, and a backing-allocator call only when the
 * arena's buffer is full. No per-item header: memory use is item_size per item
 * plus the arena's per-buffer overhead (under ASan also the arena's redzone before
 * each item carved on its own, arena.c). Reset costs O(arena buffers) plus, for
 * a non-growable pool, O(items) to rebuild its free list. */
#include "zheap/pool.h"

#include "arena_internal.h"
#include "common.h"
#include "core/track.h"

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
    /* Under a memory checker every create/destroy takes the tracked path. */
    pool->checked = zh__config_safety || ZH__TRACK_ENABLED;
    pool->growable = options.growable;
    pool->item_size = options.item_size;
    pool->item_align = options.item_align;
    pool->carved = 0;
    zh_arena_init(&pool->arena, backing);
    zh__track_group_create(pool); /* live items are a group: reset and deinit end them */
}

ZH_NOINLINE void zh_pool_deinit(zh_pool *pool) {
    zh__track_group_reset(pool);
    zh__arena_deinit_for(&pool->arena, ZH_RETURN_ADDRESS());
    pool->free_list = NULL;
    pool->carved = 0;
}

/* A free item is unaddressable but for the link in its first word. */
static void push_free(zh_pool *pool, void *item) {
    zh__track_mem_undefined(item, sizeof(void *));
    *(void **)item = pool->free_list;
    pool->free_list = item;
}

/* Threads `count` consecutive items starting at `first` onto the free list, so
 * that the lowest address is handed out first. */
static void push_run(zh_pool *pool, unsigned char *first, size_t count) {
    zh__track_mem_noaccess(first, count * pool->item_size);
    for (size_t i = count; i > 0; i--) push_free(pool, first + (i - 1) * pool->item_size);
}

/* `len` (> 0) bytes at item alignment from the arena, naming `ret_addr`. */
static void *carve(zh_pool *pool, size_t len, uintptr_t ret_addr) {
    if (ZH__LIKELY(zh__arena_fits(&pool->arena, len, pool->item_align)))
        return zh__arena_take(&pool->arena, len, pool->item_align);
    return zh__arena_alloc_grow(&pool->arena, len, pool->item_align, ret_addr);
}

ZH_NOINLINE bool zh_pool_preheat(zh_pool *pool, size_t count) {
    if (count == 0) return true;
    if (count > SIZE_MAX / pool->item_size) return false;
    unsigned char *run = carve(pool, count * pool->item_size, ZH_RETURN_ADDRESS());
    if (run == NULL) return false;
    zh__mark_undefined(run, count * pool->item_size);
    pool->carved += count;
    push_run(pool, run, count);
    return true;
}

ZH_NOINLINE void *zh_pool_create(zh_pool *pool) {
    void *item = pool->free_list;
    if (item != NULL) {
        pool->free_list = *(void **)item;
    } else {
        if (!pool->growable) return NULL;
        item = carve(pool, pool->item_size, ZH_RETURN_ADDRESS());
        if (item == NULL) return NULL;
        pool->carved++;
    }
    zh__track_group_alloc(pool, item, pool->item_size);
    zh__mark_undefined(item, pool->item_size);
    return item;
}

void zh_pool_destroy(zh_pool *pool, void *item) {
    if (zh__config_safety) {
        if (item == NULL) zh__panic("zh_pool_destroy", "NULL item");
        if (!zh__is_aligned(item, pool->item_align))
            zh__panic("zh_pool_destroy", "item %p is not aligned to %zu: not from this pool",
                      item, pool->item_align);
        zh__mark_undefined(item, pool->item_size);
    }
    zh__track_group_free(pool, item, pool->item_size);
    push_free(pool, item);
}

/* After a retaining reset the arena holds one buffer; carve up to `count` items
 * from it without asking the backing allocator for more. */
static void carve_retained(zh_pool *pool, size_t count) {
    size_t fits = zh_arena_query_available(&pool->arena, pool->item_align) / pool->item_size;
    if (count > fits) count = fits;
    if (count == 0) return;
    unsigned char *run = zh__arena_take(&pool->arena, count * pool->item_size, pool->item_align);
    pool->carved = count;
    push_run(pool, run, count);
}

ZH_NOINLINE bool zh_pool_reset(zh_pool *pool, zh_arena_reset_mode mode, size_t limit) {
    size_t had = pool->carved;
    zh__track_group_reset(pool);
    bool ok = zh__arena_reset_for(&pool->arena, mode, limit, ZH_RETURN_ADDRESS());
    pool->free_list = NULL;
    pool->carved = 0;
    if (!pool->growable) carve_retained(pool, had);
    return ok;
}
