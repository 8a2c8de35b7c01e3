/* bench_free_unsized.c - what free() without a size costs libzheap-malloc.so
 * (issue 11), against the sized free of the same allocator.
 *
 * Each op is one alloc + one free of a batch of 256 blocks of mixed sizes
 * (16 B - 2 KiB, fixed pseudo-random order), so the lookup misses caches the way a
 * program's frees do. Groups (cases interleaved, first = baseline):
 *   smp:   sized vtable free | zh_smp_free_unsized (address -> size class) |
 *          zh_smp_owns + zh_smp_free_unsized (the preload library's free before
 *          zh_smp_free_owned) | zh_smp_free_owned (check and free in one lookup:
 *          what the preload library's free does)
 *   debug: sized vtable free | zh_debug_block_info + sized free (the preload's free)
 * The debug instance captures no traces here (stack_trace_frames 0), so the table
 * isolates the lookup from the unwinder. */
#include <stdlib.h>

#include "harness.h"
#include "zheap/debug.h"
#include "zheap/smp.h"

#define BATCH 256

typedef struct fb {
    zh_allocator a;
    zh_debug *d;
    void *p[BATCH];
    size_t len[BATCH];
} fb;

static void fill_lengths(fb *b) {
    unsigned x = 12345;
    for (size_t i = 0; i < BATCH; i++) {
        x = x * 1103515245u + 12345u;
        b->len[i] = 16 + (x >> 8) % 2033;
    }
}

static void alloc_batch(fb *b) {
    for (size_t i = 0; i < BATCH; i++) {
        b->p[i] = zh_raw_alloc(b->a, b->len[i], 4, 0);
        if (b->p[i] == NULL) zhb_fail("out of memory");
        zhb_escape(b->p[i]);
    }
}

static void run_sized(void *ctx, size_t iterations) {
    fb *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        alloc_batch(b);
        for (size_t i = 0; i < BATCH; i++) zh_raw_free(b->a, b->p[i], b->len[i], 4, 0);
    }
}

static void run_smp_unsized(void *ctx, size_t iterations) {
    fb *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        alloc_batch(b);
        for (size_t i = 0; i < BATCH; i++) zh_smp_free_unsized(b->p[i]);
    }
}

static void run_smp_owns_unsized(void *ctx, size_t iterations) {
    fb *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        alloc_batch(b);
        for (size_t i = 0; i < BATCH; i++) {
            if (!zh_smp_owns(b->p[i])) abort();
            zh_smp_free_unsized(b->p[i]);
        }
    }
}

static void run_smp_free_owned(void *ctx, size_t iterations) {
    fb *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        alloc_batch(b);
        for (size_t i = 0; i < BATCH; i++)
            if (!zh_smp_free_owned(b->p[i])) abort();
    }
}

static void run_debug_lookup(void *ctx, size_t iterations) {
    fb *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        alloc_batch(b);
        for (size_t i = 0; i < BATCH; i++) {
            size_t len = 0, alignment = 0;
            if (!zh_debug_block_info(b->d, b->p[i], &len, &alignment)) abort();
            zh_raw_free(b->a, b->p[i], len, 4, 0);
        }
    }
}

int main(int argc, char **argv) {
    zhb_init(argc, argv, "zheap-bench-free_unsized"); /* free without a size, as libzheap-malloc.so does */
    static fb smp[4], dbg[2];
    for (size_t k = 0; k < 4; k++) smp[k].a = zh_smp_allocator, fill_lengths(&smp[k]);
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.stack_trace_frames = 0;
    zh_debug *d = zh_debug_create(&cfg);
    if (d == NULL) return 1;
    for (size_t k = 0; k < 2; k++) dbg[k].a = zh_debug_allocator(d), dbg[k].d = d, fill_lengths(&dbg[k]);
    const zhb_case_spec smp_cases[] = {
        {"sized free (vtable)", run_sized, &smp[0], 2 * BATCH, NULL, NULL},
        {"zh_smp_free_unsized", run_smp_unsized, &smp[1], 2 * BATCH, NULL, NULL},
        {"zh_smp_owns + free_unsized", run_smp_owns_unsized, &smp[2], 2 * BATCH, NULL, NULL},
        {"zh_smp_free_owned", run_smp_free_owned, &smp[3], 2 * BATCH, NULL, NULL},
    };
    zhb_run_group("smp (ns per alloc or free)", smp_cases, 4, NULL);
    const zhb_case_spec debug_cases[] = {
        {"sized free (vtable)", run_sized, &dbg[0], 2 * BATCH, NULL, NULL},
        {"zh_debug_block_info + free", run_debug_lookup, &dbg[1], 2 * BATCH, NULL, NULL},
    };
    zhb_run_group("debug, 0 frames (ns per alloc or free)", debug_cases, 2, NULL);
    zhb_note("one op = one alloc or one free; batches of %d blocks of 16 B - 2 KiB", BATCH);
    zhb_note_environment();
    int rc = zhb_finish();
    zh_debug_destroy(d);
    return rc;
}
