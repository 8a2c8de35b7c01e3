/* stacktrace_elf.h - what the POSIX/ELF stack providers share (stacktrace_elf.c):
 * the frame-pointer walker and symbolization (elfutils libdwfl when built with
 * ZH_CONFIG_HAVE_LIBDW, dladdr otherwise or as the fallback). Internal to
 * src/platform/; the providers stacktrace_libunwind.c and stacktrace_frame_pointer.c
 * put these behind the seam's zh__os_stack_* functions. */
#ifndef ZHEAP_PLATFORM_STACKTRACE_ELF_H
#define ZHEAP_PLATFORM_STACKTRACE_ELF_H

#include "platform/platform.h"

/* Walks the saved frame pointers of the calling thread: skips to the frame whose
 * return address is first_address (0: skips `skip` frames after the one returning
 * into the caller of zh__elf_fp_walk), stores up to max and stops. Stops early at a
 * frame pointer that does not increase, is misaligned or leaves the thread's stack,
 * and at a zero return address. first_address not found: it alone is stored. */
size_t zh__elf_fp_walk(uintptr_t first_address, size_t skip, uintptr_t *frames, size_t max);

/* Copies buf[0, found) to frames[0, max) from the entry equal to first_address on;
 * when first_address is 0, from entry `skip` on; when it is not found, stores
 * first_address alone so that a trace is never empty. Returns the count stored. */
size_t zh__elf_trim_frames(uintptr_t first_address, size_t skip, const uintptr_t *buf,
                           size_t found, uintptr_t *frames, size_t max);
/* Frames gathered beyond `max` so that zheap's own frames can be trimmed. */
#define ZH__ELF_WALK_EXTRA 24
#define ZH__ELF_WALK_MAX (ZH__ELF_WALK_EXTRA + 128)

/* ZH__OS_HAS_SYMBOLIZE | ZH__OS_HAS_LINE_INFO as this build can. */
unsigned zh__elf_symbolize_caps(void);
bool zh__elf_symbolize(uintptr_t address, zh__symbol *out);
/* Reads the thread's stack bounds once so the first walk does not. */
void zh__elf_warm_up(void);

/* Run-time loading (ZH_CONFIG_STACK_DLOPEN): dlopen(soname) and dlsym of names[0, n)
 * into out; false when the library or a name is missing. */
bool zh__elf_open_symbols(const char *soname, const char *const *names, void **out, size_t n);
/* Opens libdw for symbolization (run-time loading); true when it is available (always
 * when linked). */
bool zh__elf_load_symbolizer(void);

#endif
