#!/usr/bin/env python3
"""check_snippets.py - compile (and run) every C code block of README.md and docs/*.md.

The docs must not drift from the code: each ```c block is turned into a translation
unit, compiled against the headers with the project's warnings as errors, and, when
it is a whole program (it defines main), linked against libzheap and run; it must
exit 0. Fragments are wrapped as follows:

  * A block that includes headers itself gets nothing else: it must include what it
    uses (a fragment that calls memcpy without <string.h> fails, as it would for a
    reader who copies it).
  * A block without #include gets `#include <zheap/zheap.h>` only.
  * Lines at file scope (preprocessor lines, struct/enum/typedef definitions, static
    or file-scope object definitions at column 0, function definitions) stay at file
    scope; the remaining statements go into the body of a function.
  * Context a fragment assumes (a variable, a type, a helper) is written in the
    Markdown right before the fence, invisible when rendered:
        <!-- snippet-context: struct node { int key; }; int frames = 3; -->
  * <!-- snippet: declarations --> marks a listing of prototypes: they are compiled
    after the headers as redeclarations, so a signature that disagrees with the
    header is an error.
  * <!-- snippet: skip REASON --> skips a block that cannot compile by design (for
    example, a copy of a definition the header already makes); the reason is shown.
  * <!-- snippet: wasm-only --> marks a block for wasm32 builds (zh_wasm_allocator):
    skipped unless --wasm is given.
  * Fragments are illustrations: unused variables, parameters and functions in them
    are not errors. Whole programs get the full warning set.

Usage: check_snippets.py --cc CC --cflags "..." --ldflags "..." --out DIR FILE.md...
"""
import argparse
import os
import re
import shlex
import subprocess
import sys

FRAGMENT_FLAGS = ["-Wno-unused-variable", "-Wno-unused-but-set-variable",
                  "-Wno-unused-function", "-Wno-unused-parameter"]
FENCE_OPEN = re.compile(r"^```c\s*$")
MARKER = re.compile(r"^<!--\s*snippet(-context)?:\s*(.*?)\s*-->\s*$")
FUNC_DEF = re.compile(r"^[A-Za-z_][\w \t\*]*\b[A-Za-z_]\w*\s*\([^;]*\)\s*\{\s*$")
TOP_LEVEL_START = re.compile(r"^(#|typedef\b|struct\s+\w+\s*\{|enum\s+\w*\s*\{|union\s+\w+\s*\{|static\b|_Alignas\b|extern\b)")


def blocks(path):
    """Yields (line_number, code, kind, context) for each ```c block."""
    kind, context = "auto", []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        m = MARKER.match(lines[i])
        if m:
            if m.group(1):
                context.append(m.group(2))
            else:
                kind = m.group(2)
            i += 1
            continue
        if FENCE_OPEN.match(lines[i]):
            start = i + 1
            j = start
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            yield start, "\n".join(lines[start:j]), kind, "\n".join(context)
            kind, context = "auto", []
            i = j + 1
            continue
        if lines[i].strip():
            kind, context = "auto", []
        i += 1


def split_scopes(code):
    """File-scope lines and statement lines of a fragment."""
    top, body = [], []
    lines = code.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if TOP_LEVEL_START.match(line) or FUNC_DEF.match(line):
            # Take the whole construct: up to the line where braces balance and the
            # construct ends (`}` or `;` at depth 0).
            depth = 0
            while True:
                depth += lines[i].count("{") - lines[i].count("}")
                top.append(lines[i])
                ended = depth <= 0 and (lines[i].rstrip().endswith((";", "}")) or lines[i].startswith("#"))
                i += 1
                if ended or i >= len(lines):
                    break
            continue
        body.append(line)
        i += 1
    return "\n".join(top), "\n".join(body)


def translation_unit(code, kind, context):
    has_includes = re.search(r"^#include", code, re.M) is not None
    prelude = "" if has_includes else "#include <zheap/zheap.h>\n"
    if kind == "declarations":
        return "#include <zheap/zheap.h>\n" + context + "\n" + code + "\n", False
    if re.search(r"^int main\s*\(", code, re.M):
        return prelude + context + "\n" + code + "\n", True
    top, body = split_scopes(code)
    includes = "\n".join(l for l in top.split("\n") if l.startswith("#"))
    rest = "\n".join(l for l in top.split("\n") if not l.startswith("#"))
    unit = prelude + includes + "\n" + context + "\n" + rest + "\n"
    if body.strip():
        unit += "void zh_snippet_body(void);\nvoid zh_snippet_body(void) {\n" + body + "\n}\n"
    return unit, False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cc", required=True)
    ap.add_argument("--cflags", default="")
    ap.add_argument("--ldflags", default="")
    ap.add_argument("--out", required=True)
    ap.add_argument("--wasm", action="store_true", help="this build has zh_wasm_allocator")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    cflags = shlex.split(args.cflags)
    ldflags = shlex.split(args.ldflags)
    passed = failed = skipped = 0
    for path in args.files:
        for line, code, kind, context in blocks(path):
            name = "%s_%d" % (os.path.basename(path).replace(".", "_"), line)
            where = "%s:%d" % (path, line)
            if kind == "wasm-only" and not args.wasm:
                kind = "skip wasm32 builds only"
            if kind.startswith("skip"):
                print("skip %s (%s)" % (where, kind[4:].strip() or "no reason given"))
                skipped += 1
                continue
            unit, is_program = translation_unit(code, kind, context)
            src = os.path.join(args.out, name + ".c")
            with open(src, "w", encoding="utf-8") as f:
                f.write(unit)
            exe = os.path.join(args.out, name)
            if is_program:
                cmd = [args.cc, *cflags, src, "-o", exe, *ldflags]
            else:
                cmd = [args.cc, *cflags, *FRAGMENT_FLAGS, "-c", src, "-o", exe + ".o"]
            r = subprocess.run(cmd, capture_output=True, text=True)
            ok = r.returncode == 0
            detail = r.stderr
            if ok and is_program:
                run = subprocess.run([exe], capture_output=True, text=True, timeout=60)
                ok = run.returncode == 0
                detail = "exit %d\n%s%s" % (run.returncode, run.stdout, run.stderr)
            print("%s %s (%s)" % ("ok  " if ok else "FAIL", where,
                                  "program, run" if is_program else kind if kind != "auto" else "fragment"))
            if not ok:
                print("  generated: %s\n%s" % (src, "\n".join("  " + l for l in detail.splitlines()[:30])))
                failed += 1
            else:
                passed += 1
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
