/* wasm_malloc_first.c - wasi-libc's malloc never hands out pages the wasm backend
 * grew, mapped or free (wasm32 builds; no arguments, see tests/CMakeLists.txt).
 *
 * Debian 12's wasi-libc (dlmalloc, 2022) claims all of linear memory up to its
 * current size as its heap when malloc is first used. The backend therefore makes
 * malloc set up its heap before its own first memory.grow; that call was once
 * deleted by the optimizer (an unused malloc/free pair), and then malloc returned
 * pages from the backend's free lists. So the first thing this program does is map
 * pages, before anything has called malloc. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "platform/platform.h"

enum { PAGES = 8, MALLOCS = 8, PAGE = 65536, LEN = 100 * 1024 };

int main(void) {
    unsigned char *p = zh__os_map((size_t)PAGES * PAGE, PAGE, NULL);
    if (p == NULL) return 2;
    zh__os_unmap(p, (size_t)PAGES * PAGE);
    bool apart = true;
    void *blocks[MALLOCS];
    for (int i = 0; i < MALLOCS; i++) {
        unsigned char *b = blocks[i] = malloc(LEN);
        if (b == NULL) return 2;
        apart = apart && (b + LEN <= p || b >= p + (size_t)PAGES * PAGE);
    }
    for (int i = 0; i < MALLOCS; i++) free(blocks[i]);
    puts(apart ? "ok   malloc kept off the backend's pages"
               : "FAIL malloc handed out the backend's pages");
    return apart ? 0 : 1;
}
