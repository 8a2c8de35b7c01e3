/* planted.c - a program with planted memory bugs, run under libzheap-malloc.so with
 * ZHEAP_ALLOCATOR=debug; check_report.py checks that each is reported with its kind,
 * size and a trace naming the function that planted it. Each bug lives in its own
 * exported, never-inlined function so that any symbolizer can name it. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* C23 sized frees: glibc 2.36 lacks them, the preload library defines them. */
static void free_sized(void *p, size_t size) {
    void (*fn)(void *, size_t);
    *(void **)&fn = dlsym(RTLD_DEFAULT, "free_sized");
    if (fn == NULL) abort();
    fn(p, size);
}


#define PLANT __attribute__((noinline, noclone, used))

/* Keeps the compiler from seeing through the pointers. */
static void *volatile launder;
static void *hide(void *p) {
    launder = p;
    return launder;
}

PLANT void plant_leak(void) { hide(malloc(1234)); }

/* A second live block keeps the bucket: a double free after the bucket retired
 * (all its slots freed) is reported as an invalid free (docs/preload.md, limits). */
static void *keeper;
PLANT void plant_double_free(void) {
    keeper = hide(malloc(48));
    char *p = hide(malloc(48));
    free(p);
    free(hide(p));
}

PLANT void plant_invalid_free_stack(void) {
    char buf[32];
    memset(buf, 0, sizeof buf);
    free(hide(buf));
}

PLANT void plant_invalid_free_interior(void) {
    char *p = hide(malloc(64));
    free(hide(p + 8));
    free(p);
}

PLANT void plant_mismatched_free_sized(void) {
    char *p = hide(malloc(100));
    free_sized(p, 50);
}

PLANT void plant_overflow(void) {
    char *p = hide(malloc(20));
    memset(p, 'a', 21); /* one byte past the end */
    free(p);
}

static char *dangling;
PLANT void plant_write_after_free(void) {
    hide(malloc(40)); /* keeps the bucket (and is a leak of 40 bytes) */
    dangling = hide(malloc(40));
    free(dangling);
    dangling[3] = 'x'; /* found when the block's bucket is checked (at exit) */
}

int main(void) {
    plant_leak();
    plant_double_free();
    plant_invalid_free_stack();
    plant_invalid_free_interior();
    plant_mismatched_free_sized();
    plant_overflow();
    plant_write_after_free();
    free(keeper);
    puts("planted: survived");
    return 0;
}
