/* panic.c - the one way libzheap reports a contract violation: a line naming the
 * call, then abort.
 *
 * In core, below the allocators and the platform backends, so that every layer may
 * use it. It formats into a stack buffer with vsnprintf (which does not allocate for
 * the formats used here) and writes through the platform's stderr, never stdio,
 * because the caller may be inside an allocator with its lock held, or be the
 * C heap itself. */
#include <stdarg.h>
#include <stdio.h>

#include "common.h"
#include "platform/platform.h"

void zh__panic(const char *call, const char *fmt, ...) {
    char msg[512];
    int n = snprintf(msg, sizeof msg - 1, "zheap: %s: ", call);
    if (n < 0) n = 0;
    if ((size_t)n > sizeof msg - 2) n = (int)(sizeof msg - 2);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg + n, sizeof msg - 1 - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m > 0 ? (size_t)m : 0);
    if (len > sizeof msg - 2) len = sizeof msg - 2;
    msg[len++] = '\n';
    zh__os_write_stderr(msg, len);
    zh__os_abort();
}
