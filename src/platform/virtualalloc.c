/* virtualalloc.c - the Windows backend of platform.h (VirtualAlloc/VirtualFree).
 *
 * Design: every mapping is one reservation, reserved and committed in a single
 * VirtualAlloc call. Reservations start on the 64 KiB allocation granularity, so
 * alignments up to 64 KiB are free; larger ones follow Zig's PageAllocator: reserve
 * an oversized range, note the aligned address inside it, release it and reserve
 * exactly there, retrying if another thread took the range in between. Windows can
 * only release whole reservations, so there is no partial unmap: unmap releases the
 * reservation that starts at the given address, shrink decommits the tail (the
 * address range stays reserved until unmap), and grow only recommits pages of the
 * block's own reservation that a shrink decommitted. No remap.
 *
 * Costs: one system call per map, unmap, shrink; two VirtualQuery calls plus one
 * VirtualAlloc per grow; alignment above 64 KiB costs three more calls per map and
 * reserves (never commits) `alignment` extra bytes of address space for a moment.
 * Each mapping uses at least one 64 KiB slot of address space, but only its pages
 * are committed. */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <malloc.h>
#include <stdlib.h>

#include "common.h"
#include "core/fault.h"
#include "platform/checks.h"
#include "platform/platform.h"

/* ---- system facts ------------------------------------------------------------------ */

static zh__os_info g_info;
static zh__once g_info_once = ZH__ONCE_INIT;

static void read_system_info(void *unused) {
    (void)unused;
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    g_info.page_size = si.dwPageSize;
    g_info.granularity = si.dwAllocationGranularity;
    g_info.caps = ZH__OS_CAN_SHRINK | ZH__OS_CAN_RETURN_MEMORY | ZH__OS_HAS_ADDR_HINT |
                  ZH__OS_HAS_THREADS | ZH__OS_HAS_THREAD_EXIT;
    g_info.name = "virtualalloc";
}

const zh__os_info *zh__os_info_get(void) {
    zh__os_once(&g_info_once, read_system_info, NULL);
    return &g_info;
}

/* ---- address space ------------------------------------------------------------------ */

/* A fresh reservation of `len` committed, zero-filled bytes at `at` (NULL: anywhere). */
static void *reserve_and_commit(void *at, size_t len) {
    return VirtualAlloc(at, len, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
}

/* Tries the caller's preferred address, rounded up to the alignment (which is at
 * least the granularity, so VirtualAlloc does not round it down again). */
static void *map_at_hint(size_t len, size_t alignment, void *hint) {
    uintptr_t at = zh__align_forward_addr((uintptr_t)hint, alignment);
    if (at < (uintptr_t)hint || at == 0) return NULL; /* rounding wrapped around */
    return reserve_and_commit((void *)at, len);
}

/* Alignment above the granularity: find an aligned address inside a temporary
 * reservation large enough to contain one, then take exactly that range. Between
 * the release and the new reservation another thread may map the range; then the
 * attempt is repeated. Any other failure (out of commit charge) is final. */
static void *map_overaligned(size_t len, size_t alignment, size_t granularity) {
    /* Reservations start on the granularity, so at most alignment - granularity
     * bytes lie before the first aligned address. */
    size_t slack = alignment - granularity;
    if (len > SIZE_MAX - slack) return NULL;
    enum { MAX_RACES = 64 };
    for (int attempt = 0; attempt < MAX_RACES; attempt++) {
        void *probe = VirtualAlloc(NULL, len + slack, MEM_RESERVE, PAGE_NOACCESS);
        if (probe == NULL) return NULL;
        uintptr_t at = zh__align_forward_addr((uintptr_t)probe, alignment);
        VirtualFree(probe, 0, MEM_RELEASE);
        void *p = reserve_and_commit((void *)at, len);
        if (p != NULL) return p;
        if (GetLastError() != ERROR_INVALID_ADDRESS) return NULL; /* not a race */
    }
    return NULL;
}

void *zh__os_map(size_t len, size_t alignment, void *hint) {
    if (zh__fault_injected(ZH__OS_FAULT_MAP)) return NULL;
    const zh__os_info *info = zh__os_info_get();
    if (alignment < info->granularity) alignment = info->granularity;
    if (hint != NULL) {
        void *p = map_at_hint(len, alignment, hint);
        if (p != NULL) return p;
    }
    /* Often already aligned enough, even for alignments above 64 KiB. */
    void *p = reserve_and_commit(NULL, len);
    if (p == NULL || zh__is_aligned(p, alignment)) return p;
    VirtualFree(p, 0, MEM_RELEASE);
    return map_overaligned(len, alignment, info->granularity);
}

void zh__os_unmap(void *p, size_t len) {
    (void)len; /* MEM_RELEASE takes the whole reservation and requires size 0 */
    BOOL ok = VirtualFree(p, 0, MEM_RELEASE);
    if (zh__config_safety && !ok)
        zh__panic("zh__os_unmap", "VirtualFree(%p, MEM_RELEASE) failed (error %lu): "
                  "not the start of a mapping", p, (unsigned long)GetLastError());
}

bool zh__os_shrink(void *p, size_t old_len, size_t new_len) {
    zh__os_check_shrink(p, old_len, new_len);
    if (new_len == old_len) return true;
    return VirtualFree((char *)p + new_len, old_len - new_len, MEM_DECOMMIT) != 0;
}

/* The base of the reservation holding `addr`, or NULL when nothing is there. */
static void *reservation_of(const void *addr, MEMORY_BASIC_INFORMATION *mbi) {
    if (VirtualQuery(addr, mbi, sizeof *mbi) != sizeof *mbi) return NULL;
    if (mbi->State == MEM_FREE) return NULL;
    return mbi->AllocationBase;
}

/* True when every page of [from, to) belongs to the reservation at `base`. */
static bool range_in_reservation(void *base, uintptr_t from, uintptr_t to) {
    MEMORY_BASIC_INFORMATION mbi;
    while (from < to) {
        if (reservation_of((const void *)from, &mbi) != base) return false;
        from = (uintptr_t)mbi.BaseAddress + mbi.RegionSize;
    }
    return true;
}

bool zh__os_grow(void *p, size_t old_len, size_t new_len) {
    zh__os_check_grow(p, old_len, new_len);
    if (new_len == old_len) return true;
    if (zh__fault_injected(ZH__OS_FAULT_GROW)) return false;
    MEMORY_BASIC_INFORMATION mbi;
    void *base = reservation_of(p, &mbi);
    uintptr_t from = (uintptr_t)p + old_len;
    if (base == NULL || !range_in_reservation(base, from, (uintptr_t)p + new_len))
        return false;
    /* Decommitted pages come back zero-filled, like fresh ones. */
    return VirtualAlloc((void *)from, new_len - old_len, MEM_COMMIT, PAGE_READWRITE) != NULL;
}

void *zh__os_remap(void *p, size_t old_len, size_t new_len) {
    (void)p;
    (void)old_len;
    (void)new_len;
    return NULL;
}

/* Purging is not offered by this backend (platform.h: ZH__OS_CAN_PURGE). */
bool zh__os_purge(void *p, size_t len) {
    (void)p, (void)len;
    return false;
}

/* No clock offered by this backend (platform.h: zh__os_monotonic_ms declines). */
uint64_t zh__os_monotonic_ms(void) { return 0; }

/* ---- locks -------------------------------------------------------------------------- */

_Static_assert(sizeof(SRWLOCK) <= sizeof(zh_mutex), "zh_mutex too small for SRWLOCK");
_Static_assert(_Alignof(SRWLOCK) <= _Alignof(zh_mutex), "zh_mutex under-aligned for SRWLOCK");

static SRWLOCK *srw_of(zh_mutex *m) { return (SRWLOCK *)(void *)&m->opaque; }

void zh__mutex_init(zh_mutex *m) { InitializeSRWLock(srw_of(m)); }
void zh__mutex_lock(zh_mutex *m) { AcquireSRWLockExclusive(srw_of(m)); }
void zh__mutex_unlock(zh_mutex *m) { ReleaseSRWLockExclusive(srw_of(m)); }
void zh__mutex_destroy(zh_mutex *m) { (void)m; /* SRW locks hold no resources */ }

bool zh__mutex_try_lock(zh_mutex *m) { return TryAcquireSRWLockExclusive(srw_of(m)) != 0; }

/* zh__lock is an SRWLOCK in its pointer-sized storage; all-zero is SRWLOCK_INIT. */
_Static_assert(sizeof(SRWLOCK) <= sizeof(zh__lock), "zh__lock too small for SRWLOCK");
_Static_assert(_Alignof(SRWLOCK) <= _Alignof(zh__lock), "zh__lock under-aligned for SRWLOCK");

static SRWLOCK *srw_of_lock(zh__lock *l) { return (SRWLOCK *)(void *)l; }

void zh__lock_acquire(zh__lock *l) { AcquireSRWLockExclusive(srw_of_lock(l)); }
bool zh__lock_try_acquire(zh__lock *l) { return TryAcquireSRWLockExclusive(srw_of_lock(l)) != 0; }
void zh__lock_release(zh__lock *l) { ReleaseSRWLockExclusive(srw_of_lock(l)); }

void zh__os_yield(void) {
    /* SwitchToThread returns FALSE when no thread was ready: nothing else to do. */
    (void)SwitchToThread();
}

/* ---- once, thread-local keys, fork -------------------------------------------------------- */

/* zh__once is an INIT_ONCE in its pointer-sized storage; all-zero is INIT_ONCE_STATIC_INIT. */
_Static_assert(sizeof(INIT_ONCE) <= sizeof(zh__once), "zh__once too small for INIT_ONCE");

typedef struct once_call {
    void (*init)(void *arg);
    void *arg;
} once_call;

static BOOL CALLBACK run_once_call(PINIT_ONCE once, PVOID param, PVOID *context) {
    (void)once;
    (void)context;
    const once_call *call = param;
    call->init(call->arg);
    return TRUE;
}

void zh__os_once(zh__once *once, void (*init)(void *arg), void *arg) {
    once_call call = {init, arg};
    InitOnceExecuteOnce((PINIT_ONCE)(void *)once, run_once_call, &call, NULL);
}

/* Fiber-local storage: its callback runs at thread exit for non-NULL values, like a
 * pthread key destructor (and also for every thread's value at FlsFree). The callback
 * type differs from void (*)(void *) only by its calling convention, which x86-64 and
 * arm64 Windows do not have. */
#if defined(_M_IX86) || defined(__i386__)
#error "zheap: 32-bit x86 Windows needs an FLS callback trampoline"
#endif

bool zh__tls_key_create(zh__tls_key *key, void (*destructor)(void *value)) {
    DWORD index = FlsAlloc((PFLS_CALLBACK_FUNCTION)(void (*)(void))destructor);
    if (index == FLS_OUT_OF_INDEXES) return false;
    key->opaque = index;
    return true;
}

void zh__tls_key_delete(zh__tls_key key) { FlsFree((DWORD)key.opaque); }

void *zh__tls_get(zh__tls_key key) { return FlsGetValue((DWORD)key.opaque); }

bool zh__tls_set(zh__tls_key key, void *value) { return FlsSetValue((DWORD)key.opaque, value) != 0; }

/* Windows has no fork. */
bool zh__os_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void)) {
    (void)prepare;
    (void)parent;
    (void)child;
    return false;
}

/* ---- facts -------------------------------------------------------------------------------- */

unsigned zh__os_cpu_count(void) {
    DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
    return n > 0 ? (unsigned)n : 1u;
}

size_t zh__os_cache_line(void) {
    /* A fixed buffer: enough entries for the first processors' caches, no heap. */
    SYSTEM_LOGICAL_PROCESSOR_INFORMATION buf[64];
    DWORD bytes = sizeof buf;
    if (GetLogicalProcessorInformation(buf, &bytes)) {
        for (DWORD i = 0; i < bytes / sizeof buf[0]; i++) {
            if (buf[i].Relationship == RelationCache && buf[i].Cache.Level == 1 &&
                zh__is_pow2(buf[i].Cache.LineSize))
                return buf[i].Cache.LineSize;
        }
    }
    return ZH__CACHE_LINE;
}

uint64_t zh__os_thread_id(void) { return GetCurrentThreadId(); }

/* ---- diagnostics ---------------------------------------------------------------------------- */

void zh__os_write_stderr(const char *text, size_t len) {
    HANDLE err = GetStdHandle(STD_ERROR_HANDLE);
    if (err == NULL || err == INVALID_HANDLE_VALUE) return;
    while (len > 0) {
        DWORD chunk = len > 0x40000000u ? 0x40000000u : (DWORD)len;
        DWORD written = 0;
        if (!WriteFile(err, text, chunk, &written, NULL) || written == 0) return;
        text += written;
        len -= written;
    }
}

_Noreturn void zh__os_abort(void) { abort(); }

/* ---- C library facts ------------------------------------------------------------------ */

size_t zh__os_malloc_usable_size(void *p) {
    if (p == NULL) return 0;
    size_t n = _msize(p);
    return n == (size_t)-1 ? 0 : n;
}
