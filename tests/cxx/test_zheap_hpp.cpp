/* test_zheap_hpp.cpp - zheap.hpp with the standard containers (C++17).
 *
 * Every zh_allocator under test is seen through a zh_failing wrapper that never fails
 * (fail_index SIZE_MAX) and counts: after each scenario, allocations == deallocations
 * and allocated_bytes == freed_bytes prove that every block went back with the size
 * it was allocated with (sized free). The same wrapper with a small fail_index makes
 * allocation number N fail: the containers must throw std::bad_alloc and leak
 * nothing (the counters, and ASan's leak checker in the asan preset). */
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <list>
#include <map>
#include <memory_resource>
#include <new>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "zheap/zheap.hpp"

/* Huge requests must come back as NULL (then bad_alloc) rather than as a sanitizer
 * report. */
extern "C" const char *__asan_default_options();
extern "C" const char *__asan_default_options() { return "allocator_may_return_null=1"; }

namespace {

int failures;

void check(bool ok, const char *what, int line) {
    std::printf("%s %s (line %d)\n", ok ? "ok  " : "FAIL", what, line);
    if (!ok) failures++;
}
#define CHECK(cond) check((cond), #cond, __LINE__)

bool aligned(const void *p, std::size_t alignment) {
    return (reinterpret_cast<std::uintptr_t>(p) & (alignment - 1)) == 0;
}

/* A counting (never failing) view of `child`. */
struct counted {
    zh_failing f;
    explicit counted(zh_allocator child, std::size_t fail_index = SIZE_MAX) {
        zh_failing_init(&f, child, fail_index);
    }
    zh_allocator get() { return zh_failing_allocator(&f); }
    bool balanced() const {
        return f.allocations == f.deallocations && f.allocated_bytes == f.freed_bytes;
    }
};

using pmr_string = std::pmr::string;
const char *const long_text = "a string far too long for the small-string buffer";

std::string numbered(int i) { return std::string(long_text) + std::to_string(i); }
bool same(const pmr_string &a, const std::string &b) { return std::string_view(a) == b; }

/* The pmr containers on `res`. */
void exercise_pmr(std::pmr::memory_resource *res) {
    std::pmr::vector<int> v(res);
    for (int i = 0; i < 5000; i++) v.push_back(i);
    long sum = 0;
    for (int x : v) sum += x;
    CHECK(sum == 5000L * 4999 / 2);

    std::pmr::vector<pmr_string> strings(res);
    for (int i = 0; i < 200; i++) strings.emplace_back(numbered(i));
    CHECK(same(strings[123], numbered(123)));
    CHECK(strings.get_allocator().resource() == res);
    CHECK(strings[5].get_allocator().resource() == res); /* uses-allocator construction */

    std::pmr::unordered_map<int, pmr_string> map(res);
    for (int i = 0; i < 1000; i++) map.emplace(i, long_text);
    for (int i = 0; i < 1000; i += 2) map.erase(i);
    CHECK(map.size() == 500 && map.at(999) == long_text && map.count(998) == 0);

    std::pmr::map<pmr_string, int> ordered(res);
    for (int i = 0; i < 300; i++) ordered[pmr_string(numbered(i))] = i;
    CHECK(ordered.size() == 300 && ordered.begin()->second == 0);

    std::pmr::list<double> list(res);
    for (int i = 0; i < 100; i++) list.push_front(i);
    CHECK(list.front() == 99.0);
}

/* ---- zheap::memory_resource --------------------------------------------------------- */

void test_resource_on_arena() {
    zh_arena arena;
    zh_arena_init(&arena, zh_page_allocator);
    counted counter(zh_arena_allocator(&arena));
    {
        zheap::memory_resource res(counter.get());
        exercise_pmr(&res);
    }
    CHECK(counter.f.allocations > 1000);
    CHECK(counter.balanced());
    CHECK(zh_arena_query_capacity(&arena) > 0); /* the memory came from the arena */
    zh_arena_deinit(&arena);
}

void test_resource_on_c_allocator() {
    counted counter(zh_c_allocator);
    {
        zheap::memory_resource res(counter.get());
        exercise_pmr(&res);
    }
    CHECK(counter.f.allocations > 1000);
    CHECK(counter.balanced());
}

void test_resource_alignment_and_zero_size() {
    counted counter(zh_c_allocator);
    zheap::memory_resource res(counter.get());
    for (std::size_t alignment = 1; alignment <= 8192; alignment *= 2) {
        void *p = res.allocate(24, alignment);
        CHECK(p != nullptr && aligned(p, alignment));
        std::memset(p, 0x5a, 24);
        res.deallocate(p, 24, alignment);
    }
    void *z = res.allocate(0, 64); /* zheap's zero-length pointer: never reaches the vtable */
    CHECK(z != nullptr && aligned(z, 64));
    res.deallocate(z, 0, 64);
    CHECK(counter.f.allocations == 14);
    CHECK(counter.balanced());

    bool threw = false;
    try {
        (void)res.allocate(8, std::size_t(1) << (ZH_ALIGN_LOG2_MAX + 1));
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw); /* an alignment beyond the interface: out of memory, not an abort */
    threw = false;
    try {
        (void)res.allocate(SIZE_MAX / 2, 16); /* malloc refuses */
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw);
    CHECK(counter.balanced());
}

void test_resource_equality() {
    zh_arena arena;
    zh_arena_init(&arena, zh_page_allocator);
    zheap::memory_resource a(zh_arena_allocator(&arena));
    zheap::memory_resource b(zh_arena_allocator(&arena));
    zheap::memory_resource c(zh_c_allocator);
    zheap::memory_resource copy(c);
    CHECK(a == b && a.is_equal(b));
    CHECK(!(a == c));
    CHECK(copy == c && copy.underlying().vtable == zh_c_allocator.vtable);
    CHECK(!(c == *std::pmr::new_delete_resource()));
    zheap::pool_resource pool(zh_c_allocator, zh_pool_options{32, 0, true});
    CHECK(pool == pool && !(pool == c) && !(c == pool));
    /* Equal resources free each other's blocks. */
    void *p = a.allocate(100, 8);
    b.deallocate(p, 100, 8);
    zh_arena_deinit(&arena);
}

/* ---- zheap::pool_resource ------------------------------------------------------------- */

void test_pool_resource() {
    counted backing(zh_c_allocator);
    counted upstream_counter(zh_c_allocator);
    {
        zheap::memory_resource upstream(upstream_counter.get());
        zheap::pool_resource pool(backing.get(), zh_pool_options{64, 0, true}, &upstream);
        CHECK(pool.item_size() == 64 && pool.item_align() == ZH_MALLOC_ALIGNMENT);
        CHECK(pool.upstream() == &upstream);
        {
            std::pmr::map<int, int> nodes(&pool); /* only nodes: all from the pool */
            for (int i = 0; i < 2000; i++) nodes[i] = i;
            for (int i = 0; i < 2000; i += 3) nodes.erase(i);
            for (int i = 0; i < 2000; i += 3) nodes[i] = -i; /* reuses freed items */
            CHECK(nodes.size() == 2000 && nodes[3] == -3 && nodes[4] == 4);
        }
        CHECK(upstream_counter.f.allocations == 0);
        CHECK(backing.f.allocations > 0);
        {
            std::pmr::unordered_map<int, int> hashed(&pool); /* nodes pooled, buckets not */
            for (int i = 0; i < 1000; i++) hashed[i] = i;
            CHECK(hashed.size() == 1000 && hashed[500] == 500);
            std::pmr::vector<char> big(&pool);
            big.resize(100000, 'x');
            CHECK(big[99999] == 'x');
        }
        CHECK(upstream_counter.f.allocations > 0);
        CHECK(upstream_counter.balanced());
        CHECK(pool.fits(64, 16) && !pool.fits(65, 8) && !pool.fits(8, 32));
        void *z = pool.allocate(0, 1);
        CHECK(z != nullptr);
        pool.deallocate(z, 0, 1);
    }
    CHECK(backing.balanced()); /* the destructor gave the pool's memory back */

    /* Other sizes default to the backing allocator itself. */
    counted only(zh_c_allocator);
    {
        zheap::pool_resource pool(only.get(), zh_pool_options{16, 0, true});
        std::pmr::vector<int> v(&pool);
        v.assign(1000, 1);
        CHECK(only.f.allocations > 0 && pool.upstream() != nullptr);
    }
    CHECK(only.balanced());
}

void test_fixed_pool_resource() {
    zheap::pool_resource pool(zh_c_allocator, zh_pool_options{32, 0, false});
    CHECK(pool.preheat(4));
    void *items[4];
    for (void *&item : items) item = pool.allocate(32, 8);
    bool threw = false;
    try {
        (void)pool.allocate(32, 8);
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw); /* every preheated item in use */
    pool.deallocate(items[2], 32, 8);
    CHECK(pool.allocate(32, 8) == items[2]);
    for (void *item : items) pool.deallocate(item, 32, 8);
}

/* ---- zheap::allocator<T> --------------------------------------------------------------- */

struct alignas(64) cache_line {
    unsigned char bytes[64];
};

template <class T>
using zvector = std::vector<T, zheap::allocator<T>>;
using zstring = std::basic_string<char, std::char_traits<char>, zheap::allocator<char>>;
template <class K, class V>
using zmap = std::map<K, V, std::less<K>, zheap::allocator<std::pair<const K, V>>>;

void exercise_allocator(zh_allocator a) {
    zvector<int> v(a);
    for (int i = 0; i < 5000; i++) v.push_back(i);
    CHECK(v.size() == 5000 && v.back() == 4999);

    zvector<cache_line> lines(a);
    lines.resize(33);
    CHECK(aligned(lines.data(), 64));

    zmap<int, zstring> m(a);
    for (int i = 0; i < 500; i++) m.emplace(i, zstring(long_text, zheap::allocator<char>(a)));
    CHECK(m.size() == 500 && m.at(42) == long_text);

    std::list<long, zheap::allocator<long>> list(a);
    for (long i = 0; i < 100; i++) list.push_back(i);
    CHECK(list.back() == 99);

    zvector<zvector<int>> nested(a);
    nested.emplace_back(10, 3, a);
    CHECK(nested[0][9] == 3);
}

void test_allocator_containers() {
    zh_arena arena;
    zh_arena_init(&arena, zh_page_allocator);
    counted on_arena(zh_arena_allocator(&arena));
    exercise_allocator(on_arena.get());
    CHECK(on_arena.f.allocations > 100 && on_arena.balanced());
    zh_arena_deinit(&arena);

    counted on_c(zh_c_allocator);
    exercise_allocator(on_c.get());
    CHECK(on_c.f.allocations > 100 && on_c.balanced());
}

void test_allocator_semantics() {
    zh_arena arena;
    zh_arena_init(&arena, zh_page_allocator);
    zheap::allocator<int> ints(zh_arena_allocator(&arena));
    zheap::allocator<double> doubles(ints); /* rebind-converting */
    zheap::allocator<int> other(zh_c_allocator);
    CHECK(ints == doubles && !(ints != doubles));
    CHECK(ints != other);
    CHECK(doubles.underlying().ctx == &arena);
    using traits = std::allocator_traits<zheap::allocator<int>>;
    static_assert(std::is_same<traits::rebind_alloc<char>, zheap::allocator<char>>::value, "");
    static_assert(!traits::propagate_on_container_copy_assignment::value, "");
    static_assert(!traits::propagate_on_container_move_assignment::value, "");
    static_assert(!traits::is_always_equal::value, "");

    {
        /* Assignment keeps each container's allocator (no propagation). */
        zvector<int> a(ints), b(other);
        b.assign(10, 5);
        a = b;
        CHECK(a.get_allocator() == ints && a.size() == 10 && a[9] == 5);
        a = std::move(b);
        CHECK(a.get_allocator() == ints && a.size() == 10);
        zvector<int> copy(a); /* copy construction: the same allocator */
        CHECK(copy.get_allocator() == ints);
    }

    int *zero = ints.allocate(0);
    CHECK(zero != nullptr);
    ints.deallocate(zero, 0);
    bool threw = false;
    try {
        (void)other.allocate(SIZE_MAX / 2);
    } catch (const std::bad_array_new_length &) {
        threw = true;
    }
    CHECK(threw); /* n * sizeof(int) overflows */
    zh_arena_deinit(&arena);
}

/* ---- out of memory at every allocation point ------------------------------------------ */

template <class Scenario>
void sweep_failures(const char *name, Scenario scenario) {
    std::size_t points = 0;
    bool all_balanced = true, all_threw = true;
    for (std::size_t fail_index = 0;; fail_index++) {
        counted failing(zh_c_allocator, fail_index);
        bool threw = false;
        try {
            scenario(failing.get());
        } catch (const std::bad_alloc &) {
            threw = true;
        }
        if (!failing.balanced()) all_balanced = false;
        if (!failing.f.has_induced_failure) break; /* ran to completion */
        if (!threw) all_threw = false;
        points++;
    }
    std::printf("     %s: %zu allocation points failed in turn\n", name, points);
    CHECK(points > 10);
    CHECK(all_threw);
    CHECK(all_balanced);
}

void test_failing_allocator() {
    sweep_failures("memory_resource", [](zh_allocator a) {
        zheap::memory_resource res(a);
        std::pmr::vector<pmr_string> strings(&res);
        std::pmr::unordered_map<int, pmr_string> map(&res);
        for (int i = 0; i < 20; i++) {
            strings.emplace_back(long_text);
            map.emplace(i, long_text);
        }
    });
    sweep_failures("pool_resource", [](zh_allocator a) {
        zheap::pool_resource pool(a, zh_pool_options{64, 0, true});
        std::pmr::map<int, pmr_string> m(&pool);
        for (int i = 0; i < 300; i++) m.emplace(i, long_text);
    });
    sweep_failures("allocator<T>", [](zh_allocator a) {
        zmap<int, zvector<int>> m(a);
        for (int i = 0; i < 20; i++) m.emplace(i, zvector<int>(100, i, a));
    });
}

} // namespace

int main() {
    test_resource_on_arena();
    test_resource_on_c_allocator();
    test_resource_alignment_and_zero_size();
    test_resource_equality();
    test_pool_resource();
    test_fixed_pool_resource();
    test_allocator_containers();
    test_allocator_semantics();
    test_failing_allocator();
    std::printf("%d failure(s)\n", failures);
    return failures == 0 ? 0 : 1;
}
