/* bench_fba.c - the fixed buffer allocator against hand-written bump pointers and
 * against glibc malloc+free.
 *
 * Every case does the same round: allocate OBJECTS blocks of one size with malloc
 * alignment, store each pointer in the same array, then give everything back the way
 * that allocator gives memory back (reset for the bump pointers and the fba, free of
 * each block for malloc). The "touched" groups also write one byte into every block
 * as it is allocated, as a program would (malloc writes its header next to it).
 * One op is one allocation (plus its share of the reset or its free).
 *
 * Two hand-written baselines (zhb_bump_alloc): the floor, a bump pointer whose
 * cursor is a local variable (a register for the whole round), and the same code
 * with its cursor in a struct reached through a pointer, where the fba keeps its
 * own; both align the address like the fba (they do not assume an aligned
 * buffer). No per-op
 * compiler barrier: storing each pointer is what keeps the work, so a cursor that
 * the compiler can keep in a register stays there (see zhb_touch for what a byte
 * write does to a cursor in a struct).
 *
 * Targets: the fba fast path within 1.25x of the bump pointer, and at least 10x
 * faster than malloc+free. */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "zheap/fba.h"

#define OBJECTS 1024
#define MAX_SIZE 256
#define ALIGNMENT ((size_t)ZH_MALLOC_ALIGNMENT)

static const size_t sizes[] = {16, 64, 256};

typedef struct fba_bench {
    size_t size;
    bool touch;
    unsigned char *buffer; /* OBJECTS * MAX_SIZE bytes, aligned to ALIGNMENT */
    size_t buffer_len;
    zhb_bump in_struct; /* the struct-cursor baseline's state */
    zh_fba fba;
    void *ptrs[OBJECTS];
} fba_bench;

static void run_bump_register(void *ctx, size_t iterations) {
    fba_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        zhb_bump local = {b->buffer, b->buffer + b->buffer_len}; /* never escapes */
        ZHB_FILL(b->ptrs, OBJECTS, b->touch, zhb_bump_alloc(&local, b->size, ALIGNMENT));
    }
}

static void run_bump_struct(void *ctx, size_t iterations) {
    fba_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        ZHB_FILL(b->ptrs, OBJECTS, b->touch, zhb_bump_alloc(&b->in_struct, b->size, ALIGNMENT));
        b->in_struct.cursor = b->buffer;
    }
}

static void run_fba_inline(void *ctx, size_t iterations) {
    fba_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        ZHB_FILL(b->ptrs, OBJECTS, b->touch, zh_fba_alloc_inline(&b->fba, b->size, ALIGNMENT));
        zh_fba_reset(&b->fba);
    }
}

static void run_fba_vtable(void *ctx, size_t iterations) {
    fba_bench *b = ctx;
    const zh_allocator a = zh_fba_allocator(&b->fba);
    for (size_t it = 0; it < iterations; it++) {
        ZHB_FILL(b->ptrs, OBJECTS, b->touch, zh_alloc(a, b->size));
        zh_fba_reset(&b->fba);
    }
}

static void run_malloc_free(void *ctx, size_t iterations) {
    fba_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        ZHB_FILL(b->ptrs, OBJECTS, b->touch, malloc(b->size));
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
    b->in_struct = (zhb_bump){b->buffer, b->buffer + b->buffer_len};
    zh_fba_reset(&b->fba);
}

static void bench_size(fba_bench *b, size_t size, bool touch) {
    char group[48];
    snprintf(group, sizeof group, "%zu B x %d%s", size, OBJECTS, touch ? " touched" : "");
    b->size = size;
    b->touch = touch;
    const zhb_case_spec cases[] = {
        {"bump pointer (register cursor)", run_bump_register, b, OBJECTS, clear_ptrs,
         check_all_allocated},
        {"bump pointer (cursor in a struct)", run_bump_struct, b, OBJECTS, clear_ptrs,
         check_all_allocated},
        {"zh_fba_alloc_inline", run_fba_inline, b, OBJECTS, clear_ptrs, check_all_allocated},
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

    for (size_t t = 0; t < 2; t++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            bench_size(&bench, sizes[i], t == 1);

    zhb_note("every case: %d allocations of the size with %zu-byte alignment, pointers "
             "stored; then reset (bump, fba) or free of each (malloc); 1 op = 1 allocation",
             OBJECTS, ALIGNMENT);
    zhb_note("touched: one byte written into each block as it is allocated");
    int rc = zhb_finish();
    free(bench.buffer);
    return rc;
}
