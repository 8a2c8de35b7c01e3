/* c.c - allocators over the C library's malloc (Zig's c_allocator and
 * raw_c_allocator).
 *
 * What it is for: handing the C heap to code that takes a zh_allocator.
 *
 * Design: zh_raw_c_allocator is malloc/realloc/free and nothing else, so its blocks
 * are ordinary malloc blocks; it accepts no alignment above max_align_t.
 * zh_c_allocator accepts any alignment: up to max_align_t it is malloc; above, it
 * mallocs len + alignment - 1 + one pointer, hands out the first suitably aligned
 * address after room for a pointer, and keeps malloc's pointer in that room for
 * free. Growth in place uses the C library's usable size (malloc_usable_size), so
 * the slack malloc rounds up to is not wasted; remap falls back to realloc only for
 * blocks that realloc keeps aligned.
 *
 * Costs: those of malloc; over-aligned blocks add alignment - 1 + a pointer of
 * slack and one load on free. Thread-safe as malloc is; no state of its own. */
#include <stdlib.h>

#include "zheap/c.h"

#include "common.h"
#include "platform/platform.h"

static bool is_malloc_aligned(zh_align align) {
    return zh_align_to_bytes(align) <= ZH_MALLOC_ALIGNMENT;
}

/* ---- zh_c_allocator ------------------------------------------------------------------ */

/* An over-aligned block: [raw ... | raw pointer | aligned block ...]. */
static void *stored_raw(const void *aligned) {
    void *raw;
    memcpy(&raw, (const char *)aligned - sizeof raw, sizeof raw);
    return raw;
}

static void *c_alloc_over_aligned(size_t len, size_t alignment) {
    size_t slack = alignment - 1 + sizeof(void *);
    if (len > SIZE_MAX - slack) return NULL;
    char *raw = malloc(len + slack);
    if (raw == NULL) return NULL;
    char *aligned = (char *)zh__align_forward_addr((uintptr_t)raw + sizeof(void *), alignment);
    memcpy(aligned - sizeof raw, &raw, sizeof raw);
    return aligned;
}

static void *c_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ctx;
    (void)ret_addr;
    if (is_malloc_aligned(align)) return malloc(len);
    return c_alloc_over_aligned(len, zh_align_to_bytes(align));
}

/* Bytes usable from `mem` on, or 0 when the C library cannot tell. */
static size_t c_usable_size(void *mem, zh_align align) {
    if (is_malloc_aligned(align)) return zh__os_malloc_usable_size(mem);
    char *raw = stored_raw(mem);
    size_t usable = zh__os_malloc_usable_size(raw);
    size_t offset = (size_t)((char *)mem - raw);
    return usable > offset ? usable - offset : 0;
}

static bool c_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                     uintptr_t ret_addr) {
    (void)ctx;
    (void)ret_addr;
    if (new_len <= len) return true;
    return new_len <= c_usable_size(mem, align);
}

static void *c_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                     uintptr_t ret_addr) {
    if (c_resize(ctx, mem, len, align, new_len, ret_addr)) return mem;
    /* realloc keeps only malloc's alignment, and would lose the stored pointer. */
    if (!is_malloc_aligned(align)) return NULL;
    return realloc(mem, new_len);
}

static void c_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ctx;
    (void)len;
    (void)ret_addr;
    free(is_malloc_aligned(align) ? mem : stored_raw(mem));
}

static const zh_allocator_vtable c_vtable = {
    .alloc = c_alloc,
    .resize = c_resize,
    .remap = c_remap,
    .free = c_free,
};

const zh_allocator zh_c_allocator = {.ctx = NULL, .vtable = &c_vtable};

/* ---- zh_raw_c_allocator -------------------------------------------------------------- */

static void check_raw_align(zh_align align) {
    if (ZH__UNLIKELY(!is_malloc_aligned(align)))
        zh__panic("zh_raw_c_allocator",
                  "alignment %zu exceeds malloc's %zu; use zh_c_allocator",
                  zh_align_to_bytes(align), (size_t)ZH_MALLOC_ALIGNMENT);
}

static void *raw_c_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ctx;
    (void)ret_addr;
    check_raw_align(align);
    return malloc(len);
}

static bool raw_c_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                         uintptr_t ret_addr) {
    (void)ctx;
    (void)mem;
    (void)ret_addr;
    check_raw_align(align);
    return new_len <= len;
}

static void *raw_c_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                         uintptr_t ret_addr) {
    (void)ctx;
    (void)len;
    (void)ret_addr;
    check_raw_align(align);
    return realloc(mem, new_len);
}

static void raw_c_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ctx;
    (void)len;
    (void)ret_addr;
    check_raw_align(align);
    free(mem);
}

static const zh_allocator_vtable raw_c_vtable = {
    .alloc = raw_c_alloc,
    .resize = raw_c_resize,
    .remap = raw_c_remap,
    .free = raw_c_free,
};

const zh_allocator zh_raw_c_allocator = {.ctx = NULL, .vtable = &raw_c_vtable};
