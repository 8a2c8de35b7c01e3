/* test_pool.c - zh_pool: create/destroy/reuse, item alignment, preheat, the
 * non-growable pool, reset modes, out-of-memory at every allocation point, and
 * option validation. */
#include "test_support.h"

#include <stdlib.h>
#include <string.h>

#include "core/track.h"

#include "zheap/c.h"
#include "zheap/page.h"
#include "zheap/pool.h"

struct point {
    double x, y, z;
};

/* Zig's "basic": distinct items, and a destroyed item is the next one created. */
static void test_pool_basic_reuse_is_lifo(void **state) {
    (void)state;
    zh_pool pool;
    zh_pool_init(&pool, zh_c_allocator, ZH_POOL_OPTIONS(struct point));
    struct point *p1 = zh_pool_create_inline(&pool);
    struct point *p2 = zh_pool_create_inline(&pool);
    struct point *p3 = zh_pool_create_inline(&pool);
    assert_non_null(p1);
    assert_non_null(p2);
    assert_non_null(p3);
    assert_true(p1 != p2 && p1 != p3 && p2 != p3);
    *p1 = (struct point){1, 2, 3};
    *p3 = (struct point){4, 5, 6};

    zh_pool_destroy_inline(&pool, p2);
    zh_pool_destroy_inline(&pool, p3);
    assert_ptr_equal(zh_pool_create_inline(&pool), p3); /* last destroyed, first reused */
    assert_ptr_equal(zh_pool_create_inline(&pool), p2);
    assert_true(p1->x == 1 && p1->z == 3); /* untouched by the others' reuse */
    zh_pool_deinit(&pool);
}

static void test_pool_exported_functions_match_inline(void **state) {
    (void)state;
    zh_pool pool;
    zh_pool_init(&pool, zh_c_allocator, ZH_POOL_OPTIONS(int));
    void *(*create)(zh_pool *) = zh_pool_create; /* the exported function */
    void (*destroy)(zh_pool *, void *) = zh_pool_destroy;
    void *a = create(&pool);
    assert_non_null(a);
    destroy(&pool, a);
    assert_ptr_equal(zh_pool_create_inline(&pool), a); /* the inline path sees the same list */
    zh_pool_destroy_inline(&pool, a);
    assert_ptr_equal(create(&pool), a);
    zh_pool_deinit(&pool);
}

static void test_pool_many_items_distinct_and_writable(void **state) {
    (void)state;
    zh_failing counter;
    zht_counting_init(&counter, zh_c_allocator);
    zh_pool pool;
    zh_pool_init(&pool, zh_failing_allocator(&counter),
                 (zh_pool_options){.item_size = 40, .item_align = 8, .growable = true});
    enum { N = 5000 };
    static unsigned char *items[N];
    for (size_t i = 0; i < N; i++) {
        items[i] = zh_pool_create_inline(&pool);
        assert_non_null(items[i]);
        memset(items[i], (int)(i & 0xff), 40);
    }
    for (size_t i = 0; i < N; i++) assert_true(zht_all_bytes(items[i], 40, (unsigned char)i));
    for (size_t i = 0; i < N; i += 2) zh_pool_destroy_inline(&pool, items[i]);
    size_t allocations = counter.allocations;
    for (size_t i = 0; i < N; i += 2) assert_non_null(zh_pool_create_inline(&pool));
    assert_int_equal(counter.allocations, allocations); /* reused, nothing new */
    zh_pool_deinit(&pool);
    zht_assert_balanced(&counter);
}

static void test_pool_alignments(void **state) {
    (void)state;
    size_t aligns[] = {1, 2, 4, 8, 16, 32, 64, 256, 4096, 65536};
    size_t sizes[] = {0, 1, 3, 8, 24, 100, 5000};
    for (size_t ai = 0; ai < sizeof aligns / sizeof aligns[0]; ai++) {
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            zh_pool pool;
            zh_pool_init(&pool, zh_page_allocator,
                         (zh_pool_options){sizes[si], aligns[ai], true});
            assert_true(pool.item_size >= sizes[si] && pool.item_size >= sizeof(void *));
            assert_true(pool.item_align >= aligns[ai]);
            void *prev = NULL;
            for (int i = 0; i < 20; i++) {
                unsigned char *p = zh_pool_create_inline(&pool);
                assert_non_null(p);
                assert_true(((uintptr_t)p & (aligns[ai] - 1)) == 0);
                assert_true(((uintptr_t)p & (_Alignof(void *) - 1)) == 0);
                memset(p, 0x11, sizes[si]);
                if (i % 3 == 0 && prev != NULL) zh_pool_destroy_inline(&pool, prev);
                prev = p;
            }
            zh_pool_deinit(&pool);
        }
    }
}

static void test_pool_default_alignment(void **state) {
    (void)state;
    zh_pool pool;
    zh_pool_init(&pool, zh_c_allocator, (zh_pool_options){.item_size = 48, .growable = true});
    assert_int_equal(pool.item_align, ZH_MALLOC_ALIGNMENT);
    void *p = zh_pool_create_inline(&pool);
    assert_true(zh__is_aligned(p, ZH_MALLOC_ALIGNMENT));
    zh_pool_deinit(&pool);
}

/* ---- fixture: a pool of points over a counting child ------------------------------------
 * Teardown deinitialises the pool and fails the test if anything leaked. */

typedef struct counted_pool {
    zh_failing counter;
    zh_pool pool;
} counted_pool;

static int setup_counted_point_pool(void **state) {
    counted_pool *cp = malloc(sizeof *cp);
    if (cp == NULL) return -1;
    zht_counting_init(&cp->counter, zh_c_allocator);
    zh_pool_init(&cp->pool, zh_failing_allocator(&cp->counter), ZH_POOL_OPTIONS(struct point));
    *state = cp;
    return 0;
}

static int teardown_counted_pool(void **state) {
    counted_pool *cp = *state;
    zh_pool_deinit(&cp->pool);
    zht_assert_balanced(&cp->counter);
    free(cp);
    return 0;
}

static void test_pool_preheat(void **state) {
    counted_pool *cp = *state;
    zh_pool *pool = &cp->pool;
    const zh_failing *counter = &cp->counter;
    assert_true(zh_pool_preheat(pool, 1000));
    assert_true(zh_pool_preheat(pool, 0));
    size_t allocations = counter->allocations;
    for (int i = 0; i < 1000; i++) {
        struct point *p = zh_pool_create_inline(pool);
        assert_non_null(p);
        p->x = i;
    }
    assert_int_equal(counter->allocations, allocations); /* all preheated */
}

static void test_pool_preheat_failure(void **state) {
    (void)state;
    zh_failing failing;
    zh_failing_init(&failing, zh_c_allocator, 0);
    zh_pool pool;
    zh_pool_init(&pool, zh_failing_allocator(&failing), ZH_POOL_OPTIONS(int));
    assert_false(zh_pool_preheat(&pool, 5));
    assert_false(zh_pool_preheat(&pool, SIZE_MAX / 2)); /* overflow is out-of-memory */
    assert_null(zh_pool_create_inline(&pool));
    zh_pool_deinit(&pool);
    zht_assert_balanced(&failing);
}

static void test_pool_non_growable_exhaustion(void **state) {
    (void)state;
    zh_pool pool;
    zh_pool_init(&pool, zh_c_allocator, (zh_pool_options){sizeof(int), _Alignof(int), false});
    assert_null(zh_pool_create_inline(&pool)); /* nothing preheated */
    assert_true(zh_pool_preheat(&pool, 4));
    void *items[4];
    for (int i = 0; i < 4; i++) assert_non_null(items[i] = zh_pool_create_inline(&pool));
    assert_null(zh_pool_create_inline(&pool));
    zh_pool_destroy_inline(&pool, items[2]);
    assert_ptr_equal(zh_pool_create_inline(&pool), items[2]);
    assert_null(zh_pool_create_inline(&pool));
    zh_pool_deinit(&pool);
}

static void test_pool_reset_modes(void **state) {
    counted_pool *cp = *state;
    zh_pool *pool = &cp->pool;
    const zh_failing *counter = &cp->counter;
    for (int i = 0; i < 2000; i++) assert_non_null(zh_pool_create_inline(pool));
    size_t capacity = zh_arena_query_capacity(&pool->arena);

    /* Retain: the next round of the same size asks the backing allocator nothing. */
    assert_true(zh_pool_reset(pool, ZH_ARENA_RETAIN_CAPACITY, 0));
    assert_int_equal(zh_arena_query_capacity(&pool->arena), capacity);
    size_t allocations = counter->allocations;
    for (int i = 0; i < 2000; i++) assert_non_null(zh_pool_create_inline(pool));
    assert_int_equal(counter->allocations, allocations);

    /* With a limit: at most that much is kept. */
    assert_true(zh_pool_reset(pool, ZH_ARENA_RETAIN_WITH_LIMIT, 1000));
    assert_int_equal(zh_arena_query_capacity(&pool->arena), 1000);
    for (int i = 0; i < 100; i++) assert_non_null(zh_pool_create_inline(pool));

    /* Free all: nothing left with the backing allocator. */
    assert_true(zh_pool_reset(pool, ZH_ARENA_FREE_ALL, 0));
    assert_int_equal(zh_arena_query_capacity(&pool->arena), 0);
    zht_assert_balanced(counter);
    assert_non_null(zh_pool_create_inline(pool)); /* usable after reset */
}

static void test_pool_reset_non_growable_keeps_items(void **state) {
    (void)state;
    zh_pool pool;
    zh_pool_init(&pool, zh_c_allocator, (zh_pool_options){64, 64, false});
    assert_true(zh_pool_preheat(&pool, 10));
    for (int i = 0; i < 10; i++) assert_non_null(zh_pool_create_inline(&pool));
    assert_null(zh_pool_create_inline(&pool));

    assert_true(zh_pool_reset(&pool, ZH_ARENA_RETAIN_CAPACITY, 0));
    for (int i = 0; i < 10; i++) {
        unsigned char *p = zh_pool_create_inline(&pool);
        assert_non_null(p);
        assert_true(zh__is_aligned(p, 64));
        memset(p, 9, 64);
    }
    assert_null(zh_pool_create_inline(&pool)); /* no more than it had */

    assert_true(zh_pool_reset(&pool, ZH_ARENA_RETAIN_WITH_LIMIT, 3 * 64 + 63));
    int got = 0;
    while (zh_pool_create_inline(&pool) != NULL) got++;
    assert_true(got >= 2 && got <= 3); /* what fits in the limit, after padding */

    assert_true(zh_pool_reset(&pool, ZH_ARENA_FREE_ALL, 0));
    assert_null(zh_pool_create_inline(&pool));
    zh_pool_deinit(&pool);
}

/* ---- out of memory at every allocation point ---------------------------------------- */

static bool pool_scenario(zh_allocator backing, void *ctx) {
    (void)ctx;
    zh_pool pool;
    zh_pool_init(&pool, backing, (zh_pool_options){72, 32, true});
    bool ok = zh_pool_preheat(&pool, 50);
    void *items[3000];
    size_t n = 0;
    while (ok && n < 3000) {
        items[n] = zh_pool_create_inline(&pool);
        ok = items[n] != NULL;
        if (ok) n++;
    }
    for (size_t i = 0; i < n; i += 3) zh_pool_destroy_inline(&pool, items[i]);
    ok = ok && zh_pool_reset(&pool, ZH_ARENA_RETAIN_WITH_LIMIT, 100000);
    for (size_t i = 0; ok && i < 2000; i++) ok = zh_pool_create_inline(&pool) != NULL;
    zh_pool_deinit(&pool);
    return ok;
}

/* Issue 13 for the pool: items come from an arena that grows by geometric steps,
 * so creating items of `bytes` in all takes O(log bytes) backing calls, and after
 * a FREE_ALL reset an equal round takes one allocation (and one free). */
static void check_pool_growth_is_logarithmic(zh_allocator backing) {
    zht_recorder r;
    zh_pool pool;
    zh_pool_init(&pool, zht_recorder_init(&r, backing),
                 (zh_pool_options){.item_size = 48, .item_align = 16, .growable = true});
    for (size_t bytes = 64 * 1024; bytes <= 16 * 1024 * 1024; bytes *= 16) {
        for (int round = 0; round < 2; round++) {
            size_t before = zht_recorder_calls(&r);
            for (size_t done = 0; done < bytes; done += 48) {
                unsigned char *item = zh_pool_create_inline(&pool);
                assert_non_null(item);
                item[0] = 1;
            }
            size_t calls = zht_recorder_calls(&r) - before;
            if (round == 0 && calls > zht_arena_growth_call_bound(bytes))
                fail_msg("%zu bytes of items took %zu backing calls (bound %zu)", bytes, calls,
                         zht_arena_growth_call_bound(bytes));
            if (round == 1) assert_int_equal(calls, 1);
            assert_true(zh_pool_reset(&pool, ZH_ARENA_FREE_ALL, 0));
        }
    }
    zh_pool_deinit(&pool);
    assert_int_equal(r.allocs, r.frees);
}

static void test_pool_growth_is_logarithmic(void **state) {
    (void)state;
    check_pool_growth_is_logarithmic(zh_page_allocator);
    check_pool_growth_is_logarithmic(zh_c_allocator);
}

static void test_pool_oom_sweep(void **state) {
    (void)state;
    assert_true(zht_oom_sweep(zh_c_allocator, pool_scenario, NULL) >= 3);
}

/* ---- bad options and misuse (ZHEAP_SAFETY builds) ---------------------------------- */

static void init_with(void *arg) {
    zh_pool pool;
    zh_pool_init(&pool, zh_c_allocator, *(zh_pool_options *)arg);
}

static void test_pool_bad_options_abort(void **state) {
    (void)state;
    zh_pool_options not_pow2 = {16, 24, true};
    zht_expect_abort(init_with, &not_pow2, "zh_pool_init");
    zh_pool_options too_large = {16, (size_t)1 << 40, true};
    zht_expect_abort(init_with, &too_large, "zh_pool_init");
    zh_pool_options overflow = {SIZE_MAX - 3, 64, true};
    zht_expect_abort(init_with, &overflow, "zh_pool_init");
}

static void destroy_null(void *arg) {
    zh_pool pool;
    zh_pool_init(&pool, zh_c_allocator, ZH_POOL_OPTIONS(double));
    (void)arg;
    zh_pool_destroy_inline(&pool, NULL);
}

static void destroy_misaligned(void *arg) {
    zh_pool pool;
    zh_pool_init(&pool, zh_c_allocator, (zh_pool_options){32, 32, true});
    unsigned char *p = zh_pool_create_inline(&pool);
    (void)arg;
    zh_pool_destroy_inline(&pool, p + 8);
}

static void exported_destroy_null(void *arg) {
    zh_pool pool;
    zh_pool_init(&pool, zh_c_allocator, ZH_POOL_OPTIONS(double));
    (void)arg;
    zh_pool_destroy(&pool, NULL);
}

static void test_pool_bad_destroy_aborts(void **state) {
    (void)state;
    if (!zh_safety_enabled()) skip();
    zht_expect_abort(destroy_null, NULL, "zh_pool_destroy");
    zht_expect_abort(destroy_misaligned, NULL, "zh_pool_destroy");
    zht_expect_abort(exported_destroy_null, NULL, "zh_pool_destroy");
}

/* The inline-path policy (docs/guide.md): an inline fast path checks everything
 * its exported function checks. The pool's checks are safety-only, so in a
 * safety build the inline paths always call the exported functions (`checked`),
 * and their items carry the exported functions' 0xaa fill; without safety they
 * stay inline. */
static void test_pool_inline_paths_check_as_exported(void **state) {
    (void)state;
    zh_pool pool;
    zh_pool_init(&pool, zh_c_allocator, (zh_pool_options){64, 8, true});
    assert_int_equal(pool.checked, zh_safety_enabled());
    unsigned char *p = zh_pool_create(&pool);
    assert_non_null(p);
    memset(p, 1, 64);
    zh_pool_destroy_inline(&pool, p);
    unsigned char *q = zh_pool_create_inline(&pool);
    assert_ptr_equal(q, p);
    if (zh_safety_enabled())
        assert_true(zht_all_bytes(q, 64, 0xaa)); /* the exported create ran */
    else
        assert_true(zht_all_bytes(q + sizeof(void *), 64 - sizeof(void *), 1)); /* inline */
    zh_pool_deinit(&pool);
}

static void test_pool_safety_fills_destroyed_items(void **state) {
    (void)state;
    if (!zh_safety_enabled()) skip();
    zh_pool pool;
    zh_pool_init(&pool, zh_c_allocator, (zh_pool_options){64, 8, true});
    unsigned char *p = zh_pool_create_inline(&pool);
    assert_true(zht_all_bytes(p, 64, 0xaa));
    memset(p, 1, 64);
    zh_pool_destroy_inline(&pool, p);
    zh__track_mem_defined(p, 64); /* a memory checker sees it unaddressable: look anyway */
    /* All but the link are marked undefined. */
    assert_true(zht_all_bytes(p + sizeof(void *), 64 - sizeof(void *), 0xaa));
    zh_pool_deinit(&pool);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_basic_reuse_is_lifo),
        cmocka_unit_test(test_pool_exported_functions_match_inline),
        cmocka_unit_test(test_pool_inline_paths_check_as_exported),
        cmocka_unit_test(test_pool_many_items_distinct_and_writable),
        cmocka_unit_test(test_pool_alignments),
        cmocka_unit_test(test_pool_default_alignment),
        cmocka_unit_test_setup_teardown(test_pool_preheat, setup_counted_point_pool,
                                        teardown_counted_pool),
        cmocka_unit_test(test_pool_preheat_failure),
        cmocka_unit_test(test_pool_non_growable_exhaustion),
        cmocka_unit_test_setup_teardown(test_pool_reset_modes, setup_counted_point_pool,
                                        teardown_counted_pool),
        cmocka_unit_test(test_pool_reset_non_growable_keeps_items),
        cmocka_unit_test(test_pool_growth_is_logarithmic),
        cmocka_unit_test(test_pool_oom_sweep),
        cmocka_unit_test(test_pool_bad_options_abort),
        cmocka_unit_test(test_pool_bad_destroy_aborts),
        cmocka_unit_test(test_pool_safety_fills_destroyed_items),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
