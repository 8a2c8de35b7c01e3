/* testing.h - the conformance suite every allocator passes, usable from any test
 * framework, plus two wrappers for testing allocators and their callers.
 *
 * The four zh_test_allocator* functions are Zig's testAllocator,
 * testAllocatorAligned, testAllocatorLargeAlignment and testAllocatorAlignedShrink.
 * Each runs against the given allocator through zh_validation_wrap (so contract
 * mistakes of the allocator itself are caught), returns 0 on success, and on
 * failure a nonzero code after printing "zh_test_...: <what failed>" to stderr.
 * They free everything they allocate, also on failure where they can.
 * Thread safety: as safe as the allocator under test; they keep no global state. */
#ifndef ZHEAP_TESTING_H
#define ZHEAP_TESTING_H

#include <stdbool.h>
#include <stddef.h>

#include "zheap/allocator.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Allocation, resize and remap of many objects and byte arrays; requires that the
 * allocator returns NULL only on real exhaustion (any allocator backed by at least
 * a few MiB passes). */
ZH_EXTERN int zh_test_allocator(zh_allocator a);
/* Allocations with every alignment from 1 to 512 bytes, grown and shrunk. */
ZH_EXTERN int zh_test_allocator_aligned(zh_allocator a);
/* Alignments above the page size (up to 64 KiB), resized in place. */
ZH_EXTERN int zh_test_allocator_large_alignment(zh_allocator a);
/* Shrinking a block that was allocated with alignment above its size. */
ZH_EXTERN int zh_test_allocator_aligned_shrink(zh_allocator a);
/* All four in order; the first nonzero code, or 0. */
ZH_EXTERN int zh_test_allocator_all(zh_allocator a);

/* The four functions above as a table, in that order: the one list of them, for
 * test runners that run each on its own (a fresh or reset allocator per function,
 * one report line per function). */
typedef struct zh_test_case {
    /* public */
    const char *name;           /* the function's name, e.g. "zh_test_allocator" */
    int (*run)(zh_allocator a); /* the function */
} zh_test_case;
#define ZH_TEST_SUITE_LEN 4
ZH_EXTERN extern const zh_test_case zh_test_suite[ZH_TEST_SUITE_LEN];

/* ---- validation wrapper (Zig's validationWrap) ------------------------------------
 * Checks the contract on every call in both directions and aborts with a message
 * naming the call on a violation: zero lengths or NULL blocks given to the child,
 * and blocks from the child that are NULL-but-claimed, misaligned, or (for remap)
 * misaligned after a move. The struct is caller-owned; it must outlive the returned
 * allocator. Thread safety: that of the child. */
typedef struct zh_validator {
    /* private */
    zh_allocator child;
} zh_validator;
ZH_EXTERN zh_allocator zh_validation_wrap(zh_validator *v, zh_allocator child);

/* ---- failing allocator (Zig's FailingAllocator) --------------------------------------
 * Passes calls to `child` until `fail_index` allocations have succeeded, then
 * returns NULL for every later allocation; likewise, once `resize_fail_index`
 * resizes and remaps have succeeded, it fails every later one (false / NULL).
 * Only calls that succeed count: an allocation the child itself refuses does not
 * move alloc_index, so it does not bring the induced failure closer. Every call
 * passes its caller's ret_addr to the child unchanged.
 * Counts what went through so a test can check that a failed operation leaked
 * nothing: allocated_bytes - freed_bytes == 0 and allocations == deallocations.
 * Not thread-safe. Caller-owned; must outlive the returned allocator. */
typedef struct zh_failing {
    /* public (may be changed between calls) */
    size_t fail_index;        /* successful allocations before they fail; SIZE_MAX: never */
    /* read-only (set with zh_failing_set_resize_fail_index) */
    size_t resize_fail_index; /* successful resizes/remaps before they fail; SIZE_MAX: never */
    /* read-only */
    size_t alloc_index;       /* successful allocations so far (the next fails at fail_index) */
    size_t resize_index;      /* successful resizes and remaps so far */
    size_t allocated_bytes;   /* bytes handed out, counting growth by resize/remap */
    size_t freed_bytes;       /* bytes returned, counting shrinking by resize/remap */
    size_t allocations;       /* successful allocations */
    size_t deallocations;     /* frees */
    bool has_induced_failure; /* true once an allocation was made to fail (resizes made
                                 to fail do not set it, as in Zig) */
    /* private */
    zh_allocator child;
} zh_failing;

/* Fails allocations once `fail_index` have succeeded (0: every allocation fails;
 * SIZE_MAX: none); resizes never fail until zh_failing_set_resize_fail_index says
 * so. The read-only fields may be read at any time; fail_index may be changed
 * between calls (a value at or below alloc_index fails the next allocation). */
ZH_EXTERN void zh_failing_init(zh_failing *f, zh_allocator child, size_t fail_index);
ZH_EXTERN void zh_failing_set_resize_fail_index(zh_failing *f, size_t resize_fail_index);
ZH_EXTERN zh_allocator zh_failing_allocator(zh_failing *f);

#ifdef __cplusplus
}
#endif

#endif /* ZHEAP_TESTING_H */
