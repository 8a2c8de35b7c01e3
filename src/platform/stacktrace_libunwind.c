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
 * Symbolization: stacktrace_elf.c. */
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "platform/stacktrace_elf.h"

unsigned zh__os_stack_caps(void) {
    return ZH__OS_HAS_STACK_CAPTURE | ZH__OS_HAS_FRAME_POINTER_CAPTURE | zh__elf_symbolize_caps();
}

const char *zh__os_stack_provider(void) { return "libunwind"; }

size_t zh__os_stack_capture(zh__stack_method method, uintptr_t first_address,
                            uintptr_t *frames, size_t max) {
    if (max == 0) return 0;
    uintptr_t buf[ZH__ELF_WALK_MAX];
    size_t cap = max + ZH__ELF_WALK_EXTRA;
    if (cap > ZH__ELF_WALK_MAX) cap = ZH__ELF_WALK_MAX;
    size_t found;
    size_t skip;
    if (method == ZH__STACK_FRAME_POINTER) {
        found = zh__elf_fp_capture(0, buf, cap);
        skip = 1; /* buf[0] returns into this function */
    } else {
        int n = unw_backtrace((void **)buf, (int)cap);
        found = n > 0 ? (size_t)n : 0;
        skip = 1; /* buf[0] is inside this function */
    }
    return zh__elf_trim_frames(first_address, skip, buf, found, frames, max);
}

void zh__os_stack_warm_up(void) {
    uintptr_t frames[8];
    (void)zh__os_stack_capture(ZH__STACK_DEFAULT, 0, frames, 8);
    zh__elf_warm_up();
}

bool zh__os_symbolize(uintptr_t address, zh__symbol *out) {
    return zh__elf_symbolize(address, out);
}
