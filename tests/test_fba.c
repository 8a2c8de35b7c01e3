/* test_fba.c - the fixed-buffer allocator: conformance (both interfaces), Zig's
 * FixedBufferAllocator tests, the inline fast path, out-of-memory, and many threads
 * on the lock-free interface. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"
#include "zheap/fba.h"

/* As large as Zig's test buffer (800000 u64s). */
#define BIG_LEN ((size_t)800000 * 8)
static _Alignas(64) unsigned char big[BIG_LEN];

static size_t used(const zh_fba *fba) { return zh_fba_end_index(fba); }

/* ---- conformance ------------------------------------------------------------------------ */

static void test_fba_conformance_plain(void **state) {
    (void)state;
    zh_fba fba;
    zh_fba_init(&fba, big, BIG_LEN);
    zht_assert_conformance(zh_fba_allocator(&fba));
}

static void test_fba_conformance_thread_safe(void **state) {
    (void)state;
    zh_fba fba;
    zh_fba_init(&fba, big, BIG_LEN);
    zht_assert_conformance(zh_fba_thread_safe_allocator(&fba));
    assert_true(used(&fba) > 0);
    assert_true(used(&fba) <= BIG_LEN);
}

/* ---- Zig's tests ---------------------------------------------------------------------------- */

static void test_fba_reset_reuses_memory(void **state) {
    (void)state;
    _Alignas(8) unsigned char buf[8];
    zh_fba fba;
    zh_fba_init(&fba, buf, sizeof buf);
    zh_allocator a = zh_fba_allocator(&fba);
    uint64_t *x = ZH_CREATE(a, uint64_t);
    assert_non_null(x);
    *x = 0xeeeeeeeeeeeeeeeeu;
    assert_null(ZH_CREATE(a, uint64_t));
    zh_fba_reset(&fba);
    assert_int_equal(used(&fba), 0);
    uint64_t *y = ZH_CREATE(a, uint64_t);
    assert_ptr_equal(x, y);
    *y = 0xffffffffffffffffu;
    assert_true(*x == 0xffffffffffffffffu);
}

static void test_fba_realloc_reuses_last_block(void **state) {
    (void)state;
    unsigned char buf[10];
    zh_fba fba;
    zh_fba_init(&fba, buf, sizeof buf);
    zh_allocator a = zh_fba_allocator(&fba);
    unsigned char *s0 = zh_alloc_aligned(a, 5, 1);
    assert_non_null(s0);
    unsigned char *s1 = zh_realloc_aligned(a, s0, 5, 10, 1);
    assert_ptr_equal(s1, s0);
    assert_int_equal(used(&fba), 10);
    assert_null(zh_realloc_aligned(a, s1, 10, 11, 1));
    assert_int_equal(used(&fba), 10); /* failure changed nothing */
}

static void test_fba_realloc_moves_non_last_block(void **state) {
    (void)state;
    unsigned char buf[10];
    zh_fba fba;
    zh_fba_init(&fba, buf, sizeof buf);
    zh_allocator a = zh_fba_allocator(&fba);
    unsigned char *s0 = zh_alloc_aligned(a, 2, 1);
    s0[0] = 1;
    s0[1] = 2;
    unsigned char *s1 = zh_alloc_aligned(a, 2, 1);
    assert_non_null(s1);
    unsigned char *s2 = zh_realloc_aligned(a, s0, 2, 4, 1);
    assert_non_null(s2);
    assert_ptr_not_equal(s2, s0);
    assert_ptr_not_equal(s2, s1);
    assert_int_equal(s2[0], 1);
    assert_int_equal(s2[1], 2);
}

/* ---- ownership and last-allocation queries --------------------------------------------------- */

static void test_fba_owns_ptr_and_slice(void **state) {
    (void)state;
    unsigned char buf[64];
    zh_fba fba;
    zh_fba_init(&fba, buf, sizeof buf);
    assert_true(zh_fba_owns_ptr(&fba, buf));
    assert_true(zh_fba_owns_ptr(&fba, buf + 63));
    assert_false(zh_fba_owns_ptr(&fba, buf + 64));
    assert_false(zh_fba_owns_ptr(&fba, (const void *)((uintptr_t)buf - 1)));
    assert_true(zh_fba_owns_slice(&fba, buf, 64));
    assert_true(zh_fba_owns_slice(&fba, buf + 60, 4));
    assert_true(zh_fba_owns_slice(&fba, buf + 64, 0));
    assert_false(zh_fba_owns_slice(&fba, buf + 60, 5));
    assert_false(zh_fba_owns_slice(&fba, buf + 1, SIZE_MAX));
    unsigned char other[4];
    assert_false(zh_fba_owns_ptr(&fba, other));
    assert_false(zh_fba_owns_slice(&fba, other, sizeof other));
}

static void test_fba_is_last_allocation(void **state) {
    (void)state;
    unsigned char buf[64];
    zh_fba fba;
    zh_fba_init(&fba, buf, sizeof buf);
    zh_allocator a = zh_fba_allocator(&fba);
    unsigned char *p = zh_alloc_aligned(a, 8, 1);
    assert_true(zh_fba_is_last_allocation(&fba, p, 8));
    unsigned char *q = zh_alloc_aligned(a, 8, 1);
    assert_false(zh_fba_is_last_allocation(&fba, p, 8));
    assert_true(zh_fba_is_last_allocation(&fba, q, 8));
    assert_false(zh_fba_is_last_allocation(&fba, q, 7));
    zh_free_aligned(a, q, 8, 1);
    assert_true(zh_fba_is_last_allocation(&fba, p, 8));
}

/* ---- resize, remap and free ------------------------------------------------------------------- */

static void test_fba_resize_last_grows_and_shrinks_in_place(void **state) {
    (void)state;
    unsigned char buf[100];
    zh_fba fba;
    zh_fba_init(&fba, buf, sizeof buf);
    zh_allocator a = zh_fba_allocator(&fba);
    unsigned char *p = zh_alloc_aligned(a, 10, 1);
    assert_ptr_equal(p, buf);
    assert_true(zh_resize_aligned(a, p, 10, 60, 1));
    assert_int_equal(used(&fba), 60);
    assert_true(zh_resize_aligned(a, p, 60, 100, 1)); /* exactly to the end */
    assert_int_equal(used(&fba), 100);
    assert_false(zh_resize_aligned(a, p, 100, 101, 1));
    assert_int_equal(used(&fba), 100);
    assert_true(zh_resize_aligned(a, p, 100, 30, 1));
    assert_int_equal(used(&fba), 30);
    assert_ptr_equal(zh_remap_aligned(a, p, 30, 90, 1), p);
    assert_int_equal(used(&fba), 90);
    assert_null(zh_remap_aligned(a, p, 90, 200, 1));
    assert_int_equal(used(&fba), 90);
    zh_free_aligned(a, p, 90, 1);
    assert_int_equal(used(&fba), 0);
}

static void test_fba_resize_non_last_only_shrinks(void **state) {
    (void)state;
    unsigned char buf[100];
    zh_fba fba;
    zh_fba_init(&fba, buf, sizeof buf);
    zh_allocator a = zh_fba_allocator(&fba);
    unsigned char *p = zh_alloc_aligned(a, 20, 1);
    unsigned char *q = zh_alloc_aligned(a, 20, 1);
    assert_non_null(q);
    assert_false(zh_resize_aligned(a, p, 20, 21, 1));
    assert_null(zh_remap_aligned(a, p, 20, 21, 1));
    /* Zig lets a non-last block shrink; the bytes are not reclaimed. */
    assert_true(zh_resize_aligned(a, p, 20, 5, 1));
    assert_ptr_equal(zh_remap_aligned(a, p, 5, 5 - 1, 1), p);
    assert_int_equal(used(&fba), 40);
    /* Freeing a non-last block does nothing either. */
    zh_free_aligned(a, p, 4, 1);
    assert_int_equal(used(&fba), 40);
    zh_free_aligned(a, q, 20, 1);
    assert_int_equal(used(&fba), 20);
}

static void test_fba_exact_fit_and_exhaustion(void **state) {
    (void)state;
    _Alignas(16) unsigned char buf[48];
    zh_fba fba;
    zh_fba_init(&fba, buf, sizeof buf);
    zh_allocator a = zh_fba_allocator(&fba);
    assert_non_null(zh_alloc_aligned(a, 40, 1));
    assert_null(zh_alloc_aligned(a, 9, 1));
    assert_int_equal(used(&fba), 40);
    /* Fits by size but not after padding to 16: nothing moves. */
    assert_null(zh_alloc_aligned(a, 8, 16));
    assert_int_equal(used(&fba), 40);
    unsigned char *last = zh_alloc_aligned(a, 8, 8);
    assert_ptr_equal(last, buf + 40);
    assert_int_equal(used(&fba), 48);
    assert_null(zh_alloc_aligned(a, 1, 1));
    assert_null(zh_alloc_aligned(a, SIZE_MAX, 1));
    assert_int_equal(used(&fba), 48);
}

static void test_fba_alignment_padding(void **state) {
    (void)state;
    _Alignas(64) unsigned char buf[256];
    zh_fba fba;
    zh_fba_init(&fba, buf, sizeof buf);
    zh_allocator a = zh_fba_allocator(&fba);
    unsigned char *b1 = zh_alloc_aligned(a, 1, 1);
    assert_ptr_equal(b1, buf);
    unsigned char *b64 = zh_alloc_aligned(a, 1, 64);
    assert_ptr_equal(b64, buf + 64);
    assert_int_equal(used(&fba), 65);
    unsigned char *b8 = zh_alloc_aligned(a, 8, 8);
    assert_ptr_equal(b8, buf + 72);
    /* Freeing the last block takes back its bytes, not the padding before it. */
    zh_free_aligned(a, b8, 8, 8);
    assert_int_equal(used(&fba), 72);
}

static void test_fba_huge_alignment_fails_cleanly(void **state) {
    (void)state;
    unsigned char buf[64];
    zh_fba fba;
    zh_fba_init(&fba, buf, sizeof buf);
    zh_allocator a = zh_fba_allocator(&fba);
    /* An alignment far larger than the buffer: the padding cannot fit. */
    void *p = zh_alloc_aligned(a, 1, (size_t)1 << 30);
    if (p != NULL) assert_true(((uintptr_t)p & (((size_t)1 << 30) - 1)) == 0);
    else assert_int_equal(used(&fba), 0);
}

static void test_fba_empty_buffer(void **state) {
    (void)state;
    zh_fba fba;
    zh_fba_init(&fba, NULL, 0);
    assert_null(zh_alloc(zh_fba_allocator(&fba), 1));
    assert_null(zh_alloc(zh_fba_thread_safe_allocator(&fba), 1));
    assert_null(zh_fba_alloc_inline(&fba, 1, 1));
    assert_non_null(zh_alloc(zh_fba_allocator(&fba), 0));
}

/* ---- the inline fast path ------------------------------------------------------------------- */

static void test_fba_fast_path_matches_vtable(void **state) {
    (void)state;
    static _Alignas(64) unsigned char b1[4096], b2[4096];
    zh_fba f1, f2;
    zh_fba_init(&f1, b1, sizeof b1);
    zh_fba_init(&f2, b2, sizeof b2);
    zh_allocator a2 = zh_fba_allocator(&f2);
    for (size_t i = 0; i < 1000; i++) {
        size_t len = 1 + (i * 37) % 200;
        size_t alignment = (size_t)1 << (i % 7);
        unsigned char *p = zh_fba_alloc_inline(&f1, len, alignment);
        unsigned char *q = zh_raw_alloc(a2, len, (zh_align)(i % 7), 0);
        assert_true((p == NULL) == (q == NULL));
        if (p == NULL) break;
        assert_int_equal(p - b1, q - b2);
        assert_true(zh__is_aligned(p, alignment));
        assert_true(zh_fba_owns_slice(&f1, p, len));
        assert_true(zh_fba_is_last_allocation(&f1, p, len));
    }
    assert_int_equal(used(&f1), used(&f2));
    /* A fast-path block is freed through the interface like any other. */
    zh_fba_reset(&f1);
    unsigned char *p = zh_fba_alloc_inline(&f1, 24, 8);
    assert_non_null(p);
    zh_free_aligned(zh_fba_allocator(&f1), p, 24, 8);
    assert_int_equal(used(&f1), 0);
}

/* The exported zh_fba_alloc hands out the same blocks as the inline path. */
static void test_fba_exported_alloc_matches_inline(void **state) {
    (void)state;
    static _Alignas(64) unsigned char b1[4096], b2[4096];
    zh_fba f1, f2;
    zh_fba_init(&f1, b1, sizeof b1);
    zh_fba_init(&f2, b2, sizeof b2);
    for (size_t i = 0; i < 1000; i++) {
        size_t len = 1 + (i * 37) % 200;
        size_t alignment = (size_t)1 << (i % 7);
        unsigned char *p = zh_fba_alloc_inline(&f1, len, alignment);
        unsigned char *q = zh_fba_alloc(&f2, len, alignment);
        assert_true((p == NULL) == (q == NULL));
        if (p == NULL) break;
        assert_int_equal(p - b1, q - b2);
    }
    assert_int_equal(used(&f1), used(&f2));
}

static void alloc_bad_alignment(void *arg) { (void)zh_fba_alloc_inline(arg, 16, 3); }
static void exported_alloc_bad_alignment(void *arg) { (void)zh_fba_alloc(arg, 16, 24); }

/* The inline-path policy (docs/guide.md): an inline fast path checks everything
 * its exported function checks. The fba's one check (the alignment) is cheap, so
 * both make it in every build. */
static void test_fba_inline_bad_alignment_aborts(void **state) {
    (void)state;
    static unsigned char buf[256];
    zh_fba fba;
    zh_fba_init(&fba, buf, sizeof buf);
    zht_expect_abort(alloc_bad_alignment, &fba, "zh_fba_alloc");
    zht_expect_abort(exported_alloc_bad_alignment, &fba, "zh_fba_alloc");
}

static void test_fba_fast_path_exhaustion(void **state) {
    (void)state;
    _Alignas(16) unsigned char buf[32];
    zh_fba fba;
    zh_fba_init(&fba, buf, sizeof buf);
    assert_ptr_equal(zh_fba_alloc_inline(&fba, 3, 1), buf);
    assert_ptr_equal(zh_fba_alloc_inline(&fba, 16, 16), buf + 16);
    assert_null(zh_fba_alloc_inline(&fba, 1, 1));
    assert_null(zh_fba_alloc_inline(&fba, SIZE_MAX, 1));
    assert_null(zh_fba_alloc_inline(&fba, 1, (size_t)1 << 20));
    assert_int_equal(used(&fba), 32);
}

/* Near the top of the address space, rounding the cursor up can wrap around to 0;
 * that must be a clean failure, never a "block" at a low address. The buffer is a
 * made-up address range that is never dereferenced: only zh_fba_alloc and
 * zh_raw_alloc are used (the zh_alloc helpers would fill a block in safe builds). */
static void test_fba_alignment_near_top_of_memory_fails_cleanly(void **state) {
    (void)state;
    const size_t len = 256;
    const uintptr_t base = UINTPTR_MAX - 4095; /* 4 KiB aligned; ends well below the top */
    zh_fba fba;
    zh_fba_init(&fba, (void *)base, len);
    assert_ptr_equal(zh_fba_alloc_inline(&fba, 8, 8), (void *)base);
    /* cur + alignment - 1 overflows for every alignment above 4 KiB. */
    for (unsigned log2 = 13; log2 <= ZH_ALIGN_LOG2_MAX; log2++) {
        assert_null(zh_fba_alloc_inline(&fba, 1, (size_t)1 << log2));
        assert_null(zh_fba_alloc_inline(&fba, 0, (size_t)1 << log2));
        assert_null(zh_raw_alloc(zh_fba_allocator(&fba), 1, (zh_align)log2, 0));
        assert_null(zh_raw_alloc(zh_fba_thread_safe_allocator(&fba), 1, (zh_align)log2, 0));
        assert_int_equal(used(&fba), 8);
    }
    /* Alignments that do not wrap still work up to the last byte. */
    assert_ptr_equal(zh_fba_alloc_inline(&fba, 16, 64), (void *)(base + 64));
    assert_ptr_equal(zh_raw_alloc(zh_fba_thread_safe_allocator(&fba), 8, (zh_align)3, 0),
                     (void *)(base + 80));
    assert_ptr_equal(zh_fba_alloc_inline(&fba, len - 88, 1), (void *)(base + 88));
    assert_int_equal(used(&fba), len);
    assert_null(zh_fba_alloc_inline(&fba, 1, 1));
    assert_null(zh_raw_alloc(zh_fba_thread_safe_allocator(&fba), 1, (zh_align)0, 0));
    assert_null(zh_fba_alloc_inline(&fba, SIZE_MAX, 1));
    assert_ptr_equal(zh_fba_alloc_inline(&fba, 0, 1), (void *)(base + len));
    assert_int_equal(used(&fba), len);
}

static void test_fba_end_index_tracks_use(void **state) {
    (void)state;
    _Alignas(16) unsigned char buf[64];
    zh_fba fba;
    zh_fba_init(&fba, buf, sizeof buf);
    assert_int_equal(used(&fba), 0);
    assert_non_null(zh_fba_alloc_inline(&fba, 3, 1));
    assert_int_equal(used(&fba), 3);
    assert_non_null(zh_fba_alloc_inline(&fba, 4, 8)); /* 5 bytes of padding count too */
    assert_int_equal(used(&fba), 12);
    zh_fba_reset(&fba);
    assert_int_equal(used(&fba), 0);
    assert_ptr_equal(zh_fba_alloc_inline(&fba, 64, 16), buf);
    assert_int_equal(used(&fba), 64);
    zh_fba empty;
    zh_fba_init(&empty, NULL, 0);
    assert_int_equal(used(&empty), 0);
}

/* ---- out of memory ------------------------------------------------------------------------------
 * The fba never allocates from anywhere, so the sweep runs a scenario over a
 * failing allocator around an fba: every failure must leave the fba as it was. */

typedef struct sweep_ctx {
    zh_fba *fba;
} sweep_ctx;

static bool grow_a_list(zh_allocator a, void *ctx) {
    sweep_ctx *s = ctx;
    zh_fba_reset(s->fba); /* the previous run freed everything, but not in LIFO order */
    size_t len = 8;
    unsigned char *p = zh_alloc(a, len);
    if (p == NULL) {
        assert_int_equal(used(s->fba), 0); /* a failed allocation moves nothing */
        return false;
    }
    memset(p, 7, len);
    for (size_t step = 0; step < 5; step++) {
        unsigned char *extra = zh_alloc(a, 16); /* makes p non-last, so realloc must copy */
        if (extra == NULL) {
            zh_free(a, p, len);
            return false;
        }
        unsigned char *grown = zh_realloc(a, p, len, len * 2);
        if (grown == NULL) {
            assert_true(zht_all_bytes(p, len, 7)); /* old block intact */
            zh_free(a, extra, 16);
            zh_free(a, p, len);
            return false;
        }
        p = grown;
        memset(p + len, 7, len);
        len *= 2;
        zh_free(a, extra, 16);
    }
    zh_free(a, p, len);
    return true;
}

static void test_fba_oom_sweep_over_fba(void **state) {
    (void)state;
    static _Alignas(64) unsigned char buf[8192];
    zh_fba fba;
    zh_fba_init(&fba, buf, sizeof buf);
    sweep_ctx ctx = {&fba};
    size_t points = zht_oom_sweep(zh_fba_allocator(&fba), grow_a_list, &ctx);
    assert_int_equal(points, 11); /* 1 + 5 * (extra + realloc's allocation) */
}

/* ---- contract violations ---------------------------------------------------------------------- */

static void free_foreign_block(void *arg) {
    (void)arg;
    unsigned char buf[16], other[16];
    zh_fba fba;
    zh_fba_init(&fba, buf, sizeof buf);
    zh_free_aligned(zh_fba_allocator(&fba), other, sizeof other, 1);
}

static void test_fba_foreign_block_aborts(void **state) {
    (void)state;
    if (!zh_safety_enabled()) skip();
    zht_expect_abort(free_foreign_block, NULL, "zh_fba_allocator free");
}

/* ---- many threads on the lock-free interface --------------------------------------------------- */

#define THREADS 8
#define MAX_BLOCKS_PER_THREAD 4096
#define SHARED_LEN ((size_t)256 * 1024)

typedef struct block {
    unsigned char *p;
    size_t len, alignment;
} block;

typedef struct threads_ctx {
    zh_allocator a;
    block blocks[THREADS][MAX_BLOCKS_PER_THREAD];
    size_t counts[THREADS];
} threads_ctx;

static void allocate_until_full(void *arg, size_t index) {
    threads_ctx *t = arg;
    size_t n = 0;
    for (size_t i = 0; n < MAX_BLOCKS_PER_THREAD; i++) {
        size_t len = 1 + (i * 13 + index * 7) % 120;
        size_t alignment = (size_t)1 << ((i + index) % 6);
        unsigned char *p = zh_alloc_aligned(t->a, len, alignment);
        if (p == NULL) break;
        memset(p, (int)(index + 1), len); /* a data race here would show under TSan */
        t->blocks[index][n++] = (block){p, len, alignment};
    }
    t->counts[index] = n;
}

static int compare_blocks(const void *x, const void *y) {
    const block *a = x, *b = y;
    return a->p < b->p ? -1 : a->p > b->p;
}

static void test_fba_threads_allocate_disjoint_blocks(void **state) {
    (void)state;
    unsigned char *buf = malloc(SHARED_LEN);
    threads_ctx *t = calloc(1, sizeof *t);
    assert_non_null(buf);
    assert_non_null(t);
    zh_fba fba;
    zh_fba_init(&fba, buf, SHARED_LEN);
    t->a = zh_fba_thread_safe_allocator(&fba);
    zht_run_threads(THREADS, allocate_until_full, t);

    size_t total = 0, count = 0;
    for (size_t i = 0; i < THREADS; i++) count += t->counts[i];
    block *all = malloc(count * sizeof *all);
    assert_non_null(all);
    for (size_t i = 0, k = 0; i < THREADS; i++) {
        for (size_t j = 0; j < t->counts[i]; j++) {
            block b = t->blocks[i][j];
            assert_true(zh_fba_owns_slice(&fba, b.p, b.len));
            assert_true(((uintptr_t)b.p & (b.alignment - 1)) == 0);
            assert_true(zht_all_bytes(b.p, b.len, (unsigned char)(i + 1)));
            total += b.len;
            all[k++] = b;
        }
    }
    qsort(all, count, sizeof *all, compare_blocks);
    for (size_t k = 1; k < count; k++) assert_true(all[k - 1].p + all[k - 1].len <= all[k].p);
    assert_true(total <= SHARED_LEN);
    assert_true(used(&fba) <= SHARED_LEN);
    /* Everyone stopped because the buffer was full (no thread hit its block cap). */
    for (size_t i = 0; i < THREADS; i++) assert_true(t->counts[i] < MAX_BLOCKS_PER_THREAD);
    assert_true(SHARED_LEN - used(&fba) < 120 + 32);
    free(all);
    free(t);
    free(buf);
}

static void test_fba_thread_safe_resize_and_free_do_nothing(void **state) {
    (void)state;
    unsigned char buf[64];
    zh_fba fba;
    zh_fba_init(&fba, buf, sizeof buf);
    zh_allocator a = zh_fba_thread_safe_allocator(&fba);
    unsigned char *p = zh_alloc_aligned(a, 16, 1);
    assert_non_null(p);
    assert_false(zh_resize_aligned(a, p, 16, 8, 1));
    assert_false(zh_resize_aligned(a, p, 16, 32, 1));
    assert_null(zh_remap_aligned(a, p, 16, 32, 1));
    zh_free_aligned(a, p, 16, 1);
    assert_int_equal(used(&fba), 16);
}

/* One cursor behind both interfaces: after the threads are joined, the plain
 * allocator and the inline fast path continue exactly where the lock-free
 * allocations stopped, and a reset rewinds both. */
static void test_fba_interfaces_share_one_cursor(void **state) {
    (void)state;
    _Alignas(16) unsigned char buf[256];
    zh_fba fba;
    zh_fba_init(&fba, buf, sizeof buf);
    zh_allocator shared = zh_fba_thread_safe_allocator(&fba);
    zh_allocator plain = zh_fba_allocator(&fba);
    unsigned char *a = zh_raw_alloc(shared, 24, 3, 0);
    assert_ptr_equal(a, buf);
    unsigned char *b = zh_fba_alloc_inline(&fba, 8, 16);
    assert_ptr_equal(b, buf + 32);
    unsigned char *c = zh_raw_alloc(shared, 8, 0, 0);
    assert_ptr_equal(c, buf + 40);
    unsigned char *d = zh_raw_alloc(plain, 8, 0, 0);
    assert_ptr_equal(d, buf + 48);
    assert_true(zh_fba_is_last_allocation(&fba, d, 8));
    zh_raw_free(plain, d, 8, 0, 0);
    assert_int_equal(used(&fba), 48);
    zh_fba_reset(&fba);
    assert_ptr_equal(zh_raw_alloc(shared, 1, 0, 0), buf);
    assert_ptr_equal(zh_fba_alloc_inline(&fba, 1, 1), buf + 1);
}

/* zh_fba_end_index may be read while lock-free allocations run (an atomic read of
 * the cursor): it only ever grows and stays within the buffer. A data race here
 * would show under TSan. Thread 0 watches, the others allocate. */
typedef struct watch_ctx {
    zh_fba *fba;
    size_t observations;
    bool went_back, overran;
} watch_ctx;

static void allocate_or_watch(void *arg, size_t index) {
    watch_ctx *w = arg;
    if (index != 0) {
        zh_allocator a = zh_fba_thread_safe_allocator(w->fba);
        while (zh_alloc_aligned(a, 1 + index * 3, 8) != NULL) continue;
        return;
    }
    size_t last = 0;
    for (size_t i = 0; i < 20000; i++) {
        size_t now = zh_fba_end_index(w->fba);
        if (now < last) w->went_back = true;
        if (now > w->fba->len) w->overran = true;
        last = now;
    }
    w->observations = 20000;
}

static void test_fba_end_index_while_threads_allocate(void **state) {
    (void)state;
    unsigned char *buf = malloc(SHARED_LEN);
    assert_non_null(buf);
    zh_fba fba;
    zh_fba_init(&fba, buf, SHARED_LEN);
    watch_ctx w = {&fba, 0, false, false};
    zht_run_threads(4, allocate_or_watch, &w);
    assert_int_equal(w.observations, 20000);
    assert_false(w.went_back);
    assert_false(w.overran);
    assert_true(SHARED_LEN - used(&fba) < 16 + 8); /* filled up to the last block */
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fba_conformance_plain),
        cmocka_unit_test(test_fba_conformance_thread_safe),
        cmocka_unit_test(test_fba_reset_reuses_memory),
        cmocka_unit_test(test_fba_realloc_reuses_last_block),
        cmocka_unit_test(test_fba_realloc_moves_non_last_block),
        cmocka_unit_test(test_fba_owns_ptr_and_slice),
        cmocka_unit_test(test_fba_is_last_allocation),
        cmocka_unit_test(test_fba_resize_last_grows_and_shrinks_in_place),
        cmocka_unit_test(test_fba_resize_non_last_only_shrinks),
        cmocka_unit_test(test_fba_exact_fit_and_exhaustion),
        cmocka_unit_test(test_fba_alignment_padding),
        cmocka_unit_test(test_fba_huge_alignment_fails_cleanly),
        cmocka_unit_test(test_fba_empty_buffer),
        cmocka_unit_test(test_fba_fast_path_matches_vtable),
        cmocka_unit_test(test_fba_exported_alloc_matches_inline),
        cmocka_unit_test(test_fba_inline_bad_alignment_aborts),
        cmocka_unit_test(test_fba_fast_path_exhaustion),
        cmocka_unit_test(test_fba_alignment_near_top_of_memory_fails_cleanly),
        cmocka_unit_test(test_fba_end_index_tracks_use),
        cmocka_unit_test(test_fba_oom_sweep_over_fba),
        cmocka_unit_test(test_fba_foreign_block_aborts),
        cmocka_unit_test(test_fba_threads_allocate_disjoint_blocks),
        cmocka_unit_test(test_fba_thread_safe_resize_and_free_do_nothing),
        cmocka_unit_test(test_fba_interfaces_share_one_cursor),
        cmocka_unit_test(test_fba_end_index_while_threads_allocate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
