/* thread_safe.c - a mutex around any allocator.
 *
 * Purpose: share an allocator that is not thread-safe (fixed buffer, arena,
 * test wrappers) between threads, as Zig's ThreadSafeAllocator.
 * Design: each vtable entry locks the wrapper's platform mutex, forwards the
 * call unchanged (return address included, so debug traces name the real
 * caller) and unlocks. Nothing else is stored.
 * Costs: one uncontended lock/unlock pair per call (tens of nanoseconds); all
 * calls are serialised, so throughput does not scale with threads. */
#include "zheap/thread_safe.h"

#include "common.h"
#include "platform/platform.h"

static void *ts_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    zh_thread_safe *ts = ctx;
    zh__mutex_lock(&ts->mutex);
    void *p = ts->child.vtable->alloc(ts->child.ctx, len, align, ret_addr);
    zh__mutex_unlock(&ts->mutex);
    return p;
}

static bool ts_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                      uintptr_t ret_addr) {
    zh_thread_safe *ts = ctx;
    zh__mutex_lock(&ts->mutex);
    bool ok = ts->child.vtable->resize(ts->child.ctx, mem, len, align, new_len, ret_addr);
    zh__mutex_unlock(&ts->mutex);
    return ok;
}

static void *ts_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                      uintptr_t ret_addr) {
    zh_thread_safe *ts = ctx;
    zh__mutex_lock(&ts->mutex);
    void *p = ts->child.vtable->remap(ts->child.ctx, mem, len, align, new_len, ret_addr);
    zh__mutex_unlock(&ts->mutex);
    return p;
}

static void ts_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    zh_thread_safe *ts = ctx;
    zh__mutex_lock(&ts->mutex);
    ts->child.vtable->free(ts->child.ctx, mem, len, align, ret_addr);
    zh__mutex_unlock(&ts->mutex);
}

static const zh_allocator_vtable ts_vtable = {
    .alloc = ts_alloc,
    .resize = ts_resize,
    .remap = ts_remap,
    .free = ts_free,
};

void zh_thread_safe_init(zh_thread_safe *ts, zh_allocator child) {
    ts->child = child;
    zh__mutex_init(&ts->mutex);
}

zh_allocator zh_thread_safe_allocator(zh_thread_safe *ts) {
    return (zh_allocator){.ctx = ts, .vtable = &ts_vtable};
}

void zh_thread_safe_deinit(zh_thread_safe *ts) { zh__mutex_destroy(&ts->mutex); }
