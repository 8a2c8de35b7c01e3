/* test_track.c - death tests: memory checkers see the bugs our allocators hide.
 *
 * Each case plants one bug in a child process: a use after an arena reset, a use
 * after a pool destroy, a write past the end of a fixed-buffer block, a leaked pool
 * item, an overflow from one arena or fixed-buffer block into the next one (ASan:
 * the redzone between them, reported at the first byte past the block); for the sbrk allocator (its size-class engine, shared with the wasm
 * allocator) a use after free over the real break, a write past the requested end
 * over a fake break in a heap buffer, a write past a block shrunk in place, a
 * leaked block; for the SMP allocator a use after a local, a remote, a size-less
 * (zh_smp_free_unsized, zh_smp_free_owned), a large-run and a huge (cached mapping)
 * free, writes past the requested end of a small and a large block (into the slot's
 * slack), and a leaked block; for the debug allocator a use after free, a write
 * into the slack after a block (its canary), a leaked block. With the hooks of
 * src/core/track.h active the checker must report it:
 *
 * - AddressSanitizer builds (the asan preset): the child's stderr must carry
 *   ASan's "use-after-poison" report; a leak of a pool item or an sbrk block is
 *   invisible to LeakSanitizer (it has no interface for blocks inside memory it
 *   does not allocate), so those cases are skipped there;
 * - ZHEAP_VALGRIND=ON builds run under memcheck (ctest -T memcheck,
 *   .ci/valgrind.sh): the child asks memcheck how many errors (or leaked bytes) it
 *   has reported, before and after the bug.
 *
 * A control case does the same work without the bug and must report nothing, so
 * the check can fail both ways. Elsewhere (no checker) every case is skipped. */
#define _POSIX_C_SOURCE 200809L
#include "test_support.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/track.h"
#include "platform/platform.h" /* zh__os_sbrk: the real break */
#include "zheap/arena.h"
#include "zheap/c.h"
#include "zheap/debug.h"
#include "zheap/fba.h"
#include "zheap/pool.h"
#include "zheap/sbrk.h"
#include "zheap/smp.h"

#include <pthread.h>

#if defined(ZH__TRACK_VALGRIND)
#include <valgrind/valgrind.h>
#define ON_CHECKER() (RUNNING_ON_VALGRIND != 0)
#elif defined(ZH__TRACK_ASAN)
#define ON_CHECKER() 1
#else
#define ON_CHECKER() 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define ZH_NOINLINE_TEST __attribute__((noinline))
#else
#define ZH_NOINLINE_TEST
#endif

/* Keeps the compiler from dropping or reordering the planted access. */
static void touch(volatile unsigned char *p) { p[0] = (unsigned char)(p[0] + 1); }

/* ---- the planted bugs (bug == false: the same work, done right) ---------------- */

static void arena_use_after_reset(bool bug) {
    zh_arena arena;
    zh_arena_init(&arena, zh_c_allocator);
    zh_allocator a = zh_arena_allocator(&arena);
    unsigned char *p = zh_alloc(a, 64);
    assert_non_null(p);
    memset(p, 1, 64);
    zh_arena_reset(&arena, ZH_ARENA_RETAIN_CAPACITY, 0); /* the buffer stays */
    if (!bug) p = zh_alloc(a, 64);
    touch(p + 10);
    zh_arena_deinit(&arena);
}

static void pool_use_after_destroy(bool bug) {
    zh_pool pool;
    zh_pool_init(&pool, zh_c_allocator, (zh_pool_options){64, 16, true});
    unsigned char *item = zh_pool_create(&pool);
    assert_non_null(item);
    memset(item, 2, 64);
    zh_pool_destroy(&pool, item);
    if (!bug) item = zh_pool_create(&pool);
    touch(item + 32); /* beyond the free-list link the pool keeps in the item */
    zh_pool_deinit(&pool);
}

static void fba_past_the_end(bool bug) {
    unsigned char *buffer = malloc(256);
    assert_non_null(buffer);
    zh_fba fba;
    zh_fba_init(&fba, buffer, 256);
    unsigned char *p = zh_alloc(zh_fba_allocator(&fba), 10);
    assert_non_null(p);
    memset(p, 3, 10);
    touch(p + (bug ? 10 : 9));
    free(buffer);
}

/* Tells the parent where the planted write first leaves its block: ASan's report
 * must name that address ("on address ..."). */
static void planted_at(const void *p) {
    fprintf(stderr, "planted at %p\n", p);
    fflush(stderr);
}

/* An overflow that runs from one arena block into the next one (both from the
 * inline fast path): under ASan the redzone between them faults at the first
 * byte past the first block's end. */
static void arena_into_next_block(bool bug) {
    zh_arena arena;
    zh_arena_init(&arena, zh_c_allocator);
    unsigned char *first = zh_arena_alloc_inline(&arena, 24, 8);
    unsigned char *second = zh_arena_alloc_inline(&arena, 24, 8);
    assert_non_null(first);
    assert_non_null(second);
    assert_true(second >= first + 24); /* the same buffer, the next block */
    memset(second, 1, 24);
    planted_at(first + 24);
    memset(first, 2, bug ? (size_t)(second - first) + 1 : 24);
    zh_arena_deinit(&arena);
}

/* The same in a fixed buffer on the heap (ASan is told about it), the first block
 * from the inline path, the second through the plain or the lock-free interface. */
static void fba_into_next_block(bool bug, bool thread_safe) {
    unsigned char *buffer = malloc(256);
    assert_non_null(buffer);
    zh_fba fba;
    zh_fba_init(&fba, buffer, 256);
    zh_allocator a = thread_safe ? zh_fba_thread_safe_allocator(&fba) : zh_fba_allocator(&fba);
    unsigned char *first = zh_fba_alloc_inline(&fba, 10, 1);
    unsigned char *second = zh_alloc_aligned(a, 10, 1);
    assert_non_null(first);
    assert_non_null(second);
    assert_true(second >= first + 10);
    memset(second, 3, 10);
    planted_at(first + 10);
    memset(first, 4, bug ? (size_t)(second - first) + 1 : 10);
    free(buffer);
}

static void fba_into_next_block_plain(bool bug) { fba_into_next_block(bug, false); }
static void fba_into_next_block_thread_safe(bool bug) { fba_into_next_block(bug, true); }

/* The sbrk allocator over the process's break. */
static void sbrk_use_after_free(bool bug) {
    static zh_sbrk sbrk;
    zh_sbrk_init(&sbrk, zh__os_sbrk);
    zh_allocator a = zh_sbrk_allocator(&sbrk);
    unsigned char *p = zh_alloc(a, 64);
    assert_non_null(p);
    memset(p, 5, 64);
    zh_free(a, p, 64);
    if (!bug) p = zh_alloc(a, 64);
    touch(p + 40); /* beyond the free-list link the engine keeps in the slot */
}

/* A fake break in a heap buffer (ASan describes no static array: track.h). */
static unsigned char *fake_lo, *fake_brk, *fake_hi;

static void *fake_sbrk(intptr_t increment) {
    if (increment < 0 || (size_t)increment > (size_t)(fake_hi - fake_brk)) return (void *)-1;
    unsigned char *old = fake_brk;
    fake_brk += increment;
    return old;
}

static zh_allocator fake_sbrk_allocator(zh_sbrk *sbrk) {
    size_t size = 4 * ZH_SBRK_BIGPAGE_SIZE;
    fake_lo = fake_brk = malloc(size);
    assert_non_null(fake_lo);
    fake_hi = fake_lo + size;
    zh_sbrk_init(sbrk, fake_sbrk);
    return zh_sbrk_allocator(sbrk);
}

static void sbrk_past_the_end(bool bug) {
    zh_sbrk sbrk;
    zh_allocator a = fake_sbrk_allocator(&sbrk);
    unsigned char *p = zh_alloc(a, 10); /* a 16-byte slot */
    assert_non_null(p);
    memset(p, 6, 10);
    touch(p + (bug ? 10 : 9));
    zh_free(a, p, 10);
}

static void sbrk_past_a_shrunk_block(bool bug) {
    zh_sbrk sbrk;
    zh_allocator a = fake_sbrk_allocator(&sbrk);
    unsigned char *p = zh_alloc(a, 30); /* a 32-byte slot */
    assert_non_null(p);
    memset(p, 7, 30);
    assert_true(zh_resize(a, p, 30, 20)); /* within the class: in place */
    touch(p + (bug ? 25 : 19));
    zh_free(a, p, 20);
}

/* Creates an item and drops the only pointer to it (noinline: no copy survives). */
#if defined(ZH__TRACK_VALGRIND)
ZH_NOINLINE_TEST static void leak_one_item(zh_pool *pool, bool bug) {
    unsigned char *item = zh_pool_create(pool);
    assert_non_null(item);
    memset(item, 4, 64);
    if (!bug) zh_pool_destroy(pool, item);
}
#endif

#if defined(ZH__TRACK_VALGRIND)
static void pool_leak(bool bug) {
    static zh_pool pool; /* static: the pool itself stays reachable */
    zh_pool_init(&pool, zh_c_allocator, (zh_pool_options){64, 16, true});
    leak_one_item(&pool, bug);
}
#endif

#if defined(ZH__TRACK_VALGRIND)
/* As leak_one_item: the second block of its class (the first one's address is also
 * its bigpage's key in the engine's class map). */
ZH_NOINLINE_TEST static void leak_one_block(zh_allocator a, bool bug) {
    unsigned char *first = zh_alloc(a, 48), *second = zh_alloc(a, 48);
    assert_non_null(first);
    assert_non_null(second);
    memset(second, 8, 48);
    zh_free(a, first, 48);
    if (!bug) zh_free(a, second, 48);
}

static void sbrk_leak(bool bug) {
    static zh_sbrk sbrk; /* static: the allocator itself stays reachable */
    zh_sbrk_init(&sbrk, zh__os_sbrk);
    leak_one_block(zh_sbrk_allocator(&sbrk), bug);
}
#endif

/* ---- the SMP allocator (its own block: the debug allocator's cases live apart) ------- */

#define smp zh_smp_allocator

/* A block of len bytes, filled, freed by `release`; touched at `at` afterwards (bug),
 * or a fresh block of the same size touched there (no bug). */
static void smp_use_after(size_t len, size_t at, void (*release)(unsigned char *, size_t),
                          bool bug) {
    unsigned char *p = zh_alloc(smp, len);
    assert_non_null(p);
    memset(p, 6, len);
    release(p, len);
    unsigned char *q = NULL;
    if (!bug) q = p = zh_alloc(smp, len);
    touch(p + at);
    if (q != NULL) zh_free(smp, q, len);
}

static void smp_release_sized(unsigned char *p, size_t len) { zh_free(smp, p, len); }
static void smp_release_unsized(unsigned char *p, size_t len) {
    (void)len;
    zh_smp_free_unsized(p);
}

static void smp_release_owned(unsigned char *p, size_t len) {
    (void)len;
    assert_true(zh_smp_free_owned(p));
}

static void *smp_free_elsewhere(void *p) {
    zh_smp_free_unsized(p);
    return NULL;
}
/* Freed by another thread: the block goes onto the owner heap's remote list. */
static void smp_release_remote(unsigned char *p, size_t len) {
    (void)len;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, smp_free_elsewhere, p), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
}

static void smp_small_use_after_free(bool bug) { smp_use_after(64, 40, smp_release_sized, bug); }
static void smp_unsized_use_after_free(bool bug) {
    smp_use_after(200, 100, smp_release_unsized, bug);
}
static void smp_owned_use_after_free(bool bug) {
    smp_use_after(200, 120, smp_release_owned, bug);
}
static void smp_remote_use_after_free(bool bug) {
    smp_use_after(96, 50, smp_release_remote, bug);
}
static void smp_large_use_after_free(bool bug) {
    smp_use_after(200000, 150000, smp_release_sized, bug);
}
/* 8 MiB: a huge block, whose mapping is cached when freed. */
static void smp_huge_use_after_free(bool bug) {
    smp_use_after((size_t)8 << 20, (size_t)5 << 20, smp_release_sized, bug);
}

/* Bytes [len, slot) of a block are its slack: a 40-byte request gets a 48-byte slot,
 * a 100000-byte one a 128 KiB run. */
static void smp_past_the_end(size_t len, bool bug) {
    unsigned char *p = zh_alloc(smp, len);
    assert_non_null(p);
    assert_true(zh_smp_usable_size(p) > len); /* widens the block: a second one is checked */
    unsigned char *q = zh_alloc(smp, len);
    assert_non_null(q);
    memset(q, 7, len);
    touch(q + (bug ? len : len - 1));
    zh_free(smp, q, len);
    zh_free(smp, p, len);
}
static void smp_small_past_the_end(bool bug) { smp_past_the_end(40, bug); }
static void smp_large_past_the_end(bool bug) { smp_past_the_end(100000, bug); }

/* A small block shrunk in place (120 -> 113 bytes, both in the 128-byte class) loses
 * its tail. */
static void smp_past_a_shrunk_block(bool bug) {
    unsigned char *p = zh_alloc(smp, 120);
    assert_non_null(p);
    memset(p, 9, 120);
    assert_true(zh_resize(smp, p, 120, 113));
    touch(p + (bug ? 116 : 112));
    zh_free(smp, p, 113);
}

#if defined(ZH__TRACK_VALGRIND)
ZH_NOINLINE_TEST static void smp_leak_one_block(bool bug) {
    unsigned char *first = zh_alloc(smp, 48), *second = zh_alloc(smp, 48);
    assert_non_null(first);
    assert_non_null(second);
    memset(second, 8, 48);
    zh_free(smp, first, 48);
    if (!bug) zh_free(smp, second, 48);
}
static void smp_leak(bool bug) { smp_leak_one_block(bug); }
#endif

/* ---- the debug allocator (src/debug.c) -------------------------------------------- */

/* Reports of the debug allocator itself are not what these cases look for. */
static void quiet_sink(void *user, zh_debug_event event, const char *text, size_t len) {
    (void)user, (void)event, (void)text, (void)len;
}

static zh_debug *debug_instance(void) {
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.report = quiet_sink;
    zh_debug *d = zh_debug_create(&cfg);
    assert_non_null(d);
    return d;
}

static void debug_use_after_free(bool bug) {
    zh_debug *d = debug_instance();
    zh_allocator a = zh_debug_allocator(d);
    void *keep = zh_alloc(a, 64); /* the bucket stays (no retirement) */
    unsigned char *p = zh_alloc(a, 64);
    assert_non_null(keep);
    assert_non_null(p);
    memset(p, 9, 64);
    zh_free(a, p, 64);
    if (!bug) p = zh_alloc(a, 64);
    touch(p + 20);
    if (!bug) zh_free(a, p, 64);
    zh_free(a, keep, 64);
    zh_debug_destroy(d);
}

static void debug_past_the_end(bool bug) {
    zh_debug *d = debug_instance();
    zh_allocator a = zh_debug_allocator(d);
    unsigned char *p = zh_alloc(a, 20); /* a 32-byte slot: 12 bytes of canary */
    assert_non_null(p);
    memset(p, 10, 20);
    touch(p + (bug ? 24 : 19));
    zh_free(a, p, 20);
    zh_debug_destroy(d);
}

static void debug_large_past_the_end(bool bug) {
    zh_debug *d = debug_instance();
    zh_allocator a = zh_debug_allocator(d);
    size_t len = ZH_DEBUG_PAGE_SIZE_DEFAULT + 3; /* large: its canary tail follows */
    unsigned char *p = zh_alloc(a, len);
    assert_non_null(p);
    memset(p, 11, len);
    touch(p + (bug ? len + 1 : len - 1));
    zh_free(a, p, len);
    zh_debug_destroy(d);
}

#if defined(ZH__TRACK_VALGRIND)
/* As leak_one_item: the block's only pointer dies with the frame. */
ZH_NOINLINE_TEST static void leak_one_debug_block(zh_allocator a, bool bug) {
    unsigned char *p = zh_alloc(a, 40);
    assert_non_null(p);
    memset(p, 12, 40);
    if (!bug) zh_free(a, p, 40);
}

static void debug_leak(bool bug) {
    static zh_debug *d; /* static: the instance stays reachable (no destroy) */
    d = debug_instance();
    leak_one_debug_block(zh_debug_allocator(d), bug);
}
#endif

/* ---- running one in a child ------------------------------------------------------ */

typedef enum verdict { REPORTED, SILENT } verdict;

#if defined(ZH__TRACK_VALGRIND)
static unsigned long errors_now(void) { return VALGRIND_COUNT_ERRORS; }
static unsigned long leaked_now(void) {
    unsigned long leaked = 0, dubious = 0, reachable = 0, suppressed = 0;
    VALGRIND_DO_LEAK_CHECK;
    VALGRIND_COUNT_LEAKS(leaked, dubious, reachable, suppressed);
    (void)dubious, (void)reachable, (void)suppressed;
    return leaked;
}
#endif

/* Runs plant(bug) in a child; its stderr is collected into out. The child exits 0
 * when the checker reported something (memcheck), or is ended by ASan. */
static verdict run_child(void (*plant)(bool), bool bug, bool is_leak, char *out, size_t cap) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
#if defined(ZH__TRACK_VALGRIND)
        unsigned long before = is_leak ? leaked_now() : errors_now();
        plant(bug);
        unsigned long after = is_leak ? leaked_now() : errors_now();
        _exit(after > before ? 0 : 3);
#else
        (void)is_leak;
        plant(bug);
        _exit(3);
#endif
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t got;
    while (n < cap - 1 && (got = read(fds[0], out + n, cap - 1 - n)) > 0) n += (size_t)got;
    out[n] = '\0';
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
#if defined(ZH__TRACK_VALGRIND)
    /* 0: the child saw its counters move; 97: memcheck's --error-exitcode (the
     * ctest -T memcheck options) replaced that code because it found errors. */
    return WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 97)
               ? REPORTED
               : SILENT;
#else
    bool asan = strstr(out, "AddressSanitizer") != NULL;
    return !(WIFEXITED(status) && WEXITSTATUS(status) == 3) && asan ? REPORTED : SILENT;
#endif
}

static void expect_reported(void (*plant)(bool), bool is_leak, const char *asan_kind) {
    if (!ON_CHECKER()) {
        skip();
        return;
    }
    static char out[1 << 16];
    if (run_child(plant, false, is_leak, out, sizeof out) != SILENT)
        fail_msg("the control case was reported:\n%s", out);
    if (run_child(plant, true, is_leak, out, sizeof out) != REPORTED)
        fail_msg("the planted bug went unreported:\n%s", out);
#if defined(ZH__TRACK_ASAN)
    if (strstr(out, asan_kind) == NULL) fail_msg("expected an ASan %s report:\n%s", asan_kind, out);
#else
    (void)asan_kind;
#endif
}

/* expect_reported, and ASan's report is at the address the child planted_at. The
 * redzones exist under ASan only: memcheck (no redzones in its builds) would see
 * a write into a live neighbour, which is legal to it, so it skips these. */
static void expect_reported_at(void (*plant)(bool), const char *asan_kind) {
#if defined(ZH__TRACK_ASAN)
    expect_reported(plant, false, asan_kind);
    static char out[1 << 16];
    assert_int_equal(run_child(plant, true, false, out, sizeof out), REPORTED);
    const char *at = strstr(out, "planted at ");
    assert_non_null(at);
    char want[64];
    assert_int_equal(sscanf(at, "planted at %40s", want + strlen("on address ")), 1);
    memcpy(want, "on address ", strlen("on address "));
    if (strstr(out, want) == NULL) fail_msg("expected the report %s:\n%s", want, out);
    if (strstr(out, "WRITE of size") == NULL) fail_msg("expected a WRITE report:\n%s", out);
#else
    (void)plant, (void)asan_kind;
    skip();
#endif
}

static void test_arena_overflow_into_next_block(void **state) {
    (void)state;
    expect_reported_at(arena_into_next_block, "use-after-poison");
}

static void test_fba_overflow_into_next_block(void **state) {
    (void)state;
    expect_reported_at(fba_into_next_block_plain, "use-after-poison");
}

static void test_fba_thread_safe_overflow_into_next_block(void **state) {
    (void)state;
    expect_reported_at(fba_into_next_block_thread_safe, "use-after-poison");
}

static void test_arena_use_after_reset(void **state) {
    (void)state;
    expect_reported(arena_use_after_reset, false, "use-after-poison");
}

static void test_pool_use_after_destroy(void **state) {
    (void)state;
    expect_reported(pool_use_after_destroy, false, "use-after-poison");
}

static void test_fba_past_the_end(void **state) {
    (void)state;
    expect_reported(fba_past_the_end, false, "use-after-poison");
}

static void test_pool_item_leak(void **state) {
    (void)state;
#if defined(ZH__TRACK_VALGRIND)
    expect_reported(pool_leak, true, "");
#else
    skip(); /* LeakSanitizer cannot be told about items inside the pool's buffers */
#endif
}

static void test_sbrk_use_after_free(void **state) {
    (void)state;
    expect_reported(sbrk_use_after_free, false, "use-after-poison");
}

static void test_sbrk_past_the_end(void **state) {
    (void)state;
    expect_reported(sbrk_past_the_end, false, "use-after-poison");
}

static void test_sbrk_past_a_shrunk_block(void **state) {
    (void)state;
    expect_reported(sbrk_past_a_shrunk_block, false, "use-after-poison");
}

static void test_sbrk_block_leak(void **state) {
    (void)state;
#if defined(ZH__TRACK_VALGRIND)
    expect_reported(sbrk_leak, true, "");
#else
    skip(); /* as for pool items: LeakSanitizer has no interface for them */
#endif
}

/* ---- the SMP allocator's cases ---------------------------------------------------- */

static void test_smp_small_use_after_free(void **state) {
    (void)state;
    expect_reported(smp_small_use_after_free, false, "use-after-poison");
}
static void test_smp_unsized_use_after_free(void **state) {
    (void)state;
    expect_reported(smp_unsized_use_after_free, false, "use-after-poison");
}
static void test_smp_owned_use_after_free(void **state) {
    (void)state;
    expect_reported(smp_owned_use_after_free, false, "use-after-poison");
}
static void test_smp_remote_use_after_free(void **state) {
    (void)state;
    expect_reported(smp_remote_use_after_free, false, "use-after-poison");
}
static void test_smp_large_use_after_free(void **state) {
    (void)state;
    expect_reported(smp_large_use_after_free, false, "use-after-poison");
}
static void test_smp_huge_use_after_free(void **state) {
    (void)state;
    expect_reported(smp_huge_use_after_free, false, "use-after-poison");
}
static void test_smp_small_past_the_end(void **state) {
    (void)state;
    expect_reported(smp_small_past_the_end, false, "use-after-poison");
}
static void test_smp_large_past_the_end(void **state) {
    (void)state;
    expect_reported(smp_large_past_the_end, false, "use-after-poison");
}
static void test_smp_past_a_shrunk_block(void **state) {
    (void)state;
    expect_reported(smp_past_a_shrunk_block, false, "use-after-poison");
}
static void test_smp_block_leak(void **state) {
    (void)state;
#if defined(ZH__TRACK_VALGRIND)
    expect_reported(smp_leak, true, "");
#else
    skip(); /* as for pool items: LeakSanitizer has no interface for them */
#endif
}

static void test_debug_use_after_free(void **state) {
    (void)state;
    expect_reported(debug_use_after_free, false, "use-after-poison");
}

static void test_debug_past_the_end(void **state) {
    (void)state;
    expect_reported(debug_past_the_end, false, "use-after-poison");
}

static void test_debug_large_past_the_end(void **state) {
    (void)state;
    expect_reported(debug_large_past_the_end, false, "use-after-poison");
}

static void test_debug_block_leak(void **state) {
    (void)state;
#if defined(ZH__TRACK_VALGRIND)
    expect_reported(debug_leak, true, "");
#else
    skip(); /* as for pool items: LeakSanitizer has no interface for them */
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_use_after_reset),
        cmocka_unit_test(test_pool_use_after_destroy),
        cmocka_unit_test(test_fba_past_the_end),
        cmocka_unit_test(test_arena_overflow_into_next_block),
        cmocka_unit_test(test_fba_overflow_into_next_block),
        cmocka_unit_test(test_fba_thread_safe_overflow_into_next_block),
        cmocka_unit_test(test_pool_item_leak),
        cmocka_unit_test(test_sbrk_use_after_free),
        cmocka_unit_test(test_sbrk_past_the_end),
        cmocka_unit_test(test_sbrk_past_a_shrunk_block),
        cmocka_unit_test(test_sbrk_block_leak),
        /* the SMP allocator */
        cmocka_unit_test(test_smp_small_use_after_free),
        cmocka_unit_test(test_smp_unsized_use_after_free),
        cmocka_unit_test(test_smp_owned_use_after_free),
        cmocka_unit_test(test_smp_remote_use_after_free),
        cmocka_unit_test(test_smp_large_use_after_free),
        cmocka_unit_test(test_smp_huge_use_after_free),
        cmocka_unit_test(test_smp_small_past_the_end),
        cmocka_unit_test(test_smp_large_past_the_end),
        cmocka_unit_test(test_smp_past_a_shrunk_block),
        cmocka_unit_test(test_smp_block_leak),
        /* the debug allocator */
        cmocka_unit_test(test_debug_use_after_free),
        cmocka_unit_test(test_debug_past_the_end),
        cmocka_unit_test(test_debug_large_past_the_end),
        cmocka_unit_test(test_debug_block_leak),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
