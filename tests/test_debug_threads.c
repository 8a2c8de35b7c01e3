/* test_debug_threads.c - the debug allocator shared by many threads (run under TSan
 * by the tsan preset): allocations, in-place resizes, moving reallocs and frees from
 * every thread, blocks freed by another thread than the one that allocated them,
 * traces captured outside the lock, and a racing getter; afterwards nothing leaks,
 * the counters balance and nothing was reported. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

#include "zheap/debug.h"

enum { THREADS = 8, ROUNDS = 3000, LIVE = 32 };

typedef struct shared {
    zh_allocator a;
    zh_debug *d;
    _Atomic(size_t) reports;
    /* Hand-off slots: a block allocated by one thread, freed by the next. */
    _Atomic(uintptr_t) handoff[THREADS];
    _Atomic(size_t) handoff_len[THREADS];
} shared;

static void count_reports(void *user, zh_debug_event event, const char *text, size_t len) {
    (void)event;
    (void)text;
    (void)len;
    atomic_fetch_add(&((shared *)user)->reports, 1);
}

static size_t pick_len(unsigned *seed) {
    *seed = *seed * 1103515245u + 12345u;
    unsigned r = (*seed >> 8) % 1000;
    if (r < 5) return 150000 + r * 1000; /* a few large blocks */
    return 1 + (r * 37) % 4096;
}

static void worker(void *arg, size_t index) {
    shared *s = arg;
    unsigned seed = (unsigned)index * 7919u + 1;
    unsigned char *live[LIVE] = {0};
    size_t len[LIVE] = {0};
    for (int round = 0; round < ROUNDS; round++) {
        size_t k = (size_t)round % LIVE;
        if (live[k] != NULL) {
            assert_true(zht_all_bytes(live[k], len[k] < 16 ? len[k] : 16, (unsigned char)k));
            if (round % 7 == 0) { /* grow or shrink, maybe moving */
                size_t n = pick_len(&seed);
                unsigned char *q = zh_realloc(s->a, live[k], len[k], n);
                assert_non_null(q);
                live[k] = q, len[k] = n;
                memset(q, (int)k, n);
                continue;
            }
            zh_free(s->a, live[k], len[k]);
            live[k] = NULL;
        }
        len[k] = pick_len(&seed);
        live[k] = zh_alloc(s->a, len[k]);
        assert_non_null(live[k]);
        memset(live[k], (int)k, len[k]);
        if (round % 11 == 0) { /* pass a block to the next thread */
            size_t next = (index + 1) % THREADS;
            void *mine = zh_alloc(s->a, 48);
            assert_non_null(mine);
            uintptr_t old = atomic_exchange(&s->handoff[next], (uintptr_t)mine);
            if (old != 0) zh_free(s->a, (void *)old, 48);
        }
        uintptr_t given = atomic_exchange(&s->handoff[index], 0);
        if (given != 0) zh_free(s->a, (void *)given, 48);
        if (round % 100 == 0) (void)zh_debug_total_requested_bytes(s->d);
    }
    for (size_t k = 0; k < LIVE; k++)
        if (live[k] != NULL) zh_free(s->a, live[k], len[k]);
}

static void run(zh_debug_unwinder unwinder, size_t frames) {
    shared *s = calloc(1, sizeof *s);
    assert_non_null(s);
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.stack_trace_frames = frames;
    cfg.unwinder = unwinder;
    cfg.enable_memory_limit = true;
    cfg.report = count_reports;
    cfg.report_user = s;
    s->d = zh_debug_create(&cfg);
    assert_non_null(s->d);
    s->a = zh_debug_allocator(s->d);
    zht_run_threads(THREADS, worker, s);
    for (size_t i = 0; i < THREADS; i++) {
        uintptr_t left = atomic_exchange(&s->handoff[i], 0);
        if (left != 0) zh_free(s->a, (void *)left, 48);
    }
    zh_debug_stats st;
    zh_debug_get_stats(s->d, &st);
    assert_int_equal(st.live_count, 0);
    assert_int_equal(st.live_bytes, 0);
    assert_int_equal(st.total_allocations, st.total_frees);
    assert_true(st.total_allocations >= (size_t)THREADS * ROUNDS / 2);
    assert_int_equal(zh_debug_detect_leaks(s->d), 0);
    assert_int_equal(zh_debug_destroy(s->d), ZH_CHECK_OK);
    assert_int_equal(atomic_load(&s->reports), 0);
    free(s);
}

static void test_debug_threads_default_unwinder(void **state) {
    (void)state;
    run(ZH_DEBUG_UNWIND_DEFAULT, 6);
}

static void test_debug_threads_frame_pointer(void **state) {
    (void)state;
    run(ZH_DEBUG_UNWIND_FRAME_POINTER, 6);
}

static void test_debug_threads_no_traces(void **state) {
    (void)state;
    run(ZH_DEBUG_UNWIND_DEFAULT, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_debug_threads_default_unwinder),
        cmocka_unit_test(test_debug_threads_frame_pointer),
        cmocka_unit_test(test_debug_threads_no_traces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
