/* posix.c - the thread and diagnostic sections of the platform contract, and the C
 * library facts, for every POSIX backend.
 *
 * Compiled with the mmap and sbrk backends (cmake/ZheapPlatform.cmake).
 *
 * Design: zh_mutex is a pthread mutex in caller storage. zh__lock and zh__once are
 * one 32-bit word: on Linux a three-state futex lock (0 free, 1 taken, 2 taken with
 * waiters) whose uncontended acquire and release are one atomic each, and a once
 * word that sleepers wait on with FUTEX_WAIT; elsewhere the same words with
 * spin-then-yield waiting. Thread-local keys are pthread keys, fork hooks
 * pthread_atfork, stderr is write(2) and abort is abort(3).
 *
 * Costs: uncontended lock/unlock ~2 atomics; contention costs one futex syscall per
 * sleep and per wake-up. None of the lock, once, stderr or fact functions allocates. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sbrk, malloc_usable_size, gettid, sched_getaffinity on glibc */
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#elif defined(__APPLE__)
#include <malloc/malloc.h>
#endif

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#define ZH__POSIX_FUTEX 1
#else
#define ZH__POSIX_FUTEX 0
#endif

#include "common.h"
#include "platform/platform.h"

_Static_assert(sizeof(pthread_mutex_t) <= sizeof(zh_mutex),
               "zh_mutex storage is too small for pthread_mutex_t");
_Static_assert(_Alignof(pthread_mutex_t) <= _Alignof(zh_mutex),
               "zh_mutex storage is not aligned enough for pthread_mutex_t");
_Static_assert(sizeof(pthread_key_t) <= sizeof(uintptr_t), "pthread_key_t wider than a word");

/* ---- zh_mutex ------------------------------------------------------------------------- */

static pthread_mutex_t *as_pthread(zh_mutex *m) { return (pthread_mutex_t *)(void *)m->opaque.bytes; }

void zh__mutex_init(zh_mutex *m) {
    int rc = pthread_mutex_init(as_pthread(m), NULL);
    if (ZH__UNLIKELY(rc != 0)) zh__panic("zh__mutex_init", "pthread_mutex_init failed (%d)", rc);
}

void zh__mutex_lock(zh_mutex *m) {
    int rc = pthread_mutex_lock(as_pthread(m));
    if (zh__config_safety && rc != 0)
        zh__panic("zh__mutex_lock", "pthread_mutex_lock failed (%d)", rc);
}

bool zh__mutex_try_lock(zh_mutex *m) { return pthread_mutex_trylock(as_pthread(m)) == 0; }

void zh__mutex_unlock(zh_mutex *m) {
    int rc = pthread_mutex_unlock(as_pthread(m));
    if (zh__config_safety && rc != 0)
        zh__panic("zh__mutex_unlock", "pthread_mutex_unlock failed (%d)", rc);
}

void zh__mutex_destroy(zh_mutex *m) { pthread_mutex_destroy(as_pthread(m)); }

void zh__os_yield(void) { sched_yield(); }

/* ---- waiting on a word ------------------------------------------------------------------ */

/* Sleeps while *word == expected (or returns at once if it already differs; spurious
 * returns are allowed, callers loop). */
static void word_wait(_Atomic(uint32_t) *word, uint32_t expected) {
#if ZH__POSIX_FUTEX
    syscall(SYS_futex, (void *)word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
#else
    (void)word;
    (void)expected;
    sched_yield();
#endif
}

/* Wakes one (or all) sleepers of word_wait on `word`. */
static void word_wake(_Atomic(uint32_t) *word, bool all) {
#if ZH__POSIX_FUTEX
    syscall(SYS_futex, (void *)word, FUTEX_WAKE_PRIVATE, all ? INT32_MAX : 1, NULL, NULL, 0);
#else
    (void)word;
    (void)all;
#endif
}

/* ---- zh__lock: 0 free, 1 taken, 2 taken and someone may sleep ------------------------- */

enum { LOCK_FREE, LOCK_TAKEN, LOCK_CONTENDED };
enum { LOCK_SPINS = 100 };

bool zh__lock_try_acquire(zh__lock *l) {
    uint32_t expected = LOCK_FREE;
    return atomic_compare_exchange_strong_explicit(&l->word, &expected, LOCK_TAKEN,
                                                   memory_order_acquire, memory_order_relaxed);
}

static ZH_NOINLINE void lock_acquire_contended(zh__lock *l) {
    for (int i = 0; i < LOCK_SPINS; i++) {
        if (atomic_load_explicit(&l->word, memory_order_relaxed) == LOCK_FREE &&
            zh__lock_try_acquire(l))
            return;
    }
    /* From here on the lock is marked contended, so the holder's release wakes us. */
    while (atomic_exchange_explicit(&l->word, LOCK_CONTENDED, memory_order_acquire) != LOCK_FREE)
        word_wait(&l->word, LOCK_CONTENDED);
}

void zh__lock_acquire(zh__lock *l) {
    if (ZH__LIKELY(zh__lock_try_acquire(l))) return;
    lock_acquire_contended(l);
}

void zh__lock_release(zh__lock *l) {
    uint32_t was = atomic_exchange_explicit(&l->word, LOCK_FREE, memory_order_release);
    if (zh__config_safety && was == LOCK_FREE)
        zh__panic("zh__lock_release", "lock %p was not held", (void *)l);
    if (ZH__UNLIKELY(was == LOCK_CONTENDED)) word_wake(&l->word, false);
}

/* ---- zh__once: 0 not run, 1 running, 2 running with sleepers, 3 done ------------------ */

enum { ONCE_NEW, ONCE_RUNNING, ONCE_WAITED, ONCE_DONE };

static ZH_NOINLINE void once_slow(zh__once *once, void (*init)(void *), void *arg) {
    uint32_t state = ONCE_NEW;
    if (atomic_compare_exchange_strong_explicit(&once->state, &state, ONCE_RUNNING,
                                                memory_order_acquire, memory_order_acquire)) {
        init(arg);
        if (atomic_exchange_explicit(&once->state, ONCE_DONE, memory_order_release) == ONCE_WAITED)
            word_wake(&once->state, true);
        return;
    }
    while (state != ONCE_DONE) {
        if (state == ONCE_RUNNING)
            atomic_compare_exchange_strong_explicit(&once->state, &state, ONCE_WAITED,
                                                    memory_order_acquire, memory_order_acquire);
        if (state != ONCE_DONE) word_wait(&once->state, ONCE_WAITED);
        state = atomic_load_explicit(&once->state, memory_order_acquire);
    }
}

void zh__os_once(zh__once *once, void (*init)(void *arg), void *arg) {
    if (ZH__LIKELY(atomic_load_explicit(&once->state, memory_order_acquire) == ONCE_DONE)) return;
    once_slow(once, init, arg);
}

/* ---- thread-local keys, fork -------------------------------------------------------------- */

static pthread_key_t as_key(zh__tls_key key) { return (pthread_key_t)key.opaque; }

bool zh__tls_key_create(zh__tls_key *key, void (*destructor)(void *value)) {
    pthread_key_t k;
    if (pthread_key_create(&k, destructor) != 0) return false;
    key->opaque = (uintptr_t)k;
    return true;
}

void zh__tls_key_delete(zh__tls_key key) { pthread_key_delete(as_key(key)); }

void *zh__tls_get(zh__tls_key key) { return pthread_getspecific(as_key(key)); }

bool zh__tls_set(zh__tls_key key, void *value) {
    return pthread_setspecific(as_key(key), value) == 0;
}

bool zh__os_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void)) {
    return pthread_atfork(prepare, parent, child) == 0;
}

/* ---- facts ------------------------------------------------------------------------------ */

static unsigned query_cpu_count(void) {
#if defined(__linux__) && defined(CPU_COUNT)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return (unsigned)n;
    }
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1u;
}

static _Atomic(unsigned) cpu_count_cache; /* 0: not read yet; racing readers agree */

unsigned zh__os_cpu_count(void) {
    unsigned n = atomic_load_explicit(&cpu_count_cache, memory_order_relaxed);
    if (ZH__UNLIKELY(n == 0)) {
        n = query_cpu_count();
        atomic_store_explicit(&cpu_count_cache, n, memory_order_relaxed);
    }
    return n;
}

/* The coarse clock where there is one (Linux): a read of the vDSO's tick, a few ns,
 * with the tick's resolution (1-4 ms), which is all a millisecond delay needs. */
#if defined(CLOCK_MONOTONIC_COARSE)
#define ZH__MONOTONIC_MS_CLOCK CLOCK_MONOTONIC_COARSE
#else
#define ZH__MONOTONIC_MS_CLOCK CLOCK_MONOTONIC
#endif

uint64_t zh__os_monotonic_ms(void) {
    struct timespec ts;
    if (clock_gettime(ZH__MONOTONIC_MS_CLOCK, &ts) != 0) return 0;
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u + 1u; /* never 0 */
}

size_t zh__os_cache_line(void) {
#if defined(_SC_LEVEL1_DCACHE_LINESIZE)
    long n = sysconf(_SC_LEVEL1_DCACHE_LINESIZE);
    if (n > 0 && zh__is_pow2((size_t)n)) return (size_t)n;
#endif
    return ZH__CACHE_LINE;
}

uint64_t zh__os_thread_id(void) {
#if defined(__linux__) && defined(SYS_gettid)
    return (uint64_t)syscall(SYS_gettid);
#else
    return (uint64_t)(uintptr_t)pthread_self();
#endif
}

/* ---- diagnostics ------------------------------------------------------------------------- */

void zh__os_write_stderr(const char *text, size_t len) {
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, text, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        text += n;
        len -= (size_t)n;
    }
}

_Noreturn void zh__os_abort(void) { abort(); }

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
