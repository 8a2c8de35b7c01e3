/* type_align_fail.c - must NOT compile, as C or as C++: ZH_CREATE of a type aligned
 * above ZH_TYPE_ALIGN_MAX (64) stops at compile time with zheap's message, because
 * ZH_DESTROY could not recompute the alignment from sizeof alone. */
#include "zheap/allocator.h"
#include "zheap/c.h"

typedef struct over_aligned {
    ZH__ALIGNAS(128) unsigned char bytes[128];
} over_aligned;

int main(void) {
    over_aligned *p = ZH_CREATE(zh_c_allocator, over_aligned);
    ZH_DESTROY(zh_c_allocator, p);
    return 0;
}
