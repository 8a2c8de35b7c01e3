/* bench_page.c - the page allocator against the system calls it wraps.
 *
 * Groups:
 *   alloc+free of 4 KiB, 64 KiB, 1 MiB: a raw mmap+munmap pair (baseline) against
 *     zh_alloc+zh_free on zh_page_allocator and against the bare vtable. Target: the
 *     page allocator within 1.10x of mmap+munmap. Untouched memory: this measures the
 *     allocator and the system calls, not page faults.
 *   the same with the first byte written (one page fault each), for the small sizes.
 *   growth: doubling a block from 4 KiB to 64 MiB with glibc realloc (baseline)
 *     and with zh_realloc on zh_page_allocator (mremap on Linux, no copy), once
 *     untouched and once writing one byte per new page (a buffer being filled);
 *     then again with glibc's mmap threshold fixed at 128 KiB, so that glibc too
 *     grows large blocks with mremap instead of reusing its (already faulted-in) heap.
 * One op is one alloc+free pair, or one doubling step in the growth groups. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#if defined(__GLIBC__)
#include <malloc.h> /* mallopt */
#endif

#include "harness.h"
#include "zheap/page.h"

#define GROWTH_START ((size_t)4 << 10)
#define GROWTH_END ((size_t)64 << 20)
#define GROWTH_END_QUICK ((size_t)16 << 20)

typedef struct page_bench {
    size_t len;
    bool touch;
    size_t growth_end;
    size_t page;
} page_bench;

static void touch_first_byte(void *p, bool touch) {
    if (touch) *(volatile unsigned char *)p = 1;
}

static void run_mmap_munmap(void *ctx, size_t iterations) {
    const page_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        void *p = mmap(NULL, b->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            zhb_fail("mmap of %zu bytes failed", b->len);
            return;
        }
        touch_first_byte(p, b->touch);
        zhb_escape(p);
        munmap(p, b->len);
    }
}

static void run_page_helpers(void *ctx, size_t iterations) {
    const page_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        void *p = zh_alloc(zh_page_allocator, b->len);
        if (!p) {
            zhb_fail("zh_alloc(zh_page_allocator, %zu) returned NULL", b->len);
            return;
        }
        touch_first_byte(p, b->touch);
        zhb_escape(p);
        zh_free(zh_page_allocator, p, b->len);
    }
}

static void run_page_vtable(void *ctx, size_t iterations) {
    const page_bench *b = ctx;
    const zh_allocator a = zh_page_allocator;
    const zh_align align = zh_align_from_bytes(ZH_MALLOC_ALIGNMENT);
    for (size_t it = 0; it < iterations; it++) {
        void *p = a.vtable->alloc(a.ctx, b->len, align, 0);
        if (!p) {
            zhb_fail("zh_page_allocator alloc of %zu returned NULL", b->len);
            return;
        }
        touch_first_byte(p, b->touch);
        zhb_escape(p);
        a.vtable->free(a.ctx, p, b->len, align, 0);
    }
}

static void format_size(char *out, size_t size, size_t len) {
    if (len >= ((size_t)1 << 20) && len % ((size_t)1 << 20) == 0)
        snprintf(out, size, "%zu MiB", len >> 20);
    else
        snprintf(out, size, "%zu KiB", len >> 10);
}

static void bench_alloc_free(page_bench *b, size_t len, bool touch) {
    char group[48], len_text[24];
    format_size(len_text, sizeof len_text, len);
    snprintf(group, sizeof group, "%s%s", len_text, touch ? " touched" : "");
    b->len = len;
    b->touch = touch;
    const zhb_case_spec cases[] = {
        {"mmap+munmap", run_mmap_munmap, b, 1, NULL, NULL},
        {"zh_alloc+zh_free(page)", run_page_helpers, b, 1, NULL, NULL},
        {"page vtable alloc+free", run_page_vtable, b, 1, NULL, NULL},
    };
    zhb_run_group(group, cases, sizeof cases / sizeof cases[0], NULL);
}

/* Writes one byte into every page of [from, to) of p. */
static void touch_range(unsigned char *p, size_t from, size_t to, size_t page, bool touch) {
    if (!touch) return;
    for (size_t off = from; off < to; off += page) p[off] = 1;
}

static size_t growth_steps(const page_bench *b) {
    size_t steps = 0;
    for (size_t len = GROWTH_START; len < b->growth_end; len *= 2) steps++;
    return steps;
}

static void run_glibc_realloc_growth(void *ctx, size_t iterations) {
    const page_bench *b = ctx;
    for (size_t it = 0; it < iterations; it++) {
        size_t len = GROWTH_START;
        unsigned char *p = malloc(len);
        if (!p) goto oom;
        touch_range(p, 0, len, b->page, b->touch);
        while (len < b->growth_end) {
            unsigned char *grown = realloc(p, len * 2);
            if (!grown) {
                free(p);
                goto oom;
            }
            p = grown;
            touch_range(p, len, len * 2, b->page, b->touch);
            len *= 2;
        }
        zhb_escape(p);
        free(p);
    }
    return;
oom:
    zhb_fail("glibc realloc growth: out of memory");
}

static void run_page_realloc_growth(void *ctx, size_t iterations) {
    const page_bench *b = ctx;
    const zh_allocator a = zh_page_allocator;
    for (size_t it = 0; it < iterations; it++) {
        size_t len = GROWTH_START;
        unsigned char *p = zh_alloc(a, len);
        if (!p) goto oom;
        touch_range(p, 0, len, b->page, b->touch);
        while (len < b->growth_end) {
            unsigned char *grown = zh_realloc(a, p, len, len * 2);
            if (!grown) {
                zh_free(a, p, len);
                goto oom;
            }
            p = grown;
            touch_range(p, len, len * 2, b->page, b->touch);
            len *= 2;
        }
        zhb_escape(p);
        zh_free(a, p, len);
    }
    return;
oom:
    zhb_fail("zh_realloc growth on zh_page_allocator: out of memory");
}

static void bench_growth(page_bench *b, bool touch, const char *suffix) {
    char group[64];
    snprintf(group, sizeof group, "grow 4K->%zuM%s%s", b->growth_end >> 20,
             touch ? " touched" : "", suffix);
    b->touch = touch;
    const size_t steps = growth_steps(b);
    const zhb_case_spec cases[] = {
        {"glibc realloc", run_glibc_realloc_growth, b, steps, NULL, NULL},
        {"zh_realloc(page)", run_page_realloc_growth, b, steps, NULL, NULL},
    };
    zhb_run_group(group, cases, sizeof cases / sizeof cases[0], NULL);
}

int main(int argc, char **argv) {
    zhb_init(argc, argv, "zheap-bench-page");
    zhb_note_environment();

    page_bench b = {0};
    b.page = zh_page_size();
    b.growth_end = zhb_quick() ? GROWTH_END_QUICK : GROWTH_END;

    bench_alloc_free(&b, b.page, false);
    bench_alloc_free(&b, (size_t)64 << 10, false);
    bench_alloc_free(&b, (size_t)1 << 20, false);
    bench_alloc_free(&b, b.page, true);
    bench_alloc_free(&b, (size_t)64 << 10, true);
    bench_growth(&b, false, "");
    bench_growth(&b, true, "");
#if defined(__GLIBC__)
    /* A fixed mmap threshold turns glibc's dynamic threshold off: large blocks are
     * then always mmap'd and grow with mremap, the same mechanism as the page
     * allocator. Last, because it changes malloc for the rest of the process. */
    if (mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1) {
        bench_growth(&b, false, " mmap-glibc");
        bench_growth(&b, true, " mmap-glibc");
        zhb_note("\"mmap-glibc\" groups: glibc with mallopt(M_MMAP_THRESHOLD, 128 KiB)");
    }
#endif

    zhb_note("page size %zu bytes; alloc+free: 1 op = 1 pair; growth: 1 op = 1 doubling",
             b.page);
    zhb_note("glibc realloc of large blocks: mmap'd chunks move with mremap, but after a "
             "free glibc raises its mmap threshold (up to 32 MiB) and serves smaller "
             "blocks from the heap, copying on growth");
    return zhb_finish();
}
