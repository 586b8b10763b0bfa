"""Precision and recall of ``sd.safety.find_pii`` per type on the labelled PII set.

    python benchmarks/pii.py [--labelled tests/fixtures/pii/labelled.txt] [--target 0.95]

A prediction counts only when its type and its exact span match a labelled span.
Also prints detection throughput (MB/s) on the labelled lines repeated and on prose
without PII. Exits 1 when a type misses the target.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sftdata.safety import find_pii
from sftdata.safety._eval import parse_labelled, score_lines

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SET = ROOT / "tests" / "fixtures" / "pii" / "labelled.txt"


def throughput(text: str, repeat: int = 3) -> float:
    """Best MB/s of ``find_pii`` over ``repeat`` runs on ``text``."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        find_pii(text)
        best = min(best, time.perf_counter() - t0)
    return len(text.encode()) / 1e6 / best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labelled", type=Path, default=DEFAULT_SET)
    ap.add_argument("--target", type=float, default=0.95)
    args = ap.parse_args()
    lines = args.labelled.read_text(encoding="utf-8").splitlines()
    examples = [ln for ln in lines if ln.strip() and not ln.startswith("#")]
    negatives = sum(1 for ln in examples if "⟦" not in ln)
    print(f"labelled set: {args.labelled} ({len(examples)} lines, {negatives} without PII)")
    print(f"{'type':<12} {'gold':>5} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>7}")
    ok = True
    for kind, s in score_lines(examples).items():
        flag = "" if min(s.precision, s.recall) >= args.target else "  <- below target"
        ok = ok and not flag
        print(
            f"{kind:<12} {s.tp + s.fn:>5} {s.tp:>4} {s.fp:>4} {s.fn:>4} "
            f"{s.precision:>9.3f} {s.recall:>7.3f}{flag}"
        )
    plain = "\n".join(parse_labelled(ln)[0] for ln in examples)
    prose = "The committee met on Tuesday to review the budget and the roadmap. " * 30_000
    print(f"throughput, labelled lines x50: {throughput(plain * 50):.2f} MB/s")
    print(f"throughput, prose without PII:  {throughput(prose):.2f} MB/s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
