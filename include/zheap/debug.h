/* debug.h - the debug allocator: leaks, double and invalid frees, mismatched frees,
 * overflows, writes after free and a memory limit, with stack traces (Zig's
 * std.heap.DebugAllocator, formerly GeneralPurposeAllocator).
 *
 *     zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
 *     cfg.stack_trace_frames = 8;
 *     zh_debug *dbg = zh_debug_create(&cfg);          // or zh_debug_create(NULL)
 *     zh_allocator a = zh_debug_allocator(dbg);
 *     char *p = zh_alloc(a, 100);
 *     zh_free(a, p, 100);
 *     if (zh_debug_destroy(dbg) == ZH_CHECK_LEAK) ...   // leaks were reported
 *
 * Small blocks (up to a quarter of page_size, or their alignment) live in
 * power-of-two buckets of page_size bytes carved from the backing allocator, with
 * their metadata at the end of the bucket; a slot is never reused while its bucket
 * lives, so a dangling pointer keeps pointing at a dead slot. A bucket whose slots
 * are all freed waits in a quarantine of bucket_quarantine buckets (filled, checked
 * for writes after free when it leaves), then its page is reused for a new bucket or
 * goes back to the backing allocator; with bucket_quarantine 0 it goes back at once,
 * as in Zig, and with never_unmap it stays until destroy. Larger blocks come
 * straight from the backing allocator and are tracked in a hash table.
 *
 * Every problem is reported through the report sink (default: stderr) in a format
 * modelled on AddressSanitizer's; docs/debug.md shows one and explains it.
 *
 * Thread safety: with thread_safe (the default) or a lock hook, every allocator call
 * may come from any thread. zh_debug_create, zh_debug_detect_leaks,
 * zh_debug_flush_retained_metadata and zh_debug_destroy must not run while another
 * thread uses the instance. The getters may be called at any time. */
#ifndef ZHEAP_DEBUG_H
#define ZHEAP_DEBUG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zheap/allocator.h"
#include "zheap/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Zig's std.heap.Check: the result of zh_debug_destroy. */
typedef enum zh_check { ZH_CHECK_OK, ZH_CHECK_LEAK } zh_check;

/* What a report is about (the `event` argument of the report sink). */
typedef enum zh_debug_event {
    ZH_DEBUG_LOG,            /* verbose_log: one line per operation */
    ZH_DEBUG_LEAK,           /* a live block at zh_debug_detect_leaks / destroy */
    ZH_DEBUG_DOUBLE_FREE,    /* free/resize/remap of a block already freed */
    ZH_DEBUG_INVALID_FREE,   /* a pointer this instance never returned */
    ZH_DEBUG_SIZE_MISMATCH,  /* len differs from the allocated length */
    ZH_DEBUG_ALIGN_MISMATCH, /* align differs from the allocated alignment */
    ZH_DEBUG_OVERFLOW,       /* bytes past the end of a block were written */
    ZH_DEBUG_USE_AFTER_FREE, /* a freed block was written */
    ZH_DEBUG_INVALID_CONFIG  /* zh_debug_create refused its configuration */
} zh_debug_event;

/* How traces are captured. */
typedef enum zh_debug_unwinder {
    ZH_DEBUG_UNWIND_DEFAULT,      /* the build's provider (libunwind, CaptureStackBackTrace) */
    ZH_DEBUG_UNWIND_FRAME_POINTER /* saved frame pointers: fastest; needs code built with
                                     -fno-omit-frame-pointer, else frames go missing */
} zh_debug_unwinder;

/* Receives one complete report (several lines, ending in '\n'; not NUL-terminated
 * beyond text[len]). Called outside the allocator's lock, at most once at a time per
 * thread; it may allocate, even from the instance that reports (those nested calls
 * are served without traces or reports). */
typedef void (*zh_debug_report_fn)(void *user, zh_debug_event event, const char *text,
                                   size_t len);

/* The counterpart of Zig's MutexType: when lock and unlock are both set they guard
 * the instance and `thread_safe` is ignored. They must not call into the instance. */
typedef struct zh_debug_lock_hook {
    /* public */
    void (*lock)(void *user);
    void (*unlock)(void *user);
    void *user;
} zh_debug_lock_hook;

/* Pass ZH_DEBUG_FRAMES_AUTO as stack_trace_frames for Zig's default: 6 frames when
 * libzheap is built with ZHEAP_SAFETY (Debug builds) and the platform can capture,
 * 0 otherwise. */
#define ZH_DEBUG_FRAMES_AUTO ((size_t)-1)
/* The most frames a trace can hold. */
#define ZH_DEBUG_FRAMES_MAX 64
/* Zig's default canary (the low bits on 32-bit targets). */
#define ZH_DEBUG_CANARY_DEFAULT ((uintptr_t)0x9232a6ff85dff10fULL)
/* Bucket size default: 128 KiB (Zig's on 64-bit targets with 4 KiB pages). */
#define ZH_DEBUG_PAGE_SIZE_DEFAULT ((size_t)128 * 1024)
/* Retired buckets quarantined by default (4 MiB with the default page_size). */
#define ZH_DEBUG_QUARANTINE_DEFAULT 32
/* Canary bytes kept after every large block (beyond Zig). */
#define ZH_DEBUG_LARGE_TAIL 32

typedef struct zh_debug_config {
    /* public */
    /* Frames per trace (allocation, free, resize); at most ZH_DEBUG_FRAMES_MAX. */
    size_t stack_trace_frames;
    /* Enforce zh_debug_set_memory_limit (the total is always counted). */
    bool enable_memory_limit;
    /* Check frees, resizes and remaps (double, invalid, mismatched, overflowed).
     * Default true: unlike Zig, not tied to the build mode. */
    bool safety;
    /* Guard the instance with a lock. Ignored when lock_hook is set. */
    bool thread_safe;
    zh_debug_lock_hook lock_hook;
    /* Keep every bucket and large block mapped after it is freed (so a dangling
     * access reads the free fill instead of faulting); they are released at destroy. */
    bool never_unmap;
    /* Beyond Zig: how many retired buckets (every slot freed) stay mapped, filled and
     * unreused before they are checked for writes after free and their page is
     * reused for a new bucket or returned. Reusing resident pages avoids a system
     * call and the page faults of fresh memory on every bucket (most of the time Zig's
     * design spends); 0 is Zig's behaviour: straight back to the backing allocator. */
    size_t bucket_quarantine;
    /* Remember freed large blocks, so that their double frees are reported with
     * traces; zh_debug_flush_retained_metadata forgets them. */
    bool retain_metadata;
    /* Report every operation (ZH_DEBUG_LOG). */
    bool verbose_log;
    /* The backing allocator returns zeroed memory (saves clearing new buckets). */
    bool backing_allocator_zeroes;
    /* A successful resize or remap replaces the block's allocation trace. */
    bool resize_stack_traces;
    /* Marks this instance's buckets (non-zero); frees of foreign pointers show up as
     * a canary mismatch. */
    uintptr_t canary;
    /* Bytes per bucket from the backing allocator: a power of two, 1 KiB..1 GiB,
     * large enough for two slots of the largest small class with their traces. */
    size_t page_size;
    /* Where buckets, large blocks and the instance itself come from (never from the
     * debug allocator). It must honour alignments up to page_size. */
    zh_allocator backing;
    /* The report sink; NULL writes each report to stderr (no stdio, no C heap). */
    zh_debug_report_fn report;
    void *report_user;
    /* The capture method (beyond Zig). */
    zh_debug_unwinder unwinder;
    /* Beyond Zig: fill the slack after each block with a canary pattern and check it
     * on free, resize and leak check; fill freed blocks and check the fill when the
     * bucket retires, at zh_debug_detect_leaks and at destroy. */
    bool check_overflow;
    bool check_use_after_free;
    /* Beyond Zig: in a build with a memory checker (AddressSanitizer, or libzheap
     * configured with ZHEAP_VALGRIND=ON and run under memcheck), describe the blocks
     * to it: a use after free or a write into the slack is reported by the checker
     * at the access, a leaked block by memcheck's leak check. No effect (and no
     * cost) in other builds. Set it false for a program that plants such bugs on
     * purpose for the checks above to find (the checker would stop it first). */
    bool checker_hooks;
} zh_debug_config;

/* The defaults (an initialiser): Zig's Config defaults over zh_page_allocator.
 * Positional, in field order, so that it is also valid C++11. */
#define ZH_DEBUG_CONFIG_DEFAULT                                                        \
    {                                                                                  \
        ZH_DEBUG_FRAMES_AUTO,        /* stack_trace_frames */                          \
            false,                   /* enable_memory_limit */                         \
            true,                    /* safety */                                      \
            true,                    /* thread_safe */                                 \
            {NULL, NULL, NULL},      /* lock_hook */                                   \
            false,                   /* never_unmap */                                 \
            ZH_DEBUG_QUARANTINE_DEFAULT, /* bucket_quarantine */                       \
            false,                   /* retain_metadata */                             \
            false,                   /* verbose_log */                                 \
            true,                    /* backing_allocator_zeroes */                    \
            false,                   /* resize_stack_traces */                         \
            ZH_DEBUG_CANARY_DEFAULT, /* canary */                                      \
            ZH_DEBUG_PAGE_SIZE_DEFAULT, /* page_size */                                \
            {NULL, NULL},            /* backing: zh_page_allocator */                  \
            NULL, NULL,              /* report (stderr), report_user */                \
            ZH_DEBUG_UNWIND_DEFAULT, /* unwinder */                                    \
            true, true,              /* check_overflow, check_use_after_free */        \
            true                     /* checker_hooks */                               \
    }
/* A backing allocator left as {NULL, NULL} means zh_page_allocator. */

typedef struct zh_debug zh_debug;

/* A new debug allocator (NULL config: ZH_DEBUG_CONFIG_DEFAULT). Its state comes from
 * the backing allocator. Returns NULL when the configuration is invalid (one
 * ZH_DEBUG_INVALID_CONFIG report says why) or the backing allocator is out of
 * memory. Warms up stack capture, so call it outside any lock. */
ZH_EXTERN zh_debug *zh_debug_create(const zh_debug_config *config);

/* The allocator interface of `d` (valid until zh_debug_destroy). Any alignment up to
 * page_size / 4 is served from buckets, larger ones by the backing allocator. */
ZH_EXTERN zh_allocator zh_debug_allocator(zh_debug *d);

/* The length and alignment (bytes) `p` was allocated with, for a free without a
 * size (the preload library's free()). True only when p is the start of a live block
 * of d; false for a freed block, a pointer inside a block, or one of another
 * allocator. It reads d's large-block table, then the would-be bucket headers in
 * p's page_size-aligned page, which must be readable: always true for the start of
 * a live large block and for any address in a live bucket, true inside a large block
 * only if the backing allocator aligns large blocks to page_size (src/preload's
 * does; callers that cannot tell check ownership first). *len and *alignment (either
 * may be NULL) are set only on success. Thread-safe like the allocator; takes the
 * instance lock once. */
ZH_EXTERN bool zh_debug_block_info(zh_debug *d, const void *p, size_t *len,
                                   size_t *alignment);

/* Reports every live block (ZH_DEBUG_LEAK with its address, size and allocation
 * trace) and every damaged freed block or canary; returns the number of leaks. */
ZH_EXTERN size_t zh_debug_detect_leaks(zh_debug *d);

/* Forgets freed large blocks kept by retain_metadata (releasing them if never_unmap). */
ZH_EXTERN void zh_debug_flush_retained_metadata(zh_debug *d);

/* Detects leaks (with safety), checks freed memory, releases everything the instance
 * holds except leaked blocks (which stay valid) and frees `d`. ZH_CHECK_LEAK when
 * leaks were found. */
ZH_EXTERN zh_check zh_debug_destroy(zh_debug *d);

/* Requested bytes of the live blocks (Zig's total_requested_bytes; exact: refused
 * and failed requests leave it unchanged, in-place resizes update it). */
ZH_EXTERN size_t zh_debug_total_requested_bytes(const zh_debug *d);
/* With enable_memory_limit, an allocation or growth that would take the total past
 * `limit` returns NULL (false). Default SIZE_MAX. */
ZH_EXTERN void zh_debug_set_memory_limit(zh_debug *d, size_t limit);
ZH_EXTERN size_t zh_debug_memory_limit(const zh_debug *d);

typedef struct zh_debug_stats {
    /* public */
    size_t live_bytes;        /* requested bytes of live blocks */
    size_t live_count;        /* live blocks */
    size_t peak_bytes;        /* the highest live_bytes seen */
    size_t total_allocations; /* successful allocations, ever */
    size_t total_frees;       /* frees, ever (not counting refused ones) */
    size_t buckets;           /* live buckets */
    size_t large_count;       /* live large blocks */
    size_t backing_bytes;     /* bytes held from the backing allocator (blocks + buckets) */
    size_t reports;           /* problems reported (not counting log lines) */
} zh_debug_stats;

/* A consistent snapshot of the counters (taken under the lock). */
ZH_EXTERN void zh_debug_get_stats(zh_debug *d, zh_debug_stats *out);

/* The stack-capture provider of this build: "libunwind", "frame-pointer", "windows"
 * or "none". */
ZH_EXTERN const char *zh_debug_backtrace_provider(void);

#ifdef __cplusplus
}
#endif

#endif /* ZHEAP_DEBUG_H */
