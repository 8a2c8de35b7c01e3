/* bench_churn_asan.c - the churn workload of churn.h over glibc malloc, built with
 * -fsanitize=address: the AddressSanitizer figure bench_debug.c compares the debug
 * allocator with. bench_debug runs it as a child process; run alone it prints the
 * same line.
 *
 *   zheap-bench-churn-asan ITERATIONS REPS
 * Prints "ns_per_op MEDIAN MIN MAX" (ns per op over REPS repetitions of ITERATIONS
 * ops, after one warm-up repetition). */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "churn.h"

#define MAX_REPS 64

static uint64_t clock_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#define FREE_BLOCK(p, len) ((void)(len), free(p))

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    size_t iterations = argc > 1 ? strtoull(argv[1], NULL, 10) : 200000;
    size_t reps = argc > 2 ? strtoull(argv[2], NULL, 10) : 11;
    if (iterations == 0 || reps == 0 || reps > MAX_REPS) {
        fprintf(stderr, "usage: %s ITERATIONS REPS (1..%d)\n", argv[0], MAX_REPS);
        return 2;
    }
    static churn_state c;
    churn_reset(&c);
    double ns[MAX_REPS], cpu[MAX_REPS];
    CHURN_OPS(&c, iterations, malloc, FREE_BLOCK); /* warm-up */
    for (size_t r = 0; r < reps; r++) {
        uint64_t t0 = clock_ns(CLOCK_MONOTONIC), c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
        CHURN_OPS(&c, iterations, malloc, FREE_BLOCK);
        ns[r] = (double)(clock_ns(CLOCK_MONOTONIC) - t0) / (double)iterations;
        cpu[r] = (double)(clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / (double)iterations;
    }
    for (size_t k = 0; k < CHURN_LIVE; k++) free(c.block[k]);
    qsort(ns, reps, sizeof ns[0], compare);
    qsort(cpu, reps, sizeof cpu[0], compare);
    printf("ns_per_op %.2f %.2f %.2f cpu %.2f\n", ns[reps / 2], ns[0], ns[reps - 1], cpu[reps / 2]);
    return 0;
}
