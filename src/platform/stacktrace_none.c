/* stacktrace_none.c - the stack-capture provider for builds without one
 * (ZHEAP_BACKTRACE=none, and targets with no way to walk the stack, such as wasm).
 *
 * Every capture returns no frames and symbolization knows nothing; callers print
 * reports without traces. */
#include "platform/platform.h"

unsigned zh__os_stack_caps(void) { return 0; }

const char *zh__os_stack_provider(void) { return "none"; }

size_t zh__os_stack_capture(zh__stack_method method, uintptr_t first_address,
                            uintptr_t *frames, size_t max) {
    (void)method;
    (void)first_address;
    (void)frames;
    (void)max;
    return 0;
}

void zh__os_stack_warm_up(void) {}

bool zh__os_stack_load(void) { return true; }

bool zh__os_symbolize(uintptr_t address, zh__symbol *out) {
    (void)address;
    out->function[0] = out->module[0] = out->file[0] = '\0';
    out->function_offset = out->module_offset = 0;
    out->line = 0;
    return false;
}
