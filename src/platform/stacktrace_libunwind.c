/* stacktrace_libunwind.c - the stack provider over libunwind (ZHEAP_BACKTRACE=libunwind,
 * and auto where pkg-config finds libunwind).
 *
 * Capture uses unw_backtrace of the local-only unwinder (UNW_LOCAL_ONLY), which on
 * x86-64 walks with libunwind's per-thread cache of frame descriptions (its "fast
 * trace" path) and falls back to the full DWARF step; it is exact through code
 * without frame pointers. The first capture in a process loads unwind tables and may
 * take the dynamic loader's lock, so zh__os_stack_warm_up does one. libunwind does
 * not allocate from the C heap on this path (it has its own mmap-backed pools).
 * ZH__STACK_FRAME_POINTER selects the frame-pointer walk of stacktrace_elf.c instead.
 * Symbolization: stacktrace_elf.c.
 * Run-time loading (ZH_CONFIG_STACK_DLOPEN): libunwind is opened by
 * zh__os_stack_load and unw_backtrace called through a pointer; before that (or
 * without the library) the default method walks frame pointers. */
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "platform/stacktrace_elf.h"

#include <stdatomic.h>
#include <string.h>

typedef int (*backtrace_fn)(void **, int);
#if defined(ZH_CONFIG_STACK_DLOPEN) && ZH_CONFIG_STACK_DLOPEN
static _Atomic(backtrace_fn) loaded_backtrace;
static backtrace_fn unwinder(void) { return atomic_load_explicit(&loaded_backtrace, memory_order_acquire); }
#else
static backtrace_fn unwinder(void) { return unw_backtrace; }
#endif

unsigned zh__os_stack_caps(void) {
    return ZH__OS_HAS_STACK_CAPTURE | ZH__OS_HAS_FRAME_POINTER_CAPTURE | zh__elf_symbolize_caps();
}

const char *zh__os_stack_provider(void) { return unwinder() != NULL ? "libunwind" : "frame-pointer"; }

/* Frames found above first_address (zheap's own, unwind() included): the most seen
 * so far, so that unw_backtrace walks no more than the trace needs on the deepest
 * path into the allocator (each frame costs ~10 ns); a deeper path retries in full
 * once and raises it. */
static _Atomic(unsigned) learnt_skip = 4;

static void learn_skip(size_t skip) {
    unsigned seen = atomic_load_explicit(&learnt_skip, memory_order_relaxed);
    while (skip > seen && !atomic_compare_exchange_weak_explicit(
                              &learnt_skip, &seen, (unsigned)skip, memory_order_relaxed,
                              memory_order_relaxed)) {
    }
}

__attribute__((noinline)) static size_t unwind(uintptr_t first_address, uintptr_t *frames, size_t max, size_t cap) {
    uintptr_t buf[ZH__ELF_WALK_MAX];
    if (cap > ZH__ELF_WALK_MAX) cap = ZH__ELF_WALK_MAX;
    int got = unwinder()((void **)buf, (int)cap);
    size_t found = got > 0 ? (size_t)got : 0;
    if (first_address == 0) return zh__elf_trim_frames(0, 2, buf, found, frames, max);
    for (size_t i = 0; i < found; i++)
        if (buf[i] == first_address) {
            learn_skip(i);
            /* Cut short by the learnt depth (the stack goes on): unwind in full. */
            if (found == cap && found - i < max) return 0;
            return zh__elf_trim_frames(first_address, 0, buf + i, found - i, frames, max);
        }
    return 0;
}

size_t zh__os_stack_capture(zh__stack_method method, uintptr_t first_address,
                            uintptr_t *frames, size_t max) {
    if (max == 0) return 0;
    if (method == ZH__STACK_FRAME_POINTER || unwinder() == NULL) {
        size_t n = zh__elf_fp_walk(first_address, 1, frames, max);
        __asm__ volatile("" ::: "memory"); /* no tail call: this frame must exist */
        return n;
    }
    /* buf[0] is in unwind(), buf[1] in this function; first_address is at
     * buf[learnt_skip] or below. */
    size_t skip = first_address != 0 ? atomic_load_explicit(&learnt_skip, memory_order_relaxed) : 2;
    size_t n = unwind(first_address, frames, max, max + skip);
    if (n == 0 && first_address != 0) n = unwind(first_address, frames, max, max + ZH__ELF_WALK_EXTRA);
    if (n == 0 && first_address != 0) frames[n++] = first_address; /* not on the stack */
    __asm__ volatile("" ::: "memory");
    return n;
}

void zh__os_stack_warm_up(void) {
    uintptr_t frames[8];
    (void)zh__os_stack_capture(ZH__STACK_DEFAULT, 0, frames, 8);
    zh__elf_warm_up();
}

bool zh__os_symbolize(uintptr_t address, zh__symbol *out) {
    return zh__elf_symbolize(address, out);
}

bool zh__os_stack_load(void) {
#if defined(ZH_CONFIG_STACK_DLOPEN) && ZH_CONFIG_STACK_DLOPEN
    if (unwinder() == NULL) {
        static const char *const names[] = {"unw_backtrace"};
        void *sym;
        if (zh__elf_open_symbols(ZH_CONFIG_LIBUNWIND_SONAME, names, &sym, 1)) {
            backtrace_fn fn;
            memcpy(&fn, &sym, sizeof fn); /* POSIX: dlsym's result converts */
            atomic_store_explicit(&loaded_backtrace, fn, memory_order_release);
        }
    }
#endif
    bool symbolizer = zh__elf_load_symbolizer();
    zh__os_stack_warm_up();
    return unwinder() != NULL && symbolizer;
}
