/* wasm_pages.h - the big-page engine of src/wasm.c, shared with the wasm platform
 * backend (src/platform/wasm.c), which builds zh__os_map/unmap on it so that the
 * page allocator and the WasmAllocator draw from the same free lists. Internal;
 * wasm32 builds only; single-threaded. */
#ifndef ZHEAP_SRC_WASM_PAGES_H
#define ZHEAP_SRC_WASM_PAGES_H

#include <stdbool.h>
#include <stddef.h>

/* A WebAssembly page; every big page and every run of them is aligned to it. */
#define ZH__WASM_PAGE_SIZE ((size_t)65536)

/* A run of exactly `pages` pages (> 0) aligned to `alignment` (a power of two of at
 * least ZH__WASM_PAGE_SIZE), or NULL when memory.grow refuses. *zeroed tells
 * whether the run is known to be zero-filled (fresh from memory.grow). */
void *zh__wasm_pages_alloc(size_t pages, size_t alignment, bool *zeroed);

/* Gives back `pages` pages starting at `p` (page-aligned): any run or part of a run
 * from zh__wasm_pages_alloc. The pages are reused by later requests. */
void zh__wasm_pages_free(void *p, size_t pages);

/* Extends the run [p, p + pages) in place by `more` pages when it ends at the end
 * of linear memory, with fresh zero-filled memory; false, nothing changed, if not. */
bool zh__wasm_pages_grow(void *p, size_t pages, size_t more);

#endif /* ZHEAP_SRC_WASM_PAGES_H */
