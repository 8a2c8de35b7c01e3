/* fuzz.h - the op-sequence fuzz harness of libzheap (tests/fuzz/fuzz_alloc.c).
 *
 * One harness, every allocator: an input is a target selector, two parameter bytes
 * and a sequence of operations run against a model (see fuzz_alloc.c). libFuzzer
 * calls LLVMFuzzerTestOneInput; the replay main (replay_main.c) calls it for every
 * file of the seed corpus in the normal build. */
#ifndef ZHEAP_TESTS_FUZZ_H
#define ZHEAP_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Pins every later input to the target called `name` (then the input's first byte
 * is not a selector); NULL unpins. False when no target has that name. The
 * environment variable ZH_FUZZ_TARGET does the same for libFuzzer runs. */
int zh_fuzz_pin_target(const char *name);

/* Number of targets and the name of target i (for scripts: --list). */
size_t zh_fuzz_target_count(void);
const char *zh_fuzz_target_name(size_t i);

#endif /* ZHEAP_TESTS_FUZZ_H */
