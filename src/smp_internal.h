/* smp_internal.h - the SMP allocator's entry points for the malloc-compatible
 * preload library (src/preload/malloc.c), which is built from libzheap's sources,
 * and a probe for its tests. Not exported. */
#ifndef ZHEAP_SRC_SMP_INTERNAL_H
#define ZHEAP_SRC_SMP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* malloc(len) on the SMP allocator without the vtable: a block of at least len bytes
 * (len 0: a unique smallest block), 16-byte aligned, owned by the caller until
 * zh_smp_free_owned / zh_smp_free_unsized / zh__smp_free_or. On out-of-memory the
 * result of failed(len) instead (errno untouched). Thread-safe, like every SMP entry
 * point. `failed` is reached by a tail call, so that its return address is still the
 * one of the caller's caller (malloc's caller). */
void *zh__smp_malloc_or(size_t len, void *(*failed)(size_t len));

/* free(p) on the SMP allocator: frees p if it starts a block of it (zh_smp_free_owned),
 * else calls not_ours(p) (NULL included), by a tail call as above. */
void zh__smp_free_or(void *p, void (*not_ours)(void *p));

/* For tests: the 16 KiB units spanned by the small page or large run holding the
 * live block p (a huge block: 0). */
size_t zh__smp_page_units(const void *p);

/* For tests: the start of the small page or large run holding the live block p (a
 * huge block: NULL). */
void *zh__smp_page_start(const void *p);

/* For tests: the address range [range[0], range[1]) of the OS pages holding only the
 * unit records of the segment of p (a block of a unit segment; addresses only, nothing
 * is read), which a free segment's purge gives back. */
void zh__smp_records_range(const void *p, uintptr_t range[2]);

#endif /* ZHEAP_SRC_SMP_INTERNAL_H */
