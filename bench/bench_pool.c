/* bench_pool.c - zh_pool create/destroy against glibc malloc/free and talloc.
 *
 * Two patterns per item size: "one at a time" creates an item and destroys it
 * again (the free list has one item in steady state), "batch" creates BATCH items,
 * storing each pointer, then destroys them all in creation order. One op is one
 * create + one destroy. glibc malloc/free is each group's baseline, so a ratio of
 * 0.33 or less meets the target (pool at least 3x faster than malloc/free). */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "zheap/c.h"
#include "zheap/pool.h"

#ifdef ZH_BENCH_HAVE_TALLOC
#include <talloc.h>
#endif

#define BATCH 1000

static const size_t item_sizes[] = {16, 64, 256};

typedef struct pool_bench {
    size_t size;
    zh_pool pool;
    void *talloc_parent;
    void *ptrs[BATCH];
} pool_bench;

static void one_malloc(void *ctx, size_t iterations) {
    pool_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        void *p = malloc(b->size);
        zhb_escape(p);
        free(p);
    }
}

static void one_pool_inline(void *ctx, size_t iterations) {
    pool_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        void *p = zh_pool_create(&b->pool);
        zhb_escape(p);
        zh_pool_destroy(&b->pool, p);
    }
}

static void one_pool_call(void *ctx, size_t iterations) {
    pool_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        void *p = (zh_pool_create)(&b->pool);
        zhb_escape(p);
        (zh_pool_destroy)(&b->pool, p);
    }
}

static void batch_malloc(void *ctx, size_t iterations) {
    pool_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        for (size_t i = 0; i < BATCH; i++) {
            b->ptrs[i] = malloc(b->size);
            zhb_escape(b->ptrs[i]);
        }
        zhb_clobber();
        for (size_t i = 0; i < BATCH; i++) free(b->ptrs[i]);
    }
}

static void batch_pool_inline(void *ctx, size_t iterations) {
    pool_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        for (size_t i = 0; i < BATCH; i++) {
            b->ptrs[i] = zh_pool_create(&b->pool);
            zhb_escape(b->ptrs[i]);
        }
        zhb_clobber();
        for (size_t i = 0; i < BATCH; i++) zh_pool_destroy(&b->pool, b->ptrs[i]);
    }
}

static void batch_pool_call(void *ctx, size_t iterations) {
    pool_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        for (size_t i = 0; i < BATCH; i++) {
            b->ptrs[i] = (zh_pool_create)(&b->pool);
            zhb_escape(b->ptrs[i]);
        }
        zhb_clobber();
        for (size_t i = 0; i < BATCH; i++) (zh_pool_destroy)(&b->pool, b->ptrs[i]);
    }
}

#ifdef ZH_BENCH_HAVE_TALLOC
static void one_talloc(void *ctx, size_t iterations) {
    pool_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        void *p = talloc_size(b->talloc_parent, b->size);
        zhb_escape(p);
        talloc_free(p);
    }
}

static void batch_talloc(void *ctx, size_t iterations) {
    pool_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        for (size_t i = 0; i < BATCH; i++) {
            b->ptrs[i] = talloc_size(b->talloc_parent, b->size);
            zhb_escape(b->ptrs[i]);
        }
        zhb_clobber();
        for (size_t i = 0; i < BATCH; i++) talloc_free(b->ptrs[i]);
    }
}

static void talloc_setup(void *ctx) {
    pool_bench *b = ctx;
    b->talloc_parent = talloc_pool(NULL, (size_t)BATCH * (b->size + 128));
}

static void talloc_teardown(void *ctx) {
    pool_bench *b = ctx;
    talloc_free(b->talloc_parent);
    b->talloc_parent = NULL;
}
#endif

static void pool_setup(void *ctx) {
    pool_bench *b = ctx;
    zh_pool_init(&b->pool, zh_c_allocator, (zh_pool_options){b->size, 16, true});
}

static void pool_teardown(void *ctx) {
    pool_bench *b = ctx;
    zh_pool_deinit(&b->pool);
}

static void bench_size(pool_bench *b, size_t size) {
    char one[48], batch[48];
    snprintf(one, sizeof one, "%zu B one at a time", size);
    snprintf(batch, sizeof batch, "%zu B batch of %d", size, BATCH);
    b->size = size;
    zhb_run(one, "glibc malloc+free", one_malloc, b, 1);
    zhb_run_ex(one, "zh_pool create+destroy (inline)", one_pool_inline, b, 1, pool_setup,
               pool_teardown);
    zhb_run_ex(one, "zh_pool create+destroy (call)", one_pool_call, b, 1, pool_setup,
               pool_teardown);
#ifdef ZH_BENCH_HAVE_TALLOC
    zhb_run_ex(one, "talloc_size+talloc_free (pool parent)", one_talloc, b, 1, talloc_setup,
               talloc_teardown);
#endif
    zhb_run(batch, "glibc malloc+free", batch_malloc, b, BATCH);
    zhb_run_ex(batch, "zh_pool create+destroy (inline)", batch_pool_inline, b, BATCH,
               pool_setup, pool_teardown);
    zhb_run_ex(batch, "zh_pool create+destroy (call)", batch_pool_call, b, BATCH, pool_setup,
               pool_teardown);
#ifdef ZH_BENCH_HAVE_TALLOC
    zhb_run_ex(batch, "talloc_size+talloc_free (pool parent)", batch_talloc, b, BATCH,
               talloc_setup, talloc_teardown);
#endif
}

int main(int argc, char **argv) {
    zhb_init(argc, argv, "zheap-bench-pool");
    zhb_note_environment();
    static pool_bench bench;
    for (size_t i = 0; i < sizeof item_sizes / sizeof item_sizes[0]; i++)
        bench_size(&bench, item_sizes[i]);
    zhb_note("pool: item_align 16, backing zh_c_allocator; 1 op = 1 create + 1 destroy; "
             "'call' = the exported functions, 'inline' = the pool.h fast path");
#ifndef ZH_BENCH_HAVE_TALLOC
    zhb_note("talloc not found at configure time: its cases were skipped");
#endif
    return zhb_finish();
}
