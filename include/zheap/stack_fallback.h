/* stack_fallback.h - a caller's buffer first, then a fallback allocator (Zig's
 * std.heap.StackFallbackAllocator).
 *
 * Allocations are bump-allocated from a buffer the caller supplies, typically an
 * array on the stack; once a request does not fit, it goes to the fallback
 * allocator instead. Resize, remap and free are sent to whichever of the two
 * handed the block out, decided by whether the pointer lies inside the buffer.
 *
 * A block in the buffer can grow in place only while it is the buffer's last
 * allocation and fits in what is left. Otherwise zh_resize fails and zh_remap
 * returns NULL, exactly as in Zig; zh_realloc then allocates the new size (from
 * the buffer if it fits, else from the fallback), copies and frees the old block.
 * Freeing a buffer block reclaims its space only when it is the last allocation.
 *
 *     void parse(const char *text, zh_allocator heap) {
 *         ZH_STACK_FALLBACK(sf, 4096, heap);          // block scope only
 *         zh_allocator a = zh_stack_fallback_get(&sf); // once
 *         char *tmp = zh_alloc(a, 100);              // from the 4 KiB stack buffer
 *         char *big = zh_alloc(a, 100000);           // from `heap`
 *         ...
 *         zh_free(a, big, 100000);
 *         zh_free(a, tmp, 100);
 *     }                                              // buffer gone: blocks from it too
 *
 * Thread safety: none; one thread at a time (the fallback's own safety does not
 * extend to the buffer). Wrap it in zh_thread_safe to share it. */
#ifndef ZHEAP_STACK_FALLBACK_H
#define ZHEAP_STACK_FALLBACK_H

#include <stdbool.h>
#include <stddef.h>

#include "zheap/allocator.h"
#include "zheap/export.h"
#include "zheap/fba.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Caller-owned state; every field is private (see "Public structs" in
 * docs/architecture.md). It must not move while the allocator from
 * zh_stack_fallback_get is in use (that allocator points at it). */
typedef struct zh_stack_fallback {
    /* private */
    zh_fba fba;            /* bump allocator over `buffer` */
    zh_allocator fallback; /* where requests that do not fit go */
    void *buffer;          /* the caller's buffer, kept so get() can reset the fba */
    size_t len;
    bool got;              /* zh_stack_fallback_get has been called */
} zh_stack_fallback;

/* Prepares `sf` to serve from [buffer, buffer + len) and then from `fallback`.
 * The buffer stays owned by the caller and must outlive every block allocated
 * from it; `len` may be 0 (everything then goes to the fallback). The fallback
 * must outlive `sf`'s allocator. No allocation happens here. */
ZH_EXTERN void zh_stack_fallback_init(zh_stack_fallback *sf, void *buffer, size_t len,
                                      zh_allocator fallback);

/* Returns the allocator of `sf` and resets the buffer to empty. Call it once per
 * instance and keep the result: a second call is a contract violation that
 * aborts, naming zh_stack_fallback_get, under ZHEAP_SAFETY (without safety it
 * returns the same allocator and leaves the buffer alone).
 * The allocator returns NULL only when the buffer cannot hold a request and the
 * fallback fails too; it honours any alignment the fallback honours (blocks in
 * the buffer may have any alignment that fits in it). */
ZH_EXTERN zh_allocator zh_stack_fallback_get(zh_stack_fallback *sf);

/* True when `p` points into the buffer of `sf` (the block came from the buffer,
 * not from the fallback). */
ZH_EXTERN bool zh_stack_fallback_owns_ptr(const zh_stack_fallback *sf, const void *p);

/* ZH_STACK_FALLBACK(name, bytes, fallback) declares, in the current block, an
 * array of `bytes` (> 0, a constant for a fixed-size array) bytes aligned for
 * max_align_t and a zh_stack_fallback called `name` initialised over it with
 * `fallback`. Then call zh_stack_fallback_get(&name) once.
 *
 * Use it at block scope only (inside a function body, not at file scope and not
 * as the lone statement of an if/for/case without braces): it expands to
 * declarations followed by a statement. The buffer lives as long as the
 * enclosing block: every block allocated from it is invalid once the block
 * exits, so free or stop using them before then; blocks that went to the
 * fallback must still be freed through the same allocator before leaving. */
#define ZH_STACK_FALLBACK(name, bytes, fallback)                                  \
    ZH__ALIGNAS(max_align_t) unsigned char zh__sf_buffer_##name[(bytes)];     \
    zh_stack_fallback name;                                                       \
    zh_stack_fallback_init(&(name), zh__sf_buffer_##name, sizeof zh__sf_buffer_##name, \
                           (fallback))

#ifdef __cplusplus
}
#endif

#endif /* ZHEAP_STACK_FALLBACK_H */
