"""Packing efficiency and speed: ``sd.pack`` against padding and sequential packing.

    python benchmarks/pack.py [--rows 100000] [--max-length 4096] [--batch 8] [--seed 0]

Lengths follow a log-normal distribution (median ~350 tokens, long tail; the shape of
typical chat SFT sets), clipped to ``[8, 2 * max-length]``; rows longer than
``max-length`` are rejected by every method alike. Efficiency is real tokens over all
token slots the trainer computes:

* ``sftdata pack`` (best-fit decreasing): ``tokens / (bins * max_length)``;
* ``pad to longest`` per batch of ``--batch`` rows in random order: ``tokens /
  sum(batch_size * longest_in_batch)``;
* ``sequential`` packing (fill a bin in input order, open a new one when the next row
  does not fit, no splitting): ``tokens / (bins * max_length)``.

``sd.pack`` is timed on a ``datasets.Dataset`` of the rows (Arrow in, Arrow out).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import sftdata as sd
from sftdata.encode._pack import pack_stats


def lengths(n: int, max_length: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    raw = rng.lognormal(mean=np.log(350), sigma=0.9, size=n)
    return np.clip(raw.astype(np.int64), 8, 2 * max_length)


def padded_efficiency(lens: np.ndarray, batch: int, seed: int) -> float:
    order = np.random.default_rng(seed + 1).permutation(len(lens))
    shuffled = lens[order]
    slots = 0
    for i in range(0, len(shuffled), batch):
        chunk = shuffled[i : i + batch]
        slots += len(chunk) * int(chunk.max())
    return float(lens.sum() / slots)


def sequential_bins(lens: np.ndarray, max_length: int) -> int:
    bins, room = 0, 0
    for n in lens.tolist():
        if n > room:
            bins, room = bins + 1, max_length
        room -= n
    return bins


def main() -> None:
    import datasets

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--max-length", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    all_lens = lengths(args.rows, args.max_length, args.seed)
    fits = all_lens[all_lens <= args.max_length]
    ids = [np.full(n, 7, dtype=np.int32) for n in all_lens.tolist()]
    ds = datasets.Dataset.from_dict({"input_ids": ids, "labels": ids})

    t0 = time.perf_counter()
    packed, rejected = sd.pack(ds, max_length=args.max_length)
    seconds = time.perf_counter() - t0
    stats = pack_stats(packed, max_length=args.max_length)

    seq = sequential_bins(fits, args.max_length)
    print(
        f"{args.rows} rows, median {int(np.median(all_lens))} tokens, mean {all_lens.mean():.0f}, "
        f"{len(rejected)} rows > max_length {args.max_length} rejected"
    )
    print(f"{'method':28} {'rows out':>9} {'efficiency':>11}")
    print(f"{'sftdata pack (BFD)':28} {stats.bins:>9} {stats.efficiency:>10.2%}")
    print(f"{'sequential packing':28} {seq:>9} {fits.sum() / (seq * args.max_length):>10.2%}")
    pad = padded_efficiency(fits, args.batch, args.seed)
    print(f"{f'pad to longest (batch {args.batch})':28} {len(fits):>9} {pad:>10.2%}")
    print(
        f"sd.pack: {seconds:.2f} s for {args.rows} rows ({args.rows / seconds:,.0f} rows/s, "
        f"{stats.tokens / seconds / 1e6:.1f} M tokens/s); target efficiency >= 98%: "
        f"{'met' if stats.efficiency >= 0.98 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
