/* arena.h - an arena: allocate many blocks, free them all at once.
 *
 * Zig's std.heap.ArenaAllocator. The arena takes buffers from a child allocator
 * and hands out blocks by bumping a pointer inside the newest buffer. Blocks are
 * not freed one by one (except the most recent one, see below); everything goes
 * back to the child at zh_arena_deinit, or at zh_arena_reset, which can also keep
 * the memory for the next round.
 *
 * Semantics of the allocator returned by zh_arena_allocator:
 *   - alloc bumps inside the newest buffer; when it does not fit, the arena first
 *     asks the child to grow that buffer in place, then takes a new buffer.
 *   - free of the most recent block gives its bytes back; any other free is a
 *     no-op (the bytes come back at reset/deinit).
 *   - resize of the most recent block grows or shrinks it in place while the
 *     buffer has room; any other block can shrink (true, nothing is reclaimed)
 *     but not grow (false).
 *   - remap is resize in place: it returns the same pointer or NULL.
 *
 * Growth policy. Buffers are taken with sizes that include a small header at
 * their start (ZH_ARENA_HEADER_SIZE bytes, the list link). The arena keeps a
 * geometric sequence of steps: the first is ZH_ARENA_FIRST_BUFFER_SIZE bytes and
 * each next one is twice the previous, capped at ZH_ARENA_MAX_BUFFER_SIZE.
 * When a block does not fit in the newest buffer:
 *   - growth in place first: the arena asks the child to extend the newest buffer
 *     by the next step (not by what the one block needs), and the sequence
 *     advances, exactly as if a buffer of that step had been taken - but without
 *     a new header or an abandoned tail. A block larger than a step gets exactly
 *     the bytes it needs instead. A refused step is not retried smaller (a child
 *     with a little slack would then grant a few bytes per call);
 *   - then a new buffer of the next step, which also advances the sequence;
 *   - a request that does not fit in the next step gets a buffer of its own size
 *     (header + alignment padding + length, rounded up to ZH_MALLOC_ALIGNMENT) and
 *     the sequence advances by one step. So an arena never asks the child for much
 *     more than it was asked for: a 86 GiB request asks the child for 86 GiB plus
 *     a few bytes, not 1.5 times that (Zig's rule), and no step exceeds the cap;
 *   - when the child refuses a new buffer of the step, the arena retries with half
 *     the size down to the size the request needs, so an arena over a small fixed
 *     buffer uses as much of it as it can.
 * So the child is called O(log(bytes)) times while an arena fills, not once per
 * block. ZH_ARENA_FREE_ALL also remembers how much the round used: the sequence
 * restarts at the smallest step that holds it, so a workload that fills and
 * frees an arena in rounds of similar size costs about one child allocation and
 * one free per round. zh_arena_deinit forgets it (the sequence starts at the
 * first step again).
 *
 * Under AddressSanitizer (and only there) the arena leaves a poisoned redzone of
 * 16 bytes or more before every block, so a write past a block's end is reported;
 * blocks then take 16 to 23 bytes more of the buffers (zh__track_redzone, fba.h).
 *
 * Ownership: the zh_arena struct is caller-owned and must outlive every allocator
 * value obtained from it and every block allocated from it. The buffers belong to
 * the arena until deinit/reset returns them to the child.
 *
 * Thread safety: none. An arena is used by one thread at a time; wrap it with
 * zh_thread_safe (thread_safe.h) to share it.
 *
 * Over caller-provided memory: make the child a fixed buffer allocator
 * (fba.h, zh_fba_allocator) and the arena never calls any OS allocator; it
 * returns NULL when the fixed buffer is exhausted. */
#ifndef ZHEAP_ARENA_H
#define ZHEAP_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zheap/allocator.h"
#include "zheap/export.h"
#include "zheap/internal.h" /* ZH__LIKELY, ZH__ALWAYS_INLINE, alignment helpers */

#ifdef __cplusplus
extern "C" {
#endif

/* Size of the first ordinary buffer, header included (one small page). */
#define ZH_ARENA_FIRST_BUFFER_SIZE ((size_t)4096)
/* Ordinary buffers stop doubling at this size (header included). */
#define ZH_ARENA_MAX_BUFFER_SIZE ((size_t)64 * 1024 * 1024)
/* Bytes at the start of every buffer used by the arena itself. */
#define ZH_ARENA_HEADER_SIZE ZH__ALIGN_FORWARD_CONST(2 * sizeof(void *), ZH_MALLOC_ALIGNMENT)

typedef enum zh_arena_reset_mode {
    /* Return every buffer to the child. Always succeeds. The next buffer is sized
     * for what this round used (see the growth policy). */
    ZH_ARENA_FREE_ALL,
    /* Keep one buffer as large as the current capacity, so the next round of the
     * same size never calls the child. */
    ZH_ARENA_RETAIN_CAPACITY,
    /* As RETAIN_CAPACITY, but keep at most `limit` bytes of capacity. */
    ZH_ARENA_RETAIN_WITH_LIMIT
} zh_arena_reset_mode;

struct zh__arena_buffer; /* header at the start of each buffer (private) */

/* Caller-owned arena state, initialised with zh_arena_init. Visible only so that
 * zh_arena_alloc_inline can be inline; every field is private (see "Public
 * structs" in docs/architecture.md). */
typedef struct zh_arena {
    /* private */
    unsigned char *cur;               /* first free byte in the newest buffer */
    unsigned char *end;               /* one past the newest buffer's last byte */
    struct zh__arena_buffer *buffers; /* newest first; NULL when empty */
    zh_allocator child;               /* where buffers come from */
    size_t next_size;                 /* the next step of the growth sequence; 0: first */
} zh_arena;

/* Starts an empty arena over `child` (which is not called until the first
 * allocation). `child` must outlive the arena. */
ZH_EXTERN void zh_arena_init(zh_arena *arena, zh_allocator child);

/* Returns every buffer to the child. Every block from the arena becomes invalid.
 * The arena is left empty and may be used again. */
ZH_EXTERN void zh_arena_deinit(zh_arena *arena);

/* The arena as a zh_allocator (see the semantics above). Valid while the
 * arena is. */
ZH_EXTERN zh_allocator zh_arena_allocator(zh_arena *arena);

/* Invalidates every block and handles the buffers as `mode` says (`limit` is read
 * only by ZH_ARENA_RETAIN_WITH_LIMIT). Returns false when the arena could not keep
 * the capacity asked for (the child refused the merged buffer); the arena is empty
 * and usable either way, it just may call the child sooner. FREE_ALL always
 * returns true. An unknown mode aborts, naming zh_arena_reset. */
ZH_EXTERN bool zh_arena_reset(zh_arena *arena, zh_arena_reset_mode mode, size_t limit);

/* Bytes of buffer the arena holds, excluding its headers. */
ZH_EXTERN size_t zh_arena_query_capacity(const zh_arena *arena);

/* Bytes of a block aligned to `alignment` (a power of two) that zh_arena_alloc can
 * hand out now without calling the child: what is left in the newest buffer after
 * the alignment padding. 0 for an empty arena. A bad alignment aborts, naming
 * zh_arena_query_available. For code that carves many blocks out of what an arena
 * already holds (the pool after a retaining reset). */
ZH_EXTERN size_t zh_arena_query_available(const zh_arena *arena, size_t alignment);

/* Allocates `len` bytes aligned to `alignment` (a power of two) from the arena,
 * without going through the vtable: a bump in the newest buffer, a call to the
 * child only when the block does not fit (see the growth policy above: rarely, as
 * buffers grow geometrically). Returns NULL on out-of-memory. len == 0 returns a
 * non-NULL pointer that must not be dereferenced. A bad alignment aborts, naming
 * zh_arena_alloc, in every build. The block is not filled (even with ZHEAP_SAFETY
 * on), like zh_raw_alloc. Give it back through zh_arena_allocator (len, alignment)
 * or just reset the arena. The child sees the caller of zh_arena_alloc as the
 * return address. zh_arena_alloc_inline below does the same without a call. */
ZH_EXTERN void *zh_arena_alloc(zh_arena *arena, size_t len, size_t alignment);

/* ---- inline fast path ------------------------------------------------------------
 * zh_arena_alloc_inline is zh_arena_alloc in the header; the zh__ names below are
 * its parts (and pool.h's), not to be called directly. */

/* The out-of-line part of zh_arena_alloc_inline: a new or grown buffer, zero
 * lengths and bad alignments. It names its own return address - the call site of
 * zh_arena_alloc_inline - to the child. */
ZH_EXTERN void *zh__arena_alloc_slow(zh_arena *arena, size_t len, size_t alignment);

/* The bump itself, the one copy of its arithmetic. zh__arena_fits: whether `len`
 * bytes aligned to `alignment` (a power of two, unchecked) fit in the newest
 * buffer (never for len == 0); zh__arena_take hands them out (only after fits);
 * zh__arena_bump does both, NULL when they do not fit. */
static inline bool zh__arena_fits(const zh_arena *arena, size_t len, size_t alignment) {
    /* Integer arithmetic: an empty arena has cur == end == NULL and no room. */
    size_t avail = (size_t)((uintptr_t)arena->end - (uintptr_t)arena->cur);
    size_t pad = zh__bump_pad((uintptr_t)arena->cur, alignment, ZH__REDZONE);
    /* len - 1 < avail also rejects len == 0. */
    return len - 1 < avail && pad <= avail - len;
}

static inline void *zh__arena_take(zh_arena *arena, size_t len, size_t alignment) {
    unsigned char *p = arena->cur + zh__bump_pad((uintptr_t)arena->cur, alignment, ZH__REDZONE);
    arena->cur = p + len;
    ZH__TRACK_INLINE_ALLOC(p, len);
    return p;
}

static inline void *zh__arena_bump(zh_arena *arena, size_t len, size_t alignment) {
    return ZH__LIKELY(zh__arena_fits(arena, len, alignment))
               ? zh__arena_take(arena, len, alignment)
               : NULL;
}

/* zh_arena_alloc inline: the same result, checks and return address in every
 * build (see "Inline fast paths" in docs/guide.md), a few instructions when the
 * block fits in the newest buffer. Forced inline even in unoptimized builds. */
ZH__ALWAYS_INLINE void *zh_arena_alloc_inline(zh_arena *arena, size_t len, size_t alignment) {
    if (ZH__LIKELY(zh__is_pow2(alignment) && zh__arena_fits(arena, len, alignment)))
        return zh__arena_take(arena, len, alignment);
    return zh__arena_alloc_slow(arena, len, alignment);
}

#ifdef __cplusplus
}
#endif

#endif /* ZHEAP_ARENA_H */
