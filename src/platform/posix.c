/* posix.c - the parts of the platform contract every POSIX backend shares.
 *
 * Compiled with the mmap and sbrk backends (cmake/ZheapPlatform.cmake): pthread
 * mutexes in zh_mutex storage, sched_yield, the C library's usable-size query and
 * the process's sbrk(2). Each is a thin wrapper; none allocates. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sbrk, malloc_usable_size on glibc */
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#elif defined(__APPLE__)
#include <malloc/malloc.h>
#endif

#include "common.h"
#include "platform/platform.h"

_Static_assert(sizeof(pthread_mutex_t) <= sizeof(zh_mutex),
               "zh_mutex storage is too small for pthread_mutex_t");
_Static_assert(_Alignof(pthread_mutex_t) <= _Alignof(zh_mutex),
               "zh_mutex storage is not aligned enough for pthread_mutex_t");

/* ---- locks ---------------------------------------------------------------------------- */

static pthread_mutex_t *as_pthread(zh_mutex *m) { return (pthread_mutex_t *)(void *)m->opaque.bytes; }

void zh__mutex_init(zh_mutex *m) {
    int rc = pthread_mutex_init(as_pthread(m), NULL);
    if (ZH_UNLIKELY(rc != 0)) zh__panic("zh__mutex_init", "pthread_mutex_init failed (%d)", rc);
}

void zh__mutex_lock(zh_mutex *m) {
    int rc = pthread_mutex_lock(as_pthread(m));
    if (zh__config_safety && rc != 0)
        zh__panic("zh__mutex_lock", "pthread_mutex_lock failed (%d)", rc);
}

void zh__mutex_unlock(zh_mutex *m) {
    int rc = pthread_mutex_unlock(as_pthread(m));
    if (zh__config_safety && rc != 0)
        zh__panic("zh__mutex_unlock", "pthread_mutex_unlock failed (%d)", rc);
}

void zh__mutex_destroy(zh_mutex *m) { pthread_mutex_destroy(as_pthread(m)); }

void zh__os_yield(void) { sched_yield(); }

/* ---- C library facts ------------------------------------------------------------------ */

size_t zh__os_malloc_usable_size(void *p) {
#if defined(__GLIBC__) || defined(__linux__) /* glibc, musl, bionic */
    return malloc_usable_size(p);
#elif defined(__APPLE__)
    return malloc_size(p);
#else
    (void)p;
    return 0;
#endif
}

void *zh__os_sbrk(intptr_t increment) { return sbrk(increment); }
