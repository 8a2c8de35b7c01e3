/* no_exceptions.cpp - zheap.hpp built with -fno-exceptions -fno-rtti.
 *
 * Without arguments: the adaptors work, and memory_resource equality falls back to
 * identity (no dynamic_cast without RTTI). With "oom": an allocation from a failing
 * allocator must call std::abort (there is no std::bad_alloc to throw); a SIGABRT
 * handler turns that into exit status 0, and returning from the allocation is a
 * failure (exit status 1). */
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory_resource>
#include <vector>

#include "zheap/zheap.hpp"

extern "C" void aborted_as_expected(int) { std::_Exit(0); }

int main(int argc, char **argv) {
    if (argc > 1 && std::strcmp(argv[1], "oom") == 0) {
        std::signal(SIGABRT, aborted_as_expected);
        zh_failing refuse;
        zh_failing_init(&refuse, zh_c_allocator, 0);
        std::vector<int, zheap::allocator<int>> v(zh_failing_allocator(&refuse));
        v.push_back(1);
        std::puts("FAIL: out of memory returned instead of aborting");
        return 1;
    }
    int failures = 0;
    zheap::memory_resource a(zh_c_allocator);
    zheap::memory_resource b(zh_c_allocator);
    if (!(a == a) || a == b) {
        std::puts("FAIL: without RTTI a resource equals exactly itself");
        failures++;
    }
    std::pmr::vector<int> v(&a);
    std::vector<int, zheap::allocator<int>> w(zh_c_allocator);
    for (int i = 0; i < 1000; i++) {
        v.push_back(i);
        w.push_back(i);
    }
    if (v[999] != 999 || w[999] != 999) {
        std::puts("FAIL: containers");
        failures++;
    }
    std::printf("%d failure(s)\n", failures);
    return failures == 0 ? 0 : 1;
}
