/* harness.h - the small benchmark harness every zheap-bench-* executable shares.
 *
 * A benchmark is a function that performs `iterations` rounds of some work, each
 * round being `ops_per_iteration` operations (e.g. one alloc+free pair = 1 op). The
 * harness calibrates the iteration count so one repetition takes about
 * --min-time seconds, warms up, runs --reps repetitions, and records ns/op for each.
 * Results are grouped: the first case measured in a group is the baseline, and the
 * table shows each case's median ns/op, spread (min..max over repetitions) and its
 * ratio to the baseline (>1 = slower than baseline).
 *
 * Command line every bench accepts (zhb_init parses it):
 *   --reps N        repetitions per case (default 11)
 *   --min-time S    seconds per repetition (default 0.05)
 *   --quick         --reps 3 --min-time 0.01 (smoke runs, CI)
 *   --csv FILE      also write one CSV row per case to FILE ("-" = stdout)
 *   --markdown FILE also write the table (and notes) as markdown to FILE
 *   --filter TEXT   only cases whose "group/name" contains TEXT
 *   --iterations N  fixed iterations per repetition, no calibration (profilers)
 *   --help
 * A progress line goes to stderr (when it is a terminal) while a group runs longer
 * than a second.
 */
#ifndef ZHEAP_BENCH_HARNESS_H
#define ZHEAP_BENCH_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
    bool ran;          /* false if filtered out */
} zhb_result;

/* Parses the command line; `bench_name` titles the table. Exits on --help or a bad
 * argument. Call once, first. */
void zhb_init(int argc, char **argv, const char *bench_name);

/* Measures one case. `group` collects cases compared with each other; the first case
 * of a group is its baseline. Optional `setup`/`teardown` run around each repetition
 * outside the timed region (may be NULL). */
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

/* Keeps the optimizer from deleting work whose result is otherwise unused. */
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

/* Monotonic nanoseconds. */
uint64_t zhb_now_ns(void);

#endif /* ZHEAP_BENCH_HARNESS_H */
