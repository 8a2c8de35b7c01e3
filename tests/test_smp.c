/* test_smp.c - the SMP allocator on one thread: conformance, size classes and
 * alignment, Zig's resize/remap category rules, address-only lookup (usable size,
 * size-less free), statistics, the large-mapping cache, memory return (RSS and the
 * allocator's own figures) and out-of-memory from the platform. The threaded tests
 * are in test_smp_threads.c. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* mincore */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "zheap/smp.h"

#include "common.h"
#include "core/track.h"
#include "platform/platform.h"
#include "smp_internal.h"
#if defined(ZH__TRACK_VALGRIND)
#include <valgrind/valgrind.h>
#endif

static const zh_allocator A = {0};

/* ThreadSanitizer keeps shadow memory for every byte ever touched, so the process's
 * RSS cannot fall; the allocator's own figures are still checked. */
#if defined(__SANITIZE_THREAD__)
#define SMP_TEST_SHADOW_RSS 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SMP_TEST_SHADOW_RSS 1
#endif
#endif
#ifndef SMP_TEST_SHADOW_RSS
#define SMP_TEST_SHADOW_RSS 0
#endif

/* So does a memory checker told which bytes are free (core/track.h): its shadow of
 * the poisoned blocks and pages is memory of its own. */
static bool shadow_rss(void) {
#if defined(ZH__TRACK_VALGRIND)
    return SMP_TEST_SHADOW_RSS || RUNNING_ON_VALGRIND;
#elif defined(ZH__TRACK_ASAN)
    return true;
#else
    return SMP_TEST_SHADOW_RSS;
#endif
}
#define SMP zh_smp_allocator

static zh_smp_stats stats(void) {
    zh_smp_stats s;
    zh_smp_get_stats(&s);
    return s;
}

/* Resident set size of this process in bytes (/proc/self/statm), 0 if unknown. */
static size_t rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL) return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    return n == 2 ? (size_t)resident * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

static void test_smp_conformance(void **state) {
    (void)state;
    (void)A;
    zht_assert_conformance(SMP);
}

/* Every size up to a few pages, at every alignment up to 64 KiB: aligned, usable
 * size covers the request, and neighbouring blocks do not overlap. */
static void test_smp_sizes_and_alignments(void **state) {
    (void)state;
    for (size_t alignment = 1; alignment <= 65536; alignment *= 2) {
        for (size_t len = 1; len <= 70000; len += len < 300 ? 1 : 997) {
            unsigned char *p = zh_alloc_aligned(SMP, len, alignment);
            unsigned char *q = zh_alloc_aligned(SMP, len, alignment);
            assert_non_null(p);
            assert_non_null(q);
            assert_true(zh__is_aligned(p, alignment));
            assert_true(zh__is_aligned(q, alignment));
            size_t usable = zh_smp_usable_size(p);
            assert_true(usable >= len);
            assert_true(p + usable <= q || q + zh_smp_usable_size(q) <= p);
            memset(p, 0x11, usable);
            memset(q, 0x22, zh_smp_usable_size(q));
            assert_true(zht_all_bytes(p, usable, 0x11));
            zh_free_aligned(SMP, p, len, alignment);
            zh_smp_free_unsized(q);
        }
    }
}

/* Size classes: 16-byte steps to 128, then at most 25 % rounding. */
/* The smallest class holding len bytes, from the class table in the statistics. */
static size_t smallest_class_for(const zh_smp_stats *s, size_t len) {
    for (size_t c = 0; c < ZH_SMP_CLASS_COUNT; c++)
        if (s->classes[c].block_size >= len) return s->classes[c].block_size;
    return 0;
}

static void test_smp_size_class_rounding(void **state) {
    (void)state;
    zh_smp_stats s = stats();
    for (size_t len = 1; len <= ZH_SMP_SMALL_MAX; len++) {
        if (len > 4096 && len % 61 != 0) continue;
        void *p = zh_alloc(SMP, len);
        assert_non_null(p);
        size_t usable = zh_smp_usable_size(p);
        assert_int_equal(usable, smallest_class_for(&s, len)); /* the tightest class */
        assert_true(usable >= len);
        if (len <= 128) assert_true(usable - len < 16);
        else assert_true(usable - len <= len / 4 + 1);
        zh_free(SMP, p, len);
    }
}

/* Zig's rules: a small block resizes in place only within its class; small and
 * large never cross; remap of a small block is resize. */
static void test_smp_resize_category_rules(void **state) {
    (void)state;
    char *p = zh_alloc(SMP, 100); /* class 112 */
    assert_non_null(p);
    assert_int_equal(zh_smp_usable_size(p), 112);
    assert_true(zh_resize(SMP, p, 100, 112));
    assert_true(zh_resize(SMP, p, 112, 97));
    assert_false(zh_resize(SMP, p, 97, 113));
    assert_false(zh_resize(SMP, p, 97, 96));
    assert_ptr_equal(zh_remap(SMP, p, 97, 110), p);
    assert_null(zh_remap(SMP, p, 110, 200000));
    zh_free(SMP, p, 110);

    size_t big = 100000; /* a large block: 7 units of 16 KiB */
    char *l = zh_alloc(SMP, big);
    assert_non_null(l);
    assert_int_equal(zh_smp_usable_size(l), 7 * 16384);
    assert_false(zh_resize(SMP, l, big, 1000)); /* would become small */
    assert_null(zh_remap(SMP, l, big, 1000));
    assert_true(zh_resize(SMP, l, big, 7 * 16384));
    assert_true(zh_resize(SMP, l, 7 * 16384, 40000)); /* gives 4 units back */
    assert_int_equal(zh_smp_usable_size(l), 3 * 16384);
    memset(l, 7, 40000);
    zh_free(SMP, l, 40000);
}

/* A large run grows in place into free units after it. */
static void test_smp_large_grows_in_place(void **state) {
    (void)state;
    zh_smp_trim();
    char *l = zh_alloc(SMP, 70000);
    assert_non_null(l);
    memset(l, 3, 70000);
    bool grew = zh_resize(SMP, l, 70000, 300000);
    if (grew) {
        assert_true(zh_smp_usable_size(l) >= 300000);
        memset(l, 4, 300000);
        zh_free(SMP, l, 300000);
    } else {
        zh_free(SMP, l, 70000);
    }
    /* Growing across the category limit (into a huge block) never happens in place. */
    char *m = zh_alloc(SMP, 4u << 20);
    assert_non_null(m);
    assert_false(zh_resize(SMP, m, 4u << 20, (4u << 20) + 1));
    zh_free(SMP, m, 4u << 20);
}

/* Huge blocks: own mapping, address lookup, in-place resize within the mapping,
 * over-aligned ones (16 MiB and above). */
static void test_smp_huge_blocks(void **state) {
    (void)state;
    size_t len = 5u << 20;
    unsigned char *p = zh_alloc(SMP, len);
    assert_non_null(p);
    assert_true(zh_smp_usable_size(p) >= len);
    memset(p, 0x5a, len);
    assert_true(zh_resize(SMP, p, len, len - 5000));
    assert_false(zh_resize(SMP, p, len - 5000, 1000)); /* small: other category */
    zh_smp_free_unsized(p);

    for (size_t alignment = (size_t)1 << 20; alignment <= (size_t)1 << 25; alignment *= 2) {
        unsigned char *q = zh_alloc_aligned(SMP, 3000, alignment);
        assert_non_null(q);
        assert_true(zh__is_aligned(q, alignment));
        assert_true(zh_smp_usable_size(q) >= 3000);
        memset(q, 1, 3000);
        zh_free_aligned(SMP, q, 3000, alignment);
    }
}

/* Statistics follow allocation and free; per-class counts are exact on one thread. */
static void test_smp_stats(void **state) {
    (void)state;
    zh_smp_stats before = stats();
    enum { N = 1000 };
    void *blocks[N];
    for (int i = 0; i < N; i++) assert_non_null(blocks[i] = zh_alloc(SMP, 40));
    void *large = zh_alloc(SMP, 200000);
    assert_non_null(large);
    zh_smp_stats during = stats();
    unsigned c40 = 2; /* the 48-byte class */
    assert_int_equal(during.classes[c40].block_size, 48);
    assert_int_equal(during.classes[c40].live - before.classes[c40].live, N);
    assert_int_equal(during.classes[c40].allocations - before.classes[c40].allocations, N);
    assert_int_equal(during.large_live - before.large_live, 1);
    assert_true(during.allocated >= before.allocated + N * 48 + 200000);
    assert_true(during.active >= before.active + 200000);
    assert_true(during.peak_active >= during.active);
    assert_true(during.mapped >= during.active);
    assert_true(during.heaps >= 1);
    for (int i = 0; i < N; i++) zh_smp_free_unsized(blocks[i]);
    zh_free(SMP, large, 200000);
    zh_smp_stats after = stats();
    assert_int_equal(after.classes[c40].live, before.classes[c40].live);
    assert_int_equal(after.large_live, before.large_live);
    assert_true(after.allocated <= during.allocated - N * 48 - 200000);
}

/* A thread that frees a long run of one class without allocating it (a phase of
 * frees) gives the pages it emptied back at once: at most its current page and its
 * spares stay with it. */
static void test_smp_a_free_phase_gives_pages_back(void **state) {
    (void)state;
    enum { LEN = 1000, N = 2000 }; /* 16 blocks per page: 125 pages */
    static void *blocks[N];
    zh_smp_trim();
    zh_smp_stats before = stats();
    for (int i = 0; i < N; i++) assert_non_null(blocks[i] = zh_alloc(SMP, LEN));
    zh_smp_stats full = stats();
    for (int i = 0; i < N; i++) zh_free(SMP, blocks[i], LEN);
    zh_smp_stats freed = stats();
    unsigned c = 19; /* the 1024-byte class */
    assert_int_equal(freed.classes[c].block_size, 1024);
    assert_int_equal(freed.classes[c].live, before.classes[c].live);
    print_message("active %zu KiB before, %zu full, %zu freed\n", before.active >> 10,
                  full.active >> 10, freed.active >> 10);
    assert_true(full.active >= before.active + (size_t)N * 1024);
    /* What may stay with the thread: its current page (a grown one spans 4 units of
     * 16 KiB) and its spare pages (32 units together). */
    assert_true(freed.active <= before.active + (32 + 4) * 16384);
}

/* A heap's new pages of a class grow once it holds many pages of the class (16: twice
 * the span, 32: four times), and shrink back when it no longer does. */
static void test_smp_pages_grow_with_a_class(void **state) {
    (void)state;
    enum { LEN = 8000, N = 200 }; /* the 8 KiB class: 2 blocks per 16 KiB unit */
    static void *blocks[N];
    zh_smp_trim();
    for (int i = 0; i < N; i++) assert_non_null(blocks[i] = zh_alloc(SMP, LEN));
    assert_int_equal(zh__smp_page_units(blocks[0]), 1);
    assert_int_equal(zh__smp_page_units(blocks[2 * 16 + 1]), 2);
    assert_int_equal(zh__smp_page_units(blocks[N - 1]), 4);
    for (int i = 0; i < N; i++) zh_free(SMP, blocks[i], LEN);
    zh_smp_trim(); /* the current page goes too: the heap holds none of the class */
    void *again = zh_alloc(SMP, LEN);
    assert_non_null(again);
    assert_int_equal(zh__smp_page_units(again), 1);
    zh_free(SMP, again, LEN);
    zh_smp_trim();
}

/* Frees p if it starts a block of the SMP allocator and says so: zh_smp_free_owned
 * (the page record's test), or zh__smp_free_or (the preload library's free, which
 * tests a tagged page's blocks from the unit's tag). */
typedef bool (*free_if_block_fn)(void *p);

static bool free_or_refused;
static void free_or_not_ours(void *p) {
    (void)p;
    free_or_refused = true;
}
static bool free_by_tag(void *p) {
    free_or_refused = false;
    zh__smp_free_or(p, free_or_not_ours);
    return !free_or_refused;
}

/* Block starts of every kind (small, large, huge, over-aligned) are freed, and
 * nothing else: pointers inside a block, a page's slack, a segment's header, NULL,
 * memory of other allocators, addresses never mapped, a huge block already unmapped. */
static void check_frees_only_block_starts(free_if_block_fn free_if_block) {
    static const size_t lens[] = {1, 16, 48, 100, 1000, 4096, 7000, 16384, 32768, 40000,
                                  (size_t)1 << 20, (size_t)8 << 20};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (zh_align a = 0; a <= 12; a += 4) {
            unsigned char *p = zh_raw_alloc(SMP, lens[i], a, 0);
            assert_non_null(p);
            size_t usable = zh_smp_usable_size(p);
            memset(p, 0x5a, usable);
            zh_smp_stats before = stats();
            /* Block starts are 16-aligned: p + 8 is always inside; p + 16 is the
             * next 16-byte slot, inside unless the block is one slot. */
            assert_false(free_if_block(p + 8));
            if (usable > 16) assert_false(free_if_block(p + 16));
            assert_false(free_if_block(p + usable - 1));
            assert_true(zht_all_bytes(p, usable, 0x5a));
            assert_int_equal(stats().allocated, before.allocated);
            assert_true(free_if_block(p));
            assert_true(stats().allocated < before.allocated);
        }
    }
    int on_stack = 0;
    static int in_data;
    void *from_libc = malloc(64);
    assert_non_null(from_libc);
    zh_smp_stats before = stats();
    assert_false(free_if_block(NULL));
    assert_false(free_if_block(&on_stack));
    assert_false(free_if_block(&in_data));
    assert_false(free_if_block(from_libc));
    assert_false(free_if_block((void *)(uintptr_t)0x10));
    assert_false(free_if_block((void *)~(uintptr_t)0xf)); /* beyond the map */
    assert_int_equal(stats().allocated, before.allocated);
    free(from_libc);
    /* The slack after a page's last block and a segment's header unit are no
     * blocks: the 48-byte class leaves 16 bytes at the end of its 16 KiB page. */
    unsigned char *b48 = zh_alloc(SMP, 48);
    assert_non_null(b48);
    unsigned char *page = (unsigned char *)((uintptr_t)b48 & ~(uintptr_t)0x3fff);
    assert_false(free_if_block(page + 16384 - 48)); /* 16336 = 340.33 blocks */
    assert_false(free_if_block(page + 16384 - 16)); /* 16368: a multiple of 48, past the last block */
    unsigned char *segment = (unsigned char *)((uintptr_t)b48 & ~(((uintptr_t)1 << 24) - 1));
    assert_false(free_if_block(segment + 64));
    /* The segment's last unit: free, and its record's head NULL unless it was ever
     * handed out. */
    assert_false(free_if_block(segment + ((size_t)16 << 20) - 16384));
    assert_true(free_if_block(b48));
    /* A page of 12 KiB blocks spans several units: the first multiple of the size
     * past its last block lies in a later unit than the first. */
    unsigned char *b12k = zh_alloc(SMP, 12288);
    assert_non_null(b12k);
    size_t span = zh__smp_page_units(b12k) * (size_t)16384, past = span / 12288 * 12288;
    assert_true(past >= 16384 && past + 12288 > span);
    assert_false(free_if_block((unsigned char *)zh__smp_page_start(b12k) + past));
    /* The second unit's start: a unit boundary, inside the page's second block. */
    assert_false(free_if_block((unsigned char *)zh__smp_page_start(b12k) + 16384));
    assert_false(free_if_block(b12k + 4096));
    assert_true(free_if_block(b12k));
    void *huge = zh_raw_alloc(SMP, (size_t)16 << 20, 4, 0);
    assert_non_null(huge);
    assert_true(free_if_block(huge));
    zh_smp_trim();
    assert_false(free_if_block(huge));
}

static void test_smp_free_owned(void **state) {
    (void)state;
    check_frees_only_block_starts(zh_smp_free_owned);
}

static void test_smp_free_or_by_tag(void **state) {
    (void)state;
    check_frees_only_block_starts(free_by_tag);
}

/* Large and huge blocks freed and allocated again come from the cache: in the
 * steady state well under 0.1 map/unmap calls per alloc/free pair. */
static void test_smp_large_cache_steady_state(void **state) {
    (void)state;
    static const size_t sizes[] = {65536, 300000, 1u << 20, 3u << 20, 6u << 20, 12u << 20};
    enum { ROUNDS = 200, COUNT = sizeof sizes / sizeof sizes[0] };
    for (size_t k = 0; k < COUNT; k++) { /* warm up */
        void *p = zh_alloc(SMP, sizes[k]);
        assert_non_null(p);
        zh_free(SMP, p, sizes[k]);
    }
    zh_smp_stats before = stats();
    for (int r = 0; r < ROUNDS; r++) {
        for (size_t k = 0; k < COUNT; k++) {
            unsigned char *p = zh_alloc(SMP, sizes[k]);
            assert_non_null(p);
            p[0] = p[sizes[k] - 1] = (unsigned char)r;
            zh_free(SMP, p, sizes[k]);
        }
    }
    zh_smp_stats after = stats();
    uint64_t calls = (after.os_maps - before.os_maps) + (after.os_unmaps - before.os_unmaps);
    print_message("large cache: %llu map+unmap calls for %d pairs\n",
                  (unsigned long long)calls, ROUNDS * COUNT);
    assert_true(calls * 10 <= (uint64_t)ROUNDS * COUNT);
}

/* Zig's open issue: free every 1 KiB chunk of 128 MiB and RSS stays. Here RSS and
 * the allocator's resident figure fall back near where they started once the purge
 * delay has passed. */
static void test_smp_memory_returns_after_free(void **state) {
    (void)state;
    enum { CHUNK = 1024, COUNT = 128 * 1024 }; /* 128 MiB */
    zh_smp_trim();
    size_t rss_before = rss_bytes();
    zh_smp_stats before = stats();
    void **blocks = malloc(COUNT * sizeof *blocks);
    assert_non_null(blocks);
    for (size_t i = 0; i < COUNT; i++) {
        blocks[i] = zh_alloc(SMP, CHUNK);
        assert_non_null(blocks[i]);
        memset(blocks[i], (int)i, CHUNK);
    }
    size_t rss_full = rss_bytes();
    for (size_t i = 0; i < COUNT; i++) zh_free(SMP, blocks[i], CHUNK);
    free(blocks);
    size_t rss_freed = rss_bytes();
    /* The purge delay (100 ms) passes; the next slow-path call (here a large
     * block) gives back what stayed free that long. */
    nanosleep(&(struct timespec){0, 300 * 1000 * 1000}, NULL);
    zh_free(SMP, zh_alloc(SMP, 100000), 100000);
    size_t rss_after = rss_bytes();
    zh_smp_stats after = stats();
    print_message("RSS before %zu KiB, full %zu KiB, just freed %zu KiB, after the delay %zu KiB; "
                  "cached %zu KiB, mapped %zu -> %zu KiB\n",
                  rss_before >> 10, rss_full >> 10, rss_freed >> 10, rss_after >> 10,
                  after.cached >> 10, before.mapped >> 10, after.mapped >> 10);
    /* The class's current page (a grown one spans 4 units of 16 KiB) and the heap's
     * spare pages (32 units together) stay with the thread until its next idle check. */
    assert_true(after.active <= before.active + (32 + 4) * 16384);
    if (!(zh__os_info_get()->caps & ZH__OS_CAN_PURGE)) {
        print_message("this backend cannot purge: RSS checks skipped\n");
        return;
    }
    if (shadow_rss()) rss_before = 0; /* the checker's shadow stays resident */
    /* What may stay resident: the units just used for the probe, the current page
     * of the class and the spare pages, segment headers. */
    assert_true(after.cached <= ((size_t)1 << 20));
    if (rss_before != 0) {
        assert_true(rss_full > rss_before + ((size_t)100 << 20));
        assert_true(rss_after < rss_before + ((size_t)4 << 20));
    }
    zh_smp_trim();
    zh_smp_stats trimmed = stats();
    assert_int_equal(trimmed.cached, 0);
    if (rss_before != 0) assert_true(rss_bytes() < rss_before + ((size_t)2 << 20));
}

/* Resident OS pages in [range[0], range[1]) (mincore), 0 where nothing is mapped. */
static size_t resident_pages(const uintptr_t range[2]) {
#if defined(__linux__)
    size_t page = (size_t)sysconf(_SC_PAGESIZE), n = (range[1] - range[0]) / page, count = 0;
    unsigned char vec[64];
    for (size_t i = 0; i < n; i += sizeof vec) {
        size_t k = n - i < sizeof vec ? n - i : sizeof vec;
        if (mincore((void *)(range[0] + i * page), k * page, vec) != 0) continue; /* unmapped */
        for (size_t j = 0; j < k; j++) count += vec[j] & 1;
    }
    return count;
#else
    (void)range;
    return 0;
#endif
}

/* The free segment kept for reuse gives its units' page records back with its units
 * once the purge delay has passed: one that served 64 KiB runs in every unit would
 * otherwise keep all its record pages (up to 127 KiB) resident until used again. */
/* Resident pages of the record ranges of consecutive blocks, each segment's range
 * counted once (blocks of one segment report the same range, one after another). */
static size_t resident_record_pages(uintptr_t (*ranges)[2], size_t count) {
    size_t pages = 0;
    for (size_t i = 0; i < count; i++)
        if (i == 0 || ranges[i][0] != ranges[i - 1][0]) pages += resident_pages(ranges[i]);
    return pages;
}

static void test_smp_free_segment_records_purged(void **state) {
    (void)state;
#if !defined(__linux__)
    skip(); /* mincore */
#endif
    if (!(zh__os_info_get()->caps & ZH__OS_CAN_PURGE)) skip();
    enum { RUN = 65536, COUNT = 600 }; /* 4 units each: over two segments' worth */
    static void *blocks[COUNT];
    static uintptr_t ranges[COUNT][2];
    zh_smp_trim();
    for (size_t i = 0; i < COUNT; i++) {
        blocks[i] = zh_alloc(SMP, RUN);
        assert_non_null(blocks[i]);
        memset(blocks[i], 0x3c, 64);
        zh__smp_records_range(blocks[i], ranges[i]);
    }
    size_t touched = resident_record_pages(ranges, COUNT);
    assert_true(touched > 0); /* the runs' records were written */
    for (size_t i = 0; i < COUNT; i++) zh_free(SMP, blocks[i], RUN);
    /* The purge delay passes; freeing a huge block (its own mapping: no unit is
     * claimed) runs the policy, which unmaps the free segments but one and purges
     * that one's units - and now its records. */
    nanosleep(&(struct timespec){0, 300 * 1000 * 1000}, NULL);
    size_t huge_len = (size_t)8 << 20;
    zh_free(SMP, zh_alloc(SMP, huge_len), huge_len);
    size_t left = resident_record_pages(ranges, COUNT);
    print_message("record pages resident: %zu with the runs, %zu after the delay\n", touched,
                  left);
    assert_int_equal(left, 0);
}


/* The policy alone brings memory back, without zh_smp_trim: blocks of many size
 * classes are freed (each class's current page and its spare page stay empty with
 * the thread), the purge delay passes, and one small alloc/free of a class used
 * before - the thread's next slow path - gives back every page that stayed empty
 * for the delay, the current pages included. */
static void test_smp_idle_pages_return_without_trim(void **state) {
    (void)state;
    enum { COUNT = 4000 };
    static void *blocks[COUNT];
    static size_t lens[COUNT];
    zh_free(SMP, zh_alloc(SMP, 100), 100);
    zh_smp_trim();
    zh_free(SMP, zh_alloc(SMP, 100), 100);
    zh_smp_stats before = stats();
    for (size_t i = 0; i < COUNT; i++) {
        lens[i] = 16 + (i * 7919) % 16000; /* sizes across the classes up to 16 KiB */
        blocks[i] = zh_alloc(SMP, lens[i]);
        assert_non_null(blocks[i]);
        memset(blocks[i], 0x33, lens[i]);
    }
    zh_smp_stats full = stats();
    for (size_t i = 0; i < COUNT; i++) zh_free(SMP, blocks[i], lens[i]);
    zh_smp_stats freed = stats();
    nanosleep(&(struct timespec){0, 300 * 1000 * 1000}, NULL);
    zh_free(SMP, zh_alloc(SMP, 100), 100);
    zh_smp_stats after = stats();
    print_message("active %zu KiB before, %zu full, %zu freed, %zu after the delay; cached %zu KiB\n",
                  before.active >> 10, full.active >> 10, freed.active >> 10, after.active >> 10,
                  after.cached >> 10);
    assert_true(full.active > before.active + ((size_t)8 << 20));
    /* Once the pages stayed empty for the delay they go back: at most the page of
     * the class just used may stay. */
    assert_true(after.active <= before.active + 65536);
    if (zh__os_info_get()->caps & ZH__OS_CAN_PURGE) assert_true(after.cached <= 65536);
}

/* Out of memory from the platform: with every map refused, requests that need new
 * memory return NULL (small, large and huge), blocks already handed out stay
 * intact, and once the OS gives memory again the allocator carries on. */
static void test_smp_out_of_memory_from_platform(void **state) {
    (void)state;
    enum { MAX_BLOCKS = 4096 };
    static void *large[MAX_BLOCKS], *small[MAX_BLOCKS * 8];
    size_t nlarge = 0, nsmall = 0;
    /* Only where the backend honours the seam's fault injection. */
    zh__os_test_fail_after(ZH__OS_FAULT_MAP, 0);
    void *probe = zh__os_map(zh__os_info_get()->page_size, 1, NULL);
    zh__os_test_fail_after(ZH__OS_FAULT_MAP, SIZE_MAX);
    if (probe != NULL) {
        zh__os_unmap(probe, zh__os_info_get()->page_size);
        print_message("backend %s ignores fault injection: skipped\n", zh__os_info_get()->name);
        skip();
    }
    zh_smp_trim();
    unsigned char *keep = zh_alloc(SMP, 200);
    assert_non_null(keep);
    memset(keep, 0x77, 200);
    zh_smp_stats before = stats();

    zh__os_test_fail_after(ZH__OS_FAULT_MAP, 0);
    void *huge = zh_alloc(SMP, (size_t)20 << 20); /* needs a mapping */
    /* Use up the free units of the mapped segments with 4 MiB runs, then 64 KiB
     * runs, then 16 KiB blocks (the largest class: pages of 2 units), until the
     * allocator must map and cannot. */
    while (nlarge < MAX_BLOCKS && (large[nlarge] = zh_alloc(SMP, (size_t)4 << 20)) != NULL)
        nlarge++;
    while (nlarge < MAX_BLOCKS && (large[nlarge] = zh_alloc(SMP, 65536)) != NULL) nlarge++;
    while (nsmall < MAX_BLOCKS * 8 &&
           (small[nsmall] = zh_alloc(SMP, ZH_SMP_SMALL_MAX)) != NULL)
        nsmall++;
    void *unit = zh_alloc(SMP, 65536);
    zh__os_test_fail_after(ZH__OS_FAULT_MAP, SIZE_MAX); /* before any assertion */
    assert_null(huge);
    assert_null(unit);
    assert_true(nlarge < MAX_BLOCKS);
    assert_true(nsmall < MAX_BLOCKS * 8);

    assert_true(zht_all_bytes(keep, 200, 0x77));
    void *again = zh_alloc(SMP, ZH_SMP_SMALL_MAX);
    void *again_huge = zh_alloc(SMP, (size_t)20 << 20);
    assert_non_null(again);
    assert_non_null(again_huge);
    zh_free(SMP, again, ZH_SMP_SMALL_MAX);
    zh_free(SMP, again_huge, (size_t)20 << 20);
    while (nlarge > 0) zh_smp_free_unsized(large[--nlarge]);
    while (nsmall > 0) zh_free(SMP, small[--nsmall], ZH_SMP_SMALL_MAX);
    zh_smp_stats after = stats();
    assert_int_equal(after.large_live, before.large_live);
    assert_int_equal(after.allocated, before.allocated);
    zh_free(SMP, keep, 200);
    zht_assert_conformance(SMP);
}

#if ZH_CONFIG_SAFETY
static void free_with_wrong_size(void *arg) {
    (void)arg;
    /* Shorter than the block, so that the freed bytes the safety build overwrites stay
     * within it (a longer one would be a checker's report first: core/track.h). */
    void *p = zh_alloc(SMP, 300);
    zh_free(SMP, p, 100);
}
static void free_twice_large(void *arg) {
    (void)arg;
    void *p = zh_alloc(SMP, 100000);
    zh_free(SMP, p, 100000);
#if defined(ZH__TRACK_ASAN)
    /* zh_free's safety fill of the freed block would be ASan's report (and exit)
     * first: core/track.h. The size-less free checks the same record. */
    zh_smp_free_unsized(p);
#else
    zh_free(SMP, p, 100000);
#endif
}
#endif

static void test_smp_contract_violations_abort(void **state) {
    (void)state;
#if ZH_CONFIG_SAFETY
    zht_expect_abort(free_with_wrong_size, NULL, "zh_smp_allocator: free");
    zht_expect_abort(free_twice_large, NULL, "double free");
#else
    skip();
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smp_conformance),
        cmocka_unit_test(test_smp_sizes_and_alignments),
        cmocka_unit_test(test_smp_size_class_rounding),
        cmocka_unit_test(test_smp_resize_category_rules),
        cmocka_unit_test(test_smp_large_grows_in_place),
        cmocka_unit_test(test_smp_huge_blocks),
        cmocka_unit_test(test_smp_stats),
        cmocka_unit_test(test_smp_a_free_phase_gives_pages_back),
        cmocka_unit_test(test_smp_pages_grow_with_a_class),
        cmocka_unit_test(test_smp_free_owned),
        cmocka_unit_test(test_smp_free_or_by_tag),
        cmocka_unit_test(test_smp_large_cache_steady_state),
        cmocka_unit_test(test_smp_memory_returns_after_free),
        cmocka_unit_test(test_smp_free_segment_records_purged),
        cmocka_unit_test(test_smp_idle_pages_return_without_trim),
        cmocka_unit_test(test_smp_out_of_memory_from_platform),
        cmocka_unit_test(test_smp_contract_violations_abort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
