/* testing.c - the conformance suite, the validation wrapper and the failing
 * allocator (include/zheap/testing.h).
 *
 * The four conformance functions follow Zig's testAllocator family step by step,
 * with a few extra checks that make a broken allocator visible without crashing
 * the test: blocks that overlap live blocks, and resize/remap that claim to grow
 * a block over memory that belongs to another block. Every step goes through the
 * public helpers (zh_alloc, zh_realloc, ...) over zh_validation_wrap, so the
 * helpers' own zero-length and alignment handling is exercised too.
 *
 * Costs: the suite allocates a few hundred KiB at most (alignments up to 64 KiB)
 * and takes well under a millisecond on a fast allocator. The wrappers add one
 * indirect call and a few compares per operation. */
#include <stdarg.h>
#include <stdio.h>

#include "common.h"
#include "zheap/testing.h"

/* ---- reporting ---------------------------------------------------------------------- */

ZH_PRINTF(2, 3) static int report_failure(const char *test, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s: ", test);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    return 1;
}

static bool ranges_overlap(const void *a, size_t a_len, const void *b, size_t b_len) {
    uintptr_t a0 = (uintptr_t)a, b0 = (uintptr_t)b;
    return a0 < b0 + b_len && b0 < a0 + a_len;
}

static bool all_bytes_equal(const void *p, size_t len, unsigned char byte) {
    const unsigned char *b = p;
    for (size_t i = 0; i < len; i++)
        if (b[i] != byte) return false;
    return true;
}

/* ---- zh_test_allocator ------------------------------------------------------------------ */

#define OBJECT_COUNT 100
#define GROWN_COUNT 20000
#define PTR_ALIGN (ZH__SIZE_ALIGN(sizeof(int32_t *)))

/* Zig's "many objects" step: an array of 100 pointers to fresh int32s, the array
 * grown to 20000 entries (the objects must be untouched by the growth), then
 * shrunk in steps and freed. */
static int many_objects(zh_allocator a, const char *test) {
    int32_t *objects[OBJECT_COUNT];
    size_t made = 0;
    int rc = 0;
    size_t slice_len = OBJECT_COUNT;
    int32_t **slice = ZH_ALLOC_ARRAY(a, int32_t *, OBJECT_COUNT);
    if (slice == NULL) return report_failure(test, "out of memory allocating %d pointers",
                                             OBJECT_COUNT);

    for (; made < OBJECT_COUNT; made++) {
        int32_t *item = ZH_CREATE(a, int32_t);
        if (item == NULL) {
            rc = report_failure(test, "out of memory creating object %zu", made);
            goto free_objects;
        }
        objects[made] = item;
        if (ranges_overlap(item, sizeof *item, slice, slice_len * sizeof *slice)) {
            made++;
            rc = report_failure(test, "object %zu overlaps the live pointer array", made - 1);
            goto free_objects;
        }
        for (size_t j = 0; j < made; j++) {
            if (ranges_overlap(item, sizeof *item, objects[j], sizeof *objects[j])) {
                made++;
                rc = report_failure(test, "object %zu overlaps live object %zu", made - 1, j);
                goto free_objects;
            }
        }
        *item = (int32_t)made;
        slice[made] = item;
    }

    int32_t **grown = zh_realloc_aligned(a, slice, slice_len * sizeof *slice,
                                         GROWN_COUNT * sizeof *slice, PTR_ALIGN);
    if (grown == NULL) {
        rc = report_failure(test, "out of memory growing %d pointers to %d", OBJECT_COUNT,
                            GROWN_COUNT);
        goto free_objects;
    }
    slice = grown;
    slice_len = GROWN_COUNT;
    /* Writing every new entry exposes a growth that was granted over live objects. */
    for (size_t i = OBJECT_COUNT; i < GROWN_COUNT; i++) slice[i] = NULL;
    for (size_t i = 0; i < OBJECT_COUNT; i++) {
        if (slice[i] != objects[i]) {
            rc = report_failure(test, "entry %zu changed when the array grew", i);
            goto free_objects;
        }
        if (*objects[i] != (int32_t)i) {
            rc = report_failure(test, "object %zu was overwritten by the array's growth", i);
            goto free_objects;
        }
    }

free_objects:
    for (size_t i = 0; i < made; i++) ZH_DESTROY(a, objects[i]);
    if (rc != 0) {
        zh_free_aligned(a, slice, slice_len * sizeof *slice, PTR_ALIGN);
        return rc;
    }

    if (zh_resize_aligned(a, slice, slice_len * sizeof *slice, 50 * sizeof *slice, PTR_ALIGN)) {
        slice_len = 50;
        if (zh_resize_aligned(a, slice, slice_len * sizeof *slice, 25 * sizeof *slice,
                              PTR_ALIGN)) {
            slice_len = 25;
            if (!zh_resize_aligned(a, slice, slice_len * sizeof *slice, 0, PTR_ALIGN))
                return report_failure(test, "resize to zero length returned false");
            slice_len = 0;
            slice = zh_realloc_aligned(a, NULL, 0, 10 * sizeof *slice, PTR_ALIGN);
            if (slice == NULL) return report_failure(test, "out of memory reallocating from zero");
            slice_len = 10;
        }
    }
    zh_free_aligned(a, slice, slice_len * sizeof *slice, PTR_ALIGN);
    return 0;
}

/* Zero-length requests and C's nearest thing to zero-sized types. */
static int zero_lengths(zh_allocator a, const char *test) {
    void *empty = zh_alloc(a, 0);
    if (empty == NULL) return report_failure(test, "zero-length allocation returned NULL");
    zh_free(a, empty, 0);
    uint64_t *none = ZH_ALLOC_ARRAY(a, uint64_t, 0);
    if (none == NULL || !zh__is_aligned(none, sizeof(uint64_t)))
        return report_failure(test, "empty array is NULL or misaligned");
    ZH_FREE_ARRAY(a, none, 0);
    return 0;
}

/* Zig's "oversize" step: a small array written in full. */
static int small_array(zh_allocator a, const char *test) {
    uint32_t *words = ZH_ALLOC_ARRAY(a, uint32_t, 5);
    if (words == NULL) return report_failure(test, "out of memory allocating 5 words");
    for (size_t i = 0; i < 5; i++) words[i] = 0xDEADBEEFu;
    for (size_t i = 0; i < 5; i++)
        if (words[i] != 0xDEADBEEFu) {
            ZH_FREE_ARRAY(a, words, 5);
            return report_failure(test, "word %zu did not keep its value", i);
        }
    ZH_FREE_ARRAY(a, words, 5);
    return 0;
}

#define PROBE_LEN 64
#define PROBE_GROWN 4096

/* Not in Zig: if resize or remap says a block grew, the grown block must not
 * cover a neighbour that is still live. */
static int growth_is_honest(zh_allocator a, const char *test) {
    unsigned char *block = zh_alloc(a, PROBE_LEN);
    unsigned char *neighbour = zh_alloc(a, PROBE_LEN);
    int rc = 0;
    if (block == NULL || neighbour == NULL) {
        rc = report_failure(test, "out of memory allocating two %d-byte blocks", PROBE_LEN);
        goto done;
    }
    memset(neighbour, 0x22, PROBE_LEN);
    size_t block_len = PROBE_LEN;
    if (zh_resize(a, block, block_len, PROBE_GROWN)) {
        block_len = PROBE_GROWN;
        memset(block, 0x11, block_len);
        if (!all_bytes_equal(neighbour, PROBE_LEN, 0x22))
            rc = report_failure(test, "resize grew a block over a live block");
    } else {
        unsigned char *moved = zh_remap(a, block, block_len, PROBE_GROWN);
        if (moved != NULL) {
            block = moved;
            block_len = PROBE_GROWN;
            memset(block, 0x11, block_len);
            if (!all_bytes_equal(neighbour, PROBE_LEN, 0x22))
                rc = report_failure(test, "remap grew a block over a live block");
        }
    }
    zh_free(a, block, block_len);
    block = NULL;
done:
    if (block != NULL) zh_free(a, block, PROBE_LEN);
    if (neighbour != NULL) zh_free(a, neighbour, PROBE_LEN);
    return rc;
}

int zh_test_allocator(zh_allocator a) {
    static const char test[] = "zh_test_allocator";
    zh_validator v;
    zh_allocator checked = zh_validation_wrap(&v, a);
    int rc = many_objects(checked, test);
    if (rc == 0) rc = zero_lengths(checked, test);
    if (rc == 0) rc = small_array(checked, test);
    if (rc == 0) rc = growth_is_honest(checked, test);
    return rc;
}

/* ---- zh_test_allocator_aligned ------------------------------------------------------------ */

static void fill_pattern(unsigned char *p, size_t len) {
    for (size_t i = 0; i < len; i++) p[i] = (unsigned char)(i * 7 + 1);
}
static bool has_pattern(const unsigned char *p, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (p[i] != (unsigned char)(i * 7 + 1)) return false;
    return true;
}

static int one_alignment(zh_allocator a, size_t alignment, const char *test) {
    size_t len = 10;
    unsigned char *p = zh_alloc_aligned(a, len, alignment);
    if (p == NULL) return report_failure(test, "out of memory: 10 bytes aligned %zu", alignment);
    fill_pattern(p, len);
    unsigned char *grown = zh_realloc_aligned(a, p, len, 100, alignment);
    if (grown == NULL) {
        zh_free_aligned(a, p, len, alignment);
        return report_failure(test, "out of memory growing to 100 bytes aligned %zu", alignment);
    }
    p = grown;
    len = 100;
    if (!has_pattern(p, 10)) {
        zh_free_aligned(a, p, len, alignment);
        return report_failure(test, "growth aligned %zu lost the contents", alignment);
    }
    if (zh_resize_aligned(a, p, len, 10, alignment)) len = 10;
    if (!zh_resize_aligned(a, p, len, 0, alignment))
        return report_failure(test, "resize to zero (aligned %zu) returned false", alignment);

    p = zh_realloc_aligned(a, NULL, 0, 100, alignment);
    if (p == NULL)
        return report_failure(test, "out of memory reallocating from zero, aligned %zu",
                              alignment);
    len = 100;
    if (!zh__is_aligned(p, alignment)) {
        zh_free_aligned(a, p, len, alignment);
        return report_failure(test, "realloc from zero is not aligned to %zu", alignment);
    }
    if (zh_resize_aligned(a, p, len, 10, alignment)) len = 10;
    if (!zh_resize_aligned(a, p, len, 0, alignment))
        return report_failure(test, "resize to zero (aligned %zu) returned false", alignment);
    return 0;
}

int zh_test_allocator_aligned(zh_allocator a) {
    static const char test[] = "zh_test_allocator_aligned";
    zh_validator v;
    zh_allocator checked = zh_validation_wrap(&v, a);
    for (size_t alignment = 1; alignment <= 512; alignment *= 2) {
        int rc = one_alignment(checked, alignment, test);
        if (rc != 0) return rc;
    }
    return 0;
}

/* ---- zh_test_allocator_large_alignment ----------------------------------------------------
 * Zig uses half the smallest page size; this also walks up through every power of
 * two to 64 KiB so that alignments above the page size of every supported system
 * are covered without asking the OS anything. */

#define LARGE_ALIGN_MIN ((size_t)2048)
#define LARGE_ALIGN_MAX ((size_t)64 * 1024)

static int grow_checked(zh_allocator a, unsigned char **p, size_t *len, size_t new_len,
                        size_t alignment, const char *test) {
    unsigned char *moved = zh_realloc_aligned(a, *p, *len, new_len, alignment);
    if (moved == NULL)
        return report_failure(test, "out of memory growing to %zu bytes aligned %zu", new_len,
                              alignment);
    *p = moved;
    *len = new_len;
    if (!zh__is_aligned(moved, alignment))
        return report_failure(test, "%zu bytes not aligned to %zu after realloc", new_len,
                              alignment);
    if (moved[0] != 0x5a)
        return report_failure(test, "realloc to %zu bytes aligned %zu lost the contents",
                              new_len, alignment);
    return 0;
}

static int one_large_alignment(zh_allocator a, size_t alignment, const char *test) {
    size_t len = 500;
    unsigned char *p = zh_alloc_aligned(a, len, alignment);
    if (p == NULL) return report_failure(test, "out of memory: 500 bytes aligned %zu", alignment);
    if (!zh__is_aligned(p, alignment)) {
        zh_free_aligned(a, p, len, alignment);
        return report_failure(test, "500 bytes not aligned to %zu", alignment);
    }
    p[0] = 0x5a;
    if (zh_resize_aligned(a, p, len, 100, alignment)) len = 100;
    int rc = grow_checked(a, &p, &len, 5000, alignment, test);
    if (rc == 0) {
        if (zh_resize_aligned(a, p, len, 10, alignment)) len = 10;
        rc = grow_checked(a, &p, &len, 20000, alignment, test);
    }
    zh_free_aligned(a, p, len, alignment);
    return rc;
}

int zh_test_allocator_large_alignment(zh_allocator a) {
    static const char test[] = "zh_test_allocator_large_alignment";
    zh_validator v;
    zh_allocator checked = zh_validation_wrap(&v, a);
    for (size_t alignment = LARGE_ALIGN_MIN; alignment <= LARGE_ALIGN_MAX; alignment *= 2) {
        int rc = one_large_alignment(checked, alignment, test);
        if (rc != 0) return rc;
    }
    return 0;
}

/* ---- zh_test_allocator_aligned_shrink -------------------------------------------------------
 * Zig's test: find a 16-aligned block that is NOT aligned to 32 pages (keeping the
 * over-aligned ones live meanwhile), then shrink it to half with realloc; the
 * contents must survive. 4096 stands in for the page size. */

#define SHRINK_PAGE ((size_t)4096)
#define SHRINK_SIZE (SHRINK_PAGE * 2 + 50)
#define SHRINK_HELD_MAX 64

int zh_test_allocator_aligned_shrink(zh_allocator a) {
    static const char test[] = "zh_test_allocator_aligned_shrink";
    zh_validator v;
    zh_allocator checked = zh_validation_wrap(&v, a);
    unsigned char *held[SHRINK_HELD_MAX];
    size_t held_count = 0;
    int rc = 0;

    unsigned char *slice = zh_alloc_aligned(checked, SHRINK_SIZE, 16);
    while (slice != NULL && zh__is_aligned(slice, SHRINK_PAGE * 32)) {
        if (held_count == SHRINK_HELD_MAX) {
            zh_free_aligned(checked, slice, SHRINK_SIZE, 16);
            slice = NULL;
            rc = report_failure(test, "%d blocks in a row were aligned to 32 pages",
                                SHRINK_HELD_MAX);
            break;
        }
        held[held_count++] = slice;
        slice = zh_alloc_aligned(checked, SHRINK_SIZE, 16);
    }
    if (slice == NULL && rc == 0) rc = report_failure(test, "out of memory: %zu bytes", SHRINK_SIZE);
    while (held_count > 0) zh_free_aligned(checked, held[--held_count], SHRINK_SIZE, 16);
    if (rc != 0) return rc;

    slice[0] = 0x12;
    slice[60] = 0x34;
    unsigned char *shrunk = zh_realloc_aligned(checked, slice, SHRINK_SIZE, SHRINK_SIZE / 2, 16);
    if (shrunk == NULL) {
        zh_free_aligned(checked, slice, SHRINK_SIZE, 16);
        return report_failure(test, "out of memory shrinking to %zu bytes", SHRINK_SIZE / 2);
    }
    if (shrunk[0] != 0x12 || shrunk[60] != 0x34)
        rc = report_failure(test, "shrinking lost the contents");
    zh_free_aligned(checked, shrunk, SHRINK_SIZE / 2, 16);
    return rc;
}

const zh_test_case zh_test_suite[ZH_TEST_SUITE_LEN] = {
    {"zh_test_allocator", zh_test_allocator},
    {"zh_test_allocator_aligned", zh_test_allocator_aligned},
    {"zh_test_allocator_large_alignment", zh_test_allocator_large_alignment},
    {"zh_test_allocator_aligned_shrink", zh_test_allocator_aligned_shrink},
};

int zh_test_allocator_all(zh_allocator a) {
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < ZH_TEST_SUITE_LEN; i++) rc = zh_test_suite[i].run(a);
    return rc;
}

/* ---- validation wrapper ----------------------------------------------------------------------
 * Always on, whatever ZHEAP_SAFETY says: checking is its whole purpose. */

static void check_request(const char *call, size_t len, zh_align align) {
    if (len == 0) zh__panic(call, "zero length passed to the allocator");
    if (align > ZH_ALIGN_LOG2_MAX) zh__panic(call, "alignment 2^%u is too large", align);
}

static void check_given_block(const char *call, const void *mem, size_t len, zh_align align) {
    check_request(call, len, align);
    if (mem == NULL) zh__panic(call, "NULL block of length %zu passed to the allocator", len);
    if (!zh__is_aligned(mem, zh_align_to_bytes(align)))
        zh__panic(call, "block %p passed with alignment %zu it does not have", mem,
                  zh_align_to_bytes(align));
}

static void check_returned_block(const char *call, const void *mem, size_t len, zh_align align) {
    if (!zh__is_aligned(mem, zh_align_to_bytes(align)))
        zh__panic(call, "allocator returned %p, not aligned to %zu", mem,
                  zh_align_to_bytes(align));
    if ((uintptr_t)mem > UINTPTR_MAX - len)
        zh__panic(call, "allocator returned %p, whose %zu bytes wrap around memory", mem, len);
}

static void *validate_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    static const char call[] = "zh_validation_wrap: alloc";
    const zh_validator *v = ctx;
    check_request(call, len, align);
    void *p = v->child.vtable->alloc(v->child.ctx, len, align, ret_addr);
    if (p != NULL) check_returned_block(call, p, len, align);
    return p;
}

static bool validate_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                            uintptr_t ret_addr) {
    static const char call[] = "zh_validation_wrap: resize";
    const zh_validator *v = ctx;
    check_given_block(call, mem, len, align);
    if (new_len == 0) zh__panic(call, "resize to zero length (that is a free)");
    return v->child.vtable->resize(v->child.ctx, mem, len, align, new_len, ret_addr);
}

static void *validate_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                            uintptr_t ret_addr) {
    static const char call[] = "zh_validation_wrap: remap";
    const zh_validator *v = ctx;
    check_given_block(call, mem, len, align);
    if (new_len == 0) zh__panic(call, "remap to zero length (that is a free)");
    void *p = v->child.vtable->remap(v->child.ctx, mem, len, align, new_len, ret_addr);
    if (p != NULL) check_returned_block(call, p, new_len, align);
    return p;
}

static void validate_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    static const char call[] = "zh_validation_wrap: free";
    const zh_validator *v = ctx;
    check_given_block(call, mem, len, align);
    v->child.vtable->free(v->child.ctx, mem, len, align, ret_addr);
}

static const zh_allocator_vtable validation_vtable = {
    validate_alloc, validate_resize, validate_remap, validate_free};

zh_allocator zh_validation_wrap(zh_validator *v, zh_allocator child) {
    v->child = child;
    return (zh_allocator){v, &validation_vtable};
}

/* ---- failing allocator -------------------------------------------------------------------- */

/* Zig's FailingAllocator: only calls that succeed move the indices, so
 * fail_index counts successful allocations (a NULL from the child does not use
 * up one), and has_induced_failure is about allocations only. */
static void *failing_alloc(void *ctx, size_t len, zh_align align, uintptr_t ret_addr) {
    zh_failing *f = ctx;
    if (f->alloc_index >= f->fail_index) {
        f->has_induced_failure = true;
        return NULL;
    }
    void *p = f->child.vtable->alloc(f->child.ctx, len, align, ret_addr);
    if (p == NULL) return NULL;
    f->allocated_bytes += len;
    f->allocations++;
    f->alloc_index++;
    return p;
}

/* Counts a successful resize or remap from `len` to `new_len`. */
static void count_resize(zh_failing *f, size_t len, size_t new_len) {
    if (new_len > len)
        f->allocated_bytes += new_len - len;
    else
        f->freed_bytes += len - new_len;
    f->resize_index++;
}

static bool failing_resize(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                           uintptr_t ret_addr) {
    zh_failing *f = ctx;
    if (f->resize_index >= f->resize_fail_index) return false;
    if (!f->child.vtable->resize(f->child.ctx, mem, len, align, new_len, ret_addr)) return false;
    count_resize(f, len, new_len);
    return true;
}

static void *failing_remap(void *ctx, void *mem, size_t len, zh_align align, size_t new_len,
                           uintptr_t ret_addr) {
    zh_failing *f = ctx;
    if (f->resize_index >= f->resize_fail_index) return NULL;
    void *p = f->child.vtable->remap(f->child.ctx, mem, len, align, new_len, ret_addr);
    if (p != NULL) count_resize(f, len, new_len);
    return p;
}

static void failing_free(void *ctx, void *mem, size_t len, zh_align align, uintptr_t ret_addr) {
    zh_failing *f = ctx;
    f->child.vtable->free(f->child.ctx, mem, len, align, ret_addr);
    f->freed_bytes += len;
    f->deallocations++;
}

static const zh_allocator_vtable failing_vtable = {failing_alloc, failing_resize, failing_remap,
                                                   failing_free};

void zh_failing_init(zh_failing *f, zh_allocator child, size_t fail_index) {
    *f = (zh_failing){0};
    f->child = child;
    f->fail_index = fail_index;
    f->resize_fail_index = SIZE_MAX;
}

void zh_failing_set_resize_fail_index(zh_failing *f, size_t resize_fail_index) {
    f->resize_fail_index = resize_fail_index;
}

zh_allocator zh_failing_allocator(zh_failing *f) { return (zh_allocator){f, &failing_vtable}; }
