/* fba.h - the fixed-buffer allocator (Zig's std.heap.FixedBufferAllocator).
 *
 * Bump allocation inside a buffer the caller provides: an allocation rounds the
 * current end up to the requested alignment and moves it forward. Nothing is
 * allocated from anywhere else, ever; when the buffer is full, allocation returns
 * NULL (and leaves the allocator unchanged). Only the most recent allocation can
 * be freed, shrunk or grown in place; freeing any other block does nothing, and
 * zh_fba_reset makes the whole buffer available again.
 *
 * Under AddressSanitizer, for a buffer on the heap (the only kind ASan is told
 * about), a poisoned redzone of 16 bytes or more precedes every block, so a write
 * past a block's end is reported; each block then takes 16 to 23 bytes more of the
 * buffer (zh__track_redzone below). Nothing changes in any other build.
 *
 * Ownership: the caller owns both the zh_fba struct and the buffer; both must
 * outlive every allocator obtained from them and every block handed out. The
 * allocator never frees the buffer.
 *
 * Alignment: any power of two up to 1 << ZH_ALIGN_LOG2_MAX; the padding needed to
 * reach it comes out of the buffer.
 *
 * Thread safety: zh_fba_allocator is not thread-safe. zh_fba_thread_safe_allocator
 * is lock-free and may be used from any number of threads at once; its resize and
 * remap always fail and its free does nothing (as in Zig). Using both kinds of
 * allocator on one zh_fba at the same time, or calling zh_fba_reset while another
 * thread allocates, is not supported. */
#ifndef ZHEAP_FBA_H
#define ZHEAP_FBA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zheap/allocator.h"
#include "zheap/internal.h" /* ZH__LIKELY, alignment helpers, ZH__TRACK_INLINE */

#ifdef __cplusplus
extern "C" {
#endif

/* Caller-owned state; initialise with zh_fba_init. Every field is read-only (see
 * "Public structs" in docs/architecture.md); zh_fba_end_index tells how much of
 * the buffer is in use. The cursor is
 * kept as an address (not an index) so that an allocation is exactly a
 * hand-written bump pointer: load, align, check against `limit`, store. It is a
 * plain integer, not an atomic one, so that the compiler may keep it in a register
 * across a run of zh_fba_alloc_inline calls; zh_fba_thread_safe_allocator updates the same
 * field with atomic operations on it (as Zig's threadSafeAlloc does on end_index). */
typedef struct zh_fba {
    /* read-only */
    unsigned char *buffer; /* start of the caller's buffer */
    size_t len;            /* its length in bytes */
    uintptr_t limit;       /* (uintptr_t)buffer + len */
    uintptr_t end;         /* address of the first unused byte, in [buffer, limit] */
} zh_fba;

/* Prepares `fba` to allocate from `buffer[0, len)`. `buffer` may be NULL only when
 * `len` is 0 (every allocation then fails). */
ZH_EXTERN void zh_fba_init(zh_fba *fba, void *buffer, size_t len);

/* The allocator interface over `fba`; not thread-safe. */
ZH_EXTERN zh_allocator zh_fba_allocator(zh_fba *fba);

/* A lock-free interface over `fba` that many threads may use at once. Only
 * allocation does anything: resize and remap fail, free is a no-op. */
ZH_EXTERN zh_allocator zh_fba_thread_safe_allocator(zh_fba *fba);

/* Makes the whole buffer available again. Every block handed out so far becomes
 * invalid. Not to be called while another thread allocates from `fba`. */
ZH_EXTERN void zh_fba_reset(zh_fba *fba);

/* Bytes in use from the start of the buffer, alignment padding included (Zig's
 * `end_index`): 0 after init or reset, at most `len`. May be called while other
 * threads allocate through zh_fba_thread_safe_allocator (an atomic read). */
ZH_EXTERN size_t zh_fba_end_index(const zh_fba *fba);

/* True if `p` points into the buffer. */
ZH_EXTERN bool zh_fba_owns_ptr(const zh_fba *fba, const void *p);

/* True if all of `[p, p + len)` lies within the buffer. */
ZH_EXTERN bool zh_fba_owns_slice(const zh_fba *fba, const void *p, size_t len);

/* True if `[p, p + len)` ends exactly at the current end, i.e. is the most recent
 * allocation (or the tail of it). Has false negatives after a resize that Zig's
 * rules let succeed without moving the end (shrinking a block that is not last). */
ZH_EXTERN bool zh_fba_is_last_allocation(const zh_fba *fba, const void *p, size_t len);

/* Allocation without the indirect call, for callers that know their allocator is
 * an fba: what the vtable alloc of zh_fba_allocator does. Returns `len` bytes
 * aligned to `alignment` (a power of two), or NULL if they do not fit (then
 * nothing changed). A bad alignment aborts, naming zh_fba_alloc, in every build.
 * The block is released like any other: zh_free_aligned on zh_fba_allocator(fba),
 * or zh_fba_reset. Not thread-safe; must not be mixed with concurrent use of
 * zh_fba_thread_safe_allocator. Memory is not filled. zh_fba_alloc_inline below
 * is the same in the header. */
ZH_EXTERN void *zh_fba_alloc(zh_fba *fba, size_t len, size_t alignment);

/* ---- inline fast path ------------------------------------------------------------
 * zh_fba_alloc_inline is zh_fba_alloc in the header (see "Inline fast paths" in
 * docs/guide.md); zh__fba_bump is its arithmetic (and the vtable's), not to be
 * called directly. */

/* Memory checkers only (ZH__TRACK_INLINE): tells them the block is handed out, when
 * the buffer is one they are told about (src/core/track.h). */
ZH_EXTERN void zh__fba_track_alloc(const zh_fba *fba, void *p, size_t len);

/* AddressSanitizer builds only (ZH__REDZONE): the bump with a redzone before the
 * block when ASan is told about the buffer, and the block unpoisoned. */
ZH_EXTERN void *zh__fba_bump_tracked(zh_fba *fba, size_t len, size_t alignment);

/* Tests and harnesses only: ZH__REDZONE as libzheap itself was compiled, the
 * least gap the arena, and a fixed buffer on the heap, leave before every block
 * under AddressSanitizer (16; 0 in every other build, and for a fixed buffer that
 * ASan is not told about - see zheap/internal.h). For code that computes exact
 * capacities. */
ZH_EXTERN size_t zh__track_redzone(void);

/* The bump arithmetic: `len` bytes at `alignment` (a power of two, unchecked)
 * leaving `redzone` bytes after the cursor (a constant 0 but under ASan), or NULL.
 * The buffer cannot end past the top of memory, so the only possible overflow is
 * a block that would start past it, and then `start` wraps to exactly 0
 * (zh__bump_start): `start - 1 >= limit` rejects that and `start > limit` in one
 * compare. A buffer that is NULL (length 0) has limit 0 and fails too. */
static inline void *zh__fba_bump_gap(zh_fba *fba, size_t len, size_t alignment, size_t redzone) {
    uintptr_t start = zh__bump_start(fba->end, alignment, redzone);
    uintptr_t limit = fba->limit;
    if (start - 1 >= limit || limit - start < len) return NULL;
    fba->end = start + len;
    return (void *)start;
}

/* The bump: `len` bytes at `alignment` (a power of two, unchecked), or NULL. Under
 * ASan out of line, where the library knows which buffers ASan is told about. */
static inline void *zh__fba_bump(zh_fba *fba, size_t len, size_t alignment) {
    if (ZH__REDZONE) return zh__fba_bump_tracked(fba, len, alignment);
    void *p = zh__fba_bump_gap(fba, len, alignment, 0);
    if (ZH__TRACK_INLINE && p != NULL) zh__fba_track_alloc(fba, p, len);
    return p;
}

/* zh_fba_alloc inline: the same result and checks in every build; the alignment
 * check folds away for a constant alignment. */
static inline void *zh_fba_alloc_inline(zh_fba *fba, size_t len, size_t alignment) {
    if (ZH__LIKELY(zh__is_pow2(alignment))) return zh__fba_bump(fba, len, alignment);
    return zh_fba_alloc(fba, len, alignment); /* aborts */
}

#ifdef __cplusplus
}
#endif

#endif /* ZHEAP_FBA_H */
