/* malloc.c - libzheap-malloc.so: the C allocation surface over zheap's allocators.
 *
 * What it is for: LD_PRELOAD=libzheap-malloc.so runs an unmodified program on the
 * SMP allocator (default) or, with ZHEAP_ALLOCATOR=debug, on the debug allocator;
 * ZHEAP_ALLOCATOR=c passes every call to the C library's malloc (docs/preload.md).
 *
 * Design: every entry point (malloc, free, calloc, realloc, reallocarray,
 * posix_memalign, aligned_alloc, memalign, valloc, pvalloc, malloc_usable_size,
 * free_sized, free_aligned_sized and glibc's __libc_* / __posix_memalign names) is one
 * hidden function with exported aliases. A block's owner is found from its address,
 * checked in this order: the bootstrap arena (config.c; never freed), the SMP
 * allocator (zh_smp_owns: a bitmap of its 16 MiB granules, then its page record;
 * free() asks zh__smp_free_or, which checks and frees with one lookup),
 * the debug instance's backing granules, the C library (ZHEAP_ALLOCATOR=c).
 * Anything else is a foreign pointer: an abort naming it (SMP mode) or an
 * invalid-free report (debug mode). Blocks made by nested calls (zhp__depth > 0:
 * the debug allocator's unwinder and symbolizer) come from the SMP allocator.
 *
 * free() without a size: the SMP allocator finds the size class from the address
 * (no per-block header); the debug instance is asked for the block's length and
 * alignment (zh_debug_block_info: a second lock round trip; docs/preload.md has
 * the measured cost).
 *
 * Costs: in SMP mode malloc and free go straight to the SMP allocator (one load of
 * the published mode, then zh__smp_malloc_or or zh__smp_free_or - inlined by gcc's
 * link-time optimisation in optimised builds, else a tail call: no vtable, no mode
 * switch, no stack frame); a free adds the granule bitmap load and the block-start
 * check to the SMP allocator's own free. errno is ENOMEM on every allocation
 * failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "preload.h"
#include "smp_internal.h"
#include "zheap/smp.h"

#define ZHP_ENTRY __attribute__((noinline, used))
#define ZHP_EXPORT(name, entry) \
    extern __typeof__(entry) name __attribute__((alias(#entry), visibility("default")))

#define RET_ADDR ((uintptr_t)__builtin_return_address(0))

static zh_align align_log2(size_t alignment) {
    return alignment <= 16 ? ZHP_ALIGN : (zh_align)zh__log2_pow2(alignment);
}

static void *no_memory(void) {
    errno = ENOMEM;
    return NULL;
}

/* ---- allocation ---------------------------------------------------------------------- */

static void *debug_alloc(size_t len, zh_align align, uintptr_t ret) {
    zh_allocator a = zh_debug_allocator(zhp__state.debug);
    zhp__depth++;
    void *p = a.vtable->alloc(a.ctx, len, align, ret);
    zhp__depth--;
    return p;
}

/* `alignment` is a power of two; len 0 gives a unique block. */
static void *allocate(size_t len, size_t alignment, uintptr_t ret) {
    if (len == 0) len = 1;
    if (alignment > ((size_t)1 << ZH_ALIGN_LOG2_MAX)) return no_memory();
    zh_align align = align_log2(alignment);
    void *p;
    switch (zhp__mode()) {
    case ZHP_SMP:
        p = zh_smp_allocator.vtable->alloc(NULL, len, align, ret);
        break;
    case ZHP_DEBUG:
        p = zhp__depth > 0 || zhp__exit_scanning()
                ? zh_smp_allocator.vtable->alloc(NULL, len, align, ret)
                : debug_alloc(len, align, ret);
        break;
    case ZHP_LIBC:
        p = alignment <= 16 ? zhp__state.libc.malloc(len)
                            : zhp__state.libc.memalign(alignment, len);
        break;
    default:
        p = zhp__bootstrap_alloc(len, alignment);
        break;
    }
    return p != NULL ? p : no_memory();
}

/* ---- ownership --------------------------------------------------------------------- */

typedef enum owner { OWNER_NONE, OWNER_BOOTSTRAP, OWNER_SMP, OWNER_DEBUG, OWNER_LIBC } owner;

static owner owner_of(const void *p) {
    if (ZH__UNLIKELY(zhp__in_bootstrap(p))) return OWNER_BOOTSTRAP;
    if (zhp__state.mode == ZHP_DEBUG && zhp__debug_backing_owns(p)) return OWNER_DEBUG;
    if (ZH__LIKELY(zh_smp_owns(p))) return OWNER_SMP;
    if (zhp__state.mode == ZHP_LIBC) return OWNER_LIBC;
    return OWNER_NONE;
}

/* Debug blocks: the length and alignment the instance recorded. A pointer it never
 * returned gets len 1 and malloc alignment, so that its free reports it. */
typedef struct debug_block {
    bool live;
    size_t len;
    zh_align align;
} debug_block;

static debug_block debug_lookup(const void *p) {
    size_t len = 1, alignment = 16;
    zhp__depth++;
    bool live = zh_debug_block_info(zhp__state.debug, p, &len, &alignment);
    zhp__depth--;
    return (debug_block){live, len, align_log2(alignment)};
}

static void debug_free(void *p, size_t len, zh_align align, uintptr_t ret) {
    zh_allocator a = zh_debug_allocator(zhp__state.debug);
    zhp__depth++;
    a.vtable->free(a.ctx, p, len, align, ret);
    zhp__depth--;
}

/* The length a block can be used for (0 for NULL and foreign pointers). */
static size_t usable_size(void *p) {
    if (p == NULL) return 0;
    switch (owner_of(p)) {
    case OWNER_BOOTSTRAP: return zhp__bootstrap_size(p);
    case OWNER_SMP: return zh_smp_usable_size(p);
    case OWNER_DEBUG: return debug_lookup(p).len;
    case OWNER_LIBC: return zhp__state.libc.usable_size(p);
    case OWNER_NONE: break;
    }
    return 0;
}

/* free, free_sized (len != 0) and free_aligned_sized (alignment != 0). */
static void release(void *p, size_t len, size_t alignment, const char *call, uintptr_t ret) {
    if (p == NULL || ZH__UNLIKELY(zhp__in_bootstrap(p))) return;
    /* SMP mode: the ownership check and the free in one lookup (a debug instance's
     * backing is checked first, by owner_of). */
    if (zhp__state.mode != ZHP_DEBUG && ZH__LIKELY(zh_smp_free_owned(p))) return;
    switch (owner_of(p)) {
    case OWNER_BOOTSTRAP: return;
    case OWNER_SMP: zh_smp_free_unsized(p); return;
    case OWNER_LIBC: zhp__state.libc.free(p); return;
    case OWNER_DEBUG: {
        if (zhp__exit_scanning()) return; /* kept: the exit leak check reads the instance */
        debug_block b = {true, len, align_log2(alignment)};
        if (len == 0 || alignment == 0) {
            debug_block found = debug_lookup(p);
            if (len == 0) b.len = found.len;
            if (alignment == 0) b.align = found.align;
        }
        debug_free(p, b.len, b.align, ret);
        return;
    }
    case OWNER_NONE: zhp__foreign_pointer(call, p, ret); return;
    }
}

/* ---- realloc ------------------------------------------------------------------------ */

/* Moves a block to a new one of `len` bytes, copying `keep` bytes. */
static void *move_block(void *p, size_t keep, size_t len, size_t alignment, uintptr_t ret) {
    void *q = allocate(len, alignment, ret);
    if (q == NULL) return NULL;
    memcpy(q, p, keep < len ? keep : len);
    release(p, 0, 0, "realloc", ret);
    return q;
}

static void *smp_realloc(void *p, size_t len, uintptr_t ret) {
    size_t usable = zh_smp_usable_size(p);
    if (len <= usable && len >= usable / 2) return p;
    if (zh_raw_resize(zh_smp_allocator, p, usable, ZHP_ALIGN, len, ret)) return p;
    return move_block(p, usable, len, 16, ret);
}

static void *debug_realloc(void *p, size_t len, uintptr_t ret) {
    debug_block b = debug_lookup(p);
    if (!b.live) {
        debug_free(p, 1, ZHP_ALIGN, ret); /* reports the invalid or double free */
        return NULL;
    }
    zh_allocator a = zh_debug_allocator(zhp__state.debug);
    zhp__depth++;
    void *q = a.vtable->remap(a.ctx, p, b.len, b.align, len, ret);
    zhp__depth--;
    return q != NULL ? q : move_block(p, b.len, len, zh_align_to_bytes(b.align), ret);
}

/* glibc's semantics: realloc(NULL, n) is malloc(n); realloc(p, 0) frees p and
 * returns NULL; on failure p is left as it was. */
static void *reallocate(void *p, size_t len, uintptr_t ret) {
    if (p == NULL) return allocate(len, 16, ret);
    if (len == 0) {
        release(p, 0, 0, "realloc", ret);
        return NULL;
    }
    void *q = NULL;
    switch (owner_of(p)) {
    case OWNER_BOOTSTRAP: q = move_block(p, zhp__bootstrap_size(p), len, 16, ret); break;
    case OWNER_SMP: q = smp_realloc(p, len, ret); break;
    case OWNER_DEBUG: q = debug_realloc(p, len, ret); break;
    case OWNER_LIBC: q = zhp__state.libc.realloc(p, len); break;
    case OWNER_NONE: zhp__foreign_pointer("realloc", p, ret); return NULL;
    }
    return q != NULL ? q : no_memory();
}

/* ---- the exported surface ------------------------------------------------------------- */

static bool is_pow2(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

/* memalign's rule (glibc): an alignment that is not a power of two is rounded up. */
static size_t alignment_up(size_t alignment) {
    if (alignment <= 16) return 16;
    if (is_pow2(alignment)) return alignment;
    return alignment > ((size_t)1 << ZH_ALIGN_LOG2_MAX) ? SIZE_MAX : zh__ceil_pow2(alignment);
}

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

/* malloc and free first try the SMP mode's direct path (no vtable, no mode switch);
 * everything else (other modes, out of memory, foreign pointers) takes the general
 * one, entered by a tail call so that its RET_ADDR is still the caller's. */
static ZH_NOINLINE void *malloc_general(size_t len) { return allocate(len, 16, RET_ADDR); }
static ZH_NOINLINE void free_general(void *p) { release(p, 0, 0, "free", RET_ADDR); }

ZHP_ENTRY void *zhp__malloc_entry(size_t len) {
    if (ZH__LIKELY(zhp__smp_mode())) return zh__smp_malloc_or(len, malloc_general);
    return malloc_general(len);
}

ZHP_ENTRY static void zhp_free(void *p) {
    if (ZH__LIKELY(zhp__smp_mode())) {
        zh__smp_free_or(p, free_general);
        return;
    }
    free_general(p);
}

ZHP_ENTRY static void *zhp_calloc(size_t n, size_t size) {
    size_t len;
    if (__builtin_mul_overflow(n, size, &len)) return no_memory();
    void *p = allocate(len, 16, RET_ADDR);
    if (p != NULL) memset(p, 0, len);
    return p;
}

ZHP_ENTRY static void *zhp_realloc(void *p, size_t len) { return reallocate(p, len, RET_ADDR); }

ZHP_ENTRY static void *zhp_reallocarray(void *p, size_t n, size_t size) {
    size_t len;
    if (__builtin_mul_overflow(n, size, &len)) return no_memory();
    return reallocate(p, len, RET_ADDR);
}

ZHP_ENTRY static int zhp_posix_memalign(void **out, size_t alignment, size_t len) {
    if (!is_pow2(alignment) || alignment % sizeof(void *) != 0) return EINVAL;
    int saved = errno;
    void *p = allocate(len, alignment, RET_ADDR);
    errno = saved;
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}

ZHP_ENTRY static void *zhp_memalign(size_t alignment, size_t len) {
    size_t a = alignment_up(alignment);
    return a == SIZE_MAX ? no_memory() : allocate(len, a, RET_ADDR);
}

ZHP_ENTRY static void *zhp_aligned_alloc(size_t alignment, size_t len) {
    size_t a = alignment_up(alignment);
    return a == SIZE_MAX ? no_memory() : allocate(len, a, RET_ADDR);
}

ZHP_ENTRY static void *zhp_valloc(size_t len) { return allocate(len, page_size(), RET_ADDR); }

ZHP_ENTRY static void *zhp_pvalloc(size_t len) {
    size_t page = page_size(), rounded;
    if (!zh__align_forward_checked(len == 0 ? 1 : len, page, &rounded)) return no_memory();
    return allocate(rounded, page, RET_ADDR);
}

ZHP_ENTRY static size_t zhp_malloc_usable_size(void *p) { return usable_size(p); }

/* C23. A zero size would be malloc(0)'s block, recorded as 1 byte. */
ZHP_ENTRY static void zhp_free_sized(void *p, size_t size) {
    release(p, size == 0 ? 1 : size, 0, "free_sized", RET_ADDR);
}

ZHP_ENTRY static void zhp_free_aligned_sized(void *p, size_t alignment, size_t size) {
    release(p, size == 0 ? 1 : size, alignment_up(alignment), "free_aligned_sized", RET_ADDR);
}

ZHP_EXPORT(malloc, zhp__malloc_entry);
ZHP_EXPORT(free, zhp_free);
ZHP_EXPORT(calloc, zhp_calloc);
ZHP_EXPORT(realloc, zhp_realloc);
ZHP_EXPORT(reallocarray, zhp_reallocarray);
ZHP_EXPORT(posix_memalign, zhp_posix_memalign);
ZHP_EXPORT(aligned_alloc, zhp_aligned_alloc);
ZHP_EXPORT(memalign, zhp_memalign);
ZHP_EXPORT(valloc, zhp_valloc);
ZHP_EXPORT(pvalloc, zhp_pvalloc);
ZHP_EXPORT(malloc_usable_size, zhp_malloc_usable_size);
ZHP_EXPORT(free_sized, zhp_free_sized);
ZHP_EXPORT(free_aligned_sized, zhp_free_aligned_sized);
/* glibc's internal names, called directly by some libraries and tools. */
ZHP_EXPORT(__libc_malloc, zhp__malloc_entry);
ZHP_EXPORT(__libc_free, zhp_free);
ZHP_EXPORT(__libc_calloc, zhp_calloc);
ZHP_EXPORT(__libc_realloc, zhp_realloc);
ZHP_EXPORT(__libc_memalign, zhp_memalign);
ZHP_EXPORT(__libc_valloc, zhp_valloc);
ZHP_EXPORT(__libc_pvalloc, zhp_pvalloc);
ZHP_EXPORT(__posix_memalign, zhp_posix_memalign);
ZHP_EXPORT(cfree, zhp_free);
