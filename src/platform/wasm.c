/* wasm.c - the wasm32 platform backend: linear memory grown with memory.grow.
 *
 * What it is for: zh__os_* on wasm32-wasi, where there is no mmap and memory only
 * grows. Design: map/unmap are runs of 64 KiB pages from the WasmAllocator's
 * big-page engine (src/wasm.c), so the page allocator and zh_wasm_allocator share
 * one pool of pages, as in Zig where the page allocator on wasm is the
 * WasmAllocator. Unmapped pages are reused, never returned to the engine; any
 * page-aligned sub-range may be unmapped (it is cut into power-of-two runs), and a
 * mapping at the end of linear memory grows in place.
 * Costs: a map of n pages takes a run of the next power of two and gives the tail
 * back at once; reused pages are zeroed with memset (fresh ones already are zero).
 * Single-threaded: no threads in wasm32-wasi builds, so locks are no-ops. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "platform/platform.h"
#include "wasm_pages.h"

#define PAGE ZH__WASM_PAGE_SIZE

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

static size_t pages_of(size_t len) { return len / PAGE + (len % PAGE != 0); }

void *zh__os_map(size_t len, size_t alignment, void *hint) {
    (void)hint; /* there is one linear memory; placement is not ours to choose */
    if (len == 0) return NULL;
    size_t pages = pages_of(len);
    bool zeroed;
    void *p = zh__wasm_pages_alloc(pages, alignment, &zeroed);
    if (p != NULL && !zeroed) memset(p, 0, pages * PAGE);
    return p;
}

void zh__os_unmap(void *p, size_t len) {
    if (zh__config_safety && (uintptr_t)p % PAGE != 0)
        zh__panic("zh_page_allocator", "unmap of %p: not page-aligned", p);
    zh__wasm_pages_free(p, pages_of(len));
}

bool zh__os_shrink(void *p, size_t old_len, size_t new_len) {
    size_t old_pages = pages_of(old_len), new_pages = pages_of(new_len);
    if (new_pages > old_pages) return false;
    zh__wasm_pages_free((char *)p + new_pages * PAGE, old_pages - new_pages);
    return true;
}

bool zh__os_grow(void *p, size_t old_len, size_t new_len) {
    size_t old_pages = pages_of(old_len), new_pages = pages_of(new_len);
    if (new_pages < old_pages) return false;
    return zh__wasm_pages_grow(p, old_pages, new_pages - old_pages);
}

void *zh__os_remap(void *p, size_t old_len, size_t new_len) {
    (void)p, (void)old_len, (void)new_len;
    return NULL;
}

/* Purging is not offered by this backend (platform.h: ZH__OS_CAN_PURGE). */
bool zh__os_purge(void *p, size_t len) {
    (void)p, (void)len;
    return false;
}

/* No clock offered by this backend (platform.h: zh__os_monotonic_ms declines). */
uint64_t zh__os_monotonic_ms(void) { return 0; }

/* No threads: nothing to lock. */
void zh__mutex_init(zh_mutex *m) { (void)m; }
void zh__mutex_lock(zh_mutex *m) { (void)m; }
void zh__mutex_unlock(zh_mutex *m) { (void)m; }
void zh__mutex_destroy(zh_mutex *m) { (void)m; }

void zh__os_yield(void) {}

size_t zh__os_malloc_usable_size(void *p) { return p != NULL ? malloc_usable_size(p) : 0; }
