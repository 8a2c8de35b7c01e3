/* allocator_calls.c - the zh_allocator entry points whose every path ends in a tail
 * call into the vtable (or returns without calling it): zh_alloc, zh_free, their
 * _aligned forms and the zh_raw_* calls.
 *
 * Kept apart from allocator.c so that optimised builds can compile them without
 * frame pointers (CMakeLists.txt): a tail call leaves no frame of theirs on the
 * stack, so the debug allocator's frame-pointer walk sees the same chain either way,
 * and each call saves the push, move and pop of a frame (docs/benchmarks.md, "Page
 * spans that grow with a class"). The helpers that call the vtable and then do more
 * (realloc, resize to 0, dupe) keep their frames in allocator.c. */
#include "allocator_internal.h"
#include "common.h"

/* ---- the vtable, checked ---------------------------------------------------------- */

static void check_raw(const char *call, size_t len, zh_align align) {
    if (!zh__config_safety) return;
    if (len == 0) zh__panic(call, "zero length reached the vtable");
    if (align > ZH_ALIGN_LOG2_MAX) zh__panic(call, "alignment 2^%u is too large", align);
}

static void check_raw_block(const char *call, const void *mem, size_t len, zh_align align) {
    check_raw(call, len, align);
    if (zh__config_safety && mem == NULL) zh__panic(call, "NULL block of length %zu", len);
}

void *zh_raw_alloc(zh_allocator a, size_t len, zh_align align, uintptr_t ret_addr) {
    check_raw("zh_raw_alloc", len, align);
    return a.vtable->alloc(a.ctx, len, align, ret_addr);
}

bool zh_raw_resize(zh_allocator a, void *mem, size_t len, zh_align align, size_t new_len,
                   uintptr_t ret_addr) {
    check_raw_block("zh_raw_resize", mem, len, align);
    check_raw("zh_raw_resize", new_len, align);
    return a.vtable->resize(a.ctx, mem, len, align, new_len, ret_addr);
}

void *zh_raw_remap(zh_allocator a, void *mem, size_t len, zh_align align, size_t new_len,
                   uintptr_t ret_addr) {
    check_raw_block("zh_raw_remap", mem, len, align);
    check_raw("zh_raw_remap", new_len, align);
    return a.vtable->remap(a.ctx, mem, len, align, new_len, ret_addr);
}

void zh_raw_free(zh_allocator a, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    check_raw_block("zh_raw_free", mem, len, align);
    a.vtable->free(a.ctx, mem, len, align, ret_addr);
}

/* ---- the byte helpers' tail-calling shells ------------------------------------------ */

void *zh_alloc(zh_allocator a, size_t len) {
    return alloc_bytes(a, len, ZH_MALLOC_ALIGNMENT, "zh_alloc", ZH_RETURN_ADDRESS());
}
void *zh_alloc_aligned(zh_allocator a, size_t len, size_t alignment) {
    return alloc_bytes(a, len, alignment, "zh_alloc_aligned", ZH_RETURN_ADDRESS());
}
void zh_free(zh_allocator a, void *p, size_t len) {
    free_bytes(a, p, len, ZH_MALLOC_ALIGNMENT, "zh_free", ZH_RETURN_ADDRESS());
}
void zh_free_aligned(zh_allocator a, void *p, size_t len, size_t alignment) {
    free_bytes(a, p, len, alignment, "zh_free_aligned", ZH_RETURN_ADDRESS());
}
