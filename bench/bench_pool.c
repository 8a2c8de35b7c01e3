/* bench_pool.c - zh_pool create/destroy against glibc malloc/free and talloc.
 *
 * Two patterns per item size: "one at a time" creates an item and destroys it
 * again (the free list has one item in steady state), "batch" creates BATCH items,
 * storing each pointer, then destroys them all in creation order. The "touched"
 * groups write one byte into every item as it is created. One op is one create +
 * one destroy; the cases of a group are interleaved (zhb_run_group). glibc
 * malloc/free is each group's baseline, so a ratio of 0.33 or less meets the target
 * (pool at least 3x faster than malloc/free). */
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
    bool touch; /* write one byte into every item as it is created */
    zh_pool pool;
    void *talloc_parent;
    void *ptrs[BATCH];
} pool_bench;

/* "one at a time": create, (touch,) destroy. The escape is a compiler barrier
 * between the two, standing for the code that uses the item: without it the
 * compiler could fold an inline create and destroy into almost nothing. */
#define ONE_AT_A_TIME(b, iterations, CREATE, DESTROY)                                    \
    do {                                                                                 \
        if ((b)->touch) {                                                                \
            for (size_t it = 0; it < (iterations); it++) {                               \
                void *p = (CREATE);                                                      \
                zhb_touch(p);                                                            \
                zhb_escape(p);                                                           \
                DESTROY;                                                                 \
            }                                                                            \
        } else {                                                                         \
            for (size_t it = 0; it < (iterations); it++) {                               \
                void *p = (CREATE);                                                      \
                zhb_escape(p);                                                           \
                DESTROY;                                                                 \
            }                                                                            \
        }                                                                                \
    } while (0)

/* "batch": BATCH creates (pointers stored, no per-op barrier), then BATCH destroys
 * in creation order; `DESTROY` names b->ptrs[i]. */
#define BATCH_ROUNDS(b, iterations, CREATE, DESTROY)                                     \
    do {                                                                                 \
        for (size_t it = 0; it < (iterations); it++) {                                   \
            ZHB_FILL((b)->ptrs, BATCH, (b)->touch, (CREATE));                            \
            for (size_t i = 0; i < BATCH; i++) DESTROY;                                  \
        }                                                                                \
    } while (0)

static void one_malloc(void *ctx, size_t iterations) {
    pool_bench *b = ctx;
    ONE_AT_A_TIME(b, iterations, malloc(b->size), free(p));
}

static void one_pool_inline(void *ctx, size_t iterations) {
    pool_bench *b = ctx;
    ONE_AT_A_TIME(b, iterations, zh_pool_create_inline(&b->pool),
                  zh_pool_destroy_inline(&b->pool, p));
}

static void one_pool_call(void *ctx, size_t iterations) {
    pool_bench *b = ctx;
    ONE_AT_A_TIME(b, iterations, zh_pool_create(&b->pool), zh_pool_destroy(&b->pool, p));
}

static void batch_malloc(void *ctx, size_t iterations) {
    pool_bench *b = ctx;
    BATCH_ROUNDS(b, iterations, malloc(b->size), free(b->ptrs[i]));
}

static void batch_pool_inline(void *ctx, size_t iterations) {
    pool_bench *b = ctx;
    BATCH_ROUNDS(b, iterations, zh_pool_create_inline(&b->pool),
                 zh_pool_destroy_inline(&b->pool, b->ptrs[i]));
}

static void batch_pool_call(void *ctx, size_t iterations) {
    pool_bench *b = ctx;
    BATCH_ROUNDS(b, iterations, zh_pool_create(&b->pool),
                 zh_pool_destroy(&b->pool, b->ptrs[i]));
}

#ifdef ZH_BENCH_HAVE_TALLOC
static void one_talloc(void *ctx, size_t iterations) {
    pool_bench *b = ctx;
    ONE_AT_A_TIME(b, iterations, talloc_size(b->talloc_parent, b->size), talloc_free(p));
}

static void batch_talloc(void *ctx, size_t iterations) {
    pool_bench *b = ctx;
    BATCH_ROUNDS(b, iterations, talloc_size(b->talloc_parent, b->size),
                 talloc_free(b->ptrs[i]));
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

static void bench_size(pool_bench *b, size_t size, bool touch) {
    char one[64], batch[64];
    const char *touched = touch ? " touched" : "";
    snprintf(one, sizeof one, "%zu B one at a time%s", size, touched);
    snprintf(batch, sizeof batch, "%zu B batch of %d%s", size, BATCH, touched);
    b->size = size;
    b->touch = touch;
    const zhb_case_spec one_cases[] = {
        {"glibc malloc+free", one_malloc, b, 1, NULL, NULL},
        {"zh_pool create+destroy (inline)", one_pool_inline, b, 1, pool_setup, pool_teardown},
        {"zh_pool create+destroy (call)", one_pool_call, b, 1, pool_setup, pool_teardown},
#ifdef ZH_BENCH_HAVE_TALLOC
        {"talloc_size+talloc_free (pool parent)", one_talloc, b, 1, talloc_setup,
         talloc_teardown},
#endif
    };
    zhb_run_group(one, one_cases, sizeof one_cases / sizeof one_cases[0], NULL);
    const zhb_case_spec batch_cases[] = {
        {"glibc malloc+free", batch_malloc, b, BATCH, NULL, NULL},
        {"zh_pool create+destroy (inline)", batch_pool_inline, b, BATCH, pool_setup,
         pool_teardown},
        {"zh_pool create+destroy (call)", batch_pool_call, b, BATCH, pool_setup,
         pool_teardown},
#ifdef ZH_BENCH_HAVE_TALLOC
        {"talloc_size+talloc_free (pool parent)", batch_talloc, b, BATCH, talloc_setup,
         talloc_teardown},
#endif
    };
    zhb_run_group(batch, batch_cases, sizeof batch_cases / sizeof batch_cases[0], NULL);
}

int main(int argc, char **argv) {
    zhb_init(argc, argv, "zheap-bench-pool");
    zhb_note_environment();
    static pool_bench bench;
    for (size_t t = 0; t < 2; t++)
        for (size_t i = 0; i < sizeof item_sizes / sizeof item_sizes[0]; i++)
            bench_size(&bench, item_sizes[i], t == 1);
    zhb_note("pool: item_align 16, backing zh_c_allocator; 1 op = 1 create + 1 destroy; "
             "'call' = zh_pool_create/zh_pool_destroy, 'inline' = zh_pool_create_inline/zh_pool_destroy_inline");
    zhb_note("touched: one byte written into each item as it is created");
#ifndef ZH_BENCH_HAVE_TALLOC
    zhb_note("talloc not found at configure time: its cases were skipped");
#endif
    return zhb_finish();
}
