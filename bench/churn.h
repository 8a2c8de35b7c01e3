/* churn.h - the single-thread churn workload of bench_debug.c and of its
 * AddressSanitizer companion bench_churn_asan.c (the same loop over malloc, built with
 * -fsanitize=address), so that both measure exactly the same work.
 *
 * CHURN_LIVE blocks stay live; one op replaces one of them: free the block in slot
 * k (k cycles), allocate a new one of a pseudo-random size in [8, 4096] bytes and
 * write every byte of it once. Sizes come from a fixed xorshift sequence. */
#ifndef ZHEAP_BENCH_CHURN_H
#define ZHEAP_BENCH_CHURN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CHURN_LIVE 256
#define CHURN_MIN 8
#define CHURN_MAX 4096

typedef struct churn_state {
    void *block[CHURN_LIVE];
    size_t len[CHURN_LIVE];
    size_t next; /* slot replaced next */
    uint32_t rng;
} churn_state;

static inline size_t churn_len(churn_state *c) {
    uint32_t x = c->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c->rng = x;
    return CHURN_MIN + x % (CHURN_MAX - CHURN_MIN + 1);
}

static inline void churn_reset(churn_state *c) {
    memset(c, 0, sizeof *c);
    c->rng = 0x9e3779b9u;
}

/* One op: CHURN_FREE(p, len) the old block of the slot (if any), then
 * p = CHURN_ALLOC(len) and write it. Expands to a statement; 0 on out-of-memory. */
#define CHURN_OPS(c, iterations, CHURN_ALLOC, CHURN_FREE)                   \
    do {                                                                    \
        for (size_t churn_i = 0; churn_i < (iterations); churn_i++) {       \
            size_t churn_k = (c)->next;                                     \
            (c)->next = (churn_k + 1) % CHURN_LIVE;                         \
            if ((c)->block[churn_k] != NULL)                                \
                CHURN_FREE((c)->block[churn_k], (c)->len[churn_k]);         \
            size_t churn_n = churn_len(c);                                  \
            void *churn_p = CHURN_ALLOC(churn_n);                           \
            if (churn_p != NULL) memset(churn_p, (int)churn_k, churn_n);    \
            (c)->block[churn_k] = churn_p;                                  \
            (c)->len[churn_k] = churn_p != NULL ? churn_n : 0;              \
        }                                                                   \
    } while (0)

#endif
