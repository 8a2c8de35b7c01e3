/* bytes.h - the byte-pattern helpers every test uses: plain C11, header-only, so
 * that the framework-free runners (conformance_main.c, wasm_main.c) share them with
 * the cmocka suites (through test_support.h). */
#ifndef ZHEAP_TEST_BYTES_H
#define ZHEAP_TEST_BYTES_H

#include <stdbool.h>
#include <stddef.h>

/* True if every byte of [p, p + len) equals `byte`. */
static inline bool zht_all_bytes(const void *p, size_t len, unsigned char byte) {
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < len; i++)
        if (b[i] != byte) return false;
    return true;
}

/* Byte `i` of the pattern for `seed`: distinct seeds give distinct patterns, and
 * no run of equal bytes, so a block written over another or shifted shows. */
static inline unsigned char zht_pattern_byte(unsigned seed, size_t i) {
    return (unsigned char)(seed * 131u + i * 7u + 1u);
}

/* Writes the pattern for `seed` over [p, p + len). */
static inline void zht_fill_pattern(void *p, size_t len, unsigned seed) {
    unsigned char *b = (unsigned char *)p;
    for (size_t i = 0; i < len; i++) b[i] = zht_pattern_byte(seed, i);
}

/* True if [p, p + len) holds the pattern for `seed` (as zht_fill_pattern wrote it). */
static inline bool zht_has_pattern(const void *p, size_t len, unsigned seed) {
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < len; i++)
        if (b[i] != zht_pattern_byte(seed, i)) return false;
    return true;
}

#endif /* ZHEAP_TEST_BYTES_H */
