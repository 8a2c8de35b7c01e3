#!/usr/bin/env python3
"""make_seeds.py - writes the seed corpus of the fuzz harness (tests/fuzz/corpus/).

Each seed is a pinned input (no target byte): flags, param, then ops encoded as
fuzz_alloc.c decodes them. The workload-shaped seeds (shrink -> free loops, split
loops, reset cycles, exhaustion) are the shapes a strict content oracle alone
misses. Run it after changing the encoding; the files are committed.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def enc_len(n):
    assert 1 <= n
    if n <= 256:
        return [0, n - 1]
    if n <= 8192:
        v = n - 1
        return [0xA0 | (v >> 8), v & 255]
    if n <= 1 + (4095 << 3):
        v = (n - 1 + 7) >> 3  # rounds up: the decoded length is >= n
        return [0xE0 | (v >> 8), v & 255]
    v = (n - 1 + 63) >> 6
    assert v < 4096
    return [0xF0 | (v >> 8), v & 255]


def enc_align(k):
    if k <= 4:
        return k
    if k <= 8:
        return 12 | ((k - 5) << 4)
    return 15 | ((k - 9) << 4)


def alloc(n, k=3):
    return [0] + enc_len(n) + [enc_align(k)]


def free(slot=0):
    return [2, slot]


def resize(slot, n):
    return [3, slot] + enc_len(n)


def remap(slot, n):
    return [4, slot] + enc_len(n)


def realloc(slot, n):
    return [5, slot] + enc_len(n)


def grow_by(slot, delta):
    """Grow by 1 .. 16 bytes (length class 4 of a change op)."""
    assert 1 <= delta <= 16
    return [3, slot, 0x80, delta - 1]


def creep(start=4000, steps=24, delta=7):
    """A block grown in small steps up to the end of its buffer and past it."""
    return alloc(start, 3) + sum((grow_by(0, delta) for _ in range(steps)), []) + CHECK


def reset(mode, limit=0):
    return [6, mode, limit]


CHECK = [0xFF]


def basic():
    ops = []
    for n, k in [(1, 0), (7, 1), (24, 3), (100, 4), (300, 5), (4000, 6), (33, 2), (5000, 12)]:
        ops += alloc(n, k)
    ops += resize(7, 6000) + resize(7, 50) + remap(6, 8000) + realloc(5, 20) + realloc(0, 700)
    ops += CHECK + free(3) + free(0) + alloc(64, 4) + realloc(1, 100000) + CHECK
    ops += free(2) + free(1) + free(0) + CHECK
    return ops


def lifo():
    ops = alloc(100) + alloc(200) + resize(1, 400) + resize(1, 10) + free(1)
    ops += resize(0, 300) + realloc(0, 600) + remap(0, 1200) + free(0)
    ops += alloc(16, 4) + alloc(16, 4) + free(0) + alloc(16, 4) + CHECK
    return ops


def shrink_free_loop(big=65536 + 1, times=24):
    """Allocate a big block, shrink it to a few bytes, free it: nothing stays live."""
    ops = []
    for _ in range(times):
        ops += alloc(big, 3) + resize(0, 8) + free(0)
    return ops


def split_loop(times=16):
    """A 4-bigpage block (3 bigpages + 1 byte), freed; a 1-bigpage block carved from it, freed; again."""
    ops = []
    for _ in range(times):
        ops += alloc(3 * 65536 + 1, 3) + free(0) + alloc(65536, 3) + free(0)
    return ops


def aligned_run_kept(shift):
    """A 4-bigpage run freed, then a 128 KiB-aligned one (padded to it), freed; a
    request of the first class, small blocks (and a class-map table), and the
    128 KiB-aligned request again: it must get its run back, not grow the break.
    `shift` live 1-bigpage blocks first: the fake break may start at either parity."""
    ops = sum((alloc(65536, 3) for _ in range(shift)), [])
    ops += alloc(3 * 65536 + 1, 3) + free(shift) + alloc(3 * 65536 + 1, 17) + free(shift)
    ops += alloc(100, 0) + alloc(3 * 65536 + 1, 4) + alloc(1, 8) + alloc(4, 2)
    return ops + alloc(3 * 65536 + 1, 17)


def class_cycle(times=6):
    """Many blocks of one class freed, then of the next class: each class's peak."""
    ops = []
    for round_ in range(times):
        n = 16 << round_
        ops += sum((alloc(n, 3) for _ in range(40)), [])
        ops += sum((free(0) for _ in range(40)), [])
    return ops


def reset_cycles():
    ops = []
    for mode, limit in [(0, 0), (1, 0), (2, 4), (2, 200), (1, 0), (0, 0)]:
        ops += alloc(100) + alloc(3000, 6) + alloc(20000) + resize(0, 150) + CHECK
        ops += reset(mode, limit)
    return ops + alloc(50) + CHECK


def exhaust(n=64, size=700):
    ops = sum((alloc(size, 4) for _ in range(n)), [])
    return ops + free(5) + alloc(size, 4) + reset(0) + alloc(size, 4)


def pool_cycle():
    ops = sum((alloc(1) for _ in range(20)), []) + free(3) + free(0) + alloc(1)
    ops += resize(0, 5) + CHECK + reset(1) + sum((alloc(1) for _ in range(8)), [])
    ops += reset(2, 3) + alloc(1) + reset(0) + alloc(1) + resize(0, 4) + alloc(1)
    return ops


SEEDS = {
    "page": [("basic", 0, 0, basic()), ("lifo", 1, 0, lifo()),
             ("large_align", 0, 0, alloc(5000, 15) + alloc(70000, 16) + realloc(0, 200000) + free(1))],
    "c": [("basic", 0, 0, basic()), ("lifo", 1, 0, lifo())],
    "raw_c": [("basic", 0, 0, basic()), ("lifo", 1, 0, lifo())],
    "fba": [("basic", 0, 255, basic()), ("lifo", 3, 10, lifo()), ("creep", 0, 31, creep()),
            ("exhaust", 9, 100, exhaust()), ("reset", 1, 255, reset_cycles())],
    "fba_ts": [("basic", 0, 255, basic()), ("exhaust", 5, 60, exhaust())],
    "arena_page": [("reset", 0, 0, reset_cycles()), ("lifo", 1, 0, lifo())],
    "arena_c": [("reset", 0, 0, reset_cycles()), ("basic", 1, 0, basic()),
                ("creep", 0, 0, creep())],
    "arena_fba": [("reset", 0, 40, reset_cycles()), ("exhaust", 1, 20, exhaust(80, 2000))],
    "arena_failing": [("reset_f%d" % i, 0, i, reset_cycles()) for i in (0, 1, 2, 4)],
    "pool": [("fixed_%d" % p, 20, p, pool_cycle()) for p in (1, 13, 0x2C, 0x3F)] +
            [("growable_%d" % p, 4, 0x40 | p, pool_cycle()) for p in (2, 0x15)],
    "pool_failing": [("cycle_f%d" % i, 0x08, i, pool_cycle()) for i in (0, 1, 3)],
    "stack_fallback": [("basic", 0, 20, basic()), ("lifo", 1, 255, lifo())],
    "thread_safe_c": [("basic", 1, 0, basic())],
    "thread_safe_fba": [("lifo", 0, 200, lifo()), ("exhaust", 0, 50, exhaust())],
    "thread_safe_arena": [("basic", 0, 0, basic())],
    "sbrk": [("basic", 0, 31, basic()), ("lifo", 1, 31, lifo()),
             ("class_cycle", 0, 31, class_cycle()),
             # once findings (fixed: a resize no longer shrinks into a smaller class)
             ("shrink_free_loop", 0, 31, shrink_free_loop()),
             ("shrink_free_small", 0, 3, shrink_free_loop(big=16384, times=40)),
             # once a finding (fixed: a freed run merges with its free neighbours)
             ("sbrk_split_loop", 0, 31, split_loop()),
             ("big_align", 0, 31, alloc(100, 17) + alloc(70000, 17) + free(0) + free(0)),
             # once a finding (fixed: a request takes the least aligned free run of its
             # class, leaving 128 KiB-aligned runs to the requests that need them)
             ("aligned_run_kept", 0, 31, aligned_run_kept(0)),
             ("aligned_run_kept_shifted", 0, 31, aligned_run_kept(1))],
    # flags bits 1-3 pick the bucket size (0 is 16 KiB, 7 the default 128 KiB); bits 4-6
    # turn on never_unmap, retain_metadata, a quarantine of 0
    "debug": [("basic", 0, 0, basic()), ("lifo", 1, 0, lifo()),
              ("limit", 0, 0x80 | 7, exhaust(40, 2000)), ("classes", 0, 0, class_cycle(4)),
              ("basic_128k", 7 << 1, 0, basic()), ("classes_128k", 7 << 1, 0, class_cycle(6)),
              ("classes_4k", 1 << 1, 0, class_cycle(6)),
              ("never_unmap", 0x10, 0, basic() + class_cycle(3)),
              ("retain_metadata", 0x20, 0, basic() + lifo()),
              ("no_quarantine", 0x40 | (2 << 1), 0, class_cycle(5)),
              ("all_options", 0x70 | (3 << 1), 0, basic() + lifo() + exhaust(20, 3000))],
    # flags bits 1-3 == 7: trim at the end (nothing may stay cached)
    "smp": [("basic", 0, 0, basic()), ("lifo", 1, 0, lifo()), ("classes", 0, 0, class_cycle(5)),
            ("trim", 7 << 1, 0, basic() + class_cycle(3)),
            ("large_align", 0, 0, alloc(5000, 15) + alloc(70000, 16) + realloc(0, 200000) + free(1))],
    "failing": [("basic_f%d" % i, 0xFE, i, basic()) for i in (0, 2, 5)] +
               [("resize_f%d" % i, 2 * i, 255, lifo()) for i in (0, 1)],
}

# Reproducers of findings not fixed yet: replayed by a test that is expected to fail
# until the allocator is fixed (tests/fuzz/CMakeLists.txt, docs/testing.md). Files
# the fuzzer found itself (corpus/arena_fba/arena_*) are kept as they are, not written here.
KNOWN = {
}


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(bytes(data))


def main():
    for target, seeds in SEEDS.items():
        for name, flags, param, ops in seeds:
            write(os.path.join(HERE, "corpus", target, name), [flags, param] + ops)
    for name, (target, flags, param, ops) in KNOWN.items():
        write(os.path.join(HERE, "known", target, name), [flags, param] + ops)
    return 0


if __name__ == "__main__":
    sys.exit(main())
