/* harness.h - the small benchmark harness every zheap-bench-* executable shares.
 *
 * A benchmark is a function that performs `iterations` rounds of some work, each
 * round being `ops_per_iteration` operations (e.g. one alloc+free pair = 1 op). The
 * harness calibrates the iteration count so one repetition takes about
 * --min-time seconds, warms up, runs --reps repetitions, and records ns/op for each.
 * Results are grouped: the first case measured in a group is the baseline, and the
 * table shows each case's median ns/op, spread (min..max over repetitions) and its
 * ratio to the baseline (>1 = slower than baseline). A group's rows are printed as
 * soon as the group is done.
 *
 * With --instructions, run under `valgrind --tool=callgrind` (default output file
 * names, in the current directory), nothing is timed: each case runs one warm-up
 * iteration, then a counted run between a callgrind zero-stats and a dump request
 * (so it starts warm: a pool has its items, an arena its buffer), and the table shows
 * instructions per op (Ir/op) read back from that dump, a figure that does not move
 * with machine load. bench/run.sh --instructions does this for every bench.
 *
 * Command line every bench accepts (zhb_init parses it):
 *   --reps N        repetitions per case (default 11)
 *   --min-time S    seconds per repetition (default 0.05)
 *   --quick         --reps 3 --min-time 0.01 (smoke runs, CI)
 *   --csv FILE      also write one CSV row per case to FILE ("-" = stdout)
 *   --markdown FILE also write the table (and notes) as markdown to FILE
 *   --filter TEXT   only cases whose "group/name" contains TEXT
 *   --iterations N  fixed iterations per repetition, no calibration (profilers)
 *   --instructions  count instructions per op under callgrind instead of timing
 *   --help
 * When stderr is a terminal, a progress line there names the group, the case and
 * the repetition being measured.
 */
#ifndef ZHEAP_BENCH_HARNESS_H
#define ZHEAP_BENCH_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zheap/internal.h" /* the library's bit and alignment helpers */

#if defined(__GNUC__) || defined(__clang__)
#define ZHB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ZHB_PRINTF(f, a)
#endif

typedef void (*zhb_fn)(void *ctx, size_t iterations);

typedef struct zhb_result {
    double median_ns; /* median ns per op over repetitions */
    double min_ns;    /* fastest repetition, ns per op */
    double max_ns;    /* slowest repetition, ns per op */
    size_t iterations; /* calibrated iterations per repetition */
    double instructions_per_op; /* --instructions: callgrind Ir per op; else 0 */
    double cpu_median_ns; /* median process CPU time (user + system) per op; timed
                           * group runs only, else 0: the figure that load from other
                           * processes inflates less than wall time */
    bool ran;          /* false if filtered out */
} zhb_result;

/* Parses the command line; `bench_name` titles the table. Exits on --help or a bad
 * argument. Call once, first. */
void zhb_init(int argc, char **argv, const char *bench_name);

/* Measures one case on its own, as a group of one (`group` = its name in the
 * table). Cases that are compared with each other belong in one zhb_run_group call
 * instead, which interleaves them; a zhb_run with the name of a group measured
 * earlier is compared with that group's baseline but not interleaved with it.
 * Optional `setup`/`teardown` run around each repetition outside the timed region
 * (may be NULL). */
zhb_result zhb_run(const char *group, const char *name, zhb_fn fn, void *ctx,
                   size_t ops_per_iteration);
zhb_result zhb_run_ex(const char *group, const char *name, zhb_fn fn, void *ctx,
                      size_t ops_per_iteration, void (*setup)(void *ctx),
                      void (*teardown)(void *ctx));

/* One case of a group measured with zhb_run_group. */
typedef struct zhb_case_spec {
    const char *name;
    zhb_fn fn;
    void *ctx;
    size_t ops_per_iteration;
    void (*setup)(void *ctx);    /* may be NULL */
    void (*teardown)(void *ctx); /* may be NULL */
} zhb_case_spec;

/* Measures `count` cases as one group, the first being the baseline. Each case is
 * calibrated and warmed up on its own; then the repetitions are interleaved (case 1,
 * case 2, ..., case 1, ...) so that noise from a shared machine spreads over every
 * case instead of landing on one. Preferred over consecutive zhb_run calls when the
 * ratios matter. `results` (may be NULL) receives `count` results in order. */
void zhb_run_group(const char *group, const zhb_case_spec *cases, size_t count,
                   zhb_result *results);

/* Adds a free-form note printed under the table (e.g. "glibc 2.36"). */
ZHB_PRINTF(1, 2) void zhb_note(const char *fmt, ...);

/* Notes the compiler, build type, ZHEAP_SAFETY, libc and CPU count. */
void zhb_note_environment(void);

/* True under --quick: benches may shrink workloads that do not scale with
 * --min-time (e.g. the largest remap target). */
bool zhb_quick(void);

/* Reports a failure (e.g. an allocator returned NULL) on stderr; zhb_finish then
 * returns nonzero. Measuring continues. */
ZHB_PRINTF(1, 2) void zhb_fail(const char *fmt, ...);

/* Prints the table (and closes the CSV file). Returns the process exit code:
 * nonzero if zhb_fail was called or a result could not be recorded. */
int zhb_finish(void);

/* Keeps the optimizer from deleting work whose result is otherwise unused, and is a
 * full compiler barrier: everything in memory counts as read and written, so state
 * that an inline fast path keeps in a register must be stored and reloaded around
 * it. Use it between operations that the compiler could otherwise fold together
 * (a create immediately followed by a destroy); a loop that stores each result
 * into an array needs no escape per operation. */
static inline void zhb_escape(void *p) {
#if defined(__GNUC__) || defined(__clang__)
    __asm__ volatile("" : : "g"(p) : "memory");
#else
    (void)p;
#endif
}
static inline void zhb_clobber(void) {
#if defined(__GNUC__) || defined(__clang__)
    __asm__ volatile("" : : : "memory");
#endif
}

/* Writes one byte into a block just allocated, as a program does (malloc writes a
 * header there too, so an untouched bump allocation would be compared with work
 * it skips). A volatile unsigned char store: it cannot be deleted, and the
 * compiler must assume it may alias any object, so an allocator cursor held in a
 * struct is stored before it and reloaded after it, as after any byte write. NULL
 * is skipped (the bench reports it). */
static inline void zhb_touch(void *p) {
    if (p) *(volatile unsigned char *)p = 1;
}

/* The hand-written baseline of the bump-allocator benches, written as a programmer
 * would when a buffer is enough: round the cursor address up to the alignment (a
 * power of two), check the end, advance. A zhb_bump in a local variable whose
 * address does not escape lives in registers (the floor); one in a struct reached
 * through a pointer is where an allocator keeps its cursor. */
typedef struct zhb_bump {
    unsigned char *cursor, *end;
} zhb_bump;

static inline void *zhb_bump_alloc(zhb_bump *b, size_t len, size_t alignment) {
    uintptr_t start = zh__align_forward_addr((uintptr_t)b->cursor, alignment);
    if (start > (uintptr_t)b->end || (uintptr_t)b->end - start < len) return NULL;
    b->cursor = (unsigned char *)start + len;
    return (unsigned char *)start;
}

/* The allocation loop of the batch benches: ptrs[i] = (ALLOC) for i in [0, count),
 * ALLOC being an expression of `i`, and with `touch` one byte written into each
 * block (zhb_touch) as it arrives. Storing each pointer keeps the work, so there
 * is no per-op escape: a cursor the compiler can keep in a register stays there.
 * The test of `touch` is outside the loop, so the untouched loop has no extra
 * branch. Ends with a compiler barrier. */
#define ZHB_FILL(ptrs, count, touch, ALLOC)                                              \
    do {                                                                                 \
        if (touch) {                                                                     \
            for (size_t i = 0; i < (count); i++) {                                       \
                (ptrs)[i] = (ALLOC);                                                     \
                zhb_touch((ptrs)[i]);                                                    \
            }                                                                            \
        } else {                                                                         \
            for (size_t i = 0; i < (count); i++) (ptrs)[i] = (ALLOC);                    \
        }                                                                                \
        zhb_clobber();                                                                   \
    } while (0)

/* Monotonic nanoseconds. */
uint64_t zhb_now_ns(void);
/* CPU time of this process (every thread, user + system), in ns. */
uint64_t zhb_cpu_ns(void);

#endif /* ZHEAP_BENCH_HARNESS_H */
