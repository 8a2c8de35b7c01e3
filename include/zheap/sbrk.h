/* sbrk.h - SbrkAllocator: a size-class allocator over any sbrk-like function.
 *
 * Zig's std.heap.SbrkAllocator for C. Memory comes from a caller-supplied function
 * that behaves like sbrk(2): given an increment it extends a contiguous "break" and
 * returns the old break, or (void *)-1 when it cannot. That can be the process's
 * real sbrk, a bump over a static buffer on a bare-metal target, or a custom memory
 * region.
 *
 * Design, in one unit: the "bigpage" of ZH_SBRK_BIGPAGE_SIZE bytes (64 KiB, on
 * every target, whatever the OS page size). Requests below one bigpage are served
 * from power-of-two size classes (pointer size up to 32 KiB), each with a free list
 * and a bump pointer through the bigpage it is carving; larger requests get a
 * power-of-two number of bigpages, with one free list per count. Every increment
 * asked of `fn` is a whole number of bigpages plus, when the break is not where it
 * should be, the padding that aligns it.
 *
 * Limits: memory never goes back to `fn` (there is no negative increment); freed
 * blocks stay on their free lists for reuse by requests of the same class; free
 * bigpage blocks are split for smaller requests, but free neighbours are never
 * merged.
 * A request costs up to twice its size (power-of-two rounding).
 *
 * Alignment: any power of two up to 1 << ZH_ALIGN_LOG2_MAX. A block is at least as
 * large as its alignment; alignment above a bigpage pads the break to it. */
#ifndef ZHEAP_SBRK_H
#define ZHEAP_SBRK_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "zheap/allocator.h"
#include "zheap/export.h"
#include "zheap/mutex.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The allocator's unit: every block of ZH_SBRK_BIGPAGE_SIZE bytes or more is a
 * power-of-two number of bigpages, and fresh small slots are carved from bigpages. */
#define ZH_SBRK_BIGPAGE_SIZE ((size_t)64 * 1024)

/* Array bounds of the free lists (upper bounds for every pointer width). */
#define ZH__SBRK_SMALL_CLASSES 14 /* slots of 4 (or 8) bytes up to 32 KiB */
#define ZH__SBRK_BIG_CLASSES (sizeof(size_t) * CHAR_BIT - 16) /* 1, 2, 4, ... bigpages */
/* Words of private state: the free lists, bump pointers and class map of the
 * size-class engine (src/core/size_classes.h checks that they fit). */
#define ZH__SBRK_STATE_WORDS (2 * ZH__SBRK_SMALL_CLASSES + ZH__SBRK_BIG_CLASSES + 28)

/* Caller-owned state; initialise with zh_sbrk_init. Every field is private (see
 * "Public structs" in docs/architecture.md).
 * It must not be copied or moved once initialised (it holds a mutex and points into
 * itself) and must outlive every allocator obtained from it and every block they
 * handed out. */
typedef struct zh_sbrk {
    /* private */
    void *(*fn)(intptr_t increment);
    zh_mutex mutex;
    struct {
        uintptr_t words[ZH__SBRK_STATE_WORDS];
    } state;
} zh_sbrk;

/* Initialises `s` over `fn`, which behaves like sbrk(2): fn(n) extends the break by
 * n >= 0 bytes and returns the old break, or (void *)-1 when it cannot; fn(0)
 * returns the current break. `fn` is called only with the mutex of `s` held, so it
 * need not be thread-safe against this allocator, but must be against anything
 * else that moves the same break (see docs/sbrk.md: glibc malloc does so with the
 * real sbrk). Other users may move the break between calls: the allocator never
 * assumes its regions are contiguous. No memory is requested until the first
 * allocation. A NULL `fn` is a contract violation (abort naming zh_sbrk_init). */
ZH_EXTERN void zh_sbrk_init(zh_sbrk *s, void *(*fn)(intptr_t increment));

/* The allocator over `s`. Thread-safe: one mutex per zh_sbrk serialises alloc,
 * resize, remap and free. alloc returns NULL when `fn` fails (no state changes, the
 * allocator stays usable) or the request cannot be expressed as an increment.
 * resize succeeds exactly when the new length keeps the block in its size class
 * (the power of two it was rounded to: the same slot, or the same number of
 * bigpages), growing or shrinking; it fails otherwise, and zh_realloc then moves
 * the block, so a shrunk block never strands the rest of its slot. remap is
 * resize: it never moves a block. free puts the block on its free list; nothing
 * returns to `fn`. With ZHEAP_SAFETY, a free whose length or alignment names
 * another size class than the block's aborts (naming zh_sbrk_allocator). */
ZH_EXTERN zh_allocator zh_sbrk_allocator(zh_sbrk *s);

#ifdef __cplusplus
}
#endif

#endif /* ZHEAP_SBRK_H */
