#!/usr/bin/env python3
"""reference.py - docs/reference.md from the public headers, and a check that it is whole.

The public headers are the single source of the API's documentation: every public
declaration carries a comment that says what it does, who owns what, thread safety,
the failure result and alignment rules. This script gathers them, header by header,
into docs/reference.md, and checks that the committed page names everything public.

  reference.py generate [--root DIR]           rewrite docs/reference.md
  reference.py check [--root DIR] [--nm-symbols FILE]
        fail (exit 1) when an exported symbol (one name a line, e.g. from `nm -D`),
        a public macro, type, enum constant or inline function of include/zheap/*.h
        has no entry in docs/reference.md, or when the page is out of date with the
        headers (run `generate` and commit).
"""
import argparse
import os
import re
import subprocess
import sys

# The order a reader meets the API in; headers not listed come after, sorted.
HEADER_ORDER = ["zheap.h", "allocator.h", "page.h", "c.h", "fba.h", "arena.h", "pool.h",
                "stack_fallback.h", "thread_safe.h", "sbrk.h", "wasm.h", "debug.h",
                "smp.h", "testing.h", "version.h", "mutex.h", "export.h", "zheap.hpp"]

PUBLIC = re.compile(r"\b(zh_[A-Za-z0-9_]+|ZH_[A-Z0-9_]+)\b")
COMMENT = re.compile(r"/\*.*?\*/", re.S)


def is_public(name):
    return (name.startswith("zh_") or name.startswith("ZH_")) and "__" not in name[:4]


def comment_text(comment):
    """The words of a /* ... */ comment, without the stars."""
    body = comment[2:-2]
    lines = []
    for line in body.split("\n"):
        line = re.sub(r"^\s*\*( |$)", "", line.rstrip())
        lines.append(line.strip() if not line.startswith("  ") else line)
    text = "\n".join(lines).strip()
    text = re.sub(r"^-{3,}\s*|\s*-{3,}$", "", text, flags=re.M)  # section rules
    return text


def split_items(text):
    """Tokenises a header into ('comment', text) and ('code', text) items."""
    items = []
    pos = 0
    while pos < len(text):
        if text.startswith("/*", pos):
            end = text.index("*/", pos) + 2
            items.append(("comment", text[pos:end]))
            pos = end
        elif text.startswith("//", pos):
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            pos = end
        elif text[pos].isspace():
            nl = text.count("\n", pos, pos + 1)
            if nl and text.startswith("\n", pos) and pos + 1 < len(text) and text[pos + 1] == "\n":
                items.append(("blank", ""))
            pos += 1
        else:
            end = code_end(text, pos)
            items.append(("code", text[pos:end]))
            pos = end
    return items


def code_end(text, pos):
    """End of the declaration starting at pos: a preprocessor line (with
    continuations), a braced body (balanced, up to the ; or the closing }), or ;."""
    if text[pos] == "#":
        end = pos
        while True:
            nl = text.find("\n", end)
            if nl < 0:
                return len(text)
            if text[nl - 1] != "\\":
                return nl
            end = nl + 1
    depth = 0
    i = pos
    while i < len(text):
        c = text[i]
        if text.startswith("/*", i):
            i = text.index("*/", i) + 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                # a function body ends here unless a declarator follows (typedef ... } name;)
                rest = text[i + 1:]
                m = re.match(r"\s*([A-Za-z_][\w\s,\*]*)?;", rest)
                if m:
                    return i + 1 + m.end()
                return i + 1
        elif c == ";" and depth == 0:
            return i + 1
        elif c == "\n" and depth == 0 and text.startswith("extern \"C\"", pos):
            return i
        i += 1
    return len(text)


def names_of(code):
    """Public names a declaration introduces."""
    code_nc = COMMENT.sub("", code)
    names = []
    m = re.match(r"#\s*define\s+([A-Za-z_]\w*)", code_nc)
    if m:
        return [m.group(1)] if is_public(m.group(1)) and not m.group(1).endswith("_H") else []
    if code_nc.lstrip().startswith("#"):
        return []
    if code_nc.startswith("typedef") or re.match(r"(struct|enum|union)\s+\w+\s*\{", code_nc):
        m = re.search(r"\}\s*([A-Za-z_]\w*)\s*;\s*$", code_nc)
        if m:
            names.append(m.group(1))
        else:
            m = re.search(r"\(\s*\*\s*([A-Za-z_]\w*)\s*\)\s*\(", code_nc)  # function pointer
            m = m or re.search(r"([A-Za-z_]\w*)\s*(\[[^\]]*\])?\s*;\s*$", code_nc)
            if m:
                names.append(m.group(1))
        if re.search(r"\benum\b", code_nc):
            body = code_nc[code_nc.find("{") + 1:code_nc.rfind("}")]
            for part in body.split(","):
                m = re.match(r"\s*([A-Za-z_]\w*)", part)
                if m:
                    names.append(m.group(1))
        return [n for n in names if is_public(n)]
    head = code_nc.split("{", 1)[0]
    m = re.search(r"([A-Za-z_]\w*)\s*\(([^()]|\([^()]*\))*\)\s*(ZH_\w+\s*(\([^)]*\))?\s*)*$", head.strip().rstrip(";").strip())
    if m:
        return [m.group(1)] if is_public(m.group(1)) else []
    for m in re.finditer(r"\b(zh_\w+)\s*(=|;|,|\[)", code_nc):  # objects
        names.append(m.group(1))
    return [n for n in names if is_public(n)]


def signature(code):
    """What the reference shows of a declaration: everything but an inline body."""
    if code.startswith("#") or code.startswith("typedef") or re.match(r"(struct|enum|union)\s", code):
        return code.strip()
    if "{" in code and code.rstrip().endswith("}"):
        return code.split("{", 1)[0].rstrip() + ";"
    return code.strip()


def parse_header(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    # C++ linkage guards are not declarations.
    text = re.sub(r'#\s*ifdef\s+__cplusplus\s*\n\s*extern\s+"C"\s*\{\s*\n\s*#\s*endif', "", text)
    text = re.sub(r'#\s*ifdef\s+__cplusplus\s*\n\s*\}\s*\n\s*#\s*endif', "", text)
    items = split_items(text)
    intro = ""
    if items and items[0][0] == "comment":
        intro = comment_text(items[0][1])
        items = items[1:]
    entries = []  # (names, [signatures], doc)
    pending = None
    last_entry_open = False
    for kind, body in items:
        if kind == "comment":
            pending = comment_text(body)
            last_entry_open = False
            continue
        if kind == "blank":
            last_entry_open = False
            continue
        names = names_of(body)
        if not names:
            continue
        if pending is None and last_entry_open and entries:
            entries[-1][0].extend(names)  # shares the comment above the group
            entries[-1][1].append(signature(body))
        else:
            entries.append((names, [signature(body)], pending or ""))
        pending = None
        last_entry_open = True
    return intro, entries


def header_paths(root):
    inc = os.path.join(root, "include", "zheap")
    # internal.h holds only zh__ helpers for inline fast paths: not API.
    files = [f for f in os.listdir(inc) if f.endswith((".h", ".hpp")) and f != "internal.h"]
    order = {h: i for i, h in enumerate(HEADER_ORDER)}
    files.sort(key=lambda f: (order.get(f, len(order)), f))
    paths = [os.path.join(inc, f) for f in files]
    config = os.path.join(root, "cmake", "config.h.in")
    if os.path.exists(config):
        paths.append(config)
    return paths


def display_name(path):
    base = os.path.basename(path)
    return "config.h" if base == "config.h.in" else base


def generate(root):
    out = ["# API reference", "",
           "Every public function, macro, type and constant of libzheap, header by header,",
           "with its signature and the documentation the header gives it (ownership, thread",
           "safety, failure result, alignment rules). Generated from `include/zheap/*.h` by",
           "`python3 tests/docs/reference.py generate`; the `docs_reference` test fails when",
           "a public name or exported symbol is missing here or the page is stale.",
           "Guides: [guide.md](guide.md) and one page per allocator.", "",
           "Headers: " + ", ".join("[`%s`](#zheap%s)" % (display_name(p), re.sub(r"[^a-z0-9]", "", display_name(p)))
                                   for p in header_paths(root)), ""]
    for path in header_paths(root):
        name = display_name(path)
        intro, entries = parse_header(path)
        out.append("## zheap/%s" % name)
        out.append("")
        if intro:
            out.append(intro)
            out.append("")
        for names, sigs, doc in entries:
            out.append("### " + ", ".join("`%s`" % n for n in dict.fromkeys(names)))
            out.append("")
            out.append("```c" if not name.endswith(".hpp") else "```cpp")
            out.extend(sigs)
            out.append("```")
            out.append("")
            if doc:
                out.append(doc)
                out.append("")
    return "\n".join(out).rstrip() + "\n"


def documented_names(page):
    names = set()
    for line in page.split("\n"):
        if line.startswith("### "):
            names.update(re.findall(r"`([^`]+)`", line))
    return names


def public_names(root):
    names = set()
    for path in header_paths(root):
        for entry_names, _, _ in parse_header(path)[1]:
            names.update(entry_names)
        with open(path, encoding="utf-8") as f:
            for m in re.finditer(r"^\s*#\s*define\s+(ZH_[A-Z0-9_]+)", f.read(), re.M):
                if is_public(m.group(1)):
                    names.add(m.group(1))
    return names


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["generate", "check"])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(__file__), "..", ".."))
    ap.add_argument("--nm-symbols", help="file with exported symbol names, one a line")
    ap.add_argument("--shared-lib", help="read the exported symbols with nm -D from this library")
    args = ap.parse_args()
    root = os.path.abspath(args.root)
    page_path = os.path.join(root, "docs", "reference.md")
    if args.mode == "generate":
        with open(page_path, "w", encoding="utf-8") as f:
            f.write(generate(root))
        print("wrote %s" % page_path)
        return 0
    with open(page_path, encoding="utf-8") as f:
        page = f.read()
    have = documented_names(page)
    want = public_names(root)
    exported = set()
    if args.nm_symbols:
        with open(args.nm_symbols, encoding="utf-8") as f:
            exported.update(l.strip() for l in f if l.strip())
    if args.shared_lib:
        nm = subprocess.run(["nm", "-D", "--defined-only", args.shared_lib],
                            capture_output=True, text=True, check=True)
        exported.update(l.split()[-1] for l in nm.stdout.splitlines() if l.split())
    headers = "".join(open(p, encoding="utf-8").read() for p in header_paths(root))
    for sym in sorted(exported):
        if sym.startswith("zh__"):
            # Out-of-line halves of inline fast paths: declared in a public header as
            # "not to be called directly", documented with the inline function.
            if re.search(r"\b%s\b" % re.escape(sym), headers):
                continue
            print("FAIL exported %s is declared in no public header" % sym)
            want.add(sym)
        elif sym.startswith("zh_"):
            want.add(sym)
    missing = sorted(want - have)
    passed = failed = 0
    for n in missing:
        print("FAIL no entry in docs/reference.md for %s" % n)
        failed += 1
    passed += len(want) - len(missing)
    if page != generate(root):
        print("FAIL docs/reference.md is stale: run python3 tests/docs/reference.py generate")
        failed += 1
    else:
        passed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
