/* test_testing.c - the conformance suite, the validation wrapper and the failing
 * allocator can all fail: broken allocators are caught, counters add up. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

/* ---- a correct reference allocator over the C library ------------------------------------ */

static void *ref_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ctx, (void)ret_addr;
    size_t alignment = zh_align_to_bytes(align);
    if (alignment < sizeof(void *)) alignment = sizeof(void *);
    return aligned_alloc(alignment, zh__align_forward(len, alignment));
}
static bool ref_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                       uintptr_t ret_addr) {
    (void)ctx, (void)mem, (void)align, (void)ret_addr;
    return new_len <= len;
}
static void ref_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ctx, (void)len, (void)align, (void)ret_addr;
    free(mem);
}
static const zh_allocator_vtable ref_vtable = {ref_alloc, ref_resize, zh_no_remap, ref_free};
static const zh_allocator ref_allocator = {NULL, &ref_vtable};

/* ---- broken allocators over a static arena ------------------------------------------------ */

#define ARENA_LEN ((size_t)4 << 20)
static _Alignas(65536) unsigned char arena[ARENA_LEN];

/* A bump pointer whose flaws are chosen by flags. */
typedef struct broken {
    size_t used;
    bool misalign;      /* returns blocks one byte past the alignment */
    bool overlap;       /* advances by 4 bytes whatever the length */
    bool lying_resize;  /* resize and remap say yes to any growth, in place */
    bool moving_remap;  /* remap moves the block without copying it */
    bool always_null;   /* out of memory from the start */
    bool wrap;          /* returns a block at the very top of the address space */
} broken;

static void *broken_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    broken *b = ctx;
    (void)ret_addr;
    if (b->always_null) return NULL;
    size_t alignment = zh_align_to_bytes(align);
    if (b->wrap) return (void *)zh__align_backward_addr(UINTPTR_MAX, alignment > 4096 ? alignment : 4096);
    size_t start = zh__align_forward(b->used, alignment) + (b->misalign ? 1 : 0);
    size_t step = b->overlap ? 4 : len;
    if (start + len > ARENA_LEN) return NULL;
    b->used = start + step;
    return arena + start;
}
static bool broken_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                          uintptr_t ret_addr) {
    broken *b = ctx;
    (void)mem, (void)align, (void)ret_addr;
    return b->lying_resize || new_len <= len;
}
static void *broken_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                          uintptr_t ret_addr) {
    broken *b = ctx;
    if (b->moving_remap) return broken_alloc(ctx, new_len, align, ret_addr);
    return broken_resize(b, mem, len, align, new_len, ret_addr) ? mem : NULL;
}
static const zh_allocator_vtable broken_vtable = {broken_alloc, broken_resize, broken_remap,
                                                  zh_no_free};
static zh_allocator broken_allocator(broken *b) { return (zh_allocator){b, &broken_vtable}; }

/* ---- the suite passes a correct allocator ---------------------------------------------------- */

static void test_conformance_passes_reference(void **state) {
    (void)state;
    zht_assert_conformance(ref_allocator);
    assert_int_equal(zh_test_allocator_all(ref_allocator), 0);
}

static void test_conformance_passes_honest_bump(void **state) {
    (void)state;
    broken b = {0};
    assert_int_equal(zh_test_allocator_all(broken_allocator(&b)), 0);
}

/* ---- ... and fails broken ones ---------------------------------------------------------------- */

static void run_aligned_on_misaligning(void *arg) {
    (void)arg;
    broken b = {.misalign = true};
    zh_test_allocator_aligned(broken_allocator(&b));
}

static void test_conformance_misaligned_blocks_abort(void **state) {
    (void)state;
    zht_expect_abort(run_aligned_on_misaligning, NULL, "zh_validation_wrap: alloc");
}

static void test_conformance_overlapping_blocks_fail(void **state) {
    (void)state;
    broken b = {.overlap = true};
    assert_int_not_equal(zh_test_allocator(broken_allocator(&b)), 0);
    b = (broken){.overlap = true};
    assert_int_not_equal(zh_test_allocator_all(broken_allocator(&b)), 0);
}

static void test_conformance_lying_resize_fails(void **state) {
    (void)state;
    broken b = {.lying_resize = true};
    assert_int_not_equal(zh_test_allocator(broken_allocator(&b)), 0);
}

static void test_conformance_moving_remap_without_copy_fails(void **state) {
    (void)state;
    broken b = {.moving_remap = true};
    assert_int_not_equal(zh_test_allocator(broken_allocator(&b)), 0);
    b = (broken){.moving_remap = true};
    assert_int_not_equal(zh_test_allocator_aligned(broken_allocator(&b)), 0);
    b = (broken){.moving_remap = true};
    assert_int_not_equal(zh_test_allocator_large_alignment(broken_allocator(&b)), 0);
}

static void test_conformance_out_of_memory_fails_every_test(void **state) {
    (void)state;
    broken b = {.always_null = true};
    zh_allocator a = broken_allocator(&b);
    assert_int_not_equal(zh_test_allocator(a), 0);
    assert_int_not_equal(zh_test_allocator_aligned(a), 0);
    assert_int_not_equal(zh_test_allocator_large_alignment(a), 0);
    assert_int_not_equal(zh_test_allocator_aligned_shrink(a), 0);
    assert_int_not_equal(zh_test_allocator_all(a), 0);
}

/* ---- validation wrapper ------------------------------------------------------------------------- */

static void test_validation_forwards_valid_calls(void **state) {
    (void)state;
    zht_recorder c; /* counts the calls that reach the reference allocator */
    zh_validator v;
    zh_allocator a = zh_validation_wrap(&v, zht_recorder_init(&c, ref_allocator));
    unsigned char *p = zh_raw_alloc(a, 32, 5, 0);
    assert_non_null(p);
    assert_true(zh__is_aligned(p, 32));
    assert_true(zh_raw_resize(a, p, 32, 5, 16, 0));
    assert_null(zh_raw_remap(a, p, 16, 5, 64, 0));
    zh_raw_free(a, p, 16, 5, 0);
    assert_int_equal(c.allocs, 1);
    assert_int_equal(c.resizes, 1);
    assert_int_equal(c.remaps, 1);
    assert_int_equal(c.frees, 1);
}

static void test_validation_passes_null_from_child(void **state) {
    (void)state;
    broken b = {.always_null = true};
    zh_validator v;
    zh_allocator a = zh_validation_wrap(&v, broken_allocator(&b));
    assert_null(zh_raw_alloc(a, 8, 3, 0));
}

static zh_validator abort_validator;
static zh_allocator wrapped_reference(void) {
    return zh_validation_wrap(&abort_validator, ref_allocator);
}

static void call_alloc_zero(void *arg) {
    (void)arg;
    zh_allocator a = wrapped_reference();
    a.vtable->alloc(a.ctx, 0, 0, 0);
}
static void call_resize_null(void *arg) {
    (void)arg;
    zh_allocator a = wrapped_reference();
    a.vtable->resize(a.ctx, NULL, 8, 0, 16, 0);
}
static void call_resize_to_zero(void *arg) {
    (void)arg;
    zh_allocator a = wrapped_reference();
    void *p = a.vtable->alloc(a.ctx, 8, 3, 0);
    a.vtable->resize(a.ctx, p, 8, 3, 0, 0);
}
static void call_remap_zero_len(void *arg) {
    (void)arg;
    zh_allocator a = wrapped_reference();
    void *p = a.vtable->alloc(a.ctx, 8, 3, 0);
    a.vtable->remap(a.ctx, p, 0, 3, 16, 0);
}
static void call_free_misaligned(void *arg) {
    (void)arg;
    zh_allocator a = wrapped_reference();
    unsigned char *p = a.vtable->alloc(a.ctx, 64, 4, 0);
    a.vtable->free(a.ctx, p + 1, 32, 4, 0);
}
static void call_alloc_huge_align(void *arg) {
    (void)arg;
    zh_allocator a = wrapped_reference();
    a.vtable->alloc(a.ctx, 8, ZH_ALIGN_LOG2_MAX + 1, 0);
}
static void call_alloc_wrapping(void *arg) {
    (void)arg;
    broken b = {.wrap = true};
    zh_validator v;
    zh_allocator a = zh_validation_wrap(&v, broken_allocator(&b));
    a.vtable->alloc(a.ctx, 1 << 20, 4, 0);
}

static void test_validation_aborts_on_violations(void **state) {
    (void)state;
    zht_expect_abort(call_alloc_zero, NULL, "zh_validation_wrap: alloc");
    zht_expect_abort(call_resize_null, NULL, "zh_validation_wrap: resize");
    zht_expect_abort(call_resize_to_zero, NULL, "zh_validation_wrap: resize");
    zht_expect_abort(call_remap_zero_len, NULL, "zh_validation_wrap: remap");
    zht_expect_abort(call_free_misaligned, NULL, "zh_validation_wrap: free");
    zht_expect_abort(call_alloc_huge_align, NULL, "zh_validation_wrap: alloc");
    zht_expect_abort(call_alloc_wrapping, NULL, "wrap around");
}

/* ---- failing allocator -------------------------------------------------------------------------- */

static void test_failing_index_zero_fails_everything(void **state) {
    (void)state;
    zh_failing f;
    zh_failing_init(&f, ref_allocator, 0);
    zh_allocator a = zh_failing_allocator(&f);
    assert_false(f.has_induced_failure);
    assert_null(zh_alloc(a, 16));
    assert_null(zh_alloc(a, 16));
    assert_true(f.has_induced_failure);
    assert_int_equal(f.alloc_index, 0); /* failed calls do not count (Zig) */
    assert_int_equal(f.allocations, 0);
    assert_int_equal(f.allocated_bytes, 0);
    /* Zero-length requests never reach it, so they cannot fail. */
    assert_non_null(zh_alloc(a, 0));
    assert_int_equal(f.alloc_index, 0);
}

static void test_failing_after_n_allocations(void **state) {
    (void)state;
    zh_failing f;
    zh_failing_init(&f, ref_allocator, 2);
    zh_allocator a = zh_failing_allocator(&f);
    void *p1 = zh_alloc(a, 10);
    void *p2 = zh_alloc(a, 20);
    assert_non_null(p1);
    assert_non_null(p2);
    assert_false(f.has_induced_failure);
    assert_null(zh_alloc(a, 30));
    assert_true(f.has_induced_failure);
    assert_null(zh_alloc(a, 1));
    assert_int_equal(f.allocations, 2);
    assert_int_equal(f.alloc_index, 2); /* successful allocations only */
    assert_int_equal(f.allocated_bytes, 30);
    zh_free(a, p2, 20);
    zh_free(a, p1, 10);
    assert_int_equal(f.deallocations, 2);
    assert_int_equal(f.freed_bytes, 30);
}

static void test_failing_counts_resize_and_remap(void **state) {
    (void)state;
    zh_failing f;
    zh_failing_init(&f, ref_allocator, SIZE_MAX);
    zh_allocator a = zh_failing_allocator(&f);
    unsigned char *p = zh_alloc(a, 100);
    assert_non_null(p);
    assert_true(zh_resize(a, p, 100, 40)); /* shrink: 60 bytes count as freed */
    assert_int_equal(f.allocated_bytes, 100);
    assert_int_equal(f.freed_bytes, 60);
    assert_false(zh_resize(a, p, 40, 400)); /* child refuses: nothing counted */
    assert_int_equal(f.allocated_bytes, 100);
    /* realloc: remap fails in the child, so alloc + copy + free, all counted. */
    p = zh_realloc(a, p, 40, 400);
    assert_non_null(p);
    assert_int_equal(f.allocations, 2);
    assert_int_equal(f.deallocations, 1);
    assert_int_equal(f.allocated_bytes - f.freed_bytes, 400);
    zh_free(a, p, 400);
    assert_int_equal(f.allocated_bytes, f.freed_bytes);
    assert_int_equal(f.allocations, f.deallocations);
    assert_false(f.has_induced_failure);
}

static void test_failing_counts_growth_in_place(void **state) {
    (void)state;
    broken b = {.lying_resize = true}; /* grows in place; only the counting matters here */
    zh_failing f;
    zh_failing_init(&f, broken_allocator(&b), SIZE_MAX);
    zh_allocator a = zh_failing_allocator(&f);
    void *p = zh_alloc(a, 10);
    assert_true(zh_resize(a, p, 10, 25));
    assert_int_equal(f.allocated_bytes, 25);
    assert_ptr_equal(zh_remap(a, p, 25, 40), p);
    assert_int_equal(f.allocated_bytes, 40);
    assert_ptr_equal(zh_remap(a, p, 40, 5), p);
    assert_int_equal(f.freed_bytes, 35);
    assert_int_equal(f.resize_index, 3);
}

static void test_failing_resize_fail_index(void **state) {
    (void)state;
    zh_failing f;
    zh_failing_init(&f, ref_allocator, SIZE_MAX);
    zh_failing_set_resize_fail_index(&f, 1);
    zh_allocator a = zh_failing_allocator(&f);
    void *p = zh_alloc(a, 100);
    assert_true(zh_resize(a, p, 100, 90));
    assert_false(zh_resize(a, p, 90, 80)); /* the child would agree, but it is made to fail */
    assert_null(zh_remap(a, p, 90, 80));
    /* As in Zig: only allocations made to fail set has_induced_failure, and only
     * successful resizes move resize_index. */
    assert_false(f.has_induced_failure);
    assert_int_equal(f.resize_index, 1);
    assert_int_equal(f.freed_bytes, 10);
    zh_free(a, p, 90);
    assert_int_equal(f.allocated_bytes, f.freed_bytes);
}

static void test_failing_child_oom_is_not_induced(void **state) {
    (void)state;
    broken b = {.always_null = true};
    zh_failing f;
    zh_failing_init(&f, broken_allocator(&b), SIZE_MAX);
    assert_null(zh_alloc(zh_failing_allocator(&f), 8));
    assert_false(f.has_induced_failure);
    assert_int_equal(f.allocations, 0);
    assert_int_equal(f.alloc_index, 0);
}

/* fail_index counts successful allocations: a request the child refuses does not
 * use up one of them (Zig's FailingAllocator, and what testing.h says). */
static void test_failing_counts_only_successful_allocations(void **state) {
    (void)state;
    broken b = {0}; /* refuses anything beyond its 4 MiB */
    zh_failing f;
    zh_failing_init(&f, broken_allocator(&b), 2);
    zh_allocator a = zh_failing_allocator(&f);
    assert_null(zh_alloc(a, ARENA_LEN + 1)); /* the child's refusal */
    assert_null(zh_alloc(a, ARENA_LEN + 1));
    assert_false(f.has_induced_failure);
    assert_int_equal(f.alloc_index, 0);
    assert_non_null(zh_alloc(a, 8));
    assert_non_null(zh_alloc(a, 8)); /* two successes, despite the two refusals */
    assert_int_equal(f.alloc_index, 2);
    assert_false(f.has_induced_failure);
    assert_null(zh_alloc(a, 8)); /* the third is the induced failure */
    assert_true(f.has_induced_failure);
    assert_int_equal(f.alloc_index, 2);
    assert_int_equal(f.allocations, 2);
    /* Lowering fail_index below alloc_index fails the next allocation too. */
    f.fail_index = 1;
    assert_null(zh_alloc(a, 8));
}

/* resize_fail_index counts successful resizes and remaps: the child's refusals
 * do not use them up. */
static void test_failing_counts_only_successful_resizes(void **state) {
    (void)state;
    broken b = {0}; /* shrinks in place, never grows */
    zh_failing f;
    zh_failing_init(&f, broken_allocator(&b), SIZE_MAX);
    zh_failing_set_resize_fail_index(&f, 2);
    zh_allocator a = zh_failing_allocator(&f);
    void *p = zh_alloc(a, 100);
    assert_non_null(p);
    assert_false(zh_resize(a, p, 100, 200)); /* refused by the child */
    assert_null(zh_remap(a, p, 100, 200));
    assert_int_equal(f.resize_index, 0);
    assert_true(zh_resize(a, p, 100, 90));
    assert_ptr_equal(zh_remap(a, p, 90, 80), p);
    assert_int_equal(f.resize_index, 2);
    assert_false(zh_resize(a, p, 80, 70)); /* now made to fail */
    assert_null(zh_remap(a, p, 80, 70));
    assert_int_equal(f.resize_index, 2);
    assert_int_equal(f.freed_bytes, 20);
    zh_free(a, p, 80);
    assert_int_equal(f.allocated_bytes, f.freed_bytes);
    assert_false(f.has_induced_failure);
}

/* An OOM sweep over a scenario with three allocation points. */
static bool three_blocks(zh_allocator a, void *ctx) {
    (void)ctx;
    void *p = zh_alloc(a, 10);
    if (p == NULL) return false;
    void *q = zh_realloc(a, p, 10, 1000);
    if (q == NULL) {
        zh_free(a, p, 10);
        return false;
    }
    char *s = zh_dupez(a, "abc", 3);
    if (s == NULL) {
        zh_free(a, q, 1000);
        return false;
    }
    zh_free(a, s, 4);
    zh_free(a, q, 1000);
    return true;
}

static void test_oom_sweep_visits_every_point(void **state) {
    (void)state;
    assert_int_equal(zht_oom_sweep(ref_allocator, three_blocks, NULL), 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conformance_passes_reference),
        cmocka_unit_test(test_conformance_passes_honest_bump),
        cmocka_unit_test(test_conformance_misaligned_blocks_abort),
        cmocka_unit_test(test_conformance_overlapping_blocks_fail),
        cmocka_unit_test(test_conformance_lying_resize_fails),
        cmocka_unit_test(test_conformance_moving_remap_without_copy_fails),
        cmocka_unit_test(test_conformance_out_of_memory_fails_every_test),
        cmocka_unit_test(test_validation_forwards_valid_calls),
        cmocka_unit_test(test_validation_passes_null_from_child),
        cmocka_unit_test(test_validation_aborts_on_violations),
        cmocka_unit_test(test_failing_index_zero_fails_everything),
        cmocka_unit_test(test_failing_after_n_allocations),
        cmocka_unit_test(test_failing_counts_resize_and_remap),
        cmocka_unit_test(test_failing_counts_growth_in_place),
        cmocka_unit_test(test_failing_resize_fail_index),
        cmocka_unit_test(test_failing_child_oom_is_not_induced),
        cmocka_unit_test(test_failing_counts_only_successful_allocations),
        cmocka_unit_test(test_failing_counts_only_successful_resizes),
        cmocka_unit_test(test_oom_sweep_visits_every_point),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
