/* test_page.c - the page allocator: conformance, page size bounds, large
 * alignment, in-place resize, remap, the address hint, exhaustion and threads. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

#include "platform/platform.h"
#include "zheap/page.h"

static const zh_allocator *pa(void) { return &zh_page_allocator; }
static bool has(unsigned cap) { return (zh__os_info_get()->caps & cap) != 0; }

static void test_page_conformance(void **state) {
    (void)state;
    zht_assert_conformance(zh_page_allocator);
}

static void test_page_size(void **state) {
    (void)state;
    size_t page = zh_page_size();
    assert_in_range(page, ZH_PAGE_SIZE_MIN, ZH_PAGE_SIZE_MAX);
    assert_true(zh__is_pow2(page));
    assert_int_equal(page, zh_page_size());
}

/* Blocks are whole pages straight from the OS: page-aligned and zero-filled (the
 * raw vtable call skips the 0xaa fill of the helpers). */
static void test_page_alloc_is_pages(void **state) {
    (void)state;
    size_t page = zh_page_size();
    size_t lens[] = {1, page - 1, page, page + 1, 5 * page + 3};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        unsigned char *p = zh_raw_alloc(*pa(), lens[i], 0, 0);
        assert_non_null(p);
        assert_true(zh__is_aligned(p, page));
        /* the rounded-up remainder of the last page belongs to the block too */
        size_t rounded = zh__align_forward(lens[i], page);
        assert_true(zht_all_bytes(p, rounded, 0));
        memset(p, 0xee, rounded);
        zh_raw_free(*pa(), p, lens[i], 0, 0);
    }
}

static void test_page_large_alignment(void **state) {
    (void)state;
    size_t alignments[] = {(size_t)64 << 10, (size_t)1 << 20, (size_t)2 << 20, (size_t)8 << 20};
    size_t lens[] = {1, 100, zh_page_size() * 3 + 5, ((size_t)2 << 20) + 1};
    void *blocks[4][4];
    /* Keep them all live at once so they cannot reuse each other's addresses. */
    for (size_t a = 0; a < 4; a++) {
        for (size_t l = 0; l < 4; l++) {
            unsigned char *p = zh_alloc_aligned(*pa(), lens[l], alignments[a]);
            assert_non_null(p);
            assert_true(zh__is_aligned(p, alignments[a]));
            zht_fill_pattern(p, lens[l], (unsigned)(a * 4 + l));
            blocks[a][l] = p;
        }
    }
    for (size_t a = 0; a < 4; a++) {
        for (size_t l = 0; l < 4; l++) {
            assert_true(zht_has_pattern(blocks[a][l], lens[l], (unsigned)(a * 4 + l)));
            zh_free_aligned(*pa(), blocks[a][l], lens[l], alignments[a]);
        }
    }
}

static void test_page_resize_same_pages(void **state) {
    (void)state;
    size_t page = zh_page_size();
    unsigned char *p = zh_alloc(*pa(), 2 * page - 100);
    assert_non_null(p);
    zht_fill_pattern(p, 2 * page - 100, 1);
    assert_true(zh_resize(*pa(), p, 2 * page - 100, 2 * page));
    assert_true(zh_resize(*pa(), p, 2 * page, page + 1));
    assert_true(zht_has_pattern(p, page + 1, 1));
    assert_ptr_equal(zh_remap(*pa(), p, page + 1, 2 * page), p);
    zh_free(*pa(), p, 2 * page);
}

static void test_page_resize_shrink_then_grow(void **state) {
    (void)state;
    size_t page = zh_page_size();
    unsigned char *p = zh_alloc(*pa(), 8 * page);
    assert_non_null(p);
    zht_fill_pattern(p, 8 * page, 2);
    bool shrunk = zh_resize(*pa(), p, 8 * page, 2 * page + 10);
    assert_int_equal(shrunk, has(ZH__OS_CAN_SHRINK));
    size_t len = shrunk ? 2 * page + 10 : 8 * page;
    assert_true(zht_has_pattern(p, len, 2));
    /* The tail was just given back and nothing has been mapped since. */
    bool grown = zh_resize(*pa(), p, len, 6 * page);
    if (shrunk) assert_int_equal(grown, has(ZH__OS_CAN_GROW));
    if (grown) {
        len = 6 * page;
        assert_true(zht_has_pattern(p, 2 * page + 10, 2));
        memset(p, 0x3c, len);
    }
    zh_free(*pa(), p, len);
}

/* A block whose following pages are taken cannot grow in place; remap may move it. */
static void test_page_remap_growth_preserves_contents(void **state) {
    (void)state;
    size_t page = zh_page_size();
    size_t len = 3 * page + 7;
    unsigned char *p = zh_alloc(*pa(), len);
    assert_non_null(p);
    unsigned char *neighbour = zh_alloc(*pa(), page); /* likely right after p */
    assert_non_null(neighbour);
    zht_fill_pattern(p, len, 3);
    size_t new_len = 512 * page;
    unsigned char *q = zh_remap(*pa(), p, len, new_len);
    if (has(ZH__OS_CAN_REMAP)) assert_non_null(q);
    if (q == NULL) {
        q = zh_realloc(*pa(), p, len, new_len);
        assert_non_null(q);
    }
    assert_true(zh__is_aligned(q, page));
    assert_true(zht_has_pattern(q, len, 3));
    memset(q + len, 0x5a, new_len - len);
    /* shrink by remap: in place */
    unsigned char *r = zh_remap(*pa(), q, new_len, page);
    assert_non_null(r);
    assert_true(zht_has_pattern(r, page, 3));
    zh_free(*pa(), r, page);
    zh_free(*pa(), neighbour, page);
}

/* A block aligned above the page size keeps its alignment through remap. */
static void test_page_remap_keeps_large_alignment(void **state) {
    (void)state;
    size_t page = zh_page_size();
    size_t alignment = (size_t)1 << 20;
    unsigned char *p = zh_alloc_aligned(*pa(), page, alignment);
    assert_non_null(p);
    zht_fill_pattern(p, page, 4);
    unsigned char *blocker = zh_alloc(*pa(), page);
    assert_non_null(blocker);
    unsigned char *q = zh_remap_aligned(*pa(), p, page, 300 * page, alignment);
    size_t len = page;
    if (q != NULL) {
        assert_true(zh__is_aligned(q, alignment));
        len = 300 * page;
        p = q;
    }
    assert_true(zht_has_pattern(p, page, 4));
    q = zh_realloc_aligned(*pa(), p, len, 600 * page, alignment);
    assert_non_null(q);
    assert_true(zh__is_aligned(q, alignment));
    assert_true(zht_has_pattern(q, page, 4));
    zh_free_aligned(*pa(), q, 600 * page, alignment);
    zh_free(*pa(), blocker, page);
}

/* The hint steers mappings and moves past each one, so a freed address is not
 * handed out again by the next allocation. */
static void test_page_addr_hint(void **state) {
    (void)state;
    if (!has(ZH__OS_HAS_ADDR_HINT)) skip();
    size_t page = zh_page_size();
    /* An address range known to be free: reserve it, give it back. */
    unsigned char *region = zh_alloc(*pa(), 256 * page);
    assert_non_null(region);
    zh_free(*pa(), region, 256 * page);

    zh_set_mmap_addr_hint(region + 16 * page);
    unsigned char *a = zh_alloc(*pa(), 4 * page);
    assert_ptr_equal(a, region + 16 * page);
    zh_free(*pa(), a, 4 * page);
    unsigned char *b = zh_alloc(*pa(), 4 * page);
    assert_non_null(b);
    assert_ptr_not_equal(b, a);
    assert_ptr_equal(b, a + 4 * page); /* right after the previous mapping */
    unsigned char *c = zh_alloc(*pa(), page);
    assert_ptr_equal(c, b + 4 * page);
    zh_free(*pa(), c, page);
    zh_free(*pa(), b, 4 * page);
    zh_set_mmap_addr_hint(NULL);
}

/* A hint off a page boundary is rounded up to the next page: passed as is, some
 * mmaps reject it (valgrind's: then every allocation failed) and others round it
 * down (x86-64 Linux), which would land below the address asked for. */
static void test_page_addr_hint_rounded_to_page(void **state) {
    (void)state;
    if (!has(ZH__OS_HAS_ADDR_HINT)) skip();
    size_t page = zh_page_size();
    unsigned char *region = zh_alloc(*pa(), 64 * page);
    assert_non_null(region);
    zh_free(*pa(), region, 64 * page);

    zh_set_mmap_addr_hint(region + 16 * page + 123);
    unsigned char *a = zh_alloc(*pa(), 2 * page);
    assert_ptr_equal(a, region + 17 * page);
    unsigned char *b = zh_alloc(*pa(), page); /* and the hint moved on from there */
    assert_ptr_equal(b, a + 2 * page);
    zh_free(*pa(), b, page);
    zh_free(*pa(), a, 2 * page);

    /* A hint whose rounding wraps around is no hint at all. */
    zh_set_mmap_addr_hint((void *)(UINTPTR_MAX - 5));
    unsigned char *c = zh_alloc(*pa(), page);
    assert_non_null(c);
    c[0] = 1;
    zh_free(*pa(), c, page);
    zh_set_mmap_addr_hint(NULL);
}

static void test_page_huge_request_fails(void **state) {
    (void)state;
    assert_null(zh_alloc(*pa(), SIZE_MAX / 2));
    assert_null(zh_alloc(*pa(), SIZE_MAX - 3)); /* cannot even round up to pages */
    assert_null(zh_alloc_aligned(*pa(), SIZE_MAX / 2, (size_t)1 << 30));
    /* a live block refuses impossible growth and stays usable */
    unsigned char *p = zh_alloc(*pa(), 100);
    assert_non_null(p);
    zht_fill_pattern(p, 100, 5);
    assert_false(zh_resize(*pa(), p, 100, SIZE_MAX - 3));
    assert_null(zh_remap(*pa(), p, 100, SIZE_MAX / 2));
    assert_null(zh_realloc(*pa(), p, 100, SIZE_MAX / 2));
    assert_true(zht_has_pattern(p, 100, 5));
    zh_free(*pa(), p, 100);
}

/* ---- out of memory at every allocation point ------------------------------------ */

static bool oom_scenario(zh_allocator a, void *ctx) {
    (void)ctx;
    size_t page = zh_page_size();
    unsigned char *x = zh_alloc(a, 100);
    if (x == NULL) return false;
    zht_fill_pattern(x, 100, 6);
    unsigned char *y = zh_alloc_aligned(a, 3 * page, (size_t)64 << 10);
    if (y == NULL) {
        zh_free(a, x, 100);
        return false;
    }
    unsigned char *x2 = zh_realloc(a, x, 100, 64 * page);
    bool ok = x2 != NULL;
    if (ok) {
        x = x2;
        ok = zht_has_pattern(x, 100, 6);
    }
    size_t x_len = x2 != NULL ? 64 * page : 100;
    unsigned char *z = ok ? zh_alloc(a, page) : NULL;
    ok = ok && z != NULL;
    if (z != NULL) zh_free(a, z, page);
    zh_free_aligned(a, y, 3 * page, (size_t)64 << 10);
    zh_free(a, x, x_len);
    return ok;
}

static void test_page_oom_sweep(void **state) {
    (void)state;
    size_t points = zht_oom_sweep(zh_page_allocator, oom_scenario, NULL);
    assert_true(points >= 3);
}

/* ---- threads ------------------------------------------------------------------------ */

/* cmocka's asserts may not be used off the main thread: workers count problems. */
static atomic_size_t thread_failures;
static void expect(bool ok) {
    if (!ok) atomic_fetch_add(&thread_failures, 1);
}

static void worker(void *arg, size_t index) {
    (void)arg;
    size_t page = zh_page_size();
    unsigned seed = (unsigned)index * 17u + 1u;
    for (unsigned i = 0; i < 150; i++) {
        size_t len = 1 + (size_t)((i * 2654435761u + seed) % (16 * page));
        size_t alignment = (i % 5 == 0) ? (size_t)64 << 10 : 16;
        unsigned char *p = zh_alloc_aligned(zh_page_allocator, len, alignment);
        expect(p != NULL);
        if (p == NULL) return;
        expect(zh__is_aligned(p, alignment));
        zht_fill_pattern(p, len, seed + i);
        size_t new_len = len * 2 + page;
        unsigned char *q = zh_realloc_aligned(zh_page_allocator, p, len, new_len, alignment);
        expect(q != NULL);
        if (q == NULL) {
            zh_free_aligned(zh_page_allocator, p, len, alignment);
            return;
        }
        expect(zht_has_pattern(q, len, seed + i));
        zht_fill_pattern(q, new_len, seed + i + 1);
        expect(zht_has_pattern(q, new_len, seed + i + 1));
        zh_free_aligned(zh_page_allocator, q, new_len, alignment);
    }
}

static void test_page_threads(void **state) {
    (void)state;
    atomic_store(&thread_failures, 0);
    zht_run_threads(8, worker, NULL);
    assert_int_equal(atomic_load(&thread_failures), 0);
    zht_assert_conformance(zh_page_allocator); /* still healthy afterwards */
}

/* ---- contract violations ------------------------------------------------------------ */

static void free_misaligned(void *arg) {
    (void)arg;
    unsigned char *p = zh_alloc(zh_page_allocator, 2 * zh_page_size());
    zh_free(zh_page_allocator, p + 16, 16);
}

static void test_page_free_misaligned_aborts(void **state) {
    (void)state;
    if (!zh_safety_enabled()) skip();
    zht_expect_abort(free_misaligned, NULL, "zh_page_allocator");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page_conformance),
        cmocka_unit_test(test_page_size),
        cmocka_unit_test(test_page_alloc_is_pages),
        cmocka_unit_test(test_page_large_alignment),
        cmocka_unit_test(test_page_resize_same_pages),
        cmocka_unit_test(test_page_resize_shrink_then_grow),
        cmocka_unit_test(test_page_remap_growth_preserves_contents),
        cmocka_unit_test(test_page_remap_keeps_large_alignment),
        cmocka_unit_test(test_page_addr_hint),
        cmocka_unit_test(test_page_addr_hint_rounded_to_page),
        cmocka_unit_test(test_page_huge_request_fails),
        cmocka_unit_test(test_page_oom_sweep),
        cmocka_unit_test(test_page_threads),
        cmocka_unit_test(test_page_free_misaligned_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
