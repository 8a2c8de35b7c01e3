/* common.h - internal helpers shared by every translation unit of libzheap.
 *
 * Not installed. Compiler-specific spellings live here; operating-system specifics
 * live only in src/platform/. */
#ifndef ZHEAP_SRC_COMMON_H
#define ZHEAP_SRC_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "zheap/allocator.h"
#include "zheap/internal.h" /* bit and alignment helpers, ZH__LIKELY */

/* ZH_CONFIG_SAFETY is set by CMake from ZHEAP_SAFETY. Debug-only code is written as
 * `if (zh__config_safety) { ... }` so that it is compiled and type-checked in
 * every build and removed by the optimizer when off. */
#ifndef ZH_CONFIG_SAFETY
#define ZH_CONFIG_SAFETY 0
#endif
static const bool zh__config_safety = ZH_CONFIG_SAFETY != 0;

/* The byte written over new and freed memory when safety is on (Zig's undefined). */
#define ZH_UNDEFINED_BYTE 0xaa

#if defined(__GNUC__) || defined(__clang__)
#define ZH_NORETURN __attribute__((noreturn))
#define ZH_NOINLINE __attribute__((noinline))
/* The target's quirks arrive as ZH_CONFIG_* definitions from cmake/ZheapPlatform.cmake,
 * so no OS is named here: mingw gcc needs the gnu_printf archetype for C99 formats,
 * and wasm has no code addresses for __builtin_return_address. */
#ifndef ZH_CONFIG_PRINTF_ARCHETYPE
#define ZH_CONFIG_PRINTF_ARCHETYPE printf
#endif
#define ZH_PRINTF(f, a) __attribute__((format(ZH_CONFIG_PRINTF_ARCHETYPE, f, a)))
/* Asks for the line at p ahead of a write (a hint: no fault, even for NULL). */
#define ZH__PREFETCH_WRITE(p) __builtin_prefetch((p), 1, 3)
#if defined(ZH_CONFIG_NO_RETURN_ADDRESS) && ZH_CONFIG_NO_RETURN_ADDRESS
#define ZH_RETURN_ADDRESS() ((uintptr_t)0)
#else
#define ZH_RETURN_ADDRESS() ((uintptr_t)__builtin_extract_return_addr(__builtin_return_address(0)))
#endif
#elif defined(_MSC_VER)
#include <intrin.h>
#define ZH_NORETURN __declspec(noreturn)
#define ZH_NOINLINE __declspec(noinline)
#define ZH_PRINTF(f, a)
#define ZH__PREFETCH_WRITE(p) ((void)(p))
#define ZH_RETURN_ADDRESS() ((uintptr_t)_ReturnAddress())
#else
#define ZH_NORETURN
#define ZH_NOINLINE
#define ZH_PRINTF(f, a)
#define ZH__PREFETCH_WRITE(p) ((void)(p))
#define ZH_RETURN_ADDRESS() ((uintptr_t)0)
#endif

/* Thread-local storage for internal state (C11 _Thread_local; the compiler's
 * spelling where it has its own). Only for plain data: a destructor at thread exit
 * needs the platform's zh__tls_key. On ELF the model is initial-exec: in
 * libzheap.so a global-dynamic access is a __tls_get_addr call on every
 * allocation and free, and its first use in a thread may allocate, from inside an
 * allocation. libzheap's few words fit the static-TLS surplus glibc keeps for
 * libraries loaded with dlopen. */
#if defined(_MSC_VER) && !defined(__clang__)
#define ZH__THREAD_LOCAL __declspec(thread)
#elif defined(__ELF__) && (defined(__GNUC__) || defined(__clang__))
#define ZH__THREAD_LOCAL _Thread_local __attribute__((tls_model("initial-exec")))
#else
#define ZH__THREAD_LOCAL _Thread_local
#endif

/* The cache-line size data is padded to against false sharing; 128 where adjacent-
 * line prefetch or 128-byte lines make 64 too small (x86-64, aarch64, ppc64). The
 * machine's own figure is zh__os_cache_line(). */
#if defined(__x86_64__) || defined(_M_X64) || defined(__aarch64__) || defined(__powerpc64__)
#define ZH__CACHE_LINE 128
#else
#define ZH__CACHE_LINE 64
#endif

/* Atomic shims: the C11 <stdatomic.h> operations with the orders zheap uses, named
 * for what they are for. */
#include <stdatomic.h>
#define zh__atomic_load_relaxed(p) atomic_load_explicit((p), memory_order_relaxed)
#define zh__atomic_load_acquire(p) atomic_load_explicit((p), memory_order_acquire)
#define zh__atomic_store_relaxed(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#define zh__atomic_store_release(p, v) atomic_store_explicit((p), (v), memory_order_release)
#define zh__atomic_add_relaxed(p, v) atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
#define zh__atomic_sub_relaxed(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_relaxed)
#define zh__atomic_exchange_acq_rel(p, v) atomic_exchange_explicit((p), (v), memory_order_acq_rel)
#define zh__atomic_cas_weak_acq_rel(p, expected, desired)                                   \
    atomic_compare_exchange_weak_explicit((p), (expected), (desired), memory_order_acq_rel, \
                                          memory_order_acquire)

/* The same on an ordinary (not _Atomic) uintptr_t object, like Zig's @atomicLoad and
 * @cmpxchgWeak on a plain field: for state whose common path is single-threaded and
 * must stay a plain variable the compiler can keep in a register (the fba cursor),
 * while a thread-safe variant updates the same object atomically. Relaxed loads and
 * stores; the compare-and-swap is acquire-release on success. */
#if defined(__GNUC__) || defined(__clang__)
static inline uintptr_t zh__atomic_load_uintptr(const uintptr_t *obj) {
    return __atomic_load_n(obj, __ATOMIC_RELAXED);
}
static inline void zh__atomic_store_uintptr(uintptr_t *obj, uintptr_t value) {
    __atomic_store_n(obj, value, __ATOMIC_RELAXED);
}
static inline bool zh__atomic_cas_weak_uintptr(uintptr_t *obj, uintptr_t *expected,
                                               uintptr_t desired) {
    return __atomic_compare_exchange_n(obj, expected, desired, true, __ATOMIC_ACQ_REL,
                                       __ATOMIC_RELAXED);
}
#else
/* Other C11 compilers: through an _Atomic view of the object, which has the plain
 * type's size and representation wherever uintptr_t atomics are lock-free. */
_Static_assert(sizeof(_Atomic uintptr_t) == sizeof(uintptr_t),
               "an _Atomic uintptr_t must be laid out like a uintptr_t");
static inline uintptr_t zh__atomic_load_uintptr(const uintptr_t *obj) {
    return atomic_load_explicit((_Atomic uintptr_t *)(uintptr_t *)obj, memory_order_relaxed);
}
static inline void zh__atomic_store_uintptr(uintptr_t *obj, uintptr_t value) {
    atomic_store_explicit((_Atomic uintptr_t *)obj, value, memory_order_relaxed);
}
static inline bool zh__atomic_cas_weak_uintptr(uintptr_t *obj, uintptr_t *expected,
                                               uintptr_t desired) {
    return atomic_compare_exchange_weak_explicit((_Atomic uintptr_t *)obj, expected, desired,
                                                 memory_order_acq_rel, memory_order_relaxed);
}
#endif

/* Reports a contract violation and aborts: "zheap: <call>: <message>". Formats into
 * a stack buffer and writes through the platform (no stdio, no C heap), so it is
 * safe from inside any allocator and from every layer (src/core/panic.c). */
ZH_NORETURN ZH_PRINTF(2, 3) void zh__panic(const char *call, const char *fmt, ...);

/* Fills `len` bytes at `p` with ZH_UNDEFINED_BYTE when safety is on. */
static inline void zh__mark_undefined(void *p, size_t len) {
    if (zh__config_safety) memset(p, ZH_UNDEFINED_BYTE, len);
}

/* The pointer handed out for zero-length requests: non-NULL, aligned, never
 * dereferenced, and at the top of the address space so it never equals a real block
 * (Zig uses the same address). */
static inline void *zh__zero_length_ptr(size_t alignment) {
    return (void *)zh__align_backward_addr(UINTPTR_MAX, alignment);
}

#endif /* ZHEAP_SRC_COMMON_H */
