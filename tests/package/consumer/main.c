/* A program outside the project that uses an installed (or embedded) libzheap:
 * checks the header/library versions agree and that an allocator works. */
#include <stdio.h>
#include <string.h>

#include <zheap/zheap.h>

int main(void) {
    if (strcmp(zh_version_string(), ZH_VERSION_STRING) != 0) {
        fprintf(stderr, "version mismatch: headers %s, library %s\n", ZH_VERSION_STRING,
                zh_version_string());
        return 1;
    }
    unsigned char buffer[4096];
    zh_fba fba;
    zh_fba_init(&fba, buffer, sizeof buffer);
    zh_allocator a = zh_fba_allocator(&fba);
    char *s = zh_dupez(a, "consumer", 8);
    if (s == NULL || strcmp(s, "consumer") != 0) return 1;
    if (zh_test_allocator_all(zh_page_allocator) != 0) return 1;
    printf("zheap %s (%s): ok\n", zh_version_string(), ZH_PLATFORM_NAME);
    return 0;
}
