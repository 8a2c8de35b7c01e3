/* stack_fallback.c - a caller's buffer first, then a fallback allocator.
 *
 * Purpose: cheap scratch memory for code that usually needs little (a stack
 * array) but must cope with large inputs (the fallback), as Zig's
 * StackFallbackAllocator.
 * Design: an embedded fixed-buffer allocator over the caller's buffer is tried
 * first; when it returns NULL the request goes to the fallback. Every other call
 * is dispatched by ownership: a pointer inside the buffer belongs to the fba,
 * anything else to the fallback. A buffer block never migrates by itself;
 * zh_realloc moves it (alloc + copy + free) when in-place growth fails.
 * Costs: a bump and a bounds check for buffer allocations, one failed bump plus
 * the fallback's cost for the rest; resize/remap/free add one range check. No
 * memory of its own. */
#include "zheap/stack_fallback.h"

#include "common.h"

static zh_allocator fba_of(zh_stack_fallback *sf) { return zh_fba_allocator(&sf->fba); }

static void *sf_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    zh_stack_fallback *sf = ctx;
    void *p = zh__fba_bump(&sf->fba, len, zh_align_to_bytes(align));
    if (ZH__LIKELY(p != NULL)) return p;
    return sf->fallback.vtable->alloc(sf->fallback.ctx, len, align, ret_addr);
}

static bool sf_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                      uintptr_t ret_addr) {
    zh_stack_fallback *sf = ctx;
    zh_allocator owner = zh_fba_owns_ptr(&sf->fba, mem) ? fba_of(sf) : sf->fallback;
    return owner.vtable->resize(owner.ctx, mem, len, align, new_len, ret_addr);
}

static void *sf_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                      uintptr_t ret_addr) {
    zh_stack_fallback *sf = ctx;
    zh_allocator owner = zh_fba_owns_ptr(&sf->fba, mem) ? fba_of(sf) : sf->fallback;
    return owner.vtable->remap(owner.ctx, mem, len, align, new_len, ret_addr);
}

static void sf_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    zh_stack_fallback *sf = ctx;
    zh_allocator owner = zh_fba_owns_ptr(&sf->fba, mem) ? fba_of(sf) : sf->fallback;
    owner.vtable->free(owner.ctx, mem, len, align, ret_addr);
}

static const zh_allocator_vtable sf_vtable = {
    .alloc = sf_alloc,
    .resize = sf_resize,
    .remap = sf_remap,
    .free = sf_free,
};

void zh_stack_fallback_init(zh_stack_fallback *sf, void *buffer, size_t len,
                            zh_allocator fallback) {
    zh_fba_init(&sf->fba, buffer, len);
    sf->fallback = fallback;
    sf->buffer = buffer;
    sf->len = len;
    sf->got = false;
}

zh_allocator zh_stack_fallback_get(zh_stack_fallback *sf) {
    if (zh__config_safety && sf->got)
        zh__panic("zh_stack_fallback_get",
                  "called twice on the same instance (it resets the buffer under live "
                  "blocks); call it once and keep the returned allocator");
    /* Only the first call resets: without safety a repeated call must not pull
     * the buffer out from under blocks already handed out. */
    if (!sf->got) zh_fba_init(&sf->fba, sf->buffer, sf->len);
    sf->got = true;
    return (zh_allocator){.ctx = sf, .vtable = &sf_vtable};
}

bool zh_stack_fallback_owns_ptr(const zh_stack_fallback *sf, const void *p) {
    return zh_fba_owns_ptr(&sf->fba, p);
}
