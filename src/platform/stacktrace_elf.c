/* stacktrace_elf.c - frame-pointer walking and symbolization for ELF systems,
 * shared by the libunwind and frame-pointer stack providers.
 *
 * Frame pointers: every frame compiled with them starts with the caller's frame
 * pointer and the return address, so the chain is a linked list on the stack. The
 * walk is defensive because code without frame pointers leaves anything in the
 * register: each step must move strictly up, stay aligned and stay inside the
 * thread's stack (bounds read once per thread and cached; without them a step may
 * go at most 1 MiB up). It never allocates and takes no lock.
 *
 * Symbolization (only for reports): elfutils' libdwfl reads the symbol tables and
 * DWARF of every module mapped in the process, which names the main executable's
 * static functions and gives file:line; dladdr, which only sees exported symbols,
 * is the fallback and supplies module + offset. libdwfl is not thread-safe, so one
 * process-wide session is used under a private mutex; it allocates from the C heap.
 *
 * Run-time loading (ZH_CONFIG_STACK_DLOPEN, the preload library's build): libdw is
 * not linked but opened by zh__elf_load_symbolizer (from zh__os_stack_load), its
 * functions called through a table filled there; until then dladdr alone names. */
#define _GNU_SOURCE
#include "platform/stacktrace_elf.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#if defined(ZH_CONFIG_HAVE_LIBDW) && ZH_CONFIG_HAVE_LIBDW
#include <elfutils/libdwfl.h>
#endif

#include "common.h"

/* ---- thread stack bounds ------------------------------------------------------------- */

static ZH__THREAD_LOCAL uintptr_t tl_stack_lo, tl_stack_hi;
static ZH__THREAD_LOCAL bool tl_stack_known;

#if defined(__GLIBC__)
extern void *__libc_stack_end; /* the main thread's stack top */
#endif

/* pthread_getattr_np reads /proc/self/maps (and mallocs) for the main thread, so the
 * main thread's top comes from glibc's __libc_stack_end instead. */
static void read_stack_bounds(void) {
    tl_stack_known = true;
    tl_stack_lo = tl_stack_hi = 0;
#if defined(__GLIBC__)
    if ((pid_t)zh__os_thread_id() == getpid()) {
        tl_stack_lo = 0;
        tl_stack_hi = (uintptr_t)__libc_stack_end;
        return;
    }
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) != 0) return;
    void *addr;
    size_t size;
    if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
        tl_stack_lo = (uintptr_t)addr;
        tl_stack_hi = (uintptr_t)addr + size;
    }
    pthread_attr_destroy(&attr);
#endif
}

void zh__elf_warm_up(void) {
    if (!tl_stack_known) read_stack_bounds();
}

/* ---- frame-pointer walk --------------------------------------------------------------- */

#define UNBOUNDED_STEP ((uintptr_t)1 << 20)

/* Walks until the frame whose return address is first_address (or past `skip`
 * frames when first_address is 0), then stores up to max: the walk stops as soon as
 * the trace is full instead of climbing the whole stack. */
ZH_NOINLINE size_t zh__elf_fp_walk(uintptr_t first_address, size_t skip, uintptr_t *frames,
                                   size_t max) {
    if (max == 0) return 0;
    if (!tl_stack_known) read_stack_bounds();
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
    uintptr_t lo = tl_stack_lo != 0 ? tl_stack_lo : fp;
    size_t n = 0, seen = 0;
    bool started = false;
    while (n < max) {
        if (fp < lo || (fp & (sizeof(uintptr_t) - 1)) != 0) break;
        /* Written without fp + 16, which wraps for a register holding -16. */
        if (tl_stack_hi != 0 && (fp >= tl_stack_hi || tl_stack_hi - fp < 2 * sizeof(uintptr_t)))
            break;
        const uintptr_t *slot = (const uintptr_t *)fp;
        uintptr_t next = slot[0], ret = slot[1];
        if (ret == 0) break;
        /* seen counts frames above ours; frame 0 returns into our caller. */
        if (!started) started = first_address != 0 ? ret == first_address : seen >= skip;
        if (started) frames[n++] = ret;
        if (!started && ++seen > ZH__ELF_WALK_EXTRA + skip) break;
        if (next <= fp) break;
        if (tl_stack_hi == 0 && next - fp > UNBOUNDED_STEP) break;
        fp = next;
    }
    if (!started && first_address != 0) { /* inlined or tail-called away */
        frames[0] = first_address;
        return 1;
    }
    return n;
}

size_t zh__elf_trim_frames(uintptr_t first_address, size_t skip, const uintptr_t *buf,
                           size_t found, uintptr_t *frames, size_t max) {
    if (max == 0) return 0;
    size_t start = skip;
    if (first_address != 0) {
        start = found;
        for (size_t i = 0; i < found; i++)
            if (buf[i] == first_address) {
                start = i;
                break;
            }
        if (start == found) { /* inlined or tail-called away: keep what we know */
            frames[0] = first_address;
            return 1;
        }
    }
    size_t n = 0;
    for (size_t i = start; i < found && n < max; i++) frames[n++] = buf[i];
    return n;
}

/* ---- symbolization -------------------------------------------------------------------- */

static void copy_string(char *dst, size_t cap, const char *src) {
    if (src == NULL) src = "";
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void clear_symbol(zh__symbol *out) {
    out->function[0] = out->module[0] = out->file[0] = '\0';
    out->function_offset = out->module_offset = 0;
    out->line = 0;
}

static pthread_mutex_t symbolize_mutex = PTHREAD_MUTEX_INITIALIZER;

#if defined(ZH_CONFIG_HAVE_LIBDW) && ZH_CONFIG_HAVE_LIBDW
/* The libdw functions used, called as DW(name). */
#define DW_FUNCTIONS(X)                                                                      \
    X(dwfl_begin) X(dwfl_report_begin) X(dwfl_linux_proc_report) X(dwfl_report_end)          \
    X(dwfl_addrmodule) X(dwfl_module_info) X(dwfl_module_addrinfo) X(dwfl_module_getsrc)     \
    X(dwfl_lineinfo) X(dwfl_linux_proc_find_elf) X(dwfl_standard_find_debuginfo)
#if defined(ZH_CONFIG_STACK_DLOPEN) && ZH_CONFIG_STACK_DLOPEN
#define DW_NAME(name) #name,
#define DW_FIELD(name) __typeof__(&name) name;
static const char *const dw_names[] = {DW_FUNCTIONS(DW_NAME)};
static union {
    struct { DW_FUNCTIONS(DW_FIELD) } f;
    void *slot[sizeof dw_names / sizeof dw_names[0]];
} dw; /* written once, before dw_loaded */
_Static_assert(sizeof dw.f == sizeof dw.slot, "one void * per libdw function");
static _Atomic(bool) dw_loaded;
#define DW(name) dw.f.name
#else
#define DW(name) name
#endif

static Dwfl *dwfl_session;
static char *debuginfo_path;
static Dwfl_Callbacks dwfl_callbacks;

/* (Re)reads the process's module list: after a dlopen a new module may hold `address`. */
static bool dwfl_refresh(void) {
    if (dwfl_session == NULL) {
        dwfl_callbacks.find_elf = DW(dwfl_linux_proc_find_elf);
        dwfl_callbacks.find_debuginfo = DW(dwfl_standard_find_debuginfo);
        dwfl_callbacks.debuginfo_path = &debuginfo_path;
        dwfl_session = DW(dwfl_begin)(&dwfl_callbacks);
    }
    if (dwfl_session == NULL) return false;
    DW(dwfl_report_begin)(dwfl_session);
    int rc = DW(dwfl_linux_proc_report)(dwfl_session, getpid());
    DW(dwfl_report_end)(dwfl_session, NULL, NULL);
    return rc == 0;
}

static bool dwfl_describe(uintptr_t pc, zh__symbol *out) {
#if defined(ZH_CONFIG_STACK_DLOPEN) && ZH_CONFIG_STACK_DLOPEN
    if (!atomic_load_explicit(&dw_loaded, memory_order_acquire)) return false;
#endif
    Dwfl_Module *mod = dwfl_session ? DW(dwfl_addrmodule)(dwfl_session, pc) : NULL;
    if (mod == NULL && dwfl_refresh()) mod = DW(dwfl_addrmodule)(dwfl_session, pc);
    if (mod == NULL) return false;
    Dwarf_Addr start = 0;
    const char *mod_name = DW(dwfl_module_info)(mod, NULL, &start, NULL, NULL, NULL, NULL, NULL);
    copy_string(out->module, sizeof out->module, mod_name);
    out->module_offset = pc - (uintptr_t)start;
    GElf_Off offset = 0;
    GElf_Sym sym;
    const char *name = DW(dwfl_module_addrinfo)(mod, pc, &offset, &sym, NULL, NULL, NULL);
    if (name != NULL) {
        copy_string(out->function, sizeof out->function, name);
        out->function_offset = (uintptr_t)offset;
    }
    Dwfl_Line *line = DW(dwfl_module_getsrc)(mod, pc);
    int lineno = 0;
    const char *file = line ? DW(dwfl_lineinfo)(line, NULL, &lineno, NULL, NULL, NULL) : NULL;
    if (file != NULL) {
        copy_string(out->file, sizeof out->file, file);
        out->line = lineno > 0 ? (unsigned)lineno : 0;
    }
    return true;
}
#endif

/* dladdr sees exported symbols only, but always knows the module. */
static bool dladdr_describe(uintptr_t pc, zh__symbol *out) {
    Dl_info info;
    if (dladdr((void *)pc, &info) == 0) return false;
    if (out->module[0] == '\0') {
        copy_string(out->module, sizeof out->module, info.dli_fname);
        out->module_offset = pc - (uintptr_t)info.dli_fbase;
    }
    if (out->function[0] == '\0' && info.dli_sname != NULL) {
        copy_string(out->function, sizeof out->function, info.dli_sname);
        out->function_offset = pc - (uintptr_t)info.dli_saddr;
    }
    return true;
}

/* ---- run-time loading ------------------------------------------------------------------ */

bool zh__elf_open_symbols(const char *soname, const char *const *names, void **out, size_t n) {
    void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) return false;
    for (size_t i = 0; i < n; i++)
        if ((out[i] = dlsym(lib, names[i])) == NULL) return false; /* stays open: harmless */
    return true;
}

static bool symbolizer_loaded(void) {
#if defined(ZH_CONFIG_STACK_DLOPEN) && ZH_CONFIG_STACK_DLOPEN && defined(ZH_CONFIG_HAVE_LIBDW) && ZH_CONFIG_HAVE_LIBDW
    return atomic_load_explicit(&dw_loaded, memory_order_acquire);
#elif defined(ZH_CONFIG_STACK_DLOPEN) && ZH_CONFIG_STACK_DLOPEN
    return false; /* built without libdw: dladdr only */
#else
    return true;
#endif
}

bool zh__elf_load_symbolizer(void) {
#if defined(ZH_CONFIG_STACK_DLOPEN) && ZH_CONFIG_STACK_DLOPEN && defined(ZH_CONFIG_HAVE_LIBDW) && ZH_CONFIG_HAVE_LIBDW
    if (symbolizer_loaded()) return true;
    void *slot[sizeof dw.slot / sizeof dw.slot[0]]; /* opened outside the mutex */
    if (!zh__elf_open_symbols(ZH_CONFIG_LIBDW_SONAME, dw_names, slot, sizeof slot / sizeof slot[0]))
        return false;
    pthread_mutex_lock(&symbolize_mutex); /* two loaders: one fills the table */
    if (!atomic_load_explicit(&dw_loaded, memory_order_relaxed)) {
        memcpy(dw.slot, slot, sizeof slot);
        atomic_store_explicit(&dw_loaded, true, memory_order_release);
    }
    pthread_mutex_unlock(&symbolize_mutex);
    return true;
#else
    return symbolizer_loaded();
#endif
}

unsigned zh__elf_symbolize_caps(void) {
#if defined(ZH_CONFIG_HAVE_LIBDW) && ZH_CONFIG_HAVE_LIBDW
    if (symbolizer_loaded()) return ZH__OS_HAS_SYMBOLIZE | ZH__OS_HAS_LINE_INFO;
#endif
    return ZH__OS_HAS_SYMBOLIZE;
}

bool zh__elf_symbolize(uintptr_t address, zh__symbol *out) {
    clear_symbol(out);
    if (address == 0) return false;
    /* A return address points after the call; the call itself is one byte before. */
    uintptr_t pc = address - 1;
    bool known = false;
    pthread_mutex_lock(&symbolize_mutex);
#if defined(ZH_CONFIG_HAVE_LIBDW) && ZH_CONFIG_HAVE_LIBDW
    known = dwfl_describe(pc, out);
#endif
    if (out->function[0] == '\0' || out->module[0] == '\0') known = dladdr_describe(pc, out) || known;
    pthread_mutex_unlock(&symbolize_mutex);
    /* Offsets are those of the return address, as printed in the trace. */
    if (out->function[0] != '\0') out->function_offset += 1;
    if (out->module[0] != '\0') out->module_offset += 1;
    return known;
}
