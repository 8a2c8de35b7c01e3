/* test_debug.c - the debug allocator (src/debug.c): the conformance suite under
 * several configurations, Zig's own DebugAllocator tests, every report (captured
 * through the sink, content asserted, traces naming this file's static functions in
 * an executable linked without -rdynamic), the checks beyond Zig (overflow canaries,
 * write-after-free fill, use after a moving realloc), configuration refusal, the
 * re-entrancy guard and out-of-memory of the backing allocator at every point. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

#include "common.h"
#include "platform/platform.h"
#include "zheap/debug.h"
#include "zheap/page.h"
#include "zheap/c.h"

/* A real, separate function: not inlined, cloned or folded with an identical one
 * (GCC's identical-code folding would merge first_free_here and second_free_here). */
#if defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noipa))
#endif
/* Keeps a call from becoming a tail call, so the caller's frame stays on the stack. */
#define KEEP_FRAME() __asm__ volatile("" ::: "memory")

enum { PAGE = ZH_DEBUG_PAGE_SIZE_DEFAULT };

/* ---- report capture ------------------------------------------------------------------- */

typedef struct sink {
    char text[1 << 16];
    size_t len;
    size_t count[ZH_DEBUG_INVALID_CONFIG + 1];
    size_t total;
} sink;

static void sink_report(void *user, zh_debug_event event, const char *text, size_t len) {
    sink *s = user;
    s->count[event]++;
    s->total++;
    size_t room = sizeof s->text - 1 - s->len;
    if (len > room) len = room;
    memcpy(s->text + s->len, text, len);
    s->len += len;
    s->text[s->len] = '\0';
}

static void sink_clear(sink *s) { memset(s, 0, sizeof *s); }

static bool has_traces(void) { return (zh__os_stack_caps() & ZH__OS_HAS_STACK_CAPTURE) != 0; }
static bool has_names(void) { return (zh__os_stack_caps() & ZH__OS_HAS_SYMBOLIZE) != 0; }
/* file:line needs the provider's ability and this executable's debug information. */
static bool has_lines(void) {
    zh__symbol sym;
    return (zh__os_stack_caps() & ZH__OS_HAS_LINE_INFO) &&
           zh__os_symbolize((uintptr_t)&has_lines + 1, &sym) && sym.file[0] != '\0';
}

/* Asserts that `needle` occurs in the captured text. */
#define assert_reported(s, needle)                                                     \
    do {                                                                               \
        if (strstr((s)->text, (needle)) == NULL)                                       \
            fail_msg("report lacks \"%s\"; got:\n%s", (needle), (s)->text);           \
    } while (0)

/* The name of a function (static, in an executable without -rdynamic) as it
 * appears in a report: needs the symbol-table symbolizer (libdw, which also has
 * ZH__OS_HAS_LINE_INFO); the dladdr fallback gives module+offset only. */
static bool has_static_names(void) {
    return has_traces() && (zh__os_stack_caps() & ZH__OS_HAS_LINE_INFO);
}
#define assert_trace_names(s, fn)                                                      \
    do {                                                                               \
        if (has_static_names())                                                        \
            assert_reported(s, " in " fn "+0x");                                       \
        else if (has_traces() && has_names())                                          \
            assert_reported(s, "zheap-test_debug+0x");                                 \
    } while (0)

static zh_debug_config base_config(sink *s) {
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.stack_trace_frames = 6;
    cfg.report = sink_report;
    cfg.report_user = s;
    return cfg;
}

/* For the tests that plant a bug for the debug allocator to find (a write past a
 * block, after a free, a double free through zh_free's fill): a memory checker
 * told about the blocks (checker_hooks, ASan and memcheck builds) would report
 * the planted access first and stop the test. These cases prove the allocator's
 * own checks; tests/test_track.c proves the checker's. */
static zh_debug_config planted_bug_config(sink *s) {
    zh_debug_config cfg = base_config(s);
    cfg.checker_hooks = false;
    return cfg;
}

static zh_debug *make(const zh_debug_config *cfg) {
    zh_debug *d = zh_debug_create(cfg);
    assert_non_null(d);
    return d;
}

/* ---- conformance ------------------------------------------------------------------------ */

static void conformance_with(zh_debug_config cfg) {
    sink *s = calloc(1, sizeof *s);
    assert_non_null(s);
    cfg.report = sink_report;
    cfg.report_user = s;
    for (size_t i = 0; i < ZH_TEST_SUITE_LEN; i++) {
        zh_debug *d = make(&cfg);
        zht_assert_test_case(i, zh_debug_allocator(d));
        assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
    }
    if (s->total != s->count[ZH_DEBUG_LOG]) fail_msg("unexpected report:\n%s", s->text);
    free(s);
}

static void test_debug_conformance_default(void **state) {
    (void)state;
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    conformance_with(cfg);
}

static void test_debug_conformance_variants(void **state) {
    (void)state;
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.stack_trace_frames = 0;
    conformance_with(cfg);
    cfg = (zh_debug_config)ZH_DEBUG_CONFIG_DEFAULT;
    cfg.stack_trace_frames = 12;
    cfg.unwinder = ZH_DEBUG_UNWIND_FRAME_POINTER;
    cfg.thread_safe = false;
    conformance_with(cfg);
    cfg = (zh_debug_config)ZH_DEBUG_CONFIG_DEFAULT;
    cfg.never_unmap = cfg.retain_metadata = cfg.resize_stack_traces = true;
    cfg.enable_memory_limit = true;
    conformance_with(cfg);
    cfg = (zh_debug_config)ZH_DEBUG_CONFIG_DEFAULT;
    cfg.safety = cfg.check_overflow = cfg.check_use_after_free = false;
    cfg.page_size = 4096;
    conformance_with(cfg);
    cfg = (zh_debug_config)ZH_DEBUG_CONFIG_DEFAULT;
    cfg.backing = zh_c_allocator;
    cfg.backing_allocator_zeroes = false;
    conformance_with(cfg);
}

/* ---- Zig's debug_allocator.zig tests --------------------------------------------------------- */

static void small_allocations(bool reverse) {
    zh_debug *d = make(NULL);
    zh_allocator a = zh_debug_allocator(d);
    enum { N = 513 };
    uint64_t *ptrs[N];
    for (int i = 0; i < N; i++) {
        ptrs[i] = ZH_CREATE(a, uint64_t);
        assert_non_null(ptrs[i]);
        *ptrs[i] = (uint64_t)i;
    }
    for (int i = 0; i < N; i++) {
        int k = reverse ? N - 1 - i : i;
        assert_int_equal(*ptrs[k], (uint64_t)k);
        ZH_DESTROY(a, ptrs[k]);
    }
    zh_debug_stats st;
    zh_debug_get_stats(d, &st);
    assert_int_equal(st.live_count, 0);
    assert_int_equal(st.buckets, 0); /* every emptied bucket went back */
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
}

static void test_debug_zig_small_same_order(void **state) {
    (void)state;
    small_allocations(false);
}

static void test_debug_zig_small_reverse_order(void **state) {
    (void)state;
    small_allocations(true);
}

static void test_debug_zig_large_allocations(void **state) {
    (void)state;
    zh_debug *d = make(NULL);
    zh_allocator a = zh_debug_allocator(d);
    uint64_t *p1 = ZH_ALLOC_ARRAY(a, uint64_t, 42768);
    uint64_t *p2 = ZH_ALLOC_ARRAY(a, uint64_t, 52768);
    assert_non_null(p1);
    assert_non_null(p2);
    ZH_FREE_ARRAY(a, p1, 42768);
    uint64_t *p3 = ZH_ALLOC_ARRAY(a, uint64_t, 62768);
    assert_non_null(p3);
    ZH_FREE_ARRAY(a, p3, 62768);
    ZH_FREE_ARRAY(a, p2, 52768);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
}

static void test_debug_zig_very_large_allocation(void **state) {
    (void)state;
    zh_debug *d = make(NULL);
    zh_allocator a = zh_debug_allocator(d);
    assert_null(zh_raw_alloc(a, SIZE_MAX, 0, 0));
    assert_null(zh_raw_alloc(a, SIZE_MAX - 8, 3, 0));
    assert_int_equal(zh_debug_total_requested_bytes(d), 0);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
}

static void test_debug_zig_realloc(void **state) {
    (void)state;
    zh_debug *d = make(NULL);
    zh_allocator a = zh_debug_allocator(d);
    unsigned char *s = zh_alloc_aligned(a, 1, 4);
    assert_non_null(s);
    s[0] = 0x12;
    unsigned char *old = s;
    s = zh_realloc_aligned(a, s, 1, 2, 4); /* same size class: keeps its address */
    assert_ptr_equal(s, old);
    assert_int_equal(s[0], 0x12);
    s[1] = 0x34;
    s = zh_realloc_aligned(a, s, 2, 17, 4); /* a larger class: moves */
    assert_non_null(s);
    assert_int_equal(s[0], 0x12);
    assert_int_equal(s[1], 0x34);
    zh_free_aligned(a, s, 17, 4);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
}

static void test_debug_zig_shrink(void **state) {
    (void)state;
    zh_debug *d = make(NULL);
    zh_allocator a = zh_debug_allocator(d);
    unsigned char *s = zh_alloc(a, 20);
    assert_non_null(s);
    memset(s, 0x11, 20);
    assert_true(zh_resize(a, s, 20, 17));
    assert_true(zht_all_bytes(s, 17, 0x11));
    assert_false(zh_resize(a, s, 17, 16)); /* does not cross size classes when shrinking */
    zh_free(a, s, 17);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
}

static void test_debug_zig_large_object_grow(void **state) {
    (void)state;
    zh_debug *d = make(NULL);
    zh_allocator a = zh_debug_allocator(d);
    size_t len = PAGE * 2 - 20;
    unsigned char *s = zh_alloc(a, len);
    unsigned char *old = s;
    assert_non_null(s);
    s = zh_realloc(a, s, len, PAGE * 2 - 10);
    assert_ptr_equal(s, old);
    len = PAGE * 2 - 10;
    s = zh_realloc(a, s, len, PAGE * 2);
    assert_ptr_equal(s, old);
    len = PAGE * 2;
    s = zh_realloc(a, s, len, PAGE * 2 + 1);
    assert_non_null(s);
    zh_free(a, s, PAGE * 2 + 1);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
}

static void test_debug_zig_realloc_small_to_large(void **state) {
    (void)state;
    zh_debug *d = make(NULL);
    zh_allocator a = zh_debug_allocator(d);
    unsigned char *s = zh_alloc(a, 70);
    s[0] = 0x12;
    s[60] = 0x34;
    s = zh_realloc(a, s, 70, PAGE * 2 + 50);
    assert_non_null(s);
    assert_int_equal(s[0], 0x12);
    assert_int_equal(s[60], 0x34);
    zh_free(a, s, PAGE * 2 + 50);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
}

static void test_debug_zig_shrink_large_to_large(void **state) {
    (void)state;
    zh_debug *d = make(NULL);
    zh_allocator a = zh_debug_allocator(d);
    size_t len = PAGE * 2 + 50;
    unsigned char *s = zh_alloc(a, len);
    s[0] = 0x12;
    s[60] = 0x34;
    if (zh_resize(a, s, len, PAGE * 2 + 1)) {
        len = PAGE * 2 + 1;
        assert_int_equal(s[0], 0x12);
        assert_int_equal(s[60], 0x34);
        assert_true(zh_resize(a, s, len, PAGE * 2 + 1));
    }
    s = zh_realloc(a, s, len, PAGE * 2);
    assert_non_null(s);
    assert_int_equal(s[0], 0x12);
    assert_int_equal(s[60], 0x34);
    zh_free(a, s, PAGE * 2);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
}

/* reallocAdvanced to a larger alignment: allocate aligned, copy, free. */
static unsigned char *realloc_to_alignment(zh_allocator a, unsigned char *p, size_t len,
                                           size_t align, size_t new_len, size_t new_align) {
    unsigned char *n = zh_alloc_aligned(a, new_len, new_align);
    assert_non_null(n);
    memcpy(n, p, len < new_len ? len : new_len);
    zh_free_aligned(a, p, len, align);
    return n;
}

static void test_debug_zig_large_to_larger_alignment(void **state) {
    (void)state;
    zh_debug *d = make(NULL);
    zh_allocator a = zh_debug_allocator(d);
    size_t len = PAGE * 2 + 50, big = PAGE * 2;
    unsigned char *s = zh_alloc_aligned(a, len, 16);
    s[0] = 0x12;
    s[16] = 0x34;
    s = zh_realloc_aligned(a, s, len, PAGE * 2 + 100, 16);
    assert_non_null(s);
    s = zh_realloc_aligned(a, s, PAGE * 2 + 100, PAGE * 2 + 25, 16);
    assert_non_null(s);
    s = realloc_to_alignment(a, s, PAGE * 2 + 25, 16, PAGE * 2 + 100, big);
    assert_true(zh__is_aligned(s, big));
    assert_int_equal(s[0], 0x12);
    assert_int_equal(s[16], 0x34);
    s = realloc_to_alignment(a, s, PAGE * 2 + 100, big, len / 2, big);
    assert_int_equal(s[16], 0x34);
    zh_free_aligned(a, s, len / 2, big);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
}

static void test_debug_zig_realloc_large_to_small(void **state) {
    (void)state;
    zh_debug *d = make(NULL);
    zh_allocator a = zh_debug_allocator(d);
    unsigned char *s = zh_alloc(a, PAGE * 2 + 50);
    s[0] = 0x12;
    s[16] = 0x34;
    s = zh_realloc(a, s, PAGE * 2 + 50, 19);
    assert_non_null(s);
    assert_int_equal(s[0], 0x12);
    assert_int_equal(s[16], 0x34);
    zh_free(a, s, 19);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
}

static int hook_locks, hook_unlocks;
static void hook_lock(void *user) {
    assert_ptr_equal(user, &hook_locks);
    hook_locks++;
}
static void hook_unlock(void *user) {
    assert_ptr_equal(user, &hook_locks);
    hook_unlocks++;
}

static void test_debug_zig_overridable_mutex(void **state) {
    (void)state;
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.backing = zh_c_allocator;
    cfg.lock_hook = (zh_debug_lock_hook){hook_lock, hook_unlock, &hook_locks};
    hook_locks = hook_unlocks = 0;
    zh_debug *d = make(&cfg);
    zh_allocator a = zh_debug_allocator(d);
    int32_t *p = ZH_CREATE(a, int32_t);
    assert_non_null(p);
    ZH_DESTROY(a, p);
    assert_true(hook_locks >= 2);
    assert_int_equal(hook_locks, hook_unlocks);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
}

/* A backing allocator that hands out dirty memory (what backing_allocator_zeroes is for). */
static void *dirty_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret) {
    (void)ctx;
    void *p = zh_c_allocator.vtable->alloc(zh_c_allocator.ctx, len, align, ret);
    if (p != NULL) memset(p, 0x5a, len);
    return p;
}
static const zh_allocator_vtable dirty_vtable = {dirty_alloc, NULL, NULL, NULL};

static void test_debug_zig_non_zeroing_backing(void **state) {
    (void)state;
    zh_allocator_vtable v = dirty_vtable;
    v.resize = zh_c_allocator.vtable->resize;
    v.remap = zh_c_allocator.vtable->remap;
    v.free = zh_c_allocator.vtable->free;
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.backing = (zh_allocator){NULL, &v};
    cfg.backing_allocator_zeroes = false;
    zh_debug *d = make(&cfg);
    zh_allocator a = zh_debug_allocator(d);
    int32_t *p = ZH_CREATE(a, int32_t);
    int32_t *q = ZH_CREATE(a, int32_t);
    assert_non_null(p);
    assert_non_null(q);
    ZH_DESTROY(a, p);
    ZH_DESTROY(a, q);
    assert_int_equal(zh_debug_detect_leaks(d), 0);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
}

static void test_debug_zig_large_rejects_shrink_to_small(void **state) {
    (void)state;
    zh_failing f;
    zh_failing_init(&f, zh_page_allocator, 3);
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.backing = zh_failing_allocator(&f);
    zh_debug *d = make(&cfg);
    zh_allocator a = zh_debug_allocator(d);
    unsigned char *s = zh_alloc(a, PAGE * 2 + 50);
    assert_non_null(s);
    s[0] = 0x12;
    s[3] = 0x34;
    assert_false(zh_resize(a, s, PAGE * 2 + 50, 4));
    assert_int_equal(s[0], 0x12);
    assert_int_equal(s[3], 0x34);
    zh_free(a, s, PAGE * 2 + 50);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
}

static void test_debug_zig_objects_1024_and_2048(void **state) {
    (void)state;
    zh_debug *d = make(NULL);
    zh_allocator a = zh_debug_allocator(d);
    void *s1 = zh_alloc(a, 1025), *s2 = zh_alloc(a, 3000);
    assert_non_null(s1);
    assert_non_null(s2);
    zh_free(a, s1, 1025);
    zh_free(a, s2, 3000);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
}

static void test_debug_zig_memory_cap(void **state) {
    (void)state;
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.enable_memory_limit = true;
    zh_debug *d = make(&cfg);
    zh_allocator a = zh_debug_allocator(d);
    zh_debug_set_memory_limit(d, 1010);
    assert_int_equal(zh_debug_memory_limit(d), 1010);
    int32_t *small = ZH_CREATE(a, int32_t);
    assert_int_equal(zh_debug_total_requested_bytes(d), 4);
    unsigned char *big = zh_alloc(a, 1000);
    assert_int_equal(zh_debug_total_requested_bytes(d), 1004);
    assert_null(ZH_CREATE(a, uint64_t));
    assert_int_equal(zh_debug_total_requested_bytes(d), 1004); /* refused: unchanged */
    ZH_DESTROY(a, small);
    assert_int_equal(zh_debug_total_requested_bytes(d), 1000);
    zh_free(a, big, 1000);
    assert_int_equal(zh_debug_total_requested_bytes(d), 0);
    unsigned char *exact = zh_alloc(a, 1010);
    assert_non_null(exact);
    assert_int_equal(zh_debug_total_requested_bytes(d), 1010);
    zh_free(a, exact, 1010);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
}

static void test_debug_zig_large_counts_requested_size(void **state) {
    (void)state;
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.enable_memory_limit = true;
    zh_debug *d = make(&cfg);
    zh_allocator a = zh_debug_allocator(d);
    unsigned char *buf = zh_alloc_aligned(a, PAGE + 1, 1);
    assert_int_equal(zh_debug_total_requested_bytes(d), PAGE + 1);
    buf = zh_realloc_aligned(a, buf, PAGE + 1, 1, 1);
    assert_int_equal(zh_debug_total_requested_bytes(d), 1);
    buf = zh_realloc_aligned(a, buf, 1, 2, 1);
    assert_int_equal(zh_debug_total_requested_bytes(d), 2);
    zh_free_aligned(a, buf, 2, 1);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
}

static void test_debug_zig_retain_metadata_never_unmap(void **state) {
    (void)state;
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.never_unmap = cfg.retain_metadata = true;
    zh_debug *d = make(&cfg);
    zh_allocator a = zh_debug_allocator(d);
    void *p = zh_alloc(a, 8);
    zh_free(a, p, 8);
    void *q = zh_alloc(a, 8);
    assert_ptr_not_equal(p, q);
    zh_free(a, q, 8);
    void *big = zh_alloc(a, PAGE * 3);
    zh_free(a, big, PAGE * 3);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
}

/* ---- accounting beyond Zig 0.15 ----------------------------------------------------------- */

static void test_debug_limit_exact_after_backing_failure(void **state) {
    (void)state;
    zh_failing f;
    zh_failing_init(&f, zh_page_allocator, 2); /* the instance, one bucket, then none */
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.enable_memory_limit = true;
    cfg.backing = zh_failing_allocator(&f);
    zh_debug *d = make(&cfg);
    zh_allocator a = zh_debug_allocator(d);
    void *p = zh_alloc(a, 10);
    assert_non_null(p);
    assert_null(zh_alloc(a, PAGE * 4)); /* the backing refuses a large block */
    assert_null(zh_alloc(a, 3000));     /* and a new bucket */
    assert_int_equal(zh_debug_total_requested_bytes(d), 10);
    /* Small in-place resizes count (Zig 0.15 counts them only with safety). */
    assert_true(zh_resize(a, p, 10, 14));
    assert_int_equal(zh_debug_total_requested_bytes(d), 14);
    zh_debug_set_memory_limit(d, 15);
    assert_false(zh_resize(a, p, 14, 16));
    assert_int_equal(zh_debug_total_requested_bytes(d), 14);
    assert_true(zh_resize(a, p, 14, 9));
    assert_int_equal(zh_debug_total_requested_bytes(d), 9);
    zh_free(a, p, 9);
    assert_int_equal(zh_debug_total_requested_bytes(d), 0);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
}

static void test_debug_stats(void **state) {
    (void)state;
    zh_debug *d = make(NULL);
    zh_allocator a = zh_debug_allocator(d);
    void *p = zh_alloc(a, 100), *q = zh_alloc(a, 30), *big = zh_alloc(a, PAGE);
    zh_debug_stats st;
    zh_debug_get_stats(d, &st);
    assert_int_equal(st.live_bytes, 100 + 30 + PAGE);
    assert_int_equal(st.live_count, 3);
    assert_int_equal(st.total_allocations, 3);
    assert_int_equal(st.buckets, 2);
    assert_int_equal(st.large_count, 1);
    assert_true(st.backing_bytes >= 2 * PAGE + PAGE);
    zh_free(a, big, PAGE);
    zh_free(a, p, 100);
    zh_debug_get_stats(d, &st);
    assert_int_equal(st.live_bytes, 30);
    assert_int_equal(st.peak_bytes, 130 + PAGE);
    assert_int_equal(st.total_frees, 2);
    assert_int_equal(st.buckets, 1);
    assert_int_equal(st.reports, 0);
    zh_free(a, q, 30);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
}

/* ---- reports ----------------------------------------------------------------------------------- */

static NOINLINE void *leaky_static_function(zh_allocator a, size_t len) {
    void *p = zh_alloc(a, len);
    KEEP_FRAME();
    return p;
}

static void test_debug_leak_report(void **state) {
    (void)state;
    sink *s = calloc(1, sizeof *s);
    zh_debug_config cfg = base_config(s);
    zh_debug *d = make(&cfg);
    zh_allocator a = zh_debug_allocator(d);
    void *p = leaky_static_function(a, 24);
    void *big = leaky_static_function(a, PAGE * 2);
    assert_int_equal(zh_debug_detect_leaks(d), 2);
    assert_int_equal(s->count[ZH_DEBUG_LEAK], 2);
    char addr[64];
    snprintf(addr, sizeof addr, "memory-leak on address %p (24 bytes, alignment 16)", p);
    assert_reported(s, addr);
    snprintf(addr, sizeof addr, "memory-leak on address %p (%d bytes", big, PAGE * 2);
    assert_reported(s, addr);
    assert_reported(s, "allocated by thread ");
    assert_reported(s, "SUMMARY: zheap: memory-leak of 24 bytes");
    assert_trace_names(s, "leaky_static_function");
    assert_trace_names(s, "test_debug_leak_report");
    if (has_lines()) assert_reported(s, "test_debug.c:");
    /* Six frames exist below the test (cmocka, main, libc): the trace is full. A
     * frame-pointer walk stops in libcmocka, which is built without them. */
    if (has_traces() && strcmp(zh__os_stack_provider(), "frame-pointer") != 0) {
        assert_reported(s, "    #5 0x");
        assert_null(strstr(s->text, "    #6 0x"));
    }
    sink_clear(s);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_LEAK);
    assert_int_equal(s->count[ZH_DEBUG_LEAK], 2);
    zh_free(zh_page_allocator, big, PAGE * 2 + ZH_DEBUG_LARGE_TAIL); /* leaked blocks stay valid */
    (void)p;
    free(s);
}

static NOINLINE void first_free_here(zh_allocator a, void *p, size_t len) {
    zh_free(a, p, len);
    KEEP_FRAME();
}
static NOINLINE void second_free_here(zh_allocator a, void *p, size_t len) {
    zh_free(a, p, len);
    KEEP_FRAME();
}

static void test_debug_double_free_small(void **state) {
    (void)state;
    sink *s = calloc(1, sizeof *s);
    zh_debug_config cfg = planted_bug_config(s);
    zh_debug *d = make(&cfg);
    zh_allocator a = zh_debug_allocator(d);
    void *keep = zh_alloc(a, 8); /* keeps the bucket alive */
    void *p = leaky_static_function(a, 8);
    first_free_here(a, p, 8);
    assert_int_equal(s->total, 0);
    second_free_here(a, p, 8); /* survived */
    assert_int_equal(s->count[ZH_DEBUG_DOUBLE_FREE], 1);
    assert_int_equal(zh_debug_detect_leaks(d), 1); /* keep; the 0xaa of the 2nd free is repaired */
    assert_int_equal(s->count[ZH_DEBUG_USE_AFTER_FREE], 0);
    char line[96];
    snprintf(line, sizeof line, "double-free on address %p (8 bytes, alignment 16)", p);
    assert_reported(s, line);
    assert_reported(s, "freed by thread ");
    assert_reported(s, "previously freed by thread ");
    assert_reported(s, "allocated by thread ");
    assert_reported(s, "SUMMARY: zheap: double-free of 8 bytes");
    /* Three traces, the first free never empty. */
    const char *prev = strstr(s->text, "previously freed");
    assert_non_null(prev);
    assert_non_null(strstr(prev, "#0 0x"));
    assert_trace_names(s, "second_free_here");
    assert_trace_names(s, "first_free_here");
    assert_trace_names(s, "leaky_static_function");
    if (has_static_names()) {
        assert_true(strstr(s->text, "second_free_here") < strstr(s->text, "first_free_here"));
        assert_true(strstr(prev, "first_free_here") != NULL);
    }
    zh_free(a, keep, 8);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
    free(s);
}

/* zh_free fills the block first (as Zig's free does), which faults on an unmapped
 * block: a double free of an unmapped large block is only survivable raw. */
static NOINLINE void raw_second_free_here(zh_allocator a, void *p, size_t len) {
    zh_raw_free(a, p, len, 4, ZH_RETURN_ADDRESS());
    KEEP_FRAME();
}

static void double_free_large(bool never_unmap) {
    sink *s = calloc(1, sizeof *s);
    zh_debug_config cfg = planted_bug_config(s);
    cfg.retain_metadata = true;
    cfg.never_unmap = never_unmap;
    zh_debug *d = make(&cfg);
    zh_allocator a = zh_debug_allocator(d);
    void *p = leaky_static_function(a, PAGE * 2);
    first_free_here(a, p, PAGE * 2);
    if (never_unmap)
        second_free_here(a, p, PAGE * 2);
    else
        raw_second_free_here(a, p, PAGE * 2);
    assert_int_equal(s->count[ZH_DEBUG_DOUBLE_FREE], 1);
    assert_reported(s, "previously freed by thread ");
    assert_trace_names(s, "first_free_here");
    if (never_unmap)
        assert_trace_names(s, "second_free_here");
    else
        assert_trace_names(s, "double_free_large"); /* raw: ret_addr is its caller */
    assert_trace_names(s, "leaky_static_function");
    zh_debug_flush_retained_metadata(d);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
    /* zh_free's 0xaa fill before the second free is not reported as a write after free. */
    assert_int_equal(s->count[ZH_DEBUG_DOUBLE_FREE], 1);
    assert_int_equal(s->count[ZH_DEBUG_USE_AFTER_FREE], 0);
    free(s);
}

static void test_debug_double_free_large_retained(void **state) {
    (void)state;
    double_free_large(false);
    double_free_large(true);
}

static NOINLINE void mismatched_free_here(zh_allocator a, void *p, size_t len, size_t align) {
    zh_free_aligned(a, p, len, align);
    KEEP_FRAME();
}

static void test_debug_size_and_alignment_mismatch(void **state) {
    (void)state;
    sink *s = calloc(1, sizeof *s);
    zh_debug_config cfg = planted_bug_config(s);
    zh_debug *d = make(&cfg);
    zh_allocator a = zh_debug_allocator(d);
    void *keep = zh_alloc(a, 20);
    void *p = leaky_static_function(a, 20);
    mismatched_free_here(a, p, 18, 16); /* same class, wrong size: reported, freed */
    assert_int_equal(s->count[ZH_DEBUG_SIZE_MISMATCH], 1);
    assert_reported(s, "allocated 20 bytes, free with 18 bytes");
    assert_trace_names(s, "mismatched_free_here");
    assert_trace_names(s, "leaky_static_function");
    sink_clear(s);
    void *q = zh_alloc_aligned(a, 24, 8);
    mismatched_free_here(a, q, 24, 16);
    assert_int_equal(s->count[ZH_DEBUG_ALIGN_MISMATCH], 1);
    assert_reported(s, "allocated with alignment 8, free with alignment 16");
    sink_clear(s);
    /* A different class: found by probing the other classes. */
    void *r = zh_alloc(a, 100);
    mismatched_free_here(a, r, 20, 16);
    assert_int_equal(s->count[ZH_DEBUG_SIZE_MISMATCH], 1);
    assert_reported(s, "allocated 100 bytes, free with 20 bytes");
    sink_clear(s);
    /* Large blocks: size and (beyond Zig) alignment. */
    void *big = zh_alloc(a, PAGE * 2);
    mismatched_free_here(a, big, PAGE * 2 + 7, 16);
    assert_int_equal(s->count[ZH_DEBUG_SIZE_MISMATCH], 1);
    void *big2 = zh_alloc_aligned(a, PAGE * 2, 64);
    mismatched_free_here(a, big2, PAGE * 2, 16);
    assert_int_equal(s->count[ZH_DEBUG_ALIGN_MISMATCH], 1);
    assert_reported(s, "allocated with alignment 64, free with alignment 16");
    /* resize and remap check too */
    sink_clear(s);
    void *t = zh_alloc(a, 40);
    assert_true(zh_raw_resize(a, t, 41, 4, 44, ZH_RETURN_ADDRESS()));
    assert_int_equal(s->count[ZH_DEBUG_SIZE_MISMATCH], 1);
    assert_reported(s, "allocated 40 bytes, resize with 41 bytes");
    assert_non_null(zh_raw_remap(a, t, 44, 3, 45, ZH_RETURN_ADDRESS()));
    assert_int_equal(s->count[ZH_DEBUG_ALIGN_MISMATCH], 1);
    assert_reported(s, "remap with alignment 8");
    zh_free(a, t, 45);
    zh_free(a, keep, 20);
    zh_debug_stats st;
    zh_debug_get_stats(d, &st);
    assert_int_equal(st.live_count, 0);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
    free(s);
}

static void test_debug_invalid_frees(void **state) {
    (void)state;
    sink *s = calloc(1, sizeof *s);
    zh_debug_config cfg = planted_bug_config(s);
    zh_debug *d = make(&cfg);
    zh_debug *other = make(&cfg);
    zh_allocator a = zh_debug_allocator(d);
    /* Foreign memory with no bucket header: canary mismatch. */
    unsigned char *foreign = zh_alloc_aligned(zh_page_allocator, PAGE, PAGE);
    assert_non_null(foreign);
    memset(foreign, 0x33, PAGE);
    mismatched_free_here(a, foreign + 64, 16, 16);
    assert_int_equal(s->count[ZH_DEBUG_INVALID_FREE], 1);
    assert_reported(s, "not a block of this allocator (canary mismatch)");
    assert_trace_names(s, "mismatched_free_here");
    /* Another instance's block. */
    void *theirs = zh_alloc(zh_debug_allocator(other), 16);
    zh_free(a, theirs, 16);
    assert_int_equal(s->count[ZH_DEBUG_INVALID_FREE], 2);
    assert_reported(s, "a block of another debug allocator instance");
    zh_free(zh_debug_allocator(other), theirs, 16);
    /* Inside a block, and a slot never handed out. */
    unsigned char *mine = zh_alloc(a, 32);
    zh_free(a, mine + 16, 16);
    assert_reported(s, "points inside a block, not at its start");
    zh_free(a, mine + 32 * 5, 32);
    assert_reported(s, "never allocated (slot not handed out yet)");
    /* A large pointer this instance does not know; resize and remap refuse it. */
    unsigned char *lone = zh_alloc(zh_page_allocator, PAGE * 2);
    zh_free(a, lone, PAGE * 2);
    assert_false(zh_resize(a, lone, PAGE * 2, PAGE * 2 + 1));
    assert_null(zh_remap(a, lone, PAGE * 2, PAGE * 3));
    assert_int_equal(s->count[ZH_DEBUG_INVALID_FREE], 7);
    assert_reported(s, "not a live block of this allocator");
    zh_free(zh_page_allocator, lone, PAGE * 2);
    zh_free(zh_page_allocator, foreign, PAGE);
    zh_free(a, mine, 32);
    zh_debug_stats st;
    zh_debug_get_stats(d, &st);
    assert_int_equal(st.reports, 7);
    assert_int_equal(zh_debug_destroy(other), ZH_CHECK_OK);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
    free(s);
}

static void test_debug_verbose_log(void **state) {
    (void)state;
    sink *s = calloc(1, sizeof *s);
    zh_debug_config cfg = base_config(s);
    cfg.verbose_log = true;
    zh_debug *d = make(&cfg);
    zh_allocator a = zh_debug_allocator(d);
    void *p = zh_alloc(a, 20);
    assert_true(zh_resize(a, p, 20, 24));
    zh_free(a, p, 24);
    void *big = zh_alloc(a, PAGE);
    zh_free(a, big, PAGE);
    assert_int_equal(s->count[ZH_DEBUG_LOG], 5);
    char line[96];
    snprintf(line, sizeof line, "small alloc 20 bytes at %p\n", p);
    assert_reported(s, line);
    snprintf(line, sizeof line, "small resize 20 bytes at %p to 24", p);
    assert_reported(s, line);
    snprintf(line, sizeof line, "small free 24 bytes at %p\n", p);
    assert_reported(s, line);
    snprintf(line, sizeof line, "large alloc %d bytes at %p\n", PAGE, big);
    assert_reported(s, line);
    snprintf(line, sizeof line, "large free %d bytes at %p\n", PAGE, big);
    assert_reported(s, line);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
    free(s);
}

static NOINLINE bool resize_here(zh_allocator a, void *p, size_t len, size_t new_len) {
    bool ok = zh_resize(a, p, len, new_len);
    KEEP_FRAME();
    return ok;
}

static void test_debug_resize_stack_traces(void **state) {
    (void)state;
    sink *s = calloc(1, sizeof *s);
    zh_debug_config cfg = base_config(s);
    cfg.resize_stack_traces = true;
    zh_debug *d = make(&cfg);
    zh_allocator a = zh_debug_allocator(d);
    void *p = leaky_static_function(a, 40);
    void *big = leaky_static_function(a, PAGE);
    assert_true(resize_here(a, p, 40, 48));
    (void)resize_here(a, big, PAGE, PAGE + 10); /* in place only if the backing can */
    assert_int_equal(zh_debug_detect_leaks(d), 2);
    assert_trace_names(s, "resize_here");
    if (has_static_names()) {
        /* The small block's allocation trace now names the resize. */
        char head[96];
        snprintf(head, sizeof head, "on address %p", p);
        const char *rep = strstr(s->text, head);
        assert_non_null(rep);
        const char *end = strstr(rep, "SUMMARY");
        const char *hit = strstr(rep, "resize_here");
        assert_true(hit != NULL && hit < end);
    }
    zh_free(a, p, 48);
    sink_clear(s);
    zh_debug_stats st;
    zh_debug_get_stats(d, &st);
    zh_free(a, big, st.live_bytes);
    assert_int_equal(s->total, 0);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
    free(s);
}

/* ---- beyond Zig: overflow and writes after free --------------------------------------------- */

static void test_debug_overflow_small(void **state) {
    (void)state;
    sink *s = calloc(1, sizeof *s);
    zh_debug_config cfg = planted_bug_config(s);
    zh_debug *d = make(&cfg);
    zh_allocator a = zh_debug_allocator(d);
    unsigned char *p = leaky_static_function(a, 20);
    memset(p, 1, 23); /* three bytes past the end, inside the 32-byte slot */
    mismatched_free_here(a, p, 20, 16);
    assert_int_equal(s->count[ZH_DEBUG_OVERFLOW], 1);
    char line[128];
    snprintf(line, sizeof line, "heap-buffer-overflow on address %p (20 bytes, alignment 16) found in free", (void *)p);
    assert_reported(s, line);
    assert_reported(s, "3 bytes damaged at offset 20");
    assert_reported(s, "found: 01 01 01, expected dd");
    assert_trace_names(s, "leaky_static_function");
    /* On resize and at the leak check too. */
    sink_clear(s);
    unsigned char *q = zh_alloc(a, 40);
    q[45] = 7;
    assert_true(zh_resize(a, q, 40, 41));
    assert_int_equal(s->count[ZH_DEBUG_OVERFLOW], 1);
    assert_reported(s, "1 byte damaged at offset 45");
    q[60] = 9;
    assert_int_equal(zh_debug_detect_leaks(d), 1);
    assert_int_equal(s->count[ZH_DEBUG_OVERFLOW], 2);
    zh_free(a, q, 41);
    assert_int_equal(s->count[ZH_DEBUG_OVERFLOW], 2); /* repaired when reported: once */
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
    free(s);
}

static void test_debug_overflow_large(void **state) {
    (void)state;
    sink *s = calloc(1, sizeof *s);
    zh_debug_config cfg = planted_bug_config(s);
    zh_debug *d = make(&cfg);
    zh_allocator a = zh_debug_allocator(d);
    size_t len = PAGE + 3;
    unsigned char *p = leaky_static_function(a, len);
    p[len] = 0x41;
    p[len + 1] = 0x42;
    zh_free(a, p, len);
    assert_int_equal(s->count[ZH_DEBUG_OVERFLOW], 1);
    assert_reported(s, "found: 41 42, expected dd");
    char line[64];
    snprintf(line, sizeof line, "at offset %zu", len);
    assert_reported(s, line);
    assert_trace_names(s, "leaky_static_function");
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
    free(s);
}

static void test_debug_write_after_free_small(void **state) {
    (void)state;
    sink *s = calloc(1, sizeof *s);
    zh_debug_config cfg = planted_bug_config(s);
    cfg.bucket_quarantine = 0; /* Zig: checked and returned at retirement */
    zh_debug *d = make(&cfg);
    zh_allocator a = zh_debug_allocator(d);
    void *keep = zh_alloc(a, 64);
    unsigned char *p = leaky_static_function(a, 64);
    first_free_here(a, p, 64);
    p[10] = 0x77; /* write after free */
    assert_int_equal(zh_debug_detect_leaks(d), 1);
    assert_int_equal(s->count[ZH_DEBUG_USE_AFTER_FREE], 1);
    char line[128];
    snprintf(line, sizeof line, "write-after-free on address %p (64 bytes, alignment 16)", (void *)p);
    assert_reported(s, line);
    assert_reported(s, "1 byte damaged at offset 10");
    assert_reported(s, "found: 77, expected dd");
    assert_reported(s, "freed by thread ");
    assert_trace_names(s, "first_free_here");
    assert_trace_names(s, "leaky_static_function");
    sink_clear(s);
    /* At bucket retirement: the last free of the bucket scans it. */
    p[11] = 0x78;
    zh_free(a, keep, 64);
    assert_int_equal(s->count[ZH_DEBUG_USE_AFTER_FREE], 1);
    assert_reported(s, "found in bucket retirement");
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
    free(s);
}

/* A planted-bug instance whose quarantine holds `buckets` retired buckets. */
static zh_debug *make_quarantined(sink *s, size_t buckets) {
    zh_debug_config cfg = planted_bug_config(s);
    cfg.bucket_quarantine = buckets;
    return make(&cfg);
}

/* Damage far into a freed slot (past the first pattern chunk) is found, in a slot
 * of a live bucket and in the scan of a whole retired bucket. */
static void test_debug_write_after_free_deep(void **state) {
    (void)state;
    sink *s = calloc(1, sizeof *s);
    zh_debug *d = make_quarantined(s, 0);
    zh_allocator a = zh_debug_allocator(d);
    void *keep = zh_alloc(a, 4000);
    unsigned char *p = zh_alloc(a, 4000);
    zh_free(a, p, 4000);
    p[3999] = 0x31; /* the last requested byte */
    assert_int_equal(zh_debug_detect_leaks(d), 1);
    assert_int_equal(s->count[ZH_DEBUG_USE_AFTER_FREE], 1);
    assert_reported(s, "1 byte damaged at offset 3999");
    sink_clear(s);
    p[4095] = 0x32; /* the slot's last byte (slack) */
    zh_free(a, keep, 4000); /* the bucket retires: one scan of both slots */
    assert_int_equal(s->count[ZH_DEBUG_USE_AFTER_FREE], 1);
    assert_reported(s, "1 byte damaged at offset 4095");
    assert_reported(s, "found in bucket retirement");
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
    assert_int_equal(s->count[ZH_DEBUG_USE_AFTER_FREE], 1);
    free(s);
}

/* Retired buckets wait in the quarantine and are checked when they leave it. */
static void test_debug_quarantine(void **state) {
    (void)state;
    sink *s = calloc(1, sizeof *s);
    zh_debug *d = make_quarantined(s, 2);
    zh_allocator a = zh_debug_allocator(d);
    unsigned char *first = zh_alloc(a, 100);
    first_free_here(a, first, 100); /* its bucket retires into the quarantine */
    first[99] = 0x42;               /* written while quarantined */
    assert_int_equal(s->total, 0);
    void *again = zh_alloc(a, 100);
    assert_ptr_not_equal(again, first); /* no reuse while quarantined */
    zh_free(a, again, 100);             /* quarantine: 2 buckets */
    assert_int_equal(s->total, 0);
    void *third = zh_alloc(a, 100);
    zh_free(a, third, 100); /* 3 > 2: the first bucket leaves, checked */
    assert_int_equal(s->count[ZH_DEBUG_USE_AFTER_FREE], 1);
    assert_reported(s, "found in bucket retirement");
    assert_reported(s, "1 byte damaged at offset 99");
    assert_trace_names(s, "first_free_here");
    /* The checked page is reused for the next bucket (resident: no fault). */
    void *reuse = zh_alloc(a, 100);
    assert_ptr_equal(reuse, first);
    zh_free(a, reuse, 100);
    zh_debug_stats st;
    zh_debug_get_stats(d, &st);
    assert_int_equal(st.buckets, 0);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
    assert_int_equal(s->count[ZH_DEBUG_USE_AFTER_FREE], 1);
    free(s);
}

/* A page that left the quarantine is reused without rewriting the slack of the
 * slots it had handed out (they hold the checked fill already); slots it never
 * handed out get the pattern written. Overflows are caught in both, and an intact
 * block in either is not reported. */
static void test_debug_overflow_in_reused_page(void **state) {
    (void)state;
    sink *s = calloc(1, sizeof *s);
    zh_debug *d = make_quarantined(s, 1);
    zh_allocator a = zh_debug_allocator(d);
    unsigned char *first = zh_alloc(a, 100);
    zh_free(a, first, 100); /* its bucket (one slot handed out) is quarantined */
    zh_free(a, zh_alloc(a, 100), 100); /* the first bucket leaves, checked */
    unsigned char *clean = zh_alloc(a, 100);  /* slot 0 of the reused page */
    unsigned char *fresh = zh_alloc(a, 100);  /* slot 1: never handed out before */
    unsigned char *intact = zh_alloc(a, 100); /* slot 2 */
    assert_ptr_equal(clean, first);
    memset(clean, 1, 100);
    memset(fresh, 1, 100);
    memset(intact, 1, 100);
    clean[120] = 0x55; /* in the slack of a 128-byte slot */
    fresh[101] = 0x66;
    zh_free(a, clean, 100);
    zh_free(a, fresh, 100);
    zh_free(a, intact, 100);
    assert_int_equal(s->total, 2);
    assert_int_equal(s->count[ZH_DEBUG_OVERFLOW], 2);
    assert_reported(s, "1 byte damaged at offset 120");
    assert_reported(s, "found: 55, expected dd");
    assert_reported(s, "1 byte damaged at offset 101");
    assert_reported(s, "found: 66, expected dd");
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
    assert_int_equal(s->total, 2);
    free(s);
}

static void test_debug_write_after_free_at_destroy(void **state) {
    (void)state;
    sink *s = calloc(1, sizeof *s);
    zh_debug_config cfg = planted_bug_config(s);
    zh_debug *d = make(&cfg);
    zh_allocator a = zh_debug_allocator(d);
    void *keep = zh_alloc(a, 16);
    unsigned char *p = zh_alloc(a, 16);
    zh_free(a, p, 16);
    p[0] = 1;
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_LEAK); /* keep leaked */
    assert_int_equal(s->count[ZH_DEBUG_USE_AFTER_FREE], 1);
    assert_int_equal(s->count[ZH_DEBUG_LEAK], 1);
    assert_reported(s, "found in destroy");
    (void)keep;
    free(s);
}

static NOINLINE unsigned char *grow_here(zh_allocator a, unsigned char *p, size_t len, size_t n) {
    unsigned char *q = zh_realloc(a, p, len, n);
    KEEP_FRAME();
    return q;
}

static void test_debug_use_after_moving_realloc(void **state) {
    (void)state;
    sink *s = calloc(1, sizeof *s);
    zh_debug_config cfg = planted_bug_config(s);
    cfg.never_unmap = true; /* large blocks stay mapped and checked */
    zh_debug *d = make(&cfg);
    zh_allocator a = zh_debug_allocator(d);
    void *keep = zh_alloc(a, 24);
    unsigned char *p = zh_alloc(a, 24);
    unsigned char *q = grow_here(a, p, 24, 100); /* moves to another class */
    assert_ptr_not_equal(p, q);
    p[3] = 0x55; /* stale pointer */
    unsigned char *big = zh_alloc(a, PAGE * 2);
    unsigned char *big2 = grow_here(a, big, PAGE * 2, PAGE * 8);
    assert_non_null(big2);
    if (big2 != big) big[PAGE] = 0x66; /* moved (never_unmap allows no remap): stale */
    assert_int_equal(zh_debug_detect_leaks(d), 3);
    size_t expected = big2 != big ? 2 : 1;
    assert_int_equal(s->count[ZH_DEBUG_USE_AFTER_FREE], expected);
    assert_trace_names(s, "grow_here");
    sink_clear(s);
    zh_free(a, q, 100);
    zh_free(a, big2, PAGE * 8);
    zh_free(a, keep, 24);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
    assert_int_equal(s->total, 0);
    free(s);
}

/* ---- configuration --------------------------------------------------------------------------- */

static void expect_refused(zh_debug_config cfg, const char *message) {
    sink *s = calloc(1, sizeof *s);
    cfg.report = sink_report;
    cfg.report_user = s;
    assert_null(zh_debug_create(&cfg));
    assert_int_equal(s->count[ZH_DEBUG_INVALID_CONFIG], 1);
    assert_reported(s, "zh_debug_create: invalid configuration: ");
    assert_reported(s, message);
    free(s);
}

static void test_debug_invalid_config(void **state) {
    (void)state;
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.page_size = 3000;
    expect_refused(cfg, "page_size 3000 is not a power of two");
    cfg.page_size = 512;
    expect_refused(cfg, "page_size 512 is not a power of two between 1 KiB and 1 GiB");
    cfg = (zh_debug_config)ZH_DEBUG_CONFIG_DEFAULT;
    cfg.stack_trace_frames = ZH_DEBUG_FRAMES_MAX + 1;
    expect_refused(cfg, "exceeds ZH_DEBUG_FRAMES_MAX");
    cfg = (zh_debug_config)ZH_DEBUG_CONFIG_DEFAULT;
    cfg.stack_trace_frames = 64;
    cfg.page_size = 4096;
    expect_refused(cfg, "is too small for two");
    cfg = (zh_debug_config)ZH_DEBUG_CONFIG_DEFAULT;
    cfg.lock_hook.lock = hook_lock;
    expect_refused(cfg, "lock_hook needs both");
    cfg = (zh_debug_config)ZH_DEBUG_CONFIG_DEFAULT;
    cfg.canary = 0;
    expect_refused(cfg, "canary must not be 0");
    cfg = (zh_debug_config)ZH_DEBUG_CONFIG_DEFAULT;
    cfg.backing = (zh_allocator){NULL, &dirty_vtable};
    expect_refused(cfg, "vtable is incomplete");
    cfg = (zh_debug_config)ZH_DEBUG_CONFIG_DEFAULT;
    cfg.unwinder = (zh_debug_unwinder)7;
    expect_refused(cfg, "unknown unwinder 7");
}

static void test_debug_default_frames(void **state) {
    (void)state;
    sink *s = calloc(1, sizeof *s);
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.report = sink_report;
    cfg.report_user = s;
    zh_debug *d = make(&cfg);
    void *p = leaky_static_function(zh_debug_allocator(d), 8);
    assert_int_equal(zh_debug_detect_leaks(d), 1);
    /* Zig: 6 frames in Debug builds (safety on), none otherwise. */
    bool frames = zh_safety_enabled() && has_traces();
    assert_int_equal(strstr(s->text, "#0 0x") != NULL, frames);
    if (frames) assert_null(strstr(s->text, "#6 0x"));
    if (!frames) assert_reported(s, "(no stack trace");
    zh_free(zh_debug_allocator(d), p, 8);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
    free(s);
}

/* ---- stack capture and symbolization (the platform slot) ------------------------------------ */

static NOINLINE size_t capture_here(zh__stack_method m, uintptr_t *frames, size_t max) {
    size_t n = zh__os_stack_capture(m, ZH_RETURN_ADDRESS(), frames, max);
    KEEP_FRAME();
    return n;
}

/* first_address 0: the trace starts in the function that asked. */
static NOINLINE size_t capture_from_zero(zh__stack_method m, uintptr_t *frames, size_t max) {
    size_t n = zh__os_stack_capture(m, 0, frames, max);
    KEEP_FRAME();
    return n;
}

static NOINLINE void check_method(zh__stack_method m) {
    uintptr_t frames[8];
    size_t n = capture_here(m, frames, 8);
    KEEP_FRAME();
    if (!has_traces()) {
        assert_true(n <= 1);
        return;
    }
    assert_true(n >= 2);
    zh__symbol sym;
    if (!has_names()) return;
    assert_true(zh__os_symbolize(frames[0], &sym));
    assert_true(strstr(sym.module, "zheap-test_debug") != NULL);
    if (!has_static_names()) return; /* dladdr: module + offset only */
    assert_string_equal(sym.function, "check_method"); /* static, no -rdynamic */
    assert_true(sym.function_offset > 0);
    assert_true(strstr(sym.module, "zheap-test_debug") != NULL);
    assert_true(sym.module_offset > sym.function_offset);
    if (has_lines()) {
        assert_non_null(strstr(sym.file, "test_debug.c"));
        assert_true(sym.line > 0);
    }
    assert_true(zh__os_symbolize(frames[1], &sym));
    assert_string_equal(sym.function, "test_debug_stack_capture");
    assert_int_equal(capture_from_zero(m, frames, 3), 3);
    assert_true(zh__os_symbolize(frames[0], &sym));
    assert_string_equal(sym.function, "capture_from_zero");
    assert_true(zh__os_symbolize(frames[1], &sym));
    assert_string_equal(sym.function, "check_method");
}

static void test_debug_stack_capture(void **state) {
    (void)state;
    zh__os_stack_warm_up();
    check_method(ZH__STACK_DEFAULT);
    check_method(ZH__STACK_FRAME_POINTER);
    /* 0 starts at the caller; max bounds the count. */
    uintptr_t one[1];
    assert_true(zh__os_stack_capture(ZH__STACK_DEFAULT, 0, one, 1) <= 1);
    assert_int_equal(zh__os_stack_capture(ZH__STACK_DEFAULT, 0, one, 0), 0);
    /* An address not on the stack: the trace is that address alone. */
    if (has_traces()) {
        uintptr_t f[4];
        assert_int_equal(zh__os_stack_capture(ZH__STACK_DEFAULT, 0x1234, f, 4), 1);
        assert_int_equal(f[0], 0x1234);
    }
    assert_string_equal(zh_debug_backtrace_provider(), zh__os_stack_provider());
}

/* A frame-pointer walk that meets a saved frame pointer holding garbage (code built
 * without frame pointers uses the register freely) stops there: -16 once wrapped
 * the stack-top check (fp + 16 == 0) and the walk read address -8. */
static NOINLINE size_t walk_below(uintptr_t *frames, size_t max) {
    size_t n = zh__os_stack_capture(ZH__STACK_FRAME_POINTER, 0, frames, max);
    KEEP_FRAME();
    return n;
}

static NOINLINE size_t walk_with_bad_link(uintptr_t bad, uintptr_t *frames, size_t max) {
    volatile uintptr_t *record = (volatile uintptr_t *)__builtin_frame_address(0);
    uintptr_t saved = record[0]; /* the caller's frame pointer, restored before return */
    record[0] = bad;
    size_t n = walk_below(frames, max);
    record[0] = saved;
    KEEP_FRAME();
    return n;
}

static void test_debug_stack_walk_bad_link(void **state) {
    (void)state;
    if (!(zh__os_stack_caps() & ZH__OS_HAS_FRAME_POINTER_CAPTURE)) skip();
    static const uintptr_t bad[] = {(uintptr_t)-16, (uintptr_t)-8, (uintptr_t)-1, 16};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uintptr_t frames[16];
        size_t n = walk_with_bad_link(bad[i], frames, 16);
        assert_true(n >= 1);
        assert_true(n <= 3); /* walk_below, walk_with_bad_link, then the bad link */
    }
}

/* ---- re-entrancy --------------------------------------------------------------------------------- */

typedef struct reenter {
    zh_debug *d;
    size_t calls;
} reenter;

/* A sink that allocates from the instance that is reporting. */
static void allocating_sink(void *user, zh_debug_event event, const char *text, size_t len) {
    (void)event;
    (void)text;
    reenter *r = user;
    zh_allocator a = zh_debug_allocator(r->d);
    char *copy = zh_alloc(a, len), *keep = zh_alloc(a, len); /* keep: the bucket lives */
    assert_non_null(copy);
    assert_non_null(keep);
    zh_free(a, copy, len);
    zh_raw_free(a, copy, len, 4, 0); /* a double free inside a report: not reported again */
    zh_free(a, keep, len);
    r->calls++;
}

/* A backing allocator that serves every request up to 8 KiB with one of the same
 * 8 KiB pages (LIFO, never cleared), as a C heap may reuse memory: what one block or
 * instance leaves in a page, the next sees. */
#define RECYCLED_PAGE 8192
static struct {
    void *free[8];
    size_t count;
} recycler;
static void *recycler_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ctx;
    if (len > RECYCLED_PAGE || zh_align_to_bytes(align) > RECYCLED_PAGE)
        return zh_c_allocator.vtable->alloc(NULL, len, align, ret_addr);
    if (recycler.count > 0) return recycler.free[--recycler.count];
    return aligned_alloc(RECYCLED_PAGE, RECYCLED_PAGE);
}
static bool recycler_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                            uintptr_t ret_addr) {
    (void)ctx, (void)mem, (void)len, (void)align, (void)new_len, (void)ret_addr;
    return false;
}
static void *recycler_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                            uintptr_t ret_addr) {
    (void)ctx, (void)mem, (void)len, (void)align, (void)new_len, (void)ret_addr;
    return NULL;
}
static void recycler_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ctx;
    if (len > RECYCLED_PAGE || zh_align_to_bytes(align) > RECYCLED_PAGE) {
        zh_c_allocator.vtable->free(NULL, mem, len, align, ret_addr);
        return;
    }
    assert_true(recycler.count < 8);
    recycler.free[recycler.count++] = mem;
}
static const zh_allocator_vtable recycler_vtable = {recycler_alloc, recycler_resize,
                                                    recycler_remap, recycler_free};

/* No traces, RECYCLED_PAGE buckets from the recycler, which does not zero. */
static zh_debug_config recycled_page_config(void) {
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.stack_trace_frames = 0;
    cfg.page_size = RECYCLED_PAGE;
    cfg.backing = (zh_allocator){NULL, &recycler_vtable};
    cfg.backing_allocator_zeroes = false;
    return cfg;
}

/* Found by the fuzzer: a never_unmap instance gave its buckets back with their
 * headers intact, and zh_debug_block_info of the next instance, probing the header
 * positions of every class in a recycled page, stopped at the stale one. */
static void test_debug_block_info_in_recycled_page(void **state) {
    (void)state;
    zh_debug_config cfg = recycled_page_config();
    cfg.never_unmap = true;
    zh_debug *first = zh_debug_create(&cfg);
    assert_non_null(first);
    void *p = zh_alloc(zh_debug_allocator(first), 16); /* a bucket of the 16-byte class */
    assert_non_null(p);
    uintptr_t page = (uintptr_t)p & ~(uintptr_t)(RECYCLED_PAGE - 1);
    zh_free(zh_debug_allocator(first), p, 16);
    assert_int_equal(zh_debug_destroy(first), ZH_CHECK_OK);

    cfg.never_unmap = false;
    zh_debug *second = zh_debug_create(&cfg);
    assert_non_null(second);
    unsigned char *q = zh_alloc(zh_debug_allocator(second), 64); /* the 64-byte class */
    assert_non_null(q);
    assert_true(((uintptr_t)q & ~(uintptr_t)(RECYCLED_PAGE - 1)) == page); /* the same page */
    size_t len = 0, alignment = 0;
    assert_true(zh_debug_block_info(second, q, &len, &alignment));
    assert_int_equal(len, 64);
    zh_free(zh_debug_allocator(second), q, 64);
    assert_false(zh_debug_block_info(second, q, &len, &alignment));
    assert_int_equal(zh_debug_destroy(second), ZH_CHECK_OK);
    while (recycler.count > 0) free(recycler.free[--recycler.count]);
}

/* Found by the fuzzer (ASan: a use after free): with retain_metadata, a remap of a
 * large block first reserves a table entry for the moved block, and when that grew
 * the table, the entry of the old block was read from the freed table. Eight live
 * large blocks fill the first table to its load limit. */
static void test_debug_remap_grows_the_large_table(void **state) {
    (void)state;
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.stack_trace_frames = 0;
    cfg.retain_metadata = true;
    zh_debug *d = zh_debug_create(&cfg);
    assert_non_null(d);
    zh_allocator a = zh_debug_allocator(d);
    enum { BLOCKS = 8 };
    const size_t len = 65536, grown = (size_t)4 << 20;
    unsigned char *p[BLOCKS];
    for (size_t i = 0; i < BLOCKS; i++) {
        p[i] = zh_alloc(a, len);
        assert_non_null(p[i]);
        memset(p[i], (int)i + 1, len);
    }
    unsigned char *q = zh_remap(a, p[0], len, grown);
    if (q != NULL) {
        assert_true(zht_all_bytes(q, len, 1));
        size_t got = 0;
        assert_true(zh_debug_block_info(d, q, &got, NULL));
        assert_int_equal(got, grown);
        p[0] = q;
    }
    for (size_t i = 0; i < BLOCKS; i++) zh_free(a, p[i], i == 0 && q != NULL ? grown : len);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
}

/* Found by the fuzzer: with retain_metadata, zh_debug_block_info of a small block
 * at the address of a freed large one (its memory reused for the bucket) saw the
 * retained record and answered "no block". */
static void test_debug_block_info_over_retained_large(void **state) {
    (void)state;
    zh_debug_config cfg = recycled_page_config();
    cfg.retain_metadata = true;
    zh_debug *d = zh_debug_create(&cfg);
    assert_non_null(d);
    zh_allocator a = zh_debug_allocator(d);
    void *big = zh_alloc(a, 3000); /* above page_size / 4: a large block, on a page */
    assert_non_null(big);
    zh_free(a, big, 3000);
    void *small = zh_alloc(a, 16); /* its bucket takes that page back */
    assert_ptr_equal(small, big);
    size_t len = 0;
    assert_true(zh_debug_block_info(d, small, &len, NULL));
    assert_int_equal(len, 16);
    zh_free(a, small, 16);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
    while (recycler.count > 0) free(recycler.free[--recycler.count]);
}

static void test_debug_reentrant_sink(void **state) {
    (void)state;
    reenter r = {NULL, 0};
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.stack_trace_frames = 6;
    cfg.report = allocating_sink;
    cfg.report_user = &r;
    cfg.verbose_log = true;
    r.d = make(&cfg);
    zh_allocator a = zh_debug_allocator(r.d);
    void *p = zh_alloc(a, 10);
    zh_free(a, p, 10);
    assert_int_equal(r.calls, 2);
    assert_int_equal(zh_debug_destroy(r.d), ZH_CHECK_OK);
}

static zh_debug *reentry_target;
static void *reentrant_backing_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret) {
    (void)ctx;
    if (reentry_target != NULL) return zh_raw_alloc(zh_debug_allocator(reentry_target), 8, 0, ret);
    return zh_page_allocator.vtable->alloc(zh_page_allocator.ctx, len, align, ret);
}

static void reenter_from_backing(void *arg) {
    (void)arg;
    zh_allocator_vtable v = *zh_page_allocator.vtable;
    v.alloc = reentrant_backing_alloc;
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.backing = (zh_allocator){NULL, &v};
    zh_debug *d = make(&cfg);
    reentry_target = d;
    (void)zh_alloc(zh_debug_allocator(d), 10); /* needs a bucket: the backing calls back */
}

static void test_debug_reentrant_backing_aborts(void **state) {
    (void)state;
    zht_expect_abort(reenter_from_backing, NULL, "re-entered while holding its lock");
}

/* ---- out of memory at every point ------------------------------------------------------------------ */

static size_t live_total(unsigned char **p, const size_t *len, size_t n) {
    size_t t = 0;
    for (size_t i = 0; i < n; i++) t += p[i] ? len[i] : 0;
    return t;
}

static bool oom_scenario(zh_allocator backing, void *ctx) {
    zh_debug_config cfg = *(const zh_debug_config *)ctx;
    sink *s = calloc(1, sizeof *s);
    cfg.backing = backing;
    cfg.report = sink_report;
    cfg.report_user = s;
    zh_debug *d = zh_debug_create(&cfg);
    if (d == NULL) {
        free(s);
        return false;
    }
    zh_allocator a = zh_debug_allocator(d);
    bool ok = true;
    enum { N = 24 };
    unsigned char *p[N] = {0};
    size_t len[N] = {0};
    for (size_t i = 0; i < N; i++) {
        len[i] = i % 5 == 4 ? PAGE + i * 1000 : 8u << (i % 9);
        p[i] = zh_alloc(a, len[i]);
        if (p[i] == NULL) {
            ok = false;
            len[i] = 0;
            continue;
        }
        memset(p[i], (int)i, len[i]);
    }
    for (size_t i = 0; i < N; i += 3) { /* grow: small->large, large->larger, in class */
        if (p[i] == NULL) continue;
        size_t n = len[i] * 3 + 1;
        unsigned char *q = zh_realloc(a, p[i], len[i], n);
        if (q == NULL) {
            ok = false;
            continue;
        }
        assert_int_equal(q[0], (unsigned char)i);
        p[i] = q, len[i] = n;
    }
    /* The instance stays usable after failures, and the total stays exact. */
    assert_int_equal(zh_debug_total_requested_bytes(d), live_total(p, len, N));
    for (size_t i = 0; i < N; i++)
        if (p[i] != NULL) zh_free(a, p[i], len[i]);
    assert_int_equal(zh_debug_destroy(d), ZH_CHECK_OK);
    if (s->total != s->count[ZH_DEBUG_LOG]) fail_msg("unexpected report:\n%s", s->text);
    free(s);
    return ok;
}

static void test_debug_oom_sweep(void **state) {
    (void)state;
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.stack_trace_frames = 4;
    size_t points = zht_oom_sweep(zh_page_allocator, oom_scenario, &cfg);
    assert_true(points > 10);
    cfg.retain_metadata = true; /* table reservations on moves too */
    cfg.enable_memory_limit = true;
    cfg.page_size = 16384;
    assert_true(zht_oom_sweep(zh_page_allocator, oom_scenario, &cfg) > 10);
    cfg.never_unmap = true;
    assert_true(zht_oom_sweep(zh_page_allocator, oom_scenario, &cfg) > 10);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_debug_conformance_default),
        cmocka_unit_test(test_debug_conformance_variants),
        cmocka_unit_test(test_debug_zig_small_same_order),
        cmocka_unit_test(test_debug_zig_small_reverse_order),
        cmocka_unit_test(test_debug_zig_large_allocations),
        cmocka_unit_test(test_debug_zig_very_large_allocation),
        cmocka_unit_test(test_debug_zig_realloc),
        cmocka_unit_test(test_debug_zig_shrink),
        cmocka_unit_test(test_debug_zig_large_object_grow),
        cmocka_unit_test(test_debug_zig_realloc_small_to_large),
        cmocka_unit_test(test_debug_zig_shrink_large_to_large),
        cmocka_unit_test(test_debug_zig_large_to_larger_alignment),
        cmocka_unit_test(test_debug_zig_realloc_large_to_small),
        cmocka_unit_test(test_debug_zig_overridable_mutex),
        cmocka_unit_test(test_debug_zig_non_zeroing_backing),
        cmocka_unit_test(test_debug_zig_large_rejects_shrink_to_small),
        cmocka_unit_test(test_debug_zig_objects_1024_and_2048),
        cmocka_unit_test(test_debug_zig_memory_cap),
        cmocka_unit_test(test_debug_zig_large_counts_requested_size),
        cmocka_unit_test(test_debug_zig_retain_metadata_never_unmap),
        cmocka_unit_test(test_debug_limit_exact_after_backing_failure),
        cmocka_unit_test(test_debug_stats),
        cmocka_unit_test(test_debug_leak_report),
        cmocka_unit_test(test_debug_double_free_small),
        cmocka_unit_test(test_debug_double_free_large_retained),
        cmocka_unit_test(test_debug_size_and_alignment_mismatch),
        cmocka_unit_test(test_debug_invalid_frees),
        cmocka_unit_test(test_debug_verbose_log),
        cmocka_unit_test(test_debug_resize_stack_traces),
        cmocka_unit_test(test_debug_overflow_small),
        cmocka_unit_test(test_debug_overflow_large),
        cmocka_unit_test(test_debug_write_after_free_small),
        cmocka_unit_test(test_debug_write_after_free_deep),
        cmocka_unit_test(test_debug_quarantine),
        cmocka_unit_test(test_debug_overflow_in_reused_page),
        cmocka_unit_test(test_debug_write_after_free_at_destroy),
        cmocka_unit_test(test_debug_use_after_moving_realloc),
        cmocka_unit_test(test_debug_invalid_config),
        cmocka_unit_test(test_debug_default_frames),
        cmocka_unit_test(test_debug_stack_capture),
        cmocka_unit_test(test_debug_stack_walk_bad_link),
        cmocka_unit_test(test_debug_reentrant_sink),
        cmocka_unit_test(test_debug_block_info_in_recycled_page),
        cmocka_unit_test(test_debug_remap_grows_the_large_table),
        cmocka_unit_test(test_debug_block_info_over_retained_large),
        cmocka_unit_test(test_debug_reentrant_backing_aborts),
        cmocka_unit_test(test_debug_oom_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
