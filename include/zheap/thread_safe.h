/* thread_safe.h - a mutex around any allocator (Zig's std.heap.ThreadSafeAllocator).
 *
 * Every call of the returned allocator (alloc, resize, remap, free) takes the
 * wrapper's mutex, forwards to the child and releases the mutex, so an allocator
 * written for one thread (a fixed buffer, an arena, a pool's backing, a failing
 * allocator in a test) can be shared by many. Calls are serialised: under heavy
 * contention prefer an allocator that is thread-safe by design (zh_c_allocator,
 * zh_page_allocator, zh_fba_thread_safe_allocator), or one allocator per thread.
 *
 *     zh_arena arena;
 *     zh_arena_init(&arena, zh_page_allocator);
 *     zh_thread_safe ts;
 *     zh_thread_safe_init(&ts, zh_arena_allocator(&arena));
 *     zh_allocator shared = zh_thread_safe_allocator(&ts);   // give to every thread
 *     ... threads run ...
 *     zh_thread_safe_deinit(&ts);
 *     zh_arena_deinit(&arena);
 *
 * The mutex is not recursive: a child must not call back into the same wrapper.
 * Operations on the child that bypass the wrapper (zh_arena_reset, zh_fba_reset,
 * deinit) are not protected; do them when no thread uses the wrapper. */
#ifndef ZHEAP_THREAD_SAFE_H
#define ZHEAP_THREAD_SAFE_H

#include "zheap/allocator.h"
#include "zheap/export.h"
#include "zheap/mutex.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Caller-owned; must not be copied or moved after zh_thread_safe_init (the
 * mutex lives inside it) until zh_thread_safe_deinit. Every field is private (see
 * "Public structs" in docs/architecture.md). */
typedef struct zh_thread_safe {
    /* private */
    zh_allocator child; /* the allocator every call is forwarded to */
    zh_mutex mutex;     /* held for the duration of each forwarded call */
} zh_thread_safe;

/* Wraps `child`, which stays owned by the caller and must outlive the wrapper.
 * Allocates nothing and cannot fail. Not thread-safe itself: initialise before
 * sharing. */
ZH_EXTERN void zh_thread_safe_init(zh_thread_safe *ts, zh_allocator child);

/* The wrapping allocator; any number of threads may use it at once. It returns
 * NULL exactly when the child does and honours the alignments the child honours.
 * Blocks belong to the child: they may also be freed through the child directly
 * once no other thread can be using it. */
ZH_EXTERN zh_allocator zh_thread_safe_allocator(zh_thread_safe *ts);

/* Releases the mutex. Does not touch the child or its blocks. Call it when no
 * thread uses the wrapper any more; afterwards only zh_thread_safe_init may be
 * called on `ts`. */
ZH_EXTERN void zh_thread_safe_deinit(zh_thread_safe *ts);

#ifdef __cplusplus
}
#endif

#endif /* ZHEAP_THREAD_SAFE_H */
