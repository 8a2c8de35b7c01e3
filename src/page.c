/* page.c - the page allocator (Zig's std.heap.PageAllocator).
 *
 * What it is for: blocks straight from the OS, one mapping each, for large
 * allocations and as the backing of arenas and pools.
 *
 * Design: alloc rounds the length up to whole pages and asks the platform for one
 * mapping with the requested alignment (the platform over-maps and trims when the
 * alignment exceeds its granularity). A process-wide atomic address hint, advanced
 * with a compare-and-swap past each new mapping, steers the next mapping above the
 * last one so that freed addresses are not reused at once; a hint set by the user
 * is rounded up to a page boundary, and a hint the OS refuses is dropped for that
 * mapping (which then moves it on). resize works on whole
 * pages: the same page count always succeeds, shrinking gives tail pages back where
 * the platform can, growing extends the mapping in place where the following pages
 * are free. remap additionally lets the OS move the mapping without copying
 * (mremap) when the block needs no more than page alignment. The allocator never
 * reads or writes the memory it hands out and keeps no other state: it is
 * lock-free and thread-safe.
 *
 * Costs: a system call per alloc, free and page-count-changing resize; at least one
 * page of memory per block; over-aligned blocks reserve alignment - page extra
 * address space transiently. */
#include <stdatomic.h>

#include "zheap/page.h"

#include "common.h"
#include "platform/platform.h"

/* Where the next mapping should go (Zig's next_mmap_addr_hint); 0: anywhere. */
static _Atomic(uintptr_t) next_mmap_addr_hint = 0;

static const zh__os_info *os(void) { return zh__os_info_get(); }

size_t zh_page_size(void) {
    size_t page = os()->page_size;
    if (zh__config_safety) {
        if (page < (size_t)ZH_PAGE_SIZE_MIN || page > (size_t)ZH_PAGE_SIZE_MAX)
            zh__panic("zh_page_size", "the OS page size %zu is outside [%zu, %zu]", page,
                      (size_t)ZH_PAGE_SIZE_MIN, (size_t)ZH_PAGE_SIZE_MAX);
    }
    return page;
}

/* A hint on a page boundary: the given address rounded up to the next page (0 if
 * that wraps). Some mmaps reject a hint that is not (valgrind's does). */
static uintptr_t page_aligned_hint(uintptr_t hint) {
    uintptr_t rounded = zh__align_forward_addr(hint, zh_page_size());
    return rounded < hint ? 0 : rounded;
}

void zh_set_mmap_addr_hint(void *hint) {
    atomic_store_explicit(&next_mmap_addr_hint, page_aligned_hint((uintptr_t)hint),
                          memory_order_relaxed);
}

/* Maps at the hint, or anywhere if the OS refuses the hint (so that a hint the OS
 * dislikes costs one retry instead of failing every allocation); the hint then
 * moves past the new mapping. */
static char *map_pages(size_t map_len, size_t alignment) {
    uintptr_t hint = atomic_load_explicit(&next_mmap_addr_hint, memory_order_relaxed);
    char *p = zh__os_map(map_len, alignment, (void *)hint);
    if (p == NULL && hint != 0) p = zh__os_map(map_len, alignment, NULL);
    if (p == NULL) return NULL;
    /* Only the thread whose hint was current moves it on; a lost race means
     * another mapping just advanced it, which serves the purpose as well. */
    atomic_compare_exchange_strong_explicit(&next_mmap_addr_hint, &hint,
                                            (uintptr_t)p + map_len, memory_order_relaxed,
                                            memory_order_relaxed);
    return p;
}

/* Rounds len up to whole pages; false when that overflows. */
static bool page_aligned_len(size_t len, size_t page, size_t *out) {
    return zh__align_forward_checked(len, page, out);
}

static void check_block(const char *what, const void *mem, size_t page) {
    if (zh__config_safety && !zh__is_aligned(mem, page))
        zh__panic("zh_page_allocator", "%s of %p, which no page mapping starts at", what, mem);
}

static void *page_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ctx;
    (void)ret_addr;
    size_t page = zh_page_size();
    size_t map_len;
    if (!page_aligned_len(len, page, &map_len)) return NULL;

    return map_pages(map_len, zh_align_to_bytes(align));
}

/* In-place change of the page count. Shrinking needs ZH__OS_CAN_SHRINK: without it
 * the tail pages could not be given back, and a later free with the shorter length
 * would leak them on backends that unmap only what they are told. On backends
 * without partial unmapping (Windows) shrinking only decommits, and free releases
 * the whole original reservation whatever length it is given. */
static bool resize_pages(void *mem, size_t old_pages_len, size_t new_pages_len) {
    unsigned caps = os()->caps;
    if (new_pages_len == old_pages_len) return true;
    if (new_pages_len < old_pages_len)
        return (caps & ZH__OS_CAN_SHRINK) && zh__os_shrink(mem, old_pages_len, new_pages_len);
    return (caps & ZH__OS_CAN_GROW) && zh__os_grow(mem, old_pages_len, new_pages_len);
}

/* Checks the block and gives the mapped lengths before and after a resize or remap;
 * false when the new length overflows when rounded up to pages. */
static bool page_lengths(const char *call, void *mem, size_t len, size_t new_len,
                         size_t *old_pages_len, size_t *new_pages_len) {
    size_t page = zh_page_size();
    check_block(call, mem, page);
    *old_pages_len = zh__align_forward(len, page);
    return page_aligned_len(new_len, page, new_pages_len);
}

static bool page_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                        uintptr_t ret_addr) {
    (void)ctx;
    (void)align;
    (void)ret_addr;
    size_t old_pages_len, new_pages_len;
    if (!page_lengths("resize", mem, len, new_len, &old_pages_len, &new_pages_len))
        return false;
    return resize_pages(mem, old_pages_len, new_pages_len);
}

static void *page_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                        uintptr_t ret_addr) {
    (void)ctx;
    (void)ret_addr;
    size_t old_pages_len, new_pages_len;
    if (!page_lengths("remap", mem, len, new_len, &old_pages_len, &new_pages_len))
        return NULL;
    if (new_pages_len == old_pages_len) return mem;

    /* A moved mapping is only page-aligned, so over-aligned blocks stay put. */
    bool may_move = (os()->caps & ZH__OS_CAN_REMAP) && zh_align_to_bytes(align) <= zh_page_size();
    if (new_pages_len > old_pages_len && may_move)
        return zh__os_remap(mem, old_pages_len, new_pages_len);
    return resize_pages(mem, old_pages_len, new_pages_len) ? mem : NULL;
}

static void page_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ctx;
    (void)align;
    (void)ret_addr;
    size_t page = zh_page_size();
    check_block("free", mem, page);
    zh__os_unmap(mem, zh__align_forward(len, page));
}

static const zh_allocator_vtable page_vtable = {
    .alloc = page_alloc,
    .resize = page_resize,
    .remap = page_remap,
    .free = page_free,
};

const zh_allocator zh_page_allocator = {.ctx = NULL, .vtable = &page_vtable};
