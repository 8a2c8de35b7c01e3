/* mmap.c - the POSIX backend of the platform contract (platform.h).
 *
 * What it is for: page-granular address space from mmap/munmap, for Linux first
 * and any POSIX system second. Locks and C library facts are in posix.c.
 *
 * Design: every call is a thin wrapper over one or two system calls. Alignment
 * above the page size is obtained by over-mapping len + alignment - page and
 * unmapping the misaligned head and the unused tail, so the result is one mapping
 * of exactly `len` bytes. On Linux, mremap grows in place (no MAYMOVE) and moves
 * without copying (MAYMOVE); elsewhere growth maps the pages right after the
 * mapping (MAP_FIXED_NOREPLACE where it exists, otherwise hint-and-check) and
 * moving is not offered. The page size is read once with sysconf
 * through zh__os_once.
 *
 * Costs: one mmap per map (plus up to two munmaps when over-aligned), one syscall
 * per unmap/shrink/grow/remap. Nothing here touches the C heap. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mremap, MAP_ANONYMOUS, sbrk, malloc_usable_size on glibc */
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"
#include "core/fault.h"
#include "platform/checks.h"
#include "platform/platform.h"

#if !defined(MAP_ANONYMOUS) && defined(MAP_ANON)
#define MAP_ANONYMOUS MAP_ANON
#endif

/* ---- info ------------------------------------------------------------------------ */

#ifdef __linux__
#define ZH__MMAP_REMAP_CAPS (ZH__OS_CAN_GROW | ZH__OS_CAN_REMAP)
#else
#define ZH__MMAP_REMAP_CAPS ZH__OS_CAN_GROW
#endif

#ifdef MADV_DONTNEED
#define ZH__MMAP_PURGE_CAPS ZH__OS_CAN_PURGE
#else
#define ZH__MMAP_PURGE_CAPS 0u
#endif

static zh__once info_once = ZH__ONCE_INIT;
static zh__os_info info;

static size_t query_page_size(void) {
    long n = sysconf(_SC_PAGESIZE);
    return n > 0 ? (size_t)n : 4096;
}

static void read_info(void *unused) {
    (void)unused;
    size_t page = query_page_size();
    info.page_size = page;
    info.granularity = page;
    info.caps = ZH__OS_CAN_UNMAP_PARTIAL | ZH__OS_CAN_SHRINK | ZH__MMAP_REMAP_CAPS |
                ZH__OS_CAN_RETURN_MEMORY | ZH__OS_HAS_ADDR_HINT | ZH__OS_HAS_THREADS |
                ZH__OS_HAS_THREAD_EXIT | ZH__OS_HAS_FORK | ZH__MMAP_PURGE_CAPS;
    info.name = "mmap";
}

const zh__os_info *zh__os_info_get(void) {
    zh__os_once(&info_once, read_info, NULL);
    return &info;
}

static size_t page_size(void) { return zh__os_info_get()->page_size; }

/* ---- address space ------------------------------------------------------------------ */

static void *map_anonymous(void *hint, size_t len) {
    void *p = mmap(hint, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void *zh__os_map(size_t len, size_t alignment, void *hint) {
    if (zh__fault_injected(ZH__OS_FAULT_MAP)) return NULL;
    size_t page = page_size();
    if (alignment <= page) return map_anonymous(hint, len);

    /* Any window of len + alignment - page bytes starting on a page boundary
     * contains an aligned block of len bytes. */
    size_t slack = alignment - page;
    if (len > SIZE_MAX - slack) return NULL;
    size_t over_len = len + slack;
    char *base = map_anonymous(hint, over_len);
    if (base == NULL) return NULL;
    char *aligned = (char *)zh__align_forward_addr((uintptr_t)base, alignment);
    size_t head = (size_t)(aligned - base);
    size_t tail = over_len - head - len;
    if (head != 0) munmap(base, head);
    if (tail != 0) munmap(aligned + len, tail);
    return aligned;
}

void zh__os_unmap(void *p, size_t len) { munmap(p, len); }

/* MADV_DONTNEED drops private anonymous pages at once (Linux, the BSDs); the pages
 * read back as zeros. Where it is missing the backend declines. */
bool zh__os_purge(void *p, size_t len) {
#ifdef MADV_DONTNEED
    return madvise(p, len, MADV_DONTNEED) == 0;
#else
    (void)p, (void)len;
    return false;
#endif
}

bool zh__os_shrink(void *p, size_t old_len, size_t new_len) {
    zh__os_check_shrink(p, old_len, new_len);
    if (new_len < old_len) munmap((char *)p + new_len, old_len - new_len);
    return true;
}

#ifdef __linux__

/* ThreadSanitizer models mmap and munmap (it resets the shadow of the range) but
 * not mremap: addresses one thread vacates by mremap keep that thread's access
 * history, and a thread that receives them later by mremap appears to race with
 * it. The kernel orders the two calls; in TSan builds an atomic read-modify-write
 * before and after each mremap tells the sanitizer so. */
#if defined(__SANITIZE_THREAD__)
#define ZH__MMAP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ZH__MMAP_TSAN 1
#endif
#endif
#ifndef ZH__MMAP_TSAN
#define ZH__MMAP_TSAN 0
#endif

static atomic_uint mremap_order;

static void order_mremap(void) {
    if (ZH__MMAP_TSAN) atomic_fetch_add_explicit(&mremap_order, 1, memory_order_acq_rel);
}

static void *mremap_ordered(void *p, size_t old_len, size_t new_len, int flags) {
    order_mremap();
    void *q = mremap(p, old_len, new_len, flags);
    order_mremap();
    return q == MAP_FAILED ? NULL : q;
}

bool zh__os_grow(void *p, size_t old_len, size_t new_len) {
    zh__os_check_grow(p, old_len, new_len);
    if (new_len == old_len) return true;
    if (zh__fault_injected(ZH__OS_FAULT_GROW)) return false;
    return mremap_ordered(p, old_len, new_len, 0) != NULL;
}

void *zh__os_remap(void *p, size_t old_len, size_t new_len) {
    if (zh__fault_injected(ZH__OS_FAULT_REMAP)) return NULL;
    return mremap_ordered(p, old_len, new_len, MREMAP_MAYMOVE);
}

#else /* portable POSIX: no mremap */

/* Maps exactly the pages after the mapping, or nothing. MAP_FIXED_NOREPLACE makes
 * the kernel refuse an occupied range; where it is unknown the address is only a
 * hint, and a mapping placed elsewhere is undone. */
bool zh__os_grow(void *p, size_t old_len, size_t new_len) {
    zh__os_check_grow(p, old_len, new_len);
    if (new_len == old_len) return true;
    if (zh__fault_injected(ZH__OS_FAULT_GROW)) return false;
    char *tail = (char *)p + old_len;
    size_t extra = new_len - old_len;
    int flags = MAP_PRIVATE | MAP_ANONYMOUS;
#ifdef MAP_FIXED_NOREPLACE
    flags |= MAP_FIXED_NOREPLACE;
#endif
    void *q = mmap(tail, extra, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (q == MAP_FAILED) return false;
    if (q != tail) {
        munmap(q, extra);
        return false;
    }
    return true;
}

void *zh__os_remap(void *p, size_t old_len, size_t new_len) {
    (void)p;
    (void)old_len;
    (void)new_len;
    return NULL;
}

#endif
