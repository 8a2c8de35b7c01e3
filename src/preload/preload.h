/* preload.h - internal interface between the two halves of libzheap-malloc.so:
 * malloc.c (the C allocation surface) and config.c (environment, bootstrap arena,
 * initialisation, reports, exit). Linux/glibc only; see docs/preload.md. */
#ifndef ZHEAP_PRELOAD_H
#define ZHEAP_PRELOAD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zheap/debug.h"

/* Thread-locals of a preloaded library live in the static TLS block: no
 * __tls_get_addr, so no allocation on a thread's first access. */
#define ZHP_TLS __thread __attribute__((tls_model("initial-exec")))

/* malloc's alignment: 16 bytes (max_align_t), as log2. */
#define ZHP_ALIGN ((zh_align)4)

typedef enum zhp_mode {
    ZHP_UNSET,   /* nothing ran yet */
    ZHP_INIT,    /* one thread is initialising; the others use the bootstrap arena */
    ZHP_SMP,     /* zh_smp_allocator */
    ZHP_DEBUG,   /* a zh_debug instance over the SMP allocator's pages */
    ZHP_LIBC     /* the next malloc in the lookup order (glibc's) */
} zhp_mode;

/* The C library's functions, found with dlsym(RTLD_NEXT) (ZHEAP_ALLOCATOR=c). */
typedef struct zhp_libc {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void *(*memalign)(size_t, size_t);
    size_t (*usable_size)(void *);
} zhp_libc;

/* The one malloc-wide state, written by zhp__init once. */
typedef struct zhp_state {
    zhp_mode mode;
    zh_debug *debug;
    zhp_libc libc;
    bool abort_on_error;
} zhp_state;

extern zhp_state zhp__state;
/* > 0 while this thread is inside the library (initialisation, the debug allocator,
 * its unwinder and symbolizer): nested calls take the raw path. */
extern ZHP_TLS unsigned zhp__depth;

/* The exit leak check (config.c): while it scans the debug instance, malloc.c
 * serves debug-mode allocations from the SMP allocator and keeps debug blocks
 * freed meanwhile, so that no thread changes the instance or waits for the scan. */
enum { ZHP_GATE_OPEN, ZHP_GATE_SCANNING, ZHP_GATE_DONE };
extern _Atomic int zhp__exit_gate;
static inline bool zhp__exit_scanning(void) {
    return atomic_load_explicit(&zhp__exit_gate, memory_order_relaxed) == ZHP_GATE_SCANNING;
}

/* The mode once initialised; initialises on first use. */
zhp_mode zhp__mode(void);

/* The published mode (config.c; ZHP_UNSET or ZHP_INIT until initialisation ends). */
extern _Atomic int zhp__mode_word;
/* Whether the SMP mode is set up: the fast paths of malloc and free, one load. */
static inline bool zhp__smp_mode(void) {
    return atomic_load_explicit(&zhp__mode_word, memory_order_acquire) == ZHP_SMP;
}

/* The bootstrap arena: static memory for calls before initialisation ends and for
 * nested calls that have no other path. Never freed; 16-byte aligned blocks. */
void *zhp__bootstrap_alloc(size_t len, size_t alignment);
bool zhp__in_bootstrap(const void *p);
size_t zhp__bootstrap_size(const void *p);

/* Debug mode: whether p lies in memory the debug instance's backing handed out
 * (then zh_debug_block_info and its free may read p's page). */
bool zhp__debug_backing_owns(const void *p);

/* Reports a free/realloc of a pointer no allocator here returned, with a trace, and
 * aborts in SMP mode or with ZHEAP_ABORT_ON_ERROR. */
void zhp__foreign_pointer(const char *call, const void *p, uintptr_t ret_addr);

/* malloc itself (malloc.c); its address tells whether we are the process's malloc. */
void *zhp__malloc_entry(size_t len);

#endif /* ZHEAP_PRELOAD_H */
