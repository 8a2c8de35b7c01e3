/* preload_api.c - the C allocation surface of libzheap-malloc.so, run under
 * LD_PRELOAD in each mode (tests/preload/CMakeLists.txt). A plain program: it
 * does not link libzheap, so every call below goes through the preload library.
 * Checks glibc's semantics (realloc of NULL and 0, posix_memalign's EINVAL,
 * calloc/reallocarray overflow, ENOMEM), alignment, usable sizes, C23 sized frees,
 * threads with cross-thread frees, fork() from a multi-threaded program, dlopen and
 * dlerror (the loader allocating through us), and that the library is active. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* C23 sized frees: glibc 2.36 lacks them, the preload library defines them. */
static void free_aligned_sized(void *p, size_t alignment, size_t size) {
    void (*fn)(void *, size_t, size_t);
    *(void **)&fn = dlsym(RTLD_DEFAULT, "free_aligned_sized");
    if (fn == NULL) abort();
    fn(p, alignment, size);
}
static void free_sized(void *p, size_t size) {
    void (*fn)(void *, size_t);
    *(void **)&fn = dlsym(RTLD_DEFAULT, "free_sized");
    if (fn == NULL) abort();
    fn(p, size);
}


static int failures;
#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "preload_api: %s:%d: CHECK(%s) failed\n", __FILE__, \
                    __LINE__, #cond);                                           \
            failures++;                                                         \
        }                                                                       \
    } while (0)

static int aligned(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

static void test_active(void) {
    /* The process's malloc is the preloaded one (or glibc's with ZHEAP_ALLOCATOR=c). */
    void *m = dlsym(RTLD_DEFAULT, "malloc");
    Dl_info info;
    CHECK(m != NULL && dladdr(m, &info) != 0);
    const char *mode = getenv("ZHEAP_ALLOCATOR");
    if (m != NULL && dladdr(m, &info) != 0 && info.dli_fname != NULL && mode != NULL &&
        strcmp(mode, "c") != 0)
        CHECK(strstr(info.dli_fname, "libzheap-malloc") != NULL ||
              strstr(info.dli_fname, "preload_api") != NULL);
}

static void test_basic(void) {
    char *p = malloc(100);
    CHECK(p != NULL && aligned(p, 16));
    memset(p, 'x', 100);
    CHECK(malloc_usable_size(p) >= 100);
    p = realloc(p, 5000);
    CHECK(p != NULL && p[99] == 'x' && malloc_usable_size(p) >= 5000);
    p = realloc(p, 10);
    CHECK(p != NULL && p[9] == 'x');
    free(p);
    void *z = malloc(0);
    CHECK(z != NULL);
    free(z);
    free(NULL);
    CHECK(malloc_usable_size(NULL) == 0);
    /* glibc: realloc(NULL, n) allocates; realloc(p, 0) frees and returns NULL. */
    p = realloc(NULL, 33);
    CHECK(p != NULL);
    CHECK(realloc(p, 0) == NULL);
    /* Big blocks (the large and huge paths). */
    for (size_t len = 1 << 15; len <= (size_t)64 << 20; len <<= 3) {
        unsigned char *b = malloc(len);
        CHECK(b != NULL);
        b[0] = 1, b[len - 1] = 2;
        b = realloc(b, len * 2);
        CHECK(b != NULL && b[0] == 1 && b[len - 1] == 2);
        free(b);
    }
}

static void test_calloc_and_overflow(void) {
    unsigned char *c = calloc(1000, 7);
    CHECK(c != NULL);
    int zero = 1;
    for (size_t i = 0; i < 7000; i++) zero &= c[i] == 0;
    CHECK(zero);
    /* Reuse a dirty block: calloc must still clear it. */
    free(c);
    c = malloc(7000);
    memset(c, 0xab, 7000);
    free(c);
    c = calloc(7000, 1);
    zero = 1;
    for (size_t i = 0; i < 7000; i++) zero &= c[i] == 0;
    CHECK(zero);
    free(c);
    errno = 0;
    CHECK(calloc(SIZE_MAX / 2, 3) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(reallocarray(NULL, SIZE_MAX / 4, 8) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(malloc(SIZE_MAX - 4096) == NULL && errno == ENOMEM);
    void *r = reallocarray(NULL, 10, 10);
    CHECK(r != NULL);
    free(r);
}

static void test_aligned(void) {
    void *p = NULL;
    CHECK(posix_memalign(&p, 3, 8) == EINVAL);
    CHECK(posix_memalign(&p, 4, 8) == EINVAL); /* not a multiple of sizeof(void *) */
    for (size_t a = 8; a <= ((size_t)1 << 22); a <<= 1) {
        CHECK(posix_memalign(&p, a, 100) == 0 && aligned(p, a));
        memset(p, 1, 100);
        free(p);
        void *q = aligned_alloc(a, a * 2);
        CHECK(q != NULL && aligned(q, a));
        free(q);
        q = memalign(a, 10);
        CHECK(q != NULL && aligned(q, a));
        free_aligned_sized(q, a, 10);
    }
    long page = sysconf(_SC_PAGESIZE);
    void *v = valloc(10);
    CHECK(v != NULL && aligned(v, (size_t)page));
    free(v);
    v = pvalloc(10);
    CHECK(v != NULL && aligned(v, (size_t)page) && malloc_usable_size(v) >= (size_t)page);
    free(v);
    v = memalign(48, 10); /* glibc rounds up an alignment that is not a power of two */
    CHECK(v != NULL && aligned(v, 64));
    free(v);
    void *s = malloc(77);
    free_sized(s, 77);
}

#define THREADS 4
#define ROUNDS 20000
static void *shared[THREADS][64];

static void *thread_main(void *arg) {
    size_t t = (size_t)arg;
    for (size_t i = 0; i < ROUNDS; i++) {
        size_t len = 1 + (i * 131 + t * 17) % 3000;
        char *p = malloc(len);
        if (p == NULL) return (void *)1;
        memset(p, (int)t, len);
        /* Swap into the next thread's slot: blocks are freed by other threads. */
        void *old = __atomic_exchange_n(&shared[(t + 1) % THREADS][i % 64], p, __ATOMIC_ACQ_REL);
        free(old);
    }
    return NULL;
}

static void test_threads(void) {
    pthread_t th[THREADS];
    for (size_t t = 0; t < THREADS; t++)
        CHECK(pthread_create(&th[t], NULL, thread_main, (void *)t) == 0);
    for (size_t t = 0; t < THREADS; t++) {
        void *r;
        pthread_join(th[t], &r);
        CHECK(r == NULL);
    }
    for (size_t t = 0; t < THREADS; t++)
        for (size_t i = 0; i < 64; i++) free(shared[t][i]), shared[t][i] = NULL;
}

/* fork() while other threads allocate: the child must be able to allocate. */
static volatile int stop_churn;
static void *churn_main(void *arg) {
    (void)arg;
    while (!stop_churn) free(malloc(64 + (size_t)(rand() % 4000)));
    return NULL;
}

static void test_fork(void) {
    pthread_t th[2];
    for (int t = 0; t < 2; t++) CHECK(pthread_create(&th[t], NULL, churn_main, NULL) == 0);
    for (int round = 0; round < 20; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            for (int i = 0; i < 1000; i++) free(malloc((size_t)i * 8 + 1));
            pthread_t child;
            if (pthread_create(&child, NULL, thread_main, (void *)0) != 0) _exit(3);
            pthread_join(child, NULL);
            _exit(0);
        }
        int status = 0;
        CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    stop_churn = 1;
    for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
}

/* The dynamic loader allocates through us (link maps, dlerror's message). */
static void test_loader(void) {
    CHECK(dlopen("libzheap-no-such-library.so", RTLD_NOW) == NULL);
    const char *err = dlerror();
    CHECK(err != NULL && strstr(err, "no-such") != NULL);
    void *h = dlopen("libm.so.6", RTLD_NOW);
    CHECK(h != NULL);
    if (h != NULL) {
        CHECK(dlsym(h, "cos") != NULL);
        dlclose(h);
    }
}

int main(void) {
    test_active();
    test_basic();
    test_calloc_and_overflow();
    test_aligned();
    test_threads();
    test_fork();
    test_loader();
    if (failures != 0) return 1;
    printf("preload_api: ok\n");
    return 0;
}
