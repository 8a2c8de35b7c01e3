/* allocator.c - the helpers over any zh_allocator.
 *
 * They hold the parts of Zig's std.mem.Allocator that do not belong to any one
 * allocator: zero-length requests, alignment in bytes, size overflow, 0xaa fill
 * under ZHEAP_SAFETY, and realloc as remap-or-copy. Each is a few branches around
 * one indirect call. */
#include <stdlib.h>

#include "allocator_internal.h"
#include "common.h"

bool zh_safety_enabled(void) { return zh__config_safety; }

zh_align zh_align_from_bytes(size_t bytes) { return align_log2(bytes, "zh_align_from_bytes"); }

/* ---- the byte helpers --------------------------------------------------------------
 * Each public helper is a thin shell that captures its caller's return address and
 * names itself; the shared bodies below (and alloc_bytes and free_bytes in
 * allocator_internal.h) do the work. The shells that always end in a tail call into
 * the vtable are in allocator_calls.c. */

static bool resize_bytes(zh_allocator a, void *p, size_t len, size_t new_len, size_t alignment,
                         const char *call, uintptr_t ret_addr) {
    zh_align align = align_log2(alignment, call);
    if (new_len == 0) {
        free_bytes(a, p, len, alignment, call, ret_addr);
        return true;
    }
    if (len == 0) return false;
    return a.vtable->resize(a.ctx, p, len, align, new_len, ret_addr);
}

static void *remap_bytes(zh_allocator a, void *p, size_t len, size_t new_len, size_t alignment,
                         const char *call, uintptr_t ret_addr) {
    zh_align align = align_log2(alignment, call);
    if (new_len == 0) {
        free_bytes(a, p, len, alignment, call, ret_addr);
        return zh__zero_length_ptr(alignment);
    }
    if (len == 0) return NULL;
    return a.vtable->remap(a.ctx, p, len, align, new_len, ret_addr);
}

static void *realloc_bytes(zh_allocator a, void *p, size_t old_len, size_t new_len,
                           size_t alignment, const char *call, uintptr_t ret_addr) {
    zh_align align = align_log2(alignment, call);
    if (old_len == 0) return alloc_bytes(a, new_len, alignment, call, ret_addr);
    if (new_len == 0) {
        free_bytes(a, p, old_len, alignment, call, ret_addr);
        return zh__zero_length_ptr(alignment);
    }
    /* The old block must stay untouched if this fails, so shrunk bytes are not
     * marked undefined before the outcome is known. */
    void *moved = a.vtable->remap(a.ctx, p, old_len, align, new_len, ret_addr);
    if (moved != NULL) return moved;
    void *fresh = a.vtable->alloc(a.ctx, new_len, align, ret_addr);
    if (fresh == NULL) return NULL;
    size_t keep = old_len < new_len ? old_len : new_len;
    memcpy(fresh, p, keep);
    if (new_len > keep) zh__mark_undefined((char *)fresh + keep, new_len - keep);
    zh__mark_undefined(p, old_len);
    a.vtable->free(a.ctx, p, old_len, align, ret_addr);
    return fresh;
}

bool zh_resize(zh_allocator a, void *p, size_t len, size_t new_len) {
    return resize_bytes(a, p, len, new_len, ZH_MALLOC_ALIGNMENT, "zh_resize",
                        ZH_RETURN_ADDRESS());
}
bool zh_resize_aligned(zh_allocator a, void *p, size_t len, size_t new_len, size_t alignment) {
    return resize_bytes(a, p, len, new_len, alignment, "zh_resize_aligned",
                        ZH_RETURN_ADDRESS());
}
void *zh_remap(zh_allocator a, void *p, size_t len, size_t new_len) {
    return remap_bytes(a, p, len, new_len, ZH_MALLOC_ALIGNMENT, "zh_remap",
                       ZH_RETURN_ADDRESS());
}
void *zh_remap_aligned(zh_allocator a, void *p, size_t len, size_t new_len, size_t alignment) {
    return remap_bytes(a, p, len, new_len, alignment, "zh_remap_aligned",
                       ZH_RETURN_ADDRESS());
}
void *zh_realloc(zh_allocator a, void *p, size_t old_len, size_t new_len) {
    return realloc_bytes(a, p, old_len, new_len, ZH_MALLOC_ALIGNMENT, "zh_realloc",
                         ZH_RETURN_ADDRESS());
}
void *zh_realloc_aligned(zh_allocator a, void *p, size_t old_len, size_t new_len,
                         size_t alignment) {
    return realloc_bytes(a, p, old_len, new_len, alignment, "zh_realloc_aligned",
                         ZH_RETURN_ADDRESS());
}

void *zh_dupe(zh_allocator a, const void *src, size_t len) {
    void *p = alloc_bytes(a, len, ZH_MALLOC_ALIGNMENT, "zh_dupe", ZH_RETURN_ADDRESS());
    if (p != NULL && len > 0) memcpy(p, src, len);
    return p;
}

char *zh_dupez(zh_allocator a, const char *src, size_t len) {
    if (ZH__UNLIKELY(len == SIZE_MAX)) {
        if (zh__config_safety) zh__panic("zh_dupez", "length %zu + 1 overflows", len);
        return NULL;
    }
    /* malloc alignment, so that zh_free(a, p, len + 1) names the same block. */
    char *p = alloc_bytes(a, len + 1, ZH_MALLOC_ALIGNMENT, "zh_dupez", ZH_RETURN_ADDRESS());
    if (p == NULL) return NULL;
    if (len > 0) memcpy(p, src, len);
    p[len] = '\0';
    return p;
}

void *zh__alloc_array(zh_allocator a, size_t count, size_t size, size_t alignment,
                      const char *call) {
    if (ZH__UNLIKELY(size != 0 && count > SIZE_MAX / size)) {
        if (zh__config_safety)
            zh__panic(call, "%zu elements of %zu bytes overflow size_t", count, size);
        return NULL;
    }
    return alloc_bytes(a, count * size, alignment, call, ZH_RETURN_ADDRESS());
}

/* ---- stock vtable entries --------------------------------------------------------- */

bool zh_no_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                  uintptr_t ret_addr) {
    (void)ctx, (void)mem, (void)len, (void)align, (void)new_len, (void)ret_addr;
    return false;
}

void *zh_no_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                  uintptr_t ret_addr) {
    (void)ctx, (void)mem, (void)len, (void)align, (void)new_len, (void)ret_addr;
    return NULL;
}

void zh_no_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ctx, (void)mem, (void)len, (void)align, (void)ret_addr;
}
