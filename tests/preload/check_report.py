"""Checks the debug-mode report of planted.c: every planted bug is reported with
its kind, size and a trace that names the planting function; plus the leak summary.
usage: check_report.py REPORT"""
import re
import sys

EXPECTED = [  # (kind, size in the ERROR/SUMMARY line, planting function)
    ("memory-leak", 1234, "plant_leak"),
    ("double-free", 48, "plant_double_free"),
    ("invalid-free", None, "plant_invalid_free_stack"),
    ("invalid-free", None, "plant_invalid_free_interior"),
    ("size-mismatch", 100, "plant_mismatched_free_sized"),
    ("heap-buffer-overflow", 20, "plant_overflow"),
    ("write-after-free", 40, "plant_write_after_free"),
]

text = open(sys.argv[1]).read()
blocks = [b for b in text.split("=================================================================\n") if "ERROR:" in b]
failures = 0
for kind, size, function in EXPECTED:
    found = False
    for b in blocks:
        if f"ERROR: {kind} " not in b or function not in b:
            continue
        if size is not None and not re.search(rf"\b{size} bytes", b):
            continue
        found = True
    if not found:
        print(f"check_report: no {kind} report of {size} bytes naming {function}")
        failures += 1
if "points inside a block" not in text:
    print("check_report: the interior free is not described as such")
    failures += 1
if not re.search(r"SUMMARY: zheap: \d+ byte\(s\) leaked in \d+ allocation\(s\)\.", text):
    print("check_report: no leak summary line")
    failures += 1
if failures:
    print(text)
    sys.exit(1)
print(f"check_report: {len(EXPECTED)} planted bugs reported ({len(blocks)} reports)")
