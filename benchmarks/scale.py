"""`sftdata run` at scale on a deterministic web-like corpus with planted duplicates.

    python benchmarks/scale.py --mb 100 [--docs N] [--shard-rows 2000] [--keep DIR]

The corpus (JSONL, ``{"id", "text"}``) is generated from a seed: documents of 50-800
words from a Zipf vocabulary with ~35% of documents carrying non-ASCII words (accents,
CJK, Cyrillic), some mojibake, some too short or repetitive (quality rejects), a few
malformed lines; planted exact duplicates (the same text with case / whitespace
changes) and near duplicates (a copy with 1-3% of the words replaced). ``--mb`` sets
the size (or ``--docs`` the document count: 10M short documents for a dedup run).

The pipeline is ``clean.fix_text``, ``clean.quality``, ``dedup.exact``,
``dedup.minhash`` (threshold 0.8), run by ``sftdata run`` in a child process. Printed:
per stage MB/s (input bytes / stage seconds), docs/s, the run's peak RSS, and for the
dedup stages precision / recall of the rejected duplicates against the planted truth
(a planted copy counts as found when it is rejected as a duplicate; a rejected
duplicate is a true positive when it is a planted copy).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

NON_ASCII = ["café", "naïve", "Übermensch", "niño", "東京", "北京大学", "Москва", "привет",
             "résumé", "façade", "smörgåsbord", "İstanbul", "Ελλάδα", "日本語", "über"]  # fmt: skip
STOP = ["the", "and", "of", "to", "a", "in", "is", "that", "for", "it", "with", "as", "was",
        "on", "be", "have", "this", "from", "by", "not"]  # fmt: skip
MOJIBAKE = ["cafÃ©", "donâ€™t", "Ã¼ber", "â€œquotedâ€\x9d"]


def generate(path: Path, *, mb: float | None, docs: int | None, seed: int = 0) -> dict[str, int]:
    """Write the corpus; returns counts and the planted truth (written next to it)."""
    rng = np.random.default_rng(seed)
    syll = ["ka", "to", "ri", "mon", "sel", "an", "ver", "lo", "est", "pra", "du", "ing"]
    made = {"".join(rng.choice(syll, size=int(rng.integers(1, 4)))) for _ in range(80_000)}
    vocab = np.array(STOP * 40 + sorted(made) + NON_ASCII * 5, dtype=object)
    target = int(mb * 1e6) if mb else None
    n = 0
    size = 0
    originals: list[int] = []
    truth: dict[int, tuple[str, int]] = {}  # copy id -> (kind, source id)
    short = docs is not None
    with path.open("w", encoding="utf-8") as f:
        while (target is None or size < target) and (docs is None or n < docs):
            r = rng.random()
            if originals and r < 0.05:  # exact copy, case / whitespace changed
                src, text = originals[int(rng.integers(len(originals)))], None
                text = _texts[src].upper() if rng.random() < 0.5 else "  " + _texts[src] + "\n"
                truth[n] = ("exact", src)
            elif originals and r < 0.10:  # near copy: 1-3% of the words replaced
                src = originals[int(rng.integers(len(originals)))]
                words = _texts[src].split()
                for _ in range(max(1, len(words) // int(rng.integers(33, 100)))):
                    words[int(rng.integers(len(words)))] = f"edit{int(rng.integers(1 << 30))}"
                text = " ".join(words)
                truth[n] = ("near", src)
            else:
                lo, hi = (10, 40) if short else (50, 800)
                k = int(rng.integers(lo, hi))
                words = vocab[rng.zipf(1.15, size=k) % len(vocab)]
                if rng.random() < 0.35:
                    pos = rng.integers(0, k, size=max(1, k // 20))
                    words[pos] = rng.choice(NON_ASCII, size=len(pos))
                if rng.random() < 0.03:
                    words[int(rng.integers(k))] = MOJIBAKE[int(rng.integers(len(MOJIBAKE)))]
                text = " ".join(words)
                if rng.random() < 0.02:
                    text = "buy now " * 30  # repetitive: a quality reject
                sentences = [text[i : i + 120] for i in range(0, len(text), 120)]
                text = ". ".join(sentences)
                if len(_texts) < 200_000 or rng.random() < 0.1:
                    _texts[n] = text
                    originals.append(n)
            line = json.dumps({"id": n, "text": text}, ensure_ascii=False)
            if rng.random() < 0.001:
                line = line[: len(line) // 2]  # a malformed line
            f.write(line + "\n")
            size += len(line.encode("utf-8")) + 1
            n += 1
    _texts.clear()
    path.with_suffix(".truth.json").write_text(json.dumps({str(k): v for k, v in truth.items()}))
    return {"docs": n, "bytes": size, "planted": len(truth)}


_texts: dict[int, str] = {}

STEPS = "clean.fix_text,clean.quality,dedup.exact,dedup.minhash: {threshold: 0.8}"
PIPELINE = """
inputs: [{{path: {corpus}}}]
steps:
{steps}
output: {{path: {out}/clean, format: parquet}}
rejects: {{path: {out}/rejects, format: parquet}}
options: {{shard_rows: {shard_rows}}}
"""

CHILD = """
import json, sys, threading, time
from sftdata.runner import _run, load_spec, run

def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024

marks, peak, stop = [["start", 0.0]], [0.0], threading.Event()
def sample():
    while not stop.is_set():
        now = rss()
        peak[0] = max(peak[0], now)
        marks[-1][1] = max(marks[-1][1], now)
        time.sleep(0.05)

def progress(total, desc, enabled, _orig=_run._progress):
    marks.append([desc, rss()])  # per-stage peak RSS: from this bar to the next one
    return _orig(total, desc, enabled)

def outputs(*args, _orig=_run.write_outputs):
    marks.append(["outputs", rss()])
    return _orig(*args)

_run._progress = progress
_run.write_outputs = outputs
threading.Thread(target=sample, daemon=True).start()
t0 = time.perf_counter()
res = run(load_spec(sys.argv[1]), progress=False)
stop.set()
print(json.dumps({"timings": res.timings, "seconds": time.perf_counter() - t0,
                  "kept": res.counters.kept, "rows_in": res.counters.rows_in,
                  "stage_rss": marks}))
"""


def run(corpus: Path, work: Path, shard_rows: int, steps: str = STEPS) -> dict[str, object]:
    spec = work / "pipeline.yaml"
    lines = "\n".join(f"  - {s}" for s in steps.split(","))
    spec.write_text(PIPELINE.format(corpus=corpus, out=work, shard_rows=shard_rows, steps=lines))
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(spec)], capture_output=True, text=True, check=False
    )
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return res


def dedup_quality(work: Path, corpus: Path) -> dict[str, tuple[float, float, int]]:
    import pyarrow.parquet as pq

    truth = {
        int(k): v for k, v in json.loads(corpus.with_suffix(".truth.json").read_text()).items()
    }
    files = sorted((work / "rejects").glob("part-*.parquet"))
    rej = [r for f in files for r in pq.read_table(f, columns=["id", "drop_reason"]).to_pylist()]
    dropped = {r["id"]: r["drop_reason"] for r in rej if r["id"] is not None}
    out = {}
    for kind, reason in (("exact", "dedup.exact"), ("near", "dedup.near")):
        found = {i for i, r in dropped.items() if r == reason}
        planted = {i for i, (k, _) in truth.items() if k == kind}
        any_dup = {i for i, r in dropped.items() if r in ("dedup.exact", "dedup.near")}
        tp = len(found & set(truth))
        out[kind] = (
            tp / max(len(found), 1),
            len(planted & any_dup) / max(len(planted), 1),
            len(found),
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=None)
    ap.add_argument("--docs", type=int, default=None)
    ap.add_argument("--shard-rows", type=int, default=2000)
    ap.add_argument("--steps", default=STEPS, help="comma-separated step specs")
    ap.add_argument("--corpus", type=Path, default=None, help="reuse a corpus written before")
    ap.add_argument("--keep", type=Path, default=None, help="work folder to keep (else a temp one)")
    args = ap.parse_args()
    if args.mb is None and args.docs is None:
        args.mb = 100.0
    work = args.keep or Path(tempfile.mkdtemp(prefix="sftdata-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    corpus = args.corpus or work / "corpus.jsonl"
    t0 = time.perf_counter()
    if args.corpus is None:
        info = generate(corpus, mb=args.mb, docs=args.docs)
    else:
        info = {
            "docs": sum(1 for _ in corpus.open()),
            "bytes": corpus.stat().st_size,
            "planted": -1,
        }
    print(f"corpus: {info['docs']} docs, {info['bytes'] / 1e6:.1f} MB, {info['planted']} planted "
          f"duplicates ({time.perf_counter() - t0:.1f} s to generate) in {corpus}")  # fmt: skip
    res = run(corpus, work, args.shard_rows, args.steps)
    mb = info["bytes"] / 1e6
    print(f"sftdata run: {res['seconds']:.1f} s, peak RSS {res['peak_rss_mb']:.0f} MB, "
          f"{res['rows_in']} rows in, {res['kept']} kept")  # fmt: skip
    print(f"{'stage':<40} {'rows in':>9} {'s':>8} {'MB/s':>8} {'docs/s':>9}")
    for label, rows, secs in res["timings"]:  # type: ignore[attr-defined]
        print(f"{label:<40} {rows:>9} {secs:>8.2f} {mb / secs:>8.1f} {rows / secs:>9.0f}")
    print("peak RSS per phase (start: reading the inputs):")
    for desc, peak in res["stage_rss"]:  # type: ignore[attr-defined]
        print(f"  {desc:<40} {peak:>8.0f} MB")
    quality = dedup_quality(work, corpus) if "dedup" in args.steps else {}
    for kind, (p, r, n) in quality.items():
        print(f"dedup {kind}: {n} rejected, precision {p:.3f}, recall {r:.3f} (vs planted)")
    if args.keep is None:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
