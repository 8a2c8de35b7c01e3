/* bench_debug.c - what the debug allocator costs, against glibc malloc and
 * AddressSanitizer, on the churn workload of churn.h (random sizes 8 B - 4 KiB, 256
 * live blocks, every block written once; one op = one free + one allocation).
 *
 * Groups (cases of a group run interleaved, the first is the baseline):
 *   churn            glibc malloc; the debug allocator with 0 frames, 6 frames through
 *                    the default unwinder (libunwind) and 6 by frame pointer. The same
 *                    loop built with -fsanitize=address (zheap-bench-churn-asan) runs
 *                    as a child process right after, and its figure and ratios are
 *                    noted under the table.
 *   config           6 frames (the default config) with one field changed per case:
 *                    the measured cost of each field.
 *   capture          one 6-frame trace from 10 frames deep, per method.
 *   symbolize        one frame, in this executable (a static function) and in libc.
 * Run through bench/run.sh, or alone: zheap-bench-debug [--quick] [...harness options]. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "churn.h"
#include "harness.h"
#include "platform/platform.h"
#include "zheap/debug.h"

#ifndef ZHB_CHURN_ASAN
#define ZHB_CHURN_ASAN ""
#endif

/* ---- churn cases ------------------------------------------------------------------------ */

typedef struct churn_case {
    zh_debug_config cfg;
    bool use_debug;
    zh_debug *d;
    zh_allocator a;
    size_t reports;
    churn_state c;
} churn_case;

static void count_reports(void *user, zh_debug_event event, const char *text, size_t len) {
    (void)text;
    (void)len;
    if (event != ZH_DEBUG_LOG) ((churn_case *)user)->reports++;
}

static void ignore_reports(void *user, zh_debug_event event, const char *text, size_t len) {
    (void)user;
    (void)event;
    zhb_escape((void *)text);
    (void)len;
}

/* One instance per case for the whole run, as a program has one for its lifetime
 * (a fresh instance per repetition would time its warm-up: the first buckets are
 * fresh pages); each repetition starts from an empty live set. */
static void churn_setup(void *ctx) {
    churn_case *k = ctx;
    churn_reset(&k->c);
    if (!k->use_debug || k->d != NULL) return;
    k->d = zh_debug_create(&k->cfg);
    if (k->d == NULL) zhb_fail("zh_debug_create refused the configuration");
    k->a = zh_debug_allocator(k->d);
}

#define MALLOC_FREE(p, len) ((void)(len), free(p))
#define DEBUG_ALLOC(len) zh_alloc(k->a, (len))
#define DEBUG_FREE(p, len) zh_free(k->a, (p), (len))

static void churn_teardown(void *ctx) {
    churn_case *k = ctx;
    for (size_t i = 0; i < CHURN_LIVE; i++) {
        if (k->c.block[i] == NULL) continue;
        if (k->use_debug)
            DEBUG_FREE(k->c.block[i], k->c.len[i]);
        else
            free(k->c.block[i]);
    }
    if (k->reports != 0) zhb_fail("%zu unexpected reports", k->reports);
}

static void churn_destroy(churn_case *k, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (k[i].d != NULL && zh_debug_destroy(k[i].d) != ZH_CHECK_OK) zhb_fail("the churn leaked");
        k[i].d = NULL;
    }
}

static void run_malloc(void *ctx, size_t iterations) {
    churn_case *k = ctx;
    CHURN_OPS(&k->c, iterations, malloc, MALLOC_FREE);
}

static void run_debug(void *ctx, size_t iterations) {
    churn_case *k = ctx;
    if (k->d == NULL) return;
    CHURN_OPS(&k->c, iterations, DEBUG_ALLOC, DEBUG_FREE);
    for (size_t i = 0; i < CHURN_LIVE; i++)
        if (k->c.len[i] != 0 && k->c.block[i] == NULL) zhb_fail("out of memory");
}

static churn_case debug_case(size_t frames, zh_debug_unwinder unwinder) {
    churn_case k;
    memset(&k, 0, sizeof k);
    k.cfg = (zh_debug_config)ZH_DEBUG_CONFIG_DEFAULT;
    k.cfg.stack_trace_frames = frames;
    k.cfg.unwinder = unwinder;
    k.use_debug = true;
    return k;
}

static zhb_case_spec churn_spec(const char *name, churn_case *k) {
    k->cfg.report = k->cfg.verbose_log ? ignore_reports : count_reports;
    k->cfg.report_user = k;
    zhb_case_spec s = {name, k->use_debug ? run_debug : run_malloc, k, 1, churn_setup,
                       churn_teardown};
    return s;
}

/* ---- the AddressSanitizer companion ------------------------------------------------------ */

/* Runs zheap-bench-churn-asan; its median ns/op (wall), or a negative value; *cpu
 * gets its median CPU ns/op. */
static double run_asan(size_t iterations, size_t reps, double *min, double *max, double *cpu) {
    if (ZHB_CHURN_ASAN[0] == '\0') return -1;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %zu %zu", ZHB_CHURN_ASAN, iterations, reps);
    FILE *f = popen(cmd, "r");
    if (f == NULL) return -1;
    double med = -1;
    if (fscanf(f, "ns_per_op %lf %lf %lf cpu %lf", &med, min, max, cpu) != 4) med = -1;
    if (pclose(f) != 0) med = -1;
    return med;
}

static void bench_churn(void) {
    static churn_case k[5];
    memset(&k[0], 0, sizeof k[0]);
    k[1] = debug_case(0, ZH_DEBUG_UNWIND_DEFAULT);
    k[2] = debug_case(6, ZH_DEBUG_UNWIND_DEFAULT);
    k[3] = debug_case(6, ZH_DEBUG_UNWIND_FRAME_POINTER);
    k[4] = debug_case(0, ZH_DEBUG_UNWIND_DEFAULT); /* Zig's checks only */
    k[4].cfg.check_overflow = k[4].cfg.check_use_after_free = false;
    char default_name[64], fp_name[64];
    snprintf(default_name, sizeof default_name, "debug, 6 frames (%s)", zh_debug_backtrace_provider());
    snprintf(fp_name, sizeof fp_name, "debug, 6 frames (frame pointer)");
    const zhb_case_spec cases[] = {
        churn_spec("glibc malloc", &k[0]),
        churn_spec("debug, 0 frames", &k[1]),
        churn_spec(default_name, &k[2]),
        churn_spec(fp_name, &k[3]),
        churn_spec("debug, 0 frames, Zig's checks only", &k[4]),
    };
    zhb_result r[5];
    zhb_run_group("churn", cases, 5, r);
    churn_destroy(k, 5);
    if (!r[0].ran) return;
    const double g_cpu = r[0].cpu_median_ns;
    if (g_cpu > 0)
        zhb_note("churn CPU time (process user + system, median ns/op): glibc malloc %.1f; "
                 "debug 0 frames %.1f = %.2fx; 6 frames %s %.1f = %.2fx; 6 frames by frame "
                 "pointer %.1f = %.2fx; 0 frames without the fill checks %.1f = %.2fx",
                 g_cpu, r[1].cpu_median_ns, r[1].cpu_median_ns / g_cpu,
                 zh_debug_backtrace_provider(), r[2].cpu_median_ns, r[2].cpu_median_ns / g_cpu,
                 r[3].cpu_median_ns, r[3].cpu_median_ns / g_cpu, r[4].cpu_median_ns,
                 r[4].cpu_median_ns / g_cpu);
    double min = 0, max = 0, asan_cpu = 0;
    size_t reps = zhb_quick() ? 3 : 11;
    double asan = run_asan(r[0].iterations > 20000 ? r[0].iterations : 20000, reps, &min, &max,
                           &asan_cpu);
    if (asan <= 0) {
        zhb_note("churn: the AddressSanitizer companion (zheap-bench-churn-asan) did not run");
        return;
    }
    zhb_note("churn under AddressSanitizer (glibc malloc, -fsanitize=address, child process): "
             "%.1f ns/op (%.1f..%.1f) = %.2fx glibc malloc; CPU %.1f ns/op = %.2fx glibc "
             "malloc's CPU; default configuration's CPU = %.2fx ASan's",
             asan, min, max, asan / r[0].median_ns, asan_cpu,
             g_cpu > 0 ? asan_cpu / g_cpu : 0.0, asan_cpu > 0 ? r[2].cpu_median_ns / asan_cpu : 0.0);
    zhb_note("churn ratios: debug 0 frames %.2fx malloc; debug 6 frames %s %.2fx malloc = "
             "%.2fx ASan; 6 frames by frame pointer %.2fx malloc = %.2fx ASan; 0 frames "
             "without the fill checks %.2fx malloc",
             r[1].median_ns / r[0].median_ns, zh_debug_backtrace_provider(),
             r[2].median_ns / r[0].median_ns, r[2].median_ns / asan,
             r[3].median_ns / r[0].median_ns, r[3].median_ns / asan,
             r[4].median_ns / r[0].median_ns);
}

/* ---- the cost of each configuration field -------------------------------------------------- */

static pthread_mutex_t hook_mutex = PTHREAD_MUTEX_INITIALIZER;
static void hook_lock(void *m) { pthread_mutex_lock(m); }
static void hook_unlock(void *m) { pthread_mutex_unlock(m); }

static void bench_config(void) {
    enum { N = 15 };
    static churn_case k[N];
    static const char *names[N] = {
        "default (6 frames)",        "thread_safe = false",     "lock_hook (pthread mutex)",
        "safety = false",            "check_overflow = false",  "check_use_after_free = false",
        "both beyond-Zig checks off", "enable_memory_limit",    "stack_trace_frames = 12",
        "page_size = 16 KiB",        "page_size = 1 MiB",       "backing_allocator_zeroes = false",
        "verbose_log (sink ignores)", "bucket_quarantine = 0 (Zig)", "bucket_quarantine = 8",
    };
    for (size_t i = 0; i < N; i++) k[i] = debug_case(6, ZH_DEBUG_UNWIND_DEFAULT);
    k[1].cfg.thread_safe = false;
    k[2].cfg.lock_hook = (zh_debug_lock_hook){hook_lock, hook_unlock, &hook_mutex};
    k[3].cfg.safety = false;
    k[4].cfg.check_overflow = false;
    k[5].cfg.check_use_after_free = false;
    k[6].cfg.check_overflow = k[6].cfg.check_use_after_free = false;
    k[7].cfg.enable_memory_limit = true;
    k[8].cfg.stack_trace_frames = 12;
    k[9].cfg.page_size = 16384;
    k[10].cfg.page_size = 1 << 20;
    k[11].cfg.backing_allocator_zeroes = false;
    k[12].cfg.verbose_log = true;
    k[13].cfg.bucket_quarantine = 0;
    k[14].cfg.bucket_quarantine = 8;
    zhb_case_spec cases[N];
    for (size_t i = 0; i < N; i++) cases[i] = churn_spec(names[i], &k[i]);
    zhb_run_group("config", cases, N, NULL);
    churn_destroy(k, N);
    zhb_note("config: never_unmap and retain_metadata cost memory rather than time (every "
             "retired bucket / freed large block stays mapped until destroy), so the churn, "
             "which would grow without bound, does not time them; resize_stack_traces costs "
             "one capture per in-place resize, which the churn does not do");
}

/* ---- capture and symbolization ------------------------------------------------------------- */

typedef struct capture_case {
    zh__stack_method method;
    size_t frames_seen;
} capture_case;

#if defined(__GNUC__) || defined(__clang__)
#define BENCH_NOINLINE __attribute__((noinline))
#else
#define BENCH_NOINLINE
#endif

static BENCH_NOINLINE void capture_loop(capture_case *c, size_t iterations) {
    uintptr_t frames[6];
    for (size_t i = 0; i < iterations; i++) {
        size_t n = zh__os_stack_capture(c->method, 0, frames, 6);
        c->frames_seen = n;
        zhb_escape(frames);
    }
}

/* Captures from `depth` frames below the harness so that six frames always exist. */
static BENCH_NOINLINE void capture_deep(capture_case *c, size_t iterations, int depth) {
    if (depth == 0)
        capture_loop(c, iterations);
    else
        capture_deep(c, iterations, depth - 1);
    zhb_clobber();
}

static void run_capture(void *ctx, size_t iterations) { capture_deep(ctx, iterations, 10); }

static void bench_capture(void) {
    if (!(zh__os_stack_caps() & ZH__OS_HAS_STACK_CAPTURE)) {
        zhb_note("capture: this build has no stack-capture provider");
        return;
    }
    zh__os_stack_warm_up();
    static capture_case c[2] = {{ZH__STACK_DEFAULT, 0}, {ZH__STACK_FRAME_POINTER, 0}};
    char name[64];
    snprintf(name, sizeof name, "6 frames, %s", zh__os_stack_provider());
    const zhb_case_spec cases[] = {
        {name, run_capture, &c[0], 1, NULL, NULL},
        {"6 frames, frame pointer", run_capture, &c[1], 1, NULL, NULL},
    };
    zhb_result r[2];
    zhb_run_group("capture", cases, 2, r);
    if ((r[0].ran && c[0].frames_seen != 6) || (r[1].ran && c[1].frames_seen != 6))
        zhb_fail("capture: %zu and %zu frames instead of 6", c[0].frames_seen, c[1].frames_seen);
}

typedef struct symbolize_case {
    uintptr_t address;
    bool named;
} symbolize_case;

static void run_symbolize(void *ctx, size_t iterations) {
    symbolize_case *s = ctx;
    for (size_t i = 0; i < iterations; i++) {
        zh__symbol sym;
        s->named = zh__os_symbolize(s->address, &sym) && sym.function[0] != '\0';
        zhb_escape(&sym);
    }
}

static void bench_symbolize(void) {
    if (!(zh__os_stack_caps() & ZH__OS_HAS_SYMBOLIZE)) return;
    static symbolize_case s[2];
    s[0].address = (uintptr_t)&capture_loop + 16; /* a static function of this file */
    s[1].address = (uintptr_t)&qsort + 16;         /* libc */
    const zhb_case_spec cases[] = {
        {"frame in this executable (static function)", run_symbolize, &s[0], 1, NULL, NULL},
        {"frame in libc", run_symbolize, &s[1], 1, NULL, NULL},
    };
    zhb_run_group("symbolize", cases, 2, NULL);
    zhb_note("symbolize: one frame, symbol + module + file:line (only when reporting)");
}

int main(int argc, char **argv) {
    zhb_init(argc, argv, "zheap-bench-debug"); /* debug allocator vs glibc malloc and ASan */
    zhb_note_environment();
    zhb_note("stack provider: %s; churn: %d live blocks of 8..4096 B, one op = free + "
             "alloc + write",
             zh_debug_backtrace_provider(), CHURN_LIVE);
    bench_churn();
    bench_config();
    bench_capture();
    bench_symbolize();
    return zhb_finish();
}
