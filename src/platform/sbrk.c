/* sbrk.c - the sbrk backend of the platform contract (platform.h).
 *
 * What it is for: systems, or configurations, where memory should come from the
 * program break rather than from mmap (ZHEAP_PLATFORM=sbrk). Every zh__os_map is
 * an allocation from one process-wide SbrkAllocator (src/sbrk.c) over sbrk(2), so
 * zh_page_allocator and everything above it run on the break.
 *
 * Design: the SbrkAllocator needs the length and alignment of a block to free it,
 * but zh__os_unmap only promises the address (without partial unmap, `len` may be
 * anything), so the backend remembers each mapping in an open-addressing hash
 * table (address -> length, alignment) that itself lives in SbrkAllocator memory.
 * Map asks for at least page alignment and zero-fills, since reused blocks are not
 * zero. Shrinking works (the SbrkAllocator hands the tail of the slot to its free
 * lists); nothing can be grown, moved or partially unmapped, and unmapped or
 * shrunk-off memory is only reused by later maps: it never goes back to the OS.
 *
 * Costs: a map is an SbrkAllocator alloc (power-of-two rounding: up to 2x the
 * length), a table insert and a memset of the whole block; an unmap is a table
 * lookup and a free. One backend mutex guards the table; the allocator has its own.
 *
 * Sharing the break: glibc malloc also moves the break. The allocator never
 * assumes that two sbrk calls return adjacent memory, so a single-threaded mix is
 * safe; sbrk(2) itself is not thread-safe, so a thread calling malloc while
 * another maps here can race on the break (see docs/platforms.md). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>


#include "common.h"
#include "platform/platform.h"
#include "zheap/sbrk.h"

/* ---- process-wide state, set up once ------------------------------------------------------- */

/* One mapping: its address (0: empty entry), length and log2 alignment. */
typedef struct mapping {
    uintptr_t addr;
    size_t len;
    zh_align align;
} mapping;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static zh__os_info info;
static zh_sbrk heap;             /* the process-wide SbrkAllocator */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static mapping *table;           /* capacity entries, a power of two, or NULL */
static size_t capacity, count;

static void setup(void) {
    long page = sysconf(_SC_PAGESIZE);
    info.page_size = page > 0 ? (size_t)page : 4096;
    info.granularity = info.page_size;
    info.caps = ZH__OS_CAN_SHRINK | ZH__OS_HAS_THREADS;
    info.name = "sbrk";
    zh_sbrk_init(&heap, zh__os_sbrk);
}

const zh__os_info *zh__os_info_get(void) {
    pthread_once(&once, setup);
    return &info;
}

/* ---- the mapping table: linear probing, backward-shift deletion ------------------------------ */

static size_t home_slot(uintptr_t addr, size_t cap) {
    uint64_t h = (uint64_t)addr * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h >> 32) & (cap - 1);
}

static void place(mapping *entries, size_t cap, mapping m) {
    size_t i = home_slot(m.addr, cap);
    while (entries[i].addr != 0) i = (i + 1) & (cap - 1);
    entries[i] = m;
}

/* Doubles the table (or creates it); false when the allocator is out of memory. */
static bool table_grow(void) {
    size_t new_cap = capacity == 0 ? 256 : capacity * 2;
    zh_allocator a = zh_sbrk_allocator(&heap);
    zh_align align = (zh_align)zh__log2_pow2(_Alignof(mapping));
    mapping *entries = zh_raw_alloc(a, new_cap * sizeof(mapping), align, 0);
    if (entries == NULL) return false;
    memset(entries, 0, new_cap * sizeof(mapping));
    for (size_t i = 0; i < capacity; i++)
        if (table[i].addr != 0) place(entries, new_cap, table[i]);
    if (table != NULL) zh_raw_free(a, table, capacity * sizeof(mapping), align, 0);
    table = entries;
    capacity = new_cap;
    return true;
}

static bool table_insert(mapping m) {
    if ((count + 1) * 2 > capacity && !table_grow()) return false;
    place(table, capacity, m);
    count++;
    return true;
}

/* The entry of `addr`, or NULL. */
static mapping *table_find(uintptr_t addr) {
    if (capacity == 0) return NULL;
    for (size_t i = home_slot(addr, capacity);; i = (i + 1) & (capacity - 1)) {
        if (table[i].addr == addr) return &table[i];
        if (table[i].addr == 0) return NULL;
    }
}

/* Removes the entry of `addr` into *out; false when there is none. */
static bool table_remove(uintptr_t addr, mapping *out) {
    if (capacity == 0) return false;
    size_t mask = capacity - 1, i = home_slot(addr, capacity);
    while (table[i].addr != addr) {
        if (table[i].addr == 0) return false;
        i = (i + 1) & mask;
    }
    *out = table[i];
    /* Pull later entries of the probe run back over the hole so lookups never stop
     * early: an entry moves unless its home lies cyclically in (hole, j]. */
    for (size_t j = (i + 1) & mask; table[j].addr != 0; j = (j + 1) & mask) {
        size_t k = home_slot(table[j].addr, capacity);
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays) continue;
        table[i] = table[j];
        i = j;
    }
    table[i].addr = 0;
    count--;
    return true;
}

/* ---- address space ---------------------------------------------------------------------------- */

void *zh__os_map(size_t len, size_t alignment, void *hint) {
    (void)hint; /* the break decides where memory lands */
    const zh__os_info *os = zh__os_info_get();
    if (len == 0) return NULL;
    if (alignment < os->page_size) alignment = os->page_size;
    zh_align align = (zh_align)zh__log2_pow2(alignment);
    zh_allocator a = zh_sbrk_allocator(&heap);

    pthread_mutex_lock(&table_lock);
    void *p = zh_raw_alloc(a, len, align, 0);
    if (p != NULL && !table_insert((mapping){(uintptr_t)p, len, align})) {
        zh_raw_free(a, p, len, align, 0);
        p = NULL;
    }
    pthread_mutex_unlock(&table_lock);
    if (p != NULL) memset(p, 0, len); /* a reused block holds old bytes */
    return p;
}

void zh__os_unmap(void *p, size_t len) {
    (void)len; /* the whole mapping goes, as without ZH__OS_CAN_UNMAP_PARTIAL */
    mapping m;
    pthread_mutex_lock(&table_lock);
    bool found = table_remove((uintptr_t)p, &m);
    pthread_mutex_unlock(&table_lock);
    if (!found) {
        if (zh__config_safety) zh__panic("zh__os_unmap", "%p is not a mapping", p);
        return;
    }
    zh_raw_free(zh_sbrk_allocator(&heap), p, m.len, m.align, 0);
}

/* The SbrkAllocator shrinks any block in place, giving the tail of its slot to the
 * smaller classes' free lists (not to the OS); the table keeps the new length. */
bool zh__os_shrink(void *p, size_t old_len, size_t new_len) {
    (void)old_len; /* the table knows the mapping's real length */
    if (new_len == 0) return false;
    bool done = false;
    pthread_mutex_lock(&table_lock);
    mapping *m = table_find((uintptr_t)p);
    if (m != NULL && new_len <= m->len &&
        zh_raw_resize(zh_sbrk_allocator(&heap), p, m->len, m->align, new_len, 0)) {
        m->len = new_len;
        done = true;
    }
    pthread_mutex_unlock(&table_lock);
    return done;
}

bool zh__os_grow(void *p, size_t old_len, size_t new_len) {
    (void)p, (void)old_len, (void)new_len;
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

