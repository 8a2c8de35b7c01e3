"""Checks the debug-mode report of exit_threads.c: the leak check ran while other
threads allocated, so it may name leaks (blocks live at exit) but nothing else;
every leak report is whole (size, allocation trace, summary line) and the SUMMARY
total agrees with the reports.
usage: check_exit_report.py REPORT"""
import re
import sys

text = open(sys.argv[1]).read()
blocks = [b for b in text.split("=================================================================\n") if b.strip()]
errors = []
leaks = 0
for b in blocks:
    if b.startswith("SUMMARY: zheap:") or "leak check skipped" in b:
        continue
    m = re.match(r"==zheap== ERROR: (\S+) on address 0x[0-9a-f]+ \((\d+) bytes, alignment (\d+)\)", b)
    if not m or m.group(1) != "memory-leak":
        errors.append("not a whole leak report:\n" + b[:600])
        continue
    size = int(m.group(2))
    if size == 0 or size > 300000:
        errors.append(f"a leak of {size} bytes, more than the program allocates:\n" + b[:600])
    if not re.search(r"allocated by thread \d+ at:\n    (#0 0x[0-9a-f]+|\(no stack trace: stack_trace_frames is 0)", b):
        errors.append("a leak report without its allocation trace:\n" + b[:600])
    if not re.search(rf"SUMMARY: zheap: memory-leak of {size} bytes at 0x[0-9a-f]+ in ", b):
        errors.append("a leak report without its summary line:\n" + b[:600])
    leaks += 1
total = re.search(r"SUMMARY: zheap: \d+ byte\(s\) leaked in (\d+) allocation\(s\)\.", text)
if "leak check skipped" in text:
    print("check_exit_report: the leak check was skipped (a thread stayed inside)")
elif not total:
    errors.append("no leak summary line")
elif int(total.group(1)) != leaks:
    errors.append(f"summary says {total.group(1)} leaks, {leaks} reported")
if errors:
    print("\n".join(errors[:5]))
    sys.exit(1)
print(f"check_exit_report: {leaks} leak reports, nothing else")
