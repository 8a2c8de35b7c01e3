/* mutex.h - storage for the platform mutex embedded in caller-owned allocator structs.
 *
 * zh_thread_safe and zh_sbrk live in memory the caller owns, so the mutex they hold
 * must have a size known to the caller without naming the operating system's type.
 * zh_mutex is that storage: large and aligned enough for every backend's lock
 * (pthread_mutex_t, SRWLOCK, or nothing on single-threaded wasm), checked at
 * compile time inside the library. Every field is private (see "Public structs"
 * in docs/architecture.md). */
#ifndef ZHEAP_MUTEX_H
#define ZHEAP_MUTEX_H

#include <stdint.h>

typedef struct zh_mutex {
    /* private */
    union {
        void *align_ptr;
        long long align_ll;
        double align_d;
        unsigned char bytes[64];
    } opaque;
} zh_mutex;

#endif /* ZHEAP_MUTEX_H */
