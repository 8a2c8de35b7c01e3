/* test_faults.c - faults injected at the OS seam (zh__os_test_fail_after).
 *
 * For every allocator that takes memory from the platform layer, a workload runs
 * with the n-th map/grow/remap made to fail, for n = 0, 1, 2, ... until a run
 * reaches no injected failure. Each run proves: every failure is a NULL or false
 * with the block it concerned intact, nothing below the allocator leaked (a
 * counting zh_failing layer balances; on backends that return memory, the process
 * maps exactly what it mapped before), and the same allocator instance still
 * serves the whole workload once the faults are disarmed.
 *
 * Covered: the page allocator, the arena over pages (all three reset modes), the
 * pool over pages (growable and fixed), the debug allocator over pages, and the SMP
 * allocator (the process-wide singleton, which caches memory: its own statistics
 * after zh_smp_trim() prove nothing leaked). Another allocator is one entry in
 * `sweeps`. */
#define _POSIX_C_SOURCE 200809L
#include "test_support.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platform/platform.h"
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif
#include "zheap/arena.h"
#include "zheap/debug.h"
#include "zheap/page.h"
#include "zheap/pool.h"
#include "zheap/smp.h"

#define MAX_SWEEP 400

/* ---- blocks with a pattern --------------------------------------------------------- */

typedef struct held {
    unsigned char *p;
    size_t len, align;
    unsigned seed;
} held;

static void fill(held *h, size_t from) {
    for (size_t i = from; i < h->len; i++) h->p[i] = (unsigned char)(h->seed + i * 13u);
}

static void assert_intact(const held *h) {
    for (size_t i = 0; i < h->len; i++)
        if (h->p[i] != (unsigned char)(h->seed + i * 13u))
            fail_msg("block %p (len %zu): byte %zu corrupted", (void *)h->p, h->len, i);
}

/* Changes h to new_len with zh_realloc_aligned; on NULL the old block must be intact.
 * True when it succeeded. */
static bool realloc_held(zh_allocator a, held *h, size_t new_len) {
    unsigned char *q = zh_realloc_aligned(a, h->p, h->len, new_len, h->align);
    if (q == NULL) {
        assert_intact(h);
        return false;
    }
    size_t old = h->len;
    h->p = q;
    h->len = new_len;
    for (size_t i = 0; i < (old < new_len ? old : new_len); i++)
        if (q[i] != (unsigned char)(h->seed + i * 13u)) fail_msg("realloc lost byte %zu", i);
    fill(h, old < new_len ? old : new_len);
    return true;
}

/* ---- the workload: allocate, grow in place, remap, realloc, shrink, free ------------- */

#define HELD 5

/* Runs the workload over `a`, keeping the blocks in h[HELD]. Returns true when every
 * allocation and realloc succeeded; a resize or remap may refuse either way. */
static bool workload(zh_allocator a, held h[HELD], unsigned seed) {
    size_t pg = zh_page_size();
    static const size_t lens[HELD] = {1, 3 * 4096 + 5, 100, 70000, 2 * 4096};
    static const size_t aligns[HELD] = {8, 16, 4096, 65536, 16};
    bool ok = true;
    for (size_t i = 0; i < HELD; i++) {
        h[i] = (held){zh_alloc_aligned(a, lens[i], aligns[i]), lens[i], aligns[i], seed + (unsigned)i};
        if (h[i].p == NULL) {
            ok = false;
            continue;
        }
        assert_true(((uintptr_t)h[i].p & (aligns[i] - 1)) == 0);
        fill(&h[i], 0);
    }
    if (h[1].p != NULL) { /* grow in place (grow), then back */
        if (zh_resize_aligned(a, h[1].p, h[1].len, h[1].len + 3 * pg, h[1].align)) {
            size_t old = h[1].len;
            h[1].len += 3 * pg;
            fill(&h[1], old);
        }
        assert_intact(&h[1]);
    }
    if (h[3].p != NULL) { /* remap: may move without a copy, or refuse */
        unsigned char *q = zh_remap_aligned(a, h[3].p, h[3].len, 300000, h[3].align);
        if (q != NULL) {
            h[3].p = q;
            size_t old = h[3].len;
            h[3].len = 300000;
            fill(&h[3], old);
        }
        assert_intact(&h[3]);
    }
    if (h[4].p != NULL && !realloc_held(a, &h[4], 40 * pg)) ok = false;
    if (h[2].p != NULL && !realloc_held(a, &h[2], 9000)) ok = false;
    if (h[4].p != NULL && !realloc_held(a, &h[4], 3 * pg + 1)) ok = false;
    for (size_t i = 0; i < HELD; i++)
        if (h[i].p != NULL) assert_intact(&h[i]);
    return ok;
}

static void release(zh_allocator a, held h[HELD]) {
    for (size_t i = 0; i < HELD; i++) {
        if (h[i].p == NULL) continue;
        assert_intact(&h[i]);
        zh_free_aligned(a, h[i].p, h[i].len, h[i].align);
        h[i].p = NULL;
    }
}

/* ---- leak checks ------------------------------------------------------------------ */

/* Bytes of anonymous mappings of this process (Linux /proc/self/maps, read without
 * the C heap), or 0 when unknown; the [heap] line is left out (the C heap grows
 * for reasons of its own). */
static size_t mapped_bytes(void) {
    static char buf[1 << 18];
    int fd = open("/proc/self/maps", O_RDONLY);
    if (fd < 0) return 0;
    size_t n = 0;
    ssize_t got;
    while (n < sizeof buf - 1 && (got = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)got;
    close(fd);
    buf[n] = '\0';
    size_t total = 0;
    for (char *line = buf; *line != '\0';) {
        char *end = strchr(line, '\n');
        if (end != NULL) *end = '\0';
        unsigned long lo, hi;
        char perms[8];
        unsigned long offset;
        unsigned dev_major, dev_minor;
        unsigned long inode;
        if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &lo, &hi, perms, &offset, &dev_major,
                   &dev_minor, &inode) == 7 &&
            inode == 0 && strstr(line, "[heap]") == NULL && strstr(line, "[stack") == NULL)
            total += hi - lo;
        if (end == NULL) break;
        line = end + 1;
    }
    return total;
}

/* Whether the mapped-bytes check applies: the backend returns memory to the OS, and
 * no valgrind, whose own mappings come and go in the same /proc/self/maps. */
static bool returns_memory(void) {
    if (RUNNING_ON_VALGRIND) return false;
    return (zh__os_info_get()->caps & ZH__OS_CAN_RETURN_MEMORY) != 0;
}

static void assert_balanced(const zh_failing *f) {
    assert_int_equal(f->allocated_bytes, f->freed_bytes);
    assert_int_equal(f->allocations, f->deallocations);
}

/* ---- sweeps ---------------------------------------------------------------------- */

/* One instance of an allocator under test, over a counting layer on the pages. */
typedef struct subject {
    zh_failing counter;
    zh_debug *debug;
    zh_arena arena;
    zh_pool pool;
    zh_allocator a;
} subject;

typedef struct sweep {
    const char *name;
    void (*open)(subject *s, size_t variant);
    /* The workload; true when every allocation succeeded. */
    bool (*run)(subject *s, unsigned seed, held h[HELD]);
    void (*release)(subject *s, held h[HELD]);
    void (*close)(subject *s); /* frees everything; the counter must balance after */
    size_t variants;
    void (*baseline)(void); /* after a fault-free warm-up run: the resting state (or NULL) */
} sweep;

static bool run_allocator(subject *s, unsigned seed, held h[HELD]) { return workload(s->a, h, seed); }
static void release_allocator(subject *s, held h[HELD]) { release(s->a, h); }

static void open_page(subject *s, size_t variant) {
    (void)variant;
    zh_failing_init(&s->counter, zh_page_allocator, SIZE_MAX);
    s->a = zh_failing_allocator(&s->counter);
}
static void close_nothing(subject *s) { (void)s; }

/* The arena over pages; after the workload a reset of mode `variant` (whose buffer
 * handling calls map/grow/remap too), then the workload again. */
static void open_arena(subject *s, size_t variant) {
    (void)variant;
    zh_failing_init(&s->counter, zh_page_allocator, SIZE_MAX);
    zh_arena_init(&s->arena, zh_failing_allocator(&s->counter));
    s->a = zh_arena_allocator(&s->arena);
}
static size_t arena_variant;
static bool run_arena(subject *s, unsigned seed, held h[HELD]) {
    bool ok = workload(s->a, h, seed);
    /* A failed reset keeps what it can; every block is invalid either way. */
    (void)zh_arena_reset(&s->arena, (zh_arena_reset_mode)arena_variant, 3 * zh_page_size());
    for (size_t i = 0; i < HELD; i++) h[i].p = NULL;
    held more[HELD];
    return workload(s->a, more, seed + 100) && ok;
}
static void release_arena(subject *s, held h[HELD]) {
    (void)s;
    for (size_t i = 0; i < HELD; i++) h[i].p = NULL;
}
static void close_arena(subject *s) { zh_arena_deinit(&s->arena); }
static void open_arena_mode(subject *s, size_t variant) {
    arena_variant = variant;
    open_arena(s, variant);
}

/* The pool over pages: growable (variant 0) or fixed after a preheat (1). */
#define POOL_ITEMS 40
static void *pool_items[POOL_ITEMS];
static void open_pool(subject *s, size_t variant) {
    zh_failing_init(&s->counter, zh_page_allocator, SIZE_MAX);
    zh_pool_options o = {1000, 64, variant == 0};
    zh_pool_init(&s->pool, zh_failing_allocator(&s->counter), o);
}
static bool run_pool(subject *s, unsigned seed, held h[HELD]) {
    (void)h;
    bool ok = true;
    if (!s->pool.growable && !zh_pool_preheat(&s->pool, POOL_ITEMS)) ok = false;
    for (size_t round = 0; round < 2; round++) {
        for (size_t i = 0; i < POOL_ITEMS; i++) {
            pool_items[i] = zh_pool_create(&s->pool);
            if (pool_items[i] == NULL) {
                ok = false;
                continue;
            }
            memset(pool_items[i], (int)(seed + i), 1000);
        }
        for (size_t i = 0; i < POOL_ITEMS; i++) {
            if (pool_items[i] == NULL) continue;
            assert_true(zht_all_bytes(pool_items[i], 1000, (unsigned char)(seed + i)));
            zh_pool_destroy(&s->pool, pool_items[i]);
        }
        if (!zh_pool_reset(&s->pool, round == 0 ? ZH_ARENA_RETAIN_CAPACITY : ZH_ARENA_FREE_ALL, 0))
            ok = false;
    }
    return ok;
}
static void release_pool(subject *s, held h[HELD]) { (void)s, (void)h; }
static void close_pool(subject *s) { zh_pool_deinit(&s->pool); }

/* The debug allocator over pages (no traces: the sweep is about the OS seam). */
static void open_debug(subject *s, size_t variant) {
    (void)variant;
    zh_failing_init(&s->counter, zh_page_allocator, SIZE_MAX);
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.stack_trace_frames = 0;
    cfg.backing = zh_failing_allocator(&s->counter);
    s->debug = zh_debug_create(&cfg);
    assert_non_null(s->debug);
    s->a = zh_debug_allocator(s->debug);
}
static void close_debug(subject *s) { assert_int_equal(zh_debug_destroy(s->debug), ZH_CHECK_OK); }

/* The SMP allocator behind a counting layer. It keeps freed memory for reuse, so
 * "nothing leaked" is judged on its statistics at rest (after everything is freed
 * and zh_smp_trim()): bytes in live blocks, active bytes and large blocks as at the
 * start of the sweep, nothing cached, and no more mapped than then. Variant 1 adds
 * blocks that need mappings of their own: runs of 4 MiB enough for a second segment,
 * a huge block remapped and reallocated larger (more fault points than the first
 * segment's map). */
static zh_smp_stats smp_rest;
static size_t smp_variant;
static void smp_at_rest(zh_smp_stats *out) {
    zh_smp_trim();
    zh_smp_get_stats(out);
}
static void baseline_smp(void) { smp_at_rest(&smp_rest); }
static void open_smp(subject *s, size_t variant) {
    smp_variant = variant;
    zh_failing_init(&s->counter, zh_smp_allocator, SIZE_MAX);
    s->a = zh_failing_allocator(&s->counter);
}

/* Blocks of megabytes carry the pattern at the start of every page only: enough to
 * see a lost or misplaced copy without touching every byte. */
static void mark_pages(const held *h) {
    for (size_t i = 0; i < h->len; i += 4096) h->p[i] = (unsigned char)(h->seed + i / 4096);
    h->p[h->len - 1] = (unsigned char)h->seed;
}
static void assert_pages_marked(const held *h, size_t upto) {
    for (size_t i = 0; i < upto; i += 4096)
        if (h->p[i] != (unsigned char)(h->seed + i / 4096))
            fail_msg("big block %p (len %zu): page %zu lost its mark", (void *)h->p, h->len, i / 4096);
    if (upto == h->len && h->p[h->len - 1] != (unsigned char)h->seed)
        fail_msg("big block %p (len %zu): last byte lost", (void *)h->p, h->len);
}

#define SMP_RUNS 5
#define MIB ((size_t)1 << 20)
/* Allocates, remaps and reallocates big blocks and frees them again (they do not
 * outlive the call). True when every allocation and realloc succeeded. */
static bool smp_big_blocks(zh_allocator a, unsigned seed) {
    held big[SMP_RUNS + 1];
    bool ok = true;
    for (size_t i = 0; i <= SMP_RUNS; i++) {
        size_t len = i < SMP_RUNS ? 4 * MIB : 5 * MIB + 3; /* the last one: huge */
        big[i] = (held){zh_alloc_aligned(a, len, 16), len, 16, seed + 40 + (unsigned)i};
        if (big[i].p == NULL) {
            ok = false;
            continue;
        }
        mark_pages(&big[i]);
    }
    held *huge = &big[SMP_RUNS];
    if (huge->p != NULL) {
        unsigned char *q = zh_remap_aligned(a, huge->p, huge->len, 9 * MIB, 16);
        if (q != NULL) {
            huge->p = q;
            huge->len = 9 * MIB;
            mark_pages(huge);
        }
        assert_pages_marked(huge, huge->len);
        q = zh_realloc_aligned(a, huge->p, huge->len, 14 * MIB, 16);
        if (q == NULL) {
            ok = false;
            assert_pages_marked(huge, huge->len);
        } else {
            held moved = *huge;
            moved.p = q;
            assert_pages_marked(&moved, huge->len);
            huge->p = q;
            huge->len = 14 * MIB;
            mark_pages(huge);
        }
    }
    for (size_t i = 0; i <= SMP_RUNS; i++) {
        if (big[i].p == NULL) continue;
        assert_pages_marked(&big[i], big[i].len);
        zh_free_aligned(a, big[i].p, big[i].len, 16);
    }
    return ok;
}
static bool run_smp(subject *s, unsigned seed, held h[HELD]) {
    bool ok = workload(s->a, h, seed);
    if (smp_variant == 1 && !smp_big_blocks(s->a, seed)) ok = false;
    return ok;
}
static void close_smp(subject *s) {
    (void)s;
    zh_smp_stats now;
    smp_at_rest(&now);
    assert_int_equal(now.allocated, smp_rest.allocated);
    assert_int_equal(now.active, smp_rest.active);
    assert_int_equal(now.large_live, smp_rest.large_live);
    assert_int_equal(now.cached, 0);
    if (now.mapped > smp_rest.mapped)
        fail_msg("smp: %zu bytes mapped at rest, %zu at the start", now.mapped, smp_rest.mapped);
}

static const sweep sweeps[] = {
    {"page", open_page, run_allocator, release_allocator, close_nothing, 1, NULL},
    {"arena over pages", open_arena_mode, run_arena, release_arena, close_arena, 3, NULL},
    {"pool over pages", open_pool, run_pool, release_pool, close_pool, 2, NULL},
    {"debug over pages", open_debug, run_allocator, release_allocator, close_debug, 1, NULL},
    {"smp", open_smp, run_smp, release_allocator, close_smp, 2, baseline_smp},
};

/* One fault-free run: whatever an allocator maps once and keeps (the SMP
 * allocator's own records) is then part of the baseline. */
static void warm_up(const sweep *sw, size_t variant) {
    subject s;
    held h[HELD];
    sw->open(&s, variant);
    if (!sw->run(&s, 1, h)) fail_msg("%s: the warm-up run failed", sw->name);
    sw->release(&s, h);
    if (sw->baseline != NULL) sw->baseline();
    sw->close(&s);
    assert_balanced(&s.counter);
}

/* Runs one sweep: n = 0, 1, ... until the workload meets no injected fault. */
static size_t run_sweep(const sweep *sw, size_t variant) {
    warm_up(sw, variant);
    size_t baseline = returns_memory() ? mapped_bytes() : 0;
    for (size_t n = 0; n < MAX_SWEEP; n++) {
        subject s;
        held h[HELD], again[HELD];
        sw->open(&s, variant);
        zh__os_test_fail_after(ZH__OS_FAULT_ALL, n);
        bool ok = sw->run(&s, (unsigned)n, h);
        size_t calls = zh__os_test_fault_count();
        zh__os_test_fail_after(0, SIZE_MAX);
        bool injected = calls > n;
        if (!injected && !ok) fail_msg("%s: the workload failed with no fault injected (n %zu)", sw->name, n);
        /* Usable afterwards: the same instance serves the whole workload. */
        if (!sw->run(&s, (unsigned)n + 7, again))
            fail_msg("%s: not usable after fault %zu", sw->name, n);
        sw->release(&s, again);
        sw->release(&s, h);
        sw->close(&s);
        assert_balanced(&s.counter);
        if (returns_memory() && baseline != 0) {
            size_t now = mapped_bytes();
            if (now > baseline)
                fail_msg("%s (variant %zu): %zu bytes still mapped after fault %zu", sw->name,
                         variant, now - baseline, n);
        }
        if (!injected) return n;
    }
    fail_msg("%s: the workload still meets faults after %d", sw->name, MAX_SWEEP);
    return 0;
}

static void test_sweeps(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof sweeps / sizeof sweeps[0]; i++)
        for (size_t v = 0; v < sweeps[i].variants; v++) {
            size_t points = run_sweep(&sweeps[i], v);
            assert_true(points > 0); /* the workload does reach the OS */
            printf("fault sweep %-18s variant %zu: %zu fault points\n", sweeps[i].name, v, points);
        }
}

/* Faults of one kind only: a failing grow or remap alone must leave the page
 * allocator's blocks intact (the fallback paths: map + copy, or refuse). */
static void test_single_kinds(void **state) {
    (void)state;
    static const unsigned kinds[] = {ZH__OS_FAULT_MAP, ZH__OS_FAULT_GROW, ZH__OS_FAULT_REMAP};
    for (size_t k = 0; k < 3; k++) {
        for (size_t n = 0; n < 8; n++) {
            held h[HELD], again[HELD];
            zh__os_test_fail_after(kinds[k], n);
            (void)workload(zh_page_allocator, h, (unsigned)n);
            zh__os_test_fail_after(0, SIZE_MAX);
            assert_true(workload(zh_page_allocator, again, (unsigned)n + 3));
            release(zh_page_allocator, again);
            release(zh_page_allocator, h);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sweeps),
        cmocka_unit_test(test_single_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
