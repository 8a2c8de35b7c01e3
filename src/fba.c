/* fba.c - the fixed-buffer allocator (include/zheap/fba.h).
 *
 * For: short-lived or bounded work whose memory fits in a buffer the caller
 * already has (a stack array, a static arena, a slice of a larger block).
 *
 * Design: Zig's FixedBufferAllocator, whose state is one index, end_index, into the
 * caller's buffer. Here the same state is kept as an address, `end` (buffer +
 * end_index), next to a precomputed `limit` (buffer + len), so that allocation
 * needs no index <-> address conversions: it aligns `end` forward, checks it
 * against `limit` and advances it (zh__fba_bump in the header, shared by
 * zh_fba_alloc, zh_fba_alloc_inline and the vtable). Resize and free act only on
 * the block that ends at `end`; a block further down can still shrink (the bytes
 * are simply not reclaimed) but never grow. The thread-safe variant advances `end`
 * with a compare-and-swap loop and does nothing else.
 *
 * Under AddressSanitizer, in a buffer ASan is told about (one on the heap,
 * core/track.h), every block is preceded by a poisoned redzone of at least
 * ZH__REDZONE (16) bytes and starts on an 8-byte granule (zh__bump_pad in
 * zheap/internal.h), so a write past one block's end faults before it reaches the
 * next; freeing the last block gives its redzone back too. In every other build,
 * and for other buffers, there is no redzone and the layout is Zig's.
 *
 * Costs: O(1) everything, no per-block header, no bytes of overhead beyond
 * alignment padding (under ASan, over a heap buffer, also the redzone: 16 to 23
 * bytes a block); freed
 * memory below the top is only reclaimed by a reset.
 * `end` is a plain integer, so the inline fast path is an ordinary bump pointer the
 * compiler may keep in a register across a loop (an _Atomic cursor is reloaded and
 * stored on every call, even with relaxed ordering). The thread-safe variant uses
 * atomic operations on the same plain object (common.h; Zig does the same on
 * end_index), and so do the out-of-line queries and reset, which may therefore
 * be called while thread-safe allocations run without a data race. */
#include "common.h"
#include "zheap/fba.h"

#include "core/track.h"

static uintptr_t end_of(const zh_fba *fba) { return zh__atomic_load_uintptr(&fba->end); }

static void set_end(zh_fba *fba, uintptr_t end) { zh__atomic_store_uintptr(&fba->end, end); }

void zh_fba_init(zh_fba *fba, void *buffer, size_t len) {
    if (zh__config_safety && buffer == NULL && len != 0)
        zh__panic("zh_fba_init", "NULL buffer of length %zu", len);
    fba->buffer = buffer;
    fba->len = len;
    fba->limit = (uintptr_t)buffer + len;
    fba->end = (uintptr_t)buffer;
    if (buffer != NULL && zh__track_buffer_ok(buffer))
        zh__track_mem_noaccess(buffer, len); /* until handed out */
}

size_t zh__track_redzone(void) { return ZH__REDZONE; }

void zh__fba_track_alloc(const zh_fba *fba, void *p, size_t len) {
    if (zh__track_buffer_ok(fba->buffer)) zh__track_alloc(p, len);
}

/* The redzone before each block of `fba`: ZH__REDZONE where ASan is told about its
 * buffer (poison is what makes a redzone one), else none. */
static size_t redzone_of(const zh_fba *fba) {
    return ZH__REDZONE && zh__track_buffer_ok(fba->buffer) ? ZH__REDZONE : 0;
}

void *zh__fba_bump_tracked(zh_fba *fba, size_t len, size_t alignment) {
    size_t redzone = redzone_of(fba);
    void *p = zh__fba_bump_gap(fba, len, alignment, redzone);
    if (redzone != 0 && p != NULL) zh__track_alloc(p, len);
    return p;
}

void zh_fba_reset(zh_fba *fba) {
    if (fba->buffer != NULL && zh__track_buffer_ok(fba->buffer))
        zh__track_mem_noaccess(fba->buffer, zh_fba_end_index(fba));
    set_end(fba, (uintptr_t)fba->buffer);
}

size_t zh_fba_end_index(const zh_fba *fba) {
    return (size_t)(end_of(fba) - (uintptr_t)fba->buffer);
}

bool zh_fba_owns_ptr(const zh_fba *fba, const void *p) {
    uintptr_t start = (uintptr_t)fba->buffer, at = (uintptr_t)p;
    return at >= start && at - start < fba->len;
}

bool zh_fba_owns_slice(const zh_fba *fba, const void *p, size_t len) {
    uintptr_t start = (uintptr_t)fba->buffer, at = (uintptr_t)p;
    return at >= start && at - start <= fba->len && len <= fba->len - (at - start);
}

bool zh_fba_is_last_allocation(const zh_fba *fba, const void *p, size_t len) {
    return (uintptr_t)p + len == end_of(fba);
}

/* ---- zh_fba_allocator ---------------------------------------------------------------- */

static void check_owned(const zh_fba *fba, const void *mem, size_t len, const char *call) {
    if (zh__config_safety && !zh_fba_owns_slice(fba, mem, len))
        zh__panic(call, "block %p of %zu bytes is not from this fixed buffer", mem, len);
}

static void *fba_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ret_addr;
    return zh__fba_bump(ctx, len, zh_align_to_bytes(align));
}

static bool fba_resize_in_place(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                                uintptr_t ret_addr) {
    zh_fba *fba = ctx;
    (void)align, (void)ret_addr;
    check_owned(fba, mem, len, "zh_fba_allocator resize");
    if (!zh_fba_is_last_allocation(fba, mem, len)) return new_len <= len;
    uintptr_t end = end_of(fba);
    if (new_len <= len) {
        set_end(fba, end - (len - new_len));
        return true;
    }
    if (new_len - len > fba->limit - end) return false;
    set_end(fba, end + (new_len - len));
    return true;
}

static bool fba_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                       uintptr_t ret_addr) {
    if (!fba_resize_in_place(ctx, mem, len, align, new_len, ret_addr)) return false;
    if (ZH__TRACK_ENABLED && zh__track_buffer_ok(((zh_fba *)ctx)->buffer))
        zh__track_resize(mem, len, new_len);
    return true;
}

static void *fba_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                       uintptr_t ret_addr) {
    return fba_resize(ctx, mem, len, align, new_len, ret_addr) ? mem : NULL;
}

static void fba_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    zh_fba *fba = ctx;
    (void)align, (void)ret_addr;
    check_owned(fba, mem, len, "zh_fba_allocator free");
    /* the last block goes back with the redzone before it (ASan builds) */
    if (zh_fba_is_last_allocation(fba, mem, len))
        set_end(fba, end_of(fba) - len - redzone_of(fba));
    if (ZH__TRACK_ENABLED && zh__track_buffer_ok(fba->buffer)) zh__track_free(mem, len);
}

static const zh_allocator_vtable fba_vtable = {fba_alloc, fba_resize, fba_remap, fba_free};

zh_allocator zh_fba_allocator(zh_fba *fba) { return (zh_allocator){fba, &fba_vtable}; }

void *zh_fba_alloc(zh_fba *fba, size_t len, size_t alignment) {
    if (ZH__UNLIKELY(!zh__is_pow2(alignment)))
        zh__panic("zh_fba_alloc", "alignment %zu is not a power of two", alignment);
    return zh__fba_bump(fba, len, alignment);
}

/* ---- zh_fba_thread_safe_allocator --------------------------------------------------------
 * Claims [start, start + len) by moving `end` from the value `start` was computed
 * from; if another thread moved it first, the CAS reloads it and we recompute.
 * The bounds check is zh__fba_bump_gap's (see the header for why it cannot wrap).
 * Acquire/release on success orders the claim with whatever the caller publishes
 * afterwards; the block itself needs no further synchronisation. */

static void *fba_thread_safe_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    zh_fba *fba = ctx;
    size_t alignment = zh_align_to_bytes(align);
    (void)ret_addr;
    uintptr_t limit = fba->limit;
    size_t redzone = redzone_of(fba);
    uintptr_t cur = end_of(fba);
    for (;;) {
        uintptr_t start = zh__bump_start(cur, alignment, redzone);
        if (start - 1 >= limit || limit - start < len) return NULL;
        if (zh__atomic_cas_weak_uintptr(&fba->end, &cur, start + len)) {
            /* Under ASan a described block starts on a granule of its own after
             * its redzone: threads unpoisoning neighbours write disjoint shadow. */
            if (ZH__TRACK_ENABLED) zh__fba_track_alloc(fba, (void *)start, len);
            return (void *)start;
        }
    }
}

static const zh_allocator_vtable fba_thread_safe_vtable = {fba_thread_safe_alloc, zh_no_resize,
                                                           zh_no_remap, zh_no_free};

zh_allocator zh_fba_thread_safe_allocator(zh_fba *fba) {
    return (zh_allocator){fba, &fba_thread_safe_vtable};
}
