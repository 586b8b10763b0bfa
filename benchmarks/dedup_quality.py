"""Near-dedup quality on real license texts: pairs found vs brute-force exact Jaccard.

    python benchmarks/dedup_quality.py [--glob '/usr/share/doc/*/copyright'] [--threshold 0.8]

The copyright files of the installed Debian packages are real near-duplicates (the
same licenses with different headers, years and package names). Truth: every pair
whose exact Jaccard similarity of word 5-gram shingle sets (the same shingles
``minhash_dedup`` uses) is >= the threshold, computed for all pairs with a sparse
matrix product. Found: every pair of files that ``minhash_dedup`` puts in one
cluster. Prints precision and recall of pairs with verification on and off, and
exits 1 when the verified run misses ``--target`` on either.
"""

from __future__ import annotations

import argparse
import glob
import itertools
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy import sparse

from sftdata.dedup import minhash_dedup, shingles


def exact_pairs(texts: list[str], threshold: float) -> set[tuple[int, int]]:
    """All pairs with exact shingle-set Jaccard >= threshold (sparse A @ A.T)."""
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, t in enumerate(texts):
        ids = {vocab.setdefault(s, len(vocab)) for s in shingles(t)}
        rows.extend([i] * len(ids))
        cols.extend(ids)
    a = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=(len(texts), len(vocab))
    )
    sizes = np.asarray(a.sum(axis=1)).ravel()
    inter = sparse.triu(a @ a.T, k=1).tocoo()
    jac = inter.data / (sizes[inter.row] + sizes[inter.col] - inter.data)
    keep = jac >= threshold
    return set(zip(inter.row[keep].tolist(), inter.col[keep].tolist(), strict=True))


def cluster_pairs(texts: list[str], threshold: float, verify: bool) -> tuple[set, float]:
    rows = [{"id": i, "text": t} for i, t in enumerate(texts)]
    t0 = time.perf_counter()
    kept, rejected = minhash_dedup(rows, threshold=threshold, verify=verify)
    seconds = time.perf_counter() - t0
    groups = defaultdict(list)
    for r in kept:
        groups[r["id"]].append(r["id"])
    for r in rejected:
        groups[r["dup_of"]].append(r["id"])
    pairs = {
        (min(i, j), max(i, j)) for m in groups.values() for i, j in itertools.combinations(m, 2)
    }
    return pairs, seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--glob", default="/usr/share/doc/*/copyright")
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--target", type=float, default=0.95)
    args = ap.parse_args()
    paths = sorted(glob.glob(args.glob))
    texts = [Path(p).read_text(encoding="utf-8", errors="replace") for p in paths]
    if len(texts) < 2:
        print(f"no files match {args.glob}")
        return 1
    t0 = time.perf_counter()
    truth = exact_pairs(texts, args.threshold)
    t_brute = time.perf_counter() - t0
    n_words = sum(len(t.split()) for t in texts)
    print(
        f"{len(texts)} files ({n_words} words), threshold {args.threshold}: "
        f"{len(truth)} true pairs by brute force ({t_brute:.1f} s); machine shared"
    )
    ok = True
    for verify in (True, False):
        found, seconds = cluster_pairs(texts, args.threshold, verify)
        tp = len(found & truth)
        precision = tp / max(len(found), 1)
        recall = tp / max(len(truth), 1)
        print(
            f"verify={verify!s:<5}  found {len(found):>6} pairs  precision {precision:.3f}  "
            f"recall {recall:.3f}  ({seconds:.2f} s)"
        )
        if verify:
            ok = min(precision, recall) >= args.target
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
