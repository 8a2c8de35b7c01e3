/* allocator.h - the zh_allocator interface and the helpers every allocator shares.
 *
 * An allocator is two pointers passed by value: a context and a vtable of four
 * functions. The contract is Zig's std.mem.Allocator:
 *
 *   - `len > 0` whenever a vtable function is called; zero-length requests are
 *     answered by the helpers below and never reach an allocator.
 *   - The caller passes back the exact `len` and `align` it allocated with
 *     (after a successful resize/remap, the new length).
 *   - `alloc` returns memory aligned to `1 << align`, or NULL on out-of-memory.
 *   - `resize` changes the length in place and never moves memory; false means
 *     "could not", and the block is unchanged.
 *   - `remap` may move the block; it returns NULL when the only way would be to
 *     allocate, copy and free (the caller does that itself, see zh_realloc).
 *   - `free` cannot fail.
 *   - `ret_addr` is the address the request came from, for the debug allocator's
 *     traces; helpers pass their caller's return address.
 *
 * Thread safety belongs to each allocator and is stated in its header.
 *
 * With ZHEAP_SAFETY on (the default in Debug builds) the helpers fill new and
 * freed bytes with 0xaa, and a contract violation (alignment not a power of two,
 * a size that overflows, a NULL block with a non-zero length) aborts with a
 * message naming the call. With safety off, an overflowing size is treated as
 * out-of-memory (NULL) and a bad alignment still aborts: there is no meaningful
 * answer to it. */
#ifndef ZHEAP_ALLOCATOR_H
#define ZHEAP_ALLOCATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zheap/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* log2 of an alignment in bytes: 0 is 1 byte, 4 is 16 bytes, 12 is 4 KiB. */
typedef uint8_t zh_align;

/* The largest alignment the interface can express (log2); larger values are a
 * contract violation. 2^31 bytes is far beyond any page or huge page size. */
#define ZH_ALIGN_LOG2_MAX 31

/* Alignment that malloc guarantees (max_align_t); what zh_alloc uses. */
#define ZH_MALLOC_ALIGNMENT (ZH__ALIGNOF(max_align_t))

typedef struct zh_allocator_vtable {
    /* public */
    /* Returns `len` bytes aligned to 1 << align, or NULL on out-of-memory. */
    void *(*alloc)(void *ctx, size_t len, zh_align align, uintptr_t ret_addr);
    /* Changes the block's length to new_len without moving it; false if it cannot. */
    bool (*resize)(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                   uintptr_t ret_addr);
    /* Like resize, but may move the block. NULL when a move would need a copy. */
    void *(*remap)(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                   uintptr_t ret_addr);
    /* Returns the block; `len` and `align` are those it was allocated with. */
    void (*free)(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr);
} zh_allocator_vtable;

typedef struct zh_allocator {
    /* public */
    void *ctx;
    const zh_allocator_vtable *vtable;
} zh_allocator;

/* ---- alignment ---------------------------------------------------------------- */

/* log2 of `bytes`. Aborts with a message naming `zh_align_from_bytes` when `bytes`
 * is not a power of two or exceeds 1 << ZH_ALIGN_LOG2_MAX. */
ZH_EXTERN zh_align zh_align_from_bytes(size_t bytes);

/* 1 << align. */
static inline size_t zh_align_to_bytes(zh_align align) { return (size_t)1 << align; }

/* True when this build of libzheap was configured with ZHEAP_SAFETY on. */
ZH_EXTERN bool zh_safety_enabled(void);

/* ---- the vtable, checked -------------------------------------------------------
 * Direct calls to the vtable. With safety on they abort, naming the call, when
 * len or new_len is zero, mem is NULL or align exceeds ZH_ALIGN_LOG2_MAX. They do
 * not fill memory. */
ZH_EXTERN void *zh_raw_alloc(zh_allocator a, size_t len, zh_align align, uintptr_t ret_addr);
ZH_EXTERN bool zh_raw_resize(zh_allocator a, void *mem, size_t len, zh_align align,
                             size_t new_len, uintptr_t ret_addr);
ZH_EXTERN void *zh_raw_remap(zh_allocator a, void *mem, size_t len, zh_align align,
                             size_t new_len, uintptr_t ret_addr);
ZH_EXTERN void zh_raw_free(zh_allocator a, void *mem, size_t len, zh_align align,
                           uintptr_t ret_addr);

/* ---- byte helpers ----------------------------------------------------------------
 * Zero-length blocks: allocating 0 bytes returns a non-NULL pointer aligned as
 * asked that must never be dereferenced; freeing a zero-length block is a no-op.
 * Every helper below uses `alignment` in bytes (a power of two); the plain forms
 * use ZH_MALLOC_ALIGNMENT. Ownership of a returned block passes to the caller,
 * who returns it with the same length and alignment. */

/* `len` bytes with malloc alignment, or NULL on out-of-memory. */
ZH_EXTERN void *zh_alloc(zh_allocator a, size_t len);
/* `len` bytes aligned to `alignment`, or NULL on out-of-memory. */
ZH_EXTERN void *zh_alloc_aligned(zh_allocator a, size_t len, size_t alignment);

/* Returns a block from zh_alloc (or a successful resize/remap/realloc of one). */
ZH_EXTERN void zh_free(zh_allocator a, void *p, size_t len);
ZH_EXTERN void zh_free_aligned(zh_allocator a, void *p, size_t len, size_t alignment);

/* Changes the length in place. new_len == 0 frees the block and returns true;
 * a zero-length block cannot grow in place (false). */
ZH_EXTERN bool zh_resize(zh_allocator a, void *p, size_t len, size_t new_len);
ZH_EXTERN bool zh_resize_aligned(zh_allocator a, void *p, size_t len, size_t new_len,
                                 size_t alignment);

/* Changes the length, moving the block if the allocator can do so without a copy.
 * NULL: nothing changed, the old block is still valid. new_len == 0 frees the
 * block and returns a zero-length pointer. */
ZH_EXTERN void *zh_remap(zh_allocator a, void *p, size_t len, size_t new_len);
ZH_EXTERN void *zh_remap_aligned(zh_allocator a, void *p, size_t len, size_t new_len,
                                 size_t alignment);

/* Changes the length: remap first, then allocate + copy + free. NULL on
 * out-of-memory, and then the old block is untouched and still owned by the
 * caller. A zero-length `p` allocates; new_len == 0 frees. */
ZH_EXTERN void *zh_realloc(zh_allocator a, void *p, size_t old_len, size_t new_len);
ZH_EXTERN void *zh_realloc_aligned(zh_allocator a, void *p, size_t old_len, size_t new_len,
                                   size_t alignment);

/* A copy of `len` bytes from `src` (malloc alignment); free with zh_free(a, p, len). */
ZH_EXTERN void *zh_dupe(zh_allocator a, const void *src, size_t len);
/* A copy of `len` bytes followed by a NUL; free with zh_free(a, p, len + 1). */
ZH_EXTERN char *zh_dupez(zh_allocator a, const char *src, size_t len);

/* ---- typed helpers ---------------------------------------------------------------
 * ZH_CREATE(a, T)            one T, or NULL          ZH_DESTROY(a, p)
 * ZH_ALLOC_ARRAY(a, T, n)    n T's, or NULL          ZH_FREE_ARRAY(a, p, n)
 * The block's alignment is derived from sizeof(T) so that ZH_DESTROY and
 * ZH_FREE_ARRAY can recompute it from the pointer alone: the largest power of two
 * dividing sizeof(T), capped at 64. Every type with _Alignof(T) <= 64 satisfies
 * this (its alignment divides its size); a more aligned type fails to compile.
 * ZH_ALLOC_ARRAY checks n * sizeof(T) for overflow: a contract violation under
 * ZHEAP_SAFETY, otherwise NULL. */
#define ZH_TYPE_ALIGN_MAX 64
#define ZH__LOWBIT(n) ((size_t)(n) & (~(size_t)(n) + 1))
#define ZH__SIZE_ALIGN(size) \
    (ZH__LOWBIT(size) < ZH_TYPE_ALIGN_MAX ? ZH__LOWBIT(size) : (size_t)ZH_TYPE_ALIGN_MAX)
#define ZH__TYPE_ALIGN_FITS(T) (ZH__ALIGNOF(T) <= ZH__SIZE_ALIGN(sizeof(T)))
#define ZH__TYPE_ALIGN_MESSAGE "zheap: type alignment above 64 bytes; use zh_alloc_aligned"
#ifdef __cplusplus
/* C++ has no types in sizeof: a class template carries the static_assert. */
extern "C++" template <bool Fits> struct zh__type_align_check {
    static_assert(Fits, ZH__TYPE_ALIGN_MESSAGE);
};
#define ZH__CHECK_TYPE_ALIGN(T) ((void)sizeof(zh__type_align_check<ZH__TYPE_ALIGN_FITS(T)>))
#else
#define ZH__CHECK_TYPE_ALIGN(T)                                      \
    ((void)sizeof(struct {                                           \
        _Static_assert(ZH__TYPE_ALIGN_FITS(T), ZH__TYPE_ALIGN_MESSAGE); \
        int zh__unused;                                              \
    }))
#endif

/* The engine of the typed macros; `call` names the macro in contract messages. */
ZH_EXTERN void *zh__alloc_array(zh_allocator a, size_t count, size_t size, size_t alignment,
                                const char *call);

#define ZH_CREATE(a, T)                                                               \
    (ZH__CHECK_TYPE_ALIGN(T),                                                        \
     (T *)zh__alloc_array((a), 1, sizeof(T), ZH__SIZE_ALIGN(sizeof(T)), "ZH_CREATE"))
#define ZH_DESTROY(a, p) \
    zh_free_aligned((a), (p), sizeof(*(p)), ZH__SIZE_ALIGN(sizeof(*(p))))
#define ZH_ALLOC_ARRAY(a, T, n)                                                       \
    (ZH__CHECK_TYPE_ALIGN(T),                                                        \
     (T *)zh__alloc_array((a), (n), sizeof(T), ZH__SIZE_ALIGN(sizeof(T)),             \
                          "ZH_ALLOC_ARRAY"))
#define ZH_FREE_ARRAY(a, p, n) \
    zh_free_aligned((a), (p), (n) * sizeof(*(p)), ZH__SIZE_ALIGN(sizeof(*(p))))

/* ---- for allocator implementers ------------------------------------------------
 * Stock vtable entries: a resize that never succeeds, a remap that never
 * succeeds, and a free that does nothing. */
ZH_EXTERN bool zh_no_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                            uintptr_t ret_addr);
ZH_EXTERN void *zh_no_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                            uintptr_t ret_addr);
ZH_EXTERN void zh_no_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr);

#ifdef __cplusplus
}
#endif

#endif /* ZHEAP_ALLOCATOR_H */
