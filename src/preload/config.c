/* config.c - libzheap-malloc.so: configuration, bootstrapping, reports and exit.
 *
 * What it is for: everything the C surface (malloc.c) needs before and around its
 * allocator: reading ZHEAP_* from the environment once, choosing the allocator,
 * serving allocations that arrive before that (from the dynamic loader, from libc's
 * own initialisation, from dlsym) out of a static bootstrap arena, the debug
 * allocator's backing memory and report sink, fork handling, and the exit report
 * (leaks, statistics, exit code).
 *
 * Design: initialisation runs lazily on the first allocation (which may precede every
 * constructor) in one thread; other threads meanwhile use the bootstrap arena. The
 * environment is read from __environ when the C library has set it, else from
 * /proc/self/environ with open/read (no getenv, no stdio, no heap). While a thread
 * is inside the library (zhp__depth > 0) its nested calls - from dlsym, the
 * unwinder, the symbolizer, pthread_atfork - take the raw path (bootstrap arena or
 * the SMP allocator), so nothing recurses. Thread-locals use the initial-exec TLS
 * model: a library loaded with dlopen after startup cannot work (the program's
 * earlier blocks belong to glibc) and says so instead of taking over.
 *
 * This directory is the one component outside the portable core that names its OS:
 * it is built only for Linux with glibc (cmake/ZheapPreload.cmake).
 *
 * Costs: after initialisation nothing here is on the allocation fast path except
 * one load of the mode. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "platform/platform.h"
#include "preload.h"
#include "zheap/smp.h"

zhp_state zhp__state;
ZHP_TLS unsigned zhp__depth;

_Atomic int zhp__mode_word = ZHP_UNSET;

/* ---- the bootstrap arena --------------------------------------------------------- */

#define BOOTSTRAP_BYTES ((size_t)4 << 20)
#define BOOTSTRAP_HEADER 16 /* the block's length, before it */
static _Alignas(4096) unsigned char bootstrap[BOOTSTRAP_BYTES];
static _Atomic size_t bootstrap_used;

void *zhp__bootstrap_alloc(size_t len, size_t alignment) {
    if (alignment < BOOTSTRAP_HEADER) alignment = BOOTSTRAP_HEADER;
    if (len > BOOTSTRAP_BYTES || alignment > 4096) return NULL;
    size_t old = atomic_load_explicit(&bootstrap_used, memory_order_relaxed), start, end;
    do {
        start = zh__align_forward(old + BOOTSTRAP_HEADER, alignment);
        end = zh__align_forward(start + (len == 0 ? 1 : len), BOOTSTRAP_HEADER);
        if (end > BOOTSTRAP_BYTES) return NULL;
    } while (!atomic_compare_exchange_weak_explicit(&bootstrap_used, &old, end,
                                                    memory_order_relaxed,
                                                    memory_order_relaxed));
    memcpy(bootstrap + start - sizeof(size_t), &len, sizeof len);
    return bootstrap + start; /* static storage: already zero */
}

bool zhp__in_bootstrap(const void *p) {
    return (const unsigned char *)p >= bootstrap &&
           (const unsigned char *)p < bootstrap + BOOTSTRAP_BYTES;
}

size_t zhp__bootstrap_size(const void *p) {
    size_t len;
    memcpy(&len, (const unsigned char *)p - sizeof len, sizeof len);
    return len;
}

/* ---- the environment, without getenv ---------------------------------------------- */

typedef struct zhp_config {
    char allocator[16];
    char frames[16];
    char report[512];
    char abort_on_error[8];
    char stats[8];
    char leak_exitcode[8];
    char leaks[8];
} zhp_config;

static zhp_config cfg;

/* Copies the value of `entry` ("NAME=value") into cfg if NAME is one of ours. */
static void take_variable(const char *entry, size_t len) {
    static const struct {
        const char *name;
        size_t offset, cap;
    } vars[] = {
#define ZHP_VAR(name, field) {name "=", offsetof(zhp_config, field), sizeof cfg.field}
        ZHP_VAR("ZHEAP_ALLOCATOR", allocator),   ZHP_VAR("ZHEAP_DEBUG_FRAMES", frames),
        ZHP_VAR("ZHEAP_REPORT", report),         ZHP_VAR("ZHEAP_ABORT_ON_ERROR", abort_on_error),
        ZHP_VAR("ZHEAP_STATS", stats),           ZHP_VAR("ZHEAP_LEAK_EXITCODE", leak_exitcode),
        ZHP_VAR("ZHEAP_LEAKS", leaks),
#undef ZHP_VAR
    };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        size_t n = strlen(vars[i].name);
        if (len < n || memcmp(entry, vars[i].name, n) != 0) continue;
        size_t value = len - n < vars[i].cap - 1 ? len - n : vars[i].cap - 1;
        char *dst = (char *)&cfg + vars[i].offset;
        memcpy(dst, entry + n, value);
        dst[value] = '\0';
    }
}

/* /proc/self/environ: NUL-separated entries, read in chunks; an entry longer than
 * the buffer is not one of ours in full and is skipped. */
static void read_proc_environ(void) {
    int fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char buf[4096];
    size_t have = 0;
    bool skipping = false;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - have);
        if (n <= 0) break;
        have += (size_t)n;
        size_t start = 0;
        for (size_t i = 0; i < have; i++) {
            if (buf[i] != '\0') continue;
            if (!skipping) take_variable(buf + start, i - start);
            skipping = false;
            start = i + 1;
        }
        memmove(buf, buf + start, have - start);
        have -= start;
        if (have == sizeof buf) have = 0, skipping = true;
    }
    close(fd);
}

extern char **__environ;
static const char *environment_source = "none";

static void read_environment(void) {
    if (__environ == NULL) {
        environment_source = "/proc/self/environ";
        read_proc_environ();
        return;
    }
    environment_source = "__environ";
    for (char **e = __environ; *e != NULL; e++) take_variable(*e, strlen(*e));
}

static bool flag_set(const char *value) { return value[0] != '\0' && strcmp(value, "0") != 0; }

static long number_or(const char *value, long fallback) {
    if (value[0] == '\0') return fallback;
    char *end;
    long n = strtol(value, &end, 10);
    return *end == '\0' && n >= 0 ? n : fallback;
}

/* ---- reports ---------------------------------------------------------------------- */

static int report_fd = -1;
static pid_t report_pid;
static zh__lock report_lock;

static void write_all(int fd, const char *s, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, s, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        s += n, len -= (size_t)n;
    }
}

/* ZHEAP_REPORT with every %p replaced by the pid (%% is a percent sign). */
static void report_path(char *out, size_t cap, pid_t pid) {
    size_t o = 0;
    for (const char *s = cfg.report; *s != '\0' && o + 24 < cap; s++) {
        if (s[0] == '%' && s[1] == 'p') o += (size_t)snprintf(out + o, cap - o, "%ld", (long)pid), s++;
        else if (s[0] == '%' && s[1] == '%') out[o++] = '%', s++;
        else out[o++] = *s;
    }
    out[o] = '\0';
}

/* The report descriptor of this process (reopened after a fork, for a new %p). */
static int report_target(void) {
    if (cfg.report[0] == '\0') return STDERR_FILENO;
    pid_t pid = getpid();
    if (report_fd < 0 || report_pid != pid) {
        char path[600];
        report_path(path, sizeof path, pid);
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        report_fd = fd >= 0 ? fd : STDERR_FILENO;
        report_pid = pid;
    }
    return report_fd;
}

static void report_write(const char *text, size_t len) {
    zh__lock_acquire(&report_lock);
    write_all(report_target(), text, len);
    zh__lock_release(&report_lock);
}

static void report_sink(void *user, zh_debug_event event, const char *text, size_t len) {
    (void)user;
    report_write(text, len);
    if (zhp__state.abort_on_error && event != ZH_DEBUG_LOG && event != ZH_DEBUG_LEAK) abort();
}

ZH_PRINTF(1, 2) static void report_line(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0) report_write(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

void zhp__foreign_pointer(const char *call, const void *p, uintptr_t ret_addr) {
    const char *mode = zhp__state.mode == ZHP_DEBUG ? "debug" : "smp";
    zhp__depth++;
    char buf[4096];
    size_t o = 0;
    o += (size_t)snprintf(buf + o, sizeof buf - o,
                          "=================================================================\n"
                          "==zheap== ERROR: invalid-free on address %p in %s: not a block of "
                          "libzheap-malloc (%s mode): never returned by malloc, or a stack, "
                          "static or foreign address\n%s at:\n",
                          p, call, mode, call);
    (void)zh__os_stack_load(); /* SMP mode runs without the unwinder until now */
    uintptr_t frames[16];
    size_t n = zh__os_stack_capture(ZH__STACK_DEFAULT, ret_addr, frames, 16);
    if (n == 0 && ret_addr != 0) frames[n++] = ret_addr;
    /* The summary names the first frame outside this library: without tail calls (an
     * unoptimised build) the capture starts in its own free. */
    zh__symbol self;
    bool self_known = zh__os_symbolize((uintptr_t)zhp__foreign_pointer + 1, &self) &&
                      self.module[0] != '\0';
    char where[160] = "??";
    bool where_set = false;
    for (size_t i = 0; i < n && o + 400 < sizeof buf; i++) {
        zh__symbol sym;
        bool named = zh__os_symbolize(frames[i], &sym) && sym.function[0] != '\0';
        bool ours = self_known && strcmp(sym.module, self.module) == 0;
        if (named && !ours && !where_set) {
            snprintf(where, sizeof where, "%s", sym.function);
            where_set = true;
        }
        o += (size_t)snprintf(buf + o, sizeof buf - o, "    #%zu 0x%012llx in %s+0x%llx (%s+0x%llx)",
                              i, (unsigned long long)frames[i], named ? sym.function : "??",
                              (unsigned long long)sym.function_offset,
                              sym.module[0] != '\0' ? sym.module : "?",
                              (unsigned long long)sym.module_offset);
        if (sym.file[0] != '\0')
            o += (size_t)snprintf(buf + o, sizeof buf - o, " %s:%u", sym.file, sym.line);
        o += (size_t)snprintf(buf + o, sizeof buf - o, "\n");
    }
    o += (size_t)snprintf(buf + o, sizeof buf - o,
                          "SUMMARY: zheap: invalid-free of 0 bytes at %p in %s\n", p, where);
    report_write(buf, o < sizeof buf ? o : sizeof buf - 1);
    zhp__depth--;
    if (zhp__state.mode != ZHP_DEBUG)
        zh__panic(call, "%p is not a block of libzheap-malloc (SMP mode); see the report above", p);
    if (zhp__state.abort_on_error) abort();
}

/* ---- the debug allocator's backing: SMP blocks, marked in a two-level map ---------- */

/* Every backing block is rounded to whole page_size granules so that the granule of
 * any byte in it holds nothing else: zh_debug_block_info and the debug free may then
 * read p's granule whenever zhp__debug_backing_owns(p). The SMP allocator serves
 * them (aligned 64 KiB runs kept for reuse), so bucket churn costs no system call. */
#define GRANULE_SHIFT 17 /* ZH_DEBUG_PAGE_SIZE_DEFAULT */
#define GRANULE ((size_t)1 << GRANULE_SHIFT)
#define LEAF_SHIFT 17 /* granules per leaf: 16 GiB of address space, 16 KiB of bits */
#define TOP_ENTRIES ((size_t)1 << (48 - GRANULE_SHIFT - LEAF_SHIFT))
static _Atomic(_Atomic(uint64_t) *) granule_top[TOP_ENTRIES];
static zh__lock leaf_lock;

static _Atomic(uint64_t) *granule_word(uintptr_t addr, bool create) {
    size_t g = addr >> GRANULE_SHIFT, top = g >> LEAF_SHIFT;
    if (top >= TOP_ENTRIES) return NULL;
    _Atomic(uint64_t) *leaf = atomic_load_explicit(&granule_top[top], memory_order_acquire);
    if (leaf == NULL && create) {
        zh__lock_acquire(&leaf_lock);
        leaf = atomic_load_explicit(&granule_top[top], memory_order_acquire);
        if (leaf == NULL) {
            leaf = zh__os_map(((size_t)1 << LEAF_SHIFT) / 8, 64, NULL);
            atomic_store_explicit(&granule_top[top], leaf, memory_order_release);
        }
        zh__lock_release(&leaf_lock);
    }
    return leaf == NULL ? NULL : &leaf[(g & (((size_t)1 << LEAF_SHIFT) - 1)) / 64];
}

static bool granules_mark(void *p, size_t len, bool on) {
    for (uintptr_t a = (uintptr_t)p; a < (uintptr_t)p + len; a += GRANULE) {
        _Atomic(uint64_t) *w = granule_word(a, on);
        if (w == NULL) return !on;
        uint64_t bit = (uint64_t)1 << ((a >> GRANULE_SHIFT) % 64);
        if (on) atomic_fetch_or_explicit(w, bit, memory_order_release);
        else atomic_fetch_and_explicit(w, ~bit, memory_order_release);
    }
    return true;
}

bool zhp__debug_backing_owns(const void *p) {
    _Atomic(uint64_t) *w = granule_word((uintptr_t)p, false);
    return w != NULL &&
           ((atomic_load_explicit(w, memory_order_acquire) >> (((uintptr_t)p >> GRANULE_SHIFT) % 64)) & 1);
}

static size_t granule_len(size_t len) { return zh__align_forward(len, GRANULE); }
static zh_align granule_align(zh_align align) {
    return align > GRANULE_SHIFT ? align : (zh_align)GRANULE_SHIFT;
}

static void *backing_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ctx;
    if (len > SIZE_MAX - GRANULE) return NULL;
    void *p = zh_smp_allocator.vtable->alloc(NULL, granule_len(len),
                                              granule_align(align), ret_addr);
    if (p != NULL && !granules_mark(p, granule_len(len), true)) {
        zh_smp_allocator.vtable->free(NULL, p, granule_len(len),
                                       granule_align(align), ret_addr);
        return NULL;
    }
    return p;
}

static bool backing_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                           uintptr_t ret_addr) {
    (void)ctx, (void)mem, (void)align, (void)ret_addr;
    return new_len <= granule_len(len) && granule_len(new_len) == granule_len(len);
}

static void *backing_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                           uintptr_t ret_addr) {
    return backing_resize(ctx, mem, len, align, new_len, ret_addr) ? mem : NULL;
}

static void backing_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    (void)ctx;
    granules_mark(mem, granule_len(len), false);
    zh_smp_allocator.vtable->free(NULL, mem, granule_len(len),
                                   granule_align(align), ret_addr);
}

static const zh_allocator_vtable backing_vtable = {
    backing_alloc, backing_resize, backing_remap, backing_free};

/* The debug instance's lock, ours so that fork() can hold it and so that the exit
 * leak check can keep other threads out of the instance (exit_gate_close). */
static zh__lock debug_lock;
_Atomic int zhp__exit_gate = ZHP_GATE_OPEN;
static ZHP_TLS bool tl_scanner; /* this thread runs the exit leak check */

/* A thread that passed malloc.c's gate check just before the gate closed: it waits
 * here, outside the lock, until the scan ends, then goes on as usual. */
static void wait_for_scan(void) {
    while (zhp__exit_scanning()) {
        struct timespec pause = {0, 200000};
        nanosleep(&pause, NULL);
    }
}

static void debug_lock_take(void *user) {
    (void)user;
    zh__lock_acquire(&debug_lock);
    while (ZH__UNLIKELY(atomic_load_explicit(&zhp__exit_gate, memory_order_acquire) ==
                        ZHP_GATE_SCANNING) && !tl_scanner) {
        zh__lock_release(&debug_lock);
        wait_for_scan();
        zh__lock_acquire(&debug_lock);
    }
}
static void debug_lock_drop(void *user) { (void)user, zh__lock_release(&debug_lock); }
static void fork_prepare(void) { zh__lock_acquire(&debug_lock), zh__lock_acquire(&report_lock); }
static void fork_resume(void) { zh__lock_release(&report_lock), zh__lock_release(&debug_lock); }
/* A fork from another thread during the exit scan: the child has no scanner. */
static void fork_child(void) {
    atomic_store_explicit(&zhp__exit_gate, ZHP_GATE_OPEN, memory_order_relaxed);
    fork_resume();
}

static zh_debug *debug_create(void) {
    zh_debug_config dc = ZH_DEBUG_CONFIG_DEFAULT;
    long frames = number_or(cfg.frames, 8);
    dc.stack_trace_frames = frames > ZH_DEBUG_FRAMES_MAX ? ZH_DEBUG_FRAMES_MAX : (size_t)frames;
    dc.lock_hook = (zh_debug_lock_hook){debug_lock_take, debug_lock_drop, NULL};
    dc.backing = (zh_allocator){NULL, &backing_vtable};
    dc.backing_allocator_zeroes = false; /* SMP blocks are reused */
    dc.report = report_sink;
    zh_debug *d = zh_debug_create(&dc);
    if (d != NULL) zh__os_atfork(fork_prepare, fork_resume, fork_child);
    return d;
}

/* ---- ZHEAP_ALLOCATOR=c: the next malloc, found without recursing -------------------- */

/* dlsym's object pointer as a function pointer (POSIX guarantees the round trip). */
#define ZHP_SYM(field, name)                                 \
    do {                                                     \
        void *sym_ = dlsym(RTLD_NEXT, name);                 \
        memcpy(&c->field, &sym_, sizeof c->field);           \
        ok = ok && sym_ != NULL;                             \
    } while (0)

static bool libc_resolve(zhp_libc *c) {
    bool ok = true;
    ZHP_SYM(malloc, "malloc");
    ZHP_SYM(free, "free");
    ZHP_SYM(calloc, "calloc");
    ZHP_SYM(realloc, "realloc");
    ZHP_SYM(memalign, "memalign");
    ZHP_SYM(usable_size, "malloc_usable_size");
    return ok;
}
#undef ZHP_SYM

/* ---- initialisation ----------------------------------------------------------------- */

static void warn(const char *text) { report_write(text, strlen(text)); }

static zhp_mode choose_mode(void) {
    if (cfg.allocator[0] == '\0' || strcmp(cfg.allocator, "smp") == 0) return ZHP_SMP;
    if (strcmp(cfg.allocator, "debug") == 0) {
        zhp__state.debug = debug_create();
        if (zhp__state.debug != NULL) return ZHP_DEBUG;
        warn("==zheap== ZHEAP_ALLOCATOR=debug: the debug allocator could not be created; "
             "using smp\n");
        return ZHP_SMP;
    }
    if (strcmp(cfg.allocator, "c") == 0) {
        if (libc_resolve(&zhp__state.libc)) return ZHP_LIBC;
        warn("==zheap== ZHEAP_ALLOCATOR=c: the next malloc was not found; using smp\n");
        return ZHP_SMP;
    }
    report_line("==zheap== ZHEAP_ALLOCATOR=%s: unknown (smp, debug or c); using smp\n",
                cfg.allocator);
    return ZHP_SMP;
}

static void initialise(void) {
    zhp__depth++;
    read_environment();
    zhp__state.abort_on_error = flag_set(cfg.abort_on_error);
    /* The SMP allocator serves every mode's nested calls: create its thread key now,
     * while the key numbers are low (a key past glibc's first 32 would allocate). */
    zh_smp_free_unsized(zh_raw_alloc(zh_smp_allocator, 1, ZHP_ALIGN, 0));
    zhp__state.mode = choose_mode();
    zhp__depth--;
    atomic_store_explicit(&zhp__mode_word, (int)zhp__state.mode, memory_order_release);
}

zhp_mode zhp__mode(void) {
    int m = atomic_load_explicit(&zhp__mode_word, memory_order_acquire);
    if (ZH__LIKELY(m > ZHP_INIT)) return (zhp_mode)m;
    int expected = ZHP_UNSET;
    if (m == ZHP_UNSET && atomic_compare_exchange_strong(&zhp__mode_word, &expected, ZHP_INIT)) {
        initialise();
        return zhp__state.mode;
    }
    return ZHP_INIT; /* another thread initialises: the caller uses the bootstrap arena */
}

/* ---- loading and exit ----------------------------------------------------------------- */


/* Whether this library precedes the C library in the lookup order (LD_PRELOAD, or
 * linked before libc): only then is its malloc the process's. The executable's own
 * symbol table cannot tell (a non-PIE program's canonical PLT entry is "malloc"). */
typedef struct load_order {
    uintptr_t self;
    int self_at, libc_at, index;
} load_order;

static int visit_object(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    load_order *o = data;
    if (info->dlpi_addr == o->self && o->self_at < 0) o->self_at = o->index;
    if (o->libc_at < 0 && info->dlpi_name != NULL && strstr(info->dlpi_name, "/libc.so") != NULL)
        o->libc_at = o->index;
    o->index++;
    return 0;
}

static bool preloaded(void) {
    Dl_info self;
    if (dladdr((void *)(uintptr_t)&zhp__state, &self) == 0) return false;
    load_order o = {(uintptr_t)self.dli_fbase, -1, -1, 0};
    dl_iterate_phdr(visit_object, &o);
    return o.self_at >= 0 && (o.libc_at < 0 || o.self_at < o.libc_at);
}

__attribute__((constructor)) static void on_load(void) {
    zhp__depth++;
    bool first = preloaded();
    zhp__depth--;
    if (first) {
        /* Debug mode's unwinder and symbolizer, opened now that the loader has
         * started the process (nested allocations take the raw path); SMP mode never
         * maps them. Blocks allocated before this have frame-pointer traces. */
        if (zhp__mode() == ZHP_DEBUG) {
            zhp__depth++;
            (void)zh__os_stack_load();
            zhp__depth--;
        }
        return;
    }
    warn("==zheap== libzheap-malloc.so was loaded after the C library's malloc (dlopen or "
         "a link dependency): it stays inactive and passes every call to the C library; "
         "use LD_PRELOAD\n");
    zhp__depth++;
    bool found = libc_resolve(&zhp__state.libc);
    zhp__depth--;
    if (!found) zh__panic("libzheap-malloc.so", "not preloaded and the C library's malloc was not found");
    int expected = ZHP_UNSET; /* blocks made already (if any) stay with their allocator */
    zhp__state.mode = ZHP_LIBC;
    if (!atomic_compare_exchange_strong(&zhp__mode_word, &expected, ZHP_LIBC))
        zhp__state.mode = (zhp_mode)expected;
}

static void print_stats(void) {
    static const char *const names[] = {"unset", "init", "smp", "debug", "c"};
    report_line("==zheap== stats: mode %s, environment read from %s, bootstrap arena %zu "
                "bytes used\n",
                names[zhp__state.mode], environment_source,
                atomic_load_explicit(&bootstrap_used, memory_order_relaxed));
    if (zhp__state.mode == ZHP_DEBUG) {
        zh_debug_stats s;
        zh_debug_get_stats(zhp__state.debug, &s);
        report_line("==zheap== stats (debug): %zu live blocks, %zu live bytes, peak %zu bytes, "
                    "%zu allocations, %zu frees, %zu buckets, %zu large blocks, %zu backing "
                    "bytes, %zu reports\n",
                    s.live_count, s.live_bytes, s.peak_bytes, s.total_allocations,
                    s.total_frees, s.buckets, s.large_count, s.backing_bytes, s.reports);
    } else if (zhp__state.mode == ZHP_SMP) {
        zh_smp_stats s;
        zh_smp_get_stats(&s);
        report_line("==zheap== stats (smp): allocated %zu, active %zu (peak %zu), mapped %zu, "
                    "cached %zu, purged %zu bytes; %llu maps, %llu unmaps, %llu purges; "
                    "%zu heaps (%zu created), %zu large blocks\n",
                    s.allocated, s.active, s.peak_active, s.mapped, s.cached, s.purged,
                    (unsigned long long)s.os_maps, (unsigned long long)s.os_unmaps,
                    (unsigned long long)s.os_purges, s.heaps, s.heaps_created, s.large_live);
    }
}

/* exit() from one thread runs the destructors while the other threads go on (xz -T2,
 * python threads), but zh_debug_detect_leaks needs an instance no one changes. The
 * gate closes in two steps: malloc.c sees it closed and serves new allocations from
 * the SMP allocator and keeps the debug blocks freed meanwhile (no lock, so a thread
 * that holds the loader lock never waits on the scan's symbolization); a thread
 * already past that check waits in debug_lock_take. Taking the lock once after
 * closing lets a thread inside the instance finish. If it cannot be taken in about
 * 2 s (a thread stuck inside, or exit from a signal handler that interrupted an
 * allocation) the check is skipped rather than risk a deadlock or a torn read. */
static bool exit_gate_close(void) {
    tl_scanner = true;
    atomic_store(&zhp__exit_gate, ZHP_GATE_SCANNING);
    for (int tries = 0; !zh__lock_try_acquire(&debug_lock); tries++) {
        if (tries == 2000) return false;
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    zh__lock_release(&debug_lock);
    return true;
}

/* After the scan: parked threads go on, new calls use the debug instance again. */
static void exit_gate_open(void) {
    atomic_store_explicit(&zhp__exit_gate, ZHP_GATE_DONE, memory_order_release);
    tl_scanner = false;
}

/* Leaks: every block live at exit (no reachability scan, unlike LeakSanitizer). */
static void report_leaks(void) {
    if (!exit_gate_close()) {
        exit_gate_open();
        warn("==zheap== leak check skipped: another thread stayed inside the debug "
             "allocator at exit\n");
        return;
    }
    zh_debug_stats before;
    zh_debug_get_stats(zhp__state.debug, &before);
    zhp__depth++;
    size_t leaks = flag_set(cfg.leaks[0] != '\0' ? cfg.leaks : "1")
                       ? zh_debug_detect_leaks(zhp__state.debug)
                       : before.live_count;
    zhp__depth--;
    exit_gate_open();
    if (leaks == 0) return;
    report_line("SUMMARY: zheap: %zu byte(s) leaked in %zu allocation(s).\n", before.live_bytes,
                leaks);
    long code = number_or(cfg.leak_exitcode, 0);
    if (code > 0) {
        fflush(NULL);
        _exit((int)(code & 0xff));
    }
}

__attribute__((destructor)) static void on_exit_report(void) {
    zhp_mode m = (zhp_mode)atomic_load_explicit(&zhp__mode_word, memory_order_acquire);
    if (m == ZHP_DEBUG) report_leaks();
    if (flag_set(cfg.stats)) print_stats();
}
