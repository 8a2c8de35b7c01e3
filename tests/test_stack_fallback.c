/* test_stack_fallback.c - zh_stack_fallback: buffer first, fallback afterwards,
 * dispatch by ownership, realloc out of the buffer, get-once, the block-scope
 * macro and out-of-memory of the fallback. */
#include "test_support.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zheap/c.h"
#include "zheap/page.h"
#include "zheap/stack_fallback.h"


/* ---- conformance ---------------------------------------------------------------- */

/* A buffer big enough for each whole suite function: the fallback is an allocator
 * that refuses everything, so passing proves every block came from the buffer. */
static void test_stack_fallback_conformance_buffer_suffices(void **state) {
    (void)state;
    const size_t len = (size_t)16 << 20;
    unsigned char *buffer = malloc(len);
    assert_non_null(buffer);
    for (size_t i = 0; i < ZH_TEST_SUITE_LEN; i++) {
        zh_failing refuse;
        zh_failing_init(&refuse, zh_c_allocator, 0);
        zh_stack_fallback sf;
        zh_stack_fallback_init(&sf, buffer, len, zh_failing_allocator(&refuse));
        zht_assert_test_case(i, zh_stack_fallback_get(&sf));
        assert_int_equal(refuse.allocations, 0);
        assert_false(refuse.has_induced_failure);
    }
    free(buffer);
}

/* A small buffer (as Zig's test: 4096 bytes) spills to the fallback; the
 * fallback is counted so the test knows it was really used and got everything
 * back. */
static void conformance_spilling(zh_allocator fallback) {
    size_t spilled = 0;
    for (size_t i = 0; i < ZH_TEST_SUITE_LEN; i++) {
        _Alignas(max_align_t) unsigned char buffer[4096];
        zh_failing counter;
        zh_failing_init(&counter, fallback, SIZE_MAX);
        zh_stack_fallback sf;
        zh_stack_fallback_init(&sf, buffer, sizeof buffer, zh_failing_allocator(&counter));
        zht_assert_test_case(i, zh_stack_fallback_get(&sf));
        assert_int_equal(counter.allocations, counter.deallocations);
        assert_int_equal(counter.allocated_bytes, counter.freed_bytes);
        spilled += counter.allocations;
    }
    assert_true(spilled > 0); /* some suite steps need far more than 4096 bytes */
}

static void test_stack_fallback_conformance_spills_to_c(void **state) {
    (void)state;
    conformance_spilling(zh_c_allocator);
}

static void test_stack_fallback_conformance_spills_to_page(void **state) {
    (void)state;
    conformance_spilling(zh_page_allocator);
}

/* No buffer at all: a pure pass-through to the fallback. */
static void test_stack_fallback_conformance_empty_buffer(void **state) {
    (void)state;
    zh_stack_fallback sf;
    zh_stack_fallback_init(&sf, NULL, 0, zh_c_allocator);
    zh_allocator a = zh_stack_fallback_get(&sf);
    zht_assert_conformance(a);
    void *p = zh_alloc(a, 1);
    assert_non_null(p);
    assert_false(zh_stack_fallback_owns_ptr(&sf, p));
    zh_free(a, p, 1);
}

/* ---- dispatch by ownership ------------------------------------------------------ */

static void test_stack_fallback_dispatch_by_ownership(void **state) {
    (void)state;
    _Alignas(max_align_t) unsigned char buffer[1024];
    zh_failing counter;
    zh_failing_init(&counter, zh_c_allocator, SIZE_MAX);
    zht_recorder calls; /* counts calls that reach the fallback, successful or not */
    zh_stack_fallback sf;
    zh_stack_fallback_init(&sf, buffer, sizeof buffer,
                           zht_recorder_init(&calls, zh_failing_allocator(&counter)));
    zh_allocator a = zh_stack_fallback_get(&sf);

    unsigned char *small = zh_alloc(a, 100);
    assert_non_null(small);
    assert_true(zh_stack_fallback_owns_ptr(&sf, small));
    assert_true(small >= buffer && small + 100 <= buffer + sizeof buffer);
    assert_int_equal(counter.allocations, 0);

    unsigned char *big = zh_alloc(a, 2000);
    assert_non_null(big);
    assert_false(zh_stack_fallback_owns_ptr(&sf, big));
    assert_int_equal(counter.allocations, 1);

    /* Resizing and freeing the buffer block never reach the fallback... */
    assert_true(zh_resize(a, small, 100, 50));
    assert_int_equal(calls.resizes, 0);
    /* ...those of the fallback block always do. */
    size_t big_len = 2000;
    if (zh_resize(a, big, big_len, 1000)) big_len = 1000;
    assert_int_equal(calls.resizes, 1);
    unsigned char *remapped = zh_remap(a, big, big_len, 900);
    if (remapped != NULL) big = remapped, big_len = 900;
    assert_int_equal(calls.remaps, 1);

    zh_free(a, small, 50);
    assert_int_equal(counter.deallocations, 0);
    zh_free(a, big, big_len);
    assert_int_equal(counter.deallocations, 1);
    assert_int_equal(counter.allocated_bytes, counter.freed_bytes);
}

/* Once the buffer is exhausted the fallback serves, and freeing the last buffer
 * block makes room in the buffer again. */
static void test_stack_fallback_buffer_then_fallback_then_buffer(void **state) {
    (void)state;
    _Alignas(max_align_t) unsigned char buffer[256];
    zh_failing counter;
    zh_failing_init(&counter, zh_c_allocator, SIZE_MAX);
    zh_stack_fallback sf;
    zh_stack_fallback_init(&sf, buffer, sizeof buffer, zh_failing_allocator(&counter));
    zh_allocator a = zh_stack_fallback_get(&sf);

    void *first = zh_alloc(a, 200);
    assert_true(zh_stack_fallback_owns_ptr(&sf, first));
    void *second = zh_alloc(a, 200);
    assert_non_null(second);
    assert_false(zh_stack_fallback_owns_ptr(&sf, second));
    assert_int_equal(counter.allocations, 1);
    zh_free(a, first, 200);
    void *third = zh_alloc(a, 200);
    assert_true(zh_stack_fallback_owns_ptr(&sf, third));
    assert_int_equal(counter.allocations, 1);
    zh_free(a, third, 200);
    zh_free(a, second, 200);
    assert_int_equal(counter.deallocations, 1);
}

/* Alignment is honoured inside the buffer too. */
static void test_stack_fallback_aligned_blocks_in_buffer(void **state) {
    (void)state;
    _Alignas(max_align_t) unsigned char buffer[4096];
    zh_stack_fallback sf;
    zh_stack_fallback_init(&sf, buffer, sizeof buffer, zh_c_allocator);
    zh_allocator a = zh_stack_fallback_get(&sf);
    void *one = zh_alloc_aligned(a, 1, 1);
    void *wide = zh_alloc_aligned(a, 64, 256);
    assert_true(zh_stack_fallback_owns_ptr(&sf, one));
    assert_true(zh_stack_fallback_owns_ptr(&sf, wide));
    assert_true(zh__is_aligned(wide, 256));
    /* A page-aligned page cannot fit in what is left of a 4096-byte buffer: the
     * fallback provides it, aligned. */
    void *page = zh_alloc_aligned(a, 4096, 4096);
    assert_non_null(page);
    assert_false(zh_stack_fallback_owns_ptr(&sf, page));
    assert_true(zh__is_aligned(page, 4096));
    zh_free_aligned(a, page, 4096, 4096);
    zh_free_aligned(a, wide, 64, 256);
    zh_free_aligned(a, one, 1, 1);
}

/* ---- growing out of the buffer -------------------------------------------------- */

/* Zig's behaviour: a buffer block that cannot grow inside the buffer fails to
 * resize/remap (it never migrates on its own), and is left intact. */
static void test_stack_fallback_growth_beyond_buffer_fails_in_place(void **state) {
    (void)state;
    _Alignas(max_align_t) unsigned char buffer[256];
    zht_recorder calls;
    zh_stack_fallback sf;
    zh_stack_fallback_init(&sf, buffer, sizeof buffer, zht_recorder_init(&calls, zh_c_allocator));
    zh_allocator a = zh_stack_fallback_get(&sf);

    unsigned char *p = zh_alloc(a, 100);
    zht_fill_pattern(p, 100, 3);
    assert_true(zh_resize(a, p, 100, 200)); /* last block, still fits */
    zht_fill_pattern(p, 200, 3);
    assert_false(zh_resize(a, p, 200, 1000));
    assert_null(zh_remap(a, p, 200, 1000));
    assert_true(zht_has_pattern(p, 200, 3));
    assert_int_equal(zht_recorder_calls(&calls), 0); /* the fallback was never asked */
    zh_free(a, p, 200);
}

static void test_stack_fallback_realloc_moves_buffer_block_to_fallback(void **state) {
    (void)state;
    _Alignas(max_align_t) unsigned char buffer[256];
    zh_failing counter;
    zh_failing_init(&counter, zh_c_allocator, SIZE_MAX);
    zh_stack_fallback sf;
    zh_stack_fallback_init(&sf, buffer, sizeof buffer, zh_failing_allocator(&counter));
    zh_allocator a = zh_stack_fallback_get(&sf);

    unsigned char *p = zh_alloc(a, 200);
    assert_true(zh_stack_fallback_owns_ptr(&sf, p));
    zht_fill_pattern(p, 200, 11);
    unsigned char *q = zh_realloc(a, p, 200, 5000);
    assert_non_null(q);
    assert_false(zh_stack_fallback_owns_ptr(&sf, q));
    assert_true(zht_has_pattern(q, 200, 11));
    assert_int_equal(counter.allocations, 1);
    zht_fill_pattern(q, 5000, 12);

    /* The buffer block was freed through the buffer: its room is usable again. */
    void *again = zh_alloc(a, 200);
    assert_true(zh_stack_fallback_owns_ptr(&sf, again));

    /* Shrinking the fallback block keeps it (and its bytes) in the fallback. */
    unsigned char *r = zh_realloc(a, q, 5000, 40);
    assert_non_null(r);
    assert_false(zh_stack_fallback_owns_ptr(&sf, r));
    assert_true(zht_has_pattern(r, 40, 12));

    zh_free(a, again, 200);
    zh_free(a, r, 40);
    assert_int_equal(counter.allocations, counter.deallocations);
    assert_int_equal(counter.allocated_bytes, counter.freed_bytes);
}

/* ---- get once --------------------------------------------------------------------- */

static void get_twice(void *arg) {
    (void)arg;
    _Alignas(max_align_t) unsigned char buffer[64];
    zh_stack_fallback sf;
    zh_stack_fallback_init(&sf, buffer, sizeof buffer, zh_c_allocator);
    (void)zh_stack_fallback_get(&sf);
    (void)zh_stack_fallback_get(&sf);
}

static void test_stack_fallback_second_get(void **state) {
    (void)state;
    if (zh_safety_enabled()) {
        zht_expect_abort(get_twice, NULL, "zh_stack_fallback_get");
        return;
    }
    /* Without safety a repeated get must not reset the buffer under live blocks. */
    _Alignas(max_align_t) unsigned char buffer[256];
    zh_stack_fallback sf;
    zh_stack_fallback_init(&sf, buffer, sizeof buffer, zh_c_allocator);
    zh_allocator a = zh_stack_fallback_get(&sf);
    unsigned char *p = zh_alloc(a, 64);
    zht_fill_pattern(p, 64, 5);
    zh_allocator b = zh_stack_fallback_get(&sf);
    unsigned char *q = zh_alloc(b, 64);
    assert_true(zh_stack_fallback_owns_ptr(&sf, q));
    assert_true(q >= p + 64 || q + 64 <= p);
    zht_fill_pattern(q, 64, 6);
    assert_true(zht_has_pattern(p, 64, 5));
    zh_free(b, q, 64);
    zh_free(a, p, 64);
}

/* init after get starts a new instance: get is allowed once more. */
static void test_stack_fallback_init_rearms_get(void **state) {
    (void)state;
    _Alignas(max_align_t) unsigned char buffer[128];
    zh_stack_fallback sf;
    for (int round = 0; round < 3; round++) {
        zh_stack_fallback_init(&sf, buffer, sizeof buffer, zh_c_allocator);
        zh_allocator a = zh_stack_fallback_get(&sf);
        void *p = zh_alloc(a, 128);
        assert_ptr_equal(p, buffer); /* each instance starts with an empty buffer */
        zh_free(a, p, 128);
    }
}

/* ---- the block-scope macro -------------------------------------------------------- */

/* What a user writes: the macro at the top of a function body. Returns the sum of
 * the bytes it computed so the work is observable. */
static unsigned sum_with_scratch(size_t n) {
    ZH_STACK_FALLBACK(scratch, 512, zh_c_allocator);
    ZH_STACK_FALLBACK(other, 64, zh_c_allocator); /* two in one scope do not clash */
    zh_allocator a = zh_stack_fallback_get(&scratch);
    zh_allocator b = zh_stack_fallback_get(&other);

    assert_int_equal((uintptr_t)scratch.buffer % _Alignof(max_align_t), 0);
    assert_int_equal(scratch.len, 512);
    assert_int_equal(other.len, 64);

    unsigned char *bytes = zh_alloc(a, n);
    assert_non_null(bytes);
    assert_true(zh_stack_fallback_owns_ptr(&scratch, bytes) == (n <= 512));
    assert_false(zh_stack_fallback_owns_ptr(&other, bytes));
    void *tiny = zh_alloc(b, 8);
    assert_true(zh_stack_fallback_owns_ptr(&other, tiny));

    for (size_t i = 0; i < n; i++) bytes[i] = (unsigned char)i;
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) sum += bytes[i];
    zh_free(b, tiny, 8);
    zh_free(a, bytes, n);
    return sum;
}

static void test_stack_fallback_macro_in_function(void **state) {
    (void)state;
    assert_int_equal(sum_with_scratch(100), 99 * 100 / 2);
    unsigned expect = 0;
    for (size_t i = 0; i < 4000; i++) expect += (unsigned char)i;
    assert_int_equal(sum_with_scratch(4000), expect);
}

/* Each pass of a loop body is a new block: a fresh instance with a fresh
 * buffer, so get is called once per instance and never aborts. */
static void test_stack_fallback_macro_in_loop_body(void **state) {
    (void)state;
    for (int i = 0; i < 4; i++) {
        ZH_STACK_FALLBACK(sf, 128, zh_c_allocator);
        zh_allocator a = zh_stack_fallback_get(&sf);
        void *p = zh_alloc(a, 128);
        assert_true(zh_stack_fallback_owns_ptr(&sf, p));
        void *q = zh_alloc(a, 1);
        assert_false(zh_stack_fallback_owns_ptr(&sf, q));
        zh_free(a, q, 1);
        zh_free(a, p, 128);
    }
}

/* ---- out of memory of the fallback -------------------------------------------------- */

/* Allocations in and out of the buffer, a move out of the buffer and growth in
 * the fallback; any failure must leave the old blocks intact and leak nothing. */
static bool spill_scenario(zh_allocator fallback, void *ctx) {
    (void)ctx;
    _Alignas(max_align_t) unsigned char buffer[256];
    zh_stack_fallback sf;
    zh_stack_fallback_init(&sf, buffer, sizeof buffer, fallback);
    zh_allocator a = zh_stack_fallback_get(&sf);
    bool completed = false;

    size_t small_len = 64, big_len = 1000;
    unsigned char *small = zh_alloc(a, small_len); /* the buffer cannot fail */
    assert_non_null(small);
    zht_fill_pattern(small, small_len, 1);
    unsigned char *big = zh_alloc(a, big_len);
    if (big == NULL) goto out;
    zht_fill_pattern(big, big_len, 2);

    unsigned char *moved = zh_realloc(a, small, small_len, 2000);
    if (moved == NULL) {
        assert_true(zht_has_pattern(small, small_len, 1));
        goto out;
    }
    assert_true(zht_has_pattern(moved, small_len, 1));
    small = moved, small_len = 2000;
    zht_fill_pattern(small, small_len, 3);

    unsigned char *grown = zh_realloc(a, big, big_len, 30000);
    if (grown == NULL) {
        assert_true(zht_has_pattern(big, big_len, 2));
        goto out;
    }
    assert_true(zht_has_pattern(grown, big_len, 2));
    big = grown, big_len = 30000;
    completed = true;
out:
    if (big != NULL) zh_free(a, big, big_len);
    zh_free(a, small, small_len);
    return completed;
}

static void test_stack_fallback_fallback_oom_sweep(void **state) {
    (void)state;
    size_t points = zht_oom_sweep(zh_c_allocator, spill_scenario, NULL);
    /* At least `big` and the move out of the buffer allocate from the fallback
     * (the growth of `big` may be a remap that allocates nothing). */
    assert_true(points >= 2);
}

/* A fallback that refuses everything: requests that do not fit return NULL and
 * the buffer keeps working. */
static void test_stack_fallback_fallback_refuses(void **state) {
    (void)state;
    _Alignas(max_align_t) unsigned char buffer[128];
    zh_failing refuse;
    zh_failing_init(&refuse, zh_c_allocator, 0);
    zh_stack_fallback sf;
    zh_stack_fallback_init(&sf, buffer, sizeof buffer, zh_failing_allocator(&refuse));
    zh_allocator a = zh_stack_fallback_get(&sf);
    assert_null(zh_alloc(a, 129));
    unsigned char *p = zh_alloc(a, 100);
    assert_non_null(p);
    zht_fill_pattern(p, 100, 9);
    assert_null(zh_realloc(a, p, 100, 500));
    assert_true(zht_has_pattern(p, 100, 9));
    zh_free(a, p, 100);
    assert_int_equal(refuse.allocations, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stack_fallback_conformance_buffer_suffices),
        cmocka_unit_test(test_stack_fallback_conformance_spills_to_c),
        cmocka_unit_test(test_stack_fallback_conformance_spills_to_page),
        cmocka_unit_test(test_stack_fallback_conformance_empty_buffer),
        cmocka_unit_test(test_stack_fallback_dispatch_by_ownership),
        cmocka_unit_test(test_stack_fallback_buffer_then_fallback_then_buffer),
        cmocka_unit_test(test_stack_fallback_aligned_blocks_in_buffer),
        cmocka_unit_test(test_stack_fallback_growth_beyond_buffer_fails_in_place),
        cmocka_unit_test(test_stack_fallback_realloc_moves_buffer_block_to_fallback),
        cmocka_unit_test(test_stack_fallback_second_get),
        cmocka_unit_test(test_stack_fallback_init_rearms_get),
        cmocka_unit_test(test_stack_fallback_macro_in_function),
        cmocka_unit_test(test_stack_fallback_macro_in_loop_body),
        cmocka_unit_test(test_stack_fallback_fallback_oom_sweep),
        cmocka_unit_test(test_stack_fallback_fallback_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
