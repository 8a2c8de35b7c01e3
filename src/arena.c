/* arena.c - Zig's ArenaAllocator: bump allocation in buffers from a child.
 *
 * Design: a singly linked list of buffers, newest first, each starting with a
 * small header (next link and the buffer's exact size, so it can be returned to
 * the child with the length it was allocated with). Allocation bumps `cur`
 * towards `end` inside the newest buffer; that part is inline in arena.h. The
 * slow path here first asks the child to grow the newest buffer in place by the
 * next step of the geometric sequence, then takes a new buffer, following the
 * growth policy documented in arena.h. Every child call names the arena's caller
 * (`ret_addr` from the vtable, or the public entry point's own return address),
 * never arena.c.
 *
 * Under AddressSanitizer every block starts ZH__REDZONE (16) bytes or more after
 * the cursor, on an 8-byte granule (zh__bump_pad, zheap/internal.h): those bytes
 * stay poisoned, so an overflow faults before it reaches the next block. The last
 * block still resizes in place up to the buffer's end, and freeing it gives its
 * redzone back. No redzone in any other build.
 *
 * Costs: an allocation that fits is a handful of instructions and no call; a
 * full buffer costs one or two child calls, and since every growth at least
 * doubles what the arena can hold without the child, filling an arena with
 * N bytes costs O(log N) child calls. Free and resize are O(1). Reset and
 * query_capacity walk the buffer list (O(buffers), and after a retaining reset
 * there is one buffer). Memory overhead: ZH_ARENA_HEADER_SIZE bytes per buffer,
 * plus the unused tail of each full buffer and at most one step (<= the cap) of
 * untouched room at the end of the newest; under ASan 16 to 23 bytes a block. */
#include "zheap/arena.h"

#include "arena_internal.h"
#include "common.h"
#include "core/track.h"

struct zh__arena_buffer {
    struct zh__arena_buffer *next;
    size_t size; /* bytes allocated from the child, header included */
};

#define HEADER ZH_ARENA_HEADER_SIZE
/* Buffers come from the child with malloc alignment; the header is a multiple
 * of it, so the usable bytes start malloc-aligned too. */
#define BUFFER_ALIGN ((zh_align)zh__log2_pow2(ZH_MALLOC_ALIGNMENT))

_Static_assert(sizeof(struct zh__arena_buffer) <= ZH_ARENA_HEADER_SIZE,
               "arena header does not fit");
_Static_assert(ZH_ARENA_HEADER_SIZE % ZH_MALLOC_ALIGNMENT == 0,
               "arena header must keep malloc alignment");

static unsigned char *buffer_data(struct zh__arena_buffer *b) {
    return (unsigned char *)b + HEADER;
}

static unsigned char *buffer_end(struct zh__arena_buffer *b) {
    return (unsigned char *)b + b->size;
}

/* Makes `b` the buffer allocations bump in, from its start. */
static void use_buffer(zh_arena *arena, struct zh__arena_buffer *b) {
    arena->cur = buffer_data(b);
    arena->end = buffer_end(b);
}

/* Memory checkers (core/track.h): a buffer's bytes after the header are unaddressable
 * until a block is carved from them, and become so again at a reset; the child
 * gets every buffer back addressable. */
static void poison_data(struct zh__arena_buffer *b) {
    zh__track_mem_noaccess(buffer_data(b), b->size - HEADER);
}

static void free_buffer(zh_arena *arena, struct zh__arena_buffer *b, uintptr_t ret_addr) {
    zh__track_mem_undefined(buffer_data(b), b->size - HEADER);
    zh_raw_free(arena->child, b, b->size, BUFFER_ALIGN, ret_addr);
}

/* Asks the child to make `b` exactly `size` bytes in place; false (and `b`
 * unchanged) when it refuses. */
static bool resize_buffer(zh_arena *arena, struct zh__arena_buffer *b, size_t size,
                          uintptr_t ret_addr) {
    size_t old = b->size;
    if (size < old) zh__track_mem_undefined((unsigned char *)b + size, old - size);
    if (!zh_raw_resize(arena->child, b, old, BUFFER_ALIGN, size, ret_addr)) {
        if (size < old) zh__track_mem_noaccess((unsigned char *)b + size, old - size);
        return false;
    }
    b->size = size;
    if (size > old) zh__track_mem_noaccess((unsigned char *)b + old, size - old);
    return true;
}

static void set_empty(zh_arena *arena) {
    arena->cur = NULL;
    arena->end = NULL;
    arena->buffers = NULL;
}

void zh_arena_init(zh_arena *arena, zh_allocator child) {
    set_empty(arena);
    arena->child = child;
    arena->next_size = 0;
}

/* Frees buffers from `first` to the end of the list, newest first: over a fixed
 * buffer child each one is then the child's last allocation and really comes back. */
static void free_list(zh_arena *arena, struct zh__arena_buffer *first, uintptr_t ret_addr) {
    while (first != NULL) {
        struct zh__arena_buffer *next = first->next;
        free_buffer(arena, first, ret_addr);
        first = next;
    }
}

void zh__arena_deinit_for(zh_arena *arena, uintptr_t ret_addr) {
    free_list(arena, arena->buffers, ret_addr);
    set_empty(arena);
    arena->next_size = 0;
}

ZH_NOINLINE void zh_arena_deinit(zh_arena *arena) {
    zh__arena_deinit_for(arena, ZH_RETURN_ADDRESS());
}

size_t zh_arena_query_capacity(const zh_arena *arena) {
    size_t total = 0;
    for (const struct zh__arena_buffer *b = arena->buffers; b != NULL; b = b->next) {
        size_t usable = b->size - HEADER;
        total = usable > SIZE_MAX - total ? SIZE_MAX : total + usable;
    }
    return total;
}

/* Bytes left in the newest buffer (0 when there is none). */
static size_t room_left(const zh_arena *arena) {
    return (size_t)((uintptr_t)arena->end - (uintptr_t)arena->cur);
}

size_t zh_arena_query_available(const zh_arena *arena, size_t alignment) {
    if (ZH__UNLIKELY(!zh__is_pow2(alignment)))
        zh__panic("zh_arena_query_available", "alignment %zu is not a power of two", alignment);
    size_t avail = room_left(arena);
    size_t pad = zh__bump_pad((uintptr_t)arena->cur, alignment, ZH__REDZONE);
    return pad < avail ? avail - pad : 0;
}

/* ---- the growth sequence --------------------------------------------------------- */

/* The step after `size`: double, within [first, max]. */
static size_t next_step(size_t size) {
    if (size >= ZH_ARENA_MAX_BUFFER_SIZE / 2) return ZH_ARENA_MAX_BUFFER_SIZE;
    return size * 2 < ZH_ARENA_FIRST_BUFFER_SIZE ? ZH_ARENA_FIRST_BUFFER_SIZE : size * 2;
}

static size_t current_step(const zh_arena *arena) {
    return arena->next_size != 0 ? arena->next_size : ZH_ARENA_FIRST_BUFFER_SIZE;
}

/* The smallest step that holds `bytes` (header included), or the cap. */
static size_t step_holding(size_t bytes) {
    if (bytes >= ZH_ARENA_MAX_BUFFER_SIZE) return ZH_ARENA_MAX_BUFFER_SIZE;
    size_t step = zh__ceil_pow2(bytes);
    return step < ZH_ARENA_FIRST_BUFFER_SIZE ? ZH_ARENA_FIRST_BUFFER_SIZE : step;
}

/* ---- the slow path --------------------------------------------------------------- */

/* Asks the child to extend the newest buffer in place so that the block fits: by
 * the next step when the block fits in it (the sequence then advances, as if a
 * buffer of that step had been taken), or by exactly what a block larger than a
 * step needs (the sequence stays). A refused step is not retried smaller: a
 * child with a little slack (a page's tail, malloc's usable size) would then
 * grant a few bytes at a time, and every allocation would call it again. */
static bool grow_in_place(zh_arena *arena, size_t len, size_t alignment, uintptr_t ret_addr) {
    struct zh__arena_buffer *b = arena->buffers;
    if (b == NULL) return false;
    size_t used = (size_t)(arena->cur - (unsigned char *)b);
    size_t pad = zh__bump_pad((uintptr_t)arena->cur, alignment, ZH__REDZONE);
    if (len > SIZE_MAX - used - pad) return false;
    /* Whole malloc-aligned units, as every buffer size is: otherwise the buffer's
     * end is misaligned and a child that reclaims only its last block (a fixed
     * buffer) can no longer take it back at deinit. */
    size_t need;
    if (!zh__align_forward_checked(used + pad + len, ZH_MALLOC_ALIGNMENT, &need)) return false;
    size_t step = current_step(arena);
    if (b->size <= SIZE_MAX - step && need <= b->size + step) {
        if (!resize_buffer(arena, b, b->size + step, ret_addr)) return false;
        arena->next_size = next_step(step);
    } else if (!resize_buffer(arena, b, need, ret_addr)) {
        return false;
    }
    arena->end = buffer_end(b);
    return true;
}

static struct zh__arena_buffer *take_buffer(zh_arena *arena, size_t size, uintptr_t ret_addr) {
    struct zh__arena_buffer *b = zh_raw_alloc(arena->child, size, BUFFER_ALIGN, ret_addr);
    if (b == NULL) return NULL;
    b->size = size;
    b->next = arena->buffers;
    arena->buffers = b;
    use_buffer(arena, b);
    poison_data(b);
    return b;
}

/* The size to try after `size` was refused: half of it in whole malloc-aligned
 * units (every buffer length is one, see grow_in_place), but never below `need`. */
static size_t halved_size(size_t size, size_t need) {
    size_t half = zh__align_forward(size / 2, ZH_MALLOC_ALIGNMENT);
    return half < need || half >= size ? need : half;
}

/* A buffer of the geometric sequence, halving on refusal down to `need`. */
static bool add_ordinary_buffer(zh_arena *arena, size_t step, size_t need, uintptr_t ret_addr) {
    for (size_t size = step;; size = halved_size(size, need)) {
        if (take_buffer(arena, size, ret_addr) != NULL) {
            arena->next_size = next_step(size);
            return true;
        }
        if (size == need) return false;
    }
}

/* The most zh__bump_pad skips before a block at `alignment` from a malloc-aligned
 * cursor (a buffer's first usable byte): the redzone (ASan builds) rounded to
 * whole malloc-aligned units, then the padding to an alignment beyond malloc's. */
static size_t worst_pad_for(size_t alignment) {
    size_t redzone = zh__align_forward(ZH__REDZONE, ZH_MALLOC_ALIGNMENT);
    if (ZH__REDZONE && alignment < ZH__REDZONE_GRANULE) alignment = ZH__REDZONE_GRANULE;
    return redzone + (alignment > ZH_MALLOC_ALIGNMENT ? alignment - ZH_MALLOC_ALIGNMENT : 0);
}

/* A buffer that certainly holds `len` bytes at `alignment`. */
static bool add_buffer(zh_arena *arena, size_t len, size_t alignment, uintptr_t ret_addr) {
    size_t worst_pad = worst_pad_for(alignment);
    size_t need;
    if (len > SIZE_MAX - HEADER - worst_pad ||
        !zh__align_forward_checked(HEADER + worst_pad + len, ZH_MALLOC_ALIGNMENT, &need))
        return false;
    size_t step = current_step(arena);
    if (need <= step) return add_ordinary_buffer(arena, step, need, ret_addr);
    /* Its own size; the sequence still advances, so that a run of medium-sized
     * requests soon fits ordinary buffers again. */
    if (take_buffer(arena, need, ret_addr) == NULL) return false;
    arena->next_size = next_step(step);
    return true;
}

void *zh__arena_alloc_grow(zh_arena *arena, size_t len, size_t alignment, uintptr_t ret_addr) {
    if (grow_in_place(arena, len, alignment, ret_addr) ||
        add_buffer(arena, len, alignment, ret_addr))
        return zh__arena_bump(arena, len, alignment);
    return NULL;
}

/* What zh_arena_alloc does when the bump fails: a bad alignment, a zero length,
 * or a block that does not fit the newest buffer. */
static void *alloc_slow(zh_arena *arena, size_t len, size_t alignment, uintptr_t ret_addr) {
    if (ZH__UNLIKELY(!zh__is_pow2(alignment)))
        zh__panic("zh_arena_alloc", "alignment %zu is not a power of two", alignment);
    if (len == 0) return zh__zero_length_ptr(alignment);
    return zh__arena_alloc_grow(arena, len, alignment, ret_addr);
}

/* Not inlined anywhere (also not under LTO): its return address is what it names. */
ZH_NOINLINE void *zh__arena_alloc_slow(zh_arena *arena, size_t len, size_t alignment) {
    return alloc_slow(arena, len, alignment, ZH_RETURN_ADDRESS());
}

ZH_NOINLINE void *zh_arena_alloc(zh_arena *arena, size_t len, size_t alignment) {
    if (ZH__LIKELY(zh__is_pow2(alignment) && zh__arena_fits(arena, len, alignment)))
        return zh__arena_take(arena, len, alignment);
    return alloc_slow(arena, len, alignment, ZH_RETURN_ADDRESS());
}

/* ---- the vtable ---------------------------------------------------------------- */

/* True when [mem, mem + len) is the most recent block of the newest buffer. */
static bool is_last(const zh_arena *arena, const void *mem, size_t len) {
    return arena->buffers != NULL && (const unsigned char *)mem + len == arena->cur;
}

/* len > 0 and a valid zh_align by the vtable contract: no checks, straight to
 * the bump. */
static void *arena_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    zh_arena *arena = ctx;
    size_t alignment = zh_align_to_bytes(align);
    if (ZH__LIKELY(zh__arena_fits(arena, len, alignment)))
        return zh__arena_take(arena, len, alignment);
    return zh__arena_alloc_grow(arena, len, alignment, ret_addr);
}

static bool arena_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                         uintptr_t ret_addr) {
    (void)align, (void)ret_addr;
    zh_arena *arena = ctx;
    if (!is_last(arena, mem, len)) {
        if (new_len > len) return false;
    } else if (new_len <= len) {
        arena->cur -= len - new_len;
    } else {
        if (new_len - len > room_left(arena)) return false;
        arena->cur += new_len - len;
    }
    zh__track_resize(mem, len, new_len);
    return true;
}

static void *arena_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                         uintptr_t ret_addr) {
    return arena_resize(ctx, mem, len, align, new_len, ret_addr) ? mem : NULL;
}

static void arena_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)align, (void)ret_addr;
    zh_arena *arena = ctx;
    if (is_last(arena, mem, len)) arena->cur -= len + ZH__REDZONE; /* and its redzone (ASan) */
    zh__track_free(mem, len);
}

static const zh_allocator_vtable arena_vtable = {
    .alloc = arena_alloc,
    .resize = arena_resize,
    .remap = arena_remap,
    .free = arena_free,
};

zh_allocator zh_arena_allocator(zh_arena *arena) {
    return (zh_allocator){.ctx = arena, .vtable = &arena_vtable};
}

/* ---- reset ------------------------------------------------------------------------ */

static size_t requested_capacity(const zh_arena *arena, zh_arena_reset_mode mode,
                                 size_t limit) {
    switch (mode) {
    case ZH_ARENA_FREE_ALL:
        return 0;
    case ZH_ARENA_RETAIN_CAPACITY:
        return zh_arena_query_capacity(arena);
    case ZH_ARENA_RETAIN_WITH_LIMIT: {
        size_t capacity = zh_arena_query_capacity(arena);
        return limit < capacity ? limit : capacity;
    }
    }
    zh__panic("zh_arena_reset", "unknown reset mode %d", (int)mode);
}

/* The step that holds what the round took from the buffers: all the capacity but
 * the newest buffer's free tail (older buffers' tails count: they were lost). */
static size_t step_for_round(const zh_arena *arena) {
    size_t used = zh_arena_query_capacity(arena) - room_left(arena);
    return step_holding(used > SIZE_MAX - HEADER ? SIZE_MAX : used + HEADER);
}

/* Makes the single remaining buffer `keep` exactly `size` bytes: in place when
 * the child can, else by replacing it. False (and `keep` unchanged) on refusal. */
static bool resize_kept_buffer(zh_arena *arena, struct zh__arena_buffer *keep, size_t size,
                               uintptr_t ret_addr) {
    if (keep->size == size || resize_buffer(arena, keep, size, ret_addr)) return true;
    struct zh__arena_buffer *fresh = zh_raw_alloc(arena->child, size, BUFFER_ALIGN, ret_addr);
    if (fresh == NULL) return false;
    free_buffer(arena, keep, ret_addr);
    fresh->size = size;
    fresh->next = NULL;
    arena->buffers = fresh;
    return true;
}

bool zh__arena_reset_for(zh_arena *arena, zh_arena_reset_mode mode, size_t limit,
                         uintptr_t ret_addr) {
    size_t capacity = requested_capacity(arena, mode, limit);
    if (capacity == 0 || capacity > SIZE_MAX - HEADER) {
        bool ok = capacity == 0;
        size_t step = step_for_round(arena);
        zh__arena_deinit_for(arena, ret_addr);
        arena->next_size = step;
        return ok;
    }
    /* Keep the oldest buffer and free the rest, newest first. */
    struct zh__arena_buffer *keep = arena->buffers;
    while (keep->next != NULL) {
        struct zh__arena_buffer *next = keep->next;
        free_buffer(arena, keep, ret_addr);
        keep = next;
    }
    arena->buffers = keep;
    bool ok = resize_kept_buffer(arena, keep, HEADER + capacity, ret_addr);
    use_buffer(arena, arena->buffers);
    poison_data(arena->buffers);
    return ok;
}

ZH_NOINLINE bool zh_arena_reset(zh_arena *arena, zh_arena_reset_mode mode, size_t limit) {
    return zh__arena_reset_for(arena, mode, limit, ZH_RETURN_ADDRESS());
}
