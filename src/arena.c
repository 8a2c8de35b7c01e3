/* arena.c - Zig's ArenaAllocator: bump allocation in buffers from a child.
 *
 * Design: a singly linked list of buffers, newest first, each starting with a
 * small header (next link and the buffer's exact size, so it can be returned to
 * the child with the length it was allocated with). Allocation bumps `cur`
 * towards `end` inside the newest buffer; that part is inline in arena.h. The
 * slow path here first asks the child to grow the newest buffer in place, then
 * takes a new one following the growth policy documented in arena.h.
 *
 * Costs: an allocation that fits is a handful of instructions and no call; a
 * full buffer costs one or two child calls. Free and resize are O(1). Reset and
 * query_capacity walk the buffer list (O(buffers), and after a retaining reset
 * there is one buffer). Memory overhead: ZH_ARENA_HEADER_SIZE bytes per buffer,
 * plus the unused tail of each full buffer. */
#include "zheap/arena.h"

#include "common.h"

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

static void free_buffer(zh_arena *arena, struct zh__arena_buffer *b) {
    zh_raw_free(arena->child, b, b->size, BUFFER_ALIGN, ZH_RETURN_ADDRESS());
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
static void free_list(zh_arena *arena, struct zh__arena_buffer *first) {
    while (first != NULL) {
        struct zh__arena_buffer *next = first->next;
        free_buffer(arena, first);
        first = next;
    }
}

void zh_arena_deinit(zh_arena *arena) {
    free_list(arena, arena->buffers);
    set_empty(arena);
    arena->next_size = 0;
}

size_t zh_arena_query_capacity(const zh_arena *arena) {
    size_t total = 0;
    for (const struct zh__arena_buffer *b = arena->buffers; b != NULL; b = b->next) {
        size_t usable = b->size - HEADER;
        total = usable > SIZE_MAX - total ? SIZE_MAX : total + usable;
    }
    return total;
}

/* ---- the slow path --------------------------------------------------------------- */

static size_t padding_for(const unsigned char *p, size_t alignment) {
    return (size_t)(-(uintptr_t)p) & (alignment - 1);
}

/* Bumps when the block fits in the newest buffer; NULL otherwise. */
static void *bump(zh_arena *arena, size_t len, size_t alignment) {
    if (arena->buffers == NULL) return NULL;
    size_t avail = (size_t)(arena->end - arena->cur);
    size_t pad = padding_for(arena->cur, alignment);
    if (len > avail || pad > avail - len) return NULL;
    unsigned char *p = arena->cur + pad;
    arena->cur = p + len;
    return p;
}

/* Asks the child to extend the newest buffer just enough for the block. */
static bool grow_in_place(zh_arena *arena, size_t len, size_t alignment) {
    struct zh__arena_buffer *b = arena->buffers;
    if (b == NULL) return false;
    size_t used = (size_t)(arena->cur - (unsigned char *)b);
    size_t pad = padding_for(arena->cur, alignment);
    if (len > SIZE_MAX - used - pad) return false;
    size_t new_size = used + pad + len;
    if (!zh_raw_resize(arena->child, b, b->size, BUFFER_ALIGN, new_size, ZH_RETURN_ADDRESS()))
        return false;
    b->size = new_size;
    arena->end = buffer_end(b);
    return true;
}

static struct zh__arena_buffer *take_buffer(zh_arena *arena, size_t size) {
    struct zh__arena_buffer *b =
        zh_raw_alloc(arena->child, size, BUFFER_ALIGN, ZH_RETURN_ADDRESS());
    if (b == NULL) return NULL;
    b->size = size;
    b->next = arena->buffers;
    arena->buffers = b;
    use_buffer(arena, b);
    return b;
}

/* The ordinary size after `size`: double, within [first, max]. */
static size_t next_step(size_t size) {
    if (size >= ZH_ARENA_MAX_BUFFER_SIZE / 2) return ZH_ARENA_MAX_BUFFER_SIZE;
    return size * 2 < ZH_ARENA_FIRST_BUFFER_SIZE ? ZH_ARENA_FIRST_BUFFER_SIZE : size * 2;
}

/* An ordinary buffer of the geometric sequence, halving on refusal down to `need`. */
static bool add_ordinary_buffer(zh_arena *arena, size_t step, size_t need) {
    for (size_t size = step;; size = size / 2 < need ? need : size / 2) {
        if (take_buffer(arena, size) != NULL) {
            arena->next_size = next_step(size);
            return true;
        }
        if (size == need) return false;
    }
}

/* A buffer that certainly holds `len` bytes at `alignment`. */
static bool add_buffer(zh_arena *arena, size_t len, size_t alignment) {
    /* Usable bytes start malloc-aligned, so at most this much padding is needed. */
    size_t worst_pad = alignment > ZH_MALLOC_ALIGNMENT ? alignment - ZH_MALLOC_ALIGNMENT : 0;
    size_t need;
    if (len > SIZE_MAX - HEADER - worst_pad ||
        !zh__align_forward_checked(HEADER + worst_pad + len, ZH_MALLOC_ALIGNMENT, &need))
        return false;
    size_t step = arena->next_size != 0 ? arena->next_size : ZH_ARENA_FIRST_BUFFER_SIZE;
    if (need <= step) return add_ordinary_buffer(arena, step, need);
    /* Its own size; the sequence still advances, so that a run of medium-sized
     * requests soon fits ordinary buffers again. */
    if (take_buffer(arena, need) == NULL) return false;
    arena->next_size = next_step(step);
    return true;
}

void *zh__arena_alloc_slow(zh_arena *arena, size_t len, size_t alignment) {
    if (ZH_UNLIKELY(!zh__is_pow2(alignment)))
        zh__panic("zh_arena_alloc", "alignment %zu is not a power of two", alignment);
    if (len == 0) return zh__zero_length_ptr(alignment);
    void *p = bump(arena, len, alignment);
    if (p != NULL) return p;
    if (grow_in_place(arena, len, alignment) || add_buffer(arena, len, alignment))
        return bump(arena, len, alignment);
    return NULL;
}

/* ---- the vtable ---------------------------------------------------------------- */

/* True when [mem, mem + len) is the most recent block of the newest buffer. */
static bool is_last(const zh_arena *arena, const void *mem, size_t len) {
    return arena->buffers != NULL && (const unsigned char *)mem + len == arena->cur;
}

static void *arena_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ret_addr;
    return zh_arena_alloc(ctx, len, zh_align_to_bytes(align));
}

static bool arena_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                         uintptr_t ret_addr) {
    (void)align, (void)ret_addr;
    zh_arena *arena = ctx;
    if (!is_last(arena, mem, len)) return new_len <= len;
    if (new_len <= len) {
        arena->cur -= len - new_len;
        return true;
    }
    if (new_len - len > (size_t)(arena->end - arena->cur)) return false;
    arena->cur += new_len - len;
    return true;
}

static void *arena_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                         uintptr_t ret_addr) {
    return arena_resize(ctx, mem, len, align, new_len, ret_addr) ? mem : NULL;
}

static void arena_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)align, (void)ret_addr;
    zh_arena *arena = ctx;
    if (is_last(arena, mem, len)) arena->cur -= len;
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

/* Makes the single remaining buffer `keep` exactly `size` bytes: in place when
 * the child can, else by replacing it. False (and `keep` unchanged) on refusal. */
static bool resize_kept_buffer(zh_arena *arena, struct zh__arena_buffer *keep, size_t size) {
    if (keep->size == size) return true;
    if (zh_raw_resize(arena->child, keep, keep->size, BUFFER_ALIGN, size,
                      ZH_RETURN_ADDRESS())) {
        keep->size = size;
        return true;
    }
    struct zh__arena_buffer *fresh =
        zh_raw_alloc(arena->child, size, BUFFER_ALIGN, ZH_RETURN_ADDRESS());
    if (fresh == NULL) return false;
    free_buffer(arena, keep);
    fresh->size = size;
    fresh->next = NULL;
    arena->buffers = fresh;
    return true;
}

bool zh_arena_reset(zh_arena *arena, zh_arena_reset_mode mode, size_t limit) {
    size_t capacity = requested_capacity(arena, mode, limit);
    if (capacity == 0 || capacity > SIZE_MAX - HEADER) {
        bool ok = capacity == 0;
        zh_arena_deinit(arena);
        return ok;
    }
    /* Keep the oldest buffer and free the rest, newest first. */
    struct zh__arena_buffer *keep = arena->buffers;
    while (keep->next != NULL) {
        struct zh__arena_buffer *next = keep->next;
        free_buffer(arena, keep);
        keep = next;
    }
    arena->buffers = keep;
    bool ok = resize_kept_buffer(arena, keep, HEADER + capacity);
    use_buffer(arena, arena->buffers);
    return ok;
}
