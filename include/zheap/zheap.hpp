/* zheap.hpp - libzheap for C++: zheap allocators where the standard library takes one.
 *
 * Header-only; the C library knows nothing of it. Three adaptors over zh_allocator:
 *
 *   zheap::allocator<T>       (C++11) an Allocator for std::vector<T, ...>, std::map, ...
 *   zheap::memory_resource    (C++17) a std::pmr::memory_resource for std::pmr containers
 *   zheap::pool_resource      (C++17) a std::pmr::memory_resource that serves small
 *                             blocks from a zh_pool and everything else from an upstream
 *
 * All three hold a zh_allocator by value (two pointers); the state behind it (an
 * arena, a pool, a failing allocator ...) is the caller's and must outlive every
 * container using it, exactly as in C. Thread safety is that of the zh_allocator
 * (zheap::pool_resource: none, like zh_pool).
 *
 * Failure: where the zh_allocator returns NULL, these throw std::bad_alloc (or call
 * std::abort when exceptions are disabled); nothing is leaked. Sizes: pmr and
 * std::allocator_traits hand the size and alignment back on deallocation, which is
 * exactly zheap's sized free. Zero-size requests return zheap's zero-length pointer
 * (non-NULL, aligned, never dereferenced) and freeing it does nothing.
 * Alignment: any power of two the zh_allocator honours (zh_raw_c_allocator: at most
 * ZH_MALLOC_ALIGNMENT; the others: up to 2^ZH_ALIGN_LOG2_MAX). A larger power of two
 * throws std::bad_alloc; an alignment that is not a power of two is a contract
 * violation and aborts, naming zh_alloc_aligned. See docs/cpp.md. */
#ifndef ZHEAP_ZHEAP_HPP
#define ZHEAP_ZHEAP_HPP

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>
#include <type_traits>

#include "zheap/zheap.h"

#if defined(_MSVC_LANG) && _MSVC_LANG > __cplusplus
#define ZH__CPLUSPLUS _MSVC_LANG
#else
#define ZH__CPLUSPLUS __cplusplus
#endif

#if ZH__CPLUSPLUS >= 201703L && defined(__has_include)
#if __has_include(<memory_resource>)
#include <memory_resource>
#define ZH__HAVE_MEMORY_RESOURCE 1
#endif
#endif
#ifdef ZH__HAVE_MEMORY_RESOURCE
/* 1 when zheap::memory_resource and zheap::pool_resource exist: C++17 and a standard
 * library with <memory_resource>. 0 otherwise (zheap::allocator<T> is always there). */
#define ZH_HAVE_PMR 1
#else
#define ZH_HAVE_PMR 0
#endif

namespace zheap {

namespace detail {

[[noreturn]] inline void throw_bad_alloc() {
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
    throw std::bad_alloc();
#else
    std::abort();
#endif
}

[[noreturn]] inline void throw_bad_array_new_length() {
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
    throw std::bad_array_new_length();
#else
    std::abort();
#endif
}

/* `bytes` aligned to `alignment` from `a`, or std::bad_alloc. An alignment beyond
 * what the interface can express cannot be satisfied by any allocator: that is
 * out-of-memory, not a contract violation. */
inline void *allocate_bytes(zh_allocator a, std::size_t bytes, std::size_t alignment) {
    if (alignment > (std::size_t(1) << ZH_ALIGN_LOG2_MAX)) throw_bad_alloc();
    void *p = zh_alloc_aligned(a, bytes, alignment);
    if (p == nullptr) throw_bad_alloc();
    return p;
}

/* Two zh_allocator values are interchangeable when they are the same allocator. */
inline bool same_allocator(zh_allocator a, zh_allocator b) noexcept {
    return a.ctx == b.ctx && a.vtable == b.vtable;
}

} // namespace detail

/* ---- zheap::allocator<T> (C++11) -------------------------------------------------
 * An Allocator (the std::allocator requirements) over any zh_allocator: blocks of n
 * T's aligned to alignof(T), freed with the same n (the standard containers do).
 * Implicitly constructible from a zh_allocator, so
 *     std::vector<int, zheap::allocator<int>> v(zh_arena_allocator(&arena));
 * works. Allocators of different T over the same zh_allocator compare equal and
 * free each other's blocks.
 *
 * Propagation: none (as std::pmr::polymorphic_allocator). A container keeps the
 * allocator it was constructed with for its whole life: `a = b` and move assignment
 * never make `a` hold memory from b's arena, whose lifetime may be shorter. The
 * costs: move assignment between containers on different allocators moves the
 * elements one by one, and swapping such containers is undefined (as for pmr).
 * A copy-constructed container uses the same allocator as the original. */
template <class T>
class allocator {
public:
    using value_type = T;
    using size_type = std::size_t;
    using difference_type = std::ptrdiff_t;
    using propagate_on_container_copy_assignment = std::false_type;
    using propagate_on_container_move_assignment = std::false_type;
    using propagate_on_container_swap = std::false_type;
    using is_always_equal = std::false_type;
    template <class U>
    struct rebind {
        using other = allocator<U>;
    };

    allocator(zh_allocator a) noexcept : a_(a) {} // NOLINT: implicit by design
    template <class U>
    allocator(const allocator<U> &other) noexcept : a_(other.underlying()) {}

    /* n T's, uninitialised; std::bad_array_new_length when n * sizeof(T) overflows,
     * std::bad_alloc when the zh_allocator returns NULL. */
    T *allocate(std::size_t n) {
        if (n > std::numeric_limits<std::size_t>::max() / sizeof(T))
            detail::throw_bad_array_new_length();
        return static_cast<T *>(detail::allocate_bytes(a_, n * sizeof(T), alignof(T)));
    }
    void deallocate(T *p, std::size_t n) noexcept {
        zh_free_aligned(a_, p, n * sizeof(T), alignof(T));
    }

    zh_allocator underlying() const noexcept { return a_; }

private:
    zh_allocator a_;
};

template <class T, class U>
bool operator==(const allocator<T> &a, const allocator<U> &b) noexcept {
    return detail::same_allocator(a.underlying(), b.underlying());
}
template <class T, class U>
bool operator!=(const allocator<T> &a, const allocator<U> &b) noexcept {
    return !(a == b);
}

#if ZH_HAVE_PMR

/* ---- zheap::memory_resource (C++17) ------------------------------------------------
 * A std::pmr::memory_resource over any zh_allocator:
 *     zheap::memory_resource arena_res(zh_arena_allocator(&arena));
 *     std::pmr::vector<int> v(&arena_res);
 * do_allocate(bytes, alignment) is zh_alloc_aligned, do_deallocate is
 * zh_free_aligned with the same size and alignment. Two zheap::memory_resource
 * objects are equal when they wrap the same zh_allocator (same ctx and vtable), so
 * either may free the other's blocks (with RTTI off, only when they are one object).
 * Copyable: a copy wraps the same allocator. */
class memory_resource : public std::pmr::memory_resource {
public:
    explicit memory_resource(zh_allocator a) noexcept : a_(a) {}
    memory_resource(const memory_resource &) = default;
    memory_resource &operator=(const memory_resource &) = default;

    zh_allocator underlying() const noexcept { return a_; }

protected:
    void *do_allocate(std::size_t bytes, std::size_t alignment) override {
        return detail::allocate_bytes(a_, bytes, alignment);
    }
    void do_deallocate(void *p, std::size_t bytes, std::size_t alignment) override {
        zh_free_aligned(a_, p, bytes, alignment);
    }
    bool do_is_equal(const std::pmr::memory_resource &other) const noexcept override {
        if (this == &other) return true;
#if defined(__cpp_rtti) || defined(__GXX_RTTI) || defined(_CPPRTTI)
        auto *same_kind = dynamic_cast<const memory_resource *>(&other);
        return same_kind != nullptr && detail::same_allocator(a_, same_kind->a_);
#else
        return false;
#endif
    }

private:
    zh_allocator a_;
};

/* ---- zheap::pool_resource (C++17) ---------------------------------------------------
 * A zh_pool as a std::pmr::memory_resource, for node-based containers (std::pmr::list,
 * map, set, unordered_map's nodes), whose blocks all have one size. A request whose
 * size and alignment fit a pool item (bytes <= item_size, alignment <= item_align,
 * both after zh_pool_init's rounding) is a zh_pool_create_inline, O(1) and without a call
 * to the backing allocator once the pool has items free; every other request goes to
 * the upstream resource. The choice depends only on (bytes, alignment), which pmr
 * passes again on deallocation, so each block goes back where it came from.
 * A wrong guess of the node size costs speed, never correctness: requests that do
 * not fit just go upstream (for unordered_map the bucket arrays always do).
 *
 *     zheap::pool_resource nodes(zh_page_allocator, zh_pool_options{64, 0, true});
 *     std::pmr::map<int, int> m(&nodes);
 *
 * upstream: a resource for the other sizes; nullptr (the default) means a
 * zheap::memory_resource over `backing`. It must outlive this resource.
 * The pool is owned: the destructor returns all its memory to `backing` (zh_pool_deinit);
 * blocks from upstream must have been deallocated by then, as for any pmr resource.
 * A non-growable pool (options.growable false) serves only the items given with
 * preheat() and throws std::bad_alloc when they are all in use.
 * Not thread-safe; not copyable or movable (containers hold its address).
 * Equal only to itself. */
class pool_resource : public std::pmr::memory_resource {
public:
    pool_resource(zh_allocator backing, zh_pool_options options,
                  std::pmr::memory_resource *upstream = nullptr)
        : backing_resource_(backing),
          upstream_(upstream != nullptr ? upstream : &backing_resource_) {
        zh_pool_init(&pool_, backing, options);
    }
    ~pool_resource() override { zh_pool_deinit(&pool_); }
    pool_resource(const pool_resource &) = delete;
    pool_resource &operator=(const pool_resource &) = delete;

    /* Adds `count` free items (zh_pool_preheat); false on out-of-memory. */
    bool preheat(std::size_t count) { return zh_pool_preheat(&pool_, count); }
    /* True when a request of (bytes, alignment) is served by the pool. */
    bool fits(std::size_t bytes, std::size_t alignment) const noexcept {
        return bytes <= pool_.item_size && alignment <= pool_.item_align;
    }
    std::size_t item_size() const noexcept { return pool_.item_size; }
    std::size_t item_align() const noexcept { return pool_.item_align; }
    std::pmr::memory_resource *upstream() const noexcept { return upstream_; }
    /* The underlying pool, e.g. for zh_pool_reset (which invalidates every item). */
    zh_pool *pool() noexcept { return &pool_; }

protected:
    void *do_allocate(std::size_t bytes, std::size_t alignment) override {
        if (!fits(bytes, alignment)) return upstream_->allocate(bytes, alignment);
        void *item = zh_pool_create_inline(&pool_);
        if (item == nullptr) detail::throw_bad_alloc();
        return item;
    }
    void do_deallocate(void *p, std::size_t bytes, std::size_t alignment) override {
        if (!fits(bytes, alignment)) return upstream_->deallocate(p, bytes, alignment);
        zh_pool_destroy_inline(&pool_, p);
    }
    bool do_is_equal(const std::pmr::memory_resource &other) const noexcept override {
        return this == &other;
    }

private:
    zh_pool pool_;
    zheap::memory_resource backing_resource_; // not the injected std::pmr name
    std::pmr::memory_resource *upstream_;
};

#endif /* ZH_HAVE_PMR */

} // namespace zheap

#endif /* ZHEAP_ZHEAP_HPP */
