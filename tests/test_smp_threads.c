/* test_smp_threads.c - the SMP allocator under threads (label: stress, so the tsan
 * preset runs it): a stress test in the spirit of mimalloc's test-stress, more live
 * threads than cores x 64, thread-exit reclamation, batched cross-thread frees
 * (also for an owner that exited), a producer/consumer pair whose memory must not
 * drift, heaps taking their pages from chunks of their own, and fork() from a
 * multi-threaded parent. Bounded in work, never in time. */
#define _POSIX_C_SOURCE 200809L
#include "test_support.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zheap/smp.h"

#define SMP zh_smp_allocator

static zh_smp_stats stats(void) {
    zh_smp_stats s;
    zh_smp_get_stats(&s);
    return s;
}

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* ---- blocks that check themselves ---------------------------------------------------
 * The first word holds the length; every other byte (for big blocks: the first and
 * last KiB and one byte per 4 KiB) holds a pattern derived from the length, so a
 * block that was overwritten, handed out twice or freed early fails its check. */

typedef struct tblock {
    size_t len;
} tblock;

static unsigned char pattern_of(size_t len, size_t i) { return (unsigned char)(len * 7 + i / 8); }

static bool byte_checked(size_t len, size_t i) {
    return len <= 8192 || i < 1024 || i >= len - 1024 || i % 4096 == 0;
}

static tblock *tblock_new(size_t len) {
    if (len < sizeof(tblock)) len = sizeof(tblock);
    unsigned char *p = zh_alloc(SMP, len);
    assert_non_null(p);
    ((tblock *)p)->len = len;
    for (size_t i = sizeof(tblock); i < len; i += byte_checked(len, i) ? 1 : 4096 - i % 4096)
        p[i] = pattern_of(len, i);
    return (tblock *)p;
}

static void tblock_free(tblock *b, bool sized) {
    if (b == NULL) return;
    size_t len = b->len;
    const unsigned char *p = (const unsigned char *)b;
    assert_true(zh_smp_usable_size(b) >= len);
    for (size_t i = sizeof(tblock); i < len; i += byte_checked(len, i) ? 1 : 4096 - i % 4096)
        if (p[i] != pattern_of(len, i)) fail_msg("block %p (%zu bytes) corrupt at %zu", (const void *)b, len, i);
    if (sized) zh_free(SMP, b, len);
    else zh_smp_free_unsized(b);
}

/* Mostly small sizes, some up to 64 KiB, rarely large and huge ones. */
static size_t random_size(uint64_t *rng) {
    uint64_t r = rng_next(rng);
    switch (r % 100) {
    case 0: return 65536 + (size_t)(r >> 8) % (6u << 20); /* large and huge */
    case 1: case 2: case 3: return 1 + (size_t)(r >> 8) % 65536;
    default: return 1 + (size_t)(r >> 8) % 512;
    }
}

/* ---- the stress test ------------------------------------------------------------------ */

enum { STRESS_THREADS = 8, STRESS_ROUNDS = 3, STRESS_OPS = 6000, STRESS_LOCAL = 200,
       STRESS_TRANSFER = 256 };

static _Atomic(tblock *) transfer[STRESS_TRANSFER];

static void stress_worker(void *arg, size_t index) {
    (void)arg;
    uint64_t rng = 0x9e3779b97f4a7c15u * (index + 1);
    tblock *local[STRESS_LOCAL] = {0};
    for (int op = 0; op < STRESS_OPS; op++) {
        uint64_t r = rng_next(&rng);
        size_t slot = (size_t)(r >> 16) % STRESS_LOCAL;
        if (r % 4 == 0) {
            /* Swap with the transfer array: the block taken out was allocated by
             * some other thread, and is freed here. */
            size_t t = (size_t)(r >> 32) % STRESS_TRANSFER;
            tblock *given = local[slot] != NULL ? local[slot] : tblock_new(random_size(&rng));
            local[slot] = NULL;
            tblock *taken = atomic_exchange_explicit(&transfer[t], given, memory_order_acq_rel);
            tblock_free(taken, r & 8);
        } else if (local[slot] != NULL) {
            tblock_free(local[slot], r & 8);
            local[slot] = NULL;
        } else {
            local[slot] = tblock_new(random_size(&rng));
        }
    }
    for (size_t i = 0; i < STRESS_LOCAL; i++) tblock_free(local[i], i & 1);
}

static void test_smp_stress_cross_thread(void **state) {
    (void)state;
    zh_smp_stats before = stats();
    for (int round = 0; round < STRESS_ROUNDS; round++) /* threads exit between rounds */
        zht_run_threads(STRESS_THREADS, stress_worker, NULL);
    for (size_t t = 0; t < STRESS_TRANSFER; t++)
        tblock_free(atomic_exchange(&transfer[t], NULL), t & 1);
    zh_smp_stats after = stats();
    for (unsigned c = 0; c < ZH_SMP_CLASS_COUNT; c++)
        assert_int_equal(after.classes[c].live, before.classes[c].live);
    assert_int_equal(after.large_live, before.large_live);
    /* Heap records are reused: three rounds of 8 threads need about 8. */
    assert_true(after.heaps_created <= before.heaps_created + 2 * STRESS_THREADS);
}

/* ---- many live threads ---------------------------------------------------------------- */

enum { MANY_THREADS = 320, MANY_BLOCKS = 16 };

typedef struct many_ctx {
    pthread_barrier_t all_allocated, stats_read, all_freed;
    tblock *blocks[MANY_THREADS][MANY_BLOCKS];
} many_ctx;

static void many_worker(void *arg, size_t index) {
    many_ctx *m = arg;
    uint64_t rng = index * 2654435761u + 1;
    for (int i = 0; i < MANY_BLOCKS; i++) m->blocks[index][i] = tblock_new(1 + rng_next(&rng) % 3000);
    pthread_barrier_wait(&m->all_allocated);
    pthread_barrier_wait(&m->stats_read);
    /* Free the neighbour's blocks: every free is remote. */
    size_t other = (index + 1) % MANY_THREADS;
    for (int i = 0; i < MANY_BLOCKS; i++) tblock_free(m->blocks[other][i], i & 1);
    pthread_barrier_wait(&m->all_freed);
    for (int i = 0; i < MANY_BLOCKS; i++) tblock_free(tblock_new(100), true);
}

static void *many_observer(void *arg) {
    many_ctx *m = arg;
    pthread_barrier_wait(&m->all_allocated);
    zh_smp_stats s = stats();
    pthread_barrier_wait(&m->stats_read);
    pthread_barrier_wait(&m->all_freed);
    size_t *heaps = malloc(sizeof *heaps);
    *heaps = s.heaps;
    return heaps;
}

static void test_smp_more_threads_than_cores_times_64(void **state) {
    (void)state;
    static many_ctx m;
    zh_smp_stats before = stats();
    unsigned participants = MANY_THREADS + 1;
    assert_int_equal(pthread_barrier_init(&m.all_allocated, NULL, participants), 0);
    assert_int_equal(pthread_barrier_init(&m.stats_read, NULL, participants), 0);
    assert_int_equal(pthread_barrier_init(&m.all_freed, NULL, participants), 0);
    pthread_t observer;
    assert_int_equal(pthread_create(&observer, NULL, many_observer, &m), 0);
    zht_run_threads(MANY_THREADS, many_worker, &m);
    void *result;
    assert_int_equal(pthread_join(observer, &result), 0);
    size_t live_heaps = *(size_t *)result;
    free(result);
    print_message("%zu thread heaps live at once\n", live_heaps);
    assert_true(live_heaps >= MANY_THREADS);
    zh_smp_stats after = stats();
    assert_true(after.heaps <= before.heaps + 1);
    for (unsigned c = 0; c < ZH_SMP_CLASS_COUNT; c++)
        assert_int_equal(after.classes[c].live, before.classes[c].live);
    pthread_barrier_destroy(&m.all_allocated);
    pthread_barrier_destroy(&m.stats_read);
    pthread_barrier_destroy(&m.all_freed);
}

/* ---- thread exit ------------------------------------------------------------------------ */

enum { EXIT_BLOCKS = 2000, EXIT_SIZE = 700 };
static void *exit_blocks[EXIT_BLOCKS];

static void exit_allocator(void *arg, size_t index) {
    (void)arg;
    (void)index;
    for (int i = 0; i < EXIT_BLOCKS; i++) {
        exit_blocks[i] = zh_alloc(SMP, EXIT_SIZE);
        assert_non_null(exit_blocks[i]);
        memset(exit_blocks[i], 0x3c, EXIT_SIZE);
    }
}

static void exit_half_reuser(void *arg, size_t index) {
    (void)index;
    size_t *reused = arg;
    static void *mine[EXIT_BLOCKS / 2];
    for (int i = 0; i < EXIT_BLOCKS / 2; i++) {
        mine[i] = zh_alloc(SMP, EXIT_SIZE);
        assert_non_null(mine[i]);
        for (int k = 0; k < EXIT_BLOCKS; k += 2)
            if (exit_blocks[k] == mine[i]) ++*reused;
    }
    for (int i = 0; i < EXIT_BLOCKS / 2; i++) zh_free(SMP, mine[i], EXIT_SIZE);
}

/* A thread allocates and exits; its pages are abandoned, another thread frees the
 * blocks (the pages go back when empty) or allocates the same class (it adopts the
 * pages and reuses the freed blocks). Nothing leaks. */
static void test_smp_thread_exit_reclaims(void **state) {
    (void)state;
    zh_smp_stats before = stats();
    zht_run_threads(1, exit_allocator, NULL);
    zh_smp_stats exited = stats();
    assert_true(exited.active >= before.active + EXIT_BLOCKS * EXIT_SIZE);
    assert_int_equal(exited.heaps, before.heaps);
    /* Free every other block from this thread, then a new thread allocates as many:
     * it must get them back (adoption), not fresh memory. */
    for (int i = 0; i < EXIT_BLOCKS; i += 2) zh_free(SMP, exit_blocks[i], EXIT_SIZE);
    size_t reused = 0;
    zht_run_threads(1, exit_half_reuser, &reused);
    print_message("%zu of %d blocks freed after their thread exited were reused\n", reused,
                  EXIT_BLOCKS / 2);
    assert_true(reused > 0);
    for (int i = 1; i < EXIT_BLOCKS; i += 2) zh_free(SMP, exit_blocks[i], EXIT_SIZE);
    zh_smp_stats after = stats();
    assert_true(after.active <= before.active + 4 * 65536);
    assert_int_equal(after.heaps, before.heaps);
}

/* A thread frees a few blocks another thread allocated and exits: the blocks reach
 * their owner, and once the owner takes its remote frees (zh_smp_trim) nothing is
 * live or held any more. */
enum { EXIT_FREED_BLOCKS = 8, EXIT_FREED_SIZE = 1000 };
static void *exit_freed_blocks[EXIT_FREED_BLOCKS];

static void exit_freed_freer(void *arg, size_t index) {
    (void)arg;
    (void)index;
    for (int i = 0; i < EXIT_FREED_BLOCKS; i++) zh_free(SMP, exit_freed_blocks[i], EXIT_FREED_SIZE);
}

static void test_smp_frees_of_an_exited_thread_reach_the_owner(void **state) {
    (void)state;
    unsigned c = 19; /* the 1024-byte class */
    zh_smp_trim();
    zh_smp_stats before = stats();
    for (int i = 0; i < EXIT_FREED_BLOCKS; i++) {
        exit_freed_blocks[i] = zh_alloc(SMP, EXIT_FREED_SIZE);
        assert_non_null(exit_freed_blocks[i]);
        memset(exit_freed_blocks[i], 0x5d, EXIT_FREED_SIZE);
    }
    zht_run_threads(1, exit_freed_freer, NULL);
    zh_smp_trim();
    zh_smp_stats after = stats();
    assert_int_equal(after.classes[c].block_size, 1024);
    assert_int_equal(after.classes[c].live, before.classes[c].live);
    assert_true(after.active <= before.active);
}

/* ---- batched remote frees -------------------------------------------------------------------
 * A thread that frees blocks of another heap collects them in batches and sends
 * them on its slow paths, at exit and on zh_smp_trim; the owner frees them when it
 * takes its remote list. */

enum { BATCH_BLOCKS = 1000, BATCH_FEW = 5, BATCH_SIZE = 1000 };

typedef struct batch_ctx {
    void *blocks[BATCH_BLOCKS];
    atomic_int step; /* the freer: 1 after the few, 3 after the rest; main: 2, 4 */
} batch_ctx;

/* Waits until a two-thread handshake reaches `step`. */
static void step_wait(atomic_int *at, int step) {
    while (atomic_load(at) != step) sched_yield();
}

static void *batch_freer(void *arg) {
    batch_ctx *b = arg; /* a thread that has not allocated: its first free makes its heap */
    for (int i = 0; i < BATCH_FEW; i++) zh_free(SMP, b->blocks[i], BATCH_SIZE);
    zh_smp_trim(); /* sends the batch, though it is not full */
    atomic_store(&b->step, 1);
    step_wait(&b->step, 2);
    for (int i = BATCH_FEW; i < BATCH_BLOCKS; i++) zh_free(SMP, b->blocks[i], BATCH_SIZE);
    zh_smp_trim();
    atomic_store(&b->step, 3);
    step_wait(&b->step, 4); /* alive until the owner has checked */
    return NULL;
}

static void test_smp_remote_frees_reach_the_owner_in_batches(void **state) {
    (void)state;
    unsigned c = 19; /* the 1024-byte class */
    static batch_ctx b;
    atomic_store(&b.step, 0);
    for (int i = 0; i < BATCH_BLOCKS; i++) {
        b.blocks[i] = zh_alloc(SMP, BATCH_SIZE);
        assert_non_null(b.blocks[i]);
        memset(b.blocks[i], 0x3c, BATCH_SIZE);
    }
    zh_smp_trim();
    zh_smp_stats before = stats();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, batch_freer, &b), 0);
    step_wait(&b.step, 1);
    zh_smp_trim(); /* the owner takes its remote list */
    assert_int_equal(stats().classes[c].live, before.classes[c].live - BATCH_FEW);
    atomic_store(&b.step, 2);
    step_wait(&b.step, 3);
    zh_smp_trim();
    zh_smp_stats freed = stats();
    assert_int_equal(freed.classes[c].live, before.classes[c].live - BATCH_BLOCKS);
    /* The owner allocates as many again: its own pages serve them (the freer's
     * page of batches is the only new one). */
    for (int i = 0; i < BATCH_BLOCKS; i++) assert_non_null(b.blocks[i] = zh_alloc(SMP, BATCH_SIZE));
    assert_true(stats().active <= before.active + 65536);
    atomic_store(&b.step, 4);
    assert_int_equal(pthread_join(t, NULL), 0);
    for (int i = 0; i < BATCH_BLOCKS; i++) zh_free(SMP, b.blocks[i], BATCH_SIZE);
}

/* A batch waits in this thread's outbox for a heap whose thread then exits: sent
 * later, it reaches the released record (whose pages were abandoned), or the thread
 * that took the record over since. Either way every block is freed. */
enum { ORPHAN_BLOCKS = 10, ORPHAN_SIZE = 1000 };

typedef struct orphan_ctx {
    void *blocks[ORPHAN_BLOCKS];
    atomic_int step;
} orphan_ctx;

/* Allocates the blocks, waits until main freed them, exits. */
static void *orphan_owner(void *arg) {
    orphan_ctx *o = arg;
    for (int i = 0; i < ORPHAN_BLOCKS; i++) {
        o->blocks[i] = zh_alloc(SMP, ORPHAN_SIZE);
        assert_non_null(o->blocks[i]);
        memset(o->blocks[i], 0x6e, ORPHAN_SIZE);
    }
    atomic_store(&o->step, 1);
    step_wait(&o->step, 2);
    return NULL;
}

/* Takes a heap (the exited owner's record, recycled), then takes its remote list
 * once main has sent its batch. */
static void *orphan_successor(void *arg) {
    orphan_ctx *o = arg;
    zh_free(SMP, zh_alloc(SMP, 64), 64);
    atomic_store(&o->step, 3);
    step_wait(&o->step, 4);
    zh_smp_trim();
    return NULL;
}

static void orphan_round(bool successor) {
    unsigned c = 19; /* the 1024-byte class */
    static orphan_ctx o;
    atomic_store(&o.step, 0);
    zh_free(SMP, zh_alloc(SMP, 64), 64); /* main has a heap, so its frees are batched */
    zh_smp_trim();
    zh_smp_stats before = stats();
    pthread_t owner, next;
    assert_int_equal(pthread_create(&owner, NULL, orphan_owner, &o), 0);
    step_wait(&o.step, 1);
    for (int i = 0; i < ORPHAN_BLOCKS; i++) zh_free(SMP, o.blocks[i], ORPHAN_SIZE);
    atomic_store(&o.step, 2);
    assert_int_equal(pthread_join(owner, NULL), 0);
    if (successor) {
        assert_int_equal(pthread_create(&next, NULL, orphan_successor, &o), 0);
        step_wait(&o.step, 3);
    }
    zh_smp_trim(); /* sends the batch to the exited owner's record */
    if (successor) {
        atomic_store(&o.step, 4);
        assert_int_equal(pthread_join(next, NULL), 0);
    }
    zh_smp_trim();
    assert_int_equal(stats().classes[c].live, before.classes[c].live);
}

static void test_smp_batches_for_an_exited_thread_are_freed(void **state) {
    (void)state;
    orphan_round(false);
    orphan_round(true);
}

/* ---- producer / consumer ---------------------------------------------------------------- */

enum { PC_RING = 512, PC_MESSAGES = 60000 };

typedef struct pc_ctx {
    _Atomic(tblock *) ring[PC_RING];
    size_t peak_active;
} pc_ctx;

static void pc_worker(void *arg, size_t index) {
    pc_ctx *pc = arg;
    uint64_t rng = 12345;
    for (size_t n = 0; n < PC_MESSAGES; n++) {
        _Atomic(tblock *) *slot = &pc->ring[n % PC_RING];
        if (index == 0) { /* producer */
            tblock *b = tblock_new(16 + rng_next(&rng) % 1000);
            tblock *expected = NULL;
            while (!atomic_compare_exchange_weak(slot, &expected, b)) {
                expected = NULL;
                sched_yield();
            }
            if (n % 4096 == 0) {
                zh_smp_stats s = stats();
                if (s.active > pc->peak_active) pc->peak_active = s.active;
            }
        } else { /* consumer */
            tblock *b;
            while ((b = atomic_exchange(slot, NULL)) == NULL) sched_yield();
            tblock_free(b, n & 1);
        }
    }
}

/* Constant live memory (a ring of at most 512 blocks under 1 KiB) must keep the
 * allocator's footprint constant: freed blocks go back to the producer's pages.
 * (Zig's SmpAllocator grows without bound here.) */
static void test_smp_producer_consumer_does_not_drift(void **state) {
    (void)state;
    static pc_ctx pc;
    zh_smp_stats before = stats();
    zht_run_threads(2, pc_worker, &pc);
    zh_smp_stats after = stats();
    size_t grown = pc.peak_active > before.active ? pc.peak_active - before.active : 0;
    print_message("producer/consumer: active grew by at most %zu KiB for %d messages\n",
                  grown >> 10, PC_MESSAGES);
    assert_true(grown <= ((size_t)4 << 20));
    for (unsigned c = 0; c < ZH_SMP_CLASS_COUNT; c++)
        assert_int_equal(after.classes[c].live, before.classes[c].live);
}

/* ---- fork ---------------------------------------------------------------------------------- */

static atomic_bool fork_stop;

static void *fork_busy(void *arg) {
    uint64_t rng = (uintptr_t)arg;
    while (!atomic_load(&fork_stop)) {
        tblock *b[8];
        for (int i = 0; i < 8; i++) b[i] = tblock_new(random_size(&rng) % 70000 + 1);
        for (int i = 0; i < 8; i++) tblock_free(b[i], i & 1);
    }
    return NULL;
}

/* In the child: small, large and huge blocks, alloc and free, stats. */
static int child_allocates(void) {
    uint64_t rng = 99;
    for (int i = 0; i < 2000; i++) {
        size_t len = random_size(&rng);
        unsigned char *p = zh_alloc(SMP, len);
        if (p == NULL) return 1;
        memset(p, 0x42, len);
        zh_smp_free_unsized(p);
    }
    zh_smp_stats s;
    zh_smp_get_stats(&s);
    return s.mapped > 0 ? 0 : 2;
}

/* ---- placement -------------------------------------------------------------------------
 * Two threads that take new pages in turn get them from 1 MiB chunks of their own, not
 * from neighbouring units: with no freed unit resident (after zh_smp_trim), each heap
 * claims a chunk whose units are all free. Blocks of 7000 bytes: two to a one-unit
 * page, so every other allocation takes a page. */

enum { TURN_BLOCKS = 24, TURN_LEN = 7000 };

typedef struct turn_arg {
    pthread_barrier_t *turn;
    int id;
    void *blocks[TURN_BLOCKS];
} turn_arg;

static void *turn_thread(void *arg) {
    turn_arg *t = arg;
    for (int r = 0; r < 2 * TURN_BLOCKS; r++) {
        if (r % 2 == t->id) assert_non_null(t->blocks[r / 2] = zh_alloc(SMP, TURN_LEN));
        pthread_barrier_wait(t->turn);
    }
    return NULL;
}

static uintptr_t chunk_of(const void *p) { return (uintptr_t)p >> 20; }

static void test_smp_heaps_take_pages_from_chunks_of_their_own(void **state) {
    (void)state;
    zh_smp_trim();
    pthread_barrier_t turn;
    assert_int_equal(pthread_barrier_init(&turn, NULL, 2), 0);
    turn_arg args[2] = {{&turn, 0, {0}}, {&turn, 1, {0}}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, turn_thread, &args[i]), 0);
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_join(t[i], NULL), 0);
    pthread_barrier_destroy(&turn);
    /* Interleaved pages from the lowest free units would put every block of thread 1
     * in a chunk of thread 0's; a first page adopted from an exited thread may. */
    int shared = 0;
    for (int i = 0; i < TURN_BLOCKS; i++) {
        bool in_other = false;
        for (int j = 0; j < TURN_BLOCKS; j++)
            in_other |= chunk_of(args[1].blocks[i]) == chunk_of(args[0].blocks[j]);
        shared += in_other;
    }
    assert_in_range(shared, 0, 2);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < TURN_BLOCKS; i++) zh_free(SMP, args[k].blocks[i], TURN_LEN);
}

static void test_smp_fork_from_threaded_parent(void **state) {
    (void)state;
    enum { BUSY = 3, FORKS = 4 };
    pthread_t busy[BUSY];
    atomic_store(&fork_stop, false);
    for (uintptr_t i = 0; i < BUSY; i++)
        assert_int_equal(pthread_create(&busy[i], NULL, fork_busy, (void *)(i + 1)), 0);
    for (int f = 0; f < FORKS; f++) {
        for (int i = 0; i < 200; i++) tblock_free(tblock_new(1 + (size_t)i * 37), true);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) _exit(child_allocates());
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    atomic_store(&fork_stop, true);
    for (int i = 0; i < BUSY; i++) assert_int_equal(pthread_join(busy[i], NULL), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smp_stress_cross_thread),
        cmocka_unit_test(test_smp_more_threads_than_cores_times_64),
        cmocka_unit_test(test_smp_thread_exit_reclaims),
        cmocka_unit_test(test_smp_frees_of_an_exited_thread_reach_the_owner),
        cmocka_unit_test(test_smp_remote_frees_reach_the_owner_in_batches),
        cmocka_unit_test(test_smp_batches_for_an_exited_thread_are_freed),
        cmocka_unit_test(test_smp_producer_consumer_does_not_drift),
        cmocka_unit_test(test_smp_heaps_take_pages_from_chunks_of_their_own),
        cmocka_unit_test(test_smp_fork_from_threaded_parent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
