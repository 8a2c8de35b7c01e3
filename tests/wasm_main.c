/* wasm_main.c - framework-free tests of the WasmAllocator and the wasm platform
 * backend, run under node in wasm32-wasi builds (no cmocka there).
 *
 * Zig's WasmAllocator tests are the checklist, plus what this port adds: alignment
 * above 64 KiB, growth refused by the engine (the executable is linked with a 64 MiB
 * maximum memory, see tests/CMakeLists.txt), memory grown by wasi-libc's malloc in
 * between, and the page-run backend under zh_page_allocator.
 *
 *   zheap-wasm_main.wasm                 all tests; prints "N passed, M failed"
 *   zheap-wasm_main.wasm --double-free   aborts naming zh_wasm_allocator (safety on)
 *   zheap-wasm_main.wasm --wrong-length  aborts: a free with another class's length */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zheap/internal.h"
#include "zheap/page.h"
#include "zheap/testing.h"
#include "zheap/wasm.h"

#include "platform/platform.h"
#include "support/bytes.h" /* zht_all_bytes */

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)
#define PAGE (64 * KIB)
#define BIG_PAGE_BYTES PAGE

/* ---- a minimal harness ------------------------------------------------------------ */

static const char *current_test;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__,     \
                    current_test, #cond);                                            \
            return false;                                                            \
        }                                                                            \
    } while (0)

static size_t memory_pages(void) { return zh__os_memory_grow(0); }

/* ---- Zig's WasmAllocator tests ------------------------------------------------------- */

#define SMALL_COUNT 513

static bool create_many(uint64_t **list) {
    for (size_t i = 0; i < SMALL_COUNT; i++) {
        list[i] = ZH_CREATE(zh_wasm_allocator, uint64_t);
        CHECK(list[i] != NULL);
        *list[i] = i;
    }
    for (size_t i = 0; i < SMALL_COUNT; i++) CHECK(*list[i] == i);
    return true;
}

static bool in_list(uint64_t *const *list, const uint64_t *p) {
    for (size_t i = 0; i < SMALL_COUNT; i++)
        if (list[i] == p) return true;
    return false;
}

static bool test_wasm_small_free_same_order(void) {
    static uint64_t *list[SMALL_COUNT];
    CHECK(create_many(list));
    for (size_t i = 0; i < SMALL_COUNT; i++) ZH_DESTROY(zh_wasm_allocator, list[i]);
    return true;
}

static bool test_wasm_small_free_reverse_order(void) {
    static uint64_t *list[SMALL_COUNT];
    CHECK(create_many(list));
    for (size_t i = SMALL_COUNT; i-- > 0;) ZH_DESTROY(zh_wasm_allocator, list[i]);
    return true;
}

/* Freed small slots are handed out again before any new memory is used. */
static bool test_wasm_small_reuse(void) {
    static uint64_t *first[SMALL_COUNT], *second[SMALL_COUNT];
    CHECK(create_many(first));
    for (size_t i = 0; i < SMALL_COUNT; i++) ZH_DESTROY(zh_wasm_allocator, first[i]);
    size_t pages = memory_pages();
    CHECK(create_many(second));
    CHECK(memory_pages() == pages);
    for (size_t i = 0; i < SMALL_COUNT; i++) CHECK(in_list(first, second[i]));
    for (size_t i = 0; i < SMALL_COUNT; i++) ZH_DESTROY(zh_wasm_allocator, second[i]);
    return true;
}

static bool test_wasm_large_allocations(void) {
    uint64_t *p1 = ZH_ALLOC_ARRAY(zh_wasm_allocator, uint64_t, 42768);
    uint64_t *p2 = ZH_ALLOC_ARRAY(zh_wasm_allocator, uint64_t, 52768);
    CHECK(p1 != NULL && p2 != NULL);
    p1[0] = 1, p1[42767] = 2, p2[0] = 3, p2[52767] = 4;
    CHECK(p1[0] == 1 && p1[42767] == 2 && p2[0] == 3 && p2[52767] == 4);
    ZH_FREE_ARRAY(zh_wasm_allocator, p1, 42768);
    uint64_t *p3 = ZH_ALLOC_ARRAY(zh_wasm_allocator, uint64_t, 62768);
    CHECK(p3 != NULL);
    p3[62767] = 5;
    CHECK(p2[0] == 3 && p2[52767] == 4);
    ZH_FREE_ARRAY(zh_wasm_allocator, p3, 62768);
    ZH_FREE_ARRAY(zh_wasm_allocator, p2, 52768);
    return true;
}

/* A freed big block is the next one of its size handed out. */
static bool test_wasm_large_reuse(void) {
    char *a = zh_alloc(zh_wasm_allocator, 300 * KIB);
    CHECK(a != NULL);
    zh_free(zh_wasm_allocator, a, 300 * KIB);
    size_t pages = memory_pages();
    char *b = zh_alloc(zh_wasm_allocator, 300 * KIB);
    CHECK(b == a);
    CHECK(memory_pages() == pages);
    zh_free(zh_wasm_allocator, b, 300 * KIB);
    return true;
}

static bool test_wasm_very_large_allocation(void) {
    size_t pages = memory_pages();
    CHECK(zh_alloc(zh_wasm_allocator, SIZE_MAX) == NULL);
    CHECK(zh_alloc(zh_wasm_allocator, SIZE_MAX - 3) == NULL);
    CHECK(zh_alloc(zh_wasm_allocator, SIZE_MAX / 2 + 1) == NULL);
    CHECK(zh_alloc(zh_wasm_allocator, 100 * MIB) == NULL); /* above the 64 MiB cap */
    CHECK(memory_pages() == pages);
    return true;
}

static bool test_wasm_realloc(void) {
    unsigned char *s = zh_alloc_aligned(zh_wasm_allocator, 1, 4);
    CHECK(s != NULL);
    s[0] = 0x12;
    unsigned char *t = zh_realloc_aligned(zh_wasm_allocator, s, 1, 2, 4);
    CHECK(t == s); /* same size class: stays */
    CHECK(t[0] == 0x12);
    t[1] = 0x34;
    unsigned char *u = zh_realloc_aligned(zh_wasm_allocator, t, 2, 17, 4); /* a larger class */
    CHECK(u != NULL);
    CHECK(u[0] == 0x12 && u[1] == 0x34);
    zh_free_aligned(zh_wasm_allocator, u, 17, 4);
    return true;
}

static bool test_wasm_shrink(void) {
    unsigned char *s = zh_alloc(zh_wasm_allocator, 20);
    CHECK(s != NULL);
    memset(s, 0x11, 20);
    CHECK(zh_resize(zh_wasm_allocator, s, 20, 17));
    CHECK(zht_all_bytes(s, 17, 0x11));
    CHECK(zh_resize(zh_wasm_allocator, s, 17, 16));
    CHECK(zht_all_bytes(s, 16, 0x11));
    zh_free(zh_wasm_allocator, s, 16);
    return true;
}

static bool test_wasm_large_object_grow(void) {
    size_t len = BIG_PAGE_BYTES * 2 - 20;
    unsigned char *s = zh_alloc(zh_wasm_allocator, len);
    CHECK(s != NULL);
    s[0] = 0x5a;
    unsigned char *t = zh_realloc(zh_wasm_allocator, s, len, BIG_PAGE_BYTES * 2 - 10);
    CHECK(t == s);
    len = BIG_PAGE_BYTES * 2 - 10;
    t = zh_realloc(zh_wasm_allocator, s, len, BIG_PAGE_BYTES * 2);
    CHECK(t != NULL);
    len = BIG_PAGE_BYTES * 2;
    s = zh_realloc(zh_wasm_allocator, t, len, BIG_PAGE_BYTES * 2 + 1);
    CHECK(s != NULL);
    len = BIG_PAGE_BYTES * 2 + 1;
    CHECK(s[0] == 0x5a);
    zh_free(zh_wasm_allocator, s, len);
    return true;
}

static bool test_wasm_realloc_small_to_large(void) {
    unsigned char *s = zh_alloc(zh_wasm_allocator, 70);
    CHECK(s != NULL);
    s[0] = 0x12, s[60] = 0x34;
    size_t large = BIG_PAGE_BYTES * 2 + 50;
    unsigned char *t = zh_realloc(zh_wasm_allocator, s, 70, large);
    CHECK(t != NULL);
    CHECK(t[0] == 0x12 && t[60] == 0x34);
    zh_free(zh_wasm_allocator, t, large);
    return true;
}

static bool test_wasm_shrink_large_to_large(void) {
    size_t len = BIG_PAGE_BYTES * 2 + 50;
    unsigned char *s = zh_alloc(zh_wasm_allocator, len);
    CHECK(s != NULL);
    s[0] = 0x12, s[60] = 0x34;
    CHECK(zh_resize(zh_wasm_allocator, s, len, BIG_PAGE_BYTES * 2 + 1));
    len = BIG_PAGE_BYTES * 2 + 1;
    CHECK(s[0] == 0x12 && s[60] == 0x34);
    CHECK(zh_resize(zh_wasm_allocator, s, len, len));
    unsigned char *t = zh_realloc(zh_wasm_allocator, s, len, BIG_PAGE_BYTES * 2);
    CHECK(t != NULL);
    len = BIG_PAGE_BYTES * 2;
    CHECK(t[0] == 0x12 && t[60] == 0x34);
    zh_free(zh_wasm_allocator, t, len);
    return true;
}

static bool test_wasm_realloc_large_to_small(void) {
    size_t len = BIG_PAGE_BYTES * 2 + 50;
    unsigned char *s = zh_alloc(zh_wasm_allocator, len);
    CHECK(s != NULL);
    s[0] = 0x12, s[16] = 0x34;
    unsigned char *t = zh_realloc(zh_wasm_allocator, s, len, 19);
    CHECK(t != NULL);
    CHECK(t[0] == 0x12 && t[16] == 0x34);
    zh_free(zh_wasm_allocator, t, 19);
    return true;
}

static bool test_wasm_objects_1024_and_2048(void) {
    unsigned char *a = zh_alloc(zh_wasm_allocator, 1025);
    unsigned char *b = zh_alloc(zh_wasm_allocator, 3000);
    CHECK(a != NULL && b != NULL);
    memset(a, 1, 1025);
    memset(b, 2, 3000);
    CHECK(zht_all_bytes(a, 1025, 1) && zht_all_bytes(b, 3000, 2));
    zh_free(zh_wasm_allocator, a, 1025);
    zh_free(zh_wasm_allocator, b, 3000);
    return true;
}

/* Every function of zh_test_suite (testing.h) on `a`. */
static bool run_suite(zh_allocator a) {
    for (size_t i = 0; i < ZH_TEST_SUITE_LEN; i++) CHECK(zh_test_suite[i].run(a) == 0);
    return true;
}

static bool test_wasm_conformance(void) { return run_suite(zh_wasm_allocator); }

/* ---- beyond Zig's tests ------------------------------------------------------------- */

/* Every alignment from 1 byte to 4 MiB, for lengths around it. */
static bool test_wasm_alignments(void) {
    for (size_t alignment = 1; alignment <= 4 * MIB; alignment <<= 1) {
        size_t lens[] = {1, alignment / 2 + 1, alignment, alignment + 1};
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            size_t len = lens[i];
            unsigned char *p = zh_alloc_aligned(zh_wasm_allocator, len, alignment);
            CHECK(p != NULL);
            CHECK(zh__is_aligned(p, alignment));
            p[len - 1] = 0x78, p[0] = 0x77;
            CHECK(p[0] == 0x77 && (len == 1 || p[len - 1] == 0x78));
            zh_free_aligned(zh_wasm_allocator, p, len, alignment);
        }
    }
    return true;
}

/* A one-page block cannot shrink into a small size class (a later free with the
 * small length would lose the page), nor can a small block grow into a page. */
static bool test_wasm_resize_never_crosses_small_and_big(void) {
    size_t len = 40 * KIB; /* with its link word, a one-page slot */
    unsigned char *p = zh_alloc(zh_wasm_allocator, len);
    CHECK(p != NULL);
    CHECK(!zh_resize(zh_wasm_allocator, p, len, 100));
    CHECK(zh_remap(zh_wasm_allocator, p, len, 100) == NULL);
    CHECK(zh_resize(zh_wasm_allocator, p, len, 60 * KIB)); /* still one page */
    zh_free(zh_wasm_allocator, p, 60 * KIB);

    unsigned char *q = zh_alloc(zh_wasm_allocator, 20 * KIB); /* a 32 KiB slot */
    CHECK(q != NULL);
    CHECK(zh_resize(zh_wasm_allocator, q, 20 * KIB, 32 * KIB - sizeof(size_t)));
    CHECK(!zh_resize(zh_wasm_allocator, q, 32 * KIB - sizeof(size_t), 32 * KIB));
    zh_free(zh_wasm_allocator, q, 32 * KIB - sizeof(size_t));
    return true;
}

/* Issue 7: alloc(4096), shrink to 8, free, repeated, must run in bounded memory
 * (a shrink that split the slot for good took a fresh 4 KiB every round): 100k
 * rounds with zh_resize and with zh_realloc (shrink-to-fit), then 4 MiB blocks,
 * may grow memory by no more than the few pages their classes need. */
static bool test_wasm_shrink_and_free_in_bounded_memory(void) {
    size_t pages = memory_pages();
    for (int round = 0; round < 100000; round++) {
        unsigned char *p = zh_alloc(zh_wasm_allocator, 4096);
        CHECK(p != NULL);
        size_t len = zh_resize(zh_wasm_allocator, p, 4096, 8) ? 8 : 4096;
        zh_free(zh_wasm_allocator, p, len);
        unsigned char *q = zh_alloc(zh_wasm_allocator, 4096);
        CHECK(q != NULL);
        q[0] = 1;
        unsigned char *r = zh_realloc(zh_wasm_allocator, q, 4096, 8);
        CHECK(r != NULL && r[0] == 1);
        zh_free(zh_wasm_allocator, r, 8);
    }
    CHECK(memory_pages() <= pages + 2);
    for (int round = 0; round < 1000; round++) {
        unsigned char *p = zh_alloc(zh_wasm_allocator, 4 * MIB);
        CHECK(p != NULL);
        unsigned char *r = zh_realloc(zh_wasm_allocator, p, 4 * MIB, 8);
        CHECK(r != NULL);
        zh_free(zh_wasm_allocator, r, 8);
    }
    /* 4 MiB plus the slot's word rounds up to a run of 128 pages. */
    CHECK(memory_pages() <= pages + 2 + 128);
    return true;
}

/* Live blocks of many sizes, interleaved with wasi-libc malloc growing the same
 * memory, never overlap or corrupt each other. */
#define MIXED_COUNT 96
static bool test_wasm_mixed_with_malloc(void) {
    static unsigned char *blocks[MIXED_COUNT];
    static size_t lens[MIXED_COUNT];
    static void *mallocs[MIXED_COUNT / 8];
    size_t m = 0;
    for (size_t i = 0; i < MIXED_COUNT; i++) {
        lens[i] = (size_t)1 << (i % 19); /* 1 byte .. 256 KiB */
        lens[i] += i * 7 % 13;
        blocks[i] = zh_alloc(zh_wasm_allocator, lens[i]);
        CHECK(blocks[i] != NULL);
        memset(blocks[i], (int)(i & 0xff), lens[i]);
        if (i % 8 == 7) {
            mallocs[m] = malloc(200 * KIB); /* large: dlmalloc grows memory itself */
            CHECK(mallocs[m] != NULL);
            memset(mallocs[m], 0xee, 200 * KIB);
            m++;
        }
    }
    for (size_t i = 0; i < MIXED_COUNT; i++)
        CHECK(zht_all_bytes(blocks[i], lens[i], (unsigned char)(i & 0xff)));
    for (size_t j = 0; j < m; j++) CHECK(zht_all_bytes(mallocs[j], 200 * KIB, 0xee));
    for (size_t i = 0; i < MIXED_COUNT; i += 2) zh_free(zh_wasm_allocator, blocks[i], lens[i]);
    for (size_t i = 0; i < MIXED_COUNT; i += 2) {
        blocks[i] = zh_alloc(zh_wasm_allocator, lens[i]);
        CHECK(blocks[i] != NULL);
        memset(blocks[i], (int)(i & 0xff), lens[i]);
    }
    for (size_t i = 0; i < MIXED_COUNT; i++) {
        CHECK(zht_all_bytes(blocks[i], lens[i], (unsigned char)(i & 0xff)));
        zh_free(zh_wasm_allocator, blocks[i], lens[i]);
    }
    for (size_t j = 0; j < m; j++) free(mallocs[j]);
    return true;
}

/* ---- the platform backend and the page allocator ------------------------------------- */

static bool test_backend_info(void) {
    const zh__os_info *info = zh__os_info_get();
    CHECK(info->page_size == PAGE);
    CHECK(info->granularity == PAGE);
    CHECK(strcmp(info->name, "wasm") == 0);
    CHECK(!(info->caps & ZH__OS_HAS_THREADS));
    CHECK(!(info->caps & ZH__OS_CAN_RETURN_MEMORY));
    CHECK(zh_page_size() == PAGE);
    return true;
}

/* Mapped memory is zero-filled, also when it is reused. */
static bool test_backend_map_zeroed_on_reuse(void) {
    unsigned char *p = zh__os_map(3 * PAGE, PAGE, NULL);
    CHECK(p != NULL);
    CHECK(zht_all_bytes(p, 3 * PAGE, 0));
    memset(p, 0xcd, 3 * PAGE);
    zh__os_unmap(p, 3 * PAGE);
    unsigned char *q = zh__os_map(3 * PAGE, PAGE, NULL);
    CHECK(q != NULL);
    CHECK(zht_all_bytes(q, 3 * PAGE, 0));
    zh__os_unmap(q, 3 * PAGE);
    return true;
}

static bool test_backend_map_alignment(void) {
    for (size_t alignment = 1; alignment <= 8 * MIB; alignment <<= 1) {
        unsigned char *p = zh__os_map(PAGE, alignment, NULL);
        CHECK(p != NULL);
        CHECK(zh__is_aligned(p, alignment));
        CHECK(zh__is_aligned(p, PAGE));
        zh__os_unmap(p, PAGE);
    }
    return true;
}

/* Unmapping the middle of a mapping keeps both ends usable, and the unmapped
 * pages come back from later maps. */
static bool test_backend_partial_unmap(void) {
    unsigned char *p = zh__os_map(8 * PAGE, PAGE, NULL);
    CHECK(p != NULL);
    memset(p, 0x42, 8 * PAGE);
    zh__os_unmap(p + 2 * PAGE, 4 * PAGE);
    CHECK(zht_all_bytes(p, 2 * PAGE, 0x42));
    CHECK(zht_all_bytes(p + 6 * PAGE, 2 * PAGE, 0x42));
    size_t pages = memory_pages();
    unsigned char *q = zh__os_map(4 * PAGE, PAGE, NULL);
    CHECK(q == p + 2 * PAGE);
    CHECK(memory_pages() == pages);
    CHECK(zht_all_bytes(q, 4 * PAGE, 0));
    CHECK(zh__os_shrink(p, 8 * PAGE, 6 * PAGE));
    zh__os_unmap(p, 2 * PAGE);
    zh__os_unmap(q, 4 * PAGE);
    return true;
}

/* A mapping of a page count that is not a power of two takes a larger run and
 * gives the tail back; unmapped, its pieces join that tail again, so mapping and
 * unmapping it over and over does not grow memory. */
static bool test_backend_map_unmap_odd_page_count(void) {
    unsigned char *p = zh__os_map(3 * PAGE, PAGE, NULL);
    CHECK(p != NULL);
    zh__os_unmap(p, 3 * PAGE);
    size_t pages = memory_pages();
    for (int round = 0; round < 1000; round++) {
        unsigned char *q = zh__os_map(3 * PAGE, PAGE, NULL);
        CHECK(q != NULL);
        q[3 * PAGE - 1] = 1;
        zh__os_unmap(q, 3 * PAGE);
    }
    CHECK(memory_pages() == pages);
    return true;
}

/* A mapping that ends at the end of linear memory grows in place; any other
 * does not. */
static bool test_backend_grow_at_end(void) {
    size_t end = zh__os_memory_grow(1);
    CHECK(end != SIZE_MAX);
    unsigned char *p = (unsigned char *)(end * PAGE);
    p[0] = 0x99;
    CHECK(zh__os_grow(p, PAGE, 3 * PAGE));
    CHECK(memory_pages() == end + 3);
    CHECK(p[0] == 0x99);
    CHECK(zht_all_bytes(p + PAGE, 2 * PAGE, 0));
    CHECK(zh__os_memory_grow(1) == end + 3); /* now something follows it */
    CHECK(!zh__os_grow(p, 3 * PAGE, 4 * PAGE));
    CHECK(memory_pages() == end + 4);
    CHECK(zh__os_remap(p, 3 * PAGE, 4 * PAGE) == NULL);
    zh__os_unmap(p, 4 * PAGE); /* hand the pages to the engine's free lists */
    return true;
}

static bool test_page_conformance(void) { return run_suite(zh_page_allocator); }

/* ---- out of memory: memory.grow refuses ------------------------------------------------
 * Runs last: it fills linear memory up to the module's maximum. */

#define FILL_MAX 128
#define FILL_LEN (MIB - 64) /* with its link word, a run of 16 pages */
#define DRAIN_MAX 1024      /* 64 MiB of pages */

static bool test_wasm_growth_refused(void) {
    static unsigned char *blocks[FILL_MAX];
    static unsigned char *drained[DRAIN_MAX];
    size_t n = 0, d = 0;
    unsigned char *small = zh_alloc(zh_wasm_allocator, 24);
    CHECK(small != NULL);
    memset(small, 0x3c, 24);

    /* An alignment that no remaining memory can satisfy fails cleanly. */
    size_t pages = memory_pages();
    CHECK(zh_alloc_aligned(zh_wasm_allocator, 100, (size_t)1 << 30) == NULL);
    CHECK(memory_pages() == pages);

    while (n < FILL_MAX && (blocks[n] = zh_alloc(zh_wasm_allocator, FILL_LEN)) != NULL) {
        memset(blocks[n], (int)n, FILL_LEN);
        n++;
    }
    CHECK(n > 0 && n < FILL_MAX); /* the cap was reached */
    pages = memory_pages();
    CHECK(zh_alloc(zh_wasm_allocator, FILL_LEN) == NULL);
    CHECK(zh__os_map(16 * PAGE, PAGE, NULL) == NULL);
    CHECK(memory_pages() == pages);
    CHECK(zht_all_bytes(small, 24, 0x3c));
    for (size_t i = 0; i < n; i++) CHECK(zht_all_bytes(blocks[i], FILL_LEN, (unsigned char)i));

    /* Take every page still free, then free one block: a smaller request is served
     * by splitting that block, since memory cannot grow. */
    while (d < DRAIN_MAX && (drained[d] = zh__os_map(PAGE, PAGE, NULL)) != NULL) d++;
    CHECK(d < DRAIN_MAX); /* (the last pages below the cap may have been grown) */
    pages = memory_pages();
    unsigned char *freed = blocks[--n];
    zh_free(zh_wasm_allocator, freed, FILL_LEN);
    unsigned char *page = zh_alloc(zh_wasm_allocator, 50 * KIB);
    CHECK(page != NULL);
    CHECK(page >= freed && page < freed + 16 * PAGE);
    memset(page, 0x5d, 50 * KIB);
    zh_free(zh_wasm_allocator, page, 50 * KIB);
    while (d > 0) zh__os_unmap(drained[--d], PAGE);

    /* Everything freed is reused: the allocator still works at the cap. */
    for (size_t i = 0; i < n; i++) zh_free(zh_wasm_allocator, blocks[i], FILL_LEN);
    unsigned char *again = zh_alloc(zh_wasm_allocator, FILL_LEN);
    CHECK(again != NULL);
    unsigned char *tiny = zh_alloc(zh_wasm_allocator, 5);
    CHECK(tiny != NULL);
    CHECK(memory_pages() == pages);
    zh_free(zh_wasm_allocator, tiny, 5);
    zh_free(zh_wasm_allocator, again, FILL_LEN);
    CHECK(zht_all_bytes(small, 24, 0x3c));
    zh_free(zh_wasm_allocator, small, 24);
    return true;
}

/* ---- contract violation (run as its own CTest test) ------------------------------------ */

static int double_free(void) {
    if (!zh_safety_enabled()) {
        puts("safety checks are off: skipped");
        return 0;
    }
    void *p = zh_alloc(zh_wasm_allocator, 40);
    zh_free(zh_wasm_allocator, p, 40);
    zh_free(zh_wasm_allocator, p, 40); /* aborts: "zheap: zh_wasm_allocator: double free of ..." */
    return 0;
}

/* A free with the length of another size class (issue 7): the first slot of a page
 * is aligned to every smaller class, so only the class map can tell. */
static int wrong_length(void) {
    if (!zh_safety_enabled()) {
        puts("safety checks are off: skipped");
        return 0;
    }
    void *p = zh_alloc(zh_wasm_allocator, 100 * KIB); /* a fresh run of two pages */
    void *q = zh_alloc(zh_wasm_allocator, 30 * KIB);
    (void)p;
    zh_free(zh_wasm_allocator, q, 3000); /* aborts: "... wrong length or alignment?" */
    return 0;
}

/* ---- runner --------------------------------------------------------------------------- */

typedef struct test_case {
    const char *name;
    bool (*fn)(void);
} test_case;

#define TEST(fn) {#fn, fn}
static const test_case tests[] = {
    TEST(test_wasm_small_free_same_order),
    TEST(test_wasm_small_free_reverse_order),
    TEST(test_wasm_small_reuse),
    TEST(test_wasm_large_allocations),
    TEST(test_wasm_large_reuse),
    TEST(test_wasm_very_large_allocation),
    TEST(test_wasm_realloc),
    TEST(test_wasm_shrink),
    TEST(test_wasm_large_object_grow),
    TEST(test_wasm_realloc_small_to_large),
    TEST(test_wasm_shrink_large_to_large),
    TEST(test_wasm_realloc_large_to_small),
    TEST(test_wasm_objects_1024_and_2048),
    TEST(test_wasm_conformance),
    TEST(test_wasm_alignments),
    TEST(test_wasm_resize_never_crosses_small_and_big),
    TEST(test_wasm_shrink_and_free_in_bounded_memory),
    TEST(test_wasm_mixed_with_malloc),
    TEST(test_backend_info),
    TEST(test_backend_map_zeroed_on_reuse),
    TEST(test_backend_map_alignment),
    TEST(test_backend_partial_unmap),
    TEST(test_backend_map_unmap_odd_page_count),
    TEST(test_backend_grow_at_end),
    TEST(test_page_conformance),
    TEST(test_wasm_growth_refused), /* last: fills memory */
};

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--double-free") == 0) return double_free();
    if (argc > 1 && strcmp(argv[1], "--wrong-length") == 0) return wrong_length();
    unsigned passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        current_test = tests[i].name;
        if (tests[i].fn()) {
            printf("ok   %s\n", tests[i].name);
            passed++;
        } else {
            printf("FAIL %s\n", tests[i].name);
            failed++;
        }
    }
    printf("%u passed, %u failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
