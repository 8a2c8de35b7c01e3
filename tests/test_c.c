/* test_c.c - zh_c_allocator and zh_raw_c_allocator: conformance, over-alignment,
 * in-place growth within the usable size, realloc-backed remap, exhaustion and the
 * alignment contract of the raw allocator. */
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

#include "platform/platform.h"
#include "zheap/c.h"

/* Huge requests must come back as NULL rather than as a sanitizer report. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "allocator_may_return_null=1"; }

static void test_c_conformance(void **state) {
    (void)state;
    zht_assert_conformance(zh_c_allocator);
}

/* The raw allocator takes no alignment above max_align_t, so of the suite only the
 * parts that stay within it apply (Zig runs testAllocator on raw_c_allocator); the
 * alignments it does take are swept here. */
static void test_raw_c_conformance(void **state) {
    (void)state;
    assert_int_equal(zh_test_allocator(zh_raw_c_allocator), 0);
    assert_int_equal(zh_test_allocator_aligned_shrink(zh_raw_c_allocator), 0);
    for (size_t alignment = 1; alignment <= ZH_MALLOC_ALIGNMENT; alignment *= 2) {
        unsigned char *p = zh_alloc_aligned(zh_raw_c_allocator, 24, alignment);
        assert_non_null(p);
        assert_true(zh__is_aligned(p, alignment));
        zht_fill_pattern(p, 24, (unsigned)alignment);
        unsigned char *q = zh_realloc_aligned(zh_raw_c_allocator, p, 24, 3000, alignment);
        assert_non_null(q);
        assert_true(zh__is_aligned(q, alignment));
        assert_true(zht_has_pattern(q, 24, (unsigned)alignment));
        zh_free_aligned(zh_raw_c_allocator, q, 3000, alignment);
    }
}

static void test_c_over_aligned(void **state) {
    (void)state;
    size_t lens[] = {1, 7, 100, 4097, 70000};
    enum { NLEN = sizeof lens / sizeof lens[0], NALIGN = 16 };
    void *blocks[NALIGN][NLEN];
    /* alignments 1 .. 32 KiB, all live at once so neighbours' headers are at risk */
    for (size_t a = 0; a < NALIGN; a++) {
        for (size_t l = 0; l < NLEN; l++) {
            unsigned char *p = zh_alloc_aligned(zh_c_allocator, lens[l], (size_t)1 << a);
            assert_non_null(p);
            assert_true(((uintptr_t)p & (((size_t)1 << a) - 1)) == 0);
            zht_fill_pattern(p, lens[l], (unsigned)(a + l));
            blocks[a][l] = p;
        }
    }
    for (size_t a = 0; a < NALIGN; a++) {
        for (size_t l = 0; l < NLEN; l++) {
            assert_true(zht_has_pattern(blocks[a][l], lens[l], (unsigned)(a + l)));
            zh_free_aligned(zh_c_allocator, blocks[a][l], lens[l], (size_t)1 << a);
        }
    }
    /* very large alignment */
    unsigned char *p = zh_alloc_aligned(zh_c_allocator, 10, (size_t)2 << 20);
    assert_non_null(p);
    assert_true(zh__is_aligned(p, ((size_t)2 << 20)));
    memset(p, 1, 10);
    zh_free_aligned(zh_c_allocator, p, 10, (size_t)2 << 20);
}

/* Grows a block one byte at a time until resize refuses; every length resize
 * accepted must be usable (AddressSanitizer checks the writes). */
static size_t grow_while_in_place(unsigned char *p, size_t len, size_t alignment) {
    while (zh_resize_aligned(zh_c_allocator, p, len, len + 1, alignment)) {
        len++;
        p[len - 1] = 0x7f;
        assert_true(len < 1000000);
    }
    return len;
}

static void test_c_in_place_growth(void **state) {
    (void)state;
    for (size_t len = 1; len < 3000; len = len * 2 + 3) {
        unsigned char *p = zh_alloc(zh_c_allocator, len);
        assert_non_null(p);
        zht_fill_pattern(p, len, 9);
        size_t usable = zh__os_malloc_usable_size(p);
        size_t grown = grow_while_in_place(p, len, ZH_MALLOC_ALIGNMENT);
        /* malloc-aligned blocks grow exactly to what the C library reports */
        assert_int_equal(grown, usable > len ? usable : len);
        assert_true(zht_has_pattern(p, len, 9));
        /* shrinking always succeeds */
        assert_true(zh_resize(zh_c_allocator, p, grown, 1));
        zh_free(zh_c_allocator, p, 1);
    }
    for (size_t alignment = 32; alignment <= 4096; alignment *= 4) {
        unsigned char *p = zh_alloc_aligned(zh_c_allocator, 50, alignment);
        assert_non_null(p);
        zht_fill_pattern(p, 50, 10);
        size_t grown = grow_while_in_place(p, 50, alignment);
        memset(p, 0x42, grown);
        assert_true(zh_resize_aligned(zh_c_allocator, p, grown, 3, alignment));
        zh_free_aligned(zh_c_allocator, p, 3, alignment);
    }
}

static void test_c_remap(void **state) {
    (void)state;
    /* malloc-aligned: may move through realloc, contents kept */
    unsigned char *p = zh_alloc(zh_c_allocator, 64);
    assert_non_null(p);
    zht_fill_pattern(p, 64, 11);
    unsigned char *q = zh_remap(zh_c_allocator, p, 64, 1 << 20);
    assert_non_null(q);
    assert_true(zht_has_pattern(q, 64, 11));
    memset(q + 64, 0, (1 << 20) - 64);
    zh_free(zh_c_allocator, q, 1 << 20);

    /* over-aligned: never moved by remap; zh_realloc copies and keeps alignment */
    size_t alignment = 256;
    p = zh_alloc_aligned(zh_c_allocator, 64, alignment);
    assert_non_null(p);
    zht_fill_pattern(p, 64, 12);
    q = zh_remap_aligned(zh_c_allocator, p, 64, 1 << 20, alignment);
    assert_true(q == NULL || q == p);
    size_t len = q == NULL ? 64 : (size_t)1 << 20;
    q = zh_realloc_aligned(zh_c_allocator, p, len, 2 << 20, alignment);
    assert_non_null(q);
    assert_true(zh__is_aligned(q, alignment));
    assert_true(zht_has_pattern(q, 64, 12));
    zh_free_aligned(zh_c_allocator, q, 2 << 20, alignment);
}

static void test_raw_c_resize_and_remap(void **state) {
    (void)state;
    unsigned char *p = zh_alloc(zh_raw_c_allocator, 100);
    assert_non_null(p);
    zht_fill_pattern(p, 100, 13);
    assert_false(zh_resize(zh_raw_c_allocator, p, 100, 101));
    assert_true(zh_resize(zh_raw_c_allocator, p, 100, 60));
    unsigned char *q = zh_remap(zh_raw_c_allocator, p, 60, 1 << 20);
    assert_non_null(q);
    assert_true(zht_has_pattern(q, 60, 13));
    memset(q, 0x21, 1 << 20);
    q = zh_remap(zh_raw_c_allocator, q, 1 << 20, 10);
    assert_non_null(q);
    assert_true(zht_all_bytes(q, 10, 0x21));
    /* a raw block is a malloc block: plain free() takes it */
    free(q);
}

static void test_c_huge_requests_fail(void **state) {
    (void)state;
    assert_null(zh_alloc(zh_c_allocator, SIZE_MAX / 2));
    assert_null(zh_alloc_aligned(zh_c_allocator, SIZE_MAX / 2, 4096));
    assert_null(zh_alloc_aligned(zh_c_allocator, SIZE_MAX - 10, 4096)); /* overflow */
    assert_null(zh_alloc(zh_raw_c_allocator, SIZE_MAX / 2));

    unsigned char *p = zh_alloc(zh_c_allocator, 32);
    assert_non_null(p);
    zht_fill_pattern(p, 32, 14);
    assert_false(zh_resize(zh_c_allocator, p, 32, SIZE_MAX / 2));
    assert_null(zh_remap(zh_c_allocator, p, 32, SIZE_MAX / 2));
    assert_null(zh_realloc(zh_c_allocator, p, 32, SIZE_MAX / 2));
    assert_true(zht_has_pattern(p, 32, 14));
    zh_free(zh_c_allocator, p, 32);

    p = zh_alloc(zh_raw_c_allocator, 32);
    assert_non_null(p);
    zht_fill_pattern(p, 32, 15);
    assert_null(zh_remap(zh_raw_c_allocator, p, 32, SIZE_MAX / 2));
    assert_true(zht_has_pattern(p, 32, 15));
    zh_free(zh_raw_c_allocator, p, 32);
}

/* ---- out of memory at every allocation point ------------------------------------ */

static bool oom_scenario(zh_allocator a, void *ctx) {
    (void)ctx;
    unsigned char *x = zh_alloc_aligned(a, 40, 64);
    if (x == NULL) return false;
    zht_fill_pattern(x, 40, 16);
    char *s = zh_dupez(a, "zheap", 5);
    bool ok = s != NULL;
    unsigned char *x2 = ok ? zh_realloc_aligned(a, x, 40, 5000, 64) : NULL;
    ok = ok && x2 != NULL && zht_has_pattern(x2, 40, 16);
    if (x2 != NULL) x = x2;
    zh_free_aligned(a, x, x2 != NULL ? 5000 : 40, 64);
    if (s != NULL) zh_free(a, s, 6);
    return ok;
}

static void test_c_oom_sweep(void **state) {
    (void)state;
    assert_true(zht_oom_sweep(zh_c_allocator, oom_scenario, NULL) >= 2);
}

/* ---- contract violations ------------------------------------------------------------ */

static void raw_over_aligned(void *arg) {
    (void)arg;
    void *p = zh_alloc_aligned(zh_raw_c_allocator, 16, ZH_MALLOC_ALIGNMENT * 2);
    (void)p;
}

static void test_raw_c_over_alignment_aborts(void **state) {
    (void)state;
    if (!zh_safety_enabled()) skip();
    zht_expect_abort(raw_over_aligned, NULL, "zh_raw_c_allocator");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_c_conformance),
        cmocka_unit_test(test_raw_c_conformance),
        cmocka_unit_test(test_c_over_aligned),
        cmocka_unit_test(test_c_in_place_growth),
        cmocka_unit_test(test_c_remap),
        cmocka_unit_test(test_raw_c_resize_and_remap),
        cmocka_unit_test(test_c_huge_requests_fail),
        cmocka_unit_test(test_c_oom_sweep),
        cmocka_unit_test(test_raw_c_over_alignment_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
