/* test_ret_addr.c - every wrapper passes its caller's return address down to its
 * child: arena (vtable and inline fast path, reset, deinit), pool, stack_fallback,
 * thread_safe, and the validation and failing allocators. A recording allocator
 * sits under each; the call under test is made from a noinline function, and the
 * address the recorder saw must lie inside that function - not in arena.c or
 * any other wrapper. */
#include "test_support.h"

#include "zheap/arena.h"
#include "zheap/c.h"
#include "zheap/page.h"
#include "zheap/pool.h"
#include "zheap/stack_fallback.h"
#include "zheap/thread_safe.h"

/* The code range of the function that made a call: its start, and a point after
 * the call. */
typedef struct span {
    uintptr_t start, end;
} span;

/* ---- call sites ------------------------------------------------------------------- */

static ZHT_NOINLINE void *alloc_from(zh_allocator a, size_t len, span *s) {
    s->start = zht_code_address(alloc_from);
    void *p = zh_alloc(a, len);
    s->end = zht_here();
    return p;
}

static ZHT_NOINLINE bool resize_from(zh_allocator a, void *p, size_t len, size_t new_len,
                                     span *s) {
    s->start = zht_code_address(resize_from);
    bool ok = zh_resize(a, p, len, new_len);
    s->end = zht_here();
    return ok;
}

static ZHT_NOINLINE void *remap_from(zh_allocator a, void *p, size_t len, size_t new_len,
                                     span *s) {
    s->start = zht_code_address(remap_from);
    void *q = zh_remap(a, p, len, new_len);
    s->end = zht_here();
    return q;
}

static ZHT_NOINLINE void free_from(zh_allocator a, void *p, size_t len, span *s) {
    s->start = zht_code_address(free_from);
    zh_free(a, p, len);
    s->end = zht_here();
}

static ZHT_NOINLINE void *arena_inline_from(zh_arena *arena, size_t len, span *s) {
    s->start = zht_code_address(arena_inline_from);
    void *p = zh_arena_alloc_inline(arena, len, 16);
    s->end = zht_here();
    return p;
}

static ZHT_NOINLINE void *arena_exported_from(zh_arena *arena, size_t len, span *s) {
    s->start = zht_code_address(arena_exported_from);
    void *p = zh_arena_alloc(arena, len, 16);
    s->end = zht_here();
    return p;
}

static ZHT_NOINLINE bool arena_reset_from(zh_arena *arena, zh_arena_reset_mode mode,
                                          size_t limit, span *s) {
    s->start = zht_code_address(arena_reset_from);
    bool ok = zh_arena_reset(arena, mode, limit);
    s->end = zht_here();
    return ok;
}

static ZHT_NOINLINE void arena_deinit_from(zh_arena *arena, span *s) {
    s->start = zht_code_address(arena_deinit_from);
    zh_arena_deinit(arena);
    s->end = zht_here();
}

static ZHT_NOINLINE void *pool_create_from(zh_pool *pool, span *s) {
    s->start = zht_code_address(pool_create_from);
    void *item = zh_pool_create_inline(pool); /* the inline fast path, then its slow path */
    s->end = zht_here();
    return item;
}

static ZHT_NOINLINE void *pool_exported_create_from(zh_pool *pool, span *s) {
    s->start = zht_code_address(pool_exported_create_from);
    void *item = zh_pool_create(pool);
    s->end = zht_here();
    return item;
}

static ZHT_NOINLINE bool pool_preheat_from(zh_pool *pool, size_t count, span *s) {
    s->start = zht_code_address(pool_preheat_from);
    bool ok = zh_pool_preheat(pool, count);
    s->end = zht_here();
    return ok;
}

static ZHT_NOINLINE bool pool_reset_from(zh_pool *pool, zh_arena_reset_mode mode, span *s) {
    s->start = zht_code_address(pool_reset_from);
    bool ok = zh_pool_reset(pool, mode, 0);
    s->end = zht_here();
    return ok;
}

static ZHT_NOINLINE void pool_deinit_from(zh_pool *pool, span *s) {
    s->start = zht_code_address(pool_deinit_from);
    zh_pool_deinit(pool);
    s->end = zht_here();
}

/* Asserts that the recorder saw at least one new call, from the span's function. */
static void assert_named(const zht_recorder *r, size_t calls_before, span s, const char *what) {
    if (zht_recorder_calls(r) <= calls_before) fail_msg("%s: the child was not called", what);
    zht_assert_ret_addr_in(r->last_ret_addr, s.start, s.end, what);
}

/* ---- wrappers that forward every call ---------------------------------------------- */

/* alloc, resize (shrink and grow), remap and free through `a`, whose calls all
 * reach the recorder. */
static void check_forwarding(zh_allocator a, zht_recorder *r, const char *what) {
    span s;
    size_t before = zht_recorder_calls(r);
    unsigned char *p = alloc_from(a, 1000, &s);
    assert_non_null(p);
    assert_named(r, before, s, what);

    size_t len = 1000;
    before = zht_recorder_calls(r);
    if (resize_from(a, p, len, 800, &s)) len = 800;
    assert_named(r, before, s, what);

    before = zht_recorder_calls(r);
    unsigned char *q = remap_from(a, p, len, 4000, &s);
    if (q != NULL) p = q, len = 4000;
    assert_named(r, before, s, what);

    before = zht_recorder_calls(r);
    free_from(a, p, len, &s);
    assert_named(r, before, s, what);
}

static void test_ret_addr_through_thread_safe(void **state) {
    (void)state;
    zht_recorder r;
    zh_thread_safe ts;
    zh_thread_safe_init(&ts, zht_recorder_init(&r, zh_c_allocator));
    check_forwarding(zh_thread_safe_allocator(&ts), &r, "thread_safe");
    zh_thread_safe_deinit(&ts);
}

static void test_ret_addr_through_validation(void **state) {
    (void)state;
    zht_recorder r;
    zh_validator v;
    check_forwarding(zh_validation_wrap(&v, zht_recorder_init(&r, zh_c_allocator)), &r,
                     "validation");
}

static void test_ret_addr_through_failing(void **state) {
    (void)state;
    zht_recorder r;
    zh_failing f;
    zh_failing_init(&f, zht_recorder_init(&r, zh_c_allocator), SIZE_MAX);
    check_forwarding(zh_failing_allocator(&f), &r, "failing");
}

static void test_ret_addr_through_stack_fallback(void **state) {
    (void)state;
    zht_recorder r;
    ZH_STACK_FALLBACK(sf, 64, zht_recorder_init(&r, zh_c_allocator));
    /* 1000 bytes never fit the 64-byte buffer: every call goes to the fallback. */
    check_forwarding(zh_stack_fallback_get(&sf), &r, "stack_fallback");
}

/* ---- the arena ------------------------------------------------------------------------ */

static void test_ret_addr_through_arena_vtable(void **state) {
    (void)state;
    zht_recorder r;
    zh_arena arena;
    zh_arena_init(&arena, zht_recorder_init(&r, zh_page_allocator));
    zh_allocator a = zh_arena_allocator(&arena);
    span s;

    size_t before = zht_recorder_calls(&r);
    assert_non_null(alloc_from(a, 100, &s)); /* the first buffer */
    assert_named(&r, before, s, "arena vtable alloc (new buffer)");

    /* More than the buffer holds: growth in place or a new buffer, from the child. */
    before = zht_recorder_calls(&r);
    assert_non_null(alloc_from(a, 64 * 1024, &s));
    assert_named(&r, before, s, "arena vtable alloc (growth)");

    before = zht_recorder_calls(&r);
    assert_non_null(alloc_from(a, 8 * 1024 * 1024, &s)); /* a buffer of its own */
    assert_named(&r, before, s, "arena vtable alloc (own-size buffer)");

    before = zht_recorder_calls(&r);
    assert_true(arena_reset_from(&arena, ZH_ARENA_RETAIN_WITH_LIMIT, 4096, &s));
    assert_named(&r, before, s, "zh_arena_reset (retain)");

    assert_non_null(zh_arena_alloc(&arena, 8192, 16));
    before = zht_recorder_calls(&r);
    assert_true(arena_reset_from(&arena, ZH_ARENA_FREE_ALL, 0, &s));
    assert_named(&r, before, s, "zh_arena_reset (free all)");

    assert_non_null(zh_arena_alloc(&arena, 100, 16));
    before = zht_recorder_calls(&r);
    arena_deinit_from(&arena, &s);
    assert_named(&r, before, s, "zh_arena_deinit");
}

static void test_ret_addr_through_arena_inline(void **state) {
    (void)state;
    zht_recorder r;
    zh_arena arena;
    zh_arena_init(&arena, zht_recorder_init(&r, zh_c_allocator));
    span s;
    size_t before = zht_recorder_calls(&r);
    assert_non_null(arena_inline_from(&arena, 100, &s)); /* empty: the slow path */
    assert_named(&r, before, s, "zh_arena_alloc_inline (first buffer)");
    before = zht_recorder_calls(&r);
    assert_non_null(arena_inline_from(&arena, 100 * 1024, &s));
    assert_named(&r, before, s, "zh_arena_alloc_inline (growth)");
    before = zht_recorder_calls(&r);
    assert_non_null(arena_exported_from(&arena, 1024 * 1024, &s));
    assert_named(&r, before, s, "zh_arena_alloc (growth)");
    zh_arena_deinit(&arena);
}

/* A wrapper over an arena over the recorder: the address still comes through. */
static void test_ret_addr_through_thread_safe_over_arena(void **state) {
    (void)state;
    zht_recorder r;
    zh_arena arena;
    zh_arena_init(&arena, zht_recorder_init(&r, zh_c_allocator));
    zh_thread_safe ts;
    zh_thread_safe_init(&ts, zh_arena_allocator(&arena));
    span s;
    size_t before = zht_recorder_calls(&r);
    assert_non_null(alloc_from(zh_thread_safe_allocator(&ts), 300, &s));
    assert_named(&r, before, s, "thread_safe over arena");
    zh_thread_safe_deinit(&ts);
    zh_arena_deinit(&arena);
}

/* ---- the pool ------------------------------------------------------------------------- */

static void test_ret_addr_through_pool(void **state) {
    (void)state;
    zht_recorder r;
    zh_pool pool;
    zh_pool_init(&pool, zht_recorder_init(&r, zh_c_allocator),
                 (zh_pool_options){.item_size = 48, .item_align = 16, .growable = true});
    span s;
    size_t before = zht_recorder_calls(&r);
    assert_non_null(pool_create_from(&pool, &s)); /* empty pool: the slow path */
    assert_named(&r, before, s, "zh_pool_create_inline");

    before = zht_recorder_calls(&r);
    for (int i = 0; i < 1000 && zht_recorder_calls(&r) == before; i++)
        assert_non_null(pool_exported_create_from(&pool, &s)); /* until the arena grows */
    assert_true(zht_recorder_calls(&r) > before);
    assert_named(&r, before, s, "zh_pool_create");

    before = zht_recorder_calls(&r);
    assert_true(pool_preheat_from(&pool, 10000, &s));
    assert_named(&r, before, s, "zh_pool_preheat");

    before = zht_recorder_calls(&r);
    assert_true(pool_reset_from(&pool, ZH_ARENA_FREE_ALL, &s));
    assert_named(&r, before, s, "zh_pool_reset");

    assert_non_null(zh_pool_create(&pool));
    before = zht_recorder_calls(&r);
    pool_deinit_from(&pool, &s);
    assert_named(&r, before, s, "zh_pool_deinit");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ret_addr_through_thread_safe),
        cmocka_unit_test(test_ret_addr_through_validation),
        cmocka_unit_test(test_ret_addr_through_failing),
        cmocka_unit_test(test_ret_addr_through_stack_fallback),
        cmocka_unit_test(test_ret_addr_through_arena_vtable),
        cmocka_unit_test(test_ret_addr_through_arena_inline),
        cmocka_unit_test(test_ret_addr_through_thread_safe_over_arena),
        cmocka_unit_test(test_ret_addr_through_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
