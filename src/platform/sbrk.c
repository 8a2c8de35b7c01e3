/* sbrk.c - the sbrk backend of the platform contract (platform.h).
 *
 * What it is for: systems, or configurations, where memory should come from the
 * program break rather than from mmap (ZHEAP_PLATFORM=sbrk). Every zh__os_map is a
 * block of one process-wide size-class heap (src/core/size_classes.h) over sbrk(2),
 * so zh_page_allocator and everything above it run on the break.
 *
 * Design: map asks the heap for a block of max(len, alignment, page) bytes and
 * zero-fills it (reused blocks are not zero). The heap records the class of every
 * bigpage it hands out, so unmap finds a block's class from its address alone
 * (zh__os_unmap only promises the address; without partial unmap `len` may be
 * anything). Shrinking succeeds but keeps the block whole until it is unmapped:
 * handing its tail to smaller classes would strand it, since free blocks are never
 * merged. Nothing can be grown, moved or partially unmapped. Unmapped memory is
 * only reused by later maps: it never goes back to the OS.
 *
 * Costs: a map is a heap alloc (power-of-two rounding: up to 2x the length) and a
 * memset of the block; an unmap is a class-map lookup and a free. One word lock of
 * the seam (zh__lock) guards the heap; zh__os_once sets the backend up.
 *
 * Sharing the break: glibc malloc also moves the break. The heap never assumes that
 * two sbrk calls return adjacent memory, so a single-threaded mix is safe; sbrk(2)
 * itself is not thread-safe, so a thread calling malloc while another maps here can
 * race on the break (see docs/platforms.md). */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <unistd.h>

#include "common.h"
#include "core/fault.h"
#include "core/size_classes.h"
#include "core/track.h"
#include "platform/checks.h"
#include "platform/platform.h"

#define CALL "zh__os_unmap"

/* ---- process-wide state, set up once ------------------------------------------------------- */

static zh__once info_once = ZH__ONCE_INIT;
static zh__os_info info;
static zh__lock heap_lock = ZH__LOCK_INIT;
static zh__sc_heap heap;

static void *os_brk(void *ctx, intptr_t increment) {
    (void)ctx;
    return zh__os_sbrk(increment);
}

static void setup(void *unused) {
    (void)unused;
    long page = sysconf(_SC_PAGESIZE);
    info.page_size = page > 0 ? (size_t)page : 4096;
    info.granularity = info.page_size;
    info.caps = ZH__OS_CAN_SHRINK | ZH__OS_HAS_THREADS | ZH__OS_HAS_THREAD_EXIT | ZH__OS_HAS_FORK;
    info.name = "sbrk";
    zh__sc_init(&heap, (zh__sc_source){.brk = os_brk}, CALL, 0);
}

const zh__os_info *zh__os_info_get(void) {
    zh__os_once(&info_once, setup, NULL);
    return &info;
}

/* ---- address space ---------------------------------------------------------------------------- */

void *zh__os_map(size_t len, size_t alignment, void *hint) {
    (void)hint; /* the break decides where memory lands */
    const zh__os_info *os = zh__os_info_get();
    if (len == 0 || zh__fault_injected(ZH__OS_FAULT_MAP)) return NULL;
    if (alignment < os->page_size) alignment = os->page_size;
    zh__sc_class c;
    if (!zh__sc_classify(len > alignment ? len : alignment, &c)) return NULL;
    zh__lock_acquire(&heap_lock);
    void *p = zh__sc_alloc(&heap, c, alignment, len);
    zh__lock_release(&heap_lock);
    if (p == NULL) return NULL;
    /* A mapping is fresh memory, as mmap's is: whatever a checker was told about
     * these bytes under their previous owner (an allocator that poisoned a block
     * inside a mapping it then gave back, or a shrunk tail this backend kept in
     * the block) ends here. Then zero: a reused block holds old bytes. */
    zh__track_mem_undefined(p, len);
    memset(p, 0, len);
    return p;
}

void zh__os_unmap(void *p, size_t len) {
    (void)len; /* the whole mapping goes, as without ZH__OS_CAN_UNMAP_PARTIAL */
    zh__os_info_get();
    zh__lock_acquire(&heap_lock);
    zh__sc_class c;
    bool found = zh__sc_class_of(&heap, p, &c);
    if (found) zh__sc_free(&heap, p, c);
    zh__lock_release(&heap_lock);
    if (!found && zh__config_safety) zh__panic(CALL, "%p is not a mapping", p);
}

/* Succeeds in place and keeps the block whole: its tail is reused only after the
 * unmap (which frees the whole block, whatever length it names). Handing the tail
 * to smaller classes would strand it there, since free blocks never merge. */
bool zh__os_shrink(void *p, size_t old_len, size_t new_len) {
    zh__os_check_shrink(p, old_len, new_len);
    zh__os_info_get();
    zh__sc_class c;
    zh__lock_acquire(&heap_lock);
    bool found = zh__sc_class_of(&heap, p, &c);
    zh__lock_release(&heap_lock);
    return found && old_len <= c.bytes;
}

bool zh__os_grow(void *p, size_t old_len, size_t new_len) {
    zh__os_check_grow(p, old_len, new_len);
    return new_len == old_len;
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
