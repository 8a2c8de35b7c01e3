/* allocator_internal.h - the bodies shared by the zh_allocator helpers
 * (allocator.c) and their tail-calling entry points (allocator_calls.c): alignment
 * in bytes, zero-length requests and the safety checks around one vtable call. */
#ifndef ZHEAP_SRC_ALLOCATOR_INTERNAL_H
#define ZHEAP_SRC_ALLOCATOR_INTERNAL_H

#include "common.h"

/* log2 of a power-of-two alignment; `call` names the public entry point. */
static inline zh_align align_log2(size_t bytes, const char *call) {
    if (ZH__UNLIKELY(!zh__is_pow2(bytes)))
        zh__panic(call, "alignment %zu is not a power of two", bytes);
    unsigned log2 = zh__log2_pow2(bytes);
    if (ZH__UNLIKELY(log2 > ZH_ALIGN_LOG2_MAX))
        zh__panic(call, "alignment %zu exceeds the maximum 2^%d", bytes, ZH_ALIGN_LOG2_MAX);
    return (zh_align)log2;
}

static inline void *alloc_bytes(zh_allocator a, size_t len, size_t alignment,
                                const char *call, uintptr_t ret_addr) {
    zh_align align = align_log2(alignment, call);
    if (len == 0) return zh__zero_length_ptr(alignment);
    void *p = a.vtable->alloc(a.ctx, len, align, ret_addr);
    if (p != NULL) zh__mark_undefined(p, len);
    return p;
}

static inline void free_bytes(zh_allocator a, void *p, size_t len, size_t alignment,
                              const char *call, uintptr_t ret_addr) {
    zh_align align = align_log2(alignment, call);
    if (len == 0) return;
    if (ZH__UNLIKELY(p == NULL)) {
        if (zh__config_safety) zh__panic(call, "NULL block of length %zu", len);
        return;
    }
    zh__mark_undefined(p, len);
    a.vtable->free(a.ctx, p, len, align, ret_addr);
}

#endif /* ZHEAP_SRC_ALLOCATOR_INTERNAL_H */
