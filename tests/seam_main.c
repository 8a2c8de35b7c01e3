/* seam_main.c - the thread and diagnostic sections of the platform contract
 * (src/platform/platform.h) on every backend, without a test framework, so that it
 * also runs under wine (VirtualAlloc) and node (wasm32) where cmocka is absent.
 *
 * What each backend promises through its capability flags is what is checked: with
 * ZH__OS_HAS_THREADS the locks exclude and once runs once under contention, with
 * ZH__OS_HAS_THREAD_EXIT a thread-local destructor runs at every thread's exit, with
 * ZH__OS_HAS_FORK the atfork handlers run in the child; without a flag the declined
 * function gives its documented answer. Threads are started with the OS's own API
 * (tests may name the OS; the library may not). Ends with "N passed, N failed". */
#if !defined(_WIN32) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE
#endif
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "zheap/config.h"

#include "common.h"
#include "platform/platform.h"
#include "support/plain_check.h"

#if defined(_WIN32)
#include <windows.h>
#define SEAM_THREADS 1
#elif ZH_HAVE_THREADS
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>
#define SEAM_THREADS 1
#define SEAM_FORK 1
#else
#define SEAM_THREADS 0
#endif
#ifndef SEAM_FORK
#define SEAM_FORK 0
#endif

static bool has(unsigned cap) { return (zh__os_info_get()->caps & cap) != 0; }

/* ---- threads, through the OS's own API ---------------------------------------------------- */

enum { THREADS = 6, ROUNDS = 20000 };

typedef void (*thread_fn)(size_t index);
typedef struct thread_start {
    thread_fn fn;
    size_t index;
} thread_start;

#if defined(_WIN32)
static DWORD WINAPI thread_main(LPVOID p) {
    thread_start *s = p;
    s->fn(s->index);
    return 0;
}
static void run_threads(thread_fn fn) {
    HANDLE handles[THREADS];
    thread_start starts[THREADS];
    for (size_t i = 0; i < THREADS; i++) {
        starts[i] = (thread_start){fn, i};
        handles[i] = CreateThread(NULL, 0, thread_main, &starts[i], 0, NULL);
    }
    for (size_t i = 0; i < THREADS; i++) {
        WaitForSingleObject(handles[i], INFINITE);
        CloseHandle(handles[i]);
    }
}
#elif SEAM_THREADS
static void *thread_main(void *p) {
    thread_start *s = p;
    s->fn(s->index);
    return NULL;
}
static void run_threads(thread_fn fn) {
    pthread_t threads[THREADS];
    thread_start starts[THREADS];
    for (size_t i = 0; i < THREADS; i++) {
        starts[i] = (thread_start){fn, i};
        pthread_create(&threads[i], NULL, thread_main, &starts[i]);
    }
    for (size_t i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
}
#else
static void run_threads(thread_fn fn) {
    for (size_t i = 0; i < THREADS; i++) fn(i); /* one after another */
}
#endif

/* ---- locks ------------------------------------------------------------------------------ */

static zh__lock counter_lock = ZH__LOCK_INIT;
static zh_mutex counter_mutex;
static size_t counter; /* plain: only exact if the locks exclude */

static void count_under_locks(size_t index) {
    for (int i = 0; i < ROUNDS; i++) {
        if ((i + (int)index) % 2 == 0) {
            zh__lock_acquire(&counter_lock);
            counter++;
            zh__lock_release(&counter_lock);
        } else {
            while (!zh__lock_try_acquire(&counter_lock)) zh__os_yield();
            counter++;
            zh__lock_release(&counter_lock);
        }
    }
}

static void count_under_mutex(size_t index) {
    (void)index;
    for (int i = 0; i < ROUNDS; i++) {
        while (!zh__mutex_try_lock(&counter_mutex)) zh__os_yield();
        counter++;
        zh__mutex_unlock(&counter_mutex);
    }
}

static void test_platform_locks(void) {
    check(sizeof(zh__lock) <= sizeof(void *), "zh__lock is one word (%zu bytes)", sizeof(zh__lock));
    zh__lock l = ZH__LOCK_INIT;
    check(zh__lock_try_acquire(&l) && !zh__lock_try_acquire(&l), "try-lock takes a free lock, refuses a held one");
    zh__lock_release(&l);
    check(zh__lock_try_acquire(&l), "released lock can be taken again");
    zh__lock_release(&l);

    counter = 0;
    run_threads(count_under_locks);
    check(counter == (size_t)THREADS * ROUNDS, "zh__lock excludes across %d threads (%zu)", THREADS, counter);

    zh__mutex_init(&counter_mutex);
    zh__mutex_lock(&counter_mutex);
    check(!zh__mutex_try_lock(&counter_mutex) || !has(ZH__OS_HAS_THREADS),
          "zh__mutex_try_lock refuses a held mutex");
    zh__mutex_unlock(&counter_mutex);
    counter = 0;
    run_threads(count_under_mutex);
    check(counter == (size_t)THREADS * ROUNDS, "zh_mutex try-lock excludes across %d threads", THREADS);
    zh__mutex_destroy(&counter_mutex);
}

/* ---- once ----------------------------------------------------------------------------------- */

static zh__once contended_once = ZH__ONCE_INIT;
static _Atomic(int) once_runs, once_seen_done;
static _Atomic(int) once_value;

static void slow_init(void *arg) {
    zh__atomic_add_relaxed(&once_runs, 1);
    for (int i = 0; i < 2000; i++) zh__os_yield(); /* others arrive while it runs */
    zh__atomic_store_relaxed(&once_value, *(int *)arg);
}

static int once_arg = 42;
static void call_once(size_t index) {
    (void)index;
    zh__os_once(&contended_once, slow_init, &once_arg);
    if (zh__atomic_load_relaxed(&once_value) == 42) zh__atomic_add_relaxed(&once_seen_done, 1);
}

static void test_platform_once(void) {
    run_threads(call_once);
    zh__os_once(&contended_once, slow_init, &once_arg);
    check(zh__atomic_load_relaxed(&once_runs) == 1, "once ran once for %d threads", THREADS);
    check(zh__atomic_load_relaxed(&once_seen_done) == THREADS, "every caller returned after init finished");
}

/* ---- thread-local keys ------------------------------------------------------------------------ */

static zh__tls_key key;
static _Atomic(int) destructor_calls;
static _Atomic(size_t) destructor_sum;
static _Atomic(int) tls_ok;

static void destructor(void *value) {
    zh__atomic_add_relaxed(&destructor_calls, 1);
    zh__atomic_add_relaxed(&destructor_sum, (size_t)(uintptr_t)value);
}

static void use_tls(size_t index) {
    void *mine = (void *)(uintptr_t)(index + 1);
    bool ok = (!SEAM_THREADS || zh__tls_get(key) == NULL) && zh__tls_set(key, mine) &&
              zh__tls_get(key) == mine;
    if (!SEAM_THREADS) ok = ok && zh__tls_set(key, NULL); /* same thread every time */
    if (ok) zh__atomic_add_relaxed(&tls_ok, 1);
}

static void test_platform_tls(void) {
    if (!check(zh__tls_key_create(&key, destructor), "thread-local key created")) return;
    run_threads(use_tls);
    check(zh__atomic_load_relaxed(&tls_ok) == THREADS, "each thread sees only its own value");
    if (has(ZH__OS_HAS_THREAD_EXIT)) {
        check(zh__atomic_load_relaxed(&destructor_calls) == THREADS &&
                  zh__atomic_load_relaxed(&destructor_sum) == (size_t)THREADS * (THREADS + 1) / 2,
              "the destructor ran at each thread's exit with its value (%d calls)",
              zh__atomic_load_relaxed(&destructor_calls));
    } else {
        check(zh__atomic_load_relaxed(&destructor_calls) == 0, "no thread exit: destructor never ran");
    }
    zh__tls_key_delete(key);
}

/* ---- fork ---------------------------------------------------------------------------------------- */

static _Atomic(int) in_prepare, in_parent, in_child;
static void on_prepare(void) { zh__atomic_add_relaxed(&in_prepare, 1); }
static void on_parent(void) { zh__atomic_add_relaxed(&in_parent, 1); }
static void on_child(void) { zh__atomic_add_relaxed(&in_child, 1); }

static void test_platform_fork(void) {
    bool registered = zh__os_atfork(on_prepare, on_parent, on_child);
    if (!has(ZH__OS_HAS_FORK)) {
        check(!registered, "no fork on this backend: zh__os_atfork declines");
        return;
    }
    check(registered, "atfork handlers registered");
#if SEAM_FORK
    pid_t pid = fork();
    if (pid == 0) _exit(zh__atomic_load_relaxed(&in_child) == 1 ? 0 : 1);
    int status = 1;
    bool waited = pid > 0 && waitpid(pid, &status, 0) == pid;
    check(waited && WIFEXITED(status) && WEXITSTATUS(status) == 0, "child handler ran in the child");
    check(zh__atomic_load_relaxed(&in_prepare) == 1 && zh__atomic_load_relaxed(&in_parent) == 1 &&
              zh__atomic_load_relaxed(&in_child) == 0,
          "prepare and parent handlers ran in the parent, child handler did not");
#endif
}

/* ---- facts and diagnostics --------------------------------------------------------------------- */

static uint64_t thread_ids[THREADS];
static void record_id(size_t index) { thread_ids[index] = zh__os_thread_id(); }

static void test_platform_facts(void) {
    unsigned cpus = zh__os_cpu_count();
    check(cpus >= 1 && (has(ZH__OS_HAS_THREADS) || cpus == 1), "cpu count %u", cpus);
    size_t line = zh__os_cache_line();
    check(line >= 16 && line <= 1024 && zh__is_pow2(line), "cache line %zu bytes", line);
    run_threads(record_id);
    bool distinct = true;
    for (size_t i = 0; i < THREADS && SEAM_THREADS; i++)
        for (size_t j = 0; j < i; j++) distinct = distinct && thread_ids[i] != thread_ids[j];
    check(distinct, "thread ids are distinct among live threads");
}

static void test_platform_diagnostics(void) {
    static const char line[] = "seam_main: this line was written by zh__os_write_stderr\n";
    zh__os_write_stderr(line, sizeof line - 1);
    const char *provider = zh__os_stack_provider();
    uintptr_t frames[4];
    size_t n = zh__os_stack_capture(ZH__STACK_DEFAULT, 0, frames, 4);
    if (zh__os_stack_caps() & ZH__OS_HAS_STACK_CAPTURE)
        check(n >= 1, "stack provider %s captured %zu frames", provider, n);
    else
        check(n == 0 && strcmp(provider, "none") == 0, "no stack provider: capture returns nothing");
}

static void test_platform_fault_injection(void) {
    size_t page = zh__os_info_get()->page_size;
    zh__os_test_fail_after(ZH__OS_FAULT_MAP, 1);
    void *a = zh__os_map(page, 1, NULL);
    void *b = zh__os_map(page, 1, NULL);
    zh__os_test_fail_after(0, SIZE_MAX);
    void *c = zh__os_map(page, 1, NULL);
    check(a != NULL && b == NULL && c != NULL, "fault injection fails the armed map, then disarms");
    if (a) zh__os_unmap(a, page);
    if (c) zh__os_unmap(c, page);
}

int main(void) {
    printf("zheap seam on backend %s (threads %s, thread exit %s, fork %s, stacks %s)\n",
           zh__os_info_get()->name, has(ZH__OS_HAS_THREADS) ? "yes" : "no",
           has(ZH__OS_HAS_THREAD_EXIT) ? "yes" : "no", has(ZH__OS_HAS_FORK) ? "yes" : "no",
           zh__os_stack_provider());
    test_platform_locks();
    test_platform_once();
    test_platform_tls();
    test_platform_fork();
    test_platform_facts();
    test_platform_diagnostics();
    test_platform_fault_injection();
    return plain_check_finish();
}
