/* arena_internal.h - the arena's entry points with the caller named explicitly, for
 * the allocators built on an arena inside libzheap (pool.c).
 *
 * The public functions name their own return address to the child; an allocator
 * that calls them on its caller's behalf would name itself instead. These take the
 * address to pass down (`ret_addr`, as in the vtable), so that a debug allocator
 * under a pool reports the user's code. Not exported. */
#ifndef ZHEAP_SRC_ARENA_INTERNAL_H
#define ZHEAP_SRC_ARENA_INTERNAL_H

#include "zheap/arena.h"

/* The slow half of an allocation whose bump (zh__arena_bump) failed: grows the
 * newest buffer or adds one, then bumps. len > 0; `alignment` a power of two.
 * NULL on out-of-memory. */
void *zh__arena_alloc_grow(zh_arena *arena, size_t len, size_t alignment, uintptr_t ret_addr);

/* zh_arena_deinit and zh_arena_reset, naming `ret_addr` to the child. */
void zh__arena_deinit_for(zh_arena *arena, uintptr_t ret_addr);
bool zh__arena_reset_for(zh_arena *arena, zh_arena_reset_mode mode, size_t limit,
                         uintptr_t ret_addr);

#endif /* ZHEAP_SRC_ARENA_INTERNAL_H */
