/* test_platform.c - the platform contract (src/platform/platform.h) on the backend
 * this build uses. Every behavioural check is tied to the capability flag that
 * promises it, so the caps are tested to be consistent with what the backend does. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

#include "platform/platform.h"
#include "zheap/config.h"

static size_t page(void) { return zh__os_info_get()->page_size; }
static bool has(unsigned cap) { return (zh__os_info_get()->caps & cap) != 0; }

static void test_platform_info(void **state) {
    (void)state;
    const zh__os_info *info = zh__os_info_get();
    assert_non_null(info);
    assert_ptr_equal(info, zh__os_info_get());
    assert_true(zh__is_pow2(info->page_size));
    assert_in_range(info->page_size, ZH_PAGE_SIZE_MIN, ZH_PAGE_SIZE_MAX);
    assert_true(zh__is_pow2(info->granularity));
    assert_true(info->granularity >= info->page_size);
    assert_non_null(info->name);
    assert_string_equal(info->name, ZH_PLATFORM_NAME);
    /* Shrinking in place without returning pages needs partial unmapping or
     * decommit; either way a backend that shrinks can tell the OS. */
    if (has(ZH__OS_CAN_UNMAP_PARTIAL)) assert_true(has(ZH__OS_CAN_SHRINK));
}

/* Several threads asking for the info at once all see the same, complete answer. */
static atomic_size_t seen_page_sizes;
static void info_thread(void *arg, size_t index) {
    (void)arg;
    (void)index;
    const zh__os_info *info = zh__os_info_get();
    if (info->page_size == page() && info->name != NULL) atomic_fetch_add(&seen_page_sizes, 1);
}

static void test_platform_info_threads(void **state) {
    (void)state;
    atomic_store(&seen_page_sizes, 0);
    zht_run_threads(8, info_thread, NULL);
    assert_int_equal(atomic_load(&seen_page_sizes), 8);
}

static void test_platform_map_alignments(void **state) {
    (void)state;
    size_t lens[] = {page(), 3 * page(), 17 * page()};
    for (size_t alignment = 1; alignment <= ((size_t)4 << 20); alignment <<= 1) {
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            unsigned char *p = zh__os_map(lens[i], alignment, NULL);
            assert_non_null(p);
            assert_true(zh__is_aligned(p, alignment));
            assert_true(zh__is_aligned(p, zh__os_info_get()->granularity));
            assert_true(zht_all_bytes(p, lens[i], 0));
            memset(p, 0x5c, lens[i]);
            assert_true(zht_all_bytes(p, lens[i], 0x5c));
            zh__os_unmap(p, lens[i]);
        }
    }
}

static void test_platform_map_refuses_huge(void **state) {
    (void)state;
    size_t huge = zh__align_backward(SIZE_MAX / 2, page());
    assert_null(zh__os_map(huge, 1, NULL));
    assert_null(zh__os_map(huge, (size_t)1 << 30, NULL));
    /* len + alignment overflows the address space. */
    assert_null(zh__os_map(zh__align_backward(SIZE_MAX, page()), (size_t)1 << 20, NULL));
}

/* Maps `pages` pages and gives back all but the first `keep`: afterwards the pages
 * right after the kept range are free (this test is single-threaded). NULL when
 * the backend can give back neither part of a mapping nor its tail. */
static unsigned char *map_with_free_tail(size_t keep, size_t pages) {
    if (!has(ZH__OS_CAN_UNMAP_PARTIAL) && !has(ZH__OS_CAN_SHRINK)) return NULL;
    unsigned char *p = zh__os_map(pages * page(), 1, NULL);
    assert_non_null(p);
    if (has(ZH__OS_CAN_UNMAP_PARTIAL))
        zh__os_unmap(p + keep * page(), (pages - keep) * page());
    else
        assert_true(zh__os_shrink(p, pages * page(), keep * page()));
    return p;
}

static void test_platform_unmap_partial(void **state) {
    (void)state;
    if (!has(ZH__OS_CAN_UNMAP_PARTIAL)) skip();
    size_t pg = page();
    unsigned char *p = zh__os_map(4 * pg, 1, NULL);
    assert_non_null(p);
    memset(p, 0x11, 4 * pg);
    zh__os_unmap(p + 2 * pg, 2 * pg); /* tail */
    zh__os_unmap(p, pg);              /* head */
    assert_true(zht_all_bytes(p + pg, pg, 0x11));
    if (has(ZH__OS_CAN_GROW)) {
        /* The unmapped tail is free address space again. */
        assert_true(zh__os_grow(p + pg, pg, 3 * pg));
        assert_true(zht_all_bytes(p + pg, pg, 0x11));
        if (has(ZH__OS_CAN_RETURN_MEMORY)) assert_true(zht_all_bytes(p + 2 * pg, 2 * pg, 0));
        memset(p + pg, 0x22, 3 * pg);
        zh__os_unmap(p + pg, 3 * pg);
    } else {
        zh__os_unmap(p + pg, pg);
    }
}

static void test_platform_shrink(void **state) {
    (void)state;
    if (!has(ZH__OS_CAN_SHRINK)) {
        unsigned char *p = zh__os_map(4 * page(), 1, NULL);
        assert_non_null(p);
        assert_false(zh__os_shrink(p, 4 * page(), page()));
        zh__os_unmap(p, 4 * page());
        return;
    }
    size_t pg = page();
    unsigned char *p = zh__os_map(8 * pg, 1, NULL);
    assert_non_null(p);
    memset(p, 0x33, 8 * pg);
    assert_true(zh__os_shrink(p, 8 * pg, 3 * pg));
    assert_true(zht_all_bytes(p, 3 * pg, 0x33));
    if (has(ZH__OS_CAN_GROW)) {
        assert_true(zh__os_grow(p, 3 * pg, 8 * pg));
        assert_true(zht_all_bytes(p, 3 * pg, 0x33));
        /* The tail was given back: it returns as fresh zero pages. */
        if (has(ZH__OS_CAN_RETURN_MEMORY)) assert_true(zht_all_bytes(p + 3 * pg, 5 * pg, 0));
        zh__os_unmap(p, 8 * pg);
    } else {
        zh__os_unmap(p, 3 * pg);
    }
}

static void test_platform_grow_in_place(void **state) {
    (void)state;
    size_t pg = page();
    if (!has(ZH__OS_CAN_GROW)) {
        unsigned char *p = zh__os_map(2 * pg, 1, NULL);
        assert_non_null(p);
        memset(p, 0x44, 2 * pg);
        assert_false(zh__os_grow(p, 2 * pg, 16 * pg));
        assert_true(zht_all_bytes(p, 2 * pg, 0x44));
        zh__os_unmap(p, 2 * pg);
        return;
    }
    unsigned char *p = map_with_free_tail(2, 16);
    if (p == NULL) skip();
    memset(p, 0x44, 2 * pg);
    assert_true(zh__os_grow(p, 2 * pg, 16 * pg));
    assert_true(zht_all_bytes(p, 2 * pg, 0x44));
    memset(p, 0x45, 16 * pg);
    zh__os_unmap(p, 16 * pg);
}

/* A mapping placed right after `p` makes in-place growth impossible. */
static void test_platform_grow_blocked(void **state) {
    (void)state;
    if (!has(ZH__OS_CAN_GROW) || !has(ZH__OS_HAS_ADDR_HINT)) skip();
    size_t pg = page();
    unsigned char *p = map_with_free_tail(2, 4);
    if (p == NULL) skip();
    unsigned char *blocker = zh__os_map(2 * pg, 1, p + 2 * pg);
    assert_non_null(blocker);
    if (blocker != p + 2 * pg) {
        zh__os_unmap(blocker, 2 * pg);
        zh__os_unmap(p, 2 * pg);
        skip(); /* the OS may ignore a free hint */
    }
    memset(p, 0x55, 2 * pg);
    memset(blocker, 0x66, 2 * pg);
    assert_false(zh__os_grow(p, 2 * pg, 4 * pg));
    assert_true(zht_all_bytes(p, 2 * pg, 0x55));
    assert_true(zht_all_bytes(blocker, 2 * pg, 0x66));
    /* remap moves instead, keeping the contents and leaving the blocker alone. */
    if (has(ZH__OS_CAN_REMAP)) {
        unsigned char *q = zh__os_remap(p, 2 * pg, 64 * pg);
        assert_non_null(q);
        assert_ptr_not_equal(q, p);
        assert_true(zht_all_bytes(q, 2 * pg, 0x55));
        assert_true(zht_all_bytes(q + 2 * pg, 62 * pg, 0));
        assert_true(zht_all_bytes(blocker, 2 * pg, 0x66));
        zh__os_unmap(q, 64 * pg);
    } else {
        assert_null(zh__os_remap(p, 2 * pg, 64 * pg));
        zh__os_unmap(p, 2 * pg);
    }
    zh__os_unmap(blocker, 2 * pg);
}

static void test_platform_remap(void **state) {
    (void)state;
    size_t pg = page();
    unsigned char *p = zh__os_map(3 * pg, 1, NULL);
    assert_non_null(p);
    for (size_t i = 0; i < 3 * pg; i++) p[i] = (unsigned char)(i * 7);
    unsigned char *q = zh__os_remap(p, 3 * pg, 300 * pg);
    if (!has(ZH__OS_CAN_REMAP)) {
        assert_null(q);
        zh__os_unmap(p, 3 * pg);
        return;
    }
    assert_non_null(q);
    assert_true(zh__is_aligned(q, pg));
    for (size_t i = 0; i < 3 * pg; i++) assert_int_equal(q[i], (unsigned char)(i * 7));
    memset(q, 0x77, 300 * pg);
    /* and back down */
    unsigned char *r = zh__os_remap(q, 300 * pg, pg);
    assert_non_null(r);
    assert_true(zht_all_bytes(r, pg, 0x77));
    zh__os_unmap(r, pg);
}

static void test_platform_addr_hint(void **state) {
    (void)state;
    if (!has(ZH__OS_HAS_ADDR_HINT)) skip();
    size_t pg = page();
    unsigned char *region = zh__os_map(64 * pg, 1, NULL);
    assert_non_null(region);
    zh__os_unmap(region, 64 * pg);
    unsigned char *want = region + 8 * pg;
    unsigned char *p = zh__os_map(4 * pg, 1, want);
    assert_non_null(p);
    assert_ptr_equal(p, want);
    zh__os_unmap(p, 4 * pg);
    /* An aligned request near a hint lands at the first aligned address from it. */
    unsigned char *big = zh__os_map(16 * pg, 16 * pg, NULL);
    assert_non_null(big);
    zh__os_unmap(big, 16 * pg);
    unsigned char *q = zh__os_map(pg, 16 * pg, big);
    assert_ptr_equal(q, big);
    zh__os_unmap(q, pg);
}

/* ---- locks ------------------------------------------------------------------------ */

struct counter {
    zh_mutex lock;
    size_t value;
};

static void count_thread(void *arg, size_t index) {
    (void)index;
    struct counter *c = arg;
    for (int i = 0; i < 20000; i++) {
        zh__mutex_lock(&c->lock);
        c->value++;
        zh__mutex_unlock(&c->lock);
        if (i % 1024 == 0) zh__os_yield();
    }
}

static void test_platform_mutex(void **state) {
    (void)state;
    struct counter c = {.value = 0};
    zh__mutex_init(&c.lock);
    zh__mutex_lock(&c.lock);
    zh__mutex_unlock(&c.lock);
    size_t threads = has(ZH__OS_HAS_THREADS) ? 4 : 1;
    zht_run_threads(threads, count_thread, &c);
    assert_int_equal(c.value, threads * 20000);
    zh__mutex_destroy(&c.lock);
}

/* ---- C library facts ----------------------------------------------------------------- */

static void test_platform_malloc_usable_size(void **state) {
    (void)state;
    for (size_t len = 1; len < 5000; len = len * 3 + 1) {
        unsigned char *p = malloc(len);
        assert_non_null(p);
        size_t usable = zh__os_malloc_usable_size(p);
        assert_true(usable == 0 || usable >= len);
        memset(p, 0x12, usable ? usable : len); /* the usable bytes really are usable */
        free(p);
    }
}

static void test_platform_sbrk(void **state) {
    (void)state;
    void *brk = zh__os_sbrk(0);
    assert_ptr_not_equal(brk, (void *)-1);
    assert_ptr_equal(zh__os_sbrk(0), brk);
}

/* The test-only fault switch: the n-th armed call and every later one fail, nothing
 * else does, and disarming restores normal service. */
static void test_platform_fault_injection(void **state) {
    (void)state;
    size_t pg = page();
    zh__os_test_fail_after(ZH__OS_FAULT_MAP, 2);
    void *a = zh__os_map(pg, 1, NULL);
    void *b = zh__os_map(pg, 1, NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(zh__os_map(pg, 1, NULL));
    assert_null(zh__os_map(pg, 1, NULL));
    assert_int_equal(zh__os_test_fault_count(), 4);
    if (has(ZH__OS_CAN_GROW)) {
        /* grow armed from its first call: refused with nothing changed */
        zh__os_test_fail_after(ZH__OS_FAULT_GROW, 0);
        assert_false(zh__os_grow(a, pg, 2 * pg));
        assert_int_equal(zh__os_test_fault_count(), 1);
    }
    zh__os_test_fail_after(0, SIZE_MAX);
    void *c = zh__os_map(pg, 1, NULL);
    assert_non_null(c);
    assert_int_equal(zh__os_test_fault_count(), 0);
    zh__os_unmap(a, pg);
    zh__os_unmap(b, pg);
    zh__os_unmap(c, pg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_platform_info_threads), /* first: races the one-time query */
        cmocka_unit_test(test_platform_info),
        cmocka_unit_test(test_platform_map_alignments),
        cmocka_unit_test(test_platform_map_refuses_huge),
        cmocka_unit_test(test_platform_unmap_partial),
        cmocka_unit_test(test_platform_shrink),
        cmocka_unit_test(test_platform_grow_in_place),
        cmocka_unit_test(test_platform_grow_blocked),
        cmocka_unit_test(test_platform_remap),
        cmocka_unit_test(test_platform_addr_hint),
        cmocka_unit_test(test_platform_mutex),
        cmocka_unit_test(test_platform_malloc_usable_size),
        cmocka_unit_test(test_platform_sbrk),
        cmocka_unit_test(test_platform_fault_injection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
