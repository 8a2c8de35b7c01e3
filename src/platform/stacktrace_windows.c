/* stacktrace_windows.c - the stack provider for Windows (ZHEAP_BACKTRACE=auto on
 * Windows targets).
 *
 * Capture: RtlCaptureStackBackTrace (CaptureStackBackTrace), which unwinds with the
 * x64 unwind tables every PE image carries; no allocation, no loader lock after the
 * first call. ZH__STACK_FRAME_POINTER is not offered (the x64 ABI does not keep frame
 * pointers), so it falls back to the default.
 * Symbolization names the module and the offset into it (GetModuleHandleEx +
 * GetModuleFileName); function names and lines would need DbgHelp and its PDBs,
 * which this provider does not load: resolve module+offset with addr2line or a
 * debugger. */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <string.h>

#include "platform/platform.h"

unsigned zh__os_stack_caps(void) { return ZH__OS_HAS_STACK_CAPTURE | ZH__OS_HAS_SYMBOLIZE; }

const char *zh__os_stack_provider(void) { return "windows"; }

#define WALK_EXTRA 24
#define WALK_MAX (WALK_EXTRA + 128)

size_t zh__os_stack_capture(zh__stack_method method, uintptr_t first_address,
                            uintptr_t *frames, size_t max) {
    (void)method;
    if (max == 0) return 0;
    void *buf[WALK_MAX];
    size_t cap = max + WALK_EXTRA;
    if (cap > WALK_MAX) cap = WALK_MAX;
    /* Skip this function's own frame. */
    size_t found = RtlCaptureStackBackTrace(1, (DWORD)cap, buf, NULL);
    size_t start = 0;
    if (first_address != 0) {
        start = found;
        for (size_t i = 0; i < found; i++)
            if ((uintptr_t)buf[i] == first_address) {
                start = i;
                break;
            }
        if (start == found) {
            frames[0] = first_address;
            return 1;
        }
    }
    size_t n = 0;
    for (size_t i = start; i < found && n < max; i++) frames[n++] = (uintptr_t)buf[i];
    return n;
}

void zh__os_stack_warm_up(void) {
    uintptr_t frames[4];
    (void)zh__os_stack_capture(ZH__STACK_DEFAULT, 0, frames, 4);
}

bool zh__os_stack_load(void) { return true; }

bool zh__os_symbolize(uintptr_t address, zh__symbol *out) {
    out->function[0] = out->module[0] = out->file[0] = '\0';
    out->function_offset = out->module_offset = 0;
    out->line = 0;
    if (address == 0) return false;
    HMODULE module = NULL;
    if (!GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS |
                                GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                            (LPCSTR)(address - 1), &module))
        return false;
    DWORD n = GetModuleFileNameA(module, out->module, (DWORD)sizeof out->module);
    if (n == 0 || n >= sizeof out->module) out->module[0] = '\0';
    out->module_offset = address - (uintptr_t)module;
    return true;
}
