/* wasm.c - WasmAllocator: Zig's std.heap.WasmAllocator for wasm32.
 *
 * What it is for: the general-purpose allocator of single-threaded wasm32 programs,
 * small and fast, with no headers in front of blocks.
 *
 * Design (Zig 0.15's, with the fixes noted below):
 *   - A request occupies a slot of the next power of two of
 *     max(len + sizeof(size_t), alignment) bytes: Zig's slot sizes, whose extra word
 *     held Zig's free-list link (here the link lives in the first word of a free
 *     slot; the word is kept so that slot sizes, and which resizes succeed, are
 *     Zig's).
 *   - The size-class engine (src/core/size_classes.h) serves the slots: up to 32 KiB
 *     each class bumps through 64 KiB pages of its own and keeps a LIFO free list;
 *     larger slots are runs of 2^k pages.
 *   - Memory comes only through the platform seam: pages for the small classes and
 *     every big run are zh__os_map'd, and a freed big run is zh__os_unmap'd, so the
 *     wasm backend, which owns the pages, shares them with zh_page_allocator (in Zig
 *     the page allocator on wasm is the WasmAllocator). Pages of small classes stay
 *     with their class.
 * Fixes relative to Zig: alignment above 64 KiB is honoured; a run size is the exact
 * ceiling in pages; resize never moves a block between classes (Zig could shrink a
 * one-page block into a small class and leak the page); when memory.grow refuses,
 * a larger free run is split instead of failing at once; with ZHEAP_SAFETY a free
 * whose length names another class than the block's aborts.
 *
 * Costs: alloc and free are O(1) (plus a class-map insert per fresh page or big run);
 * a reused big run is zeroed by the backend's map. Internal fragmentation up to 2x
 * (power-of-two slots); freed small slots are reused only by their class (no
 * coalescing). Single-threaded: global state, no locks. */
#include "zheap/wasm.h"

#include "common.h"
#include "core/size_classes.h"
#include "platform/platform.h"

#define WORD sizeof(size_t)

static void *seam_map(void *ctx, size_t bytes, size_t alignment) {
    (void)ctx;
    return zh__os_map(bytes, alignment, NULL);
}

static void seam_unmap(void *ctx, void *p, size_t bytes) {
    (void)ctx;
    zh__os_unmap(p, bytes);
}

static zh__sc_heap *heap(void) {
    static zh__sc_heap h;
    static bool ready;
    if (!ready) {
        zh__sc_init(&h, (zh__sc_source){.map = seam_map, .unmap = seam_unmap},
                    "zh_wasm_allocator", ZH__SC_TRACK_BLOCKS);
        ready = true;
    }
    return &h;
}

/* The slot of a request; false when it cannot be represented (alloc answers NULL). */
static bool slot_for(size_t len, zh_align align, zh__sc_class *out) {
    size_t alignment = zh_align_to_bytes(align);
    if (len > SIZE_MAX - WORD) return false;
    return zh__sc_classify(len + WORD > alignment ? len + WORD : alignment, out);
}

static void *wasm_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ctx, (void)ret_addr;
    zh__sc_class slot;
    if (!slot_for(len, align, &slot)) return NULL;
    return zh__sc_alloc(heap(), slot, zh_align_to_bytes(align), len);
}

/* Bytes between powers of two are recovered in place; a block never changes slot. */
static bool wasm_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                        uintptr_t ret_addr) {
    (void)ctx, (void)ret_addr;
    zh__sc_class old_slot, new_slot;
    if (!slot_for(len, align, &old_slot) || !slot_for(new_len, align, &new_slot) ||
        !zh__sc_same_class(old_slot, new_slot))
        return false;
    zh__sc_resized(heap(), mem, len, new_len);
    return true;
}

static void *wasm_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                        uintptr_t ret_addr) {
    return wasm_resize(ctx, mem, len, align, new_len, ret_addr) ? mem : NULL;
}

static void wasm_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ctx, (void)ret_addr;
    zh__sc_class slot;
    if (!slot_for(len, align, &slot))
        zh__panic("zh_wasm_allocator", "free of %p: length %zu was never allocated", mem, len);
    zh__sc_free(heap(), mem, slot);
}

static const zh_allocator_vtable wasm_vtable = {
    wasm_alloc,
    wasm_resize,
    wasm_remap,
    wasm_free,
};

const zh_allocator zh_wasm_allocator = {NULL, &wasm_vtable};
