/* c.h - allocators over the C library's malloc and free (Zig's std.heap.c_allocator
 * and std.heap.raw_c_allocator).
 *
 * Use them to share the C heap with code that calls malloc directly, or where the
 * C library's malloc (glibc, jemalloc, mimalloc via LD_PRELOAD, ...) is the
 * allocator you want. See docs/c.md. */
#ifndef ZHEAP_C_H
#define ZHEAP_C_H

#include "zheap/allocator.h"
#include "zheap/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* malloc/free with any alignment.
 *   Ownership: a block belongs to the caller until freed through this allocator
 *     with the same length and alignment. Blocks are NOT interchangeable with
 *     plain malloc/free: an over-aligned block does not start where malloc's does.
 *   Thread safety: as thread-safe as malloc (fully, on every hosted C library).
 *   Failure: alloc returns NULL when malloc does (or the size with alignment
 *     overhead overflows); resize returns false and remap NULL when the block cannot
 *     change length without a copy by the caller, leaving it unchanged.
 *   Alignment: any power of two up to 1 << ZH_ALIGN_LOG2_MAX. Up to
 *     ZH_MALLOC_ALIGNMENT it is plain malloc; above it, malloc of len + alignment +
 *     a pointer, the original pointer stored just before the aligned block.
 *   Resize: shrinking always succeeds (the C heap keeps the whole block); growing
 *     succeeds while the new length fits malloc_usable_size (where the C library
 *     reports it). Remap: resize in place, else realloc for blocks of at most malloc
 *     alignment; over-aligned blocks are never moved by realloc. */
ZH_EXTERN extern const zh_allocator zh_c_allocator;

/* Plain malloc/realloc/free, nothing added: a block is exactly what malloc
 * returned, so it may be given to free() by other code and vice versa.
 *   Ownership: as zh_c_allocator.
 *   Thread safety: as malloc.
 *   Failure: alloc returns NULL when malloc does; remap returns NULL when realloc
 *     does (the block is then unchanged); resize never grows (false), shrinks always
 *     (true, the block keeps its size in the C heap).
 *   Alignment: at most ZH_MALLOC_ALIGNMENT (_Alignof(max_align_t)); a larger one
 *     is a contract violation and aborts with a message naming zh_raw_c_allocator.
 *     Use zh_c_allocator for over-aligned blocks. */
ZH_EXTERN extern const zh_allocator zh_raw_c_allocator;

#ifdef __cplusplus
}
#endif

#endif /* ZHEAP_C_H */
