/* bench_arena.c - the arena against a hand-written bump pointer, glibc malloc/free,
 * glibc obstack and a talloc pool.
 *
 * Every case does the same round: OBJECTS allocations whose sizes follow one fixed
 * pseudo-random sequence in [16, 256] bytes with malloc alignment, each pointer
 * stored, then everything given back the way that allocator gives memory back:
 * cursor reset (bump pointer), zh_arena_reset(RETAIN_CAPACITY) (arena), free of
 * each block (malloc), obstack_free to the round's first object (obstack),
 * talloc_free of the pool (talloc). One op is one allocation plus its share of
 * the release. The "touched" group also writes one byte into every block as it is
 * allocated. All cases of a group are interleaved (zhb_run_group), which matters
 * here more than elsewhere: obstack with default chunks mallocs and frees ~135
 * chunks per round, and how much that costs depends on the state the other cases
 * leave glibc's heap in (run alone, it trims and regrows the heap with brk every
 * round). Targets: zh_arena_alloc_inline within 1.5x of the bump pointer (whose cursor
 * is a register: the floor), and faster than obstack and talloc. */
#define _GNU_SOURCE
#include <obstack.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "zheap/arena.h"
#include "zheap/c.h"
#include "zheap/page.h"

#ifdef ZH_BENCH_HAVE_TALLOC
#include <talloc.h>
#endif

#define obstack_chunk_alloc malloc
#define obstack_chunk_free free

#define OBJECTS 4096
#define MAX_SIZE 256
#define ALIGNMENT ((size_t)ZH_MALLOC_ALIGNMENT)

typedef struct arena_bench {
    size_t sizes[OBJECTS];
    void *ptrs[OBJECTS];
    bool touch;            /* write one byte into every block */
    unsigned char *buffer; /* the bump pointer's buffer */
    size_t buffer_len;
    zh_arena arena;        /* retained between rounds (and repetitions) */
    zh_arena fresh;        /* emptied every round (FREE_ALL) */
    struct obstack ob;     /* default chunk size (about 4 KiB) */
    struct obstack ob_big; /* one chunk holds a whole round, like a retained arena */
} arena_bench;

static void run_bump(void *ctx, size_t iterations) {
    arena_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        zhb_bump local = {b->buffer, b->buffer + b->buffer_len}; /* a register: the floor */
        ZHB_FILL(b->ptrs, OBJECTS, b->touch, zhb_bump_alloc(&local, b->sizes[i], ALIGNMENT));
    }
}

/* One round: OBJECTS allocations on the inline path, then a reset in `mode`. */
static inline void arena_inline_rounds(arena_bench *b, zh_arena *arena, size_t iterations,
                                       zh_arena_reset_mode mode) {
    for (size_t it = 0; it < iterations; it++) {
        ZHB_FILL(b->ptrs, OBJECTS, b->touch, zh_arena_alloc_inline(arena, b->sizes[i], ALIGNMENT));
        (void)zh_arena_reset(arena, mode, 0);
    }
}

static void run_arena_inline(void *ctx, size_t iterations) {
    arena_bench *b = ctx;
    arena_inline_rounds(b, &b->arena, iterations, ZH_ARENA_RETAIN_CAPACITY);
}

static void run_arena_vtable(void *ctx, size_t iterations) {
    arena_bench *b = ctx;
    const zh_allocator a = zh_arena_allocator(&b->arena);
    for (size_t it = 0; it < iterations; it++) {
        ZHB_FILL(b->ptrs, OBJECTS, b->touch, zh_alloc(a, b->sizes[i]));
        (void)zh_arena_reset(&b->arena, ZH_ARENA_RETAIN_CAPACITY, 0);
    }
}

/* The first round of a fresh arena takes its buffers from the child; later rounds
 * run in the retained buffer. Both are measured: fresh = free everything every
 * round. A separate arena, so that the retained one stays warm between the
 * interleaved repetitions. */
static void run_arena_fresh(void *ctx, size_t iterations) {
    arena_bench *b = ctx;
    arena_inline_rounds(b, &b->fresh, iterations, ZH_ARENA_FREE_ALL);
}

static void run_malloc_free(void *ctx, size_t iterations) {
    arena_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        ZHB_FILL(b->ptrs, OBJECTS, b->touch, malloc(b->sizes[i]));
        for (size_t i = 0; i < OBJECTS; i++) free(b->ptrs[i]);
    }
}

static void obstack_rounds(arena_bench *b, struct obstack *ob, size_t iterations) {
    for (size_t it = 0; it < iterations; it++) {
        ZHB_FILL(b->ptrs, OBJECTS, b->touch, obstack_alloc(ob, b->sizes[i]));
        obstack_free(ob, b->ptrs[0]);
    }
}

static void run_obstack(void *ctx, size_t iterations) {
    arena_bench *b = ctx;
    obstack_rounds(b, &b->ob, iterations);
}

static void run_obstack_big(void *ctx, size_t iterations) {
    arena_bench *b = ctx;
    obstack_rounds(b, &b->ob_big, iterations);
}

#ifdef ZH_BENCH_HAVE_TALLOC
static void run_talloc_pool(void *ctx, size_t iterations) {
    arena_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        void *pool = talloc_pool(NULL, b->buffer_len);
        ZHB_FILL(b->ptrs, OBJECTS, b->touch, talloc_size(pool, b->sizes[i]));
        talloc_free(pool);
    }
}
#endif

static void check_all_allocated(void *ctx) {
    arena_bench *b = ctx;
    for (size_t i = 0; i < OBJECTS; i++) {
        if (!b->ptrs[i]) {
            zhb_fail("allocation %zu returned NULL", i);
            return;
        }
    }
}

static void clear_ptrs(void *ctx) {
    arena_bench *b = ctx;
    for (size_t i = 0; i < OBJECTS; i++) b->ptrs[i] = NULL;
}

static void fill_sizes(arena_bench *b) {
    uint32_t x = 2463534242u; /* xorshift32: the same sequence for every case */
    size_t total = 0;
    for (size_t i = 0; i < OBJECTS; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        b->sizes[i] = 16 + x % (MAX_SIZE - 16 + 1);
        total += b->sizes[i];
    }
    zhb_note("%d allocations per round, %zu bytes in all, sizes 16..%d B, alignment %zu",
             OBJECTS, total, MAX_SIZE, ALIGNMENT);
}

/* One group: every allocator on the same sizes, interleaved. */
static void bench_round(arena_bench *b, bool touch) {
    b->touch = touch;
    const char *group = touch ? "16-256 B x 4096 touched"
                              : "16-256 B x 4096";
    const zhb_case_spec cases[] = {
        {"bump pointer (register cursor)", run_bump, b, OBJECTS, clear_ptrs,
         check_all_allocated},
        {"zh_arena_alloc_inline", run_arena_inline, b, OBJECTS, clear_ptrs,
         check_all_allocated},
        {"zh_alloc(arena) (vtable)", run_arena_vtable, b, OBJECTS, clear_ptrs,
         check_all_allocated},
        {"zh_arena_alloc_inline, FREE_ALL each round", run_arena_fresh, b, OBJECTS, clear_ptrs,
         check_all_allocated},
        {"glibc obstack (default chunks)", run_obstack, b, OBJECTS, clear_ptrs,
         check_all_allocated},
        {"glibc obstack (one 1 MiB chunk)", run_obstack_big, b, OBJECTS, clear_ptrs,
         check_all_allocated},
#ifdef ZH_BENCH_HAVE_TALLOC
        {"talloc pool", run_talloc_pool, b, OBJECTS, clear_ptrs, check_all_allocated},
#endif
        {"glibc malloc+free", run_malloc_free, b, OBJECTS, clear_ptrs, check_all_allocated},
    };
    zhb_run_group(group, cases, sizeof cases / sizeof cases[0], NULL);
}

int main(int argc, char **argv) {
    zhb_init(argc, argv, "zheap-bench-arena");
    zhb_note_environment();

    static arena_bench bench;
    arena_bench *b = &bench;
    fill_sizes(b);
    b->buffer_len = (size_t)OBJECTS * (MAX_SIZE + ALIGNMENT);
    b->buffer = aligned_alloc(ALIGNMENT, b->buffer_len);
    if (b->buffer == NULL) {
        fprintf(stderr, "zheap-bench-arena: cannot allocate the buffer\n");
        return 1;
    }
    zh_arena_init(&b->arena, zh_page_allocator);
    zh_arena_init(&b->fresh, zh_page_allocator);
    obstack_init(&b->ob);
    obstack_specify_allocation(&b->ob_big, (int)b->buffer_len, 0, malloc, free);

    bench_round(b, false);
    bench_round(b, true);

#ifndef ZH_BENCH_HAVE_TALLOC
    zhb_note("talloc not found at configure time: its case was skipped");
#endif
    zhb_note("arena child: zh_page_allocator; obstack chunks: malloc, default size or one "
             "chunk of %zu bytes; talloc: one talloc_pool of %zu bytes per round",
             b->buffer_len, b->buffer_len);
    zhb_note("touched: one byte written into each block as it is allocated");
    int rc = zhb_finish();
    obstack_free(&b->ob, NULL);
    obstack_free(&b->ob_big, NULL);
    zh_arena_deinit(&b->arena);
    zh_arena_deinit(&b->fresh);
    free(b->buffer);
    return rc;
}
