"""A sizeable Python workload for the preload tests and benchmarks: threads,
dicts, lists, strings, json, re, sorting, hashing. Deterministic output."""
import hashlib
import json
import re
import sys
import threading
from collections import Counter, defaultdict

SCALE = int(sys.argv[1]) if len(sys.argv) > 1 else 1


def words(seed, n):
    x = seed
    out = []
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out.append("w%x" % (x % 5003) * (1 + x % 3))
    return out


def worker(seed, results, index):
    ws = words(seed, 20000 * SCALE)
    counts = Counter(ws)
    groups = defaultdict(list)
    for w in ws:
        groups[len(w)].append(w)
    doc = json.dumps({k: sorted(v)[:50] for k, v in groups.items()}, sort_keys=True)
    back = json.loads(doc)
    pattern = re.compile(r"w([0-9a-f]+)")
    hexes = sum(int(m.group(1), 16) for m in pattern.finditer(" ".join(ws[:5000])))
    digest = hashlib.sha256(doc.encode()).hexdigest()
    blob = [bytearray(i % 300 + 1) for i in range(3000)]
    results[index] = (len(counts), counts.most_common(3), len(back), hexes, digest,
                      sum(len(b) for b in blob))


results = [None] * 4
threads = [threading.Thread(target=worker, args=(s, results, i)) for i, s in enumerate((1, 7, 42, 99))]
for t in threads:
    t.start()
for t in threads:
    t.join()
for r in results:
    print(r)
table = {i: str(i) * (i % 7) for i in range(100000 * SCALE)}
print(len(table), sum(len(v) for v in table.values()))
print(sorted(table.items(), key=lambda kv: (len(kv[1]), -kv[0]))[:3])
