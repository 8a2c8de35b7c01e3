/* test_platform_threads.c - the thread and diagnostic sections of the platform
 * contract (src/platform/platform.h) on this build's backend: locks exclude each
 * other and try-lock never blocks, once runs once under contention, thread-local
 * destructors run at thread exit, fork hooks run in the child, the facts are sane,
 * and a panic reaches stderr through the seam. */
#define _DEFAULT_SOURCE /* usleep */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_support.h"

#include "common.h"
#include "platform/platform.h"

enum { THREADS = 8, ROUNDS = 20000 };

static bool has(unsigned cap) { return (zh__os_info_get()->caps & cap) != 0; }

/* ---- locks ---------------------------------------------------------------------------- */

/* A plain (non-atomic) counter that only stays exact if the lock excludes. */
static zh__lock counter_lock = ZH__LOCK_INIT;
static size_t counter;

static void lock_thread(void *arg, size_t index) {
    (void)arg;
    (void)index;
    for (int i = 0; i < ROUNDS; i++) {
        zh__lock_acquire(&counter_lock);
        counter++;
        zh__lock_release(&counter_lock);
    }
}

static void test_platform_lock_excludes(void **state) {
    (void)state;
    assert_true(sizeof(zh__lock) <= sizeof(void *)); /* one per thread slot */
    counter = 0;
    zht_run_threads(THREADS, lock_thread, NULL);
    assert_int_equal(counter, (size_t)THREADS * ROUNDS);
}

static void test_platform_lock_try(void **state) {
    (void)state;
    zh__lock l = ZH__LOCK_INIT;
    assert_true(zh__lock_try_acquire(&l));
    assert_false(zh__lock_try_acquire(&l)); /* held: refused, not blocked */
    zh__lock_release(&l);
    assert_true(zh__lock_try_acquire(&l));
    zh__lock_release(&l);
}

static zh_mutex shared_mutex;
static void mutex_thread(void *arg, size_t index) {
    (void)arg;
    (void)index;
    for (int i = 0; i < ROUNDS; i++) {
        if (i % 2 == 0) {
            zh__mutex_lock(&shared_mutex);
        } else {
            while (!zh__mutex_try_lock(&shared_mutex)) zh__os_yield();
        }
        counter++;
        zh__mutex_unlock(&shared_mutex);
    }
}

static void test_platform_mutex_try_lock(void **state) {
    (void)state;
    zh__mutex_init(&shared_mutex);
    zh__mutex_lock(&shared_mutex);
    assert_false(zh__mutex_try_lock(&shared_mutex));
    zh__mutex_unlock(&shared_mutex);
    counter = 0;
    zht_run_threads(THREADS, mutex_thread, NULL);
    assert_int_equal(counter, (size_t)THREADS * ROUNDS);
    zh__mutex_destroy(&shared_mutex);
}

/* ---- once ------------------------------------------------------------------------------ */

static zh__once contended_once = ZH__ONCE_INIT;
static atomic_int once_runs;
static atomic_int once_value_seen;
static int once_value;

static void slow_init(void *arg) {
    atomic_fetch_add(&once_runs, 1);
    usleep(20000); /* keep the others waiting while it runs */
    once_value = *(int *)arg;
}

static void once_thread(void *arg, size_t index) {
    (void)index;
    zh__os_once(&contended_once, slow_init, arg);
    if (once_value == 42) atomic_fetch_add(&once_value_seen, 1); /* init finished first */
}

static void test_platform_once_runs_once(void **state) {
    (void)state;
    int value = 42;
    zht_run_threads(THREADS, once_thread, &value);
    assert_int_equal(atomic_load(&once_runs), 1);
    assert_int_equal(atomic_load(&once_value_seen), THREADS);
    zh__os_once(&contended_once, slow_init, &value); /* already done: no second run */
    assert_int_equal(atomic_load(&once_runs), 1);
}

/* ---- thread-local keys ------------------------------------------------------------------- */

static zh__tls_key exit_key;
static atomic_int destructor_calls;
static atomic_size_t destructor_sum;

static void count_destructor(void *value) {
    atomic_fetch_add(&destructor_calls, 1);
    atomic_fetch_add(&destructor_sum, (size_t)(uintptr_t)value);
}

static void tls_thread(void *arg, size_t index) {
    (void)arg;
    assert_null(zh__tls_get(exit_key)); /* NULL in every new thread */
    assert_true(zh__tls_set(exit_key, (void *)(uintptr_t)(index + 1)));
    assert_ptr_equal(zh__tls_get(exit_key), (void *)(uintptr_t)(index + 1));
}

static void test_platform_tls_destructor_at_exit(void **state) {
    (void)state;
    assert_true(has(ZH__OS_HAS_THREAD_EXIT));
    assert_true(zh__tls_key_create(&exit_key, count_destructor));
    zht_run_threads(THREADS, tls_thread, NULL);
    /* One call per exited thread, each with that thread's own value. */
    assert_int_equal(atomic_load(&destructor_calls), THREADS);
    assert_int_equal(atomic_load(&destructor_sum), (size_t)THREADS * (THREADS + 1) / 2);
    assert_null(zh__tls_get(exit_key)); /* the main thread never set it */
    zh__tls_key_delete(exit_key);
}

/* ---- fork ---------------------------------------------------------------------------------- */

static atomic_int prepared, in_parent, in_child;
static void on_prepare(void) { atomic_fetch_add(&prepared, 1); }
static void on_parent(void) { atomic_fetch_add(&in_parent, 1); }
static void on_child(void) { atomic_fetch_add(&in_child, 1); }

static void test_platform_atfork_handlers_run(void **state) {
    (void)state;
    assert_true(has(ZH__OS_HAS_FORK));
    assert_true(zh__os_atfork(on_prepare, on_parent, on_child));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(atomic_load(&in_child) == 1 && atomic_load(&prepared) == 1 ? 0 : 1);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0); /* the child saw its handler */
    assert_int_equal(atomic_load(&prepared), 1);
    assert_int_equal(atomic_load(&in_parent), 1);
    assert_int_equal(atomic_load(&in_child), 0); /* not in the parent */
}

/* ---- facts ---------------------------------------------------------------------------------- */

static uint64_t thread_ids[THREADS];
static void id_thread(void *arg, size_t index) {
    (void)arg;
    thread_ids[index] = zh__os_thread_id();
}

static void test_platform_facts(void **state) {
    (void)state;
    unsigned cpus = zh__os_cpu_count();
    assert_true(cpus >= 1);
    assert_int_equal(cpus, zh__os_cpu_count());
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online > 0) assert_true(cpus <= (unsigned)online);
    size_t line = zh__os_cache_line();
    assert_true(line >= 16 && zh__is_pow2(line));
    assert_true(ZH__CACHE_LINE >= line || ZH__CACHE_LINE >= 64);
    zht_run_threads(THREADS, id_thread, NULL);
    uint64_t self = zh__os_thread_id();
    for (size_t i = 0; i < THREADS; i++) {
        assert_true(thread_ids[i] != 0 && thread_ids[i] != self);
        for (size_t j = 0; j < i; j++) assert_true(thread_ids[i] != thread_ids[j]);
    }
}

/* ---- diagnostics ----------------------------------------------------------------------------- */

static void panic_through_seam(void *arg) {
    (void)arg;
    zh__panic("zh_test_call", "planted violation %d", 7);
}

static void write_then_abort(void *arg) {
    const char *text = arg;
    zh__os_write_stderr(text, strlen(text));
    zh__os_abort();
}

static void test_platform_diagnostics(void **state) {
    (void)state;
    zht_expect_abort(write_then_abort, "written without stdio", "written without stdio");
    zht_expect_abort(panic_through_seam, NULL, "zheap: zh_test_call: planted violation 7");
}

static void test_platform_stack_provider(void **state) {
    (void)state;
    const char *name = zh__os_stack_provider();
    assert_non_null(name);
    uintptr_t frames[8];
    size_t n = zh__os_stack_capture(ZH__STACK_DEFAULT, 0, frames, 8);
    if (zh__os_stack_caps() & ZH__OS_HAS_STACK_CAPTURE) {
        assert_true(n >= 1);
    } else {
        assert_int_equal(n, 0);
        assert_string_equal(name, "none");
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_platform_lock_excludes),
        cmocka_unit_test(test_platform_lock_try),
        cmocka_unit_test(test_platform_mutex_try_lock),
        cmocka_unit_test(test_platform_once_runs_once),
        cmocka_unit_test(test_platform_tls_destructor_at_exit),
        cmocka_unit_test(test_platform_atfork_handlers_run),
        cmocka_unit_test(test_platform_facts),
        cmocka_unit_test(test_platform_diagnostics),
        cmocka_unit_test(test_platform_stack_provider),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
