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
#include "zheap/internal.h" /* the library's bit and alignment helpers */
#include "zheap/testing.h"

#include "bytes.h" /* zht_all_bytes, zht_fill_pattern, zht_has_pattern */

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

/* Asserts that the conformance suite (every function of zh_test_suite) passes on
 * `a`, naming the one that failed. Tests that reset their allocator between the
 * functions loop over zh_test_suite themselves, through zht_assert_test_case. */
void zht_assert_conformance(zh_allocator a);
/* Asserts that zh_test_suite[i] passes on `a`. */
void zht_assert_test_case(size_t i, zh_allocator a);

/* ---- a recording allocator ----------------------------------------------------------
 * Forwards every call to `child` unchanged and records it: how many calls of each
 * kind were made (whether or not they succeeded; zh_failing counts only
 * successes) and the ret_addr of the latest call. Not thread-safe. */
typedef struct zht_recorder {
    zh_allocator child;
    size_t allocs, resizes, remaps, frees; /* calls made */
    uintptr_t last_ret_addr;               /* ret_addr of the most recent call */
} zht_recorder;

/* Starts `r` over `child` with every count at zero and returns it as an allocator. */
zh_allocator zht_recorder_init(zht_recorder *r, zh_allocator child);
/* Every call `r` has seen. */
size_t zht_recorder_calls(const zht_recorder *r);

/* ---- return addresses ----------------------------------------------------------------
 * To check that an allocator names its caller: a noinline function F records
 * zht_code_address(F) before and zht_here() after the call under test; the
 * ret_addr the child saw must lie between them (zht_assert_ret_addr_in), with
 * a little slack past the end for an unlikely branch placed after F's body. */
#if defined(__clang__)
#define ZHT_NOINLINE __attribute__((noinline))
#elif defined(__GNUC__)
#define ZHT_NOINLINE __attribute__((noinline, noclone))
#else
#define ZHT_NOINLINE
#endif
#define zht_code_address(fn) ((uintptr_t)(fn))

/* The address this call returns to: a point in the caller's code. */
uintptr_t zht_here(void);

/* Asserts start <= addr <= end + a few hundred bytes, naming `what` on failure. */
void zht_assert_ret_addr_in(uintptr_t addr, uintptr_t start, uintptr_t end, const char *what);

/* The most child calls an arena (or a pool, through its arena) may make while
 * `bytes` are allocated from it in small blocks: every growth at least doubles
 * what it holds and costs at most two calls (a refused growth in place, then a
 * new buffer), from the first step of ZH_ARENA_FIRST_BUFFER_SIZE bytes. */
size_t zht_arena_growth_call_bound(size_t bytes);

/* ---- counting fixtures ---------------------------------------------------------------
 * A zh_failing that never fails counts what goes through it: bytes and calls. */

/* Starts `f` over `child` with no induced failure. */
void zht_counting_init(zh_failing *f, zh_allocator child);
/* Asserts that everything allocated through `f` was freed (bytes and counts). */
void zht_assert_balanced(const zh_failing *f);

#endif /* ZHEAP_TEST_SUPPORT_H */
