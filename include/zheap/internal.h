/* internal.h - the bit and alignment helpers every libzheap file shares, and the
 * branch hints, in the one place that both the library's sources and the inline
 * fast paths of the public headers (arena.h, fba.h, pool.h) can include.
 *
 * Not part of the API: every name here is zh__ / ZH__ and may change in any
 * release. Written as C11 that is also valid C++, so public headers stay usable
 * from C++. */
#ifndef ZHEAP_INTERNAL_H
#define ZHEAP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define ZH__LIKELY(x) __builtin_expect(!!(x), 1)
#define ZH__UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define ZH__LIKELY(x) (x)
#define ZH__UNLIKELY(x) (x)
#endif

/* `static inline`, and inlined even in unoptimized builds: for inline fast paths
 * whose slow path names its own return address, which must then be the user's
 * call site (what the debug allocator reports), never an out-of-line copy of the
 * fast path. */
/* The inline fast paths hand out bytes that the allocators keep poisoned for memory
 * checkers (src/core/track.h): ZH__TRACK_INLINE_ALLOC makes them addressable.
 * Nothing unless libzheap was configured with ZHEAP_VALGRIND=ON (zheap/config.h)
 * or the program is compiled with AddressSanitizer; valgrind takes precedence, as
 * in track.h (the two checkers do not run together). */
#include "zheap/config.h"
#if ZH__CONFIG_VALGRIND
#include <valgrind/memcheck.h>
#define ZH__TRACK_INLINE 1
#define ZH__TRACK_INLINE_ALLOC(p, len) ((void)VALGRIND_MAKE_MEM_UNDEFINED((p), (len)))
#else
#if defined(__SANITIZE_ADDRESS__)
#define ZH__INLINE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ZH__INLINE_ASAN 1
#endif
#endif
#if defined(ZH__INLINE_ASAN)
#include <sanitizer/asan_interface.h>
#define ZH__TRACK_INLINE 1
#define ZH__TRACK_INLINE_ALLOC(p, len) __asan_unpoison_memory_region((p), (len))
#else
#define ZH__TRACK_INLINE 0
#define ZH__TRACK_INLINE_ALLOC(p, len) ((void)0)
#endif
#endif

/* Redzones between bump allocations (the arena, and a fixed buffer that ASan is
 * told about: one on the heap), under ASan only: every block starts at least
 * ZH__REDZONE bytes after the cursor and on an ASan granule (8 bytes), so the
 * bytes between one block's end and the next block - never handed out, so
 * poisoned - make a write past the end fault at once. The gap sits before each
 * block, not after it: "is this the last block" and resize in place compare the
 * block's end with the cursor exactly as without it, the last block may grow to
 * the very end of its buffer (what lies beyond is not the allocator's to hand
 * out), and freeing the last block moves the cursor back over its redzone too, so
 * alloc/free loops do not leak. In every other build ZH__REDZONE is 0 and the bump
 * is unchanged. The program and libzheap must agree on ASan (both instrumented or
 * neither), as for the poisoning itself; zh__track_redzone() (fba.h) tells tests
 * and harnesses the library's value. */
#if defined(ZH__INLINE_ASAN)
#define ZH__REDZONE 16
#else
#define ZH__REDZONE 0
#endif
#define ZH__REDZONE_GRANULE 8 /* ASan's shadow granule: a block after a redzone starts on one */

#if defined(__GNUC__) || defined(__clang__)
#define ZH__ALWAYS_INLINE static inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define ZH__ALWAYS_INLINE static __forceinline
#else
#define ZH__ALWAYS_INLINE static inline
#endif

static inline bool zh__is_pow2(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

/* floor(log2(x)) for x > 0. */
static inline unsigned zh__floor_log2(size_t x) {
#if defined(__GNUC__) || defined(__clang__)
    /* clzll counts in unsigned long long, which may be wider than size_t (wasm32). */
    return (unsigned)(8 * sizeof(unsigned long long) - 1) -
           (unsigned)__builtin_clzll((unsigned long long)x);
#else
    unsigned n = 0;
    while (x > 1) x >>= 1, n++;
    return n;
#endif
}

/* log2 of a power of two. */
static inline unsigned zh__log2_pow2(size_t x) { return zh__floor_log2(x); }

/* ceil(log2(x)): the log2 of the smallest power of two >= x (0 for x <= 1). */
static inline unsigned zh__ceil_log2(size_t x) { return x <= 1 ? 0u : zh__floor_log2(x - 1) + 1u; }

/* The smallest power of two >= x (1 for x <= 1). The caller ensures it fits:
 * x <= SIZE_MAX / 2 + 1. */
static inline size_t zh__ceil_pow2(size_t x) { return (size_t)1 << zh__ceil_log2(x); }

/* ceil(x / d) for d > 0, without overflow. */
static inline size_t zh__div_ceil(size_t x, size_t d) { return x / d + (x % d != 0); }

/* Rounds x up to a multiple of `alignment` (a power of two). The caller ensures
 * no overflow, or uses zh__align_forward_checked. */
static inline size_t zh__align_forward(size_t x, size_t alignment) {
    return (x + alignment - 1) & ~(alignment - 1);
}
static inline uintptr_t zh__align_forward_addr(uintptr_t x, size_t alignment) {
    return (x + alignment - 1) & ~(uintptr_t)(alignment - 1);
}
static inline size_t zh__align_backward(size_t x, size_t alignment) {
    return x & ~(alignment - 1);
}
static inline uintptr_t zh__align_backward_addr(uintptr_t x, size_t alignment) {
    return x & ~(uintptr_t)(alignment - 1);
}
/* zh__align_forward as a constant expression, for sizes that #defines, array
 * bounds and _Static_assert need; everything else calls the function. */
#define ZH__ALIGN_FORWARD_CONST(x, alignment) (((x) + (alignment) - 1) & ~((alignment) - 1))
/* Bytes from address x up to the next multiple of `alignment` (a power of two). */
static inline size_t zh__align_padding(uintptr_t x, size_t alignment) {
    return (size_t)(0 - x) & (alignment - 1);
}
/* Where a bump allocator whose cursor is at `cur` starts the next block at
 * `alignment`, leaving `redzone` bytes after the cursor; and zh__bump_pad, the
 * bytes that skips. Without a redzone (a constant 0 in every build but ASan) that
 * is the alignment padding alone; with one (ZH__REDZONE above) the redzone too,
 * and the block starts on an ASan granule. When the block would start past the top
 * of memory the start is exactly 0 (the pad takes the cursor there), which no
 * bound admits. */
static inline uintptr_t zh__bump_start(uintptr_t cur, size_t alignment, size_t redzone) {
    if (redzone == 0) return zh__align_forward_addr(cur, alignment);
    if (alignment < ZH__REDZONE_GRANULE) alignment = ZH__REDZONE_GRANULE;
    uintptr_t start = zh__align_forward_addr(cur + redzone, alignment);
    return start > cur ? start : 0;
}
static inline size_t zh__bump_pad(uintptr_t cur, size_t alignment, size_t redzone) {
    if (redzone == 0) return zh__align_padding(cur, alignment);
    return (size_t)(zh__bump_start(cur, alignment, redzone) - cur);
}
/* False on overflow. */
static inline bool zh__align_forward_checked(size_t x, size_t alignment, size_t *out) {
    if (x > SIZE_MAX - (alignment - 1)) return false;
    *out = zh__align_forward(x, alignment);
    return true;
}
static inline bool zh__is_aligned(const void *p, size_t alignment) {
    return ((uintptr_t)p & (alignment - 1)) == 0;
}

#endif /* ZHEAP_INTERNAL_H */
