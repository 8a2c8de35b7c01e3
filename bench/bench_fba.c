/* bench_fba.c - the fixed buffer allocator against a hand-written bump pointer and
 * against glibc malloc+free.
 *
 * Every case does the same round: allocate OBJECTS blocks of one size with malloc
 * alignment, store each pointer in the same array, then give everything back the way
 * that allocator gives memory back (reset for the bump pointer and the fba, free of
 * each block for malloc). One op is one allocation (plus its share of the reset or
 * its free). Targets: the fba fast path within 1.25x of the bump pointer, and at
 * least 10x faster than malloc+free. */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "zheap/fba.h"

#define OBJECTS 1024
#define MAX_SIZE 256
#define ALIGNMENT ((size_t)ZH_MALLOC_ALIGNMENT)

static const size_t sizes[] = {16, 32, 64, 128, 256};

typedef struct fba_bench {
    size_t size;
    unsigned char *buffer; /* OBJECTS * MAX_SIZE bytes, aligned to ALIGNMENT */
    size_t buffer_len;
    unsigned char *bump_cursor; /* the baseline's state */
    zh_fba fba;
    void *ptrs[OBJECTS];
} fba_bench;

/* The baseline: what a programmer writes by hand when a buffer is enough: a cursor
 * pointer rounded up to the alignment, and a bounds check. Like the fba it aligns the
 * address (it does not assume an aligned buffer), and its cursor lives in memory like
 * the fba's (the per-op escape is a compiler barrier, so a register cursor would be
 * an unfair edge). */
static inline void *bump_alloc(unsigned char **cursor, unsigned char *end, size_t len) {
    uintptr_t start = ((uintptr_t)*cursor + (ALIGNMENT - 1)) & ~(uintptr_t)(ALIGNMENT - 1);
    if (start > (uintptr_t)end || (uintptr_t)end - start < len) return NULL;
    *cursor = (unsigned char *)start + len;
    return (unsigned char *)start;
}

static void run_bump(void *ctx, size_t iterations) {
    fba_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        for (size_t i = 0; i < OBJECTS; i++) {
            b->ptrs[i] = bump_alloc(&b->bump_cursor, b->buffer + b->buffer_len, b->size);
            zhb_escape(b->ptrs[i]);
        }
        zhb_clobber();
        b->bump_cursor = b->buffer;
    }
}

static void run_fba_inline(void *ctx, size_t iterations) {
    fba_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        for (size_t i = 0; i < OBJECTS; i++) {
            b->ptrs[i] = zh_fba_alloc(&b->fba, b->size, ALIGNMENT);
            zhb_escape(b->ptrs[i]);
        }
        zhb_clobber();
        zh_fba_reset(&b->fba);
    }
}

static void run_fba_vtable(void *ctx, size_t iterations) {
    fba_bench *b = ctx;
    const zh_allocator a = zh_fba_allocator(&b->fba);
    for (size_t it = 0; it < iterations; it++) {
        for (size_t i = 0; i < OBJECTS; i++) {
            b->ptrs[i] = zh_alloc(a, b->size);
            zhb_escape(b->ptrs[i]);
        }
        zhb_clobber();
        zh_fba_reset(&b->fba);
    }
}

static void run_malloc_free(void *ctx, size_t iterations) {
    fba_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        for (size_t i = 0; i < OBJECTS; i++) {
            b->ptrs[i] = malloc(b->size);
            zhb_escape(b->ptrs[i]);
        }
        zhb_clobber();
        for (size_t i = 0; i < OBJECTS; i++) free(b->ptrs[i]);
    }
}

/* A NULL anywhere means the bench measured something else than intended. For malloc
 * the pointers are already freed; only their non-NULL-ness is looked at. */
static void check_all_allocated(void *ctx) {
    fba_bench *b = ctx;
    for (size_t i = 0; i < OBJECTS; i++) {
        if (!b->ptrs[i]) {
            zhb_fail("%zu-byte case: allocation %zu returned NULL", b->size, i);
            return;
        }
    }
}

static void clear_ptrs(void *ctx) {
    fba_bench *b = ctx;
    for (size_t i = 0; i < OBJECTS; i++) b->ptrs[i] = NULL;
    b->bump_cursor = b->buffer;
    zh_fba_reset(&b->fba);
}

static void bench_size(fba_bench *b, size_t size) {
    char group[32];
    snprintf(group, sizeof group, "%zu B x %d", size, OBJECTS);
    b->size = size;
    const zhb_case_spec cases[] = {
        {"bump pointer (hand-written)", run_bump, b, OBJECTS, clear_ptrs, check_all_allocated},
        {"zh_fba_alloc (inline)", run_fba_inline, b, OBJECTS, clear_ptrs, check_all_allocated},
        {"zh_alloc(fba) (vtable)", run_fba_vtable, b, OBJECTS, clear_ptrs, check_all_allocated},
        {"malloc+free", run_malloc_free, b, OBJECTS, clear_ptrs, check_all_allocated},
    };
    zhb_run_group(group, cases, sizeof cases / sizeof cases[0], NULL);
}

int main(int argc, char **argv) {
    zhb_init(argc, argv, "zheap-bench-fba");
    zhb_note_environment();

    static fba_bench bench;
    bench.buffer_len = (size_t)OBJECTS * MAX_SIZE;
    bench.buffer = aligned_alloc(ALIGNMENT, bench.buffer_len);
    if (!bench.buffer) {
        fprintf(stderr, "zheap-bench-fba: cannot allocate the %zu-byte buffer\n",
                bench.buffer_len);
        return 1;
    }
    zh_fba_init(&bench.fba, bench.buffer, bench.buffer_len);

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) bench_size(&bench, sizes[i]);

    zhb_note("every case: %d allocations of the size with %zu-byte alignment, pointers "
             "stored; then reset (bump, fba) or free of each (malloc); 1 op = 1 allocation",
             OBJECTS, ALIGNMENT);
    int rc = zhb_finish();
    free(bench.buffer);
    return rc;
}
