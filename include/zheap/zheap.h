/* zheap.h - the whole public API of libzheap in one include.
 *
 * libzheap gives C programs Zig's std.heap allocators behind one interface,
 * zh_allocator (allocator.h). Pick an allocator per part of the program and hand it
 * to code that only knows zh_allocator. Each header below documents one allocator:
 * ownership, thread safety, failure results and alignment rules. */
#ifndef ZHEAP_ZHEAP_H
#define ZHEAP_ZHEAP_H

#include "zheap/config.h"
#include "zheap/version.h"
#include "zheap/allocator.h"

#include "zheap/page.h"
#include "zheap/c.h"
#include "zheap/fba.h"
#include "zheap/arena.h"
#include "zheap/pool.h"
#include "zheap/stack_fallback.h"
#include "zheap/debug.h"
#include "zheap/thread_safe.h"
#include "zheap/sbrk.h"
#include "zheap/smp.h"
#include "zheap/testing.h"
#if ZH_HAVE_WASM_ALLOCATOR
#include "zheap/wasm.h"
#endif

#endif /* ZHEAP_ZHEAP_H */
