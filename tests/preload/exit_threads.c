/* exit_threads.c - exit() from one thread while the others allocate, free and
 * realloc (small and large blocks) as fast as they can: the exit leak check of
 * ZHEAP_ALLOCATOR=debug runs while they go on (config.c's exit gate). The process
 * must end with status 0 (no deadlock, no crash: run_exit_threads.sh runs it many
 * times under a timeout) and the report may name leaks only (check_exit_report.py).
 * argv[1]: iterations before the exiting thread calls exit (default 2000). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHURNERS 3
#define LIVE 64

static const size_t sizes[] = {8, 24, 100, 1000, 5000, 70000, 300000};
static _Atomic unsigned long progress;

static size_t pick(unsigned *seed) {
    *seed = *seed * 1103515245u + 12345u;
    return sizes[(*seed >> 16) % (sizeof sizes / sizeof sizes[0])];
}

/* Keeps LIVE blocks, replacing one per step by malloc, realloc or calloc. */
static void *churn(void *arg) {
    unsigned seed = (unsigned)(size_t)arg;
    void *live[LIVE] = {0};
    for (unsigned long i = 0;; i++) {
        size_t k = i % LIVE, len = pick(&seed);
        switch (seed % 3) {
        case 0:
            free(live[k]);
            live[k] = malloc(len);
            break;
        case 1: {
            void *q = realloc(live[k], len);
            if (q != NULL) live[k] = q;
            break;
        }
        default:
            free(live[k]);
            live[k] = calloc(1, len);
            break;
        }
        if (live[k] != NULL) memset(live[k], (int)i, len < 64 ? len : 64);
        atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
    }
    return NULL;
}

static void *exiter(void *arg) {
    unsigned long steps = (unsigned long)(size_t)arg;
    while (atomic_load_explicit(&progress, memory_order_relaxed) < steps) {
        void *p = malloc(48);
        free(p);
    }
    printf("exit_threads: exiting after %lu steps\n", steps);
    fflush(stdout);
    exit(0);
}

int main(int argc, char **argv) {
    unsigned long steps = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000;
    pthread_t t[CHURNERS + 1];
    for (size_t i = 0; i < CHURNERS; i++)
        if (pthread_create(&t[i], NULL, churn, (void *)(i * 7919 + 1)) != 0) return 2;
    if (pthread_create(&t[CHURNERS], NULL, exiter, (void *)(size_t)steps) != 0) return 2;
    pthread_join(t[CHURNERS], NULL); /* never returns: the exiter ends the process */
    return 3;
}
