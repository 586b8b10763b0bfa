"""MinHash signature throughput vs datasketch and rensa; end-to-end minhash_dedup at 100k.

    python benchmarks/dedup.py [--debian] [--docs 5000] [--datasketch-docs 500] [--e2e-docs 100000]

Part 1, one process, same synthetic documents, same word 5-gram shingles, 128
permutations:

* ``sftdata``: ``minhash_signatures(texts)``, from raw text (normalisation,
  shingling and hashing included);
* ``datasketch``: ``MinHash(num_perm=128).update_batch(shingles)`` per document
  (its default SHA-1 hash of the UTF-8 shingle);
* ``rensa``: ``RMinHash(128, seed).update(shingles)`` per document, and its bulk
  ``RMinHash.digest_matrix_from_token_sets``.

The peers need the shingle strings, built in Python with :func:`shingles`; their
rates are given without that time ("hash only") and with it ("from text").
``t/t_ours`` > 1 means the peer took longer than sftdata.

Part 0 (``--debian``): MinHash signatures from raw text on the Debian copyright files
of this machine (``/usr/share/doc/*/copyright``), one core: sftdata's compiled (numba)
path and its numpy fallback, rensa fed by a plain Python shingler (``lower().split()``
n-grams) and by :func:`shingles` (the same sets as ours), datasketch from text (its
default hash, all documents). MB/s is text bytes (UTF-8) per wall second; CPU seconds
(``time.process_time``) are printed too because the machine may be shared.

Part 2 (``--e2e-docs``, in a child process; RSS sampled every 5 ms during the call):
``minhash_dedup`` on synthetic documents with planted near-duplicates (copies with a
few words replaced): seconds, peak RSS, and precision / recall of same-cluster pairs
against the planted pairs whose exact shingle Jaccard is >= the threshold.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict

import numpy as np

from sftdata.dedup import minhash_dedup, minhash_signatures, shingles


def synthetic_docs(n: int, *, seed: int, vocab_size: int = 50_000) -> list[str]:
    """``n`` documents of 50-400 words drawn from a Zipf-like vocabulary."""
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i:x}" for i in range(vocab_size)], dtype=object)
    docs: list[str] = []
    for lo in range(0, n, 2000):  # in chunks, so generating stays small next to dedup
        lengths = rng.integers(50, 400, size=min(2000, n - lo))
        words = vocab[rng.zipf(1.2, size=int(lengths.sum())) % vocab_size]
        offsets = np.concatenate(([0], np.cumsum(lengths)))
        docs += [" ".join(words[offsets[i] : offsets[i + 1]]) for i in range(len(lengths))]
    return docs


class PeakRss:
    """Sample this process's resident memory every 5 ms; ``peak_mb`` is the maximum seen."""

    def __init__(self) -> None:
        self.peak_mb = self.now_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def now_mb() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak_mb = max(self.peak_mb, self.now_mb())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self.now_mb())


def best_of(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def signature_bench(n_docs: int, n_ds: int) -> None:
    import datasketch
    import rensa

    texts = synthetic_docs(n_docs, seed=0)
    t_shingle = best_of(lambda: [shingles(t) for t in texts], repeat=1)
    sh = [shingles(t) for t in texts]
    n_sh = sum(map(len, sh))
    print(f"{n_docs} docs, {n_sh} shingles (5-grams), 128 permutations; machine shared, best of 3")
    print(f"building shingle strings in Python (peers need them): {t_shingle:.3f} s")

    ours = best_of(lambda: minhash_signatures(texts))

    def rensa_per_doc() -> None:
        for s in sh:
            m = rensa.RMinHash(128, 1)
            m.update(s)
            m.digest()

    t_rensa = best_of(rensa_per_doc)
    t_rensa_bulk = best_of(lambda: rensa.RMinHash.digest_matrix_from_token_sets(sh, 128, 1))
    sub = [[x.encode("utf-8") for x in s] for s in sh[:n_ds]]
    n_sub = sum(map(len, sub))

    def ds_per_doc() -> None:
        for s in sub:
            m = datasketch.MinHash(num_perm=128)
            m.update_batch(s)

    t_ds = best_of(ds_per_doc, repeat=1) * (n_sh / n_sub)  # scaled to the full set
    share = t_shingle / n_docs * n_docs
    rows = [
        ("sftdata minhash_signatures (from text)", ours),
        ("rensa RMinHash per doc (hash only)", t_rensa),
        ("rensa RMinHash per doc (from text)", t_rensa + share),
        ("rensa digest_matrix bulk (hash only)", t_rensa_bulk),
        ("rensa digest_matrix bulk (from text)", t_rensa_bulk + share),
        (f"datasketch update_batch per doc (hash only, {n_ds} docs scaled)", t_ds),
        ("datasketch update_batch per doc (from text)", t_ds + share),
    ]
    print(f"{'method':<62} {'seconds':>8} {'Mshingles/s':>12} {'docs/s':>9} {'t/t_ours':>9}")
    for name, t in rows:
        print(f"{name:<62} {t:>8.3f} {n_sh / t / 1e6:>12.2f} {n_docs / t:>9.0f} {t / ours:>8.2f}x")


def plain_shingles(text: str, ngram: int = 5) -> list[str]:
    """A plain Python shingler: lowercase, split on whitespace, join n-grams."""
    ws = text.lower().split()
    if len(ws) < ngram:
        return [" ".join(ws)]
    return [" ".join(ws[i : i + ngram]) for i in range(len(ws) - ngram + 1)]


def timed(fn, repeat: int = 3) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Best wall and best CPU seconds of ``repeat`` calls."""
    wall, cpu = float("inf"), float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu


def debian_bench(pattern: str) -> None:
    import glob

    import datasketch
    import rensa

    from sftdata.dedup import _compiled

    texts = []
    for path in sorted(glob.glob(pattern)):
        with open(path, encoding="utf-8", errors="replace") as f:
            texts.append(f.read())
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    print(f"{len(texts)} files, {mb:.1f} MB ({pattern}); 128 permutations, 5-grams, one core")
    minhash_signatures(texts[:2])  # load the compiled kernel (cached) before timing

    def rensa_from(shingler):  # type: ignore[no-untyped-def]
        def run() -> None:
            for t in texts:
                m = rensa.RMinHash(128, 1)
                m.update(shingler(t))
                m.digest()

        return run

    def ds_from_text() -> None:
        for t in texts:
            m = datasketch.MinHash(num_perm=128)
            m.update_batch([s.encode("utf-8") for s in plain_shingles(t)])

    rows = [
        (
            f"sftdata compiled (numba: {_compiled.AVAILABLE})",
            timed(lambda: minhash_signatures(texts)),
        ),
        ("sftdata numpy fallback", timed(lambda: minhash_signatures(texts, compiled=False))),
        ("rensa RMinHash + plain Python shingler", timed(rensa_from(plain_shingles))),
        ("rensa RMinHash + sftdata shingles()", timed(rensa_from(shingles))),
        ("datasketch MinHash + plain Python shingler", timed(ds_from_text, repeat=1)),
    ]
    ours_wall, ours_cpu = rows[0][1]
    print(
        f"{'method':<46} {'wall s':>7} {'MB/s':>7} {'cpu s':>7} {'MB/cpu-s':>9} {'t/t_ours':>9} {'cpu/cpu_ours':>12}"
    )
    for name, (wall, cpu) in rows:
        print(
            f"{name:<46} {wall:>7.3f} {mb / wall:>7.1f} {cpu:>7.3f} {mb / cpu:>9.1f} "
            f"{wall / ours_wall:>8.2f}x {cpu / ours_cpu:>11.2f}x"
        )


def planted_corpus(n: int, *, seed: int, dup_share: float = 0.1) -> tuple[list[str], list[int]]:
    """Documents plus near-copies (1-3 words replaced); ``source[i]`` is the original's index."""
    n_base = int(n / (1 + dup_share))
    texts = synthetic_docs(n_base, seed=seed)
    rng = np.random.default_rng(seed + 1)
    source = list(range(n_base))
    for _ in range(n - n_base):
        src = int(rng.integers(0, n_base))
        words = texts[src].split()
        for _ in range(int(rng.integers(1, 4))):
            words[int(rng.integers(0, len(words)))] = f"edit{int(rng.integers(0, 1 << 30))}"
        texts.append(" ".join(words))
        source.append(src)
    return texts, source


def e2e(n: int, threshold: float) -> dict[str, float]:
    texts, source = planted_corpus(n, seed=7)
    rows = [{"id": i, "text": t} for i, t in enumerate(texts)]
    rss_before = PeakRss.now_mb()
    with PeakRss() as rss:
        t0 = time.perf_counter()
        kept, rejected = minhash_dedup(rows, threshold=threshold)
        seconds = time.perf_counter() - t0
    rss_peak = rss.peak_mb
    root = {r["id"]: r["id"] for r in kept} | {r["id"]: r["dup_of"] for r in rejected}
    truth = set()
    groups = defaultdict(list)
    for i, s in enumerate(source):
        groups[s].append(i)
    for members in groups.values():
        sets = {i: set(shingles(texts[i])) for i in members}
        for i, j in itertools.combinations(members, 2):
            if len(sets[i] & sets[j]) / len(sets[i] | sets[j]) >= threshold:
                truth.add((i, j))
    by_root = defaultdict(list)
    for i in range(n):
        by_root[root[i]].append(i)
    found = {p for m in by_root.values() if len(m) > 1 for p in itertools.combinations(m, 2)}
    tp = len(found & truth)
    return {
        "docs": n,
        "seconds": seconds,
        "peak_rss_mb": rss_peak,
        "rss_before_mb": rss_before,
        "rejected": len(rejected),
        "precision": tp / max(len(found), 1),
        "recall": tp / max(len(truth), 1),
        "true_pairs": len(truth),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--debian", nargs="?", const="/usr/share/doc/*/copyright", default=None)
    ap.add_argument("--docs", type=int, default=5000)
    ap.add_argument("--datasketch-docs", type=int, default=500)
    ap.add_argument("--e2e-docs", type=int, default=100_000)
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--e2e-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.e2e_child:
        print(json.dumps(e2e(args.e2e_docs, args.threshold)))
        return 0
    if args.debian:
        debian_bench(args.debian)
    if args.docs:
        signature_bench(args.docs, args.datasketch_docs)
    if args.e2e_docs:
        cmd = [sys.executable, __file__, "--e2e-child", "--e2e-docs", str(args.e2e_docs)]
        res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        print(
            f"\nminhash_dedup end to end, {res['docs']} docs (planted near-copies), threshold "
            f"{args.threshold}: {res['seconds']:.1f} s; RSS {res['rss_before_mb']:.0f} MB before "
            f"the call (interpreter + documents), peak {res['peak_rss_mb']:.0f} MB during it "
            f"(+{res['peak_rss_mb'] - res['rss_before_mb']:.0f} MB); "
            f"{res['rejected']} rejected; pairs precision {res['precision']:.3f}, "
            f"recall {res['recall']:.3f} ({res['true_pairs']} true pairs)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
