/* smp_internal.h - the SMP allocator's entry points for the malloc-compatible
 * preload library (src/preload/malloc.c), which is built from libzheap's sources.
 * Not exported. */
#ifndef ZHEAP_SRC_SMP_INTERNAL_H
#define ZHEAP_SRC_SMP_INTERNAL_H

#include <stddef.h>

/* malloc(len) on the SMP allocator without the vtable: a block of at least len bytes
 * (len 0: a unique smallest block), 16-byte aligned, owned by the caller until
 * zh_smp_free_owned / zh_smp_free_unsized; NULL on out-of-memory (errno untouched).
 * Thread-safe, like every SMP entry point. */
void *zh__smp_malloc(size_t len);

#endif /* ZHEAP_SRC_SMP_INTERNAL_H */
