/* test_dlopen.c - libzheap.so loaded with dlopen still works.
 *
 * libzheap's thread-locals use the initial-exec TLS model on ELF (src/common.h):
 * no __tls_get_addr call on the allocation path. Such a library loaded after
 * start-up lives in the static-TLS surplus glibc keeps for it; this proves that
 * it loads, and that the SMP allocator (thread-local heaps) and the debug
 * allocator (thread-local guards) serve threads created after the load. */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "zheap/allocator.h"
#include "zheap/debug.h"

#define THREADS 4
#define ROUNDS 2000

static void *(*fn_alloc)(zh_allocator, size_t);
static void (*fn_free)(zh_allocator, void *, size_t);
static zh_debug *(*fn_debug_create)(const zh_debug_config *);
static zh_allocator (*fn_debug_allocator)(zh_debug *);
static zh_check (*fn_debug_destroy)(zh_debug *);
static zh_allocator subject;

/* Each thread allocates, writes a pattern, checks it and frees; nonzero on damage. */
static void *churn(void *arg) {
    (void)arg;
    for (size_t i = 0; i < ROUNDS; i++) {
        size_t len = 16 + (i * 37) % 3000;
        unsigned char *p = fn_alloc(subject, len);
        if (p == NULL) return (void *)1;
        memset(p, (int)(i & 0xff), len);
        if (p[0] != (unsigned char)(i & 0xff) || p[len - 1] != (unsigned char)(i & 0xff))
            return (void *)1;
        fn_free(subject, p, len);
    }
    return NULL;
}

static int run_threads(const char *what) {
    pthread_t t[THREADS];
    int failed = 0;
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, churn, NULL) != 0) return fprintf(stderr, "pthread_create\n"), 1;
    for (int i = 0; i < THREADS; i++) {
        void *r = NULL;
        pthread_join(t[i], &r);
        failed |= r != NULL;
    }
    printf("%s: %s\n", what, failed ? "FAILED" : "ok");
    return failed;
}

static void *need(void *lib, const char *name) {
    void *sym = dlsym(lib, name);
    if (sym == NULL) fprintf(stderr, "test_dlopen: %s not found: %s\n", name, dlerror());
    return sym;
}

int main(int argc, char **argv) {
    if (argc != 2) return fprintf(stderr, "usage: test_dlopen path/to/libzheap.so\n"), 2;
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) return fprintf(stderr, "test_dlopen: dlopen failed: %s\n", dlerror()), 1;
    const zh_allocator *smp = need(lib, "zh_smp_allocator");
    *(void **)&fn_alloc = need(lib, "zh_alloc");
    *(void **)&fn_free = need(lib, "zh_free");
    *(void **)&fn_debug_create = need(lib, "zh_debug_create");
    *(void **)&fn_debug_allocator = need(lib, "zh_debug_allocator");
    *(void **)&fn_debug_destroy = need(lib, "zh_debug_destroy");
    if (!smp || !fn_alloc || !fn_free || !fn_debug_create || !fn_debug_allocator || !fn_debug_destroy)
        return 1;

    subject = *smp;
    int failed = run_threads("smp allocator from a dlopen'ed libzheap.so");

    zh_debug_config cfg = ZH_DEBUG_CONFIG_DEFAULT;
    cfg.stack_trace_frames = 0;
    zh_debug *d = fn_debug_create(&cfg);
    if (d == NULL) return fprintf(stderr, "test_dlopen: zh_debug_create failed\n"), 1;
    subject = fn_debug_allocator(d);
    failed |= run_threads("debug allocator from a dlopen'ed libzheap.so");
    if (fn_debug_destroy(d) != ZH_CHECK_OK) {
        fprintf(stderr, "test_dlopen: the debug allocator reported a leak\n");
        failed = 1;
    }
    return failed;
}
