/* test_allocator.c - the helpers over any zh_allocator (src/allocator.c), checked
 * against a mock allocator that records every call it receives. */
#include <stdint.h>
#include <string.h>

#include "test_support.h"

/* ---- the mock: a bump allocator over a static arena that records its calls ---------------- */

#define MOCK_ARENA_LEN ((size_t)1 << 20)
static _Alignas(4096) unsigned char mock_arena[MOCK_ARENA_LEN];

typedef struct mock {
    size_t used;
    bool remap_in_place;     /* remap succeeds whenever the block is the last one */
    size_t allocs, resizes, remaps, frees;
    size_t last_len, last_new_len;
    zh_align last_align;
    uintptr_t last_ret_addr;
    bool freed_bytes_undefined; /* every byte was 0xaa when free was called */
} mock;

static void record(mock *m, size_t len, zh_align align, uintptr_t ret_addr) {
    m->last_len = len;
    m->last_align = align;
    m->last_ret_addr = ret_addr;
}

static void *mock_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    mock *m = ctx;
    m->allocs++;
    record(m, len, align, ret_addr);
    size_t alignment = zh_align_to_bytes(align);
    size_t start = zh__align_forward(m->used, alignment);
    if (start > MOCK_ARENA_LEN || len > MOCK_ARENA_LEN - start) return NULL;
    m->used = start + len;
    memset(mock_arena + start, 0, len); /* so a fill by the helpers is visible */
    return mock_arena + start;
}

static bool is_last(const mock *m, const void *mem, size_t len) {
    return (const unsigned char *)mem + len == mock_arena + m->used;
}

static bool mock_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                        uintptr_t ret_addr) {
    mock *m = ctx;
    m->resizes++;
    record(m, len, align, ret_addr);
    m->last_new_len = new_len;
    if (!is_last(m, mem, len)) return new_len <= len;
    if (new_len > len && new_len - len > MOCK_ARENA_LEN - m->used) return false;
    m->used = m->used - len + new_len;
    return true;
}

static void *mock_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                        uintptr_t ret_addr) {
    mock *m = ctx;
    m->remaps++;
    record(m, len, align, ret_addr);
    m->last_new_len = new_len;
    if (!m->remap_in_place || !is_last(m, mem, len)) return NULL;
    if (new_len > len && new_len - len > MOCK_ARENA_LEN - m->used) return NULL;
    m->used = m->used - len + new_len;
    return mem;
}

static void mock_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    mock *m = ctx;
    m->frees++;
    record(m, len, align, ret_addr);
    m->freed_bytes_undefined = zht_all_bytes(mem, len, 0xaa);
    if (is_last(m, mem, len)) m->used -= len;
}

static const zh_allocator_vtable mock_vtable = {mock_alloc, mock_resize, mock_remap, mock_free};
static zh_allocator mock_allocator(mock *m) { return (zh_allocator){m, &mock_vtable}; }

static size_t calls(const mock *m) { return m->allocs + m->resizes + m->remaps + m->frees; }

/* ---- zero-length requests ------------------------------------------------------------------- */

static void test_allocator_zero_length_never_reaches_vtable(void **state) {
    (void)state;
    mock m = {0};
    zh_allocator a = mock_allocator(&m);
    void *p = zh_alloc(a, 0);
    assert_non_null(p);
    assert_true(zh__is_aligned(p, ZH_MALLOC_ALIGNMENT));
    zh_free(a, p, 0);
    for (size_t alignment = 1; alignment <= 65536; alignment *= 2) {
        void *q = zh_alloc_aligned(a, 0, alignment);
        assert_non_null(q);
        assert_true(zh__is_aligned(q, alignment));
        zh_free_aligned(a, q, 0, alignment);
    }
    zh_free(a, NULL, 0); /* freeing zero bytes is a no-op, whatever the pointer */
    uint64_t *none = ZH_ALLOC_ARRAY(a, uint64_t, 0);
    assert_non_null(none);
    ZH_FREE_ARRAY(a, none, 0);
    assert_non_null(zh_dupe(a, "x", 0));
    assert_false(zh_resize(a, p, 0, 10)); /* a zero-length block cannot grow in place */
    assert_null(zh_remap(a, p, 0, 10));
    assert_int_equal(calls(&m), 0);
}

/* ---- resize and remap ----------------------------------------------------------------------- */

static void test_allocator_resize_and_remap_to_zero_free(void **state) {
    (void)state;
    mock m = {.remap_in_place = true};
    zh_allocator a = mock_allocator(&m);
    void *p = zh_alloc(a, 64);
    assert_non_null(p);
    assert_true(zh_resize(a, p, 64, 0));
    assert_int_equal(m.frees, 1);
    assert_int_equal(m.last_len, 64);
    assert_int_equal(m.resizes, 0);

    p = zh_alloc(a, 32);
    void *z = zh_remap(a, p, 32, 0);
    assert_non_null(z);
    assert_int_equal(m.frees, 2);
    assert_int_equal(m.remaps, 0);
}

static void test_allocator_resize_and_remap_forward(void **state) {
    (void)state;
    mock m = {.remap_in_place = true};
    zh_allocator a = mock_allocator(&m);
    void *p = zh_alloc_aligned(a, 64, 16);
    assert_true(zh_resize_aligned(a, p, 64, 128, 16));
    assert_int_equal(m.resizes, 1);
    assert_int_equal(m.last_len, 64);
    assert_int_equal(m.last_new_len, 128);
    assert_int_equal(m.last_align, 4);
    assert_ptr_equal(zh_remap_aligned(a, p, 128, 256, 16), p);
    assert_int_equal(m.remaps, 1);
    assert_int_equal(m.last_new_len, 256);
    zh_free_aligned(a, p, 256, 16);
    assert_int_equal(m.used, 0);
}

/* ---- zh_realloc ------------------------------------------------------------------------------- */

static void test_allocator_realloc_uses_remap_first(void **state) {
    (void)state;
    mock m = {.remap_in_place = true};
    zh_allocator a = mock_allocator(&m);
    unsigned char *p = zh_alloc(a, 16);
    memset(p, 0x5c, 16);
    unsigned char *q = zh_realloc(a, p, 16, 48);
    assert_ptr_equal(q, p);
    assert_int_equal(m.remaps, 1);
    assert_int_equal(m.allocs, 1);
    assert_int_equal(m.frees, 0);
    assert_true(zht_all_bytes(q, 16, 0x5c));
    zh_free(a, q, 48);
}

static void test_allocator_realloc_copies_when_remap_fails(void **state) {
    (void)state;
    mock m = {0};
    zh_allocator a = mock_allocator(&m);
    unsigned char *p = zh_alloc(a, 16);
    memset(p, 0x5c, 16);
    unsigned char *q = zh_realloc(a, p, 16, 48);
    assert_non_null(q);
    assert_ptr_not_equal(q, p);
    assert_int_equal(m.remaps, 1);
    assert_int_equal(m.allocs, 2);
    assert_int_equal(m.frees, 1);
    assert_int_equal(m.last_len, 16); /* the old block, freed with its own length */
    assert_true(zht_all_bytes(q, 16, 0x5c));
    if (zh_safety_enabled()) {
        assert_true(zht_all_bytes(q + 16, 32, 0xaa));
        assert_true(m.freed_bytes_undefined);
    }
    /* Shrinking copies the prefix. */
    unsigned char *r = zh_realloc(a, q, 48, 8);
    assert_non_null(r);
    assert_true(zht_all_bytes(r, 8, 0x5c));
    zh_free(a, r, 8);
}

static void test_allocator_realloc_edge_lengths(void **state) {
    (void)state;
    mock m = {0};
    zh_allocator a = mock_allocator(&m);
    unsigned char *p = zh_realloc(a, NULL, 0, 24); /* from zero: a plain allocation */
    assert_non_null(p);
    assert_int_equal(m.allocs, 1);
    assert_int_equal(m.remaps, 0);
    void *z = zh_realloc(a, p, 24, 0); /* to zero: a free */
    assert_non_null(z);
    assert_int_equal(m.frees, 1);
    assert_int_equal(m.last_len, 24);
}

static void test_allocator_realloc_failure_keeps_old_block(void **state) {
    (void)state;
    mock m = {0};
    zh_failing f;
    zh_failing_init(&f, mock_allocator(&m), 1);
    zh_allocator a = zh_failing_allocator(&f);
    unsigned char *p = zh_alloc(a, 32);
    assert_non_null(p);
    memset(p, 0x3d, 32);
    assert_null(zh_realloc(a, p, 32, 64));
    assert_true(f.has_induced_failure);
    assert_true(zht_all_bytes(p, 32, 0x3d)); /* untouched, also with safety on */
    assert_int_equal(m.frees, 0);
    zh_free(a, p, 32); /* and still owned */
    assert_int_equal(f.allocated_bytes, f.freed_bytes);
    assert_int_equal(f.allocations, f.deallocations);
}

static bool realloc_scenario(zh_allocator a, void *ctx) {
    (void)ctx;
    unsigned char *p = zh_alloc(a, 10);
    if (p == NULL) return false;
    memset(p, 1, 10);
    unsigned char *q = zh_realloc(a, p, 10, 100);
    if (q == NULL) {
        assert_true(zht_all_bytes(p, 10, 1));
        zh_free(a, p, 10);
        return false;
    }
    assert_true(zht_all_bytes(q, 10, 1));
    zh_free(a, q, 100);
    return true;
}

static void test_allocator_realloc_oom_sweep(void **state) {
    (void)state;
    mock m = {0};
    assert_int_equal(zht_oom_sweep(mock_allocator(&m), realloc_scenario, NULL), 2);
}

/* ---- 0xaa fill under safety ---------------------------------------------------------------------- */

static void test_allocator_new_and_freed_bytes_are_filled(void **state) {
    (void)state;
    mock m = {0};
    zh_allocator a = mock_allocator(&m);
    unsigned char *p = zh_alloc(a, 100);
    assert_non_null(p);
    /* The mock hands out zeroed bytes: a fill is the helpers' doing. */
    assert_true(zht_all_bytes(p, 100, zh_safety_enabled() ? 0xaa : 0x00));
    memset(p, 0x11, 100);
    zh_free(a, p, 100);
    assert_int_equal(m.freed_bytes_undefined, zh_safety_enabled());
}

/* ---- typed helpers -------------------------------------------------------------------------------- */

typedef struct three_words { uint64_t a, b, c; } three_words; /* 24 bytes: alignment 8 */
typedef struct sixteen { _Alignas(16) unsigned char bytes[48]; } sixteen; /* 48: alignment 16 */
typedef struct wide { unsigned char bytes[256]; } wide; /* 256: capped at 64 */

static void test_allocator_create_and_destroy_use_size_alignment(void **state) {
    (void)state;
    mock m = {0};
    zh_allocator a = mock_allocator(&m);
    three_words *t = ZH_CREATE(a, three_words);
    assert_non_null(t);
    assert_int_equal(m.last_len, 24);
    assert_int_equal(m.last_align, 3);
    ZH_DESTROY(a, t);
    assert_int_equal(m.frees, 1);
    assert_int_equal(m.last_len, 24);
    assert_int_equal(m.last_align, 3);

    sixteen *s = ZH_CREATE(a, sixteen);
    assert_true(zh__is_aligned(s, 16));
    assert_int_equal(m.last_align, 4);
    ZH_DESTROY(a, s);
    assert_int_equal(m.last_align, 4);

    wide *w = ZH_CREATE(a, wide);
    assert_int_equal(m.last_align, 6);
    ZH_DESTROY(a, w);
    assert_int_equal(m.last_align, 6);

    char *c = ZH_CREATE(a, char);
    assert_int_equal(m.last_align, 0);
    ZH_DESTROY(a, c);
    assert_int_equal(m.used, 0);
}

static void test_allocator_alloc_array_and_free_array(void **state) {
    (void)state;
    mock m = {0};
    zh_allocator a = mock_allocator(&m);
    uint32_t *v = ZH_ALLOC_ARRAY(a, uint32_t, 10);
    assert_non_null(v);
    assert_int_equal(m.last_len, 40);
    assert_int_equal(m.last_align, 2);
    for (uint32_t i = 0; i < 10; i++) v[i] = i;
    ZH_FREE_ARRAY(a, v, 10);
    assert_int_equal(m.last_len, 40);
    assert_int_equal(m.last_align, 2);
    assert_int_equal(m.used, 0);
}

static void overflowing_array(void *arg) {
    mock *m = arg;
    (void)ZH_ALLOC_ARRAY(mock_allocator(m), three_words, SIZE_MAX / 8);
}

static void test_allocator_alloc_array_overflow(void **state) {
    (void)state;
    mock m = {0};
    if (zh_safety_enabled()) {
        zht_expect_abort(overflowing_array, &m, "ZH_ALLOC_ARRAY");
    } else {
        assert_null(ZH_ALLOC_ARRAY(mock_allocator(&m), three_words, SIZE_MAX / 8));
        assert_int_equal(calls(&m), 0);
    }
}

/* ---- dupe ----------------------------------------------------------------------------------------- */

static void test_allocator_dupe_and_dupez(void **state) {
    (void)state;
    mock m = {0};
    zh_allocator a = mock_allocator(&m);
    const char text[] = "hello, zheap";
    char *d = zh_dupe(a, text, 5);
    assert_non_null(d);
    assert_memory_equal(d, "hello", 5);
    assert_int_equal(m.last_len, 5);
    char *z = zh_dupez(a, text, 5);
    assert_non_null(z);
    assert_string_equal(z, "hello");
    assert_int_equal(m.last_len, 6);
    /* The alignment zh_free(a, z, 6) will name (allocators that keep size classes
     * by alignment, such as sbrk and wasm, would see another block otherwise). */
    zh_align dupez_align = m.last_align;
    assert_int_equal(dupez_align, zh_align_from_bytes(ZH_MALLOC_ALIGNMENT));
    zh_free(a, z, 6);
    assert_int_equal(m.last_len, 6);
    assert_int_equal(m.last_align, dupez_align);
    char *e = zh_dupez(a, text, 0);
    assert_non_null(e);
    assert_int_equal(e[0], '\0');
    zh_free(a, e, 1);
    zh_free(a, d, 5);
}

static void test_allocator_dupe_out_of_memory(void **state) {
    (void)state;
    mock m = {0};
    zh_failing f;
    zh_failing_init(&f, mock_allocator(&m), 0);
    assert_null(zh_dupe(zh_failing_allocator(&f), "abc", 3));
    assert_null(zh_dupez(zh_failing_allocator(&f), "abc", 3));
    assert_true(f.has_induced_failure);
    assert_int_equal(f.alloc_index, 0); /* only successful allocations count */
}

/* ---- alignment conversion ---------------------------------------------------------------------- */

static void test_allocator_align_from_bytes(void **state) {
    (void)state;
    for (unsigned log2 = 0; log2 <= ZH_ALIGN_LOG2_MAX; log2++) {
        assert_int_equal(zh_align_from_bytes((size_t)1 << log2), log2);
        assert_int_equal(zh_align_to_bytes((zh_align)log2), (size_t)1 << log2);
    }
}

static void call_align_from_bytes_3(void *arg) {
    (void)arg;
    (void)zh_align_from_bytes(3);
}
static void call_align_from_bytes_too_big(void *arg) {
    (void)arg;
    (void)zh_align_from_bytes((size_t)1 << (ZH_ALIGN_LOG2_MAX + 1));
}
static void call_alloc_aligned_3(void *arg) {
    mock *m = arg;
    (void)zh_alloc_aligned(mock_allocator(m), 16, 3);
}
static void call_free_aligned_0(void *arg) {
    mock *m = arg;
    zh_free_aligned(mock_allocator(m), mock_arena, 16, 0);
}

/* A bad alignment aborts in every build (allocator.h: there is no meaningful answer). */
static void test_allocator_bad_alignment_aborts(void **state) {
    (void)state;
    mock m = {0};
    zht_expect_abort(call_align_from_bytes_3, NULL, "zh_align_from_bytes");
    if (sizeof(size_t) > 4)
        zht_expect_abort(call_align_from_bytes_too_big, NULL, "zh_align_from_bytes");
    zht_expect_abort(call_alloc_aligned_3, &m, "zh_alloc_aligned");
    zht_expect_abort(call_free_aligned_0, &m, "zh_free_aligned");
}

/* ---- the checked vtable ------------------------------------------------------------------------- */

static void call_raw_alloc_zero(void *arg) {
    mock *m = arg;
    (void)zh_raw_alloc(mock_allocator(m), 0, 0, 0);
}
static void call_raw_free_null(void *arg) {
    mock *m = arg;
    zh_raw_free(mock_allocator(m), NULL, 8, 0, 0);
}
static void call_raw_resize_to_zero(void *arg) {
    mock *m = arg;
    zh_raw_resize(mock_allocator(m), mock_arena, 8, 0, 0, 0);
}
static void call_free_null_block(void *arg) {
    mock *m = arg;
    zh_free(mock_allocator(m), NULL, 8);
}

static void test_allocator_raw_contract_violations_abort(void **state) {
    (void)state;
    if (!zh_safety_enabled()) skip();
    mock m = {0};
    zht_expect_abort(call_raw_alloc_zero, &m, "zh_raw_alloc");
    zht_expect_abort(call_raw_free_null, &m, "zh_raw_free");
    zht_expect_abort(call_raw_resize_to_zero, &m, "zh_raw_resize");
    zht_expect_abort(call_free_null_block, &m, "zh_free");
}

static void test_allocator_raw_calls_forward(void **state) {
    (void)state;
    mock m = {.remap_in_place = true};
    zh_allocator a = mock_allocator(&m);
    unsigned char *p = zh_raw_alloc(a, 8, 3, 1234);
    assert_non_null(p);
    assert_int_equal(m.last_ret_addr, 1234);
    assert_true(zh_raw_resize(a, p, 8, 3, 16, 99));
    assert_int_equal(m.last_ret_addr, 99);
    assert_ptr_equal(zh_raw_remap(a, p, 16, 3, 24, 7), p);
    memset(p, 0x42, 24);
    zh_raw_free(a, p, 24, 3, 5);
    assert_int_equal(m.last_ret_addr, 5);
    assert_false(m.freed_bytes_undefined); /* the raw calls do not fill */
}

static void test_allocator_helpers_pass_a_return_address(void **state) {
    (void)state;
    mock m = {0};
    zh_allocator a = mock_allocator(&m);
    void *p = zh_alloc(a, 8);
    assert_int_not_equal(m.last_ret_addr, 0);
    zh_free(a, p, 8);
    assert_int_not_equal(m.last_ret_addr, 0);
    int *i = ZH_CREATE(a, int);
    assert_int_not_equal(m.last_ret_addr, 0);
    ZH_DESTROY(a, i);
}

static void test_allocator_safety_flag_matches_build(void **state) {
    (void)state;
    assert_int_equal(zh_safety_enabled(), ZH_CONFIG_SAFETY != 0);
}

/* ---- stock vtable entries ---------------------------------------------------------------------- */

static void test_allocator_stock_entries(void **state) {
    (void)state;
    unsigned char byte;
    assert_false(zh_no_resize(NULL, &byte, 1, 0, 1, 0));
    assert_null(zh_no_remap(NULL, &byte, 1, 0, 1, 0));
    byte = 9;
    zh_no_free(NULL, &byte, 1, 0, 0);
    assert_int_equal(byte, 9);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allocator_zero_length_never_reaches_vtable),
        cmocka_unit_test(test_allocator_resize_and_remap_to_zero_free),
        cmocka_unit_test(test_allocator_resize_and_remap_forward),
        cmocka_unit_test(test_allocator_realloc_uses_remap_first),
        cmocka_unit_test(test_allocator_realloc_copies_when_remap_fails),
        cmocka_unit_test(test_allocator_realloc_edge_lengths),
        cmocka_unit_test(test_allocator_realloc_failure_keeps_old_block),
        cmocka_unit_test(test_allocator_realloc_oom_sweep),
        cmocka_unit_test(test_allocator_new_and_freed_bytes_are_filled),
        cmocka_unit_test(test_allocator_create_and_destroy_use_size_alignment),
        cmocka_unit_test(test_allocator_alloc_array_and_free_array),
        cmocka_unit_test(test_allocator_alloc_array_overflow),
        cmocka_unit_test(test_allocator_dupe_and_dupez),
        cmocka_unit_test(test_allocator_dupe_out_of_memory),
        cmocka_unit_test(test_allocator_align_from_bytes),
        cmocka_unit_test(test_allocator_bad_alignment_aborts),
        cmocka_unit_test(test_allocator_raw_contract_violations_abort),
        cmocka_unit_test(test_allocator_raw_calls_forward),
        cmocka_unit_test(test_allocator_helpers_pass_a_return_address),
        cmocka_unit_test(test_allocator_safety_flag_matches_build),
        cmocka_unit_test(test_allocator_stock_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
