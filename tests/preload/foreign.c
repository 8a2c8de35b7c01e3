/* foreign.c - frees pointers libzheap-malloc.so never returned: argv[1] = "stack"
 * (a stack array) or "interior" (a pointer into a block). In SMP mode the preload
 * library must abort with a message naming the pointer and the call (checked by
 * expect.sh); in debug mode it reports and the program goes on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *volatile launder;

int main(int argc, char **argv) {
    char buf[64];
    memset(buf, 0, sizeof buf);
    char *block = malloc(256);
    launder = argc > 1 && strcmp(argv[1], "interior") == 0 ? block + 16 : (void *)buf;
    printf("freeing %p\n", launder);
    fflush(stdout);
    free(launder);
    free(block);
    puts("foreign: survived");
    return 0;
}
