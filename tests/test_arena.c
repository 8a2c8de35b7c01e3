/* test_arena.c - zh_arena: conformance, last-block resize/free, reset modes, the
 * growth policy, out-of-memory at every allocation point, and an arena over a
 * fixed buffer. */
#include "test_support.h"

#include <stdlib.h>
#include <string.h>

#include "zheap/arena.h"
#include "zheap/c.h"
#include "zheap/fba.h"
#include "zheap/page.h"

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)

/* White-box view of a buffer header (arena.c): the next link, then the size. */
static struct zh__arena_buffer *buffer_next(struct zh__arena_buffer *b) {
    return *(struct zh__arena_buffer **)(void *)b;
}
static size_t buffer_size(struct zh__arena_buffer *b) {
    return ((size_t *)(void *)b)[1];
}

static size_t live_bytes(const zh_failing *f) { return f->allocated_bytes - f->freed_bytes; }

/* The model of what the arena skips before a block at `align` from its cursor
 * `cur` (zheap/internal.h): the alignment padding, and under AddressSanitizer
 * also a redzone of zh__track_redzone() bytes and a start on an 8-byte granule. */
static size_t gap_before(const void *cur, size_t align) {
    size_t redzone = zh__track_redzone();
    uintptr_t at = (uintptr_t)cur;
    if (redzone != 0 && align < 8) align = 8;
    return (size_t)(((at + redzone + align - 1) & ~(uintptr_t)(align - 1)) - at);
}

/* ---- conformance ------------------------------------------------------------------ */

static void conformance_over(zh_allocator child) {
    zh_failing counter;
    zht_counting_init(&counter, child);
    zh_arena arena;
    zh_arena_init(&arena, zh_failing_allocator(&counter));
    zht_assert_conformance(zh_arena_allocator(&arena));
    zh_arena_deinit(&arena);
    assert_int_equal(zh_arena_query_capacity(&arena), 0);
    zht_assert_balanced(&counter);
}

static void test_arena_conformance_page(void **state) {
    (void)state;
    conformance_over(zh_page_allocator);
}

static void test_arena_conformance_c(void **state) {
    (void)state;
    conformance_over(zh_c_allocator);
}

/* ---- fixture: an empty arena over zh_c_allocator, deinitialised after the test ------- */

static int setup_arena_over_c(void **state) {
    zh_arena *arena = malloc(sizeof *arena);
    if (arena == NULL) return -1;
    zh_arena_init(arena, zh_c_allocator);
    *state = arena;
    return 0;
}

static int teardown_arena(void **state) {
    zh_arena_deinit(*state);
    free(*state);
    return 0;
}

/* ---- the inline fast path --------------------------------------------------------- */

static void test_arena_inline_alloc(void **state) {
    zh_arena *arena = *state;
    void *zero = zh_arena_alloc_inline(arena, 0, 8);
    assert_non_null(zero);
    assert_true(zh__is_aligned(zero, 8));
    for (size_t align = 1; align <= 4096; align *= 2) {
        for (size_t len = 1; len < 300; len += 37) {
            unsigned char *p = zh_arena_alloc_inline(arena, len, align);
            assert_non_null(p);
            assert_true(zh__is_aligned(p, align));
            memset(p, (int)len, len);
        }
    }
    /* Consecutive small blocks in one buffer are adjacent: no per-block header
     * (under ASan, only the redzone between them). */
    unsigned char *a = zh_arena_alloc_inline(arena, 24, 8);
    unsigned char *b = zh_arena_alloc_inline(arena, 24, 8);
    assert_non_null(a);
    assert_non_null(b);
    if (b > a) assert_true(b == a + 24 + gap_before(a + 24, 8) || b - a > 4096); /* or new buffer */
}

static void alloc_bad_alignment(void *arg) {
    zh_arena *arena = arg;
    (void)zh_arena_alloc_inline(arena, 16, 3);
}

static void exported_alloc_bad_alignment(void *arg) {
    zh_arena *arena = arg;
    (void)zh_arena_alloc(arena, 16, 3);
}

/* The inline-path policy (docs/guide.md): an inline fast path checks everything
 * its exported function checks. The arena's one check (the alignment) is cheap,
 * so both make it in every build. */
static void test_arena_inline_bad_alignment_aborts(void **state) {
    zh_arena *arena = *state;
    zht_expect_abort(alloc_bad_alignment, arena, "zh_arena_alloc");
    zht_expect_abort(exported_alloc_bad_alignment, arena, "zh_arena_alloc");
}

/* zh_arena_alloc and zh_arena_alloc_inline hand out the same blocks: over two
 * equally aligned fixed buffers, at the same offsets. */
static void test_arena_exported_alloc_matches_inline(void **state) {
    (void)state;
    static _Alignas(4096) unsigned char buffers[2][64 * 1024];
    zh_fba inline_fba, exported_fba;
    zh_fba_init(&inline_fba, buffers[0], sizeof buffers[0]);
    zh_fba_init(&exported_fba, buffers[1], sizeof buffers[1]);
    zh_arena inline_arena, exported_arena;
    zh_arena_init(&inline_arena, zh_fba_allocator(&inline_fba));
    zh_arena_init(&exported_arena, zh_fba_allocator(&exported_fba));
    assert_non_null(zh_arena_alloc(&exported_arena, 0, 64));
    const unsigned char *inline_first = zh_arena_alloc_inline(&inline_arena, 1, 1);
    const unsigned char *exported_first = zh_arena_alloc(&exported_arena, 1, 1);
    assert_non_null(inline_first);
    assert_non_null(exported_first);
    for (size_t len = 1; len < 600; len += 53) {
        size_t align = (size_t)1 << (len % 7);
        const unsigned char *i = zh_arena_alloc_inline(&inline_arena, len, align);
        const unsigned char *e = zh_arena_alloc(&exported_arena, len, align);
        assert_non_null(i);
        assert_non_null(e);
        assert_int_equal(i - inline_first, e - exported_first);
    }
    zh_arena_deinit(&inline_arena);
    zh_arena_deinit(&exported_arena);
}

/* ---- resize and free of the last block --------------------------------------------- */

static void test_arena_last_allocation_in_place(void **state) {
    zh_arena *arena = *state;
    zh_allocator a = zh_arena_allocator(arena);

    unsigned char *first = zh_alloc(a, 32);
    unsigned char *last = zh_alloc(a, 32);
    assert_non_null(first);
    assert_non_null(last);

    /* The last block grows and shrinks in place. */
    assert_true(zh_resize(a, last, 32, 200));
    assert_true(zh_resize(a, last, 200, 64));
    assert_ptr_equal(zh_remap(a, last, 64, 128), last);

    /* An earlier block may shrink but not grow. */
    assert_false(zh_resize(a, first, 32, 33));
    assert_true(zh_resize(a, first, 32, 16));
    assert_null(zh_remap(a, first, 16, 64));

    /* Freeing the last block gives its bytes back: the next block reuses them. */
    zh_free(a, last, 128);
    unsigned char *again = zh_alloc(a, 128);
    assert_ptr_equal(again, last);

    /* Freeing an earlier block does nothing. */
    size_t before = (size_t)(arena->end - arena->cur);
    zh_free(a, first, 16);
    assert_int_equal((size_t)(arena->end - arena->cur), before);

    /* Growing the last block past its buffer fails in place; realloc moves it. */
    assert_false(zh_resize(a, again, 128, 1 * MIB));
    memset(again, 0x5c, 128);
    unsigned char *moved = zh_realloc(a, again, 128, 1 * MIB);
    assert_non_null(moved);
    assert_true(zht_all_bytes(moved, 128, 0x5c));
}

static void test_arena_realloc_of_last_block_stays(void **state) {
    zh_arena *arena = *state;
    zh_allocator a = zh_arena_allocator(arena);
    /* A growing array whose block is the most recent never moves while it fits. */
    size_t len = 8;
    unsigned char *arr = zh_alloc(a, len);
    assert_non_null(arr);
    while (len < 2048) {
        unsigned char *grown = zh_realloc(a, arr, len, len * 2);
        assert_ptr_equal(grown, arr);
        len *= 2;
    }
}

/* ---- reset ----------------------------------------------------------------------------- */

/* Fills the arena with blocks of many sizes so that it holds several buffers. */
static void fill_several_buffers(zh_arena *arena, size_t total) {
    size_t sizes[] = {1, 24, 100, 333, 1000, 4000};
    size_t done = 0;
    for (size_t i = 0; done < total; i++) {
        size_t len = sizes[i % (sizeof sizes / sizeof sizes[0])];
        unsigned char *p = zh_alloc(zh_arena_allocator(arena), len);
        assert_non_null(p);
        memset(p, 1, len);
        done += len;
    }
    assert_non_null(arena->buffers);
    assert_non_null(buffer_next(arena->buffers)); /* at least two buffers */
}

static void test_arena_reset_empty(void **state) {
    (void)state;
    zh_failing counter;
    zht_counting_init(&counter, zh_c_allocator);
    zh_arena arena;
    zh_arena_init(&arena, zh_failing_allocator(&counter));
    assert_true(zh_arena_reset(&arena, ZH_ARENA_FREE_ALL, 0));
    assert_true(zh_arena_reset(&arena, ZH_ARENA_RETAIN_CAPACITY, 0));
    assert_true(zh_arena_reset(&arena, ZH_ARENA_RETAIN_WITH_LIMIT, 1 * MIB));
    assert_int_equal(zh_arena_query_capacity(&arena), 0);
    assert_int_equal(counter.alloc_index, 0); /* the child was never called */
    assert_non_null(zh_alloc(zh_arena_allocator(&arena), 10));
    zh_arena_deinit(&arena);
    zht_assert_balanced(&counter);
}

static void test_arena_reset_free_all(void **state) {
    (void)state;
    zh_failing counter;
    zht_counting_init(&counter, zh_c_allocator);
    zh_arena arena;
    zh_arena_init(&arena, zh_failing_allocator(&counter));
    fill_several_buffers(&arena, 100 * KIB);
    assert_true(zh_arena_query_capacity(&arena) >= 100 * KIB);
    assert_true(zh_arena_reset(&arena, ZH_ARENA_FREE_ALL, 0));
    assert_int_equal(zh_arena_query_capacity(&arena), 0);
    zht_assert_balanced(&counter);
    zh_arena_deinit(&arena);
}

static void test_arena_reset_retain_capacity(void **state) {
    (void)state;
    zh_failing counter;
    zht_counting_init(&counter, zh_c_allocator);
    zh_arena arena;
    zh_arena_init(&arena, zh_failing_allocator(&counter));
    fill_several_buffers(&arena, 100 * KIB);
    size_t capacity = zh_arena_query_capacity(&arena);
    assert_true(zh_arena_reset(&arena, ZH_ARENA_RETAIN_CAPACITY, 0));
    assert_int_equal(zh_arena_query_capacity(&arena), capacity);
    assert_null(buffer_next(arena.buffers)); /* merged into one buffer */

    /* The whole capacity is now usable without calling the child (but for the
     * redzone before the block under ASan). */
    size_t allocations = counter.allocations;
    size_t whole = capacity - gap_before(arena.cur, 1);
    unsigned char *p = zh_arena_alloc_inline(&arena, whole, 1);
    assert_non_null(p);
    memset(p, 2, whole);
    assert_int_equal(counter.allocations, allocations);

    /* Reset then reuse, again and again: no child allocation any more. */
    size_t step = 1000 + gap_before(NULL, 1); /* a block and its redzone (ASan) */
    for (int round = 0; round < 5; round++) {
        assert_true(zh_arena_reset(&arena, ZH_ARENA_RETAIN_CAPACITY, 0));
        for (size_t used = 0; used + step <= capacity; used += step)
            assert_non_null(zh_arena_alloc_inline(&arena, 1000, 1));
        assert_int_equal(counter.allocations, allocations);
    }
    zh_arena_deinit(&arena);
    zht_assert_balanced(&counter);
}

static void test_arena_reset_with_limit(void **state) {
    (void)state;
    zh_failing counter;
    zht_counting_init(&counter, zh_c_allocator);
    zh_arena arena;
    zh_arena_init(&arena, zh_failing_allocator(&counter));

    /* A limit above the capacity keeps the capacity. */
    fill_several_buffers(&arena, 100 * KIB);
    size_t capacity = zh_arena_query_capacity(&arena);
    assert_true(zh_arena_reset(&arena, ZH_ARENA_RETAIN_WITH_LIMIT, capacity * 4));
    assert_int_equal(zh_arena_query_capacity(&arena), capacity);

    /* A limit between the largest buffer and the capacity is honoured. */
    fill_several_buffers(&arena, 3 * capacity);
    size_t largest = 0;
    for (struct zh__arena_buffer *b = arena.buffers; b != NULL; b = buffer_next(b))
        if (buffer_size(b) - ZH_ARENA_HEADER_SIZE > largest)
            largest = buffer_size(b) - ZH_ARENA_HEADER_SIZE;
    size_t between = largest + (zh_arena_query_capacity(&arena) - largest) / 2;
    assert_true(zh_arena_reset(&arena, ZH_ARENA_RETAIN_WITH_LIMIT, between));
    assert_int_equal(zh_arena_query_capacity(&arena), between);

    /* A limit smaller than any buffer shrinks the kept one. */
    fill_several_buffers(&arena, 3 * between);
    assert_true(zh_arena_reset(&arena, ZH_ARENA_RETAIN_WITH_LIMIT, 100));
    assert_int_equal(zh_arena_query_capacity(&arena), 100);
    unsigned char *p = zh_alloc(zh_arena_allocator(&arena), 80);
    assert_non_null(p);
    memset(p, 3, 80);

    /* A zero limit frees everything. */
    assert_true(zh_arena_reset(&arena, ZH_ARENA_RETAIN_WITH_LIMIT, 0));
    assert_int_equal(zh_arena_query_capacity(&arena), 0);
    zht_assert_balanced(&counter);
    zh_arena_deinit(&arena);
}

static void test_arena_reset_reports_refused_merge(void **state) {
    (void)state;
    zh_failing child;
    zh_failing_init(&child, zh_c_allocator, SIZE_MAX);
    zh_arena arena;
    zh_arena_init(&arena, zh_failing_allocator(&child));
    fill_several_buffers(&arena, 100 * KIB);
    /* From now on the child refuses every allocation and every resize. */
    child.fail_index = child.alloc_index;
    zh_failing_set_resize_fail_index(&child, child.resize_index);

    assert_false(zh_arena_reset(&arena, ZH_ARENA_RETAIN_CAPACITY, 0));
    /* Still usable: the kept buffer serves allocations, the rest was returned. */
    size_t kept = zh_arena_query_capacity(&arena);
    assert_true(kept > 0);
    unsigned char *p = zh_alloc(zh_arena_allocator(&arena), kept / 2);
    assert_non_null(p);
    memset(p, 4, kept / 2);
    assert_null(zh_alloc(zh_arena_allocator(&arena), kept)); /* needs the child: refused */
    zh_arena_deinit(&arena);
    zht_assert_balanced(&child);
}

static void reset_bad_mode(void *arg) {
    (void)zh_arena_reset(arg, (zh_arena_reset_mode)42, 0);
}

static void test_arena_reset_bad_mode_aborts(void **state) {
    (void)state;
    if (!zh_safety_enabled()) skip();
    zh_arena arena;
    zh_arena_init(&arena, zh_c_allocator);
    zht_expect_abort(reset_bad_mode, &arena, "zh_arena_reset");
}

/* Zig's "reset with preheating": rounds of random blocks with a retaining reset;
 * a round that fits in the retained capacity never calls the child. */
static void test_arena_reset_with_preheating(void **state) {
    (void)state;
    zh_failing counter;
    zht_counting_init(&counter, zh_c_allocator);
    zh_arena arena;
    zh_arena_init(&arena, zh_failing_allocator(&counter));
    zh_allocator a = zh_arena_allocator(&arena);
    unsigned seed = 12345;
    for (int round = 0; round < 25; round++) {
        (void)zh_arena_reset(&arena, ZH_ARENA_RETAIN_CAPACITY, 0);
        size_t capacity = zh_arena_query_capacity(&arena);
        size_t allocations = counter.allocations, resizes = counter.resize_index;
        seed = seed * 1103515245u + 12345u;
        size_t total = 256 + (seed >> 8) % (16384 - 256);
        size_t used = 0, worst = 0;
        while (used < total) {
            seed = seed * 1103515245u + 12345u;
            size_t len = 16 + (seed >> 8) % 241;
            unsigned char *p = zh_alloc_aligned(a, len, 32);
            assert_non_null(p);
            assert_true(zh__is_aligned(p, 32));
            used += len;
            worst += len + 31;
        }
        if (worst <= capacity) {
            assert_int_equal(counter.allocations, allocations);
            assert_int_equal(counter.resize_index, resizes);
        }
    }
    zh_arena_deinit(&arena);
    zht_assert_balanced(&counter);
}

/* ---- growth policy ---------------------------------------------------------------- */

static void test_arena_huge_request_gets_its_own_size(void **state) {
    (void)state;
    zh_failing counter;
    zht_counting_init(&counter, zh_page_allocator);
    zh_arena arena;
    zh_arena_init(&arena, zh_failing_allocator(&counter));
    assert_non_null(zh_arena_alloc_inline(&arena, 100, 16)); /* a first, small buffer */
    size_t before = live_bytes(&counter);

    const size_t huge = 48 * MIB; /* far bigger than the current buffer */
    assert_non_null(zh_arena_alloc_inline(&arena, huge, 16));
    size_t grown = live_bytes(&counter) - before;
    assert_true(grown >= huge);
    /* About its own size: Zig's rule would have asked for over 1.5 times. */
    assert_true(grown <= huge + huge / 64);

    /* Same with a large alignment: only the alignment is added. */
    before = live_bytes(&counter);
    assert_non_null(zh_arena_alloc_inline(&arena, huge, 64 * KIB));
    grown = live_bytes(&counter) - before;
    assert_true(grown >= huge && grown <= huge + 64 * KIB + huge / 64);

    /* Small blocks afterwards still come from ordinary buffers, not huge ones. */
    before = live_bytes(&counter);
    for (int i = 0; i < 100; i++) assert_non_null(zh_arena_alloc_inline(&arena, 64, 16));
    assert_true(live_bytes(&counter) - before < 1 * MIB);
    zh_arena_deinit(&arena);
    zht_assert_balanced(&counter);
}

static void test_arena_ordinary_growth_is_geometric_and_capped(void **state) {
    (void)state;
    zh_failing counter;
    zht_counting_init(&counter, zh_page_allocator);
    zh_arena arena;
    zh_arena_init(&arena, zh_failing_allocator(&counter));
    /* 256 KiB blocks: each fits the ordinary step once it has grown past it. */
    size_t total = 0, largest_step = 0, last = 0;
    while (total < 320 * MIB) {
        assert_non_null(zh_arena_alloc_inline(&arena, 256 * KIB, 16)); /* untouched: not committed */
        total += 256 * KIB;
        size_t live = live_bytes(&counter);
        if (live - last > largest_step) largest_step = live - last;
        last = live;
    }
    /* Few requests to the child (geometric), none beyond the cap, and the
     * over-allocation stays bounded: the newest buffer, plus less than one block
     * left unused at the end of every earlier buffer. */
    assert_true(counter.allocations < 40);
    assert_true(largest_step <= ZH_ARENA_MAX_BUFFER_SIZE);
    assert_true(zh_arena_query_capacity(&arena) <
                total + ZH_ARENA_MAX_BUFFER_SIZE + counter.allocations * 256 * KIB);
    zh_arena_deinit(&arena);
    zht_assert_balanced(&counter);
}

/* Allocates `bytes` in blocks of 8..256 B (the same sequence for the same seed),
 * writing the first byte of each, as the workload of issue 13. */
static void fill_small_blocks(zh_arena *arena, size_t bytes, uint32_t seed) {
    for (size_t done = 0; done < bytes;) {
        seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
        size_t len = 8 + seed % 249;
        unsigned char *p = zh_arena_alloc_inline(arena, len, 8);
        assert_non_null(p);
        p[0] = 1;
        done += len;
    }
}

/* Issue 13: growth in place asks for the next step, not for one block, so the
 * child is called O(log bytes) times per round; and a FREE_ALL reset remembers
 * the round's size, so an equal round costs one allocation and one free. */
static void check_growth_is_logarithmic(zh_allocator child) {
    zht_recorder r;
    zh_arena arena;
    zh_arena_init(&arena, zht_recorder_init(&r, child));
    for (size_t bytes = 64 * KIB; bytes <= 64 * MIB; bytes *= 8) {
        size_t before = zht_recorder_calls(&r);
        fill_small_blocks(&arena, bytes, 2463534242u);
        size_t calls = zht_recorder_calls(&r) - before;
        if (calls > zht_arena_growth_call_bound(bytes))
            fail_msg("%zu bytes in small blocks took %zu child calls (bound %zu)", bytes, calls,
                     zht_arena_growth_call_bound(bytes));
        assert_true(calls <= 2 * zh__ceil_log2(bytes)); /* c * log2(bytes), c = 2 */

        assert_true(zh_arena_reset(&arena, ZH_ARENA_FREE_ALL, 0));
        before = zht_recorder_calls(&r);
        fill_small_blocks(&arena, bytes, 2463534242u);
        assert_int_equal(zht_recorder_calls(&r) - before, 1);
        assert_true(zh_arena_reset(&arena, ZH_ARENA_FREE_ALL, 0));
        assert_int_equal(zht_recorder_calls(&r) - before, 2); /* and one free */
    }
    zh_arena_deinit(&arena);
    assert_int_equal(r.allocs, r.frees);
}

static void test_arena_growth_is_logarithmic_page(void **state) {
    (void)state;
    check_growth_is_logarithmic(zh_page_allocator);
}

static void test_arena_growth_is_logarithmic_c(void **state) {
    (void)state;
    check_growth_is_logarithmic(zh_c_allocator);
}

/* Growth in place is by the next step: one request of a few bytes does not
 * make the child extend the buffer by only those bytes. */
static void test_arena_growth_in_place_takes_a_step(void **state) {
    (void)state;
    static _Alignas(16) unsigned char memory[1 * MIB];
    zh_fba fba; /* grows its last block in place whenever there is room */
    zh_fba_init(&fba, memory, sizeof memory);
    zh_failing counter;
    zht_counting_init(&counter, zh_fba_allocator(&fba));
    zh_arena arena;
    zh_arena_init(&arena, zh_failing_allocator(&counter));
    size_t first = ZH_ARENA_FIRST_BUFFER_SIZE - ZH_ARENA_HEADER_SIZE - zh__track_redzone();
    assert_non_null(zh_arena_alloc_inline(&arena, first, 1));
    size_t before = live_bytes(&counter);
    assert_non_null(zh_arena_alloc_inline(&arena, 8, 8)); /* the buffer is full */
    /* In place, by the next step (twice the first), not by 8 bytes. */
    assert_int_equal(counter.resize_index, 1);
    assert_int_equal(counter.allocations, 1);
    assert_int_equal(live_bytes(&counter) - before, 2 * ZH_ARENA_FIRST_BUFFER_SIZE);
    assert_int_equal(zh_arena_query_available(&arena, 1),
                     2 * ZH_ARENA_FIRST_BUFFER_SIZE - 8 - 2 * zh__track_redzone());
    /* The next step is twice that. */
    before = live_bytes(&counter);
    assert_non_null(zh_arena_alloc_inline(&arena, 2 * ZH_ARENA_FIRST_BUFFER_SIZE, 1));
    assert_int_equal(live_bytes(&counter) - before, 4 * ZH_ARENA_FIRST_BUFFER_SIZE);
    zh_arena_deinit(&arena);
    zht_assert_balanced(&counter);
}

/* FREE_ALL sizes the next round's first buffer for what this round used, and a
 * small round after a big one goes back to small buffers. */
static void test_arena_free_all_remembers_the_round(void **state) {
    (void)state;
    zh_failing counter;
    zht_counting_init(&counter, zh_page_allocator);
    zh_arena arena;
    zh_arena_init(&arena, zh_failing_allocator(&counter));
    fill_small_blocks(&arena, 3 * MIB, 7u);
    assert_true(zh_arena_reset(&arena, ZH_ARENA_FREE_ALL, 0));
    assert_non_null(zh_arena_alloc_inline(&arena, 8, 8));
    /* 3 MiB and a little: the step that holds it is 4 MiB. */
    assert_int_equal(live_bytes(&counter), 4 * MIB);
    assert_true(zh_arena_reset(&arena, ZH_ARENA_FREE_ALL, 0));
    assert_non_null(zh_arena_alloc_inline(&arena, 8, 8)); /* a round of 8 bytes... */
    assert_true(zh_arena_reset(&arena, ZH_ARENA_FREE_ALL, 0));
    assert_non_null(zh_arena_alloc_inline(&arena, 8, 8)); /* ...is followed by a small buffer */
    assert_int_equal(live_bytes(&counter), ZH_ARENA_FIRST_BUFFER_SIZE);
    /* deinit forgets: the sequence starts at the first step again. */
    fill_small_blocks(&arena, 1 * MIB, 7u);
    zh_arena_deinit(&arena);
    assert_non_null(zh_arena_alloc_inline(&arena, 8, 8));
    assert_int_equal(live_bytes(&counter), ZH_ARENA_FIRST_BUFFER_SIZE);
    zh_arena_deinit(&arena);
    zht_assert_balanced(&counter);
}

static void test_arena_query_available(void **state) {
    (void)state;
    zh_arena arena;
    zh_arena_init(&arena, zh_c_allocator);
    assert_int_equal(zh_arena_query_available(&arena, 16), 0);
    assert_non_null(zh_arena_alloc_inline(&arena, 1, 1));
    size_t left = zh_arena_query_available(&arena, 1);
    size_t room = (size_t)(arena.end - arena.cur); /* after one byte and its redzone (ASan) */
    assert_int_equal(room, ZH_ARENA_FIRST_BUFFER_SIZE - ZH_ARENA_HEADER_SIZE - 1 -
                               zh__track_redzone());
    assert_int_equal(left, room - gap_before(arena.cur, 1));
    assert_int_equal(zh_arena_query_available(&arena, 16), room - gap_before(arena.cur, 16));
    /* Exactly that much fits without the child; one more byte does not. */
    zh_failing refuse;
    zh_failing_init(&refuse, zh_c_allocator, 0);
    zh_arena_deinit(&arena);
    zh_arena_init(&arena, zh_c_allocator);
    assert_non_null(zh_arena_alloc_inline(&arena, 1, 1));
    arena.child = zh_failing_allocator(&refuse); /* the child now refuses everything */
    zh_failing_set_resize_fail_index(&refuse, 0);
    assert_null(zh_arena_alloc_inline(&arena, left + 1, 1));
    assert_non_null(zh_arena_alloc_inline(&arena, left, 1));
    assert_int_equal(zh_arena_query_available(&arena, 1), 0);
    arena.child = zh_c_allocator;
    zh_arena_deinit(&arena);
}

static void test_arena_overflowing_request_is_oom(void **state) {
    (void)state;
    zh_arena arena;
    zh_arena_init(&arena, zh_page_allocator); /* malloc under ASan aborts on huge sizes */
    assert_null(zh_arena_alloc_inline(&arena, SIZE_MAX - 8, 16));
    assert_null(zh_arena_alloc_inline(&arena, SIZE_MAX / 2, 4096));
    assert_non_null(zh_arena_alloc_inline(&arena, 8, 16));
    zh_arena_deinit(&arena);
}

/* ---- out of memory at every allocation point --------------------------------------- */

static bool arena_scenario(zh_allocator child, void *ctx) {
    (void)ctx;
    zh_arena arena;
    zh_arena_init(&arena, child);
    zh_allocator a = zh_arena_allocator(&arena);
    bool ok = true;
    for (size_t i = 0; ok && i < 200; i++) ok = zh_alloc(a, 16 + i * 7) != NULL;
    ok = ok && zh_alloc_aligned(a, 300 * KIB, 4096) != NULL;
    ok = ok && zh_arena_reset(&arena, ZH_ARENA_RETAIN_CAPACITY, 0);
    unsigned char *p = ok ? zh_alloc(a, 64) : NULL;
    ok = ok && p != NULL && zh_realloc(a, p, 64, 1 * MIB) != NULL;
    ok = ok && zh_arena_reset(&arena, ZH_ARENA_RETAIN_WITH_LIMIT, 10 * KIB);
    for (size_t i = 0; ok && i < 50; i++) ok = zh_alloc(a, 1000) != NULL;
    zh_arena_deinit(&arena);
    return ok;
}

static void test_arena_oom_sweep(void **state) {
    (void)state;
    size_t points = zht_oom_sweep(zh_c_allocator, arena_scenario, NULL);
    assert_true(points >= 3);
}

/* ---- over caller-provided memory ------------------------------------------------- */

static void test_arena_over_fixed_buffer(void **state) {
    (void)state;
    static unsigned char memory[256 * KIB];
    zh_fba fba;
    zh_fba_init(&fba, memory, sizeof memory);
    zh_arena arena;
    zh_arena_init(&arena, zh_fba_allocator(&fba));
    zh_allocator a = zh_arena_allocator(&arena);

    /* Every block lies in the caller's buffer, until it is exhausted: NULL. */
    size_t served = 0;
    for (;;) {
        size_t len = 24 + served % 500;
        unsigned char *p = zh_alloc(a, len);
        if (p == NULL) break;
        assert_true(zh_fba_owns_slice(&fba, p, len));
        memset(p, 7, len);
        served += len;
    }
    /* Buffers grow in place inside the fixed buffer, so little is wasted. */
    assert_true(served > sizeof memory - sizeof memory / 8);

    /* A retaining reset keeps the memory; deinit gives all of it back. */
    assert_true(zh_arena_reset(&arena, ZH_ARENA_RETAIN_CAPACITY, 0));
    assert_non_null(zh_alloc(a, 1000));
    zh_arena_deinit(&arena);
    assert_int_equal(zh_fba_end_index(&fba), 0);
}

static void test_arena_conformance_over_fixed_buffer(void **state) {
    (void)state;
    size_t len = 16 * MIB;
    unsigned char *memory = malloc(len);
    assert_non_null(memory);
    zh_fba fba;
    zh_fba_init(&fba, memory, len);
    zh_arena arena;
    zh_arena_init(&arena, zh_fba_allocator(&fba));
    zht_assert_conformance(zh_arena_allocator(&arena));
    zh_arena_deinit(&arena);
    assert_int_equal(zh_fba_end_index(&fba), 0);
    free(memory);
}

static void test_arena_tiny_fixed_buffer(void **state) {
    (void)state;
    /* Smaller than the first ordinary buffer: the arena takes what fits. */
    static _Alignas(16) unsigned char memory[600];
    zh_fba fba;
    zh_fba_init(&fba, memory, sizeof memory);
    zh_arena arena;
    zh_arena_init(&arena, zh_fba_allocator(&fba));
    void *p = zh_arena_alloc_inline(&arena, 100, 8);
    assert_non_null(p);
    assert_true(zh_fba_owns_slice(&fba, p, 100));
    assert_null(zh_arena_alloc_inline(&arena, 1000, 8));
    zh_arena_deinit(&arena);
    assert_int_equal(zh_fba_end_index(&fba), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_conformance_page),
        cmocka_unit_test(test_arena_conformance_c),
        cmocka_unit_test_setup_teardown(test_arena_inline_alloc, setup_arena_over_c, teardown_arena),
        cmocka_unit_test_setup_teardown(test_arena_inline_bad_alignment_aborts, setup_arena_over_c, teardown_arena),
        cmocka_unit_test(test_arena_exported_alloc_matches_inline),
        cmocka_unit_test_setup_teardown(test_arena_last_allocation_in_place, setup_arena_over_c, teardown_arena),
        cmocka_unit_test_setup_teardown(test_arena_realloc_of_last_block_stays, setup_arena_over_c, teardown_arena),
        cmocka_unit_test(test_arena_reset_empty),
        cmocka_unit_test(test_arena_reset_free_all),
        cmocka_unit_test(test_arena_reset_retain_capacity),
        cmocka_unit_test(test_arena_reset_with_limit),
        cmocka_unit_test(test_arena_reset_reports_refused_merge),
        cmocka_unit_test(test_arena_reset_bad_mode_aborts),
        cmocka_unit_test(test_arena_reset_with_preheating),
        cmocka_unit_test(test_arena_huge_request_gets_its_own_size),
        cmocka_unit_test(test_arena_ordinary_growth_is_geometric_and_capped),
        cmocka_unit_test(test_arena_growth_is_logarithmic_page),
        cmocka_unit_test(test_arena_growth_is_logarithmic_c),
        cmocka_unit_test(test_arena_growth_in_place_takes_a_step),
        cmocka_unit_test(test_arena_free_all_remembers_the_round),
        cmocka_unit_test(test_arena_query_available),
        cmocka_unit_test(test_arena_overflowing_request_is_oom),
        cmocka_unit_test(test_arena_oom_sweep),
        cmocka_unit_test(test_arena_over_fixed_buffer),
        cmocka_unit_test(test_arena_conformance_over_fixed_buffer),
        cmocka_unit_test(test_arena_tiny_fixed_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
