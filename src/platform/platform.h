/* platform.h - the operating-system contract of libzheap.
 *
 * Every allocator reaches the OS through these functions and nothing else; this is
 * the only directory that names an OS. The contract has three sections:
 *
 *   memory       page size, map with alignment and hint, unmap, shrink, grow, remap,
 *                and the C library's usable-size query
 *   threads      mutexes (zh_mutex, and the word-sized zh__lock), try-lock, once,
 *                thread-local keys with a thread-exit destructor, fork hooks, CPU
 *                count, cache-line size, a thread id
 *   diagnostics  write to stderr without the C heap, abort, stack capture and
 *                symbolization
 *
 * One memory backend implements the memory and thread sections, chosen at configure
 * time with ZHEAP_PLATFORM (cmake/ZheapPlatform.cmake):
 *
 *   mmap.c + posix.c   POSIX mmap/munmap (+ mremap on Linux), pthreads
 *   sbrk.c + posix.c   a process-wide size-class heap over sbrk(2); memory never returns
 *   virtualalloc.c     Windows VirtualAlloc/VirtualFree, 64 KiB allocation granularity
 *   wasm.c             wasm32 memory.grow with 64 KiB pages, single-threaded
 *
 * Stack capture and symbolization come from a separate provider, chosen with
 * ZHEAP_BACKTRACE (stacktrace_*.c); it says what it can do in zh__os_stack_caps().
 *
 * What a backend cannot do it says in zh__os_info_get()->caps, and callers adapt
 * (for example the page allocator only shrinks in place when ZH__OS_CAN_SHRINK is
 * set; a thread-caching allocator without ZH__OS_HAS_THREAD_EXIT cannot reclaim a
 * dead thread's cache). A declined function still exists and has a documented,
 * harmless result.
 *
 * Rules for callers and backends:
 * - Lengths and addresses given to map/unmap/shrink/grow/remap are multiples of
 *   zh__os_info_get()->page_size (the caller rounds up).
 * - Nothing here calls up into an allocator; backends may use src/core/.
 * - No function here allocates from the C heap or takes a lock that the C heap
 *   takes, so all are safe to call while holding a zheap lock, except where a
 *   function says otherwise (thread-local key creation, fork-hook registration,
 *   symbolization; and the wasm backend's first map, which lets wasi-libc's malloc
 *   claim its initial heap once).
 * - All are thread-safe unless the backend lacks ZH__OS_HAS_THREADS (then the
 *   whole library is single-threaded and the lock functions are no-ops). */
#ifndef ZHEAP_PLATFORM_H
#define ZHEAP_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zheap/mutex.h"

/* ---- capabilities ------------------------------------------------------------- */

/* zh__os_unmap accepts any page-aligned sub-range of a mapping (POSIX munmap).
 * Without it (VirtualFree MEM_RELEASE) only whole mappings are unmapped. */
#define ZH__OS_CAN_UNMAP_PARTIAL (1u << 0)
/* zh__os_shrink succeeds: the mapping is [p, p + new_len) afterwards and a later
 * unmap with the new length releases all of it. POSIX unmaps the tail, Windows
 * decommits it (the address range stays reserved), the sbrk backend keeps the
 * block whole until it is unmapped (its size class remembers the length). */
#define ZH__OS_CAN_SHRINK (1u << 1)
/* zh__os_grow can extend a mapping in place when the following pages are free. */
#define ZH__OS_CAN_GROW (1u << 2)
/* zh__os_remap can move a mapping without copying (Linux mremap). */
#define ZH__OS_CAN_REMAP (1u << 3)
/* zh__os_unmap returns memory to the OS. Without it (sbrk, memory.grow) unmapped
 * memory is only reused by later maps in this process. */
#define ZH__OS_CAN_RETURN_MEMORY (1u << 4)
/* zh__os_map honours the address hint. */
#define ZH__OS_HAS_ADDR_HINT (1u << 5)
/* The platform has threads; without it the lock functions are no-ops. */
#define ZH__OS_HAS_THREADS (1u << 6)
/* Thread-local keys run their destructor when a thread exits (pthread keys, fiber-
 * local storage). Without it the destructor is never called. */
#define ZH__OS_HAS_THREAD_EXIT (1u << 7)
/* The process can fork and zh__os_atfork registers handlers that run around it.
 * Without it zh__os_atfork returns false. */
#define ZH__OS_HAS_FORK (1u << 8)
/* zh__os_purge gives the physical pages of a range back to the OS while keeping the
 * addresses mapped (POSIX madvise MADV_DONTNEED). Without it zh__os_purge returns
 * false and the memory stays resident until unmapped. */
#define ZH__OS_CAN_PURGE (1u << 9)

typedef struct zh__os_info {
    /* The unit of mapping: 4 KiB on most systems, 64 KiB for wasm32. */
    size_t page_size;
    /* Every address zh__os_map returns is aligned to this without asking (the page
     * size on POSIX, 64 KiB on Windows). Asking for more costs over-reservation. */
    size_t granularity;
    /* ZH__OS_* flags above. */
    unsigned caps;
    /* Backend name for diagnostics: "mmap", "virtualalloc", "sbrk" or "wasm". */
    const char *name;
} zh__os_info;

/* The backend's description; computed once, cheap to call. */
const zh__os_info *zh__os_info_get(void);

/* ---- memory ------------------------------------------------------------------------ */

/* Maps `len` bytes of zero-filled, readable and writable memory whose address is a
 * multiple of `alignment` (a power of two; any value, also above the granularity).
 * `hint` is where the caller would like it (NULL: anywhere); it may be ignored.
 * Returns NULL when the OS refuses. */
void *zh__os_map(size_t len, size_t alignment, void *hint);

/* Unmaps [p, p + len). Without ZH__OS_CAN_UNMAP_PARTIAL, `p` must be an address
 * zh__os_map returned and the whole mapping goes, whatever `len` says. */
void zh__os_unmap(void *p, size_t len);

/* Shrinks the mapping [p, p + old_len) to [p, p + new_len) in place, giving the
 * tail back. False, with nothing changed, when the backend cannot.
 * new_len == old_len is a no-op that returns true; new_len > old_len (and
 * new_len == 0) is a contract violation, checked under ZHEAP_SAFETY. */
bool zh__os_shrink(void *p, size_t old_len, size_t new_len);

/* Grows the mapping [p, p + old_len) to [p, p + new_len) in place. False, with
 * nothing changed, when the pages after it are taken or the backend cannot.
 * new_len == old_len is a no-op that returns true; new_len < old_len is a contract
 * violation, checked under ZHEAP_SAFETY. */
bool zh__os_grow(void *p, size_t old_len, size_t new_len);

/* Moves or resizes the mapping without copying, returning its new address, or
 * NULL (nothing changed) when the backend cannot (without ZH__OS_CAN_REMAP, always).
 * new_len > 0. */
void *zh__os_remap(void *p, size_t old_len, size_t new_len);

/* Releases the physical memory behind [p, p + len) (page-aligned) but keeps the
 * range mapped: later reads see zeros, later writes fault fresh pages in. True when
 * done; false (nothing changed) without ZH__OS_CAN_PURGE or when the OS refuses. */
bool zh__os_purge(void *p, size_t len);

/* ---- threads: locks --------------------------------------------------------------
 * zh_mutex: a plain non-recursive mutex in caller-provided storage (64 bytes, for
 * public structs). Must not be copied once initialised. Locking never allocates. */
void zh__mutex_init(zh_mutex *m);
void zh__mutex_lock(zh_mutex *m);
/* Takes the mutex if it is free; never blocks. True when taken. */
bool zh__mutex_try_lock(zh_mutex *m);
void zh__mutex_unlock(zh_mutex *m);
void zh__mutex_destroy(zh_mutex *m);

/* zh__lock: a word-sized non-recursive lock, small enough to put one in every
 * thread slot or size class. All-zero (ZH__LOCK_INIT, or static storage) is
 * unlocked; no init or destroy call exists. A futex word on Linux, an SRWLOCK on
 * Windows, spin-then-yield on other POSIX systems; without threads a held flag
 * (try-lock still refuses a held lock, and misuse aborts under safety).
 * Contended waiters sleep in the kernel where the OS allows it. */
typedef union zh__lock {
    _Atomic(uint32_t) word;
    void *align_ptr; /* SRWLOCK is one pointer */
} zh__lock;
#define ZH__LOCK_INIT {0}
void zh__lock_acquire(zh__lock *l);
/* True when taken; never blocks. */
bool zh__lock_try_acquire(zh__lock *l);
void zh__lock_release(zh__lock *l);

/* Gives the processor to another thread (used by spin-then-yield loops). */
void zh__os_yield(void);

/* ---- threads: once, thread-local keys, fork ----------------------------------------- */

/* Runs init(arg) exactly once per zh__once, however many threads call at once; every
 * caller returns after init has finished (memory it wrote is visible). All-zero
 * (ZH__ONCE_INIT, or static storage) is "not yet run". init must not call
 * zh__os_once on the same object. */
typedef union zh__once {
    _Atomic(uint32_t) state;
    void *align_ptr; /* INIT_ONCE is one pointer */
} zh__once;
#define ZH__ONCE_INIT {0}
void zh__os_once(zh__once *once, void (*init)(void *arg), void *arg);

/* A thread-local slot, one void * per thread, NULL in every thread at first. With
 * ZH__OS_HAS_THREAD_EXIT, `destructor` (may be NULL) runs in an exiting thread
 * whose value is non-NULL, with that value, after the slot is reset to NULL; it may
 * set the slot again (the OS then calls it again, a bounded number of times).
 * zh__tls_key_create returns false when the OS has no keys left; it may allocate
 * (call it from initialisation, not from an allocation path). zh__tls_set may
 * allocate on the first set of a key in a thread on some C libraries (glibc: keys
 * past the 32nd); it returns false when it could not store the value. */
typedef struct zh__tls_key {
    uintptr_t opaque;
} zh__tls_key;
bool zh__tls_key_create(zh__tls_key *key, void (*destructor)(void *value));
void zh__tls_key_delete(zh__tls_key key);
void *zh__tls_get(zh__tls_key key);
bool zh__tls_set(zh__tls_key key, void *value);

/* Registers handlers around fork(): `prepare` in the forking thread before the fork
 * (take your locks), `parent` in the parent after it and `child` in the child after
 * it (release or re-initialise them). Each may be NULL. Handlers registered later run
 * their prepare first and their parent/child last. False, with nothing registered,
 * without ZH__OS_HAS_FORK or when the OS refuses. May allocate: call it from
 * initialisation. */
bool zh__os_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void));

/* ---- threads: facts ------------------------------------------------------------------- */

/* Processors this process may run on (at least 1). Cheap after the first call. */
unsigned zh__os_cpu_count(void);

/* The data cache line size in bytes, a power of two (ZH__CACHE_LINE in common.h is
 * the compile-time figure; this is the machine's, when the OS tells). */
size_t zh__os_cache_line(void);

/* A number naming the calling thread in reports: the OS thread id where there is one
 * (gettid, GetCurrentThreadId), unique among live threads; 0 without threads. */
uint64_t zh__os_thread_id(void);

/* Milliseconds of a monotonic clock (any origin), for delays such as purging memory
 * that stayed free for a while. 0 when the backend has no clock (it declines):
 * callers then fall back to counting their own operations. Cheap (vDSO), no lock;
 * the resolution may be a few ms (a coarse clock). */
uint64_t zh__os_monotonic_ms(void);

/* ---- diagnostics ------------------------------------------------------------------------ */

/* Writes all of text[0, len) to the standard error stream, unbuffered, without the C
 * heap or stdio (write(2), WriteFile, WASI fd_write). Errors are ignored. */
void zh__os_write_stderr(const char *text, size_t len);

/* Ends the process abnormally at once (abort(): SIGABRT, core dump where enabled). */
_Noreturn void zh__os_abort(void);

/* Stack capture (provider chosen with ZHEAP_BACKTRACE). */
/* zh__os_stack_capture with ZH__STACK_DEFAULT returns frames. */
#define ZH__OS_HAS_STACK_CAPTURE (1u << 0)
/* ZH__STACK_FRAME_POINTER is honoured (otherwise it falls back to the default). */
#define ZH__OS_HAS_FRAME_POINTER_CAPTURE (1u << 1)
/* zh__os_symbolize can name functions. */
#define ZH__OS_HAS_SYMBOLIZE (1u << 2)
/* Symbolization can also give file:line (debug information was readable). */
#define ZH__OS_HAS_LINE_INFO (1u << 3)

typedef enum zh__stack_method {
    ZH__STACK_DEFAULT,       /* the configured provider (libunwind, CaptureStackBackTrace) */
    ZH__STACK_FRAME_POINTER  /* walk saved frame pointers: fastest, needs them kept */
} zh__stack_method;

/* ZH__OS_HAS_* stack flags of this build's provider; cheap. */
unsigned zh__os_stack_caps(void);
/* The provider's name for the configure summary and reports: "libunwind",
 * "frame-pointer", "windows" or "none". */
const char *zh__os_stack_provider(void);

/* Fills frames[0, max) with the return addresses of the calling thread's stack,
 * innermost first, starting with the frame whose return address is
 * `first_address` (the frames above it, inside zheap, are skipped; 0: start with
 * the caller of zh__os_stack_capture). Returns the number stored: 0 when capture is
 * unavailable or first_address was not found. Never allocates from the C heap and
 * takes no zheap lock; it may take the dynamic loader's lock the first time it
 * runs in a process (providers warm up in zh__os_stack_warm_up). */
size_t zh__os_stack_capture(zh__stack_method method, uintptr_t first_address,
                            uintptr_t *frames, size_t max);
/* Performs any one-time set-up capture needs (loading unwind tables), so that later
 * captures do not enter the dynamic loader. Call from initialisation, outside locks. */
void zh__os_stack_warm_up(void);
/* Opens the provider's libraries when this build loads them at run time
 * (ZH_CONFIG_STACK_DLOPEN, the preload library's build: libunwind and libdw with
 * dlopen, so that a process that never reports does not map them). Until it has run,
 * or when a library is missing, capture walks frame pointers and symbolization uses
 * dladdr. Allocates from the C heap and takes the loader lock: call it outside
 * locks, once the dynamic loader has finished starting the process (from a
 * constructor, or when reporting). Then warms up. Safe to call again and from any
 * thread. Returns whether the whole provider is available (true when linked). */
bool zh__os_stack_load(void);

/* What symbolization found for one code address. Strings are NUL-terminated and
 * empty when unknown (then the offsets are 0 too); truncated to fit. */
typedef struct zh__symbol {
    char function[160];     /* demangling is not attempted */
    uintptr_t function_offset;
    char module[160];       /* path of the executable or shared object */
    uintptr_t module_offset;
    char file[200];         /* source file, with ZH__OS_HAS_LINE_INFO */
    unsigned line;
} zh__symbol;

/* Describes `address` (a return address from zh__os_stack_capture: the provider
 * looks up address - 1 so the call instruction, not the next line, is named).
 * False when nothing at all is known. May allocate from the C heap and take the
 * loader lock: call it only when reporting, never while holding a zheap lock. */
bool zh__os_symbolize(uintptr_t address, zh__symbol *out);

/* ---- memory: C library facts ------------------------------------------------------ */

/* The usable size of a block from the C library's malloc/realloc (at least what was
 * asked), or 0 when the C library cannot tell (then callers assume exactly the
 * requested size). Used by zh_c_allocator for in-place growth. */
size_t zh__os_malloc_usable_size(void *p);

/* ---- memory: backend-specific primitives ----------------------------------------------
 * Declared for every build, defined only by the backends that have them; code that
 * calls them is itself compiled only with that backend (cmake/ZheapPlatform.cmake). */

/* sbrk(2) of this process: the old break, or (void *)-1. (sbrk backend, and POSIX
 * backends where the system has sbrk, for tests of the sbrk allocator.) */
void *zh__os_sbrk(intptr_t increment);

/* wasm32 memory.grow on memory 0: the previous size in 64 KiB pages, or SIZE_MAX
 * when the engine refuses (memory.grow returned -1). (wasm backend only.) */
size_t zh__os_memory_grow(size_t pages);

/* ---- testing: fault injection ----------------------------------------------------------
 * In builds with ZH_CONFIG_FAULT_INJECTION (on whenever the tests are built) a test can
 * make the memory calls fail, to prove that every caller turns that into NULL or
 * false with nothing leaked. Elsewhere these functions exist and nothing fails. */
#define ZH__OS_FAULT_MAP (1u << 0)   /* zh__os_map returns NULL */
#define ZH__OS_FAULT_GROW (1u << 1)  /* zh__os_grow returns false */
#define ZH__OS_FAULT_REMAP (1u << 2) /* zh__os_remap returns NULL */
#define ZH__OS_FAULT_ALL (ZH__OS_FAULT_MAP | ZH__OS_FAULT_GROW | ZH__OS_FAULT_REMAP)

/* From now on the calls of the kinds in `ops` are counted from 0 (in all threads
 * together); the n-th and every later one fails with nothing changed, until the next
 * zh__os_test_fail_after. n == SIZE_MAX disarms (the default state). Backends that
 * take their memory from a process-wide pool (sbrk, wasm) count a map that the pool
 * serves too. */
void zh__os_test_fail_after(unsigned ops, size_t n);
/* The calls of the armed kinds counted since the last zh__os_test_fail_after. */
size_t zh__os_test_fault_count(void);

#endif /* ZHEAP_PLATFORM_H */
