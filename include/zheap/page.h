/* page.h - the page allocator: one operating-system mapping per allocation
 * (Zig's std.heap.PageAllocator / std.heap.page_allocator).
 *
 * Every allocation is its own mapping of whole pages (mmap, VirtualAlloc, ...),
 * zero-filled by the OS. Use it for large, long-lived blocks or as the backing
 * allocator of an arena or pool; for many small blocks it wastes a page each and
 * costs a system call per alloc and free. See docs/page.md. */
#ifndef ZHEAP_PAGE_H
#define ZHEAP_PAGE_H

#include <stddef.h>

#include "zheap/allocator.h"
#include "zheap/config.h" /* ZH_PAGE_SIZE_MIN, ZH_PAGE_SIZE_MAX */
#include "zheap/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The page allocator singleton; its context is unused.
 *   Ownership: a block belongs to the caller until freed with the same allocator,
 *     length and alignment (after a successful resize/remap: the new length).
 *   Thread safety: every function may be called from any thread at any time;
 *     it takes no lock (the address hint is an atomic).
 *   Failure: alloc and remap return NULL, resize returns false; the block, if
 *     any, is unchanged. Lengths that cannot be rounded up to pages fail.
 *   Alignment: any power of two up to 1 << ZH_ALIGN_LOG2_MAX. Up to the OS's
 *     allocation granularity (the page size; 64 KiB on Windows) it is free;
 *     beyond, the mapping is over-reserved and trimmed, which costs address space
 *     and, without partial unmapping (Windows), retries.
 *   Resize shrinks by returning whole tail pages to the OS, grows in place when
 *     the following pages are free; remap may move a block without copying
 *     (Linux mremap) when its alignment is at most a page. */
ZH_EXTERN extern const zh_allocator zh_page_allocator;

/* The OS page size in bytes (constant for the life of the process), always within
 * [ZH_PAGE_SIZE_MIN, ZH_PAGE_SIZE_MAX]. Thread-safe; the first call queries the
 * OS, later calls read a cached value. */
ZH_EXTERN size_t zh_page_size(void);

/* Sets the address where the page allocator asks the OS to place its next mapping
 * (NULL: let the OS choose). After each new mapping the hint advances past it, so
 * freshly freed addresses are not handed out again at once (which turns
 * use-after-free into a fault rather than silent reuse). A hint that is not on
 * a page boundary is rounded up to the next one. The OS may ignore the hint; if
 * it refuses a mapping at the hint, the page allocator maps anywhere instead (and
 * the hint moves past that mapping), so a hint never makes allocations fail.
 * Thread-safe (an atomic store); affects all threads. */
ZH_EXTERN void zh_set_mmap_addr_hint(void *hint);

#ifdef __cplusplus
}
#endif

#endif /* ZHEAP_PAGE_H */
