/* test_sbrk.c - SbrkAllocator (src/sbrk.c) and, in ZHEAP_PLATFORM=sbrk builds, the
 * sbrk platform backend.
 *
 * Most tests run the allocator over a fake sbrk on a static buffer, so that every
 * block can be checked against the memory the fake actually handed out, the start
 * can be misaligned on purpose, failures can be injected, and "someone else" can
 * move the break between two calls. The conformance suite also runs over the real
 * sbrk(2) of this process. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common.h"
#include "core/track.h"
#include "platform/platform.h"
#include "test_support.h"
#include "zheap/sbrk.h"

#define BIG ZH_SBRK_BIGPAGE_SIZE
#define BUFFER_SIZE ((size_t)8 << 20)
#define FOREIGN_BYTE 0x5c
#define MAX_FOREIGN 4096

/* ---- a fake sbrk over a static buffer ----------------------------------------------- */

static _Alignas(65536) unsigned char buffer[BUFFER_SIZE];

static struct {
    unsigned char *lo, *brk, *hi; /* the break moves within [lo, hi) */
    bool fail;                    /* refuse every growth */
    size_t foreign_step;          /* bytes "another user" takes before each growth */
    size_t foreign_count;
    struct { unsigned char *p; size_t len; } foreign[MAX_FOREIGN];
    size_t growths;               /* successful calls with increment > 0 */
} fake;

static void fake_reset(size_t start_offset, size_t limit) {
    /* A new allocator over the buffer: forget what memory checkers were told about
     * the previous one's blocks (they stay unaddressable otherwise). */
    zh__track_mem_undefined(buffer, sizeof buffer);
    memset(&fake, 0, sizeof fake);
    fake.lo = buffer + start_offset;
    fake.brk = fake.lo;
    fake.hi = buffer + (limit < BUFFER_SIZE ? limit : BUFFER_SIZE);
}

static void *fake_sbrk(intptr_t increment) {
    if (increment < 0) return (void *)-1; /* the allocator never shrinks the break */
    if (increment == 0) return fake.brk;
    if (fake.fail) return (void *)-1;
    size_t step = fake.foreign_step;
    if (step != 0 && step <= (size_t)(fake.hi - fake.brk) && fake.foreign_count < MAX_FOREIGN) {
        memset(fake.brk, FOREIGN_BYTE, step);
        fake.foreign[fake.foreign_count].p = fake.brk;
        fake.foreign[fake.foreign_count++].len = step;
        fake.brk += step;
    }
    if ((size_t)increment > (size_t)(fake.hi - fake.brk)) return (void *)-1;
    unsigned char *old = fake.brk;
    fake.brk += increment;
    fake.growths++;
    return old;
}

/* The block lies in memory the fake handed out and not in another user's bytes. */
static void assert_block_owned(const void *p, size_t len) {
    const unsigned char *b = p;
    assert_true(b >= fake.lo);
    assert_true(len <= (size_t)(fake.brk - b));
    for (size_t i = 0; i < fake.foreign_count; i++) {
        const unsigned char *f = fake.foreign[i].p;
        assert_true(b + len <= f || f + fake.foreign[i].len <= b);
    }
}

static void assert_foreign_intact(void) {
    for (size_t i = 0; i < fake.foreign_count; i++)
        assert_true(zht_all_bytes(fake.foreign[i].p, fake.foreign[i].len, FOREIGN_BYTE));
}

static zh_sbrk state;

static zh_allocator fake_allocator(size_t start_offset) {
    fake_reset(start_offset, BUFFER_SIZE);
    zh_sbrk_init(&state, fake_sbrk);
    return zh_sbrk_allocator(&state);
}

/* ---- conformance ------------------------------------------------------------------- */

static void test_sbrk_conformance_aligned_start(void **unused) {
    (void)unused;
    zht_assert_conformance(fake_allocator(0));
}

static void test_sbrk_conformance_misaligned_start(void **unused) {
    (void)unused;
    zh_allocator a = fake_allocator(4099); /* odd, and not a multiple of any page */
    zht_assert_conformance(a);
    void *p = zh_alloc(a, 100);
    assert_non_null(p);
    assert_block_owned(p, 100);
    zh_free(a, p, 100);
}

static void test_sbrk_conformance_real_sbrk(void **unused) {
    (void)unused;
    static zh_sbrk real;
    zh_sbrk_init(&real, zh__os_sbrk);
    zht_assert_conformance(zh_sbrk_allocator(&real));
}

/* ---- size classes and resizing ------------------------------------------------------- */

static void test_sbrk_freed_slot_is_reused_by_its_class(void **unused) {
    (void)unused;
    zh_allocator a = fake_allocator(0);
    for (size_t len = 1; len < BIG; len = len * 3 + 1) {
        void *p = zh_alloc(a, len);
        assert_non_null(p);
        zh_free(a, p, len);
        /* Any length that rounds to the same power of two takes the freed slot. */
        size_t slot = zh__ceil_pow2(len > ZH_MALLOC_ALIGNMENT ? len : ZH_MALLOC_ALIGNMENT);
        void *q = zh_alloc(a, slot);
        assert_ptr_equal(q, p);
        zh_free(a, q, slot);
    }
}

static void test_sbrk_classes_do_not_share_slots(void **unused) {
    (void)unused;
    zh_allocator a = fake_allocator(0);
    char *keep = zh_alloc(a, 64); /* its bigpage stays with the class */
    char *small = zh_alloc(a, 64);
    assert_non_null(keep);
    assert_non_null(small);
    zh_free(a, small, 64);
    char *larger = zh_alloc(a, 65);
    assert_non_null(larger);
    assert_true(larger + 65 <= keep || keep + 64 <= larger);
    assert_true(larger + 65 <= small || small + 64 <= larger);
    memset(larger, 1, 65);
    char *again = zh_alloc(a, 64);
    assert_ptr_equal(again, small);
    zh_free(a, again, 64);
    zh_free(a, larger, 65);
    zh_free(a, keep, 64);
}

/* Zig's version starts a new 64 KiB bigpage for a class at every OS-page boundary;
 * here a class uses its whole bigpage. */
static void test_sbrk_small_class_fills_a_whole_bigpage(void **unused) {
    (void)unused;
    zh_allocator a = fake_allocator(0);
    size_t slot = 4096, n = BIG / slot;
    void *blocks[64];
    for (size_t i = 0; i < n; i++) {
        blocks[i] = zh_alloc(a, slot);
        assert_non_null(blocks[i]);
        assert_block_owned(blocks[i], slot);
    }
    assert_int_equal(fake.growths, 1);
    assert_true((size_t)(fake.brk - fake.lo) <= BIG);
    for (size_t i = 0; i < n; i++) zh_free(a, blocks[i], slot);
}

static void test_sbrk_resize_grows_within_class_only(void **unused) {
    (void)unused;
    zh_allocator a = fake_allocator(0);
    char *p = zh_alloc(a, 20);
    assert_non_null(p);
    assert_true(zh_resize(a, p, 20, 32));
    memset(p, 7, 32);
    assert_false(zh_resize(a, p, 32, 33));
    assert_true(zh_resize(a, p, 32, 17));
    assert_null(zh_remap(a, p, 17, 1000));
    assert_ptr_equal(zh_remap(a, p, 17, 30), p);
    zh_free(a, p, 30);

    /* Bigpage blocks: 100 KiB lives in two bigpages. */
    size_t len = 100 * 1024;
    char *big = zh_alloc(a, len);
    assert_non_null(big);
    assert_true(zh_resize(a, big, len, 2 * BIG));
    memset(big, 3, 2 * BIG);
    assert_block_owned(big, 2 * BIG);
    assert_false(zh_resize(a, big, 2 * BIG, 2 * BIG + 1));
    zh_free(a, big, 2 * BIG);
}

/* Resizing stays within the size class, as in Zig: shrinking into a smaller class
 * fails (the rest of the slot would be stranded on smaller lists for good), and
 * zh_realloc then moves the block into a slot of its new size. */
static void test_sbrk_shrinking_stays_within_the_class(void **unused) {
    (void)unused;
    zh_allocator a = fake_allocator(0);
    size_t len = 8 * BIG;
    unsigned char *p = zh_alloc(a, len);
    assert_non_null(p);
    memset(p, 0x31, len);
    assert_true(zh_resize(a, p, len, 5 * BIG)); /* still eight bigpages */
    assert_false(zh_resize(a, p, 5 * BIG, 4 * BIG));
    assert_null(zh_remap(a, p, 5 * BIG, 100));
    unsigned char *q = zh_realloc(a, p, 5 * BIG, 100);
    assert_non_null(q);
    assert_ptr_not_equal(q, p);
    assert_true(zht_all_bytes(q, 100, 0x31));
    /* The freed eight-bigpage block serves the next request of its class. */
    size_t growths = fake.growths;
    unsigned char *again = zh_alloc(a, len);
    assert_ptr_equal(again, p);
    assert_int_equal(fake.growths, growths);
    zh_free(a, again, len);
    zh_free(a, q, 100);
}

/* Issue 7: alloc(4096), shrink to 8, free, repeated, used to take a fresh 4 KiB
 * slot every round (a 64 MiB region ran out after 16384 rounds with nothing
 * live). It must run in bounded memory: 100k rounds over a 1 MiB region, with
 * zh_resize, zh_realloc (shrink-to-fit) and 4 MiB blocks over an 8 MiB one. */
static void test_sbrk_shrink_and_free_runs_in_bounded_memory(void **unused) {
    (void)unused;
    zh_allocator a = fake_allocator(0);
    fake.hi = fake.lo + ((size_t)1 << 20);
    for (int round = 0; round < 100000; round++) {
        unsigned char *p = zh_alloc(a, 4096);
        assert_non_null(p);
        size_t len = zh_resize(a, p, 4096, 8) ? 8 : 4096;
        zh_free(a, p, len);
        unsigned char *q = zh_alloc(a, 4096);
        assert_non_null(q);
        q[0] = 1;
        unsigned char *r = zh_realloc(a, q, 4096, 8);
        assert_non_null(r);
        assert_int_equal(r[0], 1);
        zh_free(a, r, 8);
    }
    assert_true((size_t)(fake.brk - fake.lo) <= 2 * BIG);

    a = fake_allocator(0);
    size_t big = (size_t)4 << 20;
    for (int round = 0; round < 1000; round++) {
        unsigned char *p = zh_alloc(a, big);
        assert_non_null(p);
        unsigned char *r = zh_realloc(a, p, big, 8);
        assert_non_null(r);
        zh_free(a, r, 8);
    }
    assert_true((size_t)(fake.brk - fake.lo) <= big + 2 * BIG);
}

/* ---- big blocks and alignment ----------------------------------------------------------- */

static void test_sbrk_big_blocks_and_large_alignment(void **unused) {
    (void)unused;
    zh_allocator a = fake_allocator(12345);
    size_t sizes[] = {BIG - 1, BIG, BIG + 1, 3 * BIG, (size_t)1 << 20, 3u << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = zh_alloc(a, sizes[i]);
        assert_non_null(p);
        assert_block_owned(p, sizes[i]);
        memset(p, (int)i, sizes[i]);
        zh_free(a, p, sizes[i]);
    }
    for (size_t align = 1; align <= ((size_t)1 << 20); align <<= 1) {
        unsigned char *p = zh_alloc_aligned(a, 10, align);
        assert_non_null(p);
        assert_true(zh__is_aligned(p, align));
        assert_block_owned(p, align > 10 ? align : 10);
        zh_free_aligned(a, p, 10, align);
    }
}

/* Only when the break refuses: until then a class grows rather than split (sbrk.c). */
static void test_sbrk_freed_big_block_is_split_for_smaller_requests(void **unused) {
    (void)unused;
    zh_allocator a = fake_allocator(0);
    unsigned char *p = zh_alloc(a, 8 * BIG);
    assert_non_null(p);
    zh_free(a, p, 8 * BIG);
    size_t growths = fake.growths;
    fake.fail = true; /* while the break grows, each class takes its own runs */
    unsigned char *parts[4];
    size_t lens[4] = {BIG, BIG, 2 * BIG, 4 * BIG};
    for (int i = 0; i < 4; i++) {
        parts[i] = zh_alloc(a, lens[i]);
        assert_non_null(parts[i]);
        assert_true(parts[i] >= p && parts[i] + lens[i] <= p + 8 * BIG);
        memset(parts[i], i, lens[i]);
    }
    assert_int_equal(fake.growths, growths); /* all from the freed block */
    for (int i = 0; i < 4; i++) assert_true(zht_all_bytes(parts[i], lens[i], (unsigned char)i));
    for (int i = 0; i < 4; i++) zh_free(a, parts[i], lens[i]);
}

/* Zig keeps a bigpage with its small class for good; here a bigpage whose slots are
 * all free serves a bigpage request before the break grows, and when the break
 * refuses, emptied pages merge into larger runs. */
static void test_sbrk_emptied_small_page_goes_back_to_the_runs(void **unused) {
    (void)unused;
    zh_allocator a = fake_allocator(0);
    enum { N = 3 };
    void *slots[N], *pages[N];
    for (int i = 0; i < N; i++) {
        slots[i] = zh_alloc(a, 100 + (size_t)i * 1000); /* three classes, three bigpages */
        assert_non_null(slots[i]);
    }
    for (int i = 0; i < N; i++) zh_free(a, slots[i], 100 + (size_t)i * 1000);
    size_t growths = fake.growths;
    for (int i = 0; i < N; i++) {
        pages[i] = zh_alloc(a, BIG);
        assert_non_null(pages[i]);
        assert_block_owned(pages[i], BIG);
        memset(pages[i], i, BIG);
    }
    assert_int_equal(fake.growths, growths); /* the emptied pages */
    for (int i = 0; i < N; i++) zh_free(a, pages[i], BIG);
    fake.fail = true;
    unsigned char *two = zh_alloc(a, 2 * BIG); /* two neighbours merged */
    assert_non_null(two);
    assert_block_owned(two, 2 * BIG);
    memset(two, 9, 2 * BIG);
    zh_free(a, two, 2 * BIG);
    /* A small class takes a bigpage again when it needs one. */
    void *s = zh_alloc(a, 64);
    assert_non_null(s);
    assert_block_owned(s, 64);
    zh_free(a, s, 64);
}

/* ---- exhaustion and failures ----------------------------------------------------------------- */

#define MAX_BLOCKS 8192

static size_t fill_until_null(zh_allocator a, void **blocks, size_t *lens) {
    static const size_t pattern[] = {24, 1000, 5000, 70000, 300, 200000, 9};
    size_t n = 0;
    for (; n < MAX_BLOCKS; n++) {
        size_t len = pattern[n % (sizeof pattern / sizeof pattern[0])];
        void *p = zh_alloc(a, len);
        if (p == NULL) break;
        assert_block_owned(p, len);
        memset(p, 0x11, len);
        blocks[n] = p;
        lens[n] = len;
    }
    assert_true(n < MAX_BLOCKS); /* the buffer really ran out */
    return n;
}

static void test_sbrk_exhaustion_returns_null_then_frees_are_reused(void **unused) {
    (void)unused;
    static void *blocks[MAX_BLOCKS];
    static size_t lens[MAX_BLOCKS];
    zh_allocator a = fake_allocator(777);
    size_t first = fill_until_null(a, blocks, lens);
    assert_true(first > 0);
    assert_true(fake.brk <= fake.hi);
    /* Exhausted, yet still consistent: a big request fails cleanly too. */
    assert_null(zh_alloc(a, 4 * BIG));
    for (size_t i = 0; i < first; i++) zh_free(a, blocks[i], lens[i]);

    unsigned char *end = fake.brk;
    size_t second = fill_until_null(a, blocks, lens);
    assert_true(second >= first); /* the same sequence fits in the freed memory */
    assert_ptr_equal(fake.brk, end);
    for (size_t i = 0; i < second; i++) zh_free(a, blocks[i], lens[i]);
}

static void test_sbrk_fn_failure_changes_nothing(void **unused) {
    (void)unused;
    zh_allocator a = fake_allocator(0);
    char *p = zh_alloc(a, 100);
    assert_non_null(p);
    fake.fail = true;
    unsigned char *brk = fake.brk;
    assert_null(zh_alloc(a, 2 * BIG));
    assert_null(zh_alloc_aligned(a, 64, (size_t)1 << 20));
    assert_ptr_equal(fake.brk, brk);
    /* Small slots still come from the bigpage already carved. */
    char *q = zh_alloc(a, 100);
    assert_non_null(q);
    fake.fail = false;
    char *r = zh_alloc(a, 2 * BIG);
    assert_non_null(r);
    assert_block_owned(r, 2 * BIG);
    zh_free(a, r, 2 * BIG);
    zh_free(a, q, 100);
    zh_free(a, p, 100);
}

/* Another user of the break takes odd-sized pieces before every growth: blocks never
 * overlap them and their bytes survive. */
static void test_sbrk_foreign_break_moves_are_tolerated(void **unused) {
    (void)unused;
    zh_allocator a = fake_allocator(100);
    fake.foreign_step = 5000;
    zht_assert_conformance(a);
    size_t lens[] = {8, 4096, 40000, BIG, 5 * BIG, 123456};
    void *blocks[6];
    for (int i = 0; i < 6; i++) {
        blocks[i] = zh_alloc_aligned(a, lens[i], (size_t)1 << (i * 3));
        assert_non_null(blocks[i]);
        assert_block_owned(blocks[i], lens[i]);
        memset(blocks[i], 0x22, lens[i]);
    }
    assert_true(fake.foreign_count > 0);
    assert_foreign_intact();
    for (int i = 0; i < 6; i++) zh_free_aligned(a, blocks[i], lens[i], (size_t)1 << (i * 3));
}

static bool oom_scenario(zh_allocator a, void *ctx) {
    (void)ctx;
    char *s = zh_alloc(a, 40);
    if (s == NULL) return false;
    char *big = zh_alloc(a, 3 * BIG);
    if (big == NULL) {
        zh_free(a, s, 40);
        return false;
    }
    char *grown = zh_realloc(a, s, 40, 5000);
    if (grown == NULL) {
        zh_free(a, big, 3 * BIG);
        zh_free(a, s, 40);
        return false;
    }
    zh_free(a, grown, 5000);
    zh_free(a, big, 3 * BIG);
    return true;
}

static void test_sbrk_out_of_memory_at_every_point(void **unused) {
    (void)unused;
    assert_true(zht_oom_sweep(fake_allocator(0), oom_scenario, NULL) >= 3);
}

/* ---- threads ------------------------------------------------------------------------------------ */

#define THREADS 4
#define ROUNDS 2000

static void stress_worker(void *arg, size_t index) {
    zh_allocator a = *(zh_allocator *)arg;
    unsigned seed = (unsigned)index * 2654435761u + 1;
    void *held[16] = {0};
    size_t held_len[16] = {0};
    for (int r = 0; r < ROUNDS; r++) {
        seed = seed * 1103515245u + 12345u;
        size_t slot = (seed >> 8) % 16;
        if (held[slot] != NULL) {
            assert_true(zht_all_bytes(held[slot], held_len[slot], (unsigned char)(index + slot)));
            zh_free(a, held[slot], held_len[slot]);
            held[slot] = NULL;
        } else {
            size_t len = 1 + (seed >> 12) % ((seed & 1) ? 300 : 60000);
            held[slot] = zh_alloc(a, len);
            assert_non_null(held[slot]);
            held_len[slot] = len;
            memset(held[slot], (int)(index + slot), len);
        }
    }
    for (size_t i = 0; i < 16; i++)
        if (held[i] != NULL) zh_free(a, held[i], held_len[i]);
}

static void test_sbrk_threads_share_one_allocator(void **unused) {
    (void)unused;
    zh_allocator a = fake_allocator(0);
    zht_run_threads(THREADS, stress_worker, &a);
    assert_true(fake.brk <= fake.hi);
}

/* ---- contract violations ------------------------------------------------------------------------ */

static void init_with_null_fn(void *arg) {
    (void)arg;
    zh_sbrk s;
    zh_sbrk_init(&s, NULL);
}

/* A free claiming more bytes than the slot has, or of a freed block, goes to the
 * vtable itself: zh_free would first fill the claimed bytes with its undefined
 * pattern, a write to unaddressable bytes that ASan reports (core/track.h) before
 * the allocator can. */
static void free_raw(zh_allocator a, void *p, size_t len) {
    a.vtable->free(a.ctx, p, len, 0, 0); /* alignment 1 (log2 0) */
}

static void free_with_wrong_length(void *arg) {
    (void)arg;
    zh_allocator a = fake_allocator(0);
    char *first = zh_alloc(a, 16);
    char *second = zh_alloc(a, 16); /* 16 bytes past a 16-byte slot boundary */
    (void)first;
    free_raw(a, second, 100); /* claims a 128-byte slot */
}

/* Issue 7: the first slot of a bigpage is aligned to every smaller class, so an
 * alignment check cannot see this one; the class map does. Without the abort the
 * block went onto the 4 KiB list and a later 4 KiB block overlapped live ones. */
static void free_with_wrong_length_at_a_bigpage_start(void *arg) {
    (void)arg;
    zh_allocator a = fake_allocator(0);
    char *block = zh_alloc(a, 100);
    assert_true(zh__is_aligned(block, BIG));
    free_raw(a, block, 3000);
}

static void free_of_a_big_block_with_a_small_length(void *arg) {
    (void)arg;
    zh_allocator a = fake_allocator(0);
    char *block = zh_alloc(a, 3 * BIG);
    zh_free(a, block, 100);
}

static void double_free_of_a_big_block(void *arg) {
    (void)arg;
    zh_allocator a = fake_allocator(0);
    char *block = zh_alloc(a, 3 * BIG);
    zh_free(a, block, 3 * BIG);
    free_raw(a, block, 3 * BIG);
}

static void test_sbrk_contract_violations_abort(void **unused) {
    (void)unused;
    if (!zh_safety_enabled()) skip();
    zht_expect_abort(init_with_null_fn, NULL, "zh_sbrk_init");
    zht_expect_abort(free_with_wrong_length, NULL, "zh_sbrk_allocator");
    zht_expect_abort(free_with_wrong_length_at_a_bigpage_start, NULL,
                     "zh_sbrk_allocator: free of");
    zht_expect_abort(free_of_a_big_block_with_a_small_length, NULL, "wrong length");
    zht_expect_abort(double_free_of_a_big_block, NULL, "not a live block");
}

/* ---- the sbrk platform backend (ZHEAP_PLATFORM=sbrk builds only) ----------------------------------- */

static void test_sbrk_platform_backend_maps_from_the_break(void **unused) {
    (void)unused;
    const zh__os_info *os = zh__os_info_get();
    if (strcmp(os->name, "sbrk") != 0) skip();
    assert_int_equal(os->caps & (ZH__OS_CAN_RETURN_MEMORY | ZH__OS_CAN_UNMAP_PARTIAL |
                                 ZH__OS_CAN_GROW | ZH__OS_CAN_REMAP),
                     0);
    assert_true(os->caps & ZH__OS_CAN_SHRINK);
    size_t page = os->page_size;
    for (size_t align = page; align <= ((size_t)1 << 20); align <<= 2) {
        unsigned char *p = zh__os_map(3 * page, align, NULL);
        assert_non_null(p);
        assert_true(zh__is_aligned(p, align));
        assert_true(zht_all_bytes(p, 3 * page, 0));
        memset(p, 0xee, 3 * page);
        zh__os_unmap(p, page); /* the length does not matter: the whole mapping goes */
        unsigned char *q = zh__os_map(3 * page, align, NULL);
        assert_non_null(q);
        assert_true(zht_all_bytes(q, 3 * page, 0)); /* reused memory comes back zeroed */
        zh__os_unmap(q, 3 * page);
    }
    /* Shrinking succeeds and keeps the block whole (its tail would be stranded on
     * smaller lists); the unmap frees all of it, whatever length it names, and a
     * later map of its class reuses it. */
    unsigned char *big = zh__os_map(64 * page, page, NULL);
    assert_non_null(big);
    memset(big, 0x77, 64 * page);
    assert_true(zh__os_shrink(big, 64 * page, 2 * page));
    assert_false(zh__os_shrink(big + page, 64 * page, 2 * page)); /* not a mapping */
    assert_true(zht_all_bytes(big, 64 * page, 0x77));
    zh__os_unmap(big, 2 * page);
    unsigned char *again = zh__os_map(40 * page, page, NULL);
    assert_ptr_equal(again, big);
    assert_true(zht_all_bytes(again, 40 * page, 0));
    zh__os_unmap(again, 40 * page);
    /* map, shrink, unmap, repeated, runs in bounded memory (issue 7). */
    uintptr_t brk_before = (uintptr_t)zh__os_sbrk(0);
    for (int round = 0; round < 100000; round++) {
        unsigned char *p = zh__os_map(64 * page, page, NULL);
        assert_non_null(p);
        assert_true(zh__os_shrink(p, 64 * page, 2 * page));
        zh__os_unmap(p, 2 * page);
    }
    assert_true((uintptr_t)zh__os_sbrk(0) - brk_before <= 64 * page + 4 * BIG);
    assert_false(zh__os_grow(NULL, page, 2 * page));
    assert_null(zh__os_remap(NULL, page, 2 * page));
    /* Many live mappings at once (the backend's table grows). */
    enum { N = 600 };
    static void *maps[N];
    for (size_t i = 0; i < N; i++) {
        maps[i] = zh__os_map(page, page, NULL);
        assert_non_null(maps[i]);
        *(size_t *)maps[i] = i;
    }
    for (size_t i = 0; i < N; i += 2) zh__os_unmap(maps[i], page);
    for (size_t i = 1; i < N; i += 2) {
        assert_int_equal(*(size_t *)maps[i], i);
        zh__os_unmap(maps[i], page);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sbrk_conformance_aligned_start),
        cmocka_unit_test(test_sbrk_conformance_misaligned_start),
        cmocka_unit_test(test_sbrk_conformance_real_sbrk),
        cmocka_unit_test(test_sbrk_freed_slot_is_reused_by_its_class),
        cmocka_unit_test(test_sbrk_classes_do_not_share_slots),
        cmocka_unit_test(test_sbrk_small_class_fills_a_whole_bigpage),
        cmocka_unit_test(test_sbrk_resize_grows_within_class_only),
        cmocka_unit_test(test_sbrk_shrinking_stays_within_the_class),
        cmocka_unit_test(test_sbrk_shrink_and_free_runs_in_bounded_memory),
        cmocka_unit_test(test_sbrk_big_blocks_and_large_alignment),
        cmocka_unit_test(test_sbrk_freed_big_block_is_split_for_smaller_requests),
        cmocka_unit_test(test_sbrk_emptied_small_page_goes_back_to_the_runs),
        cmocka_unit_test(test_sbrk_exhaustion_returns_null_then_frees_are_reused),
        cmocka_unit_test(test_sbrk_fn_failure_changes_nothing),
        cmocka_unit_test(test_sbrk_foreign_break_moves_are_tolerated),
        cmocka_unit_test(test_sbrk_out_of_memory_at_every_point),
        cmocka_unit_test(test_sbrk_threads_share_one_allocator),
        cmocka_unit_test(test_sbrk_contract_violations_abort),
        cmocka_unit_test(test_sbrk_platform_backend_maps_from_the_break),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
