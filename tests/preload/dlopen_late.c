/* dlopen_late.c - loads libzheap-malloc.so with dlopen (argv[1]) instead of
 * LD_PRELOAD. Either the loader refuses it (static TLS) or the library stays inactive
 * and says so; the program's malloc/free must keep working either way, including a
 * free through the library's own entry point of a block glibc made. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    char *before = malloc(100);
    strcpy(before, "made by glibc");
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        printf("dlopen refused: %s\n", dlerror());
    } else {
        void (*their_free)(void *) = NULL;
        void *(*their_malloc)(size_t) = NULL;
        *(void **)&their_free = dlsym(h, "free");
        *(void **)&their_malloc = dlsym(h, "malloc");
        if (their_free == NULL || their_malloc == NULL) return 3;
        their_free(before); /* inactive: passed to glibc */
        before = NULL;
        void *p = their_malloc(64);
        free(p); /* and the reverse */
        printf("dlopen accepted, library inactive\n");
    }
    for (int i = 0; i < 1000; i++) free(malloc((size_t)i + 1));
    free(before);
    puts("dlopen_late: ok");
    return 0;
}
