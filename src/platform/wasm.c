/* wasm.c - the wasm32 platform backend: linear memory grown with memory.grow.
 *
 * What it is for: zh__os_* on wasm32-wasi, where there is no mmap and memory only
 * grows. Design: the backend owns the pages. Mappings are runs of 64 KiB pages kept
 * by a page-run engine (src/core/size_classes.h) over memory.grow, seen as a break
 * in bytes: a map of n pages takes a free run of the next power of two (or splits a
 * larger one, or grows memory) and gives the tail back at once; any page-aligned
 * sub-range may be unmapped (it is cut into power-of-two runs), and a mapping at the
 * end of linear memory grows in place. Everything above reaches these pages only
 * through zh__os_map/unmap: zh_page_allocator and zh_wasm_allocator share them.
 * Unmapped pages are reused, never returned to the engine.
 * Costs: reused pages are zeroed with memset (fresh ones already are zero). Runs are
 * not coalesced, except that an unmapped piece joins a neighbouring free run of its
 * size at the head of that list (so an odd-sized mapping becomes whole again).
 *
 * Threads and diagnostics: wasm32-wasi builds have no threads, so zh_mutex is a
 * no-op, zh__lock only records that it is held (so try-lock answers truthfully and
 * safety builds catch a release of a free lock), once is a flag, a thread-local key
 * is a static slot whose destructor never runs (no thread exits), there is no fork,
 * one CPU and thread id 0. stderr is WASI fd_write; abort is abort(3), a trap. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

#include "common.h"
#include "core/fault.h"
#include "core/size_classes.h"
#include "platform/checks.h"
#include "platform/platform.h"

#define PAGE ((size_t)65536)
#define BRK_FAILED ((void *)-1)

_Static_assert(PAGE == ZH__SC_BIGPAGE, "a wasm page is the engine's bigpage");

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
 * first growth (once; single-threaded, and dlmalloc never calls back into us). The
 * block goes through a volatile pointer: a plain free(malloc(1)) is an unused
 * allocation that optimizing compilers delete, and then nothing is set up. */
static void claim_c_heap_first(void) {
    static bool done;
    static void *volatile probe;
    if (done) return;
    done = true;
    probe = malloc(1);
    free(probe);
}

size_t zh__os_memory_grow(size_t pages) {
    claim_c_heap_first(); /* also for size queries: they precede a growth */
    size_t old = __builtin_wasm_memory_grow(0, pages);
    /* memory.grow answers -1 (as size_t: SIZE_MAX) when the engine refuses. */
    return old == (size_t)-1 ? SIZE_MAX : old;
}

/* memory.grow as a break in bytes (whole pages only), for the run engine. */
static void *memory_brk(void *ctx, intptr_t increment) {
    (void)ctx;
    if (increment < 0 || (size_t)increment % PAGE != 0) return BRK_FAILED;
    size_t old = zh__os_memory_grow((size_t)increment / PAGE);
    return old == SIZE_MAX ? BRK_FAILED : (void *)(old * PAGE);
}

static zh__sc_heap *runs(void) {
    static zh__sc_heap heap;
    static bool ready;
    if (!ready) {
        zh__sc_init(&heap, (zh__sc_source){.brk = memory_brk}, "zh__os_map", 0);
        ready = true;
    }
    return &heap;
}

static size_t pages_of(size_t len) { return zh__div_ceil(len, PAGE); }

void *zh__os_map(size_t len, size_t alignment, void *hint) {
    (void)hint; /* there is one linear memory; placement is not ours to choose */
    if (zh__fault_injected(ZH__OS_FAULT_MAP)) return NULL;
    size_t pages = pages_of(len);
    unsigned k = zh__ceil_log2(pages);
    if (len == 0 || k >= ZH__SC_BIG_CLASSES) return NULL;
    uintptr_t end_before = zh__os_memory_grow(0) * PAGE;
    char *run = zh__sc_run_alloc(runs(), k, alignment < PAGE ? PAGE : alignment);
    if (run == NULL) return NULL;
    size_t tail = ((size_t)1 << k) - pages;
    if (tail > 0) zh__sc_run_free_range(runs(), run + pages * PAGE, tail * PAGE);
    /* Pages beyond the old end of memory are fresh from memory.grow, hence zero. */
    if ((uintptr_t)run < end_before) memset(run, 0, pages * PAGE);
    return run;
}

void zh__os_unmap(void *p, size_t len) {
    if (zh__config_safety && !zh__is_aligned(p, PAGE))
        zh__panic("zh_page_allocator", "unmap of %p: not page-aligned", p);
    zh__sc_run_free_range(runs(), p, pages_of(len) * PAGE);
}

bool zh__os_shrink(void *p, size_t old_len, size_t new_len) {
    zh__os_check_shrink(p, old_len, new_len);
    size_t old_pages = pages_of(old_len), new_pages = pages_of(new_len);
    if (new_pages > old_pages) return false;
    zh__sc_run_free_range(runs(), (char *)p + new_pages * PAGE, (old_pages - new_pages) * PAGE);
    return true;
}

/* In place only at the end of linear memory. Should memory.grow land elsewhere (it
 * cannot, single-threaded), the pages it gave go to the free runs. */
bool zh__os_grow(void *p, size_t old_len, size_t new_len) {
    zh__os_check_grow(p, old_len, new_len);
    size_t old_pages = pages_of(old_len), new_pages = pages_of(new_len);
    if (new_pages < old_pages) return false;
    size_t more = new_pages - old_pages, end = (uintptr_t)p / PAGE + old_pages;
    if (more == 0) return true;
    if (zh__fault_injected(ZH__OS_FAULT_GROW)) return false;
    if (zh__os_memory_grow(0) != end) return false;
    size_t old = zh__os_memory_grow(more);
    if (old == end) return true;
    if (old != SIZE_MAX) zh__sc_run_free_range(runs(), (void *)(old * PAGE), more * PAGE);
    return false;
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

/* ---- threads: one thread, so nothing to wait for ---------------------------------------- */

void zh__mutex_init(zh_mutex *m) { (void)m; }
void zh__mutex_lock(zh_mutex *m) { (void)m; }
bool zh__mutex_try_lock(zh_mutex *m) {
    (void)m;
    return true;
}
void zh__mutex_unlock(zh_mutex *m) { (void)m; }
void zh__mutex_destroy(zh_mutex *m) { (void)m; }

/* A held zh__lock could only be waited for by the thread that holds it: acquiring
 * it again would deadlock, so under safety that aborts. */
void zh__lock_acquire(zh__lock *l) {
    if (zh__config_safety && zh__atomic_load_relaxed(&l->word) != 0)
        zh__panic("zh__lock_acquire", "lock %p is already held (one thread: a deadlock)",
                  (void *)l);
    zh__atomic_store_relaxed(&l->word, 1);
}

bool zh__lock_try_acquire(zh__lock *l) {
    if (zh__atomic_load_relaxed(&l->word) != 0) return false;
    zh__atomic_store_relaxed(&l->word, 1);
    return true;
}

void zh__lock_release(zh__lock *l) {
    if (zh__config_safety && zh__atomic_load_relaxed(&l->word) == 0)
        zh__panic("zh__lock_release", "lock %p was not held", (void *)l);
    zh__atomic_store_relaxed(&l->word, 0);
}

void zh__os_yield(void) {}

void zh__os_once(zh__once *once, void (*init)(void *arg), void *arg) {
    if (zh__atomic_load_relaxed(&once->state) != 0) return;
    init(arg);
    zh__atomic_store_relaxed(&once->state, 1);
}

/* Thread-local keys: the one thread's values, in static slots. A key is its slot
 * index + 1, so that an all-zero key is never a live one. */
enum { TLS_SLOTS = 64 };
static struct {
    bool used;
    void *value;
} tls_slots[TLS_SLOTS];

bool zh__tls_key_create(zh__tls_key *key, void (*destructor)(void *value)) {
    (void)destructor; /* no thread ever exits before the process does */
    for (size_t i = 0; i < TLS_SLOTS; i++) {
        if (tls_slots[i].used) continue;
        tls_slots[i].used = true;
        tls_slots[i].value = NULL;
        key->opaque = (uintptr_t)i + 1;
        return true;
    }
    return false;
}

static bool tls_valid(zh__tls_key key) {
    return key.opaque >= 1 && key.opaque <= TLS_SLOTS && tls_slots[key.opaque - 1].used;
}

void zh__tls_key_delete(zh__tls_key key) {
    if (tls_valid(key)) tls_slots[key.opaque - 1].used = false;
}

void *zh__tls_get(zh__tls_key key) { return tls_valid(key) ? tls_slots[key.opaque - 1].value : NULL; }

bool zh__tls_set(zh__tls_key key, void *value) {
    if (!tls_valid(key)) return false;
    tls_slots[key.opaque - 1].value = value;
    return true;
}

bool zh__os_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void)) {
    (void)prepare, (void)parent, (void)child;
    return false; /* no fork on WASI */
}

unsigned zh__os_cpu_count(void) { return 1; }

size_t zh__os_cache_line(void) { return ZH__CACHE_LINE; }

uint64_t zh__os_thread_id(void) { return 0; }

/* ---- diagnostics -------------------------------------------------------------------------- */

void zh__os_write_stderr(const char *text, size_t len) {
    while (len > 0) {
        __wasi_ciovec_t iov = {(const uint8_t *)text, len};
        __wasi_size_t written = 0;
        if (__wasi_fd_write(2, &iov, 1, &written) != 0 || written == 0) return;
        text += written;
        len -= written;
    }
}

_Noreturn void zh__os_abort(void) { abort(); }

/* ---- C library facts ------------------------------------------------------------------------ */

size_t zh__os_malloc_usable_size(void *p) { return p != NULL ? malloc_usable_size(p) : 0; }
