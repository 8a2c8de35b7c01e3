/* public_api.cpp - public_api.inc as C++ (built as C++11, C++17 and C++20), plus the
 * parts of zheap.hpp that the standard in use provides. */
#include "public_api.inc"

#include <vector>

#include "zheap/zheap.hpp"

/* zheap::allocator<T> is C++11; the pmr resources need C++17. */
static void api_zheap_hpp() {
    zh_arena arena;
    zh_arena_init(&arena, zh_c_allocator);
    {
        std::vector<api_point, zheap::allocator<api_point>> v(zh_arena_allocator(&arena));
        for (int i = 0; i < 100; i++) v.push_back(api_point{double(i), 0.0});
        API_CHECK(v.size() == 100 && v[99].x == 99.0);
        zheap::allocator<int> ints(v.get_allocator());
        API_CHECK(ints == v.get_allocator());
    }
#if ZH_HAVE_PMR
    {
        zheap::memory_resource res(zh_arena_allocator(&arena));
        std::pmr::vector<int> v(&res);
        v.assign(1000, 7);
        API_CHECK(v.size() == 1000 && v[999] == 7);
        zheap::pool_resource pool(zh_c_allocator, ZH_POOL_OPTIONS(api_point));
        API_CHECK(pool.fits(sizeof(api_point), alignof(api_point)));
    }
#endif
    zh_arena_deinit(&arena);
}

int main() {
    api_zheap_hpp();
    return run_checks() == 0 ? 0 : 1;
}
