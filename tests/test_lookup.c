/* test_lookup.c - the address lookups the preload library (issue 11) relies on:
 * zh_smp_owns (is this the start of an SMP block? answered for any address without
 * touching memory the allocator does not own) and zh_debug_block_info (the length
 * and alignment of a live debug block, so that free() needs no size). */
#include "test_support.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zheap/debug.h"
#include "zheap/smp.h"

#define SMP zh_smp_allocator

static void test_smp_owns_its_blocks(void **state) {
    (void)state;
    static const size_t lens[] = {1, 16, 100, 4096, 32768, 40000, (size_t)1 << 20,
                                  (size_t)8 << 20};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (zh_align a = 0; a <= 12; a += 4) {
            unsigned char *p = zh_raw_alloc(SMP, lens[i], a, 0);
            assert_non_null(p);
            assert_true(zh_smp_owns(p));
            /* A pointer inside the block is not a block of the allocator (p + 16
             * of a 16-byte block starts the next block slot). */
            assert_false(zh_smp_owns(p + 8));
            if (zh_smp_usable_size(p) > 16) assert_false(zh_smp_owns(p + 16));
            zh_raw_free(SMP, p, lens[i], a, 0);
        }
    }
}

static void test_smp_owns_nothing_else(void **state) {
    (void)state;
    int on_stack = 0;
    static int in_data;
    void *from_libc = malloc(64);
    assert_false(zh_smp_owns(NULL));
    assert_false(zh_smp_owns(&on_stack));
    assert_false(zh_smp_owns(&in_data));
    assert_false(zh_smp_owns(from_libc));
    assert_false(zh_smp_owns((void *)(uintptr_t)0x10));
    assert_false(zh_smp_owns((void *)~(uintptr_t)0xf)); /* beyond the map */
    free(from_libc);
    /* A freed huge block (own mapping) is no longer owned. */
    void *huge = zh_raw_alloc(SMP, (size_t)16 << 20, 4, 0);
    assert_non_null(huge);
    assert_true(zh_smp_owns(huge));
    zh_raw_free(SMP, huge, (size_t)16 << 20, 4, 0);
    zh_smp_trim();
    assert_false(zh_smp_owns(huge));
}

static void test_debug_block_info(void **state) {
    (void)state;
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.stack_trace_frames = 0;
    zh_debug *d = zh_debug_create(&cfg);
    assert_non_null(d);
    zh_allocator a = zh_debug_allocator(d);
    static const size_t lens[] = {1, 24, 100, 5000, 40000, (size_t)1 << 20};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (zh_align al = 0; al <= 8; al += 4) {
            unsigned char *p = zh_raw_alloc(a, lens[i], al, 0);
            assert_non_null(p);
            size_t len = 0, alignment = 0;
            assert_true(zh_debug_block_info(d, p, &len, &alignment));
            assert_int_equal(len, lens[i]);
            assert_int_equal(alignment, zh_align_to_bytes(al));
            assert_true(zh_debug_block_info(d, p, NULL, NULL));
            /* Inside a small block (its bucket page is readable): not a block start.
             * Inside a large one the page below may be unmapped: the caller must
             * know the page is readable (zheap/debug.h). */
            bool small = lens[i] < cfg.page_size / 4;
            if (small) {
                assert_false(zh_debug_block_info(d, p + 1, &len, &alignment));
                assert_int_equal(len, lens[i]); /* untouched on failure */
            }
            /* A second live block keeps a small block's bucket, so the freed
             * block's page stays readable and is answered "not live". */
            void *other = zh_raw_alloc(a, lens[i], al, 0);
            zh_raw_free(a, p, lens[i], al, 0);
            if (small) assert_false(zh_debug_block_info(d, p, NULL, NULL));
            zh_raw_free(a, other, lens[i], al, 0);
        }
    }
    /* A resize changes the recorded length. */
    unsigned char *p = zh_raw_alloc(a, 20, 4, 0);
    assert_true(zh_raw_resize(a, p, 20, 4, 30, 0));
    size_t len = 0;
    assert_true(zh_debug_block_info(d, p, &len, NULL));
    assert_int_equal(len, 30);
    zh_raw_free(a, p, 30, 4, 0);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smp_owns_its_blocks),
        cmocka_unit_test(test_smp_owns_nothing_else),
        cmocka_unit_test(test_debug_block_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
