/* fuzz_alloc.c - one libFuzzer harness for every libzheap allocator.
 *
 * An input is a sequence of operations run against a model:
 *
 *   [target] flags param op...      (no target byte when the target is pinned)
 *
 * `target` selects an entry of `targets` below (modulo their number), `flags` bit 0
 * wraps the allocator in zh_validation_wrap, and `flags` and `param` carry the
 * target's own parameters (buffer size, fail index, pool item size...). Every op
 * is one byte (low 3 bits: the kind) followed by its operands:
 *
 *   0,1 alloc   s0 s1 a   length from s0/s1 (5/8 <= 256, 1/4 up to 8 KiB, 1/16 up to
 *                         32 KiB, 1/16 up to 256 KiB), alignment from a (mostly <= 16, rarely up to
 *                         the target's maximum)
 *   2   free    slot
 *   3   resize  slot s0 s1        4 remap  slot s0 s1      5 realloc  slot s0 s1
 *                                 (s0 >> 5 == 4: grow by 1 + (s1 & 15) bytes)
 *   6   reset   mode limit        (arena modes, fba/pool reset; else free all)
 *   7   check (0xff only)         a checkpoint: every live block's bytes; any other
 *                                 op byte of kind 7 is an alloc
 *
 * The model is a table of live blocks (address, length, alignment, pattern seed);
 * every byte of a block holds (seed + index). After each op the harness checks the
 * block it touched at once - alignment, no overlap with any live block, pattern
 * intact, resize kept the address, remap/realloc kept the contents - and every
 * block at checkpoints (a `check` op, every CHECK_EVERY ops: small blocks whole,
 * large ones sampled) and whole when freed and at the end. A
 * NULL is accepted only when the target's oracle says memory is really exhausted:
 * exactly for the fixed buffers (a reference model of the bump pointer predicts
 * every address) and pools (the number of items they hold), an induced failure of
 * the failing allocator below, the fake break of the sbrk target, never for the
 * C heap and the OS. The sbrk target also has a memory-use oracle: the break may
 * not exceed a bound computed from the peak live bytes of each size class, so a
 * workload that fragments memory until it runs out with little live is caught.
 * Teardown checks that nothing leaked (the counters of a zh_failing layer that
 * counts every child call, a fixed buffer empty again), and LeakSanitizer checks
 * the rest. Any violation aborts with a message naming the op.
 *
 * Adding an allocator is one entry in `targets` (setup/teardown and which oracle). */
#include "fuzz.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zheap/arena.h"
#include "zheap/c.h"
#include "zheap/debug.h"
#include "zheap/fba.h"
#include "zheap/page.h"
#include "zheap/pool.h"
#include "zheap/sbrk.h"
#include "zheap/smp.h"
#include "zheap/stack_fallback.h"
#include "zheap/testing.h"
#include "zheap/thread_safe.h"

#define MAX_LIVE 64
#define CHECK_EVERY 64
#define FBA_BUFFER_MAX (256 * 1024)
#define SBRK_REGION (4u * 1024 * 1024)
#define SBRK_CLASSES 64

/* ---- failures -------------------------------------------------------------------- */

static unsigned long op_index;
static const char *op_name = "setup";

#if defined(__GNUC__) || defined(__clang__)
__attribute__((noreturn, format(printf, 1, 2)))
#endif
static void fail(const char *fmt, ...);

static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "zheap fuzz: op %lu (%s): ", op_index, op_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* ZH_FUZZ_TRACE=1 in the environment prints every op (to read a reproducer). */
static bool tracing;
#define TRACE(...) (tracing ? (void)fprintf(stderr, __VA_ARGS__) : (void)0)

/* ---- the model ----------------------------------------------------------------------- */

typedef struct block {
    unsigned char *p;
    size_t len;
    zh_align align;
    uint8_t seed;
} block;

typedef enum oracle {
    NULL_NEVER,   /* the C heap, the OS: no NULL for the sizes the harness asks */
    NULL_INDUCED, /* only when the counting zh_failing layer induced a failure */
    NULL_FBA,     /* exact: the bump-pointer reference model predicts every result */
    NULL_FBA_TS,  /* exact, for the lock-free fba (no free, no resize) */
    NULL_ARENA_FBA, /* the arena's fixed-buffer child has no room for a new buffer */
    NULL_SBRK,    /* the size-class bound on the fake break exceeds its capacity */
    NULL_POOL,    /* a fixed pool: only when every item it holds is live */
    NULL_DEBUG    /* an induced failure, or the debug allocator's memory limit */
} oracle;

typedef struct target target;

typedef struct env {
    const target *t;
    zh_allocator a;        /* what the ops call (possibly validation-wrapped) */
    zh_allocator inner;    /* the allocator under test, unwrapped */
    zh_validator validator;
    zh_failing counter;    /* counts (and maybe fails) the calls to a child */
    bool has_counter;
    size_t induced_before; /* induced failures before the current op */
    zh_fba fba;
    uintptr_t fba_base;    /* model of the fixed buffer: start, capacity, end */
    size_t fba_cap, fba_end;
    size_t fba_redzone;    /* the redzone before each block (ASan: the buffer is on the heap) */
    zh_arena arena;
    zh_pool pool;
    size_t pool_lo, pool_hi; /* items the pool surely / at most holds */
    zh_stack_fallback sf;
    zh_thread_safe ts;
    zh_sbrk sbrk;
    zh_debug *debug;
    size_t debug_limit; /* 0: no memory limit */
    void (*audit)(bool all);     /* the target's own view of the live blocks, or NULL */
    void (*free_unsized)(void *); /* frees without a length (every other block), or NULL */
    size_t smp_allocated;        /* the SMP allocator's live bytes when the input began */
    bool smp_trim;               /* trim the SMP allocator at teardown */
    block live[MAX_LIVE];
    size_t n;
    uint8_t next_seed;
} env;

struct target {
    const char *name;
    zh_align max_align; /* largest alignment (log2) the harness asks for */
    oracle null_oracle;
    bool is_pool;       /* ops go to zh_pool_create/destroy instead of the vtable */
    void (*setup)(env *e, uint8_t flags, uint8_t param);
    void (*teardown)(env *e); /* after every live block was freed or reset away */
    void (*reset)(env *e, uint8_t mode, uint8_t limit); /* NULL: free every block */
};

static env E;

/* ---- patterns ------------------------------------------------------------------------ */

/* Byte i of a block is (seed + i): a ramp of period 256, so fills copy from a
 * table and checks compare words against it. Checking is most of the harness's
 * time, so it calls no memcmp (ASan's and libFuzzer's interceptors cost more than
 * the compare) and is left out of the coverage the fuzzer steers by. */
#if defined(__clang__)
#define NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define NO_COVERAGE
#endif

static uint8_t ramp[512]; /* ramp[k] == k % 256: any phase, 256 bytes on */

static void init_ramp(void) {
    for (size_t k = 0; k < sizeof ramp; k++) ramp[k] = (uint8_t)k;
}

/* Bytes [from, len) of b: one period from the table, then copies of what is written
 * already, doubling (the ramp repeats every 256 bytes), so a large block takes a few
 * memcpy calls rather than one per 256 bytes. */
NO_COVERAGE static void fill(const block *b, size_t from) {
    if (from >= b->len) return;
    size_t done = b->len - from < 256 ? b->len - from : 256;
    memcpy(b->p + from, ramp + ((b->seed + from) & 255), done);
    while (from + done < b->len) {
        size_t n = b->len - from - done < done ? b->len - from - done : done;
        memcpy(b->p + from + done, b->p + from, n);
        done += n;
    }
}

/* The compare loop is the harness's hottest code, so it is built without ASan's and
 * UBSan's per-load checks (they made it ~45 instructions per word); under ASan the
 * range is instead checked as a whole first, so reading a block the allocator has
 * poisoned is still a finding. */
#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif
#if defined(FUZZ_ASAN)
#include <sanitizer/asan_interface.h>
#endif
#if defined(__clang__)
#define UNCHECKED_LOADS __attribute__((no_sanitize("address", "undefined", "coverage")))
#elif defined(__GNUC__)
#define UNCHECKED_LOADS __attribute__((no_sanitize_address, no_sanitize_undefined))
#else
#define UNCHECKED_LOADS
#endif

NO_COVERAGE static void expect_addressable(const block *b, size_t from, size_t upto) {
#if defined(FUZZ_ASAN)
    void *bad = __asan_region_is_poisoned(b->p + from, upto - from);
    if (bad != NULL)
        fail("byte %zu of live block %p (len %zu) is poisoned", (size_t)((unsigned char *)bad - b->p),
             (void *)b->p, b->len);
#else
    (void)b, (void)from, (void)upto;
#endif
}

/* Whether the RAMP_STEP bytes at p continue the ramp from phase k (0..255). */
#define RAMP_STEP 64
UNCHECKED_LOADS static inline bool ramp_matches(const unsigned char *p, size_t k) {
    uint64_t g[RAMP_STEP / 8], w[RAMP_STEP / 8], diff = 0;
    memcpy(g, p, RAMP_STEP);
    memcpy(w, ramp + k, RAMP_STEP);
    for (size_t j = 0; j < RAMP_STEP / 8; j++) diff |= g[j] ^ w[j];
    return diff == 0;
}

/* The first byte of [from, upto) that breaks the ramp, or upto. */
UNCHECKED_LOADS static size_t first_wrong_unchecked(const unsigned char *p, uint8_t seed,
                                                    size_t from, size_t upto) {
    size_t i = from;
    while (i + RAMP_STEP <= upto && ramp_matches(p + i, (size_t)((seed + i) & 255))) i += RAMP_STEP;
    for (; i + 8 <= upto; i += 8) {
        uint64_t got, want;
        memcpy(&got, p + i, 8);
        memcpy(&want, ramp + ((seed + i) & 255), 8);
        if (got != want) break;
    }
    for (; i < upto; i++)
        if (p[i] != (uint8_t)(seed + i)) return i;
    return upto;
}

NO_COVERAGE static size_t first_wrong(const block *b, size_t from, size_t upto) {
    if (from >= upto) return upto;
    expect_addressable(b, from, upto);
    return first_wrong_unchecked(b->p, b->seed, from, upto);
}

NO_COVERAGE static void expect_intact(const block *b, size_t upto, const char *what) {
    size_t i = first_wrong(b, 0, upto);
    if (i != upto)
        fail("%s: byte %zu of block %p (len %zu) is 0x%02x, expected 0x%02x", what, i,
             (void *)b->p, b->len, b->p[i], (uint8_t)(b->seed + i));
}

NO_COVERAGE static void expect_placed(const block *b, size_t self) {
    if (((uintptr_t)b->p & (zh_align_to_bytes(b->align) - 1)) != 0)
        fail("block %p is not aligned to %zu", (void *)b->p, zh_align_to_bytes(b->align));
    uintptr_t lo = (uintptr_t)b->p, hi = lo + b->len;
    if (hi < lo) fail("block %p of %zu bytes wraps around", (void *)b->p, b->len);
    for (size_t i = 0; i < E.n; i++) {
        if (i == self) continue;
        uintptr_t olo = (uintptr_t)E.live[i].p, ohi = olo + E.live[i].len;
        if (lo < ohi && olo < hi)
            fail("block %p+%zu overlaps live block %p+%zu", (void *)b->p, b->len,
                 (void *)E.live[i].p, E.live[i].len);
    }
}

/* Checks a window of `n` bytes at `at`, clipped to the first `limit` bytes. */
NO_COVERAGE static void expect_window(const block *b, size_t limit, size_t at, size_t n,
                                      const char *what) {
    if (at >= limit) return;
    size_t upto = limit - at < n ? limit : at + n;
    size_t i = first_wrong(b, at, upto);
    if (i != upto)
        fail("%s: byte %zu of block %p (len %zu) is 0x%02x, expected 0x%02x", what, i,
             (void *)b->p, b->len, b->p[i], (uint8_t)(b->seed + i));
}

/* Every live block: small ones whole; large ones (above SAMPLE_ABOVE) at both ends
 * and in SAMPLES windows that move with the op index, so that a checkpoint costs
 * little however much is live. Every block is still checked whole when it is
 * freed, and at the end of the input (`full`). */
#define SAMPLE_ABOVE 4096
#define SAMPLES 8
NO_COVERAGE static void expect_sampled(const block *b, size_t upto, const char *what) {
    if (upto <= SAMPLE_ABOVE) {
        expect_intact(b, upto, what);
        return;
    }
    expect_window(b, upto, 0, 256, what);
    expect_window(b, upto, upto - 256, 256, what);
    size_t stride = upto / SAMPLES, shift = (op_index * 64) % stride;
    for (size_t k = 0; k < SAMPLES; k++) expect_window(b, upto, k * stride + shift, 64, what);
}

NO_COVERAGE static void check_blocks(bool full) {
    for (size_t i = 0; i < E.n; i++) {
        const block *b = &E.live[i];
        if (full) expect_intact(b, b->len, "checkpoint");
        else expect_sampled(b, b->len, "checkpoint");
    }
}

/* A checkpoint also asks the target's own bookkeeping (E.audit) about the live blocks. */
static void checkpoint(void) {
    check_blocks(false);
    if (E.audit != NULL) E.audit(false);
}

/* ---- operand decoding ------------------------------------------------------------------ */

typedef struct reader {
    const uint8_t *p, *end;
} reader;

static uint8_t next_byte(reader *r) { return r->p < r->end ? *r->p++ : 0; }

static size_t decode_len(uint8_t s0, uint8_t s1) {
    size_t v = ((size_t)(s0 & 31) << 8) | s1;
    switch (s0 >> 5) {
    case 5:
    case 6: return 1 + v % 8192;
    case 7: /* half up to 32 KiB, half (1/16 of all lengths) up to 256 KiB */
        return 1 + ((v & 0xfff) << ((s0 & 16) ? 6 : 3));
    default: return 1 + v % 256;
    }
}

static zh_align decode_align(uint8_t a) {
    zh_align max = E.t->max_align, al;
    if ((a & 15) < 12) al = (zh_align)((a & 15) % 5);      /* 1 .. 16 bytes */
    else if ((a & 15) < 15) al = (zh_align)(5 + (a >> 4) % 4); /* 32 .. 256 */
    else al = (zh_align)(9 + (a >> 4));                   /* 512 .. max */
    return al > max ? max : al;
}

/* ---- oracle state: failing counters, fixed buffer, sbrk classes ---------------------- */

/* Failures the zh_failing layer induced so far: counted by `probe` above it, which
 * sees every alloc attempt (zh_failing counts only successes, as Zig's does). */
static size_t induced_count;

static size_t induced_failures(void) { return induced_count; }

/* Reference model of the fixed buffer: the address the next block of (len, align)
 * must get, or 0 when it does not fit. Under ASan (a redzone) a block starts at
 * least the redzone after the end and on an 8-byte granule (zheap/internal.h). */
static uintptr_t fba_predict(size_t len, zh_align align) {
    size_t alignment = zh_align_to_bytes(align);
    if (E.fba_redzone != 0 && alignment < 8) alignment = 8;
    uintptr_t cur = E.fba_base + E.fba_end;
    uintptr_t start = (cur + E.fba_redzone + alignment - 1) & ~(uintptr_t)(alignment - 1);
    if (start < cur || start - E.fba_base > E.fba_cap || E.fba_cap - (start - E.fba_base) < len)
        return 0;
    return start;
}

static bool fba_is_last(const block *b) {
    return (uintptr_t)b->p + b->len == E.fba_base + E.fba_end;
}

/* Whether the fba resizes `b` to new_len, and the model's new end if so. */
static bool fba_predict_resize(const block *b, size_t new_len) {
    if (E.t->null_oracle == NULL_FBA_TS) return false;
    if (!fba_is_last(b)) return new_len <= b->len;
    if (new_len <= b->len) return true;
    return new_len - b->len <= E.fba_cap - E.fba_end;
}

static void fba_apply_resize(const block *b, size_t new_len) {
    if (fba_is_last(b)) E.fba_end = E.fba_end - b->len + new_len;
}

static void fba_apply_free(const block *b) {
    if (E.t->null_oracle != NULL_FBA_TS && fba_is_last(b)) E.fba_end -= b->len + E.fba_redzone;
}

/* The sbrk allocator's documented classes: max(len, alignment, 8) rounded up to a
 * power of two below a 64 KiB bigpage, else a power-of-two number of bigpages. */
typedef struct sbrk_model {
    unsigned char *region, *lo, *brk, *hi;
    size_t live[SBRK_CLASSES], peak[SBRK_CLASSES];
    size_t peak_sum, small_used, slack;
    bool pressed; /* a request did not fit in the bound: see sbrk_press */
} sbrk_model;
static sbrk_model S;

static size_t pow2_at_least(size_t x) {
    size_t p = 1;
    while (p < x) p <<= 1;
    return p;
}

static unsigned sbrk_class(size_t len, zh_align align, size_t *slot_bytes) {
    size_t need = len > zh_align_to_bytes(align) ? len : zh_align_to_bytes(align);
    if (need < 8) need = 8;
    size_t slot = pow2_at_least(need);
    if (slot < ZH_SBRK_BIGPAGE_SIZE) {
        *slot_bytes = slot;
        unsigned k = 0;
        while (((size_t)8 << k) < slot) k++;
        return k;
    }
    size_t pages = pow2_at_least((need + ZH_SBRK_BIGPAGE_SIZE - 1) / ZH_SBRK_BIGPAGE_SIZE);
    *slot_bytes = pages * ZH_SBRK_BIGPAGE_SIZE;
    unsigned k = 0;
    while (((size_t)1 << k) < pages) k++;
    /* A run aligned above a bigpage is a class of its own here: the engine's free
     * runs of its size may sit at any bigpage, so they need not serve it. The two
     * peaks together bound the runs of the size because the engine takes the least
     * aligned free run that suits a request (take_least_aligned in
     * src/core/size_classes.c): an aligned run serves a bigpage-aligned request
     * only while every other run of the size is live. */
    return 16 + k + (zh_align_to_bytes(align) > ZH_SBRK_BIGPAGE_SIZE ? 32 : 0);
}

/* The bound on the break if class `c` held `extra` more bytes (0: as it is now). */
static size_t sbrk_bound(unsigned c, size_t extra, zh_align align) {
    size_t sum = S.peak_sum, small = S.small_used;
    if (extra != 0) {
        if (S.live[c] + extra > S.peak[c]) sum += S.live[c] + extra - S.peak[c];
        if (c < 16 && S.peak[c] == 0) small++;
    }
    size_t slack = S.slack;
    if (zh_align_to_bytes(align) > ZH_SBRK_BIGPAGE_SIZE) slack += zh_align_to_bytes(align);
    return sum + (small + 1) * ZH_SBRK_BIGPAGE_SIZE + slack;
}

static void sbrk_account(size_t len, zh_align align, bool add) {
    size_t bytes;
    unsigned c = sbrk_class(len, align, &bytes);
    if (!add) {
        S.live[c] -= bytes;
        return;
    }
    if (c < 16 && S.peak[c] == 0) S.small_used++;
    if (zh_align_to_bytes(align) > ZH_SBRK_BIGPAGE_SIZE) S.slack += zh_align_to_bytes(align);
    S.live[c] += bytes;
    if (S.live[c] > S.peak[c]) {
        S.peak_sum += S.live[c] - S.peak[c];
        S.peak[c] = S.live[c];
    }
}

/* The engine's guarantee (ZH__SC_GROW_FIRST, src/core/size_classes.h) holds until the
 * break first refuses: then it merges and splits free runs across classes, and a
 * class may later grow past its peak. So once a request does not fit in the bound
 * within the fake break's capacity, the break is trusted for the rest of the
 * input: no usage bound, and NULL whenever the break has no room for the request. */
static void sbrk_press(size_t len, zh_align align) {
    size_t bytes;
    unsigned c = sbrk_class(len, align, &bytes);
    if (sbrk_bound(c, bytes, align) > (size_t)(S.hi - S.lo)) S.pressed = true;
}

static void sbrk_check_usage(void) {
    if (S.pressed) return;
    size_t used = (size_t)(S.brk - S.lo), bound = sbrk_bound(0, 0, 0);
    if (used > bound)
        fail("sbrk break grew to %zu bytes; the size classes' peak live bytes bound it by "
             "%zu: memory is lost to fragmentation", used, bound);
}

/* Whether a NULL for a new block of (len, align) is what the target's oracle allows. */
static bool null_allowed(size_t len, zh_align align) {
    switch (E.t->null_oracle) {
    case NULL_NEVER: return false;
    case NULL_INDUCED: return induced_failures() > E.induced_before;
    case NULL_FBA:
    case NULL_FBA_TS: return fba_predict(len, align) == 0;
    case NULL_ARENA_FBA: {
        if (induced_failures() > E.induced_before) return true;
        size_t worst_pad = zh_align_to_bytes(align) > ZH_MALLOC_ALIGNMENT
                               ? zh_align_to_bytes(align) - ZH_MALLOC_ALIGNMENT : 0;
        size_t room = E.fba.len - zh_fba_end_index(&E.fba);
        /* and under ASan the redzones before the block and before its buffer */
        return room < ZH_ARENA_HEADER_SIZE + worst_pad + len + 2 * ZH_MALLOC_ALIGNMENT +
                          2 * E.fba_redzone;
    }
    case NULL_SBRK: {
        size_t bytes;
        sbrk_press(len, align);
        (void)sbrk_class(len, align, &bytes);
        size_t need = bytes < ZH_SBRK_BIGPAGE_SIZE ? ZH_SBRK_BIGPAGE_SIZE : bytes;
        return S.pressed && (size_t)(S.hi - S.brk) < need + zh_align_to_bytes(align);
    }
    case NULL_POOL: return E.n >= E.pool_lo;
    case NULL_DEBUG:
        return induced_failures() > E.induced_before ||
               (E.debug_limit != 0 &&
                zh_debug_total_requested_bytes(E.debug) + len > E.debug_limit);
    }
    return false;
}

/* ---- model updates shared by every op ------------------------------------------------------ */

static void add_block(unsigned char *p, size_t len, zh_align align) {
    block *b = &E.live[E.n];
    *b = (block){p, len, align, E.next_seed};
    E.next_seed = (uint8_t)(E.next_seed * 5u + 77u);
    expect_placed(b, E.n);
    E.n++;
    fill(b, 0);
    if (E.t->null_oracle == NULL_SBRK) {
        sbrk_press(len, align);
        sbrk_account(len, align, true);
    }
}

static void drop_block(size_t i) {
    if (E.t->null_oracle == NULL_SBRK) sbrk_account(E.live[i].len, E.live[i].align, false);
    E.live[i] = E.live[--E.n];
}

/* The block at slot i now lives at p with new_len bytes (prefix already checked). */
static void move_block(size_t i, unsigned char *p, size_t new_len) {
    block *b = &E.live[i];
    size_t old_len = b->len;
    if (E.t->null_oracle == NULL_SBRK) {
        sbrk_account(old_len, b->align, false);
        sbrk_press(new_len, b->align);
        sbrk_account(new_len, b->align, true);
    }
    b->p = p;
    b->len = new_len;
    expect_placed(b, i);
    if (new_len > old_len) fill(b, old_len);
}

static bool exact_model(void) {
    return E.t->null_oracle == NULL_FBA || E.t->null_oracle == NULL_FBA_TS;
}

/* ---- the operations ---------------------------------------------------------------------- */

static void op_alloc(reader *r) {
    uint8_t s0 = next_byte(r), s1 = next_byte(r), a = next_byte(r);
    if (E.n == MAX_LIVE) return;
    size_t len = E.t->is_pool ? E.pool.item_size : decode_len(s0, s1);
    zh_align align = decode_align(a);
    if (E.t->is_pool) {
        for (align = 0; zh_align_to_bytes(align) < E.pool.item_align;) align++;
        len = E.pool.item_size;
    }
    uintptr_t predicted = exact_model() ? fba_predict(len, align) : 0;
    unsigned char *p = E.t->is_pool ? zh_pool_create(&E.pool)
                                    : zh_raw_alloc(E.a, len, align, 0);
    TRACE("%lu alloc(%zu, align %zu) = %p\n", op_index, len, zh_align_to_bytes(align), (void *)p);
    if (exact_model() && (uintptr_t)p != predicted)
        fail("alloc(%zu, align %zu) returned %p; the model expects %p", len,
             zh_align_to_bytes(align), (void *)p, (void *)predicted);
    if (p == NULL) {
        if (!null_allowed(len, align))
            fail("alloc(%zu, align %zu) returned NULL with memory left (%zu live)", len,
                 zh_align_to_bytes(align), E.n);
        return;
    }
    if (E.t->is_pool && E.n >= E.pool_hi)
        fail("pool handed out item %zu but holds only %zu", E.n + 1, E.pool_hi);
    if (exact_model()) E.fba_end = (size_t)(predicted + len - E.fba_base);
    add_block(p, len, align);
}

static void free_slot(size_t i) {
    block *b = &E.live[i];
    TRACE("%lu free(%p, %zu)\n", op_index, (void *)b->p, b->len);
    expect_intact(b, b->len, "free");
    if (exact_model()) fba_apply_free(b);
    if (E.t->is_pool) zh_pool_destroy(&E.pool, b->p);
    else if (E.free_unsized != NULL && E.a.vtable == E.inner.vtable && (b->seed & 1))
        E.free_unsized(b->p);
    else zh_raw_free(E.a, b->p, b->len, b->align, 0);
    drop_block(i);
}

static void op_free(reader *r) {
    uint8_t slot = next_byte(r);
    if (E.n != 0) free_slot(slot % E.n);
}

typedef enum change_kind { CHANGE_RESIZE, CHANGE_REMAP, CHANGE_REALLOC } change_kind;

/* Pools have no resize: the op preheats instead. */
static void pool_preheat(size_t count) {
    TRACE("%lu preheat(%zu)\n", op_index, count);
    if (!zh_pool_preheat(&E.pool, count)) {
        if (induced_failures() > E.induced_before) return;
        fail("preheat(%zu) failed with memory left", count);
    }
    if (E.pool.growable) return;
    E.pool_lo += count;
    E.pool_hi += count;
}

static void op_change(reader *r, change_kind kind) {
    uint8_t slot = next_byte(r), s0 = next_byte(r), s1 = next_byte(r);
    if (E.t->is_pool) {
        if (kind == CHANGE_RESIZE) pool_preheat(s1 % 8);
        return;
    }
    if (E.n == 0) return;
    size_t i = slot % E.n;
    block *b = &E.live[i];
    /* Length class 4 grows by 1 .. 16 bytes instead: steps small enough to walk a
     * block up to the exact end of the memory behind it. */
    size_t new_len = (s0 >> 5) == 4 ? b->len + 1 + (s1 & 15) : decode_len(s0, s1);
    size_t keep = new_len < b->len ? new_len : b->len;
    bool predicted = exact_model() && fba_predict_resize(b, new_len);
    unsigned char *q;
    if (kind == CHANGE_RESIZE) {
        q = zh_raw_resize(E.a, b->p, b->len, b->align, new_len, 0) ? b->p : NULL;
    } else if (kind == CHANGE_REMAP) {
        q = zh_raw_remap(E.a, b->p, b->len, b->align, new_len, 0);
    } else {
        uintptr_t fresh = predicted ? 0 : fba_predict(new_len, b->align);
        q = zh_realloc_aligned(E.a, b->p, b->len, new_len, zh_align_to_bytes(b->align));
        if (exact_model() && !predicted) {
            if ((uintptr_t)q != fresh)
                fail("realloc to %zu returned %p; the model expects %p", new_len, (void *)q,
                     (void *)fresh);
            if (q != NULL) {
                E.fba_end = (size_t)(fresh + new_len - E.fba_base);
                fba_apply_free(b);
            }
        }
        if (q == NULL && !null_allowed(new_len, b->align))
            fail("realloc %zu -> %zu returned NULL with memory left", b->len, new_len);
    }
    TRACE("%lu %s(%p, %zu -> %zu) = %p\n", op_index, op_name, (void *)b->p, b->len, new_len,
          (void *)q);
    if (exact_model() && kind != CHANGE_REALLOC && (q != NULL) != predicted)
        fail("%s %zu -> %zu %s; the model says it %s", op_name, b->len, new_len,
             q ? "succeeded" : "failed", predicted ? "fits" : "does not fit");
    if ((kind == CHANGE_RESIZE || predicted) && q != NULL && q != b->p)
        fail("%s moved a block that %s in place", op_name,
             kind == CHANGE_RESIZE ? "resizes" : "the model resizes");
    if (q == NULL) {
        expect_sampled(b, b->len, "failed change");
        return;
    }
    if (exact_model() && predicted) fba_apply_resize(b, new_len);
    block moved = *b;
    moved.p = q;
    /* A moved block is checked whole (the copy); one changed in place, sampled. */
    if (q != b->p) expect_intact(&moved, keep, "contents after a move");
    else expect_sampled(&moved, keep, "contents after change");
    move_block(i, q, new_len);
}

static void op_reset(reader *r) {
    uint8_t mode = next_byte(r), limit = next_byte(r);
    if (E.t->reset == NULL) {
        while (E.n != 0) free_slot(E.n - 1);
        return;
    }
    checkpoint();
    TRACE("%lu reset(mode %d, limit %d)\n", op_index, mode % 3, limit);
    E.t->reset(&E, mode, limit);
    while (E.n != 0) drop_block(E.n - 1);
}

/* ---- targets ---------------------------------------------------------------------------- */

static unsigned char *fba_buffer;  /* FBA_BUFFER_MAX bytes, page-aligned */
static unsigned char *stack_buffer; /* 4 KiB for the stack fallback */

/* Sits above E.counter and counts the attempts that the counter will refuse. */
static void *probe_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    zh_failing *f = ctx;
    if (f->alloc_index >= f->fail_index) induced_count++;
    void *p = zh_failing_allocator(f).vtable->alloc(f, len, align, ret_addr);
    TRACE("    child alloc(%zu) = %p\n", len, p);
    return p;
}
static bool probe_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                         uintptr_t ret_addr) {
    bool ok = zh_failing_allocator(ctx).vtable->resize(ctx, mem, len, align, new_len, ret_addr);
    TRACE("    child resize(%p, %zu -> %zu) = %d\n", mem, len, new_len, ok);
    return ok;
}
static void *probe_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                         uintptr_t ret_addr) {
    return zh_failing_allocator(ctx).vtable->remap(ctx, mem, len, align, new_len, ret_addr);
}
static void probe_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    TRACE("    child free(%p, %zu)\n", mem, len);
    zh_failing_allocator(ctx).vtable->free(ctx, mem, len, align, ret_addr);
}
static const zh_allocator_vtable probe_vtable = {probe_alloc, probe_resize, probe_remap,
                                                 probe_free};

/* E.counter over `child`, failing from `fail_index` on; returns it as seen through
 * the probe (what the allocator under test gets as its child). */
static zh_allocator counter_over(zh_allocator child, size_t fail_index) {
    zh_failing_init(&E.counter, child, fail_index);
    E.has_counter = true;
    return (zh_allocator){&E.counter, &probe_vtable};
}

static void expect_counter_balanced(void) {
    const zh_failing *f = &E.counter;
    if (f->allocated_bytes != f->freed_bytes || f->allocations != f->deallocations)
        fail("leak below the allocator: %zu of %zu bytes and %zu of %zu blocks returned",
             f->freed_bytes, f->allocated_bytes, f->deallocations, f->allocations);
}

static void no_teardown(env *e) { (void)e; }
static void counter_teardown(env *e) { (void)e, expect_counter_balanced(); }

static void setup_page(env *e, uint8_t f, uint8_t p) { (void)f, (void)p, e->inner = zh_page_allocator; }
static void setup_c(env *e, uint8_t f, uint8_t p) { (void)f, (void)p, e->inner = zh_c_allocator; }
/* The SMP singleton. Checkpoints ask it whether it owns every live block and can
 * tell its size from the address; every other block is freed unsized (unless
 * wrapped). The allocator serves no one else in the harness, so at teardown its live
 * bytes are back where the input found them; flags bits 1-3 == 7 trims it then
 * (nothing may stay cached). */
static size_t smp_allocated_now(void) {
    zh_smp_stats st;
    zh_smp_get_stats(&st);
    return st.allocated;
}
static void smp_audit(bool all) {
    (void)all; /* a few loads per block: always all of them */
    for (size_t i = 0; i < E.n; i++) {
        const block *b = &E.live[i];
        if (!zh_smp_owns(b->p)) fail("smp does not own live block %p (len %zu)", (void *)b->p, b->len);
        size_t usable = zh_smp_usable_size(b->p);
        if (usable < b->len)
            fail("smp usable size of %p is %zu, below its length %zu", (void *)b->p, usable, b->len);
    }
}
static void setup_smp(env *e, uint8_t f, uint8_t p) {
    (void)p;
    e->inner = zh_smp_allocator;
    e->audit = smp_audit;
    e->free_unsized = zh_smp_free_unsized;
    e->smp_allocated = smp_allocated_now();
    e->smp_trim = ((f >> 1) & 7) == 7;
}
static void teardown_smp(env *e) {
    if (e->smp_trim) zh_smp_trim();
    zh_smp_stats st;
    zh_smp_get_stats(&st);
    if (st.allocated != e->smp_allocated)
        fail("smp holds %zu live bytes after every block was freed, %zu before the input",
             st.allocated, e->smp_allocated);
    if (e->smp_trim && st.cached != 0) fail("smp keeps %zu bytes cached after a trim", st.cached);
}
static void setup_raw_c(env *e, uint8_t f, uint8_t p) {
    (void)f, (void)p, e->inner = zh_raw_c_allocator;
}

/* A fixed buffer of 64 .. 32 KiB bytes whose start is misaligned by 0 .. 15 bytes. */
static void fba_model_init(env *e, uint8_t flags, uint8_t param, size_t scale) {
    unsigned char *buf = fba_buffer + ((flags >> 1) & 15);
    size_t cap = 64 + (size_t)param * scale;
    if (cap > FBA_BUFFER_MAX - 16) cap = FBA_BUFFER_MAX - 16;
    zh_fba_init(&e->fba, buf, cap);
    e->fba_base = (uintptr_t)buf;
    e->fba_cap = cap;
    e->fba_end = 0;
    e->fba_redzone = zh__track_redzone(); /* fba_buffer is on the heap: ASan is told */
}

static void setup_fba(env *e, uint8_t f, uint8_t p) {
    fba_model_init(e, f, p, 128);
    e->inner = zh_fba_allocator(&e->fba);
}
static void setup_fba_ts(env *e, uint8_t f, uint8_t p) {
    fba_model_init(e, f, p, 128);
    e->inner = zh_fba_thread_safe_allocator(&e->fba);
}
static void reset_fba(env *e, uint8_t mode, uint8_t limit) {
    (void)mode, (void)limit;
    zh_fba_reset(&e->fba);
    e->fba_end = 0;
}
static void teardown_fba(env *e) {
    if (zh_fba_end_index(&e->fba) != e->fba_end)
        fail("fixed buffer end %zu, the model's %zu", zh_fba_end_index(&e->fba), e->fba_end);
}

static void setup_ts_fba(env *e, uint8_t f, uint8_t p) {
    setup_fba(e, f, p);
    zh_thread_safe_init(&e->ts, e->inner);
    e->inner = zh_thread_safe_allocator(&e->ts);
}
static void teardown_ts_fba(env *e) {
    teardown_fba(e);
    zh_thread_safe_deinit(&e->ts);
}

static void arena_over(env *e, zh_allocator child, size_t fail_index) {
    zh_arena_init(&e->arena, counter_over(child, fail_index));
    e->inner = zh_arena_allocator(&e->arena);
}
static void setup_arena_page(env *e, uint8_t f, uint8_t p) {
    (void)f, (void)p, arena_over(e, zh_page_allocator, SIZE_MAX);
}
static void setup_arena_c(env *e, uint8_t f, uint8_t p) {
    (void)f, (void)p, arena_over(e, zh_c_allocator, SIZE_MAX);
}
static void setup_arena_failing(env *e, uint8_t f, uint8_t p) {
    (void)f, arena_over(e, zh_c_allocator, p);
}
static void setup_arena_fba(env *e, uint8_t f, uint8_t p) {
    fba_model_init(e, f & 1, p, 1024); /* up to 256 KiB, aligned start */
    arena_over(e, zh_fba_allocator(&e->fba), SIZE_MAX);
}
static void reset_arena(env *e, uint8_t mode, uint8_t limit) {
    zh_arena_reset_mode m = (zh_arena_reset_mode)(mode % 3);
    if (!zh_arena_reset(&e->arena, m, (size_t)limit * 256) &&
        induced_failures() == e->induced_before && e->t->null_oracle != NULL_ARENA_FBA)
        fail("arena reset mode %d failed with memory left", (int)m);
}
static void teardown_arena(env *e) {
    zh_arena_deinit(&e->arena);
    expect_counter_balanced();
}
static void teardown_arena_fba(env *e) {
    teardown_arena(e);
    if (zh_fba_end_index(&e->fba) != 0)
        fail("arena deinit left %zu bytes of its fixed buffer in use", zh_fba_end_index(&e->fba));
}

static void setup_ts_arena(env *e, uint8_t f, uint8_t p) {
    setup_arena_c(e, f, p);
    zh_thread_safe_init(&e->ts, e->inner);
    e->inner = zh_thread_safe_allocator(&e->ts);
}
static void teardown_ts_arena(env *e) {
    zh_thread_safe_deinit(&e->ts);
    teardown_arena(e);
}

static void setup_ts_c(env *e, uint8_t f, uint8_t p) {
    (void)f, (void)p;
    zh_thread_safe_init(&e->ts, zh_c_allocator);
    e->inner = zh_thread_safe_allocator(&e->ts);
}
static void teardown_ts(env *e) { zh_thread_safe_deinit(&e->ts); }

/* Pool variants: param picks the item size, alignment and growability; flags bits
 * 1-5 the items preheated at the start. */
static void pool_over(env *e, uint8_t flags, uint8_t param, size_t fail_index, bool growable) {
    static const size_t sizes[8] = {1, 8, 16, 24, 64, 100, 256, 4096};
    static const size_t aligns[8] = {0, 1, 8, 16, 32, 64, 128, 4096};
    zh_allocator backing = counter_over(zh_c_allocator, fail_index);
    zh_pool_options o = {sizes[param & 7], aligns[(param >> 3) & 7], growable};
    zh_pool_init(&e->pool, backing, o);
    e->pool_lo = e->pool_hi = growable ? SIZE_MAX : 0;
    size_t preheat = (flags >> 1) & 31;
    if (!growable) pool_preheat(preheat);
    else if (!zh_pool_preheat(&e->pool, preheat) && induced_failures() == 0)
        fail("preheat(%zu) failed with memory left", preheat);
}
static void setup_pool(env *e, uint8_t f, uint8_t p) { pool_over(e, f, p, SIZE_MAX, p & 0x40); }
static void setup_pool_failing(env *e, uint8_t f, uint8_t p) {
    pool_over(e, f, (uint8_t)(f >> 1), p, true);
}
/* A fixed pool keeps, as free items, what fits in the capacity the arena retains
 * (pool.h): at most the items it had, and at least those that fit in the bytes of
 * the items it surely had, less the padding its alignment may need (and under
 * ASan the redzone before the run). */
static void reset_pool(env *e, uint8_t mode, uint8_t limit) {
    zh_arena_reset_mode m = (zh_arena_reset_mode)(mode % 3);
    size_t size = e->pool.item_size, had_lo = e->pool_lo;
    size_t worst_pad = (e->pool.item_align > ZH_MALLOC_ALIGNMENT
                            ? e->pool.item_align - ZH_MALLOC_ALIGNMENT : 0) +
                       zh__track_redzone(); /* the arena's redzone before the run (ASan) */
    bool ok = zh_pool_reset(&e->pool, m, (size_t)limit * 64);
    if (!ok && induced_failures() == e->induced_before) fail("pool reset failed");
    if (e->pool.growable) return;
    size_t kept = had_lo * size; /* retained bytes, at least */
    if (m == ZH_ARENA_RETAIN_WITH_LIMIT && (size_t)limit * 64 < kept) kept = (size_t)limit * 64;
    if (m == ZH_ARENA_FREE_ALL) kept = 0;
    e->pool_lo = ok && kept > worst_pad ? (kept - worst_pad) / size : 0;
    if (m == ZH_ARENA_FREE_ALL && ok) e->pool_hi = 0;
}
static void teardown_pool(env *e) {
    zh_pool_deinit(&e->pool);
    expect_counter_balanced();
}

/* The stack fallback over a buffer of 16 .. 4 KiB, then the C heap (counted). */
static void setup_stack_fallback(env *e, uint8_t f, uint8_t p) {
    (void)f;
    zh_allocator fallback = counter_over(zh_c_allocator, SIZE_MAX);
    size_t len = 16 + (size_t)p * 16;
    zh_stack_fallback_init(&e->sf, stack_buffer, len, fallback);
    e->inner = zh_stack_fallback_get(&e->sf);
}

static void setup_failing(env *e, uint8_t f, uint8_t p) {
    zh_allocator probed = counter_over(zh_c_allocator, p);
    size_t resize_fail = (f >> 1) == 127 ? SIZE_MAX : (size_t)(f >> 1);
    zh_failing_set_resize_fail_index(&e->counter, resize_fail);
    e->inner = probed;
}

/* The sbrk allocator over a fake break of 64 KiB .. 2 MiB in a bigpage-aligned region. */
static void *fake_sbrk(intptr_t increment) {
    if (increment == 0) return S.brk;
    if (increment < 0 || (size_t)increment > (size_t)(S.hi - S.brk)) return (void *)-1;
    unsigned char *old = S.brk;
    S.brk += increment;
    return old;
}
static void setup_sbrk(env *e, uint8_t f, uint8_t p) {
    (void)f;
    unsigned char *region = S.region;
    memset(&S, 0, sizeof S);
    S.region = region;
    S.lo = S.brk = region;
    S.hi = region + (1 + (size_t)(p % 32)) * ZH_SBRK_BIGPAGE_SIZE;
    zh_sbrk_init(&e->sbrk, fake_sbrk);
    e->inner = zh_sbrk_allocator(&e->sbrk);
}

/* The debug allocator over the C heap (counted), no stack traces (speed); flags bits
 * 1-3 pick the bucket size (7: the default 128 KiB, else 4 .. 32 KiB: buckets that
 * small come from ASan's size classes, which recycle resident memory, where 128 KiB
 * ones are a fresh mapping each - most of this target's time), bits 4-6 turn on
 * never_unmap, retain_metadata and Zig's quarantine of 0; param bit 7 sets a memory
 * limit of 4 KiB .. 512 KiB. Any report is a finding: the harness never frees twice
 * or with a wrong length. Checkpoints compare the allocator's statistics and
 * zh_debug_block_info with the model; teardown wants zh_debug_detect_leaks() == 0. */
static size_t debug_page_size(uint8_t flags) {
    static const size_t kib[8] = {16, 4, 8, 32, 16, 8, 32, 0};
    size_t k = kib[(flags >> 1) & 7];
    return k == 0 ? ZH_DEBUG_PAGE_SIZE_DEFAULT : k * 1024;
}
static void debug_report(void *user, zh_debug_event event, const char *text, size_t len) {
    (void)user;
    if (event != ZH_DEBUG_LOG) fail("debug allocator reported (event %d): %.*s", (int)event, (int)len, text);
}
static void debug_expect_block_info(const block *b) {
    size_t len = 0, alignment = 0;
    if (!zh_debug_block_info(E.debug, b->p, &len, &alignment) || len != b->len ||
        alignment != zh_align_to_bytes(b->align))
        fail("debug block info of %p: len %zu align %zu, the model's %zu / %zu", (void *)b->p, len,
             alignment, b->len, zh_align_to_bytes(b->align));
}
/* Statistics at every checkpoint; block info (a probe per size class, most of an
 * audit's cost) for one block in turn, and for all of them at teardown. */
static void debug_audit(bool all) {
    zh_debug_stats st;
    zh_debug_get_stats(E.debug, &st);
    size_t bytes = 0;
    for (size_t i = 0; i < E.n; i++) {
        if (all || i == op_index % E.n) debug_expect_block_info(&E.live[i]);
        bytes += E.live[i].len;
    }
    if (st.live_count != E.n || st.live_bytes != bytes)
        fail("debug stats: %zu blocks of %zu bytes live, the model has %zu of %zu", st.live_count,
             st.live_bytes, E.n, bytes);
}
/* The debug allocator's backing: an arena over pages kept across inputs and reset
 * (capacity retained) after each one. Fresh C-heap memory for every bucket cost a
 * page fault per page touched, about half of this target's time; the arena's
 * memory stays mapped, and the arena's own checker hooks keep what the debug
 * allocator gave back unaddressable until it is handed out again. */
static zh_arena debug_backing_arena;
static bool debug_backing_ready;
static zh_allocator debug_backing(void) {
    if (!debug_backing_ready) zh_arena_init(&debug_backing_arena, zh_page_allocator);
    debug_backing_ready = true;
    return zh_arena_allocator(&debug_backing_arena);
}
static void debug_backing_recycle(void) {
    (void)zh_arena_reset(&debug_backing_arena, ZH_ARENA_RETAIN_WITH_LIMIT, (size_t)64 << 20);
}

static void setup_debug(env *e, uint8_t f, uint8_t p) {
    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.stack_trace_frames = 0;
    cfg.page_size = debug_page_size(f);
    cfg.backing = counter_over(debug_backing(), SIZE_MAX);
    cfg.backing_allocator_zeroes = false; /* recycled memory is not zeroed */
    cfg.never_unmap = (f & 0x10) != 0;
    cfg.retain_metadata = (f & 0x20) != 0;
    if (f & 0x40) cfg.bucket_quarantine = 0;
    cfg.report = debug_report;
    cfg.enable_memory_limit = (p & 0x80) != 0;
    e->debug = zh_debug_create(&cfg);
    if (e->debug == NULL) fail("zh_debug_create failed");
    e->debug_limit = cfg.enable_memory_limit ? ((size_t)(p & 0x7f) + 1) * 4096 : 0;
    if (e->debug_limit != 0) zh_debug_set_memory_limit(e->debug, e->debug_limit);
    e->inner = zh_debug_allocator(e->debug);
    e->audit = debug_audit;
}
static void teardown_debug(env *e) {
    debug_audit(true); /* nothing live: the counters must say so */
    zh_debug_flush_retained_metadata(e->debug);
    if (zh_debug_detect_leaks(e->debug) != 0) fail("the debug allocator found a leak");
    if (zh_debug_destroy(e->debug) != ZH_CHECK_OK) fail("the debug allocator saw a leak");
    expect_counter_balanced();
    debug_backing_recycle();
}

/* The table. Adding an allocator (debug, SMP) is one line here plus its setup. */
static const target targets[] = {
    {"page", 16, NULL_NEVER, false, setup_page, no_teardown, NULL},
    {"c", 12, NULL_NEVER, false, setup_c, no_teardown, NULL},
    {"raw_c", 4, NULL_NEVER, false, setup_raw_c, no_teardown, NULL},
    {"fba", 12, NULL_FBA, false, setup_fba, teardown_fba, reset_fba},
    {"fba_ts", 12, NULL_FBA_TS, false, setup_fba_ts, teardown_fba, reset_fba},
    {"arena_page", 12, NULL_NEVER, false, setup_arena_page, teardown_arena, reset_arena},
    {"arena_c", 12, NULL_NEVER, false, setup_arena_c, teardown_arena, reset_arena},
    {"arena_fba", 12, NULL_ARENA_FBA, false, setup_arena_fba, teardown_arena_fba, reset_arena},
    {"arena_failing", 8, NULL_INDUCED, false, setup_arena_failing, teardown_arena, reset_arena},
    {"pool", 0, NULL_POOL, true, setup_pool, teardown_pool, reset_pool},
    {"pool_failing", 0, NULL_INDUCED, true, setup_pool_failing, teardown_pool, reset_pool},
    {"stack_fallback", 12, NULL_NEVER, false, setup_stack_fallback, counter_teardown, NULL},
    {"thread_safe_c", 12, NULL_NEVER, false, setup_ts_c, teardown_ts, NULL},
    {"thread_safe_fba", 12, NULL_FBA, false, setup_ts_fba, teardown_ts_fba, reset_fba},
    {"thread_safe_arena", 12, NULL_NEVER, false, setup_ts_arena, teardown_ts_arena, NULL},
    {"sbrk", 17, NULL_SBRK, false, setup_sbrk, no_teardown, NULL},
    {"failing", 12, NULL_INDUCED, false, setup_failing, counter_teardown, NULL},
    {"debug", 12, NULL_DEBUG, false, setup_debug, teardown_debug, NULL},
    {"smp", 16, NULL_NEVER, false, setup_smp, teardown_smp, NULL},
};
#define TARGET_COUNT (sizeof targets / sizeof targets[0])

/* ---- driver --------------------------------------------------------------------------------- */

static const target *pinned;

size_t zh_fuzz_target_count(void) { return TARGET_COUNT; }
const char *zh_fuzz_target_name(size_t i) { return i < TARGET_COUNT ? targets[i].name : NULL; }

int zh_fuzz_pin_target(const char *name) {
    pinned = NULL;
    if (name == NULL) return 1;
    for (size_t i = 0; i < TARGET_COUNT; i++)
        if (strcmp(targets[i].name, name) == 0) pinned = &targets[i];
    return pinned != NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *trace = getenv("ZH_FUZZ_TRACE");
    tracing = trace != NULL && *trace != '\0' && *trace != '0';
    const char *name = getenv("ZH_FUZZ_TARGET");
    if (name != NULL && *name != '\0' && !zh_fuzz_pin_target(name)) {
        fprintf(stderr, "zheap fuzz: no target named %s; targets:", name);
        for (size_t i = 0; i < TARGET_COUNT; i++) fprintf(stderr, " %s", targets[i].name);
        fputc('\n', stderr);
        exit(2);
    }
    return 0;
}

static void init_buffers(void) {
    if (fba_buffer != NULL) return;
    init_ramp();
    fba_buffer = aligned_alloc(4096, FBA_BUFFER_MAX);
    stack_buffer = aligned_alloc(64, 4096);
    S.region = aligned_alloc(ZH_SBRK_BIGPAGE_SIZE, SBRK_REGION);
    if (fba_buffer == NULL || stack_buffer == NULL || S.region == NULL) fail("no test buffers");
}

static void run_op(reader *r) {
    uint8_t op = next_byte(r);
    E.induced_before = induced_failures();
    switch (op & 7) {
    case 0:
    case 1: op_name = "alloc", op_alloc(r); break;
    case 2: op_name = "free", op_free(r); break;
    case 3: op_name = "resize", op_change(r, CHANGE_RESIZE); break;
    case 4: op_name = "remap", op_change(r, CHANGE_REMAP); break;
    case 5: op_name = "realloc", op_change(r, CHANGE_REALLOC); break;
    case 6: op_name = "reset", op_reset(r); break;
    default:
        if (op == 0xff) op_name = "check", checkpoint();
        else op_name = "alloc", op_alloc(r);
        break;
    }
    if (E.t->null_oracle == NULL_SBRK) sbrk_check_usage();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    init_buffers();
    reader r = {data, data + size};
    const target *t = pinned ? pinned : &targets[next_byte(&r) % TARGET_COUNT];
    uint8_t flags = next_byte(&r), param = next_byte(&r);
    memset(&E, 0, offsetof(env, live));
    induced_count = 0;
    E.n = 0;
    E.next_seed = 1;
    E.t = t;
    op_index = 0;
    op_name = "setup";
    t->setup(&E, flags, param);
    E.a = E.inner;
    TRACE("target %s, flags 0x%02x, param %u\n", t->name, flags, param);
    if ((flags & 1) && !t->is_pool) E.a = zh_validation_wrap(&E.validator, E.inner);
    while (r.p < r.end) {
        op_index++;
        run_op(&r);
        if (op_index % CHECK_EVERY == 0) checkpoint();
    }
    op_name = "teardown";
    if (E.audit != NULL) E.audit(true);
    /* Free from the newest block down, so a bump allocator reclaims everything; each
     * free checks its block whole first. Targets that let a reset end their blocks
     * check them whole here instead. */
    if (t->reset == NULL || t->is_pool || exact_model())
        while (E.n != 0) free_slot(E.n - 1);
    else check_blocks(true);
    E.n = 0;
    t->teardown(&E);
    return 0;
}
