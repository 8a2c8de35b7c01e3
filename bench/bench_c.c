/* bench_c.c - the C-heap allocators against the C heap itself.
 *
 * zh_raw_c_allocator is malloc/free behind the vtable; zh_c_allocator takes any
 * alignment (and uses malloc_usable_size to resize in place). Both are measured with
 * one alloc+free pair per op (the allocator's hot path: a thread-cache hit in glibc)
 * and with a batch of BATCH allocations followed by their frees (beyond the thread
 * cache). The over-aligned groups compare zh_alloc_aligned on zh_c_allocator with
 * aligned_alloc and posix_memalign. The baseline of each group is the libc call. */
#define _POSIX_C_SOURCE 200809L /* posix_memalign */

#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "zheap/c.h"

#define BATCH 256

static const size_t pair_sizes[] = {16, 64, 256, 4096, 65536};
static const size_t batch_sizes[] = {32, 512};
static const struct {
    size_t len, alignment;
} aligned_cases[] = {{64, 64}, {256, 64}, {256, 4096}};

typedef struct c_bench {
    size_t len;
    size_t alignment;
    zh_allocator allocator;
    void *ptrs[BATCH];
} c_bench;

/* ---- one alloc+free pair per op --------------------------------------------------- */

static void run_malloc_pair(void *ctx, size_t iterations) {
    const c_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        void *p = malloc(b->len);
        zhb_escape(p);
        free(p);
    }
}

static void run_zh_pair(void *ctx, size_t iterations) {
    const c_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        void *p = zh_alloc(b->allocator, b->len);
        zhb_escape(p);
        if (p) zh_free(b->allocator, p, b->len);
    }
}

/* One context per case (the cases of a group run interleaved): [0] for libc,
 * [1] zh_raw_c_allocator, [2] zh_c_allocator. */
static void set_cases(c_bench b[3], size_t len, size_t alignment) {
    const zh_allocator allocators[3] = {zh_raw_c_allocator, zh_raw_c_allocator, zh_c_allocator};
    for (size_t i = 0; i < 3; i++) {
        b[i].len = len;
        b[i].alignment = alignment;
        b[i].allocator = allocators[i];
    }
}

static void bench_pair(c_bench b[3], size_t len) {
    char group[32];
    snprintf(group, sizeof group, "pair %zu B", len);
    set_cases(b, len, 0);
    const zhb_case_spec cases[] = {
        {"malloc+free", run_malloc_pair, &b[0], 1, NULL, NULL},
        {"zh_raw_c_allocator", run_zh_pair, &b[1], 1, NULL, NULL},
        {"zh_c_allocator", run_zh_pair, &b[2], 1, NULL, NULL},
    };
    zhb_run_group(group, cases, sizeof cases / sizeof cases[0], NULL);
}

/* ---- BATCH allocations, then BATCH frees ------------------------------------------ */

static void run_malloc_batch(void *ctx, size_t iterations) {
    c_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        for (size_t i = 0; i < BATCH; i++) {
            b->ptrs[i] = malloc(b->len);
            zhb_escape(b->ptrs[i]);
        }
        for (size_t i = 0; i < BATCH; i++) free(b->ptrs[i]);
    }
}

static void run_zh_batch(void *ctx, size_t iterations) {
    c_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        for (size_t i = 0; i < BATCH; i++) {
            b->ptrs[i] = zh_alloc(b->allocator, b->len);
            zhb_escape(b->ptrs[i]);
        }
        for (size_t i = 0; i < BATCH; i++)
            if (b->ptrs[i]) zh_free(b->allocator, b->ptrs[i], b->len);
    }
}

static void bench_batch(c_bench b[3], size_t len) {
    char group[32];
    snprintf(group, sizeof group, "batch %d x %zu B", BATCH, len);
    set_cases(b, len, 0);
    const zhb_case_spec cases[] = {
        {"malloc+free", run_malloc_batch, &b[0], BATCH, NULL, NULL},
        {"zh_raw_c_allocator", run_zh_batch, &b[1], BATCH, NULL, NULL},
        {"zh_c_allocator", run_zh_batch, &b[2], BATCH, NULL, NULL},
    };
    zhb_run_group(group, cases, sizeof cases / sizeof cases[0], NULL);
}

/* ---- over-aligned pairs ---------------------------------------------------------- */

static void run_aligned_alloc(void *ctx, size_t iterations) {
    const c_bench *b = ctx;
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    const size_t len = zh__align_forward(b->len, b->alignment);
    for (size_t it = 0; it < iterations; it++) {
        void *p = aligned_alloc(b->alignment, len);
        zhb_escape(p);
        free(p);
    }
}

static void run_posix_memalign(void *ctx, size_t iterations) {
    const c_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        void *p = NULL;
        if (posix_memalign(&p, b->alignment, b->len) != 0) p = NULL;
        zhb_escape(p);
        free(p);
    }
}

static void run_zh_aligned(void *ctx, size_t iterations) {
    const c_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        void *p = zh_alloc_aligned(zh_c_allocator, b->len, b->alignment);
        zhb_escape(p);
        if (p) zh_free_aligned(zh_c_allocator, p, b->len, b->alignment);
    }
}

static void bench_aligned(c_bench b[3], size_t len, size_t alignment) {
    char group[48];
    snprintf(group, sizeof group, "aligned %zu B @ %zu", len, alignment);
    set_cases(b, len, alignment);
    const zhb_case_spec cases[] = {
        {"aligned_alloc+free", run_aligned_alloc, &b[0], 1, NULL, NULL},
        {"posix_memalign+free", run_posix_memalign, &b[1], 1, NULL, NULL},
        {"zh_c_allocator aligned", run_zh_aligned, &b[2], 1, NULL, NULL},
    };
    zhb_run_group(group, cases, sizeof cases / sizeof cases[0], NULL);
}

/* One allocation of every kind up front, so a NULL shows up as a failure rather than
 * as a suspiciously fast result. */
static bool allocators_work(void) {
    const zh_allocator all[] = {zh_c_allocator, zh_raw_c_allocator};
    for (size_t i = 0; i < 2; i++) {
        void *p = zh_alloc(all[i], 64);
        if (!p) return false;
        zh_free(all[i], p, 64);
    }
    void *q = zh_alloc_aligned(zh_c_allocator, 256, 4096);
    if (!q) return false;
    zh_free_aligned(zh_c_allocator, q, 256, 4096);
    return true;
}

int main(int argc, char **argv) {
    zhb_init(argc, argv, "zheap-bench-c");
    zhb_note_environment();
    if (!allocators_work()) zhb_fail("an allocator returned NULL for a small request");

    static c_bench b[3];
    for (size_t i = 0; i < sizeof pair_sizes / sizeof pair_sizes[0]; i++)
        bench_pair(b, pair_sizes[i]);
    for (size_t i = 0; i < sizeof batch_sizes / sizeof batch_sizes[0]; i++)
        bench_batch(b, batch_sizes[i]);
    for (size_t i = 0; i < sizeof aligned_cases / sizeof aligned_cases[0]; i++)
        bench_aligned(b, aligned_cases[i].len, aligned_cases[i].alignment);

    zhb_note("pair: 1 op = malloc+free of one block; batch: 1 op = one of %d allocations "
             "followed by all %d frees",
             BATCH, BATCH);
    return zhb_finish();
}
