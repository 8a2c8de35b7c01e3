/* test_thread_safe.c - zh_thread_safe: forwarding of every call, conformance over
 * single-threaded children, and many threads sharing one child. */
#include "test_support.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zheap/arena.h"
#include "zheap/c.h"
#include "zheap/fba.h"
#include "zheap/page.h"
#include "zheap/thread_safe.h"

/* ---- forwarding ----------------------------------------------------------------- */

/* A child that records the last call it received and answers as told. */
typedef struct recorder {
    const char *call;
    void *mem;
    size_t len, new_len;
    zh_align align;
    uintptr_t ret_addr;
    void *answer_ptr;
    bool answer_bool;
} recorder;

static void record(recorder *r, const char *call, void *mem, size_t len, zh_align align,
                   size_t new_len, uintptr_t ret_addr) {
    r->call = call, r->mem = mem, r->len = len, r->align = align;
    r->new_len = new_len, r->ret_addr = ret_addr;
}

static void *rec_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    record(ctx, "alloc", NULL, len, align, 0, ret_addr);
    return ((recorder *)ctx)->answer_ptr;
}
static bool rec_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                       uintptr_t ret_addr) {
    record(ctx, "resize", mem, len, align, new_len, ret_addr);
    return ((recorder *)ctx)->answer_bool;
}
static void *rec_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                       uintptr_t ret_addr) {
    record(ctx, "remap", mem, len, align, new_len, ret_addr);
    return ((recorder *)ctx)->answer_ptr;
}
static void rec_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    record(ctx, "free", mem, len, align, 0, ret_addr);
}
static const zh_allocator_vtable recorder_vtable = {rec_alloc, rec_resize, rec_remap,
                                                    rec_free};

static void test_thread_safe_forwards_every_call_unchanged(void **state) {
    (void)state;
    recorder rec = {0};
    zh_thread_safe ts;
    zh_thread_safe_init(&ts, (zh_allocator){&rec, &recorder_vtable});
    zh_allocator a = zh_thread_safe_allocator(&ts);
    char block[64];

    rec.answer_ptr = block;
    assert_ptr_equal(zh_raw_alloc(a, 48, 3, 0x1234), block);
    assert_string_equal(rec.call, "alloc");
    assert_int_equal(rec.len, 48);
    assert_int_equal(rec.align, 3);
    assert_int_equal(rec.ret_addr, 0x1234);

    rec.answer_ptr = NULL; /* out-of-memory passes through as NULL */
    assert_null(zh_raw_alloc(a, 7, 0, 1));

    rec.answer_bool = true;
    assert_true(zh_raw_resize(a, block, 48, 3, 60, 0x55));
    assert_string_equal(rec.call, "resize");
    assert_ptr_equal(rec.mem, block);
    assert_int_equal(rec.len, 48);
    assert_int_equal(rec.new_len, 60);
    assert_int_equal(rec.ret_addr, 0x55);
    rec.answer_bool = false;
    assert_false(zh_raw_resize(a, block, 60, 3, 61, 0x56));

    rec.answer_ptr = block + 8;
    assert_ptr_equal(zh_raw_remap(a, block, 60, 3, 20, 0x77), block + 8);
    assert_string_equal(rec.call, "remap");
    assert_int_equal(rec.new_len, 20);
    assert_int_equal(rec.align, 3);
    assert_int_equal(rec.ret_addr, 0x77);

    zh_raw_free(a, block + 8, 20, 3, 0x99);
    assert_string_equal(rec.call, "free");
    assert_ptr_equal(rec.mem, block + 8);
    assert_int_equal(rec.len, 20);
    assert_int_equal(rec.ret_addr, 0x99);
    zh_thread_safe_deinit(&ts);
}

/* The mutex is released after each call: a long sequence on one thread (which
 * would deadlock on a leaked lock) and re-initialisation after deinit work. */
static void test_thread_safe_lock_released_and_reinit(void **state) {
    (void)state;
    zh_thread_safe ts;
    for (int round = 0; round < 2; round++) {
        zh_thread_safe_init(&ts, zh_c_allocator);
        zh_allocator a = zh_thread_safe_allocator(&ts);
        for (int i = 0; i < 100; i++) {
            char *p = zh_alloc(a, 10);
            assert_non_null(p);
            char *q = zh_realloc(a, p, 10, 1000);
            assert_non_null(q);
            if (zh_resize(a, q, 1000, 500)) {
                zh_free(a, q, 500);
            } else {
                zh_free(a, q, 1000);
            }
        }
        zh_thread_safe_deinit(&ts);
    }
}

/* ---- conformance ------------------------------------------------------------------ */


/* As Zig's FixedBufferAllocator tests: one buffer, reset between suite functions. */
static void test_thread_safe_conformance_over_fba(void **state) {
    (void)state;
    const size_t len = (size_t)16 << 20;
    void *buffer = malloc(len);
    assert_non_null(buffer);
    zh_fba fba;
    zh_fba_init(&fba, buffer, len);
    zh_thread_safe ts;
    zh_thread_safe_init(&ts, zh_fba_allocator(&fba));
    for (size_t i = 0; i < ZH_TEST_SUITE_LEN; i++) {
        zh_fba_reset(&fba);
        zht_assert_test_case(i, zh_thread_safe_allocator(&ts));
    }
    zh_thread_safe_deinit(&ts);
    free(buffer);
}

static void test_thread_safe_conformance_over_arena(void **state) {
    (void)state;
    zh_arena arena;
    zh_arena_init(&arena, zh_page_allocator);
    zh_thread_safe ts;
    zh_thread_safe_init(&ts, zh_arena_allocator(&arena));
    zht_assert_conformance(zh_thread_safe_allocator(&ts));
    zh_thread_safe_deinit(&ts);
    zh_arena_deinit(&arena);
}

static void test_thread_safe_conformance_over_c(void **state) {
    (void)state;
    zh_thread_safe ts;
    zh_thread_safe_init(&ts, zh_c_allocator);
    zht_assert_conformance(zh_thread_safe_allocator(&ts));
    zh_thread_safe_deinit(&ts);
}

/* ---- out of memory ------------------------------------------------------------------ */

/* The wrapper adds no allocation of its own and passes NULL through: a realloc
 * that fails leaves the block intact and nothing leaks. */
static bool wrapped_scenario(zh_allocator child, void *ctx) {
    (void)ctx;
    zh_thread_safe ts;
    zh_thread_safe_init(&ts, child);
    zh_allocator a = zh_thread_safe_allocator(&ts);
    bool completed = false;
    char *p = zh_alloc(a, 100);
    char *q = NULL;
    size_t p_len = 100;
    if (p == NULL) goto out;
    memset(p, 'x', 100);
    char *grown = zh_realloc(a, p, 100, 100000);
    if (grown == NULL) {
        assert_true(zht_all_bytes(p, 100, 'x'));
        goto out;
    }
    assert_true(zht_all_bytes(grown, 100, 'x'));
    p = grown, p_len = 100000;
    q = zh_alloc(a, 64);
    if (q == NULL) goto out;
    zh_free(a, q, 64);
    completed = true;
out:
    if (p != NULL) zh_free(a, p, p_len);
    zh_thread_safe_deinit(&ts);
    return completed;
}

static void test_thread_safe_oom_sweep(void **state) {
    (void)state;
    assert_true(zht_oom_sweep(zh_c_allocator, wrapped_scenario, NULL) >= 2);
}

/* ---- many threads, one child ----------------------------------------------------------
 * Each thread keeps a few live blocks filled with a pattern unique to the thread
 * and the block, and mixes alloc, in-place resize, realloc and free. Before a
 * block is resized, moved or freed its pattern is verified, so overlap between
 * threads (a child corrupted by unsynchronised use) shows up as a mismatch. The
 * child is wrapped by a zh_failing that never fails: its plain, unsynchronised
 * counters are only consistent (and TSan-clean) if the mutex serialises every
 * call, and afterwards they must add up to what the threads did. */

#define STRESS_THREADS 8
#define STRESS_OPS 3000
#define STRESS_SLOTS 16
#define STRESS_MAX_LEN 300

typedef struct stress_result {
    size_t allocations;    /* blocks obtained (alloc, or realloc that moved) */
    size_t bytes_out;      /* bytes handed to this thread, counting in-place growth */
    size_t bytes_back;     /* bytes given back, counting in-place shrinking */
    size_t failures;       /* NULL from an allocation that should have succeeded */
    size_t corruptions;    /* pattern mismatches */
} stress_result;

typedef struct stress_shared {
    zh_allocator a;
    stress_result results[STRESS_THREADS];
} stress_shared;

typedef struct block {
    unsigned char *p;
    size_t len;
    unsigned seed;
} block;

static uint64_t next_random(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void paint(block *b, size_t from) {
    for (size_t i = from; i < b->len; i++) b->p[i] = zht_pattern_byte(b->seed, i);
}

static bool intact(const block *b, size_t upto) {
    for (size_t i = 0; i < upto; i++)
        if (b->p[i] != zht_pattern_byte(b->seed, i)) return false;
    return true;
}

static void stress_step(zh_allocator a, block *b, uint64_t *rng, unsigned seed,
                        stress_result *r) {
    uint64_t x = next_random(rng);
    size_t new_len = 1 + (size_t)(x >> 8) % STRESS_MAX_LEN;
    if (b->p == NULL) {
        b->p = zh_alloc(a, new_len);
        if (b->p == NULL) {
            r->failures++;
            return;
        }
        b->len = new_len, b->seed = seed;
        r->allocations++, r->bytes_out += new_len;
        paint(b, 0);
        return;
    }
    if (!intact(b, b->len)) r->corruptions++;
    switch (x % 4) {
    case 0: /* free */
        zh_free(a, b->p, b->len);
        r->bytes_back += b->len;
        b->p = NULL;
        break;
    case 1: /* in place, may fail */
        if (zh_resize(a, b->p, b->len, new_len)) {
            if (new_len > b->len) r->bytes_out += new_len - b->len;
            else r->bytes_back += b->len - new_len;
            size_t old = b->len;
            b->len = new_len;
            if (new_len > old) paint(b, old);
        }
        break;
    default: { /* realloc: in place or moved */
        uintptr_t old_addr = (uintptr_t)b->p;
        unsigned char *q = zh_realloc(a, b->p, b->len, new_len);
        if (q == NULL) {
            r->failures++;
            break;
        }
        size_t keep = b->len < new_len ? b->len : new_len;
        if ((uintptr_t)q != old_addr) { /* these children never move without copying */
            r->allocations++, r->bytes_out += new_len, r->bytes_back += b->len;
        } else if (new_len > b->len) {
            r->bytes_out += new_len - b->len;
        } else {
            r->bytes_back += b->len - new_len;
        }
        b->p = q, b->len = new_len;
        if (!intact(b, keep)) r->corruptions++;
        paint(b, keep);
        break;
    }
    }
}

static void stress_thread(void *arg, size_t index) {
    stress_shared *shared = arg;
    stress_result *r = &shared->results[index];
    block blocks[STRESS_SLOTS] = {{0}};
    uint64_t rng = 0x9e3779b97f4a7c15u * (index + 1);
    for (unsigned op = 0; op < STRESS_OPS; op++) {
        size_t slot = (size_t)(next_random(&rng) % STRESS_SLOTS);
        unsigned seed = (unsigned)(index * 100003u + op);
        stress_step(shared->a, &blocks[slot], &rng, seed, r);
    }
    for (size_t i = 0; i < STRESS_SLOTS; i++) {
        if (blocks[i].p == NULL) continue;
        if (!intact(&blocks[i], blocks[i].len)) r->corruptions++;
        zh_free(shared->a, blocks[i].p, blocks[i].len);
        r->bytes_back += blocks[i].len;
    }
}

/* Runs the stress over thread_safe(failing(child)) and checks the totals. */
static void stress_over(zh_allocator child) {
    zh_failing counter;
    zh_failing_init(&counter, child, SIZE_MAX);
    zh_thread_safe ts;
    zh_thread_safe_init(&ts, zh_failing_allocator(&counter));
    stress_shared shared;
    memset(&shared, 0, sizeof shared);
    shared.a = zh_thread_safe_allocator(&ts);

    zht_run_threads(STRESS_THREADS, stress_thread, &shared);

    stress_result total = {0};
    for (size_t i = 0; i < STRESS_THREADS; i++) {
        const stress_result *r = &shared.results[i];
        assert_int_equal(r->corruptions, 0);
        assert_int_equal(r->failures, 0);
        assert_true(r->allocations > 0);
        assert_int_equal(r->bytes_out, r->bytes_back);
        total.allocations += r->allocations;
        total.bytes_out += r->bytes_out;
        total.bytes_back += r->bytes_back;
    }
    assert_int_equal(counter.allocations, total.allocations);
    assert_int_equal(counter.deallocations, total.allocations);
    assert_int_equal(counter.allocated_bytes, total.bytes_out);
    assert_int_equal(counter.freed_bytes, total.bytes_back);
    zh_thread_safe_deinit(&ts);
}

static void test_thread_safe_stress_over_fba(void **state) {
    (void)state;
    /* Frees rarely give bytes back to an fba, so size the buffer for the worst
     * case: every step allocating the largest block plus its padding. */
    const size_t len = (size_t)STRESS_THREADS * STRESS_OPS * (STRESS_MAX_LEN + 64);
    void *buffer = malloc(len);
    assert_non_null(buffer);
    zh_fba fba;
    zh_fba_init(&fba, buffer, len);
    stress_over(zh_fba_allocator(&fba));
    free(buffer);
}

static void test_thread_safe_stress_over_arena(void **state) {
    (void)state;
    zh_arena arena;
    zh_arena_init(&arena, zh_page_allocator);
    stress_over(zh_arena_allocator(&arena));
    zh_arena_deinit(&arena);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thread_safe_forwards_every_call_unchanged),
        cmocka_unit_test(test_thread_safe_lock_released_and_reinit),
        cmocka_unit_test(test_thread_safe_conformance_over_fba),
        cmocka_unit_test(test_thread_safe_conformance_over_arena),
        cmocka_unit_test(test_thread_safe_conformance_over_c),
        cmocka_unit_test(test_thread_safe_oom_sweep),
        cmocka_unit_test(test_thread_safe_stress_over_fba),
        cmocka_unit_test(test_thread_safe_stress_over_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
