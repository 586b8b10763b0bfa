"""``mix({name: ds}, weights, seed)``: reproducible mixture sampling.

::

    sources    rows   weight   p (T=1)   p (T=2)   rows drawn (T=1, num_rows=60)
    code        100     3        0.75      0.63      45
    chat         40     1        0.25      0.37      15

Probabilities follow temperature sampling: ``p_i ∝ (w_i / Σw) ** (1 / T)``, where
``w_i`` is the weight (``weights=None``: the source's size). ``T = 1`` keeps the
weights, larger ``T`` flattens towards uniform. Row counts are ``p_i * num_rows``
rounded by largest remainder, so they always add up to ``num_rows``. Without
``replace`` no row is drawn twice and ``num_rows`` defaults to the largest mixture the
sources can fill; with ``replace`` a source is repeated in whole shuffled epochs
(no row is drawn twice before every row was drawn once).

>>> out = mix({"a": [{"text": "a1"}, {"text": "a2"}], "b": [{"text": "b1"}]}, None, seed=0)
>>> sorted(r["text"] for r in out), sorted({r["source"] for r in out})
(['a1', 'a2', 'b1'], ['a', 'b'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sftdata._contract import SftDataError


def mixture_probabilities(
    sizes: Mapping[str, int], weights: Mapping[str, float] | None, *, temperature: float = 1.0
) -> dict[str, float]:
    """The sampling probability of each source (see the module docstring).

    >>> mixture_probabilities({"a": 300, "b": 100}, None, temperature=1.0)
    {'a': 0.75, 'b': 0.25}
    """
    if not (isinstance(temperature, (int, float)) and temperature > 0):
        raise SftDataError(f"mix temperature must be > 0, got {temperature!r}")
    w = {k: float(sizes[k] if weights is None else weights[k]) for k in sizes}
    total = sum(w.values())
    if total <= 0:
        raise SftDataError(f"mix weights must not all be zero: {w}")
    scaled = {k: (v / total) ** (1.0 / temperature) if v > 0 else 0.0 for k, v in w.items()}
    z = sum(scaled.values())
    return {k: v / z for k, v in scaled.items()}


def _allocate(p: Mapping[str, float], num_rows: int) -> dict[str, int]:
    """Largest-remainder rounding of ``p * num_rows`` (ties broken by source order)."""
    exact = {k: v * num_rows for k, v in p.items()}
    counts = {k: int(np.floor(v)) for k, v in exact.items()}
    order = sorted(p, key=lambda k: -(exact[k] - counts[k]))
    for k in order[: num_rows - sum(counts.values())]:
        counts[k] += 1
    return counts


def _check_args(
    datasets: Mapping[str, Any], weights: Any, seed: Any, num_rows: int | None
) -> dict[str, float] | None:
    if not isinstance(datasets, Mapping) or not datasets:
        raise SftDataError("mix needs a non-empty {name: dataset} mapping")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise SftDataError(f"mix seed must be an int, got {seed!r}")
    if num_rows is not None and (isinstance(num_rows, bool) or num_rows < 0):
        raise SftDataError(f"mix num_rows must be an int >= 0, got {num_rows!r}")
    if weights is None:
        return None
    if not isinstance(weights, Mapping):
        weights = dict(zip(datasets, weights, strict=True))
    if set(weights) != set(datasets):
        raise SftDataError(f"mix weights name {sorted(weights)}, datasets {sorted(datasets)}")
    for k, v in weights.items():
        if not isinstance(v, (int, float)) or v < 0 or v != v:
            raise SftDataError(f"mix weight of {k!r} must be a number >= 0, got {v!r}")
    return {k: float(weights[k]) for k in datasets}


def _draw(rng: np.random.Generator, size: int, count: int) -> np.ndarray:
    """``count`` row indices of a source of ``size`` rows, in whole shuffled epochs."""
    epochs = [rng.permutation(size) for _ in range(-(-count // size))] if size else []
    return np.concatenate(epochs)[:count] if epochs else np.zeros(0, dtype=np.int64)


def mix(
    datasets: Mapping[str, Any],
    weights: Mapping[str, float] | Sequence[float] | None,
    seed: int,
    *,
    temperature: float = 1.0,
    num_rows: int | None = None,
    replace: bool = False,
    source_column: str = "source",
) -> Any:
    """Sample a mixture of ``datasets`` (``datasets.Dataset`` or lists of row dicts).

    Returns the same kind as the inputs, rows shuffled, each row tagged with its
    source name in ``source_column`` unless it already has one. Same inputs and
    ``seed``: the same rows in the same order. Raises :class:`~sftdata.SftDataError`
    naming the source when ``num_rows`` needs more rows than it has and not ``replace``.
    """
    w = _check_args(datasets, weights, seed, num_rows)
    sizes = {k: len(v) for k, v in datasets.items()}
    p = mixture_probabilities(sizes, w, temperature=temperature)
    if num_rows is None:
        fill = [sizes[k] / p[k] for k in p if p[k] > 0]
        num_rows = sum(sizes.values()) if replace else int(np.floor(min(fill) + 1e-9))
    counts = _allocate(p, num_rows)
    for k, c in counts.items():
        if c > sizes[k] and (not replace or sizes[k] == 0):
            raise SftDataError(
                f"mix source {k!r} has {sizes[k]} rows but the mixture needs {c}; "
                "pass replace=True or a smaller num_rows"
            )
    rng = np.random.default_rng(seed)
    picks = [(k, _draw(rng, sizes[k], counts[k])) for k in datasets]
    order = rng.permutation(num_rows)
    if all(isinstance(d, list) for d in datasets.values()):
        rows = [
            {source_column: k, **datasets[k][int(i)]} if source_column not in datasets[k][int(i)]
            else dict(datasets[k][int(i)])
            for k, idx in picks
            for i in idx
        ]  # fmt: skip
        return [rows[int(j)] for j in order]
    return _mix_hf(datasets, picks, order, source_column)


def _mix_hf(
    datasets: Mapping[str, Any], picks: list[tuple[str, np.ndarray]], order: np.ndarray, col: str
) -> Any:
    import datasets as hf

    parts = []
    for k, idx in picks:
        part = datasets[k].select(idx.tolist())
        if col not in part.column_names:
            part = part.add_column(col, [k] * len(part))
        parts.append(part)
    return hf.concatenate_datasets(parts).select(order.tolist())
