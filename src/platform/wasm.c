/* wasm.c - the wasm32 platform backend: linear memory grown with memory.grow.
 *
 * What it is for: zh__os_* on wasm32-wasi, where there is no mmap and memory only
 * grows. Design: the backend owns the pages. Mappings are runs of 64 KiB pages kept
 * by a page-run engine (src/core/size_classes.h) over memory.grow, seen as a break
 * in bytes: a map of n pages takes a free run of the next power of two (or splits a
 * larger one, or grows memory) and gives the tail back at once; any page-aligned
 * sub-range may be unmapped (it is cut into power-of-two runs), and a mapping at the
 * end of linear memory grows in place. Everything above reaches these pages only
 * through zh__os_map/unmap: zh_page_allocator and zh_wasm_allocator share them.
 * Unmapped pages are reused, never returned to the engine.
 * Costs: reused pages are zeroed with memset (fresh ones already are zero). Runs are
 * never merged. Single-threaded: no threads in wasm32-wasi builds, so locks are
 * no-ops. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "core/size_classes.h"
#include "platform/platform.h"

#define PAGE ((size_t)65536)
#define BRK_FAILED ((void *)-1)

_Static_assert(PAGE == ZH__SC_BIGPAGE, "a wasm page is the engine's bigpage");

static const zh__os_info wasm_info = {
    PAGE,
    PAGE,
    ZH__OS_CAN_UNMAP_PARTIAL | ZH__OS_CAN_SHRINK | ZH__OS_CAN_GROW,
    "wasm",
};

const zh__os_info *zh__os_info_get(void) { return &wasm_info; }

/* wasi-libc's malloc (dlmalloc) up to 2022, as packaged by Debian 12, claims all of
 * linear memory up to its size at the time of its first call as its heap: memory we
 * had grown by then would be handed out twice. So the C heap is set up before our
 * first growth (once; single-threaded, and dlmalloc never calls back into us). */
static void claim_c_heap_first(void) {
    static bool done;
    if (done) return;
    done = true;
    free(malloc(1));
}

size_t zh__os_memory_grow(size_t pages) {
    claim_c_heap_first(); /* also for size queries: they precede a growth */
    size_t old = __builtin_wasm_memory_grow(0, pages);
    /* memory.grow answers -1 (as size_t: SIZE_MAX) when the engine refuses. */
    return old == (size_t)-1 ? SIZE_MAX : old;
}

/* memory.grow as a break in bytes (whole pages only), for the run engine. */
static void *memory_brk(void *ctx, intptr_t increment) {
    (void)ctx;
    if (increment < 0 || (size_t)increment % PAGE != 0) return BRK_FAILED;
    size_t old = zh__os_memory_grow((size_t)increment / PAGE);
    return old == SIZE_MAX ? BRK_FAILED : (void *)(old * PAGE);
}

static zh__sc_heap *runs(void) {
    static zh__sc_heap heap;
    static bool ready;
    if (!ready) {
        zh__sc_init(&heap, (zh__sc_source){.brk = memory_brk}, "zh__os_map");
        ready = true;
    }
    return &heap;
}

static size_t pages_of(size_t len) { return len / PAGE + (len % PAGE != 0); }

void *zh__os_map(size_t len, size_t alignment, void *hint) {
    (void)hint; /* there is one linear memory; placement is not ours to choose */
    size_t pages = pages_of(len);
    unsigned k = zh__sc_ceil_log2(pages);
    if (len == 0 || k >= ZH__SC_BIG_CLASSES) return NULL;
    uintptr_t end_before = zh__os_memory_grow(0) * PAGE;
    char *run = zh__sc_run_alloc(runs(), k, alignment < PAGE ? PAGE : alignment);
    if (run == NULL) return NULL;
    size_t tail = ((size_t)1 << k) - pages;
    if (tail > 0) zh__sc_run_free_range(runs(), run + pages * PAGE, tail * PAGE);
    /* Pages beyond the old end of memory are fresh from memory.grow, hence zero. */
    if ((uintptr_t)run < end_before) memset(run, 0, pages * PAGE);
    return run;
}

void zh__os_unmap(void *p, size_t len) {
    if (zh__config_safety && (uintptr_t)p % PAGE != 0)
        zh__panic("zh_page_allocator", "unmap of %p: not page-aligned", p);
    zh__sc_run_free_range(runs(), p, pages_of(len) * PAGE);
}

bool zh__os_shrink(void *p, size_t old_len, size_t new_len) {
    size_t old_pages = pages_of(old_len), new_pages = pages_of(new_len);
    if (new_pages > old_pages) return false;
    zh__sc_run_free_range(runs(), (char *)p + new_pages * PAGE, (old_pages - new_pages) * PAGE);
    return true;
}

/* In place only at the end of linear memory. Should memory.grow land elsewhere (it
 * cannot, single-threaded), the pages it gave go to the free runs. */
bool zh__os_grow(void *p, size_t old_len, size_t new_len) {
    size_t old_pages = pages_of(old_len), new_pages = pages_of(new_len);
    if (new_pages < old_pages) return false;
    size_t more = new_pages - old_pages, end = (uintptr_t)p / PAGE + old_pages;
    if (more == 0) return true;
    if (zh__os_memory_grow(0) != end) return false;
    size_t old = zh__os_memory_grow(more);
    if (old == end) return true;
    if (old != SIZE_MAX) zh__sc_run_free_range(runs(), (void *)(old * PAGE), more * PAGE);
    return false;
}

void *zh__os_remap(void *p, size_t old_len, size_t new_len) {
    (void)p, (void)old_len, (void)new_len;
    return NULL;
}

/* No threads: nothing to lock. */
void zh__mutex_init(zh_mutex *m) { (void)m; }
void zh__mutex_lock(zh_mutex *m) { (void)m; }
void zh__mutex_unlock(zh_mutex *m) { (void)m; }
void zh__mutex_destroy(zh_mutex *m) { (void)m; }

void zh__os_yield(void) {}

size_t zh__os_malloc_usable_size(void *p) { return p != NULL ? malloc_usable_size(p) : 0; }
