#!/usr/bin/env python3
"""The peer of the near-duplicate calibration: datasketch's MinHash and MinHashLSH over the data that
`cargo bench --bench near -- --export DIR` wrote (DIR/store.jsonl, DIR/queries.jsonl, DIR/rust.json), with the same
parameters: the same words and 3-word shingles (the tokenization of verify/src/similarity.rs, re-implemented
below), 128 permutations, LSH of 32 bands x 4 rows, a match at an estimated Jaccard of at least 0.5.

Prints recall on planted copies with Jaccard >= 0.7, false matches among the null records' pairs, the time to make
the MinHashes and the time to index and query, next to prova's figures from rust.json.

Usage: bench-near-peer.py DIR [--perm 128] [--bands 32] [--rows 4] [--threshold 0.5] [--shingle 3]
"""

import argparse
import json
import os
import re
import sys
import time
import unicodedata

from datasketch import MinHash, MinHashLSH

ESCAPE = re.compile(r"\\[nrt]")


def words(text):
    if not text.isascii():
        text = " ".join(unicodedata.normalize("NFC", text).split())
    text = ESCAPE.sub(" ", text)
    out, current = [], []
    for c in text:
        if c.isalnum():
            current.append(c.lower())
        elif current:
            out.append("".join(current))
            current = []
    if current:
        out.append("".join(current))
    return out


def shingles(text, k):
    w = words(text)
    if not w:
        return []
    if len(w) < k:
        return [" ".join(w).encode()]
    return [" ".join(w[i : i + k]).encode() for i in range(len(w) - k + 1)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--perm", type=int, default=128)
    parser.add_argument("--bands", type=int, default=32)
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--shingle", type=int, default=3)
    parser.add_argument("--min-shingles", type=int, default=10)
    args = parser.parse_args()

    def load(name):
        with open(os.path.join(args.dir, name)) as f:
            return [json.loads(line) for line in f]

    store = load("store.jsonl")
    queries = load("queries.jsonl")
    rust = json.load(open(os.path.join(args.dir, "rust.json")))["defaults"]

    t = time.perf_counter()
    def minhash(text):
        s = set(shingles(text, args.shingle))
        if len(shingles(text, args.shingle)) < args.min_shingles:
            return None
        m = MinHash(num_perm=args.perm)
        m.update_batch(list(s))
        return m

    store_mh = [minhash(r["text"]) for r in store]
    query_mh = [minhash(r["text"]) for r in queries]
    fingerprint_secs = time.perf_counter() - t

    t = time.perf_counter()
    lsh = MinHashLSH(num_perm=args.perm, params=(args.bands, args.rows))
    for i, m in enumerate(store_mh):
        if m is not None:
            lsh.insert(i, m)
    found = set()
    for q, m in enumerate(query_mh):
        if m is None:
            continue
        for s in lsh.query(m):
            if m.jaccard(store_mh[s]) >= args.threshold:
                found.add((q, s))
    match_secs = time.perf_counter() - t

    eligible = [q for q, r in enumerate(queries) if r.get("original") is not None and r["jaccard"] >= 0.7]
    hit = sum(1 for q in eligible if (q, queries[q]["original"]) in found)
    null_queries = {q for q, r in enumerate(queries) if r.get("original") is None}
    false_pairs = sum(1 for q, _ in found if q in null_queries)
    null_pairs = len(null_queries) * len(store)
    texts = len(store) + len(queries)
    print(f"texts {texts}; eligible planted copies (J >= 0.7) {len(eligible)}; null pairs {null_pairs:.3e}")
    print("| | recall (J >= 0.7) | false matches / 1e6 pairs | fingerprints | index + match | total |")
    print("|---|---|---|---|---|---|")
    for name, recall, false, fp, match in (
        ("prova (Rust, one-permutation MinHash, 2 cores)", rust["recall_j07"], rust["false_pairs"],
         rust["fingerprint_secs"], rust["match_secs"]),
        (f"datasketch MinHash + MinHashLSH (Python, {args.perm} permutations)", hit / max(1, len(eligible)), false_pairs,
         fingerprint_secs, match_secs),
    ):
        print(f"| {name} | {recall:.4f} | {false / null_pairs * 1e6:.4f} ({false}) | {fp:.2f} s | {match:.2f} s | "
              f"{fp + match:.2f} s |")
    speedup = (fingerprint_secs + match_secs) / max(1e-9, rust["fingerprint_secs"] + rust["match_secs"])
    print(f"prova is {speedup:.0f}x faster end to end on the same texts")


if __name__ == "__main__":
    sys.exit(main())
