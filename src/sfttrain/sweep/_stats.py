"""Statistics for sweep reports: mean ± std over seeds and a paired bootstrap interval.

>>> mean_std([1.0, 3.0])
(2.0, 1.4142135623730951)
>>> iv = paired_bootstrap([2.0, 3.0, 4.0], [1.0, 2.0, 3.0])   # every pair differs by 1
>>> (iv.delta, iv.low, iv.high)
(1.0, 1.0, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: metrics where lower is better (the rest: higher is better)
LOWER_IS_BETTER = ("loss", "perplexity", "seconds")


def lower_is_better(metric: str) -> bool:
    """``heldout_loss`` -> True, ``choices_acc`` -> False."""
    return any(word in metric for word in LOWER_IS_BETTER)


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value); NaNs are left out."""
    xs = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not xs:
        return float("nan"), float("nan")
    mean = sum(xs) / len(xs)
    if len(xs) == 1:
        return mean, 0.0
    return mean, math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))


@dataclass(frozen=True)
class Interval:
    """``delta`` = statistic(a) - statistic(b) with its bootstrap ``[low, high]`` interval."""

    delta: float
    low: float
    high: float
    n: int
    confidence: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    *,
    weights: Sequence[float] | None = None,
    n_boot: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile interval of the (weighted) mean of ``a[i] - b[i]``, resampling pairs.

    Pairs stay together: each resample draws ``n`` indices with replacement and takes the
    same indices from ``a``, ``b`` and ``weights``. With per-row losses as ``a``/``b``
    and token counts as ``weights``, ``delta`` is the difference of the token-weighted
    losses.
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(x) == 0:
        raise ValueError(
            f"paired_bootstrap: need two equal-length non-empty lists, got {x.shape}, {y.shape}"
        )
    if not 0 < confidence < 1:
        raise ValueError(f"paired_bootstrap: confidence must be in (0, 1), got {confidence}")
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    d = x - y
    delta = float((w * d).sum() / w.sum())
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(d), size=(n_boot, len(d)))
    stats = (w[idx] * d[idx]).sum(axis=1) / w[idx].sum(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail])
    return Interval(delta, float(low), float(high), len(d), confidence)
