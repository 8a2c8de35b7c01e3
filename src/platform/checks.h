/* checks.h - the contract checks every memory backend makes under ZHEAP_SAFETY, so
 * the edge cases of shrink and grow have one answer on every platform (platform.h). */
#ifndef ZHEAP_PLATFORM_CHECKS_H
#define ZHEAP_PLATFORM_CHECKS_H

#include "common.h"

/* zh__os_shrink: 0 < new_len <= old_len. */
static inline void zh__os_check_shrink(const void *p, size_t old_len, size_t new_len) {
    if (zh__config_safety && (new_len == 0 || new_len > old_len))
        zh__panic("zh__os_shrink", "mapping %p of %zu bytes cannot shrink to %zu", p, old_len,
                  new_len);
}

/* zh__os_grow: new_len >= old_len. */
static inline void zh__os_check_grow(const void *p, size_t old_len, size_t new_len) {
    if (zh__config_safety && new_len < old_len)
        zh__panic("zh__os_grow", "mapping %p of %zu bytes cannot grow to %zu", p, old_len,
                  new_len);
}

#endif /* ZHEAP_PLATFORM_CHECKS_H */
