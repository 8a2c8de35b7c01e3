/* debug.c - the debug allocator (Zig's std.heap.DebugAllocator), with overflow and
 * write-after-free checks and ASan-style reports.
 *
 * Purpose: find leaks, double frees, invalid and mismatched frees, heap overflows
 * and writes after free in a program that only knows zh_allocator, without
 * recompiling it, and say where each block was allocated and freed.
 *
 * Design (Zig's, see include/zheap/debug.h):
 * - Small blocks: size class = max(ceil_pow2(len), alignment); one bucket of
 *   page_size bytes per class at a time, slots from the front, metadata at the back
 *   (header with canary and owner, used bits, requested sizes, alignments, thread
 *   ids, two traces per slot). Slots are taken in order and never reused, so a
 *   bucket retires when every slot it handed out is freed: into a FIFO quarantine
 *   of bucket_quarantine buckets (Zig: straight back to the backing allocator; with
 *   never_unmap to a retired list kept to the end). A bucket leaving the quarantine
 *   is checked and its resident page reused by the next new bucket (or returned),
 *   which saves the system call and fresh page faults Zig pays per bucket. Buckets
 *   form a doubly linked list per class so that any one can be unlinked (Zig #22892).
 * - Large blocks: straight from the backing allocator (+ a canary tail), tracked in
 *   an open-addressing table (linear probing, backward-shift deletion) whose memory
 *   comes from the backing allocator and is reserved before the block is allocated.
 * - Beyond Zig: the slack between a block's length and its slot end (and the large
 *   tail) holds FILL_BYTE, checked on free, resize and leak check; a free fills the
 *   requested bytes with the same byte, so a freed slot is FILL_BYTE whole, checked
 *   when the bucket leaves the quarantine (one scan of the bucket), at detect_leaks
 *   and at destroy; a slot of a page that left the quarantine is handed out again
 *   without rewriting its slack. Damage is reported once (then repaired).
 * - Threads: one lock (zh__lock or the user's hook). Traces are captured before the
 *   lock is taken; reports are copied out under the lock and formatted, symbolized
 *   and handed to the sink after it is released; bucket retirement scans outside it.
 *   A thread-local guard serves calls nested in a report (a sink or symbolizer that
 *   allocates) without traces or reports, and aborts with a message instead of
 *   deadlocking when the backing allocator or lock hook calls back in.
 * - Memory checkers (core/track.h, checker_hooks): under ASan or memcheck only the
 *   requested bytes of live blocks are addressable and an instance is a memcheck
 *   mempool; the allocator's own canary and fill accesses open and close the bytes.
 *   Outside checker builds the hooks are empty and fold away.
 * Costs: an allocation is a trace capture (0 frames: none; ~30 ns by frame
 * pointer, ~200 ns through libunwind), a lock, a bit set, a few stores and the slack
 * canary (not in a reused slot); a free also checks the canary and fills the block,
 * and the slot is scanned once more when its bucket leaves the quarantine
 * (docs/benchmarks.md). Memory: each
 * slot carries 2 * frames words of traces plus ~14 bytes, never-reused slots waste up
 * to a bucket per class, and the quarantine holds up to 2 * bucket_quarantine pages. */
#include "zheap/debug.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "core/track.h"
#include "platform/platform.h"
#include "zheap/page.h"

/* One pattern for the slack after a block and for a freed block: a freed slot is
 * then filled over its requested bytes only (its slack already holds the pattern,
 * checked by the free), and a slot that leaves the quarantine checked is handed out
 * again without writing its slack (bucket.clean_slots): fewer bytes moved per
 * block (docs/benchmarks.md). Reports tell the two apart by where the damage is. */
#define FILL_BYTE 0xdd
#define CANARY_BYTE FILL_BYTE /* slack after a block, tail of a large one */
#define FREE_BYTE FILL_BYTE   /* a freed block */
#define CLASSES_MAX 32
#define REPORT_BUFFER 16384
#define REPORT_BYTES_SHOWN 16
#define DEFAULT_FRAMES 6

/* ---- state -------------------------------------------------------------------------- */

typedef struct bucket {
    uint32_t allocated_count; /* slots handed out, in order */
    uint32_t freed_count;
    struct bucket *prev, *next; /* prev: older bucket of the class; next: newer */
    uintptr_t canary;           /* config.canary: "this is a debug bucket" */
    const struct zh_debug *owner;
    uint32_t class_index;
    uint32_t clean_slots; /* slots below this hold FILL_BYTE whole until handed out */
} bucket;

/* Where a class's metadata sits, as offsets from its bucket header. */
typedef struct class_layout {
    uint32_t slot_count;
    uint32_t header_offset; /* from the page start */
    uint32_t sizes, aligns, tids, traces;
} class_layout;

typedef struct large {
    uintptr_t addr; /* 0: empty table slot */
    size_t len;     /* requested length */
    uint32_t alloc_tid, free_tid;
    zh_align align;
    bool freed; /* retained (retain_metadata / never_unmap) */
    /* followed by uintptr_t traces[2][frames] */
} large;

typedef struct large_table {
    unsigned char *entries; /* cap * stride bytes from the backing allocator */
    size_t cap, count, stride;
} large_table;

struct zh_debug {
    zh_debug_config cfg;
    size_t frames;
    zh__stack_method method;
    unsigned class_count; /* classes 0 .. class_count-1 are small */
    class_layout layout[CLASSES_MAX];
    bucket *current[CLASSES_MAX]; /* newest bucket of each class (list head) */
    bucket *retired;              /* never_unmap: retired buckets, linked by next */
    bucket *quarantine_head, *quarantine_tail; /* retired, not yet checked (FIFO by next) */
    size_t quarantined;
    bucket *ready; /* checked quarantine leavers whose pages new buckets take first */
    size_t ready_count;
    large_table large;
    size_t total_requested, limit;
    size_t live_count, peak_bytes, total_allocations, total_frees, buckets, large_count,
        backing_bytes;
    _Atomic(size_t) reports;
    zh__lock lock;
    bool track; /* blocks are described to a memory checker (core/track.h) */
};

typedef enum trace_kind { TRACE_ALLOC, TRACE_FREE } trace_kind;

typedef struct trace {
    uintptr_t f[ZH_DEBUG_FRAMES_MAX];
    size_t n;
} trace;

/* A problem found under the lock, copied out to be reported after it. */
typedef struct report {
    bool active;
    zh_debug_event event;
    const char *op;     /* "free", "resize", "remap", "leak check", ... */
    const char *detail; /* for invalid frees */
    uintptr_t addr;     /* the block (or the pointer given) */
    size_t len, given_len;
    zh_align align, given_align;
    uint32_t alloc_tid, free_tid;
    trace alloc, freed;
    size_t bad_offset; /* overflow / use-after-free: first damaged byte, from addr */
    size_t bad_count;
    unsigned char found[REPORT_BYTES_SHOWN];
    unsigned char expected;
} report;

/* ---- thread-local guard -------------------------------------------------------------- */

static ZH__THREAD_LOCAL unsigned tl_reporting;    /* >0 inside a report of this thread */
static ZH__THREAD_LOCAL const zh_debug *tl_holder; /* instance whose lock we hold */
static ZH__THREAD_LOCAL uint32_t tl_tid;

static uint32_t current_tid(void) {
    if (ZH__UNLIKELY(tl_tid == 0)) {
        uint64_t id = zh__os_thread_id();
        tl_tid = id != 0 ? (uint32_t)id : 1;
    }
    return tl_tid;
}

static const zh_debug *lock_instance(zh_debug *d) {
    const zh_debug *outer = tl_holder;
    if (ZH__UNLIKELY(outer == d))
        zh__panic("zh_debug_allocator", "re-entered while holding its lock (the backing "
                                        "allocator or lock hook calls back into it)");
    if (d->cfg.lock_hook.lock != NULL)
        d->cfg.lock_hook.lock(d->cfg.lock_hook.user);
    else if (d->cfg.thread_safe)
        zh__lock_acquire(&d->lock);
    tl_holder = d;
    return outer;
}

static void unlock_instance(zh_debug *d, const zh_debug *outer) {
    tl_holder = outer;
    if (d->cfg.lock_hook.unlock != NULL)
        d->cfg.lock_hook.unlock(d->cfg.lock_hook.user);
    else if (d->cfg.thread_safe)
        zh__lock_release(&d->lock);
}

/* ---- traces ---------------------------------------------------------------------------- */

/* Never empty when frames > 0 and the caller gave its address. */
static void capture(const zh_debug *d, uintptr_t ret_addr, trace *t) {
    t->n = 0;
    if (d->frames == 0) return;
    if (tl_reporting == 0) t->n = zh__os_stack_capture(d->method, ret_addr, t->f, d->frames);
    if (t->n == 0 && ret_addr != 0) t->f[t->n++] = ret_addr;
}

static void store_trace(const zh_debug *d, uintptr_t *dst, const trace *t) {
    if (d->frames == 0) return;
    memcpy(dst, t->f, t->n * sizeof *dst);
    memset(dst + t->n, 0, (d->frames - t->n) * sizeof *dst);
}

static void load_trace(const zh_debug *d, const uintptr_t *src, trace *t) {
    t->n = 0;
    while (t->n < d->frames && src[t->n] != 0) {
        t->f[t->n] = src[t->n];
        t->n++;
    }
}

/* ---- byte patterns ----------------------------------------------------------------------- */

/* Index of the first byte in [p, p + len) that is not FILL_BYTE, or len. An intact
 * run is one memcmp of the run against itself a pattern chunk further on (after
 * the first chunk matched the pattern, every byte equals the one CHUNK before it),
 * at the C library's vector speed and without a call per chunk; damage is then
 * located chunk by chunk. */
#define P4(x) x, x, x, x
#define P16(x) P4(x), P4(x), P4(x), P4(x)
#define P64(x) P16(x), P16(x), P16(x), P16(x)
#define P256(x) P64(x), P64(x), P64(x), P64(x)
static const unsigned char fill_pattern[256] = {P256(FILL_BYTE)};

static size_t first_mismatch(const unsigned char *p, size_t len) {
    enum { CHUNK = sizeof fill_pattern };
    if (len > CHUNK && memcmp(p, fill_pattern, CHUNK) == 0 &&
        memcmp(p + CHUNK, p, len - CHUNK) == 0)
        return len;
    size_t i = 0;
    while (i < len) {
        size_t n = len - i < CHUNK ? len - i : CHUNK;
        if (memcmp(p + i, fill_pattern, n) != 0) break;
        i += n;
    }
    for (; i < len; i++)
        if (p[i] != FILL_BYTE) return i;
    return len;
}

/* Fills in the damage of [p + from, p + to) into r (relative to the block start p);
 * false when the pattern is intact. Repairs it so that it is reported once. */
static bool find_damage(unsigned char *p, size_t from, size_t to, report *r) {
    size_t bad = first_mismatch(p + from, to - from);
    if (bad == to - from) return false;
    r->bad_offset = from + bad;
    r->expected = FILL_BYTE;
    size_t last = to;
    while (last > r->bad_offset && p[last - 1] == FILL_BYTE) last--;
    r->bad_count = last - r->bad_offset;
    size_t shown = r->bad_count < REPORT_BYTES_SHOWN ? r->bad_count : REPORT_BYTES_SHOWN;
    memcpy(r->found, p + r->bad_offset, shown);
    memset(p + from, FILL_BYTE, to - from);
    return true;
}

/* ---- report formatting -------------------------------------------------------------------- */

typedef struct text {
    char *buf;
    size_t len, cap;
} text;

ZH_PRINTF(2, 3) static void put(text *t, const char *fmt, ...) {
    if (t->len + 1 >= t->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    t->len += (size_t)n;
    if (t->len >= t->cap) t->len = t->cap - 1;
}

/* The function that a trace's first frame names ("??" when unknown). */
static void first_function(const trace *t, char *out, size_t cap) {
    zh__symbol sym;
    snprintf(out, cap, "??");
    if (t->n > 0 && zh__os_symbolize(t->f[0], &sym) && sym.function[0] != '\0')
        snprintf(out, cap, "%s", sym.function);
}

static void put_trace(text *t, const char *heading, uint32_t tid, const trace *tr) {
    put(t, "%s by thread %u at:\n", heading, (unsigned)tid);
    if (tr->n == 0) {
        put(t, "    (no stack trace: stack_trace_frames is 0 or capture is unavailable)\n");
        return;
    }
    for (size_t i = 0; i < tr->n; i++) {
        zh__symbol sym;
        zh__os_symbolize(tr->f[i], &sym);
        put(t, "    #%zu 0x%012llx in ", i, (unsigned long long)tr->f[i]);
        if (sym.function[0] != '\0')
            put(t, "%s+0x%llx", sym.function, (unsigned long long)sym.function_offset);
        else
            put(t, "??");
        if (sym.module[0] != '\0') put(t, " (%s+0x%llx)", sym.module, (unsigned long long)sym.module_offset);
        if (sym.file[0] != '\0') put(t, " %s:%u", sym.file, sym.line);
        put(t, "\n");
    }
}

static const char *event_name(zh_debug_event e) {
    switch (e) {
    case ZH_DEBUG_LEAK: return "memory-leak";
    case ZH_DEBUG_DOUBLE_FREE: return "double-free";
    case ZH_DEBUG_INVALID_FREE: return "invalid-free";
    case ZH_DEBUG_SIZE_MISMATCH: return "size-mismatch";
    case ZH_DEBUG_ALIGN_MISMATCH: return "alignment-mismatch";
    case ZH_DEBUG_OVERFLOW: return "heap-buffer-overflow";
    case ZH_DEBUG_USE_AFTER_FREE: return "write-after-free";
    case ZH_DEBUG_INVALID_CONFIG: return "invalid-config";
    case ZH_DEBUG_LOG: break;
    }
    return "log";
}

static void put_bytes(text *t, const report *r) {
    size_t shown = r->bad_count < REPORT_BYTES_SHOWN ? r->bad_count : REPORT_BYTES_SHOWN;
    put(t, "%zu byte%s damaged at offset %zu (0x%llx), found:", r->bad_count,
        r->bad_count == 1 ? "" : "s", r->bad_offset,
        (unsigned long long)(r->addr + r->bad_offset));
    for (size_t i = 0; i < shown; i++) put(t, " %02x", r->found[i]);
    put(t, "%s, expected %02x\n", shown < r->bad_count ? " ..." : "", r->expected);
}

static void deliver(const zh_debug_config *cfg, zh_debug_event event, const char *s,
                    size_t len) {
    if (cfg->report != NULL)
        cfg->report(cfg->report_user, event, s, len);
    else
        zh__os_write_stderr(s, len);
}

/* Formats and delivers `r`; `now` is the trace of the operation that found it. */
ZH_NOINLINE static void emit(zh_debug *d, const report *r, const trace *now) {
    char buf[REPORT_BUFFER];
    text t = {buf, 0, sizeof buf};
    uint32_t tid = current_tid();
    const char *kind = event_name(r->event);
    tl_reporting++;
    put(&t, "=================================================================\n");
    put(&t, "==zheap== ERROR: %s on address 0x%llx", kind, (unsigned long long)r->addr);
    switch (r->event) {
    case ZH_DEBUG_SIZE_MISMATCH:
        put(&t, ": allocated %zu bytes, %s with %zu bytes (alignment %zu)", r->len, r->op,
            r->given_len, zh_align_to_bytes(r->align));
        break;
    case ZH_DEBUG_ALIGN_MISMATCH:
        put(&t, ": allocated with alignment %zu, %s with alignment %zu (%zu bytes)",
            zh_align_to_bytes(r->align), r->op, zh_align_to_bytes(r->given_align), r->len);
        break;
    case ZH_DEBUG_INVALID_FREE:
        put(&t, " (%zu bytes, alignment %zu) in %s: %s", r->given_len,
            zh_align_to_bytes(r->given_align), r->op, r->detail);
        break;
    default:
        put(&t, " (%zu bytes, alignment %zu) found in %s", r->len, zh_align_to_bytes(r->align),
            r->op);
        break;
    }
    put(&t, " by thread %u\n", (unsigned)tid);
    if (r->event == ZH_DEBUG_OVERFLOW || r->event == ZH_DEBUG_USE_AFTER_FREE) put_bytes(&t, r);
    const char *now_heading = strcmp(r->op, "free") == 0     ? "freed"
                              : strcmp(r->op, "resize") == 0 ? "resized"
                              : strcmp(r->op, "remap") == 0  ? "remapped"
                                                             : NULL;
    if (now != NULL && now_heading != NULL) put_trace(&t, now_heading, tid, now);
    if (r->event == ZH_DEBUG_DOUBLE_FREE && r->freed.n > 0)
        put_trace(&t, "previously freed", r->free_tid, &r->freed);
    else if (r->event == ZH_DEBUG_USE_AFTER_FREE)
        put_trace(&t, "freed", r->free_tid, &r->freed);
    if (r->alloc.n > 0 || r->event != ZH_DEBUG_INVALID_FREE)
        put_trace(&t, "allocated", r->alloc_tid, &r->alloc);
    char where[160];
    first_function(now != NULL && now->n > 0 ? now : &r->alloc, where, sizeof where);
    put(&t, "SUMMARY: zheap: %s of %zu bytes at 0x%llx in %s\n", kind,
        r->event == ZH_DEBUG_INVALID_FREE ? r->given_len : r->len, (unsigned long long)r->addr,
        where);
    atomic_fetch_add_explicit(&d->reports, 1, memory_order_relaxed);
    if (t.len + 1 >= t.cap) memcpy(buf + t.cap - 5, "...\n", 4), t.len = t.cap - 1;
    deliver(&d->cfg, r->event, buf, t.len);
    tl_reporting--;
}

/* Reports collected by one operation: the trace of the call, captured outside the
 * lock only when something is reported. The common case (nothing) stays inline;
 * the report buffers live in the out-of-line part, off the hot path's stack. */
ZH_NOINLINE static void emit_reports(zh_debug *d, report *reps, size_t n, uintptr_t ret_addr) {
    trace now;
    bool captured = false;
    for (size_t i = 0; i < n; i++) {
        if (!reps[i].active) continue;
        if (!captured) capture(d, ret_addr, &now), captured = true;
        emit(d, &reps[i], &now);
    }
}

static void emit_pending(zh_debug *d, report *reps, size_t n, uintptr_t ret_addr) {
    if (tl_reporting != 0) return; /* nested in a report: served silently */
    for (size_t i = 0; i < n; i++)
        if (reps[i].active) {
            emit_reports(d, reps, n, ret_addr);
            return;
        }
}

ZH_NOINLINE ZH_PRINTF(2, 3) static void log_line(zh_debug *d, const char *fmt, ...) {
    if (tl_reporting != 0) return;
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    size_t len = (size_t)n < sizeof buf - 1 ? (size_t)n : sizeof buf - 2;
    buf[len++] = '\n';
    tl_reporting++;
    deliver(&d->cfg, ZH_DEBUG_LOG, buf, len);
    tl_reporting--;
}

/* ---- size classes and bucket layout ---------------------------------------------------------- */

/* Zig's size class: max(len rounded up to a power of two, alignment), as a log2. */
static unsigned size_class(size_t len, zh_align align) {
    unsigned bits = zh__ceil_log2(len);
    return bits > align ? bits : align;
}

/* Bytes of metadata (header included) for n slots; fills offsets if lay != NULL. */
static size_t metadata_size(size_t n, size_t frames, class_layout *lay) {
    size_t used = sizeof(bucket);
    size_t words = (n + sizeof(uintptr_t) * 8 - 1) / (sizeof(uintptr_t) * 8);
    size_t sizes = used + words * sizeof(uintptr_t);
    size_t aligns = sizes + n * sizeof(uint32_t);
    size_t tids = zh__align_forward(aligns + n, sizeof(uint32_t));
    size_t traces = zh__align_forward(tids + 2 * n * sizeof(uint32_t), sizeof(uintptr_t));
    if (lay != NULL) {
        lay->sizes = (uint32_t)sizes;
        lay->aligns = (uint32_t)aligns;
        lay->tids = (uint32_t)tids;
        lay->traces = (uint32_t)traces;
    }
    return traces + n * 2 * frames * sizeof(uintptr_t);
}

#define HEADER_ALIGN 16

static bool slots_fit(size_t page_size, size_t slot_size, size_t n, size_t frames) {
    size_t meta = metadata_size(n, frames, NULL);
    if (meta + HEADER_ALIGN > page_size) return false;
    size_t header = zh__align_backward(page_size - meta, HEADER_ALIGN);
    return n * slot_size <= header;
}

/* The most slots of `slot_size` that fit with their metadata; 0 if not even two. */
static size_t slot_count_for(size_t page_size, size_t slot_size, size_t frames) {
    size_t lo = 2, hi = page_size / slot_size;
    if (hi < lo || !slots_fit(page_size, slot_size, lo, frames)) return 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (slots_fit(page_size, slot_size, mid, frames))
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

static uintptr_t *used_bits(bucket *b) { return (uintptr_t *)(void *)(b + 1); }
static uint32_t *slot_sizes(const zh_debug *d, bucket *b) {
    return (uint32_t *)(void *)((unsigned char *)b + d->layout[b->class_index].sizes);
}
static zh_align *slot_aligns(const zh_debug *d, bucket *b) {
    return (zh_align *)((unsigned char *)b + d->layout[b->class_index].aligns);
}
static uint32_t *slot_tids(const zh_debug *d, bucket *b, uint32_t slot) {
    return (uint32_t *)(void *)((unsigned char *)b + d->layout[b->class_index].tids) + 2 * slot;
}
static uintptr_t *slot_trace(const zh_debug *d, bucket *b, uint32_t slot, trace_kind kind) {
    uintptr_t *all = (uintptr_t *)(void *)((unsigned char *)b + d->layout[b->class_index].traces);
    return all + ((size_t)slot * 2 + kind) * d->frames;
}
static bool slot_used(bucket *b, uint32_t slot) {
    const size_t bits = sizeof(uintptr_t) * 8;
    return (used_bits(b)[slot / bits] >> (slot % bits)) & 1;
}
static void set_used(bucket *b, uint32_t slot, bool used) {
    const size_t bits = sizeof(uintptr_t) * 8;
    uintptr_t mask = (uintptr_t)1 << (slot % bits);
    if (used)
        used_bits(b)[slot / bits] |= mask;
    else
        used_bits(b)[slot / bits] &= ~mask;
}

static uintptr_t page_of(const zh_debug *d, uintptr_t addr) {
    return zh__align_backward_addr(addr, d->cfg.page_size);
}
static bucket *header_of(const zh_debug *d, uintptr_t page, unsigned cls) {
    return (bucket *)(page + d->layout[cls].header_offset);
}
static unsigned char *slot_addr(const zh_debug *d, bucket *b, uint32_t slot) {
    return (unsigned char *)page_of(d, (uintptr_t)b) + ((size_t)slot << b->class_index);
}

/* ---- memory checkers (core/track.h) --------------------------------------------------------------
 * With checker_hooks in a checker build, the instance is a group (a memcheck mempool)
 * and only the requested bytes of live blocks are accessible: slack (canary), freed
 * and never-handed-out slots, and a large block's canary tail are no-access. The
 * allocator's own reads and writes of those bytes are bracketed by open_bytes and
 * close_bytes. Metadata stays accessible (the program never sees it). */

static bool tracking(const zh_debug *d) { return ZH__TRACK_ENABLED && d->track; }

/* Under ASan, classes below one 8-byte shadow granule share granules between slots,
 * which its shadow cannot describe: those slots are left undescribed. */
static bool slot_tracked(const zh_debug *d, unsigned cls) {
#if defined(ZH__TRACK_ASAN)
    return tracking(d) && cls >= 3;
#else
    (void)cls;
    return tracking(d);
#endif
}

/* Opens no-access bytes for the allocator's own access (defined: it reads back
 * what it wrote), and closes them again. */
static void open_bytes(bool tracked, void *p, size_t n) {
    if (tracked) zh__track_mem_defined(p, n);
}
static void close_bytes(bool tracked, void *p, size_t n) {
    if (tracked) zh__track_mem_noaccess(p, n);
}

/* A block of len bytes in a slot (or a large block) of `bytes` is handed out: the
 * requested bytes become usable, the rest no-access. */
static void track_handout(zh_debug *d, bool tracked, void *p, size_t len, size_t bytes) {
    if (!tracked) return;
    zh__track_mem_noaccess(p, bytes);
    zh__track_group_alloc(d, p, len);
}

/* The block is given back: all of its `bytes` no-access. */
static void track_giveback(zh_debug *d, bool tracked, void *p, size_t len, size_t bytes) {
    if (!tracked) return;
    zh__track_group_free(d, p, len);
    zh__track_mem_noaccess(p, bytes);
}

/* Memory goes back to the backing allocator as it came (no poison left behind). */
static void track_return(const zh_debug *d, void *p, size_t n) {
    if (tracking(d)) zh__track_mem_undefined(p, n);
}

/* Copies a slot's metadata into a report. */
static void describe_slot(const zh_debug *d, bucket *b, uint32_t slot, report *r) {
    r->addr = (uintptr_t)slot_addr(d, b, slot);
    r->len = slot_sizes(d, b)[slot];
    r->align = slot_aligns(d, b)[slot];
    r->alloc_tid = slot_tids(d, b, slot)[0];
    r->free_tid = slot_tids(d, b, slot)[1];
    load_trace(d, slot_trace(d, b, slot, TRACE_ALLOC), &r->alloc);
    load_trace(d, slot_trace(d, b, slot, TRACE_FREE), &r->freed);
}

static void start_report(report *r, zh_debug_event event, const char *op) {
    r->active = true;
    r->event = event;
    r->op = op;
    r->detail = "";
    r->alloc.n = r->freed.n = 0;
    r->alloc_tid = r->free_tid = 0;
    r->bad_count = r->bad_offset = 0;
}

/* ---- large table ------------------------------------------------------------------------------ */

static large *large_at(const large_table *t, size_t i) {
    return (large *)(void *)(t->entries + i * t->stride);
}
static uintptr_t *large_trace(const zh_debug *d, large *e, trace_kind kind) {
    return (uintptr_t *)(void *)(e + 1) + (size_t)kind * d->frames;
}
static size_t large_hash(uintptr_t addr, size_t cap) {
    return (size_t)(((uint64_t)(addr >> 4) * 0x9e3779b97f4a7c15ULL) >> 20) & (cap - 1);
}

static large *large_find(zh_debug *d, uintptr_t addr) {
    large_table *t = &d->large;
    if (t->cap == 0) return NULL;
    for (size_t i = large_hash(addr, t->cap);; i = (i + 1) & (t->cap - 1)) {
        large *e = large_at(t, i);
        if (e->addr == addr) return e;
        if (e->addr == 0) return NULL;
    }
}

static large *large_slot_for(large_table *t, uintptr_t addr) {
    for (size_t i = large_hash(addr, t->cap);; i = (i + 1) & (t->cap - 1)) {
        large *e = large_at(t, i);
        if (e->addr == addr || e->addr == 0) return e;
    }
}

/* Room for `extra` more entries at a load of at most 1/2; false (nothing changed) on
 * out-of-memory. */
static bool large_reserve(zh_debug *d, size_t extra) {
    large_table *t = &d->large;
    if ((t->count + extra) * 2 <= t->cap) return true;
    size_t cap = t->cap ? t->cap * 2 : 16;
    while ((t->count + extra) * 2 > cap) cap *= 2;
    zh_align align = zh__log2_pow2(_Alignof(max_align_t));
    unsigned char *mem = d->cfg.backing.vtable->alloc(d->cfg.backing.ctx, cap * t->stride,
                                                      align, ZH_RETURN_ADDRESS());
    if (mem == NULL) return false;
    memset(mem, 0, cap * t->stride);
    large_table grown = {mem, cap, t->count, t->stride};
    for (size_t i = 0; i < t->cap; i++) {
        large *e = large_at(t, i);
        if (e->addr != 0) memcpy(large_slot_for(&grown, e->addr), e, t->stride);
    }
    if (t->entries != NULL)
        d->cfg.backing.vtable->free(d->cfg.backing.ctx, t->entries, t->cap * t->stride, align,
                                    ZH_RETURN_ADDRESS());
    *t = grown;
    return true;
}

/* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
static void large_remove(zh_debug *d, large *victim) {
    large_table *t = &d->large;
    size_t hole = (size_t)((unsigned char *)victim - t->entries) / t->stride;
    for (size_t i = (hole + 1) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        large *e = large_at(t, i);
        if (e->addr == 0) break;
        size_t home = large_hash(e->addr, t->cap);
        /* e may move into the hole if its home is not in (hole, i]. */
        bool stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (stays) continue;
        memcpy(large_at(t, hole), e, t->stride);
        hole = i;
    }
    large_at(t, hole)->addr = 0;
    t->count--;
}

static size_t large_tail(const zh_debug *d) {
    return d->cfg.check_overflow ? ZH_DEBUG_LARGE_TAIL : 0;
}

static void describe_large(const zh_debug *d, large *e, report *r) {
    r->addr = e->addr;
    r->len = e->len;
    r->align = e->align;
    r->alloc_tid = e->alloc_tid;
    r->free_tid = e->free_tid;
    load_trace(d, large_trace(d, e, TRACE_ALLOC), &r->alloc);
    load_trace(d, large_trace(d, e, TRACE_FREE), &r->freed);
}

/* ---- accounting --------------------------------------------------------------------------- */

/* Whether the total may go from including old_len to including new_len. */
static bool within_limit(const zh_debug *d, size_t old_len, size_t new_len) {
    if (!d->cfg.enable_memory_limit || new_len <= old_len) return true;
    size_t growth = new_len - old_len;
    return growth <= d->limit && d->total_requested <= d->limit - growth;
}

static void account(zh_debug *d, size_t old_len, size_t new_len) {
    d->total_requested = d->total_requested - old_len + new_len;
    if (d->total_requested > d->peak_bytes) d->peak_bytes = d->total_requested;
}

/* ---- allocation ------------------------------------------------------------------------------ */

/* A page for a new bucket: a checked quarantine leaver if there is one (resident
 * already: no system call, no page faults), else one from the backing allocator.
 * *clean: how many bytes from the page start hold FILL_BYTE (a leaver's handed-out
 * slots, checked and repaired on the way out of the quarantine). */
static unsigned char *bucket_page(zh_debug *d, uintptr_t ret_addr, bool *dirty,
                                  size_t *clean) {
    bucket *old = d->ready;
    *clean = 0;
    if (old != NULL) {
        d->ready = old->next;
        d->ready_count--;
        old->canary = 0; /* stale pointers into the page no longer find this header */
        *dirty = true;
        if (d->cfg.check_use_after_free) *clean = (size_t)old->allocated_count << old->class_index;
        unsigned char *page = (unsigned char *)page_of(d, (uintptr_t)old);
        track_return(d, page, d->cfg.page_size); /* another class: another layout */
        return page;
    }
    *dirty = !d->cfg.backing_allocator_zeroes;
    unsigned char *page = d->cfg.backing.vtable->alloc(
        d->cfg.backing.ctx, d->cfg.page_size, (zh_align)zh__log2_pow2(d->cfg.page_size), ret_addr);
    if (page != NULL) d->backing_bytes += d->cfg.page_size;
    return page;
}

static bucket *new_bucket(zh_debug *d, unsigned cls, uintptr_t ret_addr) {
    const class_layout *lay = &d->layout[cls];
    bool dirty;
    size_t clean;
    unsigned char *page = bucket_page(d, ret_addr, &dirty, &clean);
    if (page == NULL) return NULL;
    bucket *b = (bucket *)(void *)(page + lay->header_offset);
    b->clean_slots = (uint32_t)(clean >> cls);
    if (dirty) memset(used_bits(b), 0, lay->sizes - sizeof(bucket));
    if (slot_tracked(d, cls)) zh__track_mem_noaccess(page, (size_t)lay->slot_count << cls);
    b->allocated_count = b->freed_count = 0;
    b->canary = d->cfg.canary;
    b->owner = d;
    b->class_index = cls;
    b->next = NULL;
    b->prev = d->current[cls];
    if (b->prev != NULL) b->prev->next = b;
    d->current[cls] = b;
    d->buckets++;
    return b;
}

static void *alloc_small(zh_debug *d, size_t len, zh_align align, unsigned cls,
                         const trace *t, uintptr_t ret_addr) {
    bucket *b = d->current[cls];
    if (b == NULL || b->allocated_count == d->layout[cls].slot_count) {
        b = new_bucket(d, cls, ret_addr);
        if (b == NULL) return NULL;
    }
    uint32_t slot = b->allocated_count++;
    set_used(b, slot, true);
    slot_sizes(d, b)[slot] = (uint32_t)len;
    slot_aligns(d, b)[slot] = align;
    slot_tids(d, b, slot)[0] = current_tid();
    store_trace(d, slot_trace(d, b, slot, TRACE_ALLOC), t);
    unsigned char *p = slot_addr(d, b, slot);
    size_t size = (size_t)1 << cls;
    bool tracked = slot_tracked(d, cls);
    open_bytes(tracked, p + len, size - len);
    if (d->cfg.check_overflow && slot >= b->clean_slots) memset(p + len, CANARY_BYTE, size - len);
    track_handout(d, tracked, p, len, size);
    return p;
}

static void *alloc_large(zh_debug *d, size_t len, zh_align align, const trace *t,
                         uintptr_t ret_addr) {
    size_t backing_len = len + large_tail(d);
    if (backing_len < len || !large_reserve(d, 1)) return NULL;
    unsigned char *p = d->cfg.backing.vtable->alloc(d->cfg.backing.ctx, backing_len, align, ret_addr);
    if (p == NULL) return NULL;
    large *e = large_slot_for(&d->large, (uintptr_t)p);
    if (e->addr == 0) d->large.count++;
    e->addr = (uintptr_t)p;
    e->len = len;
    e->align = align;
    e->freed = false;
    e->alloc_tid = current_tid();
    e->free_tid = 0;
    store_trace(d, large_trace(d, e, TRACE_ALLOC), t);
    memset(large_trace(d, e, TRACE_FREE), 0, d->frames * sizeof(uintptr_t));
    memset(p + len, CANARY_BYTE, large_tail(d));
    track_handout(d, tracking(d), p, len, backing_len);
    d->large_count++;
    d->backing_bytes += backing_len;
    return p;
}

static void *debug_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    zh_debug *d = ctx;
    trace t;
    capture(d, ret_addr, &t);
    unsigned cls = size_class(len, align);
    const zh_debug *outer = lock_instance(d);
    void *p = NULL;
    if (within_limit(d, 0, len)) {
        p = cls < d->class_count ? alloc_small(d, len, align, cls, &t, ret_addr)
                                 : alloc_large(d, len, align, &t, ret_addr);
        if (p != NULL) {
            account(d, 0, len);
            d->live_count++;
            d->total_allocations++;
        }
    }
    unlock_instance(d, outer);
    if (d->cfg.verbose_log && p != NULL)
        log_line(d, "%s alloc %zu bytes at %p", cls < d->class_count ? "small" : "large", len, p);
    return p;
}

/* ---- finding a small block --------------------------------------------------------------------- */

typedef enum lookup { FOUND, FOUND_LARGE, REFUSED } lookup;

/* The bucket that owns `addr` if its size class were `cls`, or NULL. */
static bucket *probe(const zh_debug *d, uintptr_t addr, unsigned cls) {
    bucket *b = header_of(d, page_of(d, addr), cls);
    /* Most positions are not a header but slot memory: one the checker would object
     * to reading (no-access, or undefined to memcheck) is not a header either. */
    if (!zh__track_readable(&b->canary, sizeof b->canary) ||
        !zh__track_readable(&b->class_index, sizeof b->class_index))
        return NULL;
    if (b->canary != d->cfg.canary || b->class_index != cls) return NULL;
    return b;
}

/* A double free through zh_free has just written 0xaa over the freed block (the
 * helpers fill before they free): restore the patterns so that the write is not
 * reported again as a write after free. */
static void refill_freed_slot(const zh_debug *d, bucket *b, uint32_t slot) {
    if (!d->cfg.check_use_after_free) return;
    bool tracked = slot_tracked(d, b->class_index);
    size_t size = (size_t)1 << b->class_index;
    open_bytes(tracked, slot_addr(d, b, slot), size);
    memset(slot_addr(d, b, slot), FREE_BYTE, size);
    close_bytes(tracked, slot_addr(d, b, slot), size);
}

/* Locates the slot of `mem` for free/resize/remap, reporting into r what makes the
 * call invalid (another instance, not a block start, never allocated, already
 * freed). A block in the large table with a wrong len gives FOUND_LARGE. */
static lookup find_slot(zh_debug *d, void *mem, size_t len, zh_align align, const char *op,
                        bucket **out_b, uint32_t *out_slot, report *r) {
    uintptr_t addr = (uintptr_t)mem;
    /* A large block freed with a small len: its address may not have a bucket
     * header in reach, so ask the table before reading memory. */
    large *known = d->large.count > 0 ? large_find(d, addr) : NULL;
    if (known != NULL && !known->freed) return FOUND_LARGE;
    bucket *b = probe(d, addr, size_class(len, align));
    /* A retained (freed) large block's address may since be a bucket's: the bucket
     * wins; without one it is that large block's double free. */
    if (b == NULL && known != NULL) return FOUND_LARGE;
    for (unsigned c = 0; b == NULL && c < d->class_count; c++) b = probe(d, addr, c);
    start_report(r, ZH_DEBUG_INVALID_FREE, op);
    r->addr = addr;
    r->given_len = len;
    r->given_align = align;
    if (b == NULL) {
        r->detail = "not a block of this allocator (canary mismatch)";
        return REFUSED;
    }
    if (b->owner != d) {
        r->detail = "a block of another debug allocator instance";
        return REFUSED;
    }
    size_t offset = addr - page_of(d, addr);
    uint32_t slot = (uint32_t)(offset >> b->class_index);
    if (slot >= b->allocated_count) {
        r->detail = "never allocated (slot not handed out yet)";
        return REFUSED;
    }
    if ((offset & (((size_t)1 << b->class_index) - 1)) != 0) {
        describe_slot(d, b, slot, r);
        r->addr = addr;
        r->detail = "points inside a block, not at its start";
        return REFUSED;
    }
    if (!slot_used(b, slot)) {
        describe_slot(d, b, slot, r);
        r->event = ZH_DEBUG_DOUBLE_FREE;
        refill_freed_slot(d, b, slot);
        return REFUSED;
    }
    r->active = false;
    *out_b = b;
    *out_slot = slot;
    return FOUND;
}

/* Reports a len/alignment that differs from the allocation (Zig logs and goes on). */
static void check_mismatch(const zh_debug *d, size_t len, zh_align align, size_t real_len,
                           zh_align real_align, const char *op, report *r) {
    if (!d->cfg.safety || (len == real_len && align == real_align)) return;
    zh_debug_event ev = len != real_len ? ZH_DEBUG_SIZE_MISMATCH : ZH_DEBUG_ALIGN_MISMATCH;
    start_report(r, ev, op);
    r->given_len = len;
    r->given_align = align;
}

static void check_slot_canary(const zh_debug *d, bucket *b, uint32_t slot, const char *op,
                              report *r) {
    if (!d->cfg.check_overflow) return;
    report tmp;
    size_t len = slot_sizes(d, b)[slot], size = (size_t)1 << b->class_index;
    unsigned char *p = slot_addr(d, b, slot);
    bool tracked = slot_tracked(d, b->class_index);
    open_bytes(tracked, p + len, size - len);
    bool damaged = find_damage(p, len, size, &tmp);
    close_bytes(tracked, p + len, size - len);
    if (!damaged) return;
    *r = tmp;
    start_report(r, ZH_DEBUG_OVERFLOW, op);
    describe_slot(d, b, slot, r);
    r->bad_offset = tmp.bad_offset, r->bad_count = tmp.bad_count, r->expected = tmp.expected;
}

/* ---- free ---------------------------------------------------------------------------------- */

static void unlink_bucket(zh_debug *d, bucket *b) {
    if (b->prev != NULL) b->prev->next = b->next;
    if (b->next != NULL)
        b->next->prev = b->prev;
    else
        d->current[b->class_index] = b->prev;
    b->prev = b->next = NULL;
    d->buckets--;
}

/* Scans a bucket's freed slots for writes after free; reports each damaged slot.
 * The bucket is unlinked (private to this thread) or the instance is quiescent. */
static size_t check_freed_slots(zh_debug *d, bucket *b, const char *op) {
    if (!d->cfg.check_use_after_free) return 0;
    size_t damaged = 0;
    size_t size = (size_t)1 << b->class_index;
    unsigned char *base = slot_addr(d, b, 0);
    bool all_freed = b->freed_count == b->allocated_count;
    bool tracked = slot_tracked(d, b->class_index);
    /* Every slot freed: all of them open at once (a sink that allocates from this
     * instance may take a slot beyond them, which stays out of the range). */
    uint32_t slots = b->allocated_count;
    size_t opened = all_freed ? (size_t)slots * size : 0;
    open_bytes(tracked, base, opened);
    for (uint32_t s = 0; s < slots; s++) {
        /* A bucket with every slot freed is one run of FREE_BYTE: one scan finds the
         * first damaged slot. */
        if (all_freed) {
            size_t from = (size_t)s * size, end = opened;
            size_t bad = from + first_mismatch(base + from, end - from);
            if (bad == end) break;
            s = (uint32_t)(bad / size);
        } else if (slot_used(b, s)) {
            continue;
        }
        report r;
        if (!all_freed) open_bytes(tracked, slot_addr(d, b, s), size);
        bool bad = find_damage(slot_addr(d, b, s), 0, size, &r);
        if (!all_freed) close_bytes(tracked, slot_addr(d, b, s), size);
        if (!bad) continue;
        unsigned char expected = r.expected;
        size_t off = r.bad_offset, count = r.bad_count;
        unsigned char found[REPORT_BYTES_SHOWN];
        memcpy(found, r.found, sizeof found);
        start_report(&r, ZH_DEBUG_USE_AFTER_FREE, op);
        describe_slot(d, b, s, &r);
        r.bad_offset = off, r.bad_count = count, r.expected = expected;
        memcpy(r.found, found, sizeof found);
        if (tl_reporting == 0) emit(d, &r, NULL);
        damaged++;
    }
    close_bytes(tracked, base, opened);
    return damaged;
}

static void free_bucket_page(zh_debug *d, bucket *b, uintptr_t ret_addr) {
    /* A backing allocator that reuses the page (one that does not zero) must not
     * find a stale header there that probe() takes for a live bucket. */
    b->canary = 0;
    d->backing_bytes -= d->cfg.page_size;
    track_return(d, (void *)page_of(d, (uintptr_t)b), d->cfg.page_size);
    d->cfg.backing.vtable->free(d->cfg.backing.ctx, (void *)page_of(d, (uintptr_t)b),
                                d->cfg.page_size, (zh_align)zh__log2_pow2(d->cfg.page_size),
                                ret_addr);
}

/* Checked leavers of the quarantine kept for new buckets: up to bucket_quarantine
 * (at least READY_MIN) pages; beyond, they go back to the backing allocator. */
#define READY_MIN 4

/* A bucket whose every slot was freed. never_unmap: kept to the end. Otherwise it
 * joins the quarantine (filled, still mapped, checked when it leaves); the oldest
 * quarantined bucket leaves, is checked outside the lock and its page is reused by
 * the next new bucket or goes back to the backing allocator. With
 * bucket_quarantine 0 it leaves at once (Zig: back to the backing allocator). */
static void retire_bucket(zh_debug *d, bucket *b, uintptr_t ret_addr) {
    const zh_debug *outer = lock_instance(d);
    bucket *leaver = NULL;
    if (d->cfg.never_unmap) {
        b->next = d->retired;
        d->retired = b;
    } else {
        b->next = NULL;
        if (d->quarantine_tail != NULL)
            d->quarantine_tail->next = b;
        else
            d->quarantine_head = b;
        d->quarantine_tail = b;
        if (++d->quarantined > d->cfg.bucket_quarantine) {
            leaver = d->quarantine_head;
            d->quarantine_head = leaver->next;
            if (d->quarantine_head == NULL) d->quarantine_tail = NULL;
            d->quarantined--;
        }
    }
    unlock_instance(d, outer);
    if (leaver == NULL) return;
    check_freed_slots(d, leaver, "bucket retirement");
    outer = lock_instance(d);
    size_t ready_max = d->cfg.bucket_quarantine > READY_MIN ? d->cfg.bucket_quarantine : READY_MIN;
    if (d->cfg.bucket_quarantine > 0 && d->ready_count < ready_max) {
        leaver->next = d->ready;
        d->ready = leaver;
        d->ready_count++;
    } else {
        free_bucket_page(d, leaver, ret_addr);
    }
    unlock_instance(d, outer);
}

/* Frees a small block; returns the bucket if it must now be retired. */
static bucket *free_small(zh_debug *d, bucket *b, uint32_t slot, const trace *t) {
    size_t len = slot_sizes(d, b)[slot];
    set_used(b, slot, false);
    slot_tids(d, b, slot)[1] = current_tid();
    store_trace(d, slot_trace(d, b, slot, TRACE_FREE), t);
    /* The whole slot holds FILL_BYTE after this, so retirement scans one run: with
     * check_overflow the slack was checked (and repaired) by the free already. */
    unsigned char *p = slot_addr(d, b, slot);
    size_t size = (size_t)1 << b->class_index;
    bool tracked = slot_tracked(d, b->class_index);
    open_bytes(tracked, p, size);
    if (d->cfg.check_use_after_free) memset(p, FREE_BYTE, d->cfg.check_overflow ? len : size);
    track_giveback(d, tracked, p, len, size);
    account(d, len, 0);
    d->live_count--;
    d->total_frees++;
    /* A free nested in a report (a sink that allocates) never retires: the report
     * may be walking the bucket lists. The empty bucket stays linked until a later
     * free, or destroy. */
    if (++b->freed_count < b->allocated_count || tl_reporting != 0) return NULL;
    unlink_bucket(d, b);
    return b;
}

static void check_large_canary(zh_debug *d, large *e, const char *op, report *r) {
    if (!d->cfg.check_overflow || e->freed) return;
    report tmp;
    unsigned char *p = (unsigned char *)e->addr;
    open_bytes(tracking(d), p + e->len, large_tail(d));
    bool damaged = find_damage(p, e->len, e->len + large_tail(d), &tmp);
    close_bytes(tracking(d), p + e->len, large_tail(d));
    if (!damaged) return;
    start_report(r, ZH_DEBUG_OVERFLOW, op);
    describe_large(d, e, r);
    r->bad_offset = tmp.bad_offset, r->bad_count = tmp.bad_count, r->expected = tmp.expected;
    memcpy(r->found, tmp.found, sizeof r->found);
}

/* Checks a large block for a free/resize/remap; false (reported) when refused. */
static large *find_large(zh_debug *d, void *mem, size_t len, zh_align align, const char *op,
                         report *reps) {
    large *e = large_find(d, (uintptr_t)mem);
    if (e == NULL) {
        start_report(&reps[0], ZH_DEBUG_INVALID_FREE, op);
        reps[0].addr = (uintptr_t)mem;
        reps[0].given_len = len;
        reps[0].given_align = align;
        reps[0].detail = "not a live block of this allocator";
        return NULL;
    }
    if (e->freed) {
        start_report(&reps[0], ZH_DEBUG_DOUBLE_FREE, op);
        describe_large(d, e, &reps[0]);
        if (d->cfg.never_unmap && d->cfg.check_use_after_free) { /* see refill_freed_slot */
            open_bytes(tracking(d), (void *)e->addr, e->len + large_tail(d));
            memset((void *)e->addr, FREE_BYTE, e->len + large_tail(d));
            close_bytes(tracking(d), (void *)e->addr, e->len + large_tail(d));
        }
        return NULL;
    }
    check_mismatch(d, len, align, e->len, e->align, op, &reps[0]);
    if (reps[0].active) describe_large(d, e, &reps[0]), reps[0].given_len = len,
                                                         reps[0].given_align = align;
    check_large_canary(d, e, op, &reps[1]);
    return e;
}

static void free_large(zh_debug *d, large *e, const trace *t, uintptr_t ret_addr) {
    size_t backing_len = e->len + large_tail(d);
    void *p = (void *)e->addr;
    account(d, e->len, 0);
    d->live_count--;
    d->large_count--;
    d->total_frees++;
    bool retain = d->cfg.retain_metadata || d->cfg.never_unmap;
    track_giveback(d, tracking(d), p, e->len, backing_len);
    if (d->cfg.never_unmap) {
        open_bytes(tracking(d), p, backing_len);
        if (d->cfg.check_use_after_free) memset(p, FREE_BYTE, backing_len);
        close_bytes(tracking(d), p, backing_len);
    } else {
        track_return(d, p, backing_len);
        d->backing_bytes -= backing_len;
        d->cfg.backing.vtable->free(d->cfg.backing.ctx, p, backing_len, e->align, ret_addr);
    }
    if (retain) {
        e->freed = true;
        e->free_tid = current_tid();
        store_trace(d, large_trace(d, e, TRACE_FREE), t);
    } else {
        large_remove(d, e);
    }
}

static void debug_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    zh_debug *d = ctx;
    trace t;
    capture(d, ret_addr, &t);
    report reps[2];
    reps[0].active = reps[1].active = false;
    bucket *retire = NULL;
    bool was_large = false;
    const zh_debug *outer = lock_instance(d);
    bucket *b = NULL;
    uint32_t slot = 0;
    lookup where = size_class(len, align) < d->class_count
                       ? find_slot(d, mem, len, align, "free", &b, &slot, &reps[0])
                       : FOUND_LARGE;
    if (where == FOUND) {
        check_mismatch(d, len, align, slot_sizes(d, b)[slot], slot_aligns(d, b)[slot], "free",
                       &reps[0]);
        if (reps[0].active) {
            describe_slot(d, b, slot, &reps[0]);
            reps[0].given_len = len, reps[0].given_align = align;
        }
        check_slot_canary(d, b, slot, "free", &reps[1]);
        retire = free_small(d, b, slot, &t);
    } else if (where == FOUND_LARGE) {
        large *e = find_large(d, mem, len, align, "free", reps);
        if (e != NULL) free_large(d, e, &t, ret_addr), was_large = true;
    }
    unlock_instance(d, outer);
    emit_pending(d, reps, 2, ret_addr);
    if (retire != NULL) retire_bucket(d, retire, ret_addr);
    if (d->cfg.verbose_log && (where == FOUND || was_large))
        log_line(d, "%s free %zu bytes at %p", was_large ? "large" : "small", len, mem);
}

/* ---- resize and remap ---------------------------------------------------------------------- */

static bool resize_small(zh_debug *d, bucket *b, uint32_t slot, size_t new_len, zh_align align,
                         const trace *t) {
    unsigned cls = b->class_index;
    if (size_class(new_len, align) != cls) return false;
    size_t len = slot_sizes(d, b)[slot];
    if (!within_limit(d, len, new_len)) return false;
    unsigned char *p = slot_addr(d, b, slot);
    if (new_len < len) memset(p + new_len, d->cfg.check_overflow ? CANARY_BYTE : ZH_UNDEFINED_BYTE,
                              len - new_len);
    if (slot_tracked(d, cls)) zh__track_group_resize(d, p, len, new_len);
    account(d, len, new_len);
    slot_sizes(d, b)[slot] = (uint32_t)new_len;
    if (d->cfg.resize_stack_traces) store_trace(d, slot_trace(d, b, slot, TRACE_ALLOC), t);
    return true;
}

/* A large block was resized or moved by the backing allocator (its old tail
 * opened): grown bytes become usable; bytes an in-place shrink gives back are the
 * backing allocator's again (the new tail is closed by the caller). */
static void track_large_resized(zh_debug *d, unsigned char *old_p, unsigned char *p,
                                size_t old_len, size_t new_len) {
    if (!tracking(d)) return;
    zh__track_group_move(d, old_p, p, new_len);
    if (new_len > old_len)
        zh__track_mem_undefined(p + old_len, new_len - old_len);
    else if (p == old_p)
        zh__track_mem_undefined(p + new_len, old_len - new_len);
}

/* Zig's resizeLarge; may_move: remap. Returns the block's new address or NULL. */
static void *resize_large(zh_debug *d, large *e, size_t new_len, const trace *t, bool may_move,
                          uintptr_t ret_addr) {
    if (size_class(new_len, e->align) < d->class_count) return NULL; /* would become small */
    if (!within_limit(d, e->len, new_len)) return NULL;
    size_t tail = large_tail(d);
    size_t old_backing = e->len + tail, new_backing = new_len + tail;
    if (new_backing < new_len) return NULL;
    /* never_unmap keeps a moved-from block mapped (and checked): only grow in place. */
    if (may_move && d->cfg.never_unmap) may_move = false;
    uintptr_t old_addr = e->addr;
    if (may_move && d->cfg.retain_metadata) {
        if (!large_reserve(d, 1)) return NULL;
        e = large_find(d, old_addr); /* a grown table holds the entry elsewhere */
    }
    const zh_allocator_vtable *v = d->cfg.backing.vtable;
    unsigned char *p;
    /* The backing allocator may copy or reuse the tail: its memory again. */
    track_return(d, (unsigned char *)old_addr + e->len, tail);
    if (may_move)
        p = v->remap(d->cfg.backing.ctx, (void *)old_addr, old_backing, e->align, new_backing,
                     ret_addr);
    else
        p = v->resize(d->cfg.backing.ctx, (void *)old_addr, old_backing, e->align, new_backing,
                      ret_addr)
                ? (unsigned char *)old_addr
                : NULL;
    if (p == NULL) {
        close_bytes(tracking(d), (unsigned char *)old_addr + e->len, tail);
        return NULL;
    }
    track_large_resized(d, (unsigned char *)old_addr, p, e->len, new_len);
    account(d, e->len, new_len);
    d->backing_bytes = d->backing_bytes - old_backing + new_backing;
    open_bytes(tracking(d), p + new_len, tail);
    memset(p + new_len, CANARY_BYTE, tail);
    close_bytes(tracking(d), p + new_len, tail);
    if (d->cfg.resize_stack_traces) store_trace(d, large_trace(d, e, TRACE_ALLOC), t);
    e->len = new_len;
    if ((uintptr_t)p == old_addr) return p;
    /* The entry moves to the new key; the old one stays as a freed record (retain). */
    unsigned char copy[sizeof(large) + 2 * ZH_DEBUG_FRAMES_MAX * sizeof(uintptr_t) + 16];
    memcpy(copy, e, d->large.stride);
    if (d->cfg.retain_metadata) {
        e->freed = true;
        e->free_tid = current_tid();
        store_trace(d, large_trace(d, e, TRACE_FREE), t);
    } else {
        large_remove(d, e);
    }
    large *n = large_slot_for(&d->large, (uintptr_t)p);
    if (n->addr == 0) d->large.count++;
    memcpy(n, copy, d->large.stride);
    n->addr = (uintptr_t)p;
    return p;
}

/* The shared body of resize and remap. */
static void *debug_resize_common(zh_debug *d, void *mem, size_t len, zh_align align,
                                 size_t new_len, uintptr_t ret_addr, bool may_move) {
    const char *op = may_move ? "remap" : "resize";
    trace t;
    t.n = 0;
    if (d->cfg.resize_stack_traces || (may_move && d->cfg.retain_metadata))
        capture(d, ret_addr, &t);
    report reps[2];
    reps[0].active = reps[1].active = false;
    void *result = NULL;
    const zh_debug *outer = lock_instance(d);
    bucket *b = NULL;
    uint32_t slot = 0;
    lookup where = size_class(len, align) < d->class_count
                       ? find_slot(d, mem, len, align, op, &b, &slot, &reps[0])
                       : FOUND_LARGE;
    if (where == FOUND) {
        check_mismatch(d, len, align, slot_sizes(d, b)[slot], slot_aligns(d, b)[slot], op,
                       &reps[0]);
        if (reps[0].active) {
            describe_slot(d, b, slot, &reps[0]);
            reps[0].given_len = len, reps[0].given_align = align;
        }
        check_slot_canary(d, b, slot, op, &reps[1]);
        if (resize_small(d, b, slot, new_len, align, &t)) result = mem;
    } else if (where == FOUND_LARGE) {
        large *e = find_large(d, mem, len, align, op, reps);
        if (e != NULL) result = resize_large(d, e, new_len, &t, may_move, ret_addr);
    }
    unlock_instance(d, outer);
    emit_pending(d, reps, 2, ret_addr);
    if (d->cfg.verbose_log && result != NULL)
        log_line(d, "%s %s %zu bytes at %p to %zu at %p", where == FOUND ? "small" : "large", op,
                 len, mem, new_len, result);
    return result;
}

static bool debug_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                         uintptr_t ret_addr) {
    return debug_resize_common(ctx, mem, len, align, new_len, ret_addr, false) != NULL;
}

static void *debug_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                         uintptr_t ret_addr) {
    return debug_resize_common(ctx, mem, len, align, new_len, ret_addr, true);
}

static const zh_allocator_vtable debug_vtable = {
    .alloc = debug_alloc,
    .resize = debug_resize,
    .remap = debug_remap,
    .free = debug_free,
};

/* ---- creation ---------------------------------------------------------------------------------- */

ZH_PRINTF(2, 3) static void refuse(const zh_debug_config *cfg, const char *fmt, ...) {
    char buf[512];
    int n = snprintf(buf, sizeof buf, "zheap: zh_debug_create: invalid configuration: ");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m > 0 ? (size_t)m : 0);
    if (len > sizeof buf - 2) len = sizeof buf - 2;
    buf[len++] = '\n';
    deliver(cfg, ZH_DEBUG_INVALID_CONFIG, buf, len);
}

static size_t resolve_frames(size_t frames) {
    if (frames != ZH_DEBUG_FRAMES_AUTO) return frames;
    return zh__config_safety && (zh__os_stack_caps() & ZH__OS_HAS_STACK_CAPTURE) ? DEFAULT_FRAMES
                                                                                : 0;
}

/* Validates cfg and computes the class layouts; false (reported) when invalid. */
static bool plan(const zh_debug_config *cfg, size_t frames, class_layout *layout,
                 unsigned *class_count) {
    const zh_allocator_vtable *v = cfg->backing.vtable;
    if (v == NULL || !v->alloc || !v->resize || !v->remap || !v->free)
        return refuse(cfg, "the backing allocator's vtable is incomplete"), false;
    if (!zh__is_pow2(cfg->page_size) || cfg->page_size < 1024 || cfg->page_size > ((size_t)1 << 30))
        return refuse(cfg, "page_size %zu is not a power of two between 1 KiB and 1 GiB",
                      cfg->page_size),
               false;
    if (frames > ZH_DEBUG_FRAMES_MAX)
        return refuse(cfg, "stack_trace_frames %zu exceeds ZH_DEBUG_FRAMES_MAX (%d)", frames,
                      ZH_DEBUG_FRAMES_MAX),
               false;
    if ((cfg->lock_hook.lock == NULL) != (cfg->lock_hook.unlock == NULL))
        return refuse(cfg, "lock_hook needs both lock and unlock (or neither)"), false;
    if (cfg->canary == 0) return refuse(cfg, "canary must not be 0"), false;
    if (cfg->unwinder != ZH_DEBUG_UNWIND_DEFAULT && cfg->unwinder != ZH_DEBUG_UNWIND_FRAME_POINTER)
        return refuse(cfg, "unknown unwinder %d", (int)cfg->unwinder), false;
    /* Zig: log2(page_size) - 1 classes, so a bucket holds at least two slots of the
     * largest; the traces must leave room for them too. */
    unsigned count = zh__log2_pow2(cfg->page_size) - 1;
    if (count > CLASSES_MAX) count = CLASSES_MAX;
    for (unsigned c = 0; c < count; c++) {
        size_t n = slot_count_for(cfg->page_size, (size_t)1 << c, frames);
        if (n == 0)
            return refuse(cfg, "page_size %zu is too small for two %zu-byte slots with "
                               "%zu-frame traces",
                          cfg->page_size, (size_t)1 << c, frames),
                   false;
        layout[c].slot_count = (uint32_t)n;
        size_t meta = metadata_size(n, frames, &layout[c]);
        layout[c].header_offset = (uint32_t)zh__align_backward(cfg->page_size - meta, HEADER_ALIGN);
    }
    *class_count = count;
    return true;
}

zh_debug *zh_debug_create(const zh_debug_config *config) {
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    if (config != NULL) cfg = *config;
    if (cfg.backing.vtable == NULL && cfg.backing.ctx == NULL) cfg.backing = zh_page_allocator;
    size_t frames = resolve_frames(cfg.stack_trace_frames);
    class_layout layout[CLASSES_MAX];
    unsigned class_count;
    if (!plan(&cfg, frames, layout, &class_count)) return NULL;
    zh_debug *d = cfg.backing.vtable->alloc(cfg.backing.ctx, sizeof *d,
                                            zh__log2_pow2(_Alignof(zh_debug)), ZH_RETURN_ADDRESS());
    if (d == NULL) return NULL;
    memset(d, 0, sizeof *d);
    d->cfg = cfg;
    d->cfg.stack_trace_frames = frames;
    d->frames = frames;
    d->method = cfg.unwinder == ZH_DEBUG_UNWIND_FRAME_POINTER ? ZH__STACK_FRAME_POINTER
                                                              : ZH__STACK_DEFAULT;
    d->class_count = class_count;
    memcpy(d->layout, layout, sizeof layout);
    d->large.stride = zh__align_forward(sizeof(large) + 2 * frames * sizeof(uintptr_t), _Alignof(large));
    d->limit = SIZE_MAX;
    atomic_init(&d->reports, 0);
    d->track = cfg.checker_hooks && zh__track_region_ok(d);
    if (tracking(d)) zh__track_group_create(d);
    /* Load unwind tables now, outside any lock, so captures never enter the loader. */
    if (frames > 0) zh__os_stack_warm_up();
    return d;
}

zh_allocator zh_debug_allocator(zh_debug *d) {
    zh_allocator a = {d, &debug_vtable};
    return a;
}

/* ---- block lookup (free without a size: the preload library) ---------------------------------- */

/* Locked. The live block starting at addr: its length and alignment. */
static bool block_info_locked(zh_debug *d, uintptr_t addr, size_t *len, size_t *alignment) {
    large *e = d->large.count > 0 ? large_find(d, addr) : NULL;
    if (e != NULL && !e->freed) {
        *len = e->len, *alignment = zh_align_to_bytes(e->align);
        return true;
    }
    /* A retained (freed) large block's address may since be a bucket's, as in
     * find_slot. Every class's header position is probed: one that holds another instance's
     * header (a page it gave back, now this instance's) does not end the search. */
    bucket *b = NULL;
    for (unsigned c = 0; b == NULL && c < d->class_count; c++) {
        b = probe(d, addr, c);
        if (b != NULL && b->owner != d) b = NULL;
    }
    if (b == NULL) return false;
    size_t offset = addr - page_of(d, addr);
    uint32_t slot = (uint32_t)(offset >> b->class_index);
    if (slot >= b->allocated_count || (offset & (((size_t)1 << b->class_index) - 1)) != 0 ||
        !slot_used(b, slot))
        return false;
    *len = slot_sizes(d, b)[slot], *alignment = zh_align_to_bytes(slot_aligns(d, b)[slot]);
    return true;
}

bool zh_debug_block_info(zh_debug *d, const void *p, size_t *len, size_t *alignment) {
    size_t l = 0, a = 0;
    const zh_debug *outer = lock_instance(d);
    bool found = block_info_locked(d, (uintptr_t)p, &l, &a);
    unlock_instance(d, outer);
    if (found && len != NULL) *len = l;
    if (found && alignment != NULL) *alignment = a;
    return found;
}

/* ---- leak detection, teardown, getters ------------------------------------------------------------ */

static size_t leaks_in_bucket(zh_debug *d, bucket *b, const char *op, bool report_leaks) {
    size_t leaks = 0;
    for (uint32_t s = 0; s < b->allocated_count; s++) {
        if (!slot_used(b, s)) continue;
        report r;
        start_report(&r, ZH_DEBUG_LEAK, op);
        describe_slot(d, b, s, &r);
        leaks++;
        if (report_leaks && tl_reporting == 0) emit(d, &r, NULL);
        report over;
        over.active = false;
        check_slot_canary(d, b, s, op, &over);
        if (over.active && tl_reporting == 0) emit(d, &over, NULL);
    }
    check_freed_slots(d, b, op);
    return leaks;
}

/* Counts (and with report_leaks reports) live blocks; checks canaries and fills. */
static size_t detect_leaks(zh_debug *d, const char *op, bool report_leaks) {
    size_t leaks = 0;
    for (unsigned c = 0; c < d->class_count; c++)
        for (bucket *b = d->current[c]; b != NULL; b = b->prev) leaks += leaks_in_bucket(d, b, op, report_leaks);
    for (bucket *b = d->retired; b != NULL; b = b->next) check_freed_slots(d, b, op);
    for (bucket *b = d->quarantine_head; b != NULL; b = b->next) check_freed_slots(d, b, op);
    for (size_t i = 0; i < d->large.cap; i++) {
        large *e = large_at(&d->large, i);
        if (e->addr == 0) continue;
        report r;
        r.active = false;
        if (e->freed) {
            if (!d->cfg.never_unmap || !d->cfg.check_use_after_free) continue;
            size_t n = e->len + large_tail(d);
            open_bytes(tracking(d), (void *)e->addr, n);
            bool damaged = find_damage((unsigned char *)e->addr, 0, n, &r);
            close_bytes(tracking(d), (void *)e->addr, n);
            if (!damaged) continue;
            size_t off = r.bad_offset, count = r.bad_count;
            unsigned char found[REPORT_BYTES_SHOWN];
            memcpy(found, r.found, sizeof found);
            start_report(&r, ZH_DEBUG_USE_AFTER_FREE, op);
            describe_large(d, e, &r);
            r.bad_offset = off, r.bad_count = count, r.expected = FREE_BYTE;
            memcpy(r.found, found, sizeof found);
            if (tl_reporting == 0) emit(d, &r, NULL);
            continue;
        }
        start_report(&r, ZH_DEBUG_LEAK, op);
        describe_large(d, e, &r);
        leaks++;
        report over;
        over.active = false;
        check_large_canary(d, e, op, &over);
        /* e is not touched after a report: a sink may allocate and grow the table. */
        if (report_leaks && tl_reporting == 0) emit(d, &r, NULL);
        if (over.active && tl_reporting == 0) emit(d, &over, NULL);
    }
    return leaks;
}

size_t zh_debug_detect_leaks(zh_debug *d) { return detect_leaks(d, "leak check", true); }

/* Releases freed large blocks kept for never_unmap, and forgets retained entries. */
static void release_retained(zh_debug *d, bool forget) {
    for (size_t i = 0; i < d->large.cap;) {
        large *e = large_at(&d->large, i);
        if (e->addr == 0 || !e->freed) {
            i++;
            continue;
        }
        if (d->cfg.never_unmap) {
            size_t backing_len = e->len + large_tail(d);
            d->backing_bytes -= backing_len;
            track_return(d, (void *)e->addr, backing_len);
            d->cfg.backing.vtable->free(d->cfg.backing.ctx, (void *)e->addr, backing_len, e->align,
                                        ZH_RETURN_ADDRESS());
        }
        if (!forget) {
            e->addr = 0; /* teardown: the table goes next, chains do not matter */
            i++;
            continue;
        }
        large_remove(d, e); /* slot i now holds the next entry of the chain, if any */
    }
}

void zh_debug_flush_retained_metadata(zh_debug *d) {
    detect_leaks(d, "flush", false); /* check their fill before letting go */
    release_retained(d, true);
}

/* Buckets left empty by frees nested in reports (never retired) go back at destroy;
 * buckets with leaks stay, so that leaked blocks remain valid. */
static void free_empty_buckets(zh_debug *d) {
    for (unsigned c = 0; c < d->class_count; c++) {
        bucket *b = d->current[c];
        while (b != NULL) {
            bucket *older = b->prev;
            if (b->freed_count == b->allocated_count) {
                unlink_bucket(d, b);
                free_bucket_page(d, b, ZH_RETURN_ADDRESS());
            }
            b = older;
        }
    }
}

/* The group dies with the instance; leaked blocks stay valid (reported already). */
static void untrack_survivors(zh_debug *d) {
    if (!tracking(d)) return;
    zh__track_group_destroy(d);
    for (unsigned c = 0; c < d->class_count; c++)
        for (bucket *b = d->current[c]; b != NULL; b = b->prev)
            for (uint32_t s = 0; s < b->allocated_count; s++)
                if (slot_tracked(d, c) && slot_used(b, s))
                    zh__track_mem_defined(slot_addr(d, b, s), slot_sizes(d, b)[s]);
    for (size_t i = 0; i < d->large.cap; i++) {
        large *e = large_at(&d->large, i);
        /* with its tail: the program may give it back to the backing allocator */
        if (e->addr != 0 && !e->freed)
            zh__track_mem_defined((void *)e->addr, e->len + large_tail(d));
    }
}

zh_check zh_debug_destroy(zh_debug *d) {
    /* Zig reports leaks at deinit only with safety; the fills are checked always. */
    bool leaked = detect_leaks(d, "destroy", d->cfg.safety) > 0 && d->cfg.safety;
    release_retained(d, false);
    free_empty_buckets(d);
    untrack_survivors(d);
    zh_allocator backing = d->cfg.backing;
    zh_align page_align = (zh_align)zh__log2_pow2(d->cfg.page_size);
    for (bucket **list = &d->quarantine_head; list != NULL;
         list = list == &d->quarantine_head ? &d->ready : NULL)
        while (*list != NULL) {
            bucket *b = *list;
            *list = b->next;
            free_bucket_page(d, b, ZH_RETURN_ADDRESS());
        }
    while (d->retired != NULL) {
        bucket *b = d->retired;
        d->retired = b->next;
        b->canary = 0; /* as in free_bucket_page: leave no header for probe() to find */
        track_return(d, (void *)page_of(d, (uintptr_t)b), d->cfg.page_size);
        backing.vtable->free(backing.ctx, (void *)page_of(d, (uintptr_t)b), d->cfg.page_size,
                             page_align, ZH_RETURN_ADDRESS());
    }
    zh_align table_align = zh__log2_pow2(_Alignof(max_align_t));
    if (d->large.entries != NULL)
        backing.vtable->free(backing.ctx, d->large.entries, d->large.cap * d->large.stride,
                             table_align, ZH_RETURN_ADDRESS());
    backing.vtable->free(backing.ctx, d, sizeof *d, zh__log2_pow2(_Alignof(zh_debug)),
                         ZH_RETURN_ADDRESS());
    return leaked ? ZH_CHECK_LEAK : ZH_CHECK_OK;
}

size_t zh_debug_total_requested_bytes(const zh_debug *d) {
    zh_debug *m = (zh_debug *)(uintptr_t)d; /* the lock is not part of the value */
    const zh_debug *outer = lock_instance(m);
    size_t total = m->total_requested;
    unlock_instance(m, outer);
    return total;
}

void zh_debug_set_memory_limit(zh_debug *d, size_t limit) {
    const zh_debug *outer = lock_instance(d);
    d->limit = limit;
    unlock_instance(d, outer);
}

size_t zh_debug_memory_limit(const zh_debug *d) {
    zh_debug *m = (zh_debug *)(uintptr_t)d;
    const zh_debug *outer = lock_instance(m);
    size_t limit = m->limit;
    unlock_instance(m, outer);
    return limit;
}

void zh_debug_get_stats(zh_debug *d, zh_debug_stats *out) {
    const zh_debug *outer = lock_instance(d);
    out->live_bytes = d->total_requested;
    out->live_count = d->live_count;
    out->peak_bytes = d->peak_bytes;
    out->total_allocations = d->total_allocations;
    out->total_frees = d->total_frees;
    out->buckets = d->buckets;
    out->large_count = d->large_count;
    out->backing_bytes = d->backing_bytes;
    unlock_instance(d, outer);
    out->reports = atomic_load_explicit(&d->reports, memory_order_relaxed);
}

const char *zh_debug_backtrace_provider(void) { return zh__os_stack_provider(); }
