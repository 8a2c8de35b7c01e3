/* stacktrace_frame_pointer.c - the stack provider that walks saved frame pointers
 * (ZHEAP_BACKTRACE=frame-pointer, and auto on GCC/Clang POSIX without libunwind).
 *
 * The fastest capture (a load pair per frame, no tables), exact only through code
 * compiled with -fno-omit-frame-pointer: a frame without one is skipped or ends the
 * walk. Both methods walk frame pointers here. Symbolization: stacktrace_elf.c. */
#include "platform/stacktrace_elf.h"

unsigned zh__os_stack_caps(void) {
    return ZH__OS_HAS_STACK_CAPTURE | ZH__OS_HAS_FRAME_POINTER_CAPTURE | zh__elf_symbolize_caps();
}

const char *zh__os_stack_provider(void) { return "frame-pointer"; }

size_t zh__os_stack_capture(zh__stack_method method, uintptr_t first_address,
                            uintptr_t *frames, size_t max) {
    (void)method;
    /* Frame 0 of the walk returns into this function: skip it. */
    size_t n = zh__elf_fp_walk(first_address, 1, frames, max);
    __asm__ volatile("" ::: "memory"); /* no tail call: this frame must exist */
    return n;
}

void zh__os_stack_warm_up(void) { zh__elf_warm_up(); }

bool zh__os_symbolize(uintptr_t address, zh__symbol *out) {
    return zh__elf_symbolize(address, out);
}

bool zh__os_stack_load(void) {
    bool symbolizer = zh__elf_load_symbolizer();
    zh__elf_warm_up();
    return symbolizer;
}
