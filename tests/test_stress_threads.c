/* test_stress_threads.c - every thread-safe allocator under many threads, with blocks
 * freed and reallocated by threads other than the one that allocated them.
 *
 * Threads share a board of slots. A thread claims a slot with a compare-and-swap
 * (empty -> busy or full -> busy), so that exactly one thread touches a block at a
 * time and the hand-over is an acquire/release pair TSan understands. A full slot
 * holds a block with a pattern; the claimer checks every byte, then frees it,
 * reallocates it or resizes it in place and puts it back. Blocks therefore travel
 * between threads: most frees and reallocs are cross-thread. At the end the main
 * thread checks and frees what is left. Bounded by a fixed number of ops (no
 * timing). Runs in the `stress` label, i.e. under TSan in CI (tsan preset).
 *
 * Subjects: page, c, raw c, the lock-free fba, the sbrk allocator over a fake
 * break, and the thread-safe wrapper over an fba, an arena, a pool (through a
 * small vtable adapter) and a failing allocator. Wrapped children sit over a
 * zh_failing that never fails: its unsynchronised counters balance only if the
 * wrapper serialised every call; and the debug and SMP allocators. */
#include "test_support.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "zheap/arena.h"
#include "zheap/c.h"
#include "zheap/debug.h"
#include "zheap/fba.h"
#include "zheap/page.h"
#include "zheap/pool.h"
#include "zheap/sbrk.h"
#include "zheap/smp.h"
#include "zheap/thread_safe.h"

#define THREADS 6
#define OPS 2500
#define SLOTS 64

enum { EMPTY, BUSY, FULL };

typedef struct slot {
    atomic_int state;
    unsigned char *p;
    size_t len;
    unsigned seed;
} slot;

typedef struct board {
    zh_allocator a;
    size_t max_len;
    bool can_fail; /* the fixed buffer may run out; a NULL is then not an error */
    slot slots[SLOTS];
    atomic_size_t corruptions, failures, operations;
} board;

static uint64_t next_random(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static unsigned char pattern(unsigned seed, size_t i) { return (unsigned char)(seed * 31u + i); }

static void paint(slot *s, size_t from) {
    for (size_t i = from; i < s->len; i++) s->p[i] = pattern(s->seed, i);
}

static bool intact(const slot *s, size_t upto) {
    for (size_t i = 0; i < upto; i++)
        if (s->p[i] != pattern(s->seed, i)) return false;
    return true;
}

static bool claim(slot *s, int from) {
    int expected = from;
    return atomic_compare_exchange_strong_explicit(&s->state, &expected, BUSY,
                                                   memory_order_acquire, memory_order_relaxed);
}

static void publish(slot *s, int to) { atomic_store_explicit(&s->state, to, memory_order_release); }

/* One op on a claimed full slot: free, realloc or resize; returns the new state. */
static int change(board *b, slot *s, uint64_t x) {
    if (!intact(s, s->len)) atomic_fetch_add(&b->corruptions, 1);
    size_t new_len = 1 + (size_t)(x >> 16) % b->max_len;
    switch (x % 3) {
    case 0:
        zh_free(b->a, s->p, s->len);
        return EMPTY;
    case 1: {
        unsigned char *q = zh_realloc(b->a, s->p, s->len, new_len);
        if (q == NULL) {
            if (!b->can_fail) atomic_fetch_add(&b->failures, 1);
            return FULL;
        }
        size_t keep = s->len < new_len ? s->len : new_len;
        s->p = q;
        s->len = new_len;
        if (!intact(s, keep)) atomic_fetch_add(&b->corruptions, 1);
        paint(s, keep);
        return FULL;
    }
    default:
        if (zh_resize(b->a, s->p, s->len, new_len)) {
            size_t old = s->len;
            s->len = new_len;
            if (new_len > old) paint(s, old);
        }
        return FULL;
    }
}

static void worker(void *arg, size_t index) {
    board *b = arg;
    uint64_t rng = 0x9e3779b97f4a7c15u * (index + 1);
    for (unsigned op = 0; op < OPS; op++) {
        uint64_t x = next_random(&rng);
        slot *s = &b->slots[x % SLOTS];
        unsigned seed = (unsigned)(index * 7919u + op);
        if (claim(s, FULL)) {
            publish(s, change(b, s, x >> 8));
        } else if (claim(s, EMPTY)) {
            s->len = 1 + (size_t)(x >> 24) % b->max_len;
            s->seed = seed;
            s->p = zh_alloc(b->a, s->len);
            if (s->p == NULL) {
                if (!b->can_fail) atomic_fetch_add(&b->failures, 1);
                publish(s, EMPTY);
                continue;
            }
            paint(s, 0);
            publish(s, FULL);
        } else {
            continue; /* another thread holds it */
        }
        atomic_fetch_add_explicit(&b->operations, 1, memory_order_relaxed);
    }
}

static void run_board(zh_allocator a, size_t max_len, bool can_fail) {
    static board b;
    memset(&b, 0, sizeof b);
    b.a = a;
    b.max_len = max_len;
    b.can_fail = can_fail;
    zht_run_threads(THREADS, worker, &b);
    for (size_t i = 0; i < SLOTS; i++) {
        slot *s = &b.slots[i];
        if (atomic_load(&s->state) != FULL) continue;
        assert_true(intact(s, s->len));
        zh_free(a, s->p, s->len); /* freed by the main thread: cross-thread */
    }
    assert_int_equal(atomic_load(&b.corruptions), 0);
    assert_int_equal(atomic_load(&b.failures), 0);
    assert_true(atomic_load(&b.operations) > OPS); /* the threads did meet */
}

/* ---- subjects ------------------------------------------------------------------------ */

static void test_page(void **state) {
    (void)state;
    run_board(zh_page_allocator, 20000, false);
}

static void test_c(void **state) {
    (void)state;
    run_board(zh_c_allocator, 5000, false);
}

static void test_raw_c(void **state) {
    (void)state;
    run_board(zh_raw_c_allocator, 5000, false);
}

/* A heap buffer large enough for every thread's blocks, with `fba` over it; the
 * caller frees the returned buffer. */
static void *init_fba_over_heap(zh_fba *fba) {
    size_t len = (size_t)THREADS * OPS * 600;
    void *buffer = malloc(len);
    assert_non_null(buffer);
    zh_fba_init(fba, buffer, len);
    return buffer;
}

static void test_fba_lock_free(void **state) {
    (void)state;
    zh_fba fba;
    void *buffer = init_fba_over_heap(&fba);
    run_board(zh_fba_thread_safe_allocator(&fba), 500, true);
    free(buffer);
}

/* The sbrk allocator over a fake break; fn is only called under its mutex. */
#define FAKE_BREAK (64u * 1024 * 1024)
static unsigned char *fake_lo, *fake_brk, *fake_hi;
static void *fake_sbrk(intptr_t increment) {
    if (increment == 0) return fake_brk;
    if (increment < 0 || (size_t)increment > (size_t)(fake_hi - fake_brk)) return (void *)-1;
    unsigned char *old = fake_brk;
    fake_brk += increment;
    return old;
}

static void test_sbrk(void **state) {
    (void)state;
    fake_lo = fake_brk = malloc(FAKE_BREAK);
    assert_non_null(fake_lo);
    fake_hi = fake_lo + FAKE_BREAK;
    zh_sbrk s;
    zh_sbrk_init(&s, fake_sbrk);
    run_board(zh_sbrk_allocator(&s), 3000, false);
    free(fake_lo);
}

/* thread_safe(failing(child)) with a never-failing counter that must balance. */
static void run_wrapped(zh_allocator child, size_t max_len, bool can_fail) {
    zh_failing counter;
    zh_failing_init(&counter, child, SIZE_MAX);
    zh_thread_safe ts;
    zh_thread_safe_init(&ts, zh_failing_allocator(&counter));
    run_board(zh_thread_safe_allocator(&ts), max_len, can_fail);
    zh_thread_safe_deinit(&ts);
    assert_int_equal(counter.allocations, counter.deallocations);
    assert_int_equal(counter.allocated_bytes, counter.freed_bytes);
}

static void test_wrapped_fba(void **state) {
    (void)state;
    zh_fba fba;
    void *buffer = init_fba_over_heap(&fba);
    run_wrapped(zh_fba_allocator(&fba), 500, true);
    free(buffer);
}

static void test_wrapped_arena(void **state) {
    (void)state;
    zh_arena arena;
    zh_arena_init(&arena, zh_page_allocator);
    run_wrapped(zh_arena_allocator(&arena), 2000, false);
    zh_arena_deinit(&arena);
}

static void test_wrapped_c(void **state) {
    (void)state;
    run_wrapped(zh_c_allocator, 3000, false);
}

/* A pool as a zh_allocator: blocks up to the item size are items. */
#define POOL_ITEM 256
static void *pool_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ret_addr;
    if (len > POOL_ITEM || zh_align_to_bytes(align) > 16) return NULL;
    return zh_pool_create((zh_pool *)ctx);
}
static bool pool_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                        uintptr_t ret_addr) {
    (void)ctx, (void)mem, (void)len, (void)align, (void)ret_addr;
    return new_len <= POOL_ITEM;
}
static void *pool_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                        uintptr_t ret_addr) {
    return pool_resize(ctx, mem, len, align, new_len, ret_addr) ? mem : NULL;
}
static void pool_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)len, (void)align, (void)ret_addr;
    zh_pool_destroy((zh_pool *)ctx, mem);
}
static const zh_allocator_vtable pool_vtable = {pool_alloc, pool_resize, pool_remap, pool_free};

static void test_wrapped_pool(void **state) {
    (void)state;
    zh_failing counter;
    zh_failing_init(&counter, zh_page_allocator, SIZE_MAX);
    zh_pool pool;
    zh_pool_init(&pool, zh_failing_allocator(&counter), (zh_pool_options){POOL_ITEM, 16, true});
    zh_thread_safe ts;
    zh_thread_safe_init(&ts, (zh_allocator){&pool, &pool_vtable});
    run_board(zh_thread_safe_allocator(&ts), POOL_ITEM, false);
    zh_thread_safe_deinit(&ts);
    zh_pool_deinit(&pool);
    assert_int_equal(counter.allocated_bytes, counter.freed_bytes);
}

static void test_smp(void **state) {
    (void)state;
    run_board(zh_smp_allocator, 20000, false);
}

/* The debug allocator (thread-safe by default) over the page allocator. */
static void test_debug(void **state) {
    (void)state;
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.stack_trace_frames = 0;
    zh_debug *d = zh_debug_create(&cfg);
    assert_non_null(d);
    run_board(zh_debug_allocator(d), 3000, false);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page),          cmocka_unit_test(test_c),
        cmocka_unit_test(test_raw_c),         cmocka_unit_test(test_fba_lock_free),
        cmocka_unit_test(test_sbrk),          cmocka_unit_test(test_wrapped_fba),
        cmocka_unit_test(test_wrapped_arena), cmocka_unit_test(test_wrapped_c),
        cmocka_unit_test(test_wrapped_pool),  cmocka_unit_test(test_debug),
        cmocka_unit_test(test_smp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
