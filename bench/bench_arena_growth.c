/* bench_arena_growth.c - the workload of issue 13: an arena (and a pool) filled
 * and emptied in rounds, with the growth of its buffers on the measured path.
 *
 * One round is ROUND allocations whose sizes follow one fixed pseudo-random
 * sequence in [8, 256] bytes (alignment 8), the first byte of each written, then
 * a reset. ROUNDS rounds make the 10 M allocations of the issue. Cases:
 *   - zh_arena_alloc_inline over zh_page_allocator and over zh_c_allocator, reset with
 *     ZH_ARENA_FREE_ALL (every buffer goes back to the child each round, so
 *     growth is exercised every round) and, as the baseline the issue compares
 *     against, ZH_ARENA_RETAIN_CAPACITY (one retained buffer serves every round);
 *   - a pool of 64-byte items (zh_pool_create_inline; it takes items from an arena)
 *     over the same children, reset the same ways.
 * One op is one allocation plus its share of the reset.
 *
 * Besides the times, a counting pass (not timed) runs ROUNDS rounds of every
 * configuration through a counting child and reports: slow-path entries (an
 * allocation the inline path could not serve: the block did not fit in the
 * newest buffer), child calls by kind, and for the page allocator the system
 * calls those imply (alloc = mmap, free = munmap, a page-count-changing resize =
 * mremap). Targets (issue 13): >= 99 % of allocations on the inline path, at most
 * a few hundred child calls and system calls per 10 M allocations, instructions
 * per allocation (callgrind) within 1.5x of RETAIN_CAPACITY.
 *
 *   zheap-bench-arena_growth [harness options]   times + counts
 *   zheap-bench-arena_growth --no-counts [...]    times only (for callgrind:
 *       --iterations 50 --reps 1 runs each case 2 x 50 rounds = 10 M allocations)
 *   zheap-bench-arena_growth --count NAME         only the counting pass of one
 *       configuration (for strace -c), NAME as in the counts table, e.g.
 *       "arena/page/free-all"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "zheap/arena.h"
#include "zheap/c.h"
#include "zheap/page.h"
#include "zheap/pool.h"

#define ROUND 100000
#define ROUNDS 100
#define MIN_SIZE 8
#define MAX_SIZE 256
#define ALIGNMENT ((size_t)8)
#define ITEM_SIZE 64

/* ---- a counting child ------------------------------------------------------------ */

typedef struct counting {
    zh_allocator child;
    size_t allocs, resizes, remaps, frees;
    size_t page_changes; /* resizes/remaps that change the number of pages */
} counting;

static bool changes_pages(size_t len, size_t new_len) {
    size_t page = zh_page_size();
    return zh__div_ceil(len, page) != zh__div_ceil(new_len, page);
}

static void *counting_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    counting *c = ctx;
    c->allocs++;
    return c->child.vtable->alloc(c->child.ctx, len, align, ret_addr);
}

static bool counting_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                            uintptr_t ret_addr) {
    counting *c = ctx;
    c->resizes++;
    c->page_changes += changes_pages(len, new_len);
    return c->child.vtable->resize(c->child.ctx, mem, len, align, new_len, ret_addr);
}

static void *counting_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                            uintptr_t ret_addr) {
    counting *c = ctx;
    c->remaps++;
    c->page_changes += changes_pages(len, new_len);
    return c->child.vtable->remap(c->child.ctx, mem, len, align, new_len, ret_addr);
}

static void counting_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    counting *c = ctx;
    c->frees++;
    c->child.vtable->free(c->child.ctx, mem, len, align, ret_addr);
}

static const zh_allocator_vtable counting_vtable = {counting_alloc, counting_resize,
                                                    counting_remap, counting_free};

/* ---- the configurations ------------------------------------------------------------ */

typedef struct config {
    const char *name;   /* "arena/page/free-all" */
    bool pool;          /* zh_pool_create_inline instead of zh_arena_alloc_inline */
    const zh_allocator *child;
    zh_arena_reset_mode mode;
    /* state of the timed case */
    zh_arena arena;
    zh_pool items;
} config;

static size_t sizes[ROUND];
static void *ptrs[ROUND];

static void fill_sizes(void) {
    uint32_t x = 2463534242u; /* xorshift32: the same sequence every round */
    for (size_t i = 0; i < ROUND; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        sizes[i] = MIN_SIZE + x % (MAX_SIZE - MIN_SIZE + 1);
    }
}

static void arena_rounds(config *c, size_t rounds) {
    for (size_t r = 0; r < rounds; r++) {
        for (size_t i = 0; i < ROUND; i++) {
            unsigned char *p = zh_arena_alloc_inline(&c->arena, sizes[i], ALIGNMENT);
            *p = (unsigned char)i; /* first byte written (NULL would fault) */
            ptrs[i] = p;
        }
        zhb_clobber();
        (void)zh_arena_reset(&c->arena, c->mode, 0);
    }
}

static void pool_rounds(config *c, size_t rounds) {
    for (size_t r = 0; r < rounds; r++) {
        for (size_t i = 0; i < ROUND; i++) {
            unsigned char *p = zh_pool_create_inline(&c->items);
            *p = (unsigned char)i;
            ptrs[i] = p;
        }
        zhb_clobber();
        (void)zh_pool_reset(&c->items, c->mode, 0);
    }
}

/* One function per case, so that callgrind_annotate names each. */
#define CASE_FN(name, rounds) \
    static void name(void *ctx, size_t iterations) { rounds(ctx, iterations); }
CASE_FN(run_arena_page_retain, arena_rounds)
CASE_FN(run_arena_page_free_all, arena_rounds)
CASE_FN(run_arena_c_retain, arena_rounds)
CASE_FN(run_arena_c_free_all, arena_rounds)
CASE_FN(run_pool_page_retain, pool_rounds)
CASE_FN(run_pool_page_free_all, pool_rounds)
CASE_FN(run_pool_c_free_all, pool_rounds)

static const zh_pool_options item_options = {ITEM_SIZE, 8, true};

static void start(config *c, zh_allocator child) {
    if (c->pool)
        zh_pool_init(&c->items, child, item_options);
    else
        zh_arena_init(&c->arena, child);
}

static void finish(config *c) {
    if (c->pool)
        zh_pool_deinit(&c->items);
    else
        zh_arena_deinit(&c->arena);
}

/* ---- the counting pass ---------------------------------------------------------------- */

typedef struct counts {
    size_t slow, allocs, resizes, remaps, frees, page_changes;
} counts;

/* ROUNDS rounds of `c` through a counting child, from a fresh arena or pool. An
 * allocation enters the slow path exactly when it does not fit what the newest
 * buffer has left (zh_arena_query_available), which is checked before it. */
static counts count_config(config *c) {
    counting k = {.child = *c->child};
    zh_allocator child = {&k, &counting_vtable};
    config run = *c;
    start(&run, child);
    zh_arena *arena = run.pool ? &run.items.arena : &run.arena;
    size_t slow = 0;
    for (size_t r = 0; r < ROUNDS; r++) {
        for (size_t i = 0; i < ROUND; i++) {
            size_t len = run.pool ? run.items.item_size : sizes[i];
            size_t alignment = run.pool ? run.items.item_align : ALIGNMENT;
            /* Nothing is destroyed, so a pool's free list is empty after each reset
             * and every create takes a new item from the arena. */
            slow += zh_arena_query_available(arena, alignment) < len;
            unsigned char *p = run.pool ? zh_pool_create_inline(&run.items)
                                        : zh_arena_alloc_inline(arena, len, alignment);
            if (p == NULL) {
                zhb_fail("%s: allocation %zu of round %zu returned NULL", c->name, i, r);
                finish(&run);
                return (counts){0};
            }
            *p = 1;
        }
        if (run.pool)
            (void)zh_pool_reset(&run.items, run.mode, 0);
        else
            (void)zh_arena_reset(&run.arena, run.mode, 0);
    }
    finish(&run);
    return (counts){slow, k.allocs, k.resizes, k.remaps, k.frees, k.page_changes};
}

static void note_counts(config *c) {
    counts n = count_config(c);
    size_t total = (size_t)ROUNDS * ROUND;
    size_t calls = n.allocs + n.resizes + n.remaps + n.frees;
    double inline_pct = 100.0 * (double)(total - n.slow) / (double)total;
    if (c->child == &zh_page_allocator)
        zhb_note("counts %-24s slow path %zu of %zu (%.3f %% inline); child calls %zu "
                 "(alloc %zu, resize %zu, remap %zu, free %zu); system calls <= %zu "
                 "(mmap %zu, munmap %zu, mremap <= %zu)",
                 c->name, n.slow, total, inline_pct, calls, n.allocs, n.resizes, n.remaps,
                 n.frees, n.allocs + n.frees + n.page_changes, n.allocs, n.frees,
                 n.page_changes);
    else
        zhb_note("counts %-24s slow path %zu of %zu (%.3f %% inline); child calls %zu "
                 "(alloc %zu, resize %zu, remap %zu, free %zu)",
                 c->name, n.slow, total, inline_pct, calls, n.allocs, n.resizes, n.remaps,
                 n.frees);
}

static config configs[] = {
    {"arena/page/retain", false, &zh_page_allocator, ZH_ARENA_RETAIN_CAPACITY, {0}, {0}},
    {"arena/page/free-all", false, &zh_page_allocator, ZH_ARENA_FREE_ALL, {0}, {0}},
    {"arena/c/retain", false, &zh_c_allocator, ZH_ARENA_RETAIN_CAPACITY, {0}, {0}},
    {"arena/c/free-all", false, &zh_c_allocator, ZH_ARENA_FREE_ALL, {0}, {0}},
    {"pool/page/retain", true, &zh_page_allocator, ZH_ARENA_RETAIN_CAPACITY, {0}, {0}},
    {"pool/page/free-all", true, &zh_page_allocator, ZH_ARENA_FREE_ALL, {0}, {0}},
    {"pool/c/free-all", true, &zh_c_allocator, ZH_ARENA_FREE_ALL, {0}, {0}},
};
#define CONFIGS (sizeof configs / sizeof configs[0])
static const zhb_fn case_fns[CONFIGS] = {
    run_arena_page_retain, run_arena_page_free_all, run_arena_c_retain, run_arena_c_free_all,
    run_pool_page_retain,  run_pool_page_free_all,  run_pool_c_free_all,
};

static config *find_config(const char *name) {
    for (size_t i = 0; i < CONFIGS; i++)
        if (strcmp(configs[i].name, name) == 0) return &configs[i];
    return NULL;
}

/* --count NAME: only the counting pass of one configuration. */
static int count_only(const char *name) {
    config *c = find_config(name);
    if (c == NULL) {
        fprintf(stderr, "zheap-bench-arena_growth: unknown configuration '%s'; one of:\n", name);
        for (size_t i = 0; i < CONFIGS; i++) fprintf(stderr, "  %s\n", configs[i].name);
        return 2;
    }
    counts n = count_config(c);
    printf("%s: %d allocations, slow path %zu, child alloc %zu resize %zu remap %zu free %zu\n",
           name, ROUNDS * ROUND, n.slow, n.allocs, n.resizes, n.remaps, n.frees);
    return 0;
}

static void run_group(const char *group, size_t first, size_t count) {
    zhb_case_spec specs[CONFIGS];
    for (size_t i = 0; i < count; i++) {
        config *c = &configs[first + i];
        start(c, *c->child);
        specs[i] = (zhb_case_spec){c->name, case_fns[first + i], c, ROUND, NULL, NULL};
    }
    zhb_run_group(group, specs, count, NULL);
    for (size_t i = 0; i < count; i++) finish(&configs[first + i]);
}

/* Removes --no-counts (this bench's own option) from argv; true if it was there. */
static bool take_no_counts(int *argc, char **argv) {
    bool found = false;
    int kept = 1;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--no-counts") == 0)
            found = true;
        else
            argv[kept++] = argv[i];
    }
    *argc = kept;
    return found;
}

int main(int argc, char **argv) {
    fill_sizes();
    if (argc == 3 && strcmp(argv[1], "--count") == 0) return count_only(argv[2]);
    bool with_counts = !take_no_counts(&argc, argv);
    zhb_init(argc, argv, "zheap-bench-arena_growth");
    zhb_note_environment();
    zhb_note("one round: %d allocations of %d..%d B (alignment %zu; pool: %d B items), first "
             "byte written, then a reset; %d rounds = %d allocations in the counting pass",
             ROUND, MIN_SIZE, MAX_SIZE, ALIGNMENT, ITEM_SIZE, ROUNDS, ROUNDS * ROUND);

    run_group("arena, 8-256 B, reset every 100k", 0, 4);
    run_group("pool, 64 B items, reset every 100k", 4, 3);
    if (with_counts)
        for (size_t i = 0; i < CONFIGS; i++) note_counts(&configs[i]);
    return zhb_finish();
}
