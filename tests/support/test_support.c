/* test_support.c - see test_support.h. POSIX: fork, pipes and pthreads. */
#define _POSIX_C_SOURCE 200809L
#include "test_support.h"

#include "zheap/arena.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void zht_expect_abort(void (*fn)(void *arg), void *arg, const char *expected) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        fn(arg);
        _exit(0); /* no abort: the parent reports it */
    }
    close(fds[1]);
    char buf[4096];
    size_t used = 0;
    ssize_t n;
    while ((n = read(fds[0], buf + used, sizeof buf - 1 - used)) > 0) used += (size_t)n;
    buf[used] = '\0';
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
        fail_msg("expected an abort mentioning '%s'; child status %d, stderr: %s", expected,
                 status, buf);
    if (strstr(buf, expected) == NULL)
        fail_msg("abort message lacks '%s': %s", expected, buf);
}

struct thread_start {
    void (*fn)(void *, size_t);
    void *arg;
    size_t index;
};

static void *thread_main(void *p) {
    struct thread_start *s = p;
    s->fn(s->arg, s->index);
    return NULL;
}

void zht_run_threads(size_t n, void (*fn)(void *arg, size_t index), void *arg) {
    pthread_t *threads = calloc(n, sizeof *threads);
    struct thread_start *starts = calloc(n, sizeof *starts);
    assert_non_null(threads);
    assert_non_null(starts);
    for (size_t i = 0; i < n; i++) {
        starts[i] = (struct thread_start){fn, arg, i};
        assert_int_equal(pthread_create(&threads[i], NULL, thread_main, &starts[i]), 0);
    }
    for (size_t i = 0; i < n; i++) assert_int_equal(pthread_join(threads[i], NULL), 0);
    free(starts);
    free(threads);
}

size_t zht_oom_sweep(zh_allocator backing, bool (*scenario)(zh_allocator a, void *ctx),
                     void *ctx) {
    for (size_t fail_index = 0;; fail_index++) {
        zh_failing f;
        zh_failing_init(&f, backing, fail_index);
        bool completed = scenario(zh_failing_allocator(&f), ctx);
        if (f.allocated_bytes != f.freed_bytes || f.allocations != f.deallocations)
            fail_msg("fail_index %zu: leaked %zu bytes in %zu blocks", fail_index,
                     f.allocated_bytes - f.freed_bytes, f.allocations - f.deallocations);
        if (!f.has_induced_failure) {
            assert_true(completed);
            return fail_index;
        }
        if (completed)
            fail_msg("fail_index %zu: an allocation failed but the scenario reported success",
                     fail_index);
        assert_true(fail_index < 1000000);
    }
}

void zht_assert_test_case(size_t i, zh_allocator a) {
    assert_true(i < ZH_TEST_SUITE_LEN);
    int rc = zh_test_suite[i].run(a);
    if (rc != 0) fail_msg("%s returned %d", zh_test_suite[i].name, rc);
}

void zht_assert_conformance(zh_allocator a) {
    for (size_t i = 0; i < ZH_TEST_SUITE_LEN; i++) zht_assert_test_case(i, a);
}

static void *recorder_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    zht_recorder *r = ctx;
    r->allocs++;
    r->last_ret_addr = ret_addr;
    return r->child.vtable->alloc(r->child.ctx, len, align, ret_addr);
}

static bool recorder_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                            uintptr_t ret_addr) {
    zht_recorder *r = ctx;
    r->resizes++;
    r->last_ret_addr = ret_addr;
    return r->child.vtable->resize(r->child.ctx, mem, len, align, new_len, ret_addr);
}

static void *recorder_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                            uintptr_t ret_addr) {
    zht_recorder *r = ctx;
    r->remaps++;
    r->last_ret_addr = ret_addr;
    return r->child.vtable->remap(r->child.ctx, mem, len, align, new_len, ret_addr);
}

static void recorder_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    zht_recorder *r = ctx;
    r->frees++;
    r->last_ret_addr = ret_addr;
    r->child.vtable->free(r->child.ctx, mem, len, align, ret_addr);
}

static const zh_allocator_vtable recorder_vtable = {recorder_alloc, recorder_resize,
                                                    recorder_remap, recorder_free};

zh_allocator zht_recorder_init(zht_recorder *r, zh_allocator child) {
    *r = (zht_recorder){.child = child};
    return (zh_allocator){r, &recorder_vtable};
}

size_t zht_recorder_calls(const zht_recorder *r) {
    return r->allocs + r->resizes + r->remaps + r->frees;
}

ZHT_NOINLINE uintptr_t zht_here(void) {
    return (uintptr_t)__builtin_extract_return_addr(__builtin_return_address(0));
}

/* Room past the last zht_here() for the code after it: the epilogue and an
 * unlikely branch (an inline fast path's slow call) placed after the body. */
#define RET_ADDR_SLACK 512

void zht_assert_ret_addr_in(uintptr_t addr, uintptr_t start, uintptr_t end, const char *what) {
    if (addr < start || addr > end + RET_ADDR_SLACK)
        fail_msg("%s: the child saw return address %#jx, outside the calling function "
                 "[%#jx, %#jx + %d]",
                 what, (uintmax_t)addr, (uintmax_t)start, (uintmax_t)end, RET_ADDR_SLACK);
}

size_t zht_arena_growth_call_bound(size_t bytes) {
    return 2 * (zh__ceil_log2(bytes / ZH_ARENA_FIRST_BUFFER_SIZE) + 2);
}

void zht_counting_init(zh_failing *f, zh_allocator child) { zh_failing_init(f, child, SIZE_MAX); }

void zht_assert_balanced(const zh_failing *f) {
    assert_int_equal(f->allocated_bytes, f->freed_bytes);
    assert_int_equal(f->allocations, f->deallocations);
}
