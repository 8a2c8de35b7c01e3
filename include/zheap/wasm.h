/* wasm.h - WasmAllocator: Zig's std.heap.WasmAllocator over wasm32 memory.grow.
 *
 * Available only in wasm32 builds (ZH_HAVE_WASM_ALLOCATOR is 1 in <zheap/config.h>,
 * configured with cmake/wasm32-wasi.cmake). On other targets this header declares
 * nothing.
 *
 * Design: power-of-two size classes from 8 bytes to 32 KiB, each carved from 64 KiB
 * "big pages" and recycled through a per-class free list; requests of 32 KiB and
 * more take a power-of-two run of big pages from the wasm platform backend, which
 * keeps the free runs of each size (and grows memory with memory.grow, 64 KiB
 * pages). Memory is never returned to the engine (WebAssembly cannot shrink a
 * memory), only reused. As in Zig, a block of `len` bytes occupies the next power
 * of two of max(len + sizeof(size_t), alignment).
 *
 * Ownership: blocks belong to the caller until freed with the same length and
 * alignment they were allocated (or last resized) with.
 * Thread safety: none. wasm32-wasi has no threads in this build; the allocator is
 * a process-wide singleton with unsynchronised global state.
 * Failure: alloc returns NULL when memory.grow refuses (the engine's or the
 * module's maximum memory is reached) or the request cannot be represented; the
 * allocator's state is unchanged and later requests may still succeed.
 * Alignment: any power of two up to 2^ZH_ALIGN_LOG2_MAX bytes.
 * resize succeeds exactly when the new length keeps the block in its size class
 * (or, for big blocks, in its run of big pages); remap never moves a block.
 * With ZHEAP_SAFETY, a free whose length names another size class than the
 * block's aborts (naming zh_wasm_allocator).
 *
 * The page allocator (zh_page_allocator) shares the pages on wasm32: freed big
 * runs go back to the backend, like Zig, where the page allocator IS the
 * WasmAllocator on wasm. */
#ifndef ZHEAP_WASM_H
#define ZHEAP_WASM_H

#include "zheap/allocator.h"
#include "zheap/config.h"
#include "zheap/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#if ZH_HAVE_WASM_ALLOCATOR
/* The process-wide WasmAllocator. Pass it by value; its ctx is unused. */
ZH_EXTERN extern const zh_allocator zh_wasm_allocator;
#endif

#ifdef __cplusplus
}
#endif

#endif /* ZHEAP_WASM_H */
