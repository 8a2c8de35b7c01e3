/* bench_smp.c - the SMP allocator against glibc, jemalloc, mimalloc and tcmalloc.
 *
 *   zheap-bench-smp [--quick] [--reps N] [--scale X] [--filter TEXT] [--no-strace]
 *                   [--csv FILE] [--markdown FILE] [--instructions]
 *
 * --instructions: instead of timing, runs every workload once per allocator under
 * `valgrind --tool=callgrind` (one child each; scale 0.02 unless --scale is given)
 * and reports instructions per operation of the workload alone (callgrind's counts
 * are zeroed when it starts and dumped when it ends, all threads included).
 *
 * Seven malloc-level workloads, written once against a three-function interface
 * (alloc, free with the length, realloc), run either over zh_smp_allocator through
 * zh_allocator or over the process's malloc; the peers are the same malloc
 * workloads with the peer's library preloaded (LD_PRELOAD). Every measurement is
 * its own process (a clean heap and a clean peak RSS): the driver re-executes this
 * program with --child, once per workload, allocator and repetition, interleaving
 * the allocators (their order rotates every repetition) so that noise on a shared
 * machine spreads over all of them. It reports per workload and allocator the
 * median wall time, the peak RSS (ru_maxrss), both as ratios to glibc, the RSS left
 * after the workload freed everything, and - counted by `strace -f -c` in one
 * extra, untimed run each, minus the calls of an empty workload - the mmap and
 * munmap system calls (with the SMP allocator's own seam counters beside them).
 *
 * Single-threaded workloads (churn, small-all, realloc, large) run pinned to one
 * CPU, the same for every allocator of a repetition and the next allowed CPU in the
 * next repetition: on a shared VM the CPUs need not be equally fast (on the 2-CPU
 * development machine one ran churn 10-15 % slower than the other for minutes at a
 * time), and a child the scheduler placed on the slower one landed in a different
 * mode of a bimodal distribution than its neighbours (docs/benchmarks.md, "What
 * changed in the method"). Multi-threaded workloads run unpinned.
 *
 * Peers are found at run time in the usual library directories (or the ones in
 * ZHEAP_BENCH_PEER_DIRS, colon-separated); a missing one is skipped with a message.
 * Debian: libjemalloc2, libmimalloc2.0, libtcmalloc-minimal4 (.ci/install-deps.sh).
 * Workloads write to the memory they get (the first 64 bytes, the last byte, one
 * byte per 4 KiB page). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zheap/allocator.h"
#include "zheap/smp.h"

#ifdef ZHB_HAVE_CALLGRIND
#include <valgrind/callgrind.h>
#endif

/* ---- the allocation interface the workloads use ------------------------------------ */

typedef struct wl_alloc {
    void *(*alloc)(size_t len);
    void (*free)(void *p, size_t len);
    void *(*realloc)(void *p, size_t old_len, size_t new_len);
} wl_alloc;

static void *m_alloc(size_t len) { return malloc(len); }
static void m_free(void *p, size_t len) { (void)len, free(p); }
static void *m_realloc(void *p, size_t old_len, size_t new_len) {
    (void)old_len;
    return realloc(p, new_len);
}
static void *s_alloc(size_t len) { return zh_alloc(zh_smp_allocator, len); }
static void s_free(void *p, size_t len) { zh_free(zh_smp_allocator, p, len); }
static void *s_realloc(void *p, size_t old_len, size_t new_len) {
    return zh_realloc(zh_smp_allocator, p, old_len, new_len);
}

static const wl_alloc malloc_api = {m_alloc, m_free, m_realloc};
static const wl_alloc smp_api = {s_alloc, s_free, s_realloc};
static const wl_alloc *A;

static void die(const char *what) {
    fprintf(stderr, "zheap-bench-smp: %s\n", what);
    exit(1);
}

/* Writes to a fresh block the way a program would: its start, its end and each page. */
static void touch(void *p, size_t len) {
    unsigned char *b = p;
    if (b == NULL) die("out of memory");
    memset(b, 0x5a, len < 64 ? len : 64);
    for (size_t i = 4096; i < len; i += 4096) b[i] = 1;
    b[len - 1] = 2;
}

static void *take(size_t len) {
    void *p = A->alloc(len);
    touch(p, len);
    return p;
}

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* 8..1024 bytes mostly, 1..8 KiB one time in ten. */
static size_t small_size(uint64_t *rng) {
    uint64_t r = rng_next(rng);
    return r % 10 == 0 ? 1024 + (size_t)(r >> 8) % 7169 : 8 + (size_t)(r >> 8) % 1017;
}

static double scale = 1.0;
/* How long after the last free RSS is read (a purge delay may act); 0 with --quick. */
static long after_delay_ms = 300;
static size_t scaled(double n) {
    double v = n * scale;
    return v < 1 ? 1 : (size_t)v;
}

typedef struct slot {
    void *p;
    size_t len;
} slot;

static void slot_put(slot *s, size_t len) {
    if (s->p) A->free(s->p, s->len);
    s->p = take(len);
    s->len = len;
}

static void slots_clear(slot *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i].p) A->free(s[i].p, s[i].len), s[i].p = NULL;
}

static void run_threads(size_t n, void *(*fn)(void *), void *args, size_t arg_size) {
    pthread_t t[64];
    if (n > 64) die("too many threads");
    for (size_t i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, fn, (char *)args + i * arg_size) != 0)
            die("pthread_create");
    for (size_t i = 0; i < n; i++) pthread_join(t[i], NULL);
}

/* ---- workloads ------------------------------------------------------------------------ */

/* One thread, 10000 live blocks of random size, each op frees one and allocates one. */
enum { CHURN_SLOTS = 10000 };
static slot churn_slots[CHURN_SLOTS];
static void wl_churn(void) {
    enum { SLOTS = CHURN_SLOTS };
    slot *s = churn_slots;
    uint64_t rng = 1;
    size_t ops = scaled(3e6);
    for (size_t i = 0; i < ops; i++) slot_put(&s[rng_next(&rng) % SLOTS], small_size(&rng));
    slots_clear(s, SLOTS);
}

/* A million small blocks (16..128 bytes), then all freed; twice. */
static void wl_small_all(void) {
    size_t n = scaled(1e6);
    slot *s = calloc(n, sizeof *s);
    if (s == NULL) die("calloc");
    uint64_t rng = 2;
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < n; i++) {
            s[i].len = 16 + (size_t)rng_next(&rng) % 113;
            s[i].p = take(s[i].len);
        }
        slots_clear(s, n);
    }
    free(s);
}

/* A producer thread allocates, a consumer thread frees, through a ring. */
enum { RING = 1024 };
typedef struct pc_ring {
    _Atomic(void *) p[RING];
    size_t len[RING];
    size_t messages;
} pc_ring;
typedef struct pc_arg {
    pc_ring *ring;
    int role; /* 0 producer, 1 consumer */
} pc_arg;

static void *pc_thread(void *arg) {
    pc_ring *r = ((pc_arg *)arg)->ring;
    int role = ((pc_arg *)arg)->role;
    uint64_t rng = 3;
    for (size_t n = 0; n < r->messages; n++) {
        size_t i = n % RING;
        if (role == 0) {
            size_t len = 16 + (size_t)rng_next(&rng) % 1009;
            void *p = take(len);
            while (atomic_load_explicit(&r->p[i], memory_order_acquire) != NULL) sched_yield();
            r->len[i] = len;
            atomic_store_explicit(&r->p[i], p, memory_order_release);
        } else {
            void *p;
            while ((p = atomic_load_explicit(&r->p[i], memory_order_acquire)) == NULL)
                sched_yield();
            size_t len = r->len[i];
            atomic_store_explicit(&r->p[i], NULL, memory_order_release);
            A->free(p, len);
        }
    }
    return NULL;
}

static pc_ring pc_the_ring;
static void wl_prodcons(void) {
    pc_ring *r = &pc_the_ring;
    r->messages = scaled(1e6);
    pc_arg args[2] = {{r, 0}, {r, 1}};
    run_threads(2, pc_thread, args, sizeof args[0]);
}

/* Larson: 4 server threads each keep 1000 blocks and replace random ones; each
 * round the threads exit and new ones take over the previous threads' blocks
 * (shifted by one), so most frees hit blocks another, now dead, thread allocated. */
enum { LARSON_THREADS = 4, LARSON_SLOTS = 1000, LARSON_ROUNDS = 10 };
typedef struct larson_arg {
    slot *slots;
    size_t ops;
    uint64_t seed;
} larson_arg;

static void *larson_thread(void *arg) {
    larson_arg *a = arg;
    uint64_t rng = a->seed;
    for (size_t i = 0; i < a->ops; i++)
        slot_put(&a->slots[rng_next(&rng) % LARSON_SLOTS], 16 + (size_t)rng_next(&rng) % 1009);
    return NULL;
}

static slot larson_slots[LARSON_THREADS][LARSON_SLOTS];
static void wl_larson(void) {
    slot (*s)[LARSON_SLOTS] = larson_slots;
    size_t ops = scaled(2e5);
    for (int round = 0; round < LARSON_ROUNDS; round++) {
        larson_arg args[LARSON_THREADS];
        for (int t = 0; t < LARSON_THREADS; t++)
            args[t] = (larson_arg){s[(t + round) % LARSON_THREADS], ops,
                                   (uint64_t)(round * 31 + t + 7)};
        run_threads(LARSON_THREADS, larson_thread, args, sizeof args[0]);
    }
    for (int t = 0; t < LARSON_THREADS; t++) slots_clear(s[t], LARSON_SLOTS);
}

/* A buffer grows by half again from 16 bytes to 64 KiB (one in ten to 1 MiB). */
static void wl_realloc(void) {
    size_t n = scaled(3e4);
    uint64_t rng = 5;
    for (size_t i = 0; i < n; i++) {
        size_t limit = rng_next(&rng) % 10 == 0 ? (1u << 20) : (64u << 10);
        size_t len = 16;
        unsigned char *p = take(len);
        while (len < limit) {
            size_t next = len + len / 2;
            p = A->realloc(p, len, next);
            if (p == NULL) die("out of memory");
            p[next - 1] = 3;
            len = next;
        }
        A->free(p, len);
    }
}

/* 32 live large blocks of 64 KiB - 4 MiB (log-uniform), replaced at random. */
static void wl_large(void) {
    enum { SLOTS = 32 };
    static slot s[SLOTS];
    uint64_t rng = 6;
    size_t ops = scaled(6000);
    for (size_t i = 0; i < ops; i++) {
        unsigned shift = 16 + (unsigned)(rng_next(&rng) % 6); /* 64 KiB .. 2 MiB */
        size_t len = ((size_t)1 << shift) + (size_t)rng_next(&rng) % ((size_t)1 << shift);
        slot_put(&s[rng_next(&rng) % SLOTS], len);
    }
    slots_clear(s, SLOTS);
}

/* 8 threads on however many cores: churn with one op in 16 handing a block to a
 * shared transfer array (and freeing what another thread left there). */
enum { MT_THREADS = 8, MT_SLOTS = 1000, MT_TRANSFER = 256 };
static _Atomic(slot *) mt_transfer[MT_TRANSFER];
typedef struct mt_arg {
    size_t ops;
    uint64_t seed;
} mt_arg;

static void *mt_thread(void *arg) {
    mt_arg *a = arg;
    uint64_t rng = a->seed;
    slot *s = A->alloc(MT_SLOTS * sizeof *s); /* from the allocator measured */
    if (s == NULL) die("out of memory");
    memset(s, 0, MT_SLOTS * sizeof *s);
    for (size_t i = 0; i < a->ops; i++) {
        uint64_t r = rng_next(&rng);
        slot *mine = &s[r % MT_SLOTS];
        if ((r >> 20) % 16 == 0 && mine->p != NULL) {
            slot *box = A->alloc(sizeof *box); /* the hand-off record is a block too */
            if (box == NULL) die("out of memory");
            *box = *mine;
            mine->p = NULL;
            slot *old = atomic_exchange(&mt_transfer[(r >> 32) % MT_TRANSFER], box);
            if (old != NULL) {
                A->free(old->p, old->len);
                A->free(old, sizeof *old);
            }
        } else {
            slot_put(mine, small_size(&rng));
        }
    }
    slots_clear(s, MT_SLOTS);
    A->free(s, MT_SLOTS * sizeof *s);
    return NULL;
}

static void wl_threads(void) {
    mt_arg args[MT_THREADS];
    for (int t = 0; t < MT_THREADS; t++) args[t] = (mt_arg){scaled(4e5), (uint64_t)t * 977 + 1};
    run_threads(MT_THREADS, mt_thread, args, sizeof args[0]);
    for (size_t i = 0; i < MT_TRANSFER; i++) {
        slot *old = atomic_exchange(&mt_transfer[i], NULL);
        if (old) A->free(old->p, old->len), A->free(old, sizeof *old);
    }
}

static void wl_idle(void) {}
static void *idle_thread(void *arg) { return arg; }

typedef struct workload {
    const char *name;
    const char *what;
    void (*run)(void);
    double ops; /* operations at scale 1, for ns/op in the CSV */
    void *table; /* the workload's own static bookkeeping, touched before RSS is read */
    size_t table_size;
    bool one_thread; /* runs pinned to the repetition's CPU */
} workload;

static const workload workloads[] = {
    {"churn", "1 thread, 10k live, random 8 B-8 KiB", wl_churn, 3e6, churn_slots,
     sizeof churn_slots, true},
    {"small-all", "1M x 16-128 B, then free all (x2)", wl_small_all, 4e6, NULL, 0, true},
    {"prodcons", "producer allocs, consumer frees", wl_prodcons, 2e6, &pc_the_ring,
     sizeof pc_the_ring, false},
    {"larson", "4 server threads, 10 rounds of thread handover", wl_larson, 8e6, larson_slots,
     sizeof larson_slots, false},
    {"realloc", "grow 16 B -> 64 KiB / 1 MiB by 1.5x", wl_realloc, 3e4, NULL, 0, true},
    {"large", "32 live, 64 KiB-4 MiB, replaced", wl_large, 6000, NULL, 0, true},
    {"threads8", "8 threads churn + cross-thread hand-off", wl_threads, 3.2e6, NULL, 0, false},
};
#define WORKLOADS (sizeof workloads / sizeof workloads[0])
static const workload idle_workload = {"idle", "nothing", wl_idle, 1, NULL, 0, false};

static size_t rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL) return 0;
    unsigned long size = 0, resident = 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE) / 1024;
}

/* CPU time of the whole process (all threads), less disturbed by other load. */
static double cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* ---- child: one workload, one allocator ----------------------------------------------- */

static const workload *workload_named(const char *name) {
    if (strcmp(name, "idle") == 0) return &idle_workload;
    for (size_t i = 0; i < WORKLOADS; i++)
        if (strcmp(workloads[i].name, name) == 0) return &workloads[i];
    die("unknown workload");
    return NULL;
}

/* Under callgrind (--instructions): only the workload is counted. */
static void count_start(bool counting) {
#ifdef ZHB_HAVE_CALLGRIND
    if (counting) CALLGRIND_ZERO_STATS;
#else
    (void)counting;
#endif
}
static void count_stop(bool counting) {
#ifdef ZHB_HAVE_CALLGRIND
    if (counting) CALLGRIND_DUMP_STATS_AT("zheap-bench-smp workload");
#else
    (void)counting;
#endif
}

static int child_main(const char *name, const char *api, bool counting) {
    const workload *w = workload_named(name);
    bool smp = strcmp(api, "smp") == 0;
    A = smp ? &smp_api : &malloc_api;
    /* Warm both the allocator and the thread library before the clock starts (and
     * before RSS is read: the library code and thread stacks the workloads bring in
     * are not allocator memory). The threads allocate nothing. */
    static char no_args[MT_THREADS];
    run_threads(MT_THREADS, idle_thread, no_args, 1);
    struct timespec tick = {0, 1000000L};
    nanosleep(&tick, NULL);
    if (w->table != NULL) memset(w->table, 0, w->table_size);
    A->free(take(100), 100);
    size_t before = rss_kib();
    zh_smp_stats s0, s1;
    zh_smp_get_stats(&s0);
    double c0 = cpu_ns();
    double t0 = now_ns();
    count_start(counting);
    w->run();
    count_stop(counting);
    double t1 = now_ns();
    double c1 = cpu_ns();
    zh_smp_get_stats(&s1);
    /* RSS after everything was freed, once a purge delay has passed (the SMP
     * allocator's is 100 ms; the peers' differ) and the program used the allocator
     * again: the warm-up's small alloc/free once more. */
    struct timespec pause = {after_delay_ms / 1000, (after_delay_ms % 1000) * 1000000L};
    if (after_delay_ms > 0) nanosleep(&pause, NULL);
    A->free(take(100), 100);
    size_t after = rss_kib();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%.0f %.0f %ld %zu %zu %llu %llu %llu\n", t1 - t0, c1 - c0, ru.ru_maxrss, before, after,
           (unsigned long long)(s1.os_maps - s0.os_maps),
           (unsigned long long)(s1.os_unmaps - s0.os_unmaps),
           (unsigned long long)(s1.os_purges - s0.os_purges));
    return 0;
}

/* ---- driver ------------------------------------------------------------------------------- */

typedef struct peer {
    const char *name;
    const char *api;     /* "malloc" or "smp" */
    const char *lib;     /* file name to preload, NULL: none */
    char path[512];      /* found path */
    bool present;
} peer;

static peer peers[] = {
    {"glibc", "malloc", NULL, "", true},
    {"jemalloc", "malloc", "libjemalloc.so.2", "", false},
    {"mimalloc", "malloc", "libmimalloc.so.2", "", false},
    {"tcmalloc", "malloc", "libtcmalloc_minimal.so.4", "", false},
    {"zheap-smp", "smp", NULL, "", true},
    /* issue 11: the SMP allocator behind malloc, preloaded; found when the build
     * directory is in ZHEAP_BENCH_PEER_DIRS (bench/bench_preload.sh puts it there). */
    {"zheap-preload", "malloc", "libzheap-malloc.so", "", false},
};
#define PEERS (sizeof peers / sizeof peers[0])

static void find_peers(void) {
    const char *dirs = getenv("ZHEAP_BENCH_PEER_DIRS");
    if (dirs == NULL)
        dirs = "/usr/lib/x86_64-linux-gnu:/usr/lib/aarch64-linux-gnu:/usr/lib64:/usr/lib:"
               "/usr/local/lib:/lib/x86_64-linux-gnu";
    for (size_t k = 0; k < PEERS; k++) {
        if (peers[k].lib == NULL) continue;
        char list[2048];
        snprintf(list, sizeof list, "%s", dirs);
        for (char *save = NULL, *d = strtok_r(list, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
            snprintf(peers[k].path, sizeof peers[k].path, "%s/%s", d, peers[k].lib);
            if (access(peers[k].path, R_OK) == 0) {
                peers[k].present = true;
                break;
            }
        }
        if (!peers[k].present)
            fprintf(stderr, "zheap-bench-smp: %s not found (%s), skipped\n", peers[k].name,
                    peers[k].lib);
    }
}

typedef struct sample {
    double ns, cpu_ns;
    long peak_kib;
    size_t before_kib, after_kib;
    unsigned long long maps, unmaps, purges;
} sample;

static char self_path[1024];

/* The CPUs this process may run on, in order (sched_getaffinity); empty when unknown. */
static int allowed_cpus[CPU_SETSIZE];
static int allowed_count;

static void find_cpus(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set)) allowed_cpus[allowed_count++] = c;
}

/* The CPU the single-threaded children of repetition r run on, or -1: unpinned. */
static int repetition_cpu(const workload *w, int r) {
    if (!w->one_thread || allowed_count < 2) return -1;
    return allowed_cpus[r % allowed_count];
}

/* In a child before exec: pinned to `cpu` (-1: left as it is). */
static void pin_to(int cpu) {
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) perror("zheap-bench-smp: sched_setaffinity");
}

/* Runs one child, on `cpu` (-1: any); with `strace_out` under strace -f -c. False
 * on failure. */
static bool run_child(const workload *w, const peer *p, const char *strace_out, int cpu,
                      sample *out) {
    int fds[2];
    if (pipe(fds) != 0) return false;
    char scale_text[32], delay_text[32];
    snprintf(scale_text, sizeof scale_text, "%g", scale);
    snprintf(delay_text, sizeof delay_text, "%ld", after_delay_ms);
    pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        pin_to(cpu);
        if (p->lib) setenv("LD_PRELOAD", p->path, 1);
        else unsetenv("LD_PRELOAD");
        if (strace_out) {
            execlp("strace", "strace", "-f", "-c", "-o", strace_out, "-e",
                   "trace=mmap,munmap,mremap,madvise", self_path, "--child", w->name, p->api,
                   scale_text, delay_text, (char *)NULL);
        } else {
            execl(self_path, self_path, "--child", w->name, p->api, scale_text, delay_text,
                  (char *)NULL);
        }
        _exit(127);
    }
    close(fds[1]);
    char buf[512];
    size_t used = 0;
    ssize_t n;
    while ((n = read(fds[0], buf + used, sizeof buf - 1 - used)) > 0) used += (size_t)n;
    buf[used] = '\0';
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return false;
    return sscanf(buf, "%lf %lf %ld %zu %zu %llu %llu %llu", &out->ns, &out->cpu_ns, &out->peak_kib,
                  &out->before_kib, &out->after_kib, &out->maps, &out->unmaps,
                  &out->purges) == 8;
}

/* mmap and munmap calls from a strace -c summary. */
static void strace_counts(const char *path, unsigned long long *mmaps, unsigned long long *munmaps) {
    *mmaps = *munmaps = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL) return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        char *tok[8];
        int k = 0;
        for (char *save = NULL, *t = strtok_r(line, " \t\n", &save); t && k < 8;
             t = strtok_r(NULL, " \t\n", &save))
            tok[k++] = t;
        if (k < 5) continue;
        unsigned long long calls = strtoull(tok[3], NULL, 10);
        if (strcmp(tok[k - 1], "mmap") == 0) *mmaps = calls;
        if (strcmp(tok[k - 1], "munmap") == 0) *munmaps = calls;
    }
    fclose(f);
    remove(path);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

typedef struct result {
    bool ok;
    double ms, ms_min, ms_max, cpu_ms, peak_mib, after_over_before;
    long long mmaps, munmaps; /* -1: not counted */
    unsigned long long seam_maps, seam_unmaps, seam_purges;
} result;

enum { MAX_REPS = 31 };

static bool have_strace(void) {
    return system("strace -V >/dev/null 2>&1") == 0;
}

static void bar(FILE *f, double ratio) {
    int n = (int)(ratio * 20 + 0.5);
    if (n > 60) n = 60;
    for (int i = 0; i < n; i++) fputc('#', f);
    if (ratio * 20 > 60) fputc('+', f);
}

/* ---- --instructions: each workload under callgrind ------------------------------------ */

/* The event total of a callgrind dump file; 0 when unreadable. */
static double dump_total(const char *path) {
    FILE *f = fopen(path, "r");
    if (f == NULL) return 0;
    char line[512];
    double total = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "totals:", 7) == 0 || strncmp(line, "summary:", 8) == 0) {
            total = strtod(strchr(line, ':') + 1, NULL);
            break;
        }
    fclose(f);
    return total;
}

/* Instructions of workload w on peer p at `scale`, or -1. The child runs under
 * callgrind (not traced by a callgrind this driver may itself run under); its
 * first dump holds the workload alone. */
/* The CSV report (NULL: none asked for, or it cannot be opened), header written. */
static FILE *open_csv(const char *path) {
    FILE *csv = path ? fopen(path, "w") : NULL;
    if (csv)
        fprintf(csv, "bench,group,case,median_ns,min_ns,max_ns,ratio,iterations,reps,"
                     "instructions_per_op,instructions_ratio\n");
    return csv;
}

/* The report's outputs: outs = {stdout, the markdown file or NULL}; returns the CSV
 * file or NULL. */
static FILE *open_outputs(const char *md_path, const char *csv_path, FILE *outs[2]) {
    outs[0] = stdout;
    outs[1] = md_path ? fopen(md_path, "w") : NULL;
    return open_csv(csv_path);
}

static double count_child(const workload *w, const peer *p, double count_scale) {
    char out[128], dump[160], scale_text[32];
    snprintf(out, sizeof out, "/tmp/zheap-bench-smp-%ld.cg", (long)getpid());
    snprintf(dump, sizeof dump, "%s.1", out);
    snprintf(scale_text, sizeof scale_text, "%g", count_scale);
    remove(dump);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, STDOUT_FILENO);
        if (p->lib) setenv("LD_PRELOAD", p->path, 1);
        else unsetenv("LD_PRELOAD");
        char out_arg[160];
        snprintf(out_arg, sizeof out_arg, "--callgrind-out-file=%s", out);
        execlp("valgrind", "valgrind", "--tool=callgrind", "-q", out_arg, self_path, "--child",
               w->name, p->api, scale_text, "0", "count", (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    double total = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? dump_total(dump) : 0;
    remove(dump);
    remove(out);
    return total > 0 ? total : -1;
}

static int count_main(double count_scale, const char *filter, const char *csv_path,
                      const char *md_path) {
    if (system("valgrind --version >/dev/null 2>&1") != 0) die("--instructions needs valgrind");
#ifndef ZHB_HAVE_CALLGRIND
    die("--instructions: built without <valgrind/callgrind.h>");
#endif
    static double ir[WORKLOADS][PEERS];
    for (size_t w = 0; w < WORKLOADS; w++) {
        if (filter != NULL && strstr(workloads[w].name, filter) == NULL) continue;
        for (size_t p = 0; p < PEERS; p++) {
            ir[w][p] = -1;
            if (!peers[p].present) continue;
            fprintf(stderr, "zheap-bench-smp: counting %s on %s\n", workloads[w].name,
                    peers[p].name);
            double total = count_child(&workloads[w], &peers[p], count_scale);
            if (total < 0) fprintf(stderr, "zheap-bench-smp: %s on %s: no count\n",
                                   workloads[w].name, peers[p].name);
            else ir[w][p] = total / (workloads[w].ops * count_scale);
        }
    }
    FILE *outs[2], *csv = open_outputs(md_path, csv_path, outs);
    FILE *md = outs[1];
    for (int o = 0; o < 2; o++) {
        FILE *f = outs[o];
        if (f == NULL) continue;
        fprintf(f, "%s### zheap-bench-smp --instructions\n\n", o ? "" : "\n");
        fprintf(f, "callgrind instructions per operation (one alloc or one free, with the "
                   "workload's own work), the workload alone, all threads; scale %g; x = "
                   "ratio to glibc.\n\n| workload |", count_scale);
        for (size_t p = 0; p < PEERS; p++)
            if (peers[p].present) fprintf(f, " %s |", peers[p].name);
        fprintf(f, "\n|---|");
        for (size_t p = 0; p < PEERS; p++)
            if (peers[p].present) fprintf(f, "---|");
        fprintf(f, "\n");
        for (size_t w = 0; w < WORKLOADS; w++) {
            if (filter != NULL && strstr(workloads[w].name, filter) == NULL) continue;
            fprintf(f, "| %s |", workloads[w].name);
            for (size_t p = 0; p < PEERS; p++) {
                if (!peers[p].present) continue;
                if (ir[w][p] < 0) fprintf(f, " - |");
                else if (ir[w][0] > 0) fprintf(f, " %.0f (%.2fx) |", ir[w][p], ir[w][p] / ir[w][0]);
                else fprintf(f, " %.0f |", ir[w][p]);
                if (o == 0 && csv && ir[w][p] >= 0)
                    fprintf(csv, "smp,%s,%s,,,,,%.0f,1,%.1f,%.3f\n", workloads[w].name,
                            peers[p].name, workloads[w].ops * count_scale, ir[w][p],
                            ir[w][0] > 0 ? ir[w][p] / ir[w][0] : 0);
            }
            fprintf(f, "\n");
        }
    }
    if (md) fclose(md);
    if (csv) fclose(csv);
    return 0;
}

int main(int argc, char **argv) {
    if ((argc == 6 || argc == 7) && strcmp(argv[1], "--child") == 0) {
        scale = atof(argv[4]);
        after_delay_ms = atol(argv[5]);
        return child_main(argv[2], argv[3], argc == 7);
    }
    int reps = 5;
    bool quick = false, use_strace = true, instructions = false, scale_given = false;
    const char *csv_path = NULL, *md_path = NULL, *filter = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--quick") == 0) quick = true;
        else if (strcmp(a, "--no-strace") == 0) use_strace = false;
        else if (strcmp(a, "--instructions") == 0) instructions = true;
        else if (strcmp(a, "--reps") == 0 && i + 1 < argc) reps = atoi(argv[++i]);
        else if (strcmp(a, "--scale") == 0 && i + 1 < argc) scale = atof(argv[++i]), scale_given = true;
        else if (strcmp(a, "--csv") == 0 && i + 1 < argc) csv_path = argv[++i];
        else if (strcmp(a, "--markdown") == 0 && i + 1 < argc) md_path = argv[++i];
        else if (strcmp(a, "--filter") == 0 && i + 1 < argc) filter = argv[++i];
        else {
            fprintf(stderr,
                    "usage: %s [--quick] [--reps N] [--scale X] [--filter TEXT] [--no-strace] "
                    "[--csv FILE] [--markdown FILE] [--instructions]\n",
                    argv[0]);
            return strcmp(a, "--help") == 0 ? 0 : 2;
        }
    }
    if (quick) reps = 1, scale = scale_given ? scale : 0.05, use_strace = false, after_delay_ms = 0;
    if (quick && instructions && !scale_given) scale = 0.005, scale_given = true;
    if (reps < 1 || reps > MAX_REPS) die("--reps must be 1..31");
    ssize_t len = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (len <= 0) die("cannot find /proc/self/exe");
    self_path[len] = '\0';
    find_peers();
    find_cpus();
    if (instructions) return count_main(scale_given ? scale : 0.02, filter, csv_path, md_path);
    if (use_strace && !have_strace()) {
        fprintf(stderr, "zheap-bench-smp: strace not found: system calls not counted\n");
        use_strace = false;
    }

    static result res[WORKLOADS][PEERS];
    static double times[WORKLOADS][PEERS][MAX_REPS], cpu[WORKLOADS][PEERS][MAX_REPS];
    static sample last[WORKLOADS][PEERS];
    bool selected[WORKLOADS];
    for (size_t w = 0; w < WORKLOADS; w++) {
        selected[w] = filter == NULL || strstr(workloads[w].name, filter) != NULL;
        for (size_t p = 0; p < PEERS; p++) res[w][p].ok = peers[p].present;
    }
    /* Interleaved: every repetition runs every workload on every allocator, starting
     * with a different allocator each time. */
    for (int r = 0; r < reps; r++) {
        fprintf(stderr, "zheap-bench-smp: repetition %d/%d\n", r + 1, reps);
        for (size_t w = 0; w < WORKLOADS; w++) {
            if (!selected[w]) continue;
            for (size_t k = 0; k < PEERS; k++) {
                size_t p = (k + (size_t)r) % PEERS;
                if (!res[w][p].ok) continue;
                sample s;
                if (!run_child(&workloads[w], &peers[p], NULL, repetition_cpu(&workloads[w], r),
                               &s)) {
                    fprintf(stderr, "zheap-bench-smp: %s on %s failed\n", workloads[w].name,
                            peers[p].name);
                    res[w][p].ok = false;
                    continue;
                }
                times[w][p][r] = s.ns;
                cpu[w][p][r] = s.cpu_ns;
                if (r == 0 || s.peak_kib > last[w][p].peak_kib) last[w][p].peak_kib = s.peak_kib;
                last[w][p].before_kib = s.before_kib, last[w][p].after_kib = s.after_kib;
                last[w][p].maps = s.maps, last[w][p].unmaps = s.unmaps,
                last[w][p].purges = s.purges;
            }
        }
    }
    /* System calls: one extra run each under strace, minus an empty workload's. */
    unsigned long long idle_mmaps[PEERS] = {0}, idle_munmaps[PEERS] = {0};
    char trace_path[64];
    snprintf(trace_path, sizeof trace_path, "/tmp/zheap-bench-smp-%ld.strace", (long)getpid());
    for (size_t p = 0; use_strace && p < PEERS; p++) {
        sample s;
        if (peers[p].present && run_child(&idle_workload, &peers[p], trace_path, -1, &s))
            strace_counts(trace_path, &idle_mmaps[p], &idle_munmaps[p]);
    }
    for (size_t w = 0; w < WORKLOADS; w++) {
        for (size_t p = 0; p < PEERS; p++) {
            result *x = &res[w][p];
            if (!selected[w] || !x->ok) continue;
            double v[MAX_REPS];
            memcpy(v, times[w][p], sizeof v);
            x->ms = median(v, (size_t)reps) / 1e6;
            x->ms_min = v[0] / 1e6;
            x->ms_max = v[reps - 1] / 1e6;
            memcpy(v, cpu[w][p], sizeof v);
            x->cpu_ms = median(v, (size_t)reps) / 1e6;
            x->peak_mib = last[w][p].peak_kib / 1024.0;
            x->after_over_before = last[w][p].before_kib
                                       ? (double)last[w][p].after_kib / last[w][p].before_kib
                                       : 0;
            x->seam_maps = last[w][p].maps;
            x->seam_unmaps = last[w][p].unmaps;
            x->seam_purges = last[w][p].purges;
            x->mmaps = x->munmaps = -1;
            sample s;
            unsigned long long mm, mu;
            if (use_strace && run_child(&workloads[w], &peers[p], trace_path, -1, &s)) {
                strace_counts(trace_path, &mm, &mu);
                x->mmaps = (long long)mm - (long long)idle_mmaps[p];
                x->munmaps = (long long)mu - (long long)idle_munmaps[p];
            }
        }
    }

    /* Report: a table per workload, ratios to glibc, and a text chart. */
    FILE *outs[2], *csv = open_outputs(md_path, csv_path, outs);
    FILE *md = outs[1];
    for (int o = 0; o < 2; o++) {
        FILE *f = outs[o];
        if (f == NULL) continue;
        fprintf(f, "%s### zheap-bench-smp\n\n", o ? "" : "\n");
        fprintf(f, "Each cell is its own process; %d interleaved repetition%s, scale %g; "
                   "single-threaded workloads pinned to one CPU per repetition (the same for "
                   "every allocator, the allowed CPUs in turn). "
                   "time (wall) and CPU (all threads, user + system) are medians, peak RSS the maximum; x = ratio to glibc (lower is "
                   "better). after/before = RSS after the workload freed everything over "
                   "RSS before it, measured %ld ms after the last free and one more 100-byte alloc/free. mmap/munmap: strace -f -c of one extra run, minus an "
                   "empty run (-: not counted); seam = the SMP allocator's own "
                   "map/unmap/purge calls.\n\n",
                reps, reps == 1 ? "" : "s", scale, after_delay_ms);
        fprintf(f, "| workload | allocator | time ms (min..max) | x glibc | CPU ms | x glibc | "
                   "peak RSS MiB | x glibc | after/before | mmap | munmap | "
                   "seam map/unmap/purge |\n");
        fprintf(f, "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (size_t w = 0; w < WORKLOADS; w++) {
            if (!selected[w]) continue;
            const result *base = &res[w][0];
            for (size_t p = 0; p < PEERS; p++) {
                const result *x = &res[w][p];
                if (!x->ok) continue;
                char mm[32] = "-", mu[32] = "-", seam[64] = "";
                if (x->mmaps >= 0) snprintf(mm, sizeof mm, "%lld", x->mmaps);
                if (x->munmaps >= 0) snprintf(mu, sizeof mu, "%lld", x->munmaps);
                if (strcmp(peers[p].api, "smp") == 0)
                    snprintf(seam, sizeof seam, "%llu/%llu/%llu", x->seam_maps, x->seam_unmaps,
                             x->seam_purges);
                fprintf(f, "| %s | %s | %.1f (%.1f..%.1f) | %.2f | %.1f | %.2f | %.1f | %.2f | %.2f | %s | %s | %s |\n",
                        p == 0 ? workloads[w].name : "", peers[p].name, x->ms, x->ms_min,
                        x->ms_max, base->ok ? x->ms / base->ms : 0, x->cpu_ms,
                        base->ok ? x->cpu_ms / base->cpu_ms : 0, x->peak_mib,
                        base->ok ? x->peak_mib / base->peak_mib : 0, x->after_over_before, mm,
                        mu, seam);
                if (o == 0 && csv) {
                    double ops = workloads[w].ops * scale;
                    fprintf(csv, "smp,%s,%s,%.3f,%.3f,%.3f,%.3f,%.0f,%d,,\n", workloads[w].name,
                            peers[p].name, x->ms * 1e6 / ops, x->ms_min * 1e6 / ops,
                            x->ms_max * 1e6 / ops, base->ok ? x->ms / base->ms : 0, ops, reps);
                }
            }
        }
        fprintf(f, "\nTime as a ratio to glibc (each # = 0.05x):\n\n```\n");
        for (size_t w = 0; w < WORKLOADS; w++) {
            if (!selected[w] || !res[w][0].ok) continue;
            for (size_t p = 0; p < PEERS; p++) {
                if (!res[w][p].ok) continue;
                double ratio = res[w][p].ms / res[w][0].ms;
                fprintf(f, "%-10s %-10s %5.2f ", p == 0 ? workloads[w].name : "", peers[p].name,
                        ratio);
                bar(f, ratio);
                fputc('\n', f);
            }
        }
        fprintf(f, "```\n\n");
    }
    if (md) fclose(md);
    if (csv) fclose(csv);
    return 0;
}
