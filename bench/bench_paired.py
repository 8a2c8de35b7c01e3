#!/usr/bin/env python3
"""bench_paired.py - CPU-time ratios of two allocators, measured side by side.

    bench/bench_paired.py [--reps N] [--workload W]... [--sequential CPU] BUILD_DIR A B

Sequential, interleaved runs on a shared machine (what zheap-bench-smp does) move
10-40 % between runs twenty minutes apart, more than the differences between good
allocators. This driver runs one process of A and one of B *at the same time*, each
pinned to its own CPU (taskset; the CPUs swap every repetition), so both see the
same machine - the same neighbours, the same memory bandwidth - and reports the
median and quartiles of the per-pair ratio A/B of user+system CPU time. On the
project's 2-core VM the quartiles of that ratio were within 3 % of the median in a
quiet period and up to 30 % wide in a busy one (docs/benchmarks.md): report them.

Only single-threaded workloads are paired (churn, small-all, realloc, large by
default): a multi-threaded one would compete with its partner for the two cores.

With --sequential CPU the two processes of a pair run one after the other instead,
in a random order, on CPU (a number) or unpinned ('any', which also allows the
multi-threaded workloads). When the two CPUs themselves differ - on the VM on
2026-12-04 the same build ran churn on CPU 0 in 0.63-1.00x its time on CPU 1 at
the same moment (12 simultaneous pairs) - a pair on one CPU is the steadier
measure, and it still sees the same minute of the machine.

A and B name an allocator: zheap-smp (zh_smp_allocator through zh_allocator),
zheap-preload (malloc through libzheap-malloc.so), glibc, jemalloc, mimalloc,
tcmalloc (found in ZHEAP_BENCH_PEER_DIRS or /usr/lib/x86_64-linux-gnu), or
BINARY:API for another build's zheap-bench-smp (API smp or malloc) - the way to
compare a change against main. Each process is `zheap-bench-smp --child W API 1 0`.
Exits non-zero with a message on bad arguments, a missing library or a failed run;
needs Linux and taskset.
"""
import argparse
import os
import random
import statistics
import subprocess
import sys

PEERS = {
    "jemalloc": "libjemalloc.so.2",
    "mimalloc": "libmimalloc.so.2",
    "tcmalloc": "libtcmalloc_minimal.so.4",
}
DEFAULT_WORKLOADS = ["churn", "small-all", "realloc", "large"]


def find_library(name, build):
    dirs = os.environ.get("ZHEAP_BENCH_PEER_DIRS", "/usr/lib/x86_64-linux-gnu").split(":")
    for d in [build] + dirs:
        path = os.path.join(d, name)
        if os.path.exists(path):
            return path
    sys.exit(f"bench_paired: {name} not found (ZHEAP_BENCH_PEER_DIRS)")


def case(spec, build):
    """(argv prefix, extra environment, api) for an allocator name."""
    bench = os.path.join(build, "bench", "zheap-bench-smp")
    if spec == "zheap-smp":
        return bench, {}, "smp"
    if spec == "zheap-preload":
        return bench, {"LD_PRELOAD": find_library("libzheap-malloc.so", build)}, "malloc"
    if spec == "glibc":
        return bench, {}, "malloc"
    if spec in PEERS:
        return bench, {"LD_PRELOAD": find_library(PEERS[spec], build)}, "malloc"
    binary, sep, api = spec.rpartition(":")
    if sep and api in ("smp", "malloc") and os.access(binary, os.X_OK):
        return binary, {}, api
    sys.exit(f"bench_paired: unknown allocator {spec!r}")


def start(c, workload, cpu):
    """Starts one child; cpu None: unpinned."""
    binary, extra, api = c
    env = dict(os.environ, **extra)
    pin = [] if cpu is None else ["taskset", "-c", str(cpu)]
    argv = pin + [binary, "--child", workload, api, "1", "0"]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)


def cpu_ms(proc):
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        sys.exit(f"bench_paired: {proc.args} failed (status {status})")
    return (usage.ru_utime + usage.ru_stime) * 1e3


def quartiles(values):
    v = sorted(values)
    return v[len(v) // 4], statistics.median(v), v[(3 * len(v)) // 4]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=16)
    ap.add_argument("--workload", action="append")
    ap.add_argument("--sequential", metavar="CPU",
                    help="run a pair one after the other on CPU (a number, or 'any')")
    ap.add_argument("build")
    ap.add_argument("a")
    ap.add_argument("b")
    args = ap.parse_args()
    if args.reps < 2 or os.cpu_count() < 2:
        sys.exit("bench_paired: needs --reps >= 2 and two CPUs")
    a, b = case(args.a, args.build), case(args.b, args.build)
    seq_cpu = None
    if args.sequential is not None and args.sequential != "any":
        if not args.sequential.isdigit():
            sys.exit("bench_paired: --sequential takes a CPU number or 'any'")
        seq_cpu = int(args.sequential)
    print(f"| workload | {args.a} / {args.b}, median | q1 | q3 | {args.a} ms | {args.b} ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for w in args.workload or DEFAULT_WORKLOADS:
        ratios, ta, tb = [], [], []
        for r in range(args.reps):
            if args.sequential is None:
                pa, pb = start(a, w, r % 2), start(b, w, 1 - r % 2)
                x, y = cpu_ms(pa), cpu_ms(pb)
            else:
                order = [(0, a), (1, b)]
                random.shuffle(order)
                ms = dict((k, cpu_ms(start(c, w, seq_cpu))) for k, c in order)
                x, y = ms[0], ms[1]
            ratios.append(x / y), ta.append(x), tb.append(y)
        q1, med, q3 = quartiles(ratios)
        print(f"| {w} | {med:.3f} | {q1:.3f} | {q3:.3f} | "
              f"{statistics.median(ta):.1f} | {statistics.median(tb):.1f} |", flush=True)


if __name__ == "__main__":
    main()
