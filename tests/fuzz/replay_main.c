/* replay_main.c - runs the fuzz harness over files, without libFuzzer.
 *
 *   zheap-fuzz-replay [--list] [--expect-finding] PATH...
 *
 * A PATH that is a directory named after a target (tests/fuzz/corpus/<target>/)
 * replays every file in it with that target pinned; any other directory or file
 * is replayed unpinned (its first byte selects the target). `ctest -L fuzz` runs
 * this over the seed corpus in the normal build; a failing input aborts with the
 * harness's message, so the test fails. ZH_FUZZ_ONLY=<file name> replays only that
 * file of each directory. --expect-finding inverts the verdict (each input replayed in
 * a child that must abort): the test of a known finding not fixed yet. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz.h"

static size_t replayed;
static int expect_finding; /* --expect-finding: every input must make the harness abort */

static int replay_in_child(const char *path, const uint8_t *data, size_t n) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        LLVMFuzzerTestOneInput(data, n);
        _exit(0);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return 1;
    if (WIFSIGNALED(status)) return 0;
    fprintf(stderr, "%s: expected a finding, the harness passed\n", path);
    return 1;
}

static int replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    static uint8_t data[1 << 20];
    size_t n = fread(data, 1, sizeof data, f);
    fclose(f);
    replayed++;
    if (expect_finding) return replay_in_child(path, data, n);
    LLVMFuzzerTestOneInput(data, n);
    return 0;
}

static const char *base_name(const char *path) {
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') len--;
    static char name[256];
    size_t start = len;
    while (start > 0 && path[start - 1] != '/') start--;
    snprintf(name, sizeof name, "%.*s", (int)(len - start), path + start);
    return name;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_dir(const char *path, DIR *dir) {
    char *names[4096];
    size_t count = 0;
    struct dirent *d;
    while ((d = readdir(dir)) != NULL && count < 4096)
        if (d->d_name[0] != '.') names[count++] = strdup(d->d_name);
    closedir(dir);
    qsort(names, count, sizeof names[0], compare_names);
    zh_fuzz_pin_target(base_name(path));
    const char *only = getenv("ZH_FUZZ_ONLY"); /* one file of the directory */
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        if (only != NULL && strcmp(only, names[i]) != 0) {
            free(names[i]);
            continue;
        }
        char file[4096];
        snprintf(file, sizeof file, "%s/%s", path, names[i]);
        rc |= replay_file(file);
        free(names[i]);
    }
    zh_fuzz_pin_target(NULL);
    return rc;
}

int main(int argc, char **argv) {
    LLVMFuzzerInitialize(&argc, &argv);
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--list") == 0) {
            for (size_t t = 0; t < zh_fuzz_target_count(); t++)
                printf("%s\n", zh_fuzz_target_name(t));
            continue;
        }
        if (strcmp(argv[i], "--expect-finding") == 0) {
            expect_finding = 1;
            continue;
        }
        DIR *dir = opendir(argv[i]);
        rc |= dir != NULL ? replay_dir(argv[i], dir) : replay_file(argv[i]);
    }
    printf("zheap fuzz replay: %zu inputs, %s\n", replayed,
           expect_finding ? (rc ? "a finding is gone" : "each one still a finding")
                          : "no finding");
    return rc;
}
