/* plain_check.h - reporting for the framework-free test runners (conformance_main,
 * seam_main, wasm_main), which run under wine and node where cmocka is absent.
 *
 * check() prints one line per check ("ok   ..." or "FAIL ...") and counts them;
 * plain_check_finish() prints the closing "N passed, N failed" line that CTest's
 * log readers understand and returns the exit status. Header-only: each runner is
 * one translation unit. */
#ifndef ZHEAP_TEST_PLAIN_CHECK_H
#define ZHEAP_TEST_PLAIN_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "common.h" /* ZH_PRINTF */

static unsigned checks_passed;
static unsigned checks_failed;

ZH_PRINTF(2, 3) static bool check(bool ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs(ok ? "ok   " : "FAIL ", stdout);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
    if (ok)
        checks_passed++;
    else
        checks_failed++;
    return ok;
}

static int plain_check_finish(void) {
    printf("%u passed, %u failed\n", checks_passed, checks_failed);
    return checks_failed == 0 ? 0 : 1;
}

#endif /* ZHEAP_TEST_PLAIN_CHECK_H */
