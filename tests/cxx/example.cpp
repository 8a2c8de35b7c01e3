// Count words per request: every container of one request lives in an arena
// and goes away with one reset; a long-lived index uses a pool for its nodes.
#include <cstdio>
#include <functional>
#include <map>
#include <memory_resource>
#include <string>
#include <vector>

#include <zheap/zheap.hpp>

int main() {
    zh_arena arena;
    zh_arena_init(&arena, zh_page_allocator);
    zheap::memory_resource request_memory(zh_arena_allocator(&arena));

    // std::pmr containers: strings and nodes all come from the arena.
    const char *requests[] = {"to be or not to be", "be quick be brief"};
    for (const char *text : requests) {
        std::pmr::map<std::pmr::string, int, std::less<>> counts(&request_memory);
        std::pmr::string word(&request_memory);
        for (const char *c = text;; c++) {
            if (*c != ' ' && *c != '\0') {
                word += *c;
                continue;
            }
            counts[word]++;
            word.clear();
            if (*c == '\0') break;
        }
        auto be = counts.find("be");
        std::printf("\"%s\": %zu distinct words, \"be\" x%d\n", text, counts.size(),
                    be == counts.end() ? 0 : be->second);
        // counts and word are destroyed here; then one reset frees the whole request
    }
    zh_arena_reset(&arena, ZH_ARENA_RETAIN_CAPACITY, 0);

    // A pool_resource serves the map's nodes (all one size) from a zh_pool;
    // anything larger than 64 bytes would go to the page allocator.
    zheap::pool_resource nodes(zh_page_allocator, zh_pool_options{64, 0, true});
    std::pmr::map<int, double> index(&nodes);
    for (int i = 0; i < 1000; i++) index[i] = i * 0.5;
    std::printf("index[999] = %.1f\n", index[999]);

    // zheap::allocator<T> for the classic containers (C++11 and later).
    std::vector<int, zheap::allocator<int>> squares(zh_c_allocator);
    for (int i = 1; i <= 4; i++) squares.push_back(i * i);
    std::printf("squares: %d %d %d %d\n", squares[0], squares[1], squares[2], squares[3]);

    try {  // out of memory is std::bad_alloc, as with operator new
        zh_failing refuse;
        zh_failing_init(&refuse, zh_c_allocator, 0);  // every allocation fails
        std::vector<int, zheap::allocator<int>> v(zh_failing_allocator(&refuse));
        v.push_back(1);
    } catch (const std::bad_alloc &) {
        std::puts("bad_alloc");
    }
    zh_arena_deinit(&arena);
    return 0;
}
