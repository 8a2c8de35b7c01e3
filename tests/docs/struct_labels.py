#!/usr/bin/env python3
"""struct_labels.py - every struct in the public headers opens with a field label.

The policy (docs/architecture.md, Conventions, "Public structs"): the fields of a
struct in include/zheap/ come in groups, each opened by `/* public */`,
`/* read-only */` or `/* private */` (a label may say more after a space, e.g.
`/* public (may be changed between calls) */`). This check fails, naming the
header and line, for a struct whose first line inside the braces is not a label.

usage: struct_labels.py [--root DIR]
"""
import argparse
import pathlib
import re
import sys

LABEL = re.compile(r"^\s*/\* (public|read-only|private)( [^*]*)? \*/\s*$")
OPENING = re.compile(r"^\s*(typedef\s+)?struct\s+\w+\s*\{")


def unlabelled(header: pathlib.Path):
    lines = header.read_text().splitlines()
    for i, line in enumerate(lines):
        if not OPENING.match(line):
            continue
        following = next((l for l in lines[i + 1:] if l.strip()), "")
        if not LABEL.match(following):
            yield i + 1, line.strip()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default=pathlib.Path(__file__).resolve().parents[2])
    root = pathlib.Path(parser.parse_args().root)
    failures = [
        f"{header.relative_to(root)}:{n}: `{text}` does not open with a field label"
        for header in sorted((root / "include" / "zheap").glob("*.h"))
        for n, text in unlabelled(header)
    ]
    for failure in failures:
        print(failure, file=sys.stderr)
    structs = sum(
        1
        for header in (root / "include" / "zheap").glob("*.h")
        for line in header.read_text().splitlines()
        if OPENING.match(line)
    )
    if structs == 0:
        print("struct_labels: no structs found (wrong --root?)", file=sys.stderr)
        return 1
    print(f"struct_labels: {structs} structs, {len(failures)} unlabelled")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
