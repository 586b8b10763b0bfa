"""``LengthCounts``: an exact, mergeable distribution of integer lengths.

Every length a report measures (characters, tokens, user turns per row) is a whole
number, and a corpus holds far fewer distinct lengths than rows. So instead of the list
of lengths, a part keeps how many rows have each length::

    lengths of a part     [3, 7, 3, 12, 7, 3]
    LengthCounts          values  [3, 7, 12]      (sorted, distinct)
                          counts  [3, 2,  1]

Two parts merge by adding counts value by value (``a + b``), and everything the report
shows is computed from the merged counts with no loss: totals, the mean, the min and
max, histograms, shares over a length, and the percentiles, which equal numpy's
``np.percentile(lengths, p)`` (linear interpolation between the two order statistics
around ``p / 100 * (n - 1)``) bit for bit. The size grows with the number of distinct
lengths (at most the longest row's length), never with the number of rows.

>>> a = LengthCounts.of([3, 7, 3]) + LengthCounts.of([12, 7, 3])
>>> a.n, a.total, a.summary()["p50"], a.summary()["max"]
(6, 35, 5.0, 12)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sftdata.stats._plots import CONTEXT_LENGTHS, bin_layout

#: The percentiles a length summary gives (``p50``, ``p90``, ``p99``).
PERCENTILES = (50, 90, 99)


@dataclass(frozen=True, eq=False)
class LengthCounts:
    """How many rows have each length: ``values`` sorted and distinct, ``counts`` > 0.

    Both arrays are int64 and never written after construction.
    """

    values: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, lengths: Sequence[int] | np.ndarray) -> LengthCounts:
        """The counts of a list of lengths."""
        a = np.asarray(lengths, dtype=np.int64)
        values, counts = np.unique(a, return_counts=True)
        return cls(values.astype(np.int64), counts.astype(np.int64))

    @classmethod
    def empty(cls) -> LengthCounts:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))

    def __add__(self, other: LengthCounts) -> LengthCounts:
        if not len(other.values):
            return self
        if not len(self.values):
            return other
        values, where = np.unique(np.concatenate([self.values, other.values]), return_inverse=True)
        counts = np.zeros(len(values), dtype=np.int64)
        np.add.at(counts, where, np.concatenate([self.counts, other.counts]))
        return LengthCounts(values.astype(np.int64), counts)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, LengthCounts)
            and np.array_equal(self.values, other.values)
            and np.array_equal(self.counts, other.counts)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        pairs = dict(zip(self.values.tolist(), self.counts.tolist(), strict=True))
        return f"LengthCounts({pairs})"

    @property
    def n(self) -> int:
        """The number of rows counted."""
        return int(self.counts.sum())

    @property
    def total(self) -> int:
        """The sum of all lengths (Python ints: no overflow)."""
        return sum(v * c for v, c in zip(self.values.tolist(), self.counts.tolist(), strict=True))

    def order_statistic(self, k: int) -> int:
        """The ``k``-th smallest length (0-based), as ``sorted(lengths)[k]``."""
        return int(self.values[np.searchsorted(np.cumsum(self.counts), k, side="right")])

    def percentile(self, p: float) -> float:
        """``np.percentile(lengths, p)`` (method ``linear``) from the counts alone.

        The same float operations as numpy's: index ``(n - 1) * (p / 100)``, then the
        two order statistics around it interpolated from the nearer side.
        """
        n = self.n
        index = np.float64(n - 1) * (np.float64(p) / np.float64(100))
        below = np.floor(index)
        lo = min(int(below), n - 1)
        hi = lo if index >= n - 1 else lo + 1
        a, b = np.int64(self.order_statistic(lo)), np.int64(self.order_statistic(hi))
        gamma = index - below
        diff = b - a
        return float(a + diff * gamma if gamma < 0.5 else b - diff * (1 - gamma))

    def summary(self) -> dict[str, float]:
        """``total, mean, p50, p90, p99, min, max`` (zeros when nothing was counted).

        ``mean`` is ``float(total) / n``, what ``np.mean`` gives for int lengths whose
        total is below 2**53.
        """
        n = self.n
        if not n:
            zeros = {f"p{p}": 0.0 for p in PERCENTILES}
            return {"total": 0, "mean": 0.0, "min": 0, "max": 0, **zeros}
        total = self.total
        out: dict[str, float] = {"total": total, "mean": float(np.float64(total) / n)}
        out.update({f"p{p}": self.percentile(p) for p in PERCENTILES})
        out.update(min=int(self.values[0]), max=int(self.values[-1]))
        return out

    def histogram(
        self, bins: int, *, lo: int | None = None, hi: int | None = None
    ) -> dict[str, Any]:
        """The counts on :func:`~sftdata.stats._plots.int_histogram`'s bins over
        ``[lo, hi]`` (default: the lengths' range); the same dict it returns."""
        lo = int(self.values[0]) if lo is None else lo
        hi = int(self.values[-1]) if hi is None else hi
        start, width, nbins = bin_layout(lo, hi, bins)
        counts = np.zeros(nbins, dtype=np.int64)
        inside = (self.values >= start) & (self.values < start + width * nbins)
        np.add.at(counts, (self.values[inside] - start) // width, self.counts[inside])
        edges = start + width * np.arange(nbins + 1)
        return {"counts": counts.tolist(), "edges": [float(e) for e in edges], "width": width}

    def share_over(self, lengths: Sequence[int] = CONTEXT_LENGTHS) -> dict[str, float]:
        """The fraction of rows longer than each length, keyed ``"2k"``, ``"4k"``, ...
        (as :func:`~sftdata.stats._plots.share_over`)."""
        n = max(self.n, 1)
        return {
            f"{length // 1024}k": float(np.int64(self.counts[self.values > length].sum()) / n)
            for length in lengths
        }
