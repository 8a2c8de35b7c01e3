/* conformance_main.c - the conformance suite over every allocator of this build, and
 * the page-allocator checks that differ between OS backends, without any test
 * framework.
 *
 * It is the test that runs in cross configurations (mingw-w64 under wine, wasm32
 * under node), where cmocka is absent, and natively as well. Plain C11 and the C
 * library only: no POSIX, no threads. It prints one line per check ("ok" or "FAIL",
 * with details on stderr from the suite) and ends with "N passed, N failed";
 * the exit status is nonzero when anything failed. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/track.h"

#include "zheap/allocator.h"
#include "zheap/arena.h"
#include "zheap/c.h"
#include "zheap/smp.h"
#include "zheap/config.h"
#include "zheap/debug.h"
#include "zheap/fba.h"
#include "zheap/page.h"
#include "zheap/sbrk.h"
#include "zheap/stack_fallback.h"
#include "zheap/testing.h"
#include "zheap/thread_safe.h"
#include "zheap/wasm.h"

#include "common.h"            /* alignment helpers, ZH_PRINTF */
#include "support/bytes.h"     /* zht_all_bytes */
#include "platform/platform.h" /* backend facts: granularity, capabilities */
#include "support/plain_check.h" /* check(), the closing "N passed, N failed" */

/* ---- the conformance suite ---------------------------------------------------------- */

/* Runs every function of zh_test_suite (testing.h) on `a`. */
static void run_suite(const char *allocator_name, zh_allocator a) {
    for (size_t i = 0; i < ZH_TEST_SUITE_LEN; i++)
        check(zh_test_suite[i].run(a) == 0, "%s: %s", allocator_name, zh_test_suite[i].name);
}

/* One buffer for the allocators that live in a caller's memory (fba, the wrappers
 * over it, the sbrk allocator's fake break); they use it one after the other. A
 * whole suite function needs a few MiB at most. */
#define BUFFER_LEN ((size_t)16 << 20)
static _Alignas(max_align_t) unsigned char buffer[BUFFER_LEN];

/* ---- allocators ------------------------------------------------------------------------ */

static void test_page_conformance(void) { run_suite("page", zh_page_allocator); }

static void test_c_conformance(void) { run_suite("c", zh_c_allocator); }

/* zh_raw_c_allocator takes no alignment above max_align_t (a contract violation, it
 * aborts), so only the suite functions that stay within it run: the aligned and
 * large-alignment ones go up to 512 bytes and 64 KiB. The alignments it does take
 * are checked here instead. */
static void test_raw_c_conformance(void) {
    zh_allocator a = zh_raw_c_allocator;
    check(zh_test_allocator(a) == 0, "raw_c: zh_test_allocator");
    check(zh_test_allocator_aligned_shrink(a) == 0, "raw_c: zh_test_allocator_aligned_shrink");
    bool ok = true;
    for (size_t alignment = 1; alignment <= ZH_MALLOC_ALIGNMENT; alignment *= 2) {
        unsigned char *p = zh_alloc_aligned(a, 24, alignment);
        if (p == NULL) {
            ok = false;
            continue;
        }
        memset(p, 0x3c, 24);
        unsigned char *q = zh_realloc_aligned(a, p, 24, 3000, alignment);
        if (q == NULL) {
            zh_free_aligned(a, p, 24, alignment);
            ok = false;
            continue;
        }
        ok = ok && zh__is_aligned(q, alignment) && q[0] == 0x3c && q[23] == 0x3c;
        zh_free_aligned(a, q, 3000, alignment);
    }
    check(ok, "raw_c: alignments 1..%zu allocated, grown, kept contents",
          (size_t)ZH_MALLOC_ALIGNMENT);
    printf("skip raw_c: zh_test_allocator_aligned, zh_test_allocator_large_alignment "
           "(alignments above max_align_t)\n");
}

/* As Zig's FixedBufferAllocator tests: one buffer, reset before each suite function. */
static void test_fba_conformance(void) {
    zh_fba fba;
    zh_fba_init(&fba, buffer, sizeof buffer);
    for (size_t i = 0; i < ZH_TEST_SUITE_LEN; i++) {
        zh_fba_reset(&fba);
        check(zh_test_suite[i].run(zh_fba_allocator(&fba)) == 0, "fba: %s", zh_test_suite[i].name);
    }
    for (size_t i = 0; i < ZH_TEST_SUITE_LEN; i++) {
        zh_fba_reset(&fba);
        check(zh_test_suite[i].run(zh_fba_thread_safe_allocator(&fba)) == 0, "fba thread-safe: %s",
              zh_test_suite[i].name);
    }
}

/* The child is counted through a failing allocator that never fails, so the test
 * sees that the arena really used it and gave every buffer back. */
static void test_arena_conformance(void) {
    zh_failing counter;
    zh_failing_init(&counter, zh_page_allocator, SIZE_MAX);
    zh_arena arena;
    zh_arena_init(&arena, zh_failing_allocator(&counter));
    run_suite("arena over page", zh_arena_allocator(&arena));
    zh_arena_deinit(&arena);
    check(counter.allocations > 0 && counter.allocations == counter.deallocations &&
              counter.allocated_bytes == counter.freed_bytes,
          "arena over page: deinit returned all %zu buffers", counter.allocations);
}

/* As Zig's test: a 4096-byte stack buffer over a fallback, a fresh instance per
 * suite function (get is called once per instance). */
static void test_stack_fallback_conformance(void) {
    size_t spilled = 0;
    for (size_t i = 0; i < ZH_TEST_SUITE_LEN; i++) {
        zh_failing counter;
        zh_failing_init(&counter, zh_page_allocator, SIZE_MAX);
        ZH_STACK_FALLBACK(sf, 4096, zh_failing_allocator(&counter));
        check(zh_test_suite[i].run(zh_stack_fallback_get(&sf)) == 0, "stack fallback over page: %s",
              zh_test_suite[i].name);
        check(counter.allocations == counter.deallocations &&
                  counter.allocated_bytes == counter.freed_bytes,
              "stack fallback over page: %s returned every fallback block", zh_test_suite[i].name);
        spilled += counter.allocations;
    }
    check(spilled > 0, "stack fallback over page: large blocks went to the fallback");
}

static void test_thread_safe_conformance(void) {
    zh_fba fba;
    zh_fba_init(&fba, buffer, sizeof buffer);
    zh_thread_safe ts;
    zh_thread_safe_init(&ts, zh_fba_allocator(&fba));
    for (size_t i = 0; i < ZH_TEST_SUITE_LEN; i++) {
        zh_fba_reset(&fba);
        check(zh_test_suite[i].run(zh_thread_safe_allocator(&ts)) == 0, "thread-safe over fba: %s",
              zh_test_suite[i].name);
    }
    zh_thread_safe_deinit(&ts);

    zh_thread_safe_init(&ts, zh_c_allocator);
    run_suite("thread-safe over c", zh_thread_safe_allocator(&ts));
    zh_thread_safe_deinit(&ts);
}

/* The debug allocator: the suite on fresh instances, then a leak and a double free
 * reported through the sink, with frames where the build's stack provider has them
 * (CaptureStackBackTrace under wine, none on wasm). */
static size_t debug_events[ZH_DEBUG_INVALID_CONFIG + 1];
static char debug_text[4096];

static void debug_sink(void *user, zh_debug_event event, const char *text, size_t len) {
    (void)user;
    debug_events[event]++;
    size_t have = strlen(debug_text), room = sizeof debug_text - 1 - have;
    memcpy(debug_text + have, text, len < room ? len : room);
    debug_text[have + (len < room ? len : room)] = '\0';
}

static void test_debug_conformance(void) {
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.stack_trace_frames = 6;
    cfg.report = debug_sink;
    for (size_t i = 0; i < ZH_TEST_SUITE_LEN; i++) {
        zh_debug *d = zh_debug_create(&cfg);
        if (!check(d != NULL, "debug: create")) return;
        check(zh_test_suite[i].run(zh_debug_allocator(d)) == 0, "debug: %s", zh_test_suite[i].name);
        check(zh_debug_destroy(d) == ZH_CHECK_OK, "debug: no leak after %s", zh_test_suite[i].name);
    }
    /* The double free below goes through zh_free, whose fill of the freed block a
     * memory checker would report first (checker_hooks); this case is the debug
     * allocator's own report. */
    cfg.checker_hooks = false;
    zh_debug *d = zh_debug_create(&cfg);
    if (!check(d != NULL, "debug: create")) return;
    zh_allocator a = zh_debug_allocator(d);
    void *leak = zh_alloc(a, 24), *keep = zh_alloc(a, 8), *twice = zh_alloc(a, 8);
    zh_free(a, twice, 8);
    zh_free(a, twice, 8);
    check(debug_events[ZH_DEBUG_DOUBLE_FREE] == 1, "debug: double free reported");
    zh_free(a, keep, 8);
    check(zh_debug_detect_leaks(d) == 1 && debug_events[ZH_DEBUG_LEAK] == 1,
          "debug: one leak reported");
    bool frames = (zh__os_stack_caps() & ZH__OS_HAS_STACK_CAPTURE) != 0;
    check((strstr(debug_text, "#0 0x") != NULL) == frames,
          "debug: traces %s (provider %s)", frames ? "present" : "absent",
          zh_debug_backtrace_provider());
    check(strstr(debug_text, "SUMMARY: zheap: memory-leak of 24 bytes") != NULL,
          "debug: the leak report names its size");
    zh_free(a, leak, 24);
    check(zh_debug_destroy(d) == ZH_CHECK_OK, "debug: clean after the leak is freed");
    cfg.page_size = 3000;
    check(zh_debug_create(&cfg) == NULL && debug_events[ZH_DEBUG_INVALID_CONFIG] == 1,
          "debug: invalid page size refused");
}

/* A private break over `buffer`, so the sbrk allocator runs on every platform
 * without touching the process's real break. */
static size_t fake_break;

static void *fake_sbrk(intptr_t increment) {
    if (increment < 0 || (size_t)increment > BUFFER_LEN - fake_break) return (void *)-1;
    void *old = buffer + fake_break;
    fake_break += (size_t)increment;
    return old;
}

static void test_sbrk_conformance(void) {
    fake_break = 0;
    zh__track_mem_undefined(buffer, sizeof buffer); /* the previous user's marks go */
    memset(buffer, 0, sizeof buffer); /* fresh break memory is zero, as from the OS */
    zh_sbrk s;
    zh_sbrk_init(&s, fake_sbrk);
    run_suite("sbrk over a static buffer", zh_sbrk_allocator(&s));
    /* The buffer changes hands: under a memory checker the sbrk allocator left its
     * free memory unaddressable, and nobody else will tell the checker otherwise. */
    zh__track_mem_undefined(buffer, sizeof buffer);
    check(fake_break > 0 && fake_break <= BUFFER_LEN,
          "sbrk over a static buffer: memory came from the fake break (%zu bytes)", fake_break);
}

#if ZH_HAVE_WASM_ALLOCATOR
static void test_wasm_conformance(void) { run_suite("wasm", zh_wasm_allocator); }
#endif

/* The SMP allocator needs the seam's thread section (TLS keys, once, locks). */
#if ZH_HAVE_THREADS
static void test_smp_conformance(void) { run_suite("smp", zh_smp_allocator); }
#endif

/* ---- page allocator on this backend ----------------------------------------------------- */

static void test_page_size_and_granularity(void) {
    const zh__os_info *info = zh__os_info_get();
    size_t page = zh_page_size();
    check(zh__is_pow2(page) && page >= ZH_PAGE_SIZE_MIN && page <= ZH_PAGE_SIZE_MAX,
          "page size %zu is a power of two within [%d, %d]", page, ZH_PAGE_SIZE_MIN,
          ZH_PAGE_SIZE_MAX);
    check(info->page_size == page && zh__is_pow2(info->granularity) &&
              info->granularity >= page,
          "granularity %zu is a power of two, at least the page size", info->granularity);
    check(info->name != NULL && strcmp(info->name, ZH_PLATFORM_NAME) == 0,
          "backend \"%s\" is the configured one (%s)", info->name ? info->name : "(null)",
          ZH_PLATFORM_NAME);

    void *p = zh__os_map(page, 1, NULL);
    check(p != NULL && zh__is_aligned(p, info->granularity),
          "a one-page mapping is aligned to the granularity without asking");
    if (p != NULL) zh__os_unmap(p, page);
}

/* Alignments above 64 KiB (the Windows granularity, the wasm page): the block is
 * aligned, fresh pages are zero, every byte is writable, and several live ones are
 * distinct. */
static void test_page_over_aligned(void) {
    static const size_t alignments[] = {(size_t)1 << 17, (size_t)1 << 20, (size_t)1 << 22};
    size_t page = zh_page_size();
    const size_t lens[] = {1, page + 1, ((size_t)3 << 16) + 5};
    enum { LIVE = 4 };
    /* Where memory never goes back to the OS (wasm), the slack of every 4 MiB
     * probe stays in the process: stop at 1 MiB there. */
    bool returns_memory = (zh__os_info_get()->caps & ZH__OS_CAN_RETURN_MEMORY) != 0;
    size_t alignment_count = sizeof alignments / sizeof alignments[0] - (returns_memory ? 0 : 1);
    for (size_t ai = 0; ai < alignment_count; ai++) {
        size_t alignment = alignments[ai];
        zh_align log2 = zh_align_from_bytes(alignment);
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            size_t len = lens[li];
            unsigned char *live[LIVE] = {0};
            bool ok = true;
            for (size_t k = 0; k < LIVE; k++) {
                live[k] = zh_raw_alloc(zh_page_allocator, len, log2, 0);
                if (live[k] == NULL) {
                    ok = false;
                    break;
                }
                ok = ok && zh__is_aligned(live[k], alignment) && zht_all_bytes(live[k], len, 0);
                memset(live[k], (int)(0x40 + k), len);
                for (size_t j = 0; j < k; j++) ok = ok && live[j] != live[k];
            }
            for (size_t k = 0; k < LIVE; k++) {
                if (live[k] == NULL) continue;
                ok = ok && zht_all_bytes(live[k], len, (unsigned char)(0x40 + k));
                zh_raw_free(zh_page_allocator, live[k], len, log2, 0);
            }
            check(ok, "page: %d live blocks of %zu bytes aligned to %zu KiB", LIVE, len,
                  alignment >> 10);
        }
    }
}

/* Shrinking gives tail pages back; freeing with the shrunk length must still give
 * back the whole original mapping (on Windows: release the whole reservation, since
 * VirtualFree cannot release part of one). Where the backend honours address hints,
 * the complete original range is mappable again right after. */
static void test_page_shrink_then_free(void) {
    const zh__os_info *info = zh__os_info_get();
    size_t page = zh_page_size();
    size_t len = 16 * page;
    zh_align log2 = zh_align_from_bytes(info->granularity);
    unsigned char *p = zh_raw_alloc(zh_page_allocator, len, log2, 0);
    if (!check(p != NULL, "page: 16 pages allocated for shrinking")) return;
    memset(p, 0x5e, len);
    bool shrunk = zh_raw_resize(zh_page_allocator, p, len, log2, page + 1, 0);
    check(shrunk == ((info->caps & ZH__OS_CAN_SHRINK) != 0),
          "page: shrink 16 pages to 1 page + 1 byte %s", shrunk ? "succeeded" : "refused");
    size_t kept = shrunk ? page + 1 : len;
    check(zht_all_bytes(p, kept, 0x5e), "page: the kept %zu bytes survived the shrink", kept);
    memset(p, 0x61, kept); /* the kept pages are still committed and writable */
    zh_raw_free(zh_page_allocator, p, kept, log2, 0);

    if (info->caps & ZH__OS_HAS_ADDR_HINT) {
        void *again = zh__os_map(len, info->granularity, p);
        check(again == p, "page: after shrink + free all 16 pages at %p are free again",
              (void *)p);
        if (again != NULL) zh__os_unmap(again, len);
    }
}

/* Resizes within the pages a block already has always succeed; growing past them
 * fails cleanly where the backend cannot grow (Windows), leaving the block intact. */
static void test_page_resize_in_place(void) {
    const zh__os_info *info = zh__os_info_get();
    size_t page = zh_page_size();
    zh_align log2 = zh_align_from_bytes(16);
    size_t len = 2 * page + 10;
    unsigned char *p = zh_raw_alloc(zh_page_allocator, len, log2, 0);
    if (!check(p != NULL, "page: 2 pages + 10 bytes allocated for resizing")) return;
    memset(p, 0x77, len);

    bool same_pages = zh_raw_resize(zh_page_allocator, p, len, log2, 3 * page, 0);
    check(same_pages, "page: resize to the end of its last page succeeds");
    if (same_pages) {
        len = 3 * page;
        memset(p, 0x77, len);
    }

    bool grown = zh_raw_resize(zh_page_allocator, p, len, log2, 5 * page, 0);
    if (info->caps & ZH__OS_CAN_GROW)
        check(true, "page: growth past its pages %s (backend may grow)",
              grown ? "succeeded" : "refused");
    else
        check(!grown, "page: growth past its pages is refused (backend cannot grow)");
    if (grown) {
        memset(p + len, 0x77, 5 * page - len);
        len = 5 * page;
    }
    check(zht_all_bytes(p, len, 0x77), "page: contents intact after the growth attempt");

    size_t before_remap = len;
    unsigned char *moved = zh_raw_remap(zh_page_allocator, p, len, log2, 9 * page, 0);
    if (!(info->caps & (ZH__OS_CAN_REMAP | ZH__OS_CAN_GROW)))
        check(moved == NULL, "page: remap to more pages returns NULL (no copy-free move)");
    if (moved != NULL) {
        p = moved;
        len = 9 * page;
    }
    check(zht_all_bytes(p, before_remap, 0x77), "page: contents intact after the remap attempt");
    zh_raw_free(zh_page_allocator, p, len, log2, 0);
}

/* The backend itself: shrink keeps the head, grow never takes someone else's pages,
 * and on Windows grow brings back (zero-filled) pages a shrink decommitted. */
static void test_backend_shrink_grow(void) {
    const zh__os_info *info = zh__os_info_get();
    size_t page = info->page_size;
    size_t len = 8 * page;
    unsigned char *p = zh__os_map(len, 1, NULL);
    if (!check(p != NULL, "backend: 8 pages mapped")) return;
    memset(p, 0x19, len);
    size_t mapped = len;
    if (info->caps & ZH__OS_CAN_SHRINK) {
        bool shrunk = zh__os_shrink(p, len, 2 * page);
        check(shrunk && zht_all_bytes(p, 2 * page, 0x19), "backend: shrink to 2 pages keeps them");
        if (shrunk) mapped = 2 * page;
    }
    bool grown = zh__os_grow(p, mapped, len);
    if (strcmp(info->name, "virtualalloc") == 0 && mapped < len)
        check(grown, "backend: grow back into the decommitted tail of its reservation");
    if (grown) {
        check(zht_all_bytes(p, 2 * page, 0x19) && zht_all_bytes(p + mapped, len - mapped, 0),
              "backend: regrown pages are zero, the head is unchanged");
        memset(p, 0x1a, len);
        mapped = len;
    }
    if (!(info->caps & ZH__OS_CAN_REMAP))
        check(zh__os_remap(p, mapped, 2 * len) == NULL, "backend: remap unsupported, NULL");
    zh__os_unmap(p, mapped);
}

/* Over-alignment without a hint (the page allocator nearly always passes one):
 * several live mappings, each aligned, none overlapping. */
static void test_backend_over_aligned_no_hint(void) {
    const zh__os_info *info = zh__os_info_get();
    size_t page = info->page_size;
    enum { LIVE = 6 };
    for (size_t alignment = (size_t)1 << 18; alignment <= ((size_t)1 << 21); alignment <<= 3) {
        unsigned char *live[LIVE] = {0};
        bool ok = true;
        for (size_t k = 0; k < LIVE; k++) {
            live[k] = zh__os_map(3 * page, alignment, NULL);
            ok = ok && live[k] != NULL && zh__is_aligned(live[k], alignment);
            if (live[k] != NULL) memset(live[k], (int)k, 3 * page);
        }
        for (size_t k = 0; k < LIVE; k++) {
            if (live[k] == NULL) continue;
            ok = ok && zht_all_bytes(live[k], 3 * page, (unsigned char)k);
            zh__os_unmap(live[k], 3 * page);
        }
        check(ok, "backend: %d live 3-page mappings aligned to %zu KiB, no hint", LIVE,
              alignment >> 10);
    }
}

/* A misaligned hint must not cost the alignment. */
static void test_backend_misaligned_hint(void) {
    const zh__os_info *info = zh__os_info_get();
    size_t alignment = (size_t)1 << 18;
    unsigned char *p = zh__os_map(info->page_size, alignment, (void *)(uintptr_t)0x12345);
    check(p != NULL && zh__is_aligned(p, alignment), "backend: misaligned hint, aligned result");
    if (p != NULL) zh__os_unmap(p, info->page_size);
}

/* ---- main ------------------------------------------------------------------------------ */

int main(void) {
    printf("zheap conformance on backend %s (safety %s)\n", ZH_PLATFORM_NAME,
           zh_safety_enabled() ? "on" : "off");

    test_page_conformance();
    test_c_conformance();
    test_raw_c_conformance();
    test_fba_conformance();
    test_arena_conformance();
    test_stack_fallback_conformance();
    test_thread_safe_conformance();
    test_sbrk_conformance();
    test_debug_conformance();
#if ZH_HAVE_WASM_ALLOCATOR
    test_wasm_conformance();
#endif
#if ZH_HAVE_THREADS
    test_smp_conformance();
#endif

    test_page_size_and_granularity();
    test_page_over_aligned();
    test_page_shrink_then_free();
    test_page_resize_in_place();
    test_backend_shrink_grow();
    test_backend_over_aligned_no_hint();
    test_backend_misaligned_hint();

    return plain_check_finish();
}
