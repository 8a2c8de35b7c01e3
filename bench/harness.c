/* harness.c - the benchmark harness behind bench/harness.h.
 *
 * Design: every case is measured the same way. Calibration doubles the iteration
 * count until one call takes a tenth of --min-time, then scales it to --min-time;
 * one untimed warm-up repetition follows, then --reps timed repetitions. Each
 * repetition is bracketed by the case's setup/teardown, outside the clock. Cases run
 * together with zhb_run_group take turns repetition by repetition, so that load from
 * elsewhere on a shared machine falls on all of them alike. A group's table rows and
 * CSV rows are written as soon as the group completes, so the table grows while the
 * bench runs and a crash later loses nothing already measured. With --instructions
 * (under callgrind) a case runs one warm-up iteration, then a counted run between
 * CALLGRIND_ZERO_STATS and CALLGRIND_DUMP_STATS_AT (same setup, so the counted run
 * starts warm), and the dump's event total divided by the ops run is its Ir/op.
 *
 * Costs: two clock_gettime calls per repetition, so the clock's own overhead is
 * amortised over thousands of operations; memory is one small record per case. The
 * harness is POSIX-only (clock_gettime, CLOCK_MONOTONIC), which is fine for bench/. */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__GLIBC__)
#include <gnu/libc-version.h>
#endif
#ifdef ZHB_HAVE_CALLGRIND
#include <valgrind/callgrind.h>
#endif

#include "zheap/allocator.h"

#define ZHB_NAME_MAX 64
#define ZHB_NOTE_MAX 256
#define ZHB_PROGRESS_WIDTH 79
/* --instructions without --iterations: enough ops per case that the loop's fixed
 * cost vanishes in the per-op figure, few enough to stay quick under callgrind. */
#define ZHB_INSTRUCTION_OPS 8192
#define ZHB_INSTRUCTION_OPS_QUICK 1024
#define ZHB_INSTRUCTION_BUDGET_NS 2e8

typedef struct zhb_case {
    char group[ZHB_NAME_MAX];
    char name[ZHB_NAME_MAX];
    zhb_result result;
    double ratio; /* median / the group baseline's median */
} zhb_case;

static struct {
    const char *bench_name;
    unsigned reps;
    double min_time_s;
    size_t fixed_iterations; /* --iterations: no calibration (for profilers) */
    bool progress;           /* stderr is a terminal */
    bool quick;
    bool instructions;       /* --instructions: count under callgrind, do not time */
    unsigned dumps;          /* callgrind dumps requested so far */
    bool note_load;          /* zhb_note_environment: note the load at start and end */
    char load_at_start[48];
    const char *filter;
    FILE *csv;
    FILE *markdown;
    zhb_case *cases;
    size_t case_count, case_cap;
    char (*notes)[ZHB_NOTE_MAX];
    size_t note_count, note_cap;
    bool failed;
} zhb;

uint64_t zhb_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t zhb_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* "0.52 0.31 0.20" (1, 5 and 15 minutes) from /proc/loadavg, or "unknown". */
static void zhb_read_loadavg(char *out, size_t size) {
    snprintf(out, size, "unknown");
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f) return;
    double l1, l5, l15;
    if (fscanf(f, "%lf %lf %lf", &l1, &l5, &l15) == 3)
        snprintf(out, size, "%.2f %.2f %.2f", l1, l5, l15);
    fclose(f);
}

/* ---- command line ---------------------------------------------------------------- */

static void zhb_usage(FILE *out, const char *argv0) {
    fprintf(out,
            "usage: %s [--reps N] [--min-time S] [--quick] [--csv FILE] [--markdown FILE]\n"
            "          [--filter TEXT] [--iterations N] [--instructions] [--help]\n"
            "  --reps N         repetitions per case (default 11)\n"
            "  --min-time S     seconds per repetition (default 0.05)\n"
            "  --quick          --reps 3 --min-time 0.01 (smoke runs)\n"
            "  --csv FILE       also write one CSV row per case (\"-\" = stdout)\n"
            "  --markdown FILE  also write the table as markdown (\"-\" = stdout)\n"
            "  --filter TEXT    only cases whose \"group/name\" contains TEXT\n"
            "  --iterations N   fixed iterations per repetition, no calibration (for\n"
            "                   profilers: callgrind, perf)\n"
            "  --instructions   count instructions per op instead of timing; run under\n"
            "                   valgrind --tool=callgrind (default output file names)\n",
            argv0);
}

_Noreturn static void zhb_bad_argument(const char *argv0, const char *what,
                                               const char *arg) {
    fprintf(stderr, "%s: %s: '%s'\n", argv0, what, arg ? arg : "(missing)");
    zhb_usage(stderr, argv0);
    exit(2);
}

static const char *zhb_option_value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) zhb_bad_argument(argv[0], "missing value for", argv[*i]);
    *i += 1;
    return argv[*i];
}

static unsigned zhb_parse_reps(const char *argv0, const char *text) {
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v == 0 || v > 10000)
        zhb_bad_argument(argv0, "--reps wants an integer in 1..10000", text);
    return (unsigned)v;
}

static size_t zhb_parse_iterations(const char *argv0, const char *text) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v == 0 || v > (SIZE_MAX >> 2))
        zhb_bad_argument(argv0, "--iterations wants a positive integer", text);
    return (size_t)v;
}

static double zhb_parse_seconds(const char *argv0, const char *text) {
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(v > 0.0) || v > 60.0)
        zhb_bad_argument(argv0, "--min-time wants seconds in (0, 60]", text);
    return v;
}

static FILE *zhb_open_output(const char *argv0, const char *path) {
    if (strcmp(path, "-") == 0) return stdout;
    FILE *f = fopen(path, "w");
    if (!f) zhb_bad_argument(argv0, "cannot open for writing", path);
    return f;
}

/* --instructions reads callgrind's dumps back, so it needs both the client requests
 * at build time and callgrind at run time. */
static void zhb_require_callgrind(const char *argv0) {
#ifdef ZHB_HAVE_CALLGRIND
    if (RUNNING_ON_VALGRIND) return;
    fprintf(stderr, "%s: --instructions: run under valgrind --tool=callgrind, e.g.\n"
                    "  valgrind --tool=callgrind %s --instructions\n",
            argv0, argv0);
#else
    fprintf(stderr, "%s: --instructions: built without <valgrind/callgrind.h> "
                    "(Debian: apt-get install valgrind, then reconfigure)\n", argv0);
#endif
    exit(2);
}

static void zhb_print_table_header(FILE *out);

void zhb_init(int argc, char **argv, const char *bench_name) {
    zhb.bench_name = bench_name;
    zhb.reps = 11;
    zhb.min_time_s = 0.05;
    zhb.progress = isatty(STDERR_FILENO) == 1; /* no \r-animation in logs */
    zhb_read_loadavg(zhb.load_at_start, sizeof zhb.load_at_start);
    const char *csv_path = NULL, *md_path = NULL;
    bool reps_given = false, time_given = false;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--reps") == 0) {
            zhb.reps = zhb_parse_reps(argv[0], zhb_option_value(argc, argv, &i));
            reps_given = true;
        } else if (strcmp(arg, "--min-time") == 0) {
            zhb.min_time_s = zhb_parse_seconds(argv[0], zhb_option_value(argc, argv, &i));
            time_given = true;
        } else if (strcmp(arg, "--quick") == 0) {
            zhb.quick = true;
        } else if (strcmp(arg, "--csv") == 0) {
            csv_path = zhb_option_value(argc, argv, &i);
        } else if (strcmp(arg, "--markdown") == 0) {
            md_path = zhb_option_value(argc, argv, &i);
        } else if (strcmp(arg, "--iterations") == 0) {
            zhb.fixed_iterations = zhb_parse_iterations(argv[0], zhb_option_value(argc, argv, &i));
        } else if (strcmp(arg, "--instructions") == 0) {
            zhb.instructions = true;
        } else if (strcmp(arg, "--filter") == 0) {
            zhb.filter = zhb_option_value(argc, argv, &i);
        } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            zhb_usage(stdout, argv[0]);
            exit(0);
        } else {
            zhb_bad_argument(argv[0], "unknown argument", arg);
        }
    }
    /* --quick sets defaults; explicit --reps / --min-time still win. */
    if (zhb.quick) {
        if (!reps_given) zhb.reps = 3;
        if (!time_given) zhb.min_time_s = 0.01;
    }
    if (zhb.instructions) zhb_require_callgrind(argv[0]);
    if (csv_path) {
        zhb.csv = zhb_open_output(argv[0], csv_path);
        fprintf(zhb.csv, "bench,group,case,median_ns,min_ns,max_ns,ratio,iterations,reps,"
                         "instructions_per_op,instructions_ratio\n");
        fflush(zhb.csv);
    }
    if (md_path) zhb.markdown = zhb_open_output(argv[0], md_path);
    zhb_print_table_header(stdout);
}

bool zhb_quick(void) { return zhb.quick; }


/* ---- notes ------------------------------------------------------------------------ */

void zhb_note(const char *fmt, ...) {
    if (zhb.note_count == zhb.note_cap) {
        size_t cap = zhb.note_cap ? zhb.note_cap * 2 : 8;
        void *grown = realloc(zhb.notes, cap * sizeof *zhb.notes);
        if (!grown) return; /* a lost note is not worth failing a benchmark for */
        zhb.notes = grown;
        zhb.note_cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(zhb.notes[zhb.note_count], ZHB_NOTE_MAX, fmt, ap);
    va_end(ap);
    zhb.note_count++;
}

#ifndef ZHB_BUILD_TYPE
#define ZHB_BUILD_TYPE "unknown"
#endif

void zhb_note_environment(void) {
#if defined(__clang__)
    zhb_note("compiler: clang %s", __clang_version__);
#elif defined(__GNUC__)
    zhb_note("compiler: gcc %s", __VERSION__);
#else
    zhb_note("compiler: unknown");
#endif
#if defined(__OPTIMIZE__)
    const char *optimized = "optimized";
#else
    const char *optimized = "not optimized";
#endif
    zhb_note("build type: %s (%s), ZHEAP_SAFETY %s", ZHB_BUILD_TYPE, optimized,
             zh_safety_enabled() ? "on" : "off");
#if defined(__GLIBC__)
    zhb_note("libc: glibc %s", gnu_get_libc_version());
#endif
    if (zhb.instructions)
        zhb_note("online CPUs: %ld; --instructions (callgrind): one counted run per case",
                 sysconf(_SC_NPROCESSORS_ONLN));
    else
        zhb_note("online CPUs: %ld; --reps %u, --min-time %g s",
                 sysconf(_SC_NPROCESSORS_ONLN), zhb.reps, zhb.min_time_s);
    zhb.note_load = true;
}


/* ---- measuring -------------------------------------------------------------------- */

static bool zhb_selected(const char *group, const char *name) {
    if (!zhb.filter) return true;
    char full[2 * ZHB_NAME_MAX + 1];
    snprintf(full, sizeof full, "%s/%s", group, name);
    return strstr(full, zhb.filter) != NULL;
}

typedef struct zhb_job {
    zhb_fn fn;
    void *ctx;
    void (*setup)(void *ctx);
    void (*teardown)(void *ctx);
} zhb_job;

/* One repetition: setup, the timed call, teardown. Returns elapsed nanoseconds;
 * the process CPU time of the call into *cpu_ns when cpu_ns != NULL. */
static uint64_t zhb_time_once(const zhb_job *job, size_t iterations, uint64_t *cpu_ns) {
    if (job->setup) job->setup(job->ctx);
    zhb_clobber();
    uint64_t cpu_start = cpu_ns ? zhb_cpu_ns() : 0;
    uint64_t start = zhb_now_ns();
    job->fn(job->ctx, iterations);
    uint64_t end = zhb_now_ns();
    if (cpu_ns) *cpu_ns = zhb_cpu_ns() - cpu_start;
    zhb_clobber();
    if (job->teardown) job->teardown(job->ctx);
    return end - start;
}

/* The iteration count that makes one repetition last about --min-time. An untimed
 * iteration comes first, so that a cold start (an empty pool or arena, a heap not
 * yet grown) cannot pass for the cost of every iteration. */
static size_t zhb_calibrate(const zhb_job *job) {
    const double target_ns = zhb.min_time_s * 1e9;
    (void)zhb_time_once(job, 1, NULL);
    size_t iterations = 1;
    for (;;) {
        uint64_t elapsed = zhb_time_once(job, iterations, NULL);
        if ((double)elapsed >= target_ns / 10.0 || iterations >= (SIZE_MAX >> 2)) {
            double per_iteration = (double)elapsed / (double)iterations;
            if (per_iteration <= 0.0) per_iteration = 1.0;
            double wanted = target_ns / per_iteration;
            if (wanted < 1.0) wanted = 1.0;
            if (wanted > (double)(SIZE_MAX >> 2)) wanted = (double)(SIZE_MAX >> 2);
            return (size_t)wanted;
        }
        iterations *= 2;
    }
}

static int zhb_compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double zhb_median(double *sorted, size_t n) {
    if (n % 2 == 1) return sorted[n / 2];
    return (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
}

/* ---- progress (stderr, terminals only) ----------------------------------------------- */

/* One line, rewritten in place: "  [case/cases] group: case: what" (bench/run.sh
 * has named the bench above it). */
static void zhb_progress(const char *group, const char *name, size_t index, size_t count,
                         const char *what) {
    if (!zhb.progress) return;
    char line[256];
    snprintf(line, sizeof line, "  [%zu/%zu] %s: %s: %s", index + 1, count, group, name, what);
    fprintf(stderr, "\r%-*.*s", ZHB_PROGRESS_WIDTH, ZHB_PROGRESS_WIDTH, line);
    fflush(stderr);
}

static void zhb_progress_clear(void) {
    if (!zhb.progress) return;
    fprintf(stderr, "\r%*s\r", ZHB_PROGRESS_WIDTH, "");
    fflush(stderr);
}

/* ---- recording -------------------------------------------------------------------- */

static const zhb_case *zhb_group_baseline(const char *group) {
    for (size_t i = 0; i < zhb.case_count; i++)
        if (strcmp(zhb.cases[i].group, group) == 0) return &zhb.cases[i];
    return NULL;
}

static void zhb_csv_field(FILE *f, const char *text) {
    /* Quote only when needed so the common case stays readable. */
    if (!strpbrk(text, ",\"\n")) {
        fputs(text, f);
        return;
    }
    fputc('"', f);
    for (const char *c = text; *c; c++) {
        if (*c == '"') fputc('"', f);
        fputc(*c, f);
    }
    fputc('"', f);
}

/* Times are empty under --instructions, instruction counts empty otherwise. */
static void zhb_csv_row(const zhb_case *c) {
    if (!zhb.csv) return;
    zhb_csv_field(zhb.csv, zhb.bench_name);
    fputc(',', zhb.csv);
    zhb_csv_field(zhb.csv, c->group);
    fputc(',', zhb.csv);
    zhb_csv_field(zhb.csv, c->name);
    if (zhb.instructions)
        fprintf(zhb.csv, ",,,,,%zu,1,%.2f,%.4f\n", c->result.iterations,
                c->result.instructions_per_op, c->ratio);
    else
        fprintf(zhb.csv, ",%.3f,%.3f,%.3f,%.4f,%zu,%u,,\n", c->result.median_ns,
                c->result.min_ns, c->result.max_ns, c->ratio, c->result.iterations, zhb.reps);
    fflush(zhb.csv);
}

/* The figure a case is compared by: ns per op, or Ir per op under --instructions. */
static double zhb_figure(const zhb_result *r) {
    return zhb.instructions ? r->instructions_per_op : r->median_ns;
}

static bool zhb_record(const char *group, const char *name, zhb_result result) {
    if (zhb.case_count == zhb.case_cap) {
        size_t cap = zhb.case_cap ? zhb.case_cap * 2 : 16;
        void *grown = realloc(zhb.cases, cap * sizeof *zhb.cases);
        if (!grown) return false;
        zhb.cases = grown;
        zhb.case_cap = cap;
    }
    zhb_case *c = &zhb.cases[zhb.case_count++];
    snprintf(c->group, sizeof c->group, "%s", group);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->result = result;
    const double base = zhb_figure(&zhb_group_baseline(group)->result);
    c->ratio = base > 0.0 ? zhb_figure(&result) / base : 0.0;
    zhb_csv_row(c);
    return true;
}

static void zhb_summarise(double *samples, size_t iterations, zhb_result *result) {
    qsort(samples, zhb.reps, sizeof *samples, zhb_compare_double);
    result->median_ns = zhb_median(samples, zhb.reps);
    result->min_ns = samples[0];
    result->max_ns = samples[zhb.reps - 1];
    result->iterations = iterations;
    result->ran = true;
}

static void zhb_require_init(void) {
    if (!zhb.bench_name) {
        fprintf(stderr, "zhb_run: call zhb_init first\n");
        exit(2);
    }
}

/* ---- counting instructions (--instructions, under callgrind) ------------------------ */

/* The event total of callgrind's dump number `dump` of this process: with default
 * names it is callgrind.out.<pid>.<dump> in the current directory. 0 if unreadable. */
static double zhb_read_dump_total(unsigned dump) {
    char path[64];
    snprintf(path, sizeof path, "callgrind.out.%ld.%u", (long)getpid(), dump);
    FILE *f = fopen(path, "r");
    if (!f) return 0.0;
    char line[512];
    double total = 0.0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "totals:", 7) == 0 || strncmp(line, "summary:", 8) == 0) {
            total = strtod(strchr(line, ':') + 1, NULL);
            break;
        }
    }
    fclose(f);
    return total;
}

/* Iterations for a counted run: enough for ZHB_INSTRUCTION_OPS ops, but no more
 * than about ZHB_INSTRUCTION_BUDGET_NS of (callgrind-slowed) time as measured by
 * one warm-up iteration, and at least 2. */
static size_t zhb_instruction_iterations(size_t ops_per_iteration, uint64_t one_iteration_ns) {
    if (zhb.fixed_iterations) return zhb.fixed_iterations;
    size_t ops = zhb.quick ? ZHB_INSTRUCTION_OPS_QUICK : ZHB_INSTRUCTION_OPS;
    size_t iterations = zh__div_ceil(ops, ops_per_iteration);
    double affordable = ZHB_INSTRUCTION_BUDGET_NS / (double)(one_iteration_ns + 1);
    if ((double)iterations > affordable) iterations = (size_t)affordable;
    return iterations < 2 ? 2 : iterations;
}

/* Ir per op of one case, in its steady state: after setup, one warm-up iteration
 * (which also sizes the counted run), then the counted run; setup and teardown
 * are not counted, the loop around the operations is, as it is timed otherwise.
 * Returns the iterations counted in *iterations. */
static double zhb_count_instructions(const zhb_job *job, size_t ops, size_t *iterations) {
#ifdef ZHB_HAVE_CALLGRIND
    if (job->setup) job->setup(job->ctx);
    zhb_clobber();
    const uint64_t start = zhb_now_ns();
    job->fn(job->ctx, 1);
    *iterations = zhb_instruction_iterations(ops, zhb_now_ns() - start);
    zhb_clobber();
    CALLGRIND_ZERO_STATS;
    job->fn(job->ctx, *iterations);
    CALLGRIND_DUMP_STATS_AT("zheap-bench case");
    zhb_clobber();
    if (job->teardown) job->teardown(job->ctx);
    double total = zhb_read_dump_total(++zhb.dumps);
    if (total <= 0.0)
        zhb_fail("--instructions: cannot read callgrind.out.%ld.%u (run valgrind "
                 "--tool=callgrind without --callgrind-out-file, in a writable directory)",
                 (long)getpid(), zhb.dumps);
    return total / ((double)*iterations * (double)ops);
#else
    (void)job, (void)ops;
    *iterations = 0;
    return 0.0;
#endif
}

static void zhb_count_group(const char *group, const zhb_case_spec *cases, size_t count,
                            const bool *selected, zhb_result *out) {
    for (size_t c = 0; c < count; c++) {
        if (!selected[c]) continue;
        zhb_progress(group, cases[c].name, c, count, "callgrind");
        const zhb_job job = {cases[c].fn, cases[c].ctx, cases[c].setup, cases[c].teardown};
        size_t ops = cases[c].ops_per_iteration ? cases[c].ops_per_iteration : 1;
        out[c] = (zhb_result){.ran = true};
        out[c].instructions_per_op = zhb_count_instructions(&job, ops, &out[c].iterations);
    }
}

/* ---- timing ------------------------------------------------------------------------ */

static void zhb_time_group(const char *group, const zhb_case_spec *cases, size_t count,
                           const bool *selected, zhb_result *out) {
    zhb_job *jobs = calloc(count, sizeof *jobs);
    size_t *iterations = calloc(count, sizeof *iterations);
    double *samples = calloc(count * zhb.reps, sizeof *samples);
    double *cpu = calloc(count * zhb.reps, sizeof *cpu);
    if (!jobs || !iterations || !samples || !cpu) {
        zhb_fail("zhb_run_group: out of memory");
        goto done;
    }
    for (size_t c = 0; c < count; c++) {
        if (!selected[c]) continue;
        jobs[c] = (zhb_job){cases[c].fn, cases[c].ctx, cases[c].setup, cases[c].teardown};
        zhb_progress(group, cases[c].name, c, count, "calibrating");
        iterations[c] = zhb.fixed_iterations ? zhb.fixed_iterations : zhb_calibrate(&jobs[c]);
        (void)zhb_time_once(&jobs[c], iterations[c], NULL); /* warm-up */
    }
    /* Round-robin: repetition r of every case runs before repetition r + 1 of any,
     * so a burst of load from elsewhere on the machine hits all cases alike. */
    for (unsigned rep = 0; rep < zhb.reps; rep++) {
        for (size_t c = 0; c < count; c++) {
            if (!selected[c]) continue;
            char what[48];
            snprintf(what, sizeof what, "rep %u/%u", rep + 1, zhb.reps);
            zhb_progress(group, cases[c].name, c, count, what);
            size_t ops = cases[c].ops_per_iteration ? cases[c].ops_per_iteration : 1;
            uint64_t cpu_ns;
            double elapsed = (double)zhb_time_once(&jobs[c], iterations[c], &cpu_ns);
            samples[c * zhb.reps + rep] = elapsed / ((double)iterations[c] * (double)ops);
            cpu[c * zhb.reps + rep] = (double)cpu_ns / ((double)iterations[c] * (double)ops);
        }
    }
    for (size_t c = 0; c < count; c++) {
        if (!selected[c]) continue;
        zhb_summarise(&samples[c * zhb.reps], iterations[c], &out[c]);
        qsort(&cpu[c * zhb.reps], zhb.reps, sizeof *cpu, zhb_compare_double);
        out[c].cpu_median_ns = zhb_median(&cpu[c * zhb.reps], zhb.reps);
    }
done:
    free(cpu);
    free(jobs);
    free(iterations);
    free(samples);
}

static void zhb_print_group_rows(FILE *out, size_t first);

void zhb_run_group(const char *group, const zhb_case_spec *cases, size_t count,
                   zhb_result *results) {
    zhb_require_init();
    zhb_result *measured = calloc(count, sizeof *measured);
    bool *selected = calloc(count, sizeof *selected);
    if (!measured || !selected) {
        zhb_fail("zhb_run_group: out of memory");
        goto done;
    }
    bool any = false;
    for (size_t c = 0; c < count; c++) any |= selected[c] = zhb_selected(group, cases[c].name);
    if (!any) goto done;

    if (zhb.instructions)
        zhb_count_group(group, cases, count, selected, measured);
    else
        zhb_time_group(group, cases, count, selected, measured);
    zhb_progress_clear();

    const size_t first = zhb.case_count;
    for (size_t c = 0; c < count; c++)
        if (measured[c].ran && !zhb_record(group, cases[c].name, measured[c])) zhb.failed = true;
    zhb_print_group_rows(stdout, first);
    fflush(stdout);
done:
    if (results)
        for (size_t c = 0; c < count; c++) results[c] = measured ? measured[c] : (zhb_result){0};
    free(measured);
    free(selected);
}

zhb_result zhb_run_ex(const char *group, const char *name, zhb_fn fn, void *ctx,
                      size_t ops_per_iteration, void (*setup)(void *ctx),
                      void (*teardown)(void *ctx)) {
    const zhb_case_spec spec = {name, fn, ctx, ops_per_iteration, setup, teardown};
    zhb_result result = {0};
    zhb_run_group(group, &spec, 1, &result);
    return result;
}

zhb_result zhb_run(const char *group, const char *name, zhb_fn fn, void *ctx,
                   size_t ops_per_iteration) {
    return zhb_run_ex(group, name, fn, ctx, ops_per_iteration, NULL, NULL);
}

void zhb_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    zhb_progress_clear();
    fprintf(stderr, "%s: ", zhb.bench_name ? zhb.bench_name : "bench");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    zhb.failed = true;
}

/* ---- reporting -------------------------------------------------------------------- */

/* Up to 3 significant digits, so 0.734 and 1234 both read well. */
static void zhb_format_ns(char *out, size_t size, double ns) {
    if (ns < 10.0)
        snprintf(out, size, "%.2f", ns);
    else if (ns < 100.0)
        snprintf(out, size, "%.1f", ns);
    else
        snprintf(out, size, "%.0f", ns);
}

/* The figure column: median ns, or Ir/op under --instructions. */
static void zhb_format_figure(char *out, size_t size, const zhb_result *r) {
    if (zhb.instructions)
        snprintf(out, size, "%.1f", r->instructions_per_op);
    else
        zhb_format_ns(out, size, r->median_ns);
}

/* min..max of the repetitions; under --instructions the iterations counted. */
static void zhb_format_spread(char *out, size_t size, const zhb_result *r) {
    if (zhb.instructions) {
        snprintf(out, size, "%zu iterations", r->iterations);
        return;
    }
    char lo[32], hi[32];
    zhb_format_ns(lo, sizeof lo, r->min_ns);
    zhb_format_ns(hi, sizeof hi, r->max_ns);
    snprintf(out, size, "%s..%s", lo, hi);
}

static bool zhb_starts_group(size_t i) {
    return i == 0 || strcmp(zhb.cases[i].group, zhb.cases[i - 1].group) != 0;
}

static void zhb_print_table_header(FILE *out) {
    if (zhb.instructions)
        fprintf(out, "\n== %s  (callgrind instructions per op; ratio = Ir / group baseline)\n",
                zhb.bench_name);
    else
        fprintf(out, "\n== %s  (%u reps x ~%g s; ns per op; ratio = median / group baseline)\n",
                zhb.bench_name, zhb.reps, zhb.min_time_s);
    fprintf(out, "%-32s %-38s %10s %20s %8s\n", "group", "case",
            zhb.instructions ? "Ir/op" : "median ns", zhb.instructions ? "" : "min..max",
            "ratio");
    fflush(out);
}

/* The rows of the cases recorded from index `first` on (one group). */
static void zhb_print_group_rows(FILE *out, size_t first) {
    for (size_t i = first; i < zhb.case_count; i++) {
        const zhb_case *c = &zhb.cases[i];
        char figure[32], spread[72];
        zhb_format_figure(figure, sizeof figure, &c->result);
        zhb_format_spread(spread, sizeof spread, &c->result);
        bool new_group = zhb_starts_group(i);
        fprintf(out, "%-32s %-38s %10s %20s %7.2fx%s\n", new_group ? c->group : "", c->name,
                figure, spread, c->ratio, new_group ? "  (baseline)" : "");
    }
}

static void zhb_print_notes(FILE *out) {
    for (size_t i = 0; i < zhb.note_count; i++) fprintf(out, "  note: %s\n", zhb.notes[i]);
    fputc('\n', out);
}

static void zhb_print_markdown_table(FILE *out) {
    fprintf(out, "### %s\n\n", zhb.bench_name);
    fprintf(out, "| group | case | %s | %s | ratio |\n",
            zhb.instructions ? "Ir/op" : "median ns/op",
            zhb.instructions ? "iterations" : "min..max");
    fprintf(out, "|---|---|---:|---:|---:|\n");
    for (size_t i = 0; i < zhb.case_count; i++) {
        const zhb_case *c = &zhb.cases[i];
        char figure[32], spread[72];
        zhb_format_figure(figure, sizeof figure, &c->result);
        zhb_format_spread(spread, sizeof spread, &c->result);
        bool new_group = zhb_starts_group(i);
        fprintf(out, "| %s | %s%s | %s | %s | %.2fx |\n", new_group ? c->group : "", c->name,
                new_group ? " (baseline)" : "", figure, spread, c->ratio);
    }
    fputc('\n', out);
    for (size_t i = 0; i < zhb.note_count; i++) fprintf(out, "- %s\n", zhb.notes[i]);
    if (zhb.note_count) fputc('\n', out);
}

static void zhb_close(FILE **f) {
    if (*f && *f != stdout) fclose(*f);
    *f = NULL;
}

int zhb_finish(void) {
    zhb_progress_clear();
    if (zhb.note_load) {
        char now[48];
        zhb_read_loadavg(now, sizeof now);
        zhb_note("load average (1/5/15 min): %s at start, %s at end", zhb.load_at_start, now);
    }
    zhb_print_notes(stdout);
    if (zhb.markdown) zhb_print_markdown_table(zhb.markdown);
    zhb_close(&zhb.csv);
    zhb_close(&zhb.markdown);
    fflush(stdout);
    free(zhb.cases);
    free(zhb.notes);
    zhb.cases = NULL;
    zhb.notes = NULL;
    zhb.case_count = zhb.case_cap = zhb.note_count = zhb.note_cap = 0;
    return zhb.failed ? 1 : 0;
}
