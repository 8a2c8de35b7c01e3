/* test_support.h - shared helpers for the cmocka test executables (POSIX hosts).
 *
 * Include after <cmocka.h>'s prerequisites; every helper asserts through cmocka. */
#ifndef ZHEAP_TEST_SUPPORT_H
#define ZHEAP_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "zheap/allocator.h"
#include "zheap/testing.h"

/* Runs fn(arg) in a forked child with stderr captured, and asserts that the child
 * aborted (SIGABRT) and that its stderr contains `expected` (e.g. the call's name). */
void zht_expect_abort(void (*fn)(void *arg), void *arg, const char *expected);

/* Starts `n` threads running fn(arg, index) and joins them all. */
void zht_run_threads(size_t n, void (*fn)(void *arg, size_t index), void *arg);

/* Out-of-memory at every allocation point. Runs `scenario` over a failing allocator
 * wrapped around `backing` with fail_index 0, 1, 2, ... until a run completes with
 * no induced failure. The scenario returns true if it completed; it must free
 * everything it allocated either way. After every run this asserts that
 * nothing leaked (bytes and counts balance) and that a failed run reported
 * failure. Returns the number of allocation points exercised. */
size_t zht_oom_sweep(zh_allocator backing, bool (*scenario)(zh_allocator a, void *ctx),
                     void *ctx);

/* The four conformance functions, for tests that reset their allocator between them. */
typedef int (*zht_conformance_fn)(zh_allocator a);
extern const zht_conformance_fn zht_conformance_suite[];
#define ZHT_CONFORMANCE_SUITE_LEN 4

/* Asserts that the conformance suite (all four tests) passes on `a`. */
void zht_assert_conformance(zh_allocator a);

/* True if every byte of [p, p + len) equals `byte`. */
bool zht_all_bytes(const void *p, size_t len, unsigned char byte);

#endif /* ZHEAP_TEST_SUPPORT_H */
