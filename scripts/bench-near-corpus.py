#!/usr/bin/env python3
"""Builds the corpora of the near-duplicate calibration (attestor/benches/near.rs) from real human text that
nobody here wrote, installed from Debian packages by scripts/bench-near.sh:

- OUT/store.jsonl: the "attested outputs" whose near-copies are planted: paragraphs of the English manual pages
  (/usr/share/man/man1..8) and of the README and .txt files under /usr/share/doc, 25 to 400 words each;
- OUT/null.jsonl: the null corpus, unrelated to the store: the fortune cookies of the `fortunes` and
  `fortunes-min` packages and the entries of the Jargon File (`jargon-text`), at least 12 words each.

Each line is {"text": ..., "source": ...}. Texts are deduplicated after whitespace normalization, and a null text
that also appears in the store (a fortune quoting a manual page) is dropped: it is not unrelated.

Usage: bench-near-corpus.py OUT
"""

import gzip
import json
import os
import re
import sys
import unicodedata


def normalized(text):
    return " ".join(unicodedata.normalize("NFC", text).split())


def read(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return f.read().decode("utf-8", errors="replace")


ESCAPES = [
    (re.compile(r"\\f(\[[^\]]*\]|\(..|.)"), ""),
    (re.compile(r"\\s[+-]?\d"), ""),
    (re.compile(r"\\\(..|\\\[[^\]]*\]"), " "),
    (re.compile(r"\\[-e]"), "-"),
    (re.compile(r"\\[&c|^%]"), ""),
    (re.compile(r"\\(.)"), r"\1"),
]
TEXT_MACROS = {"B", "I", "BR", "IR", "RB", "RI", "BI", "IB", "SM", "SB"}
BREAK_MACROS = {"SH", "SS", "PP", "P", "LP", "TP", "IP", "HP", "sp", "TH", "RS", "RE", "nf", "fi", "EX", "EE"}


def unroff(line):
    for pattern, repl in ESCAPES:
        line = pattern.sub(repl, line)
    return line


def man_paragraphs(source):
    paragraphs, current = [], []
    for raw in source.splitlines():
        if raw.startswith((".", "'")):
            parts = raw[1:].split(None, 1)
            macro = parts[0] if parts else ""
            if macro == "so":
                return []
            if macro in TEXT_MACROS and len(parts) > 1:
                current.append(unroff(parts[1].replace('"', "")))
            elif macro in BREAK_MACROS or macro.startswith('\\"'):
                if current:
                    paragraphs.append(" ".join(current))
                current = []
            continue
        if not raw.strip():
            if current:
                paragraphs.append(" ".join(current))
            current = []
            continue
        current.append(unroff(raw))
    if current:
        paragraphs.append(" ".join(current))
    return paragraphs


def blank_line_paragraphs(text):
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]


def main(out):
    os.makedirs(out, exist_ok=True)
    store, seen = [], set()

    def add(collection, text, source, low, high):
        text = normalized(text)
        words = len(text.split())
        key = text.lower()
        if low <= words <= high and key not in seen:
            seen.add(key)
            collection.append({"text": text, "source": source})

    for section in range(1, 9):
        folder = f"/usr/share/man/man{section}"
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if os.path.islink(path):
                continue
            try:
                for p in man_paragraphs(read(path)):
                    add(store, p, f"man:{name}", 25, 400)
            except (OSError, EOFError):
                pass
    for root, _, files in os.walk("/usr/share/doc"):
        for name in sorted(files):
            base = name.removesuffix(".gz")
            if not (base.upper().startswith("README") or base.endswith(".txt")) or "jargon" in root:
                continue
            try:
                for p in blank_line_paragraphs(read(os.path.join(root, name))):
                    add(store, p, f"doc:{os.path.basename(root)}/{name}", 25, 400)
            except (OSError, EOFError):
                pass

    null = []
    fortunes = "/usr/share/games/fortunes"
    for name in sorted(os.listdir(fortunes)) if os.path.isdir(fortunes) else []:
        path = os.path.join(fortunes, name)
        if "." in name or not os.path.isfile(path):
            continue
        for cookie in re.split(r"^%$", read(path), flags=re.M):
            add(null, cookie, f"fortunes:{name}", 12, 2000)
    jargon = "/usr/share/doc/jargon-text/jargon.txt.gz"
    if os.path.exists(jargon):
        text = read(jargon)
        for entry in re.split(r"\n(?=:[^:\n]+:)", text):
            add(null, entry, "jargon", 12, 2000)

    for name, rows in (("store", store), ("null", null)):
        with open(os.path.join(out, f"{name}.jsonl"), "w") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
    print(f"store: {len(store)} texts; null: {len(null)} texts", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
