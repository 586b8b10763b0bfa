"""``pack``: best-fit-decreasing packing of encoded rows into ``max_length`` bins.

A global pass (not a row map): it takes encoded rows and returns ``(packed, rejected)``.
Every token of every kept row appears exactly once in ``packed``; each packed row
records where its samples start so attention never crosses a boundary::

    rows (max_length=7)         packed row 0                        packed row 1
    a: a0 a1 a2 a3 a4     ->    input_ids     a0 a1 a2 a3 a4 c0 c1  b0 b1 b2
    b: b0 b1 b2                 position_ids  0  1  2  3  4  0  1   0  1  2
    c: c0 c1                    seq_lens      [5, 2]                [3]
                                labels        .  a1 a2 a3 a4 .  c1  .  b1 b2   (. = -100)

The first label of each sample is ``-100``: with transformers' shift, it would be
predicted from the previous sample's last token. ``position_ids`` restart at 0 per
sample (transformers' padding-free path and flash-attention varlen read them);
:class:`sftdata.Collator` can also build a 4D block-diagonal mask from ``seq_lens``.
"""

from __future__ import annotations

import bisect
import itertools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sftdata._contract import DROP_REASON, IGNORE_INDEX, SftDataError

logger = logging.getLogger("sftdata.pack")

PACKED_COLUMNS = (
    "input_ids",
    "labels",
    "attention_mask",
    "position_ids",
    "seq_lens",
    "source_rows",
)


@dataclass(frozen=True)
class PackStats:
    """How well a packing filled its bins: ``efficiency = tokens / (bins * max_length)``."""

    bins: int
    samples: int
    tokens: int
    max_length: int

    @property
    def efficiency(self) -> float:
        slots = self.bins * self.max_length
        return self.tokens / slots if slots else 1.0


def pack(ds: Any, *, max_length: int, split_long: bool = False) -> tuple[Any, Any]:
    """Pack encoded rows into rows of at most ``max_length`` tokens (best-fit decreasing).

    ``ds`` is a ``datasets.Dataset``, a columnar ``dict[str, list]`` or a list of row
    dicts with ``input_ids`` (and ``labels``; without them every token is trained, as
    for pretraining text). Returns ``(packed, rejected)`` of the same kind. ``packed``
    has the columns ``input_ids``, ``labels`` (int32), ``attention_mask`` (int8, all 1),
    ``position_ids``, ``seq_lens`` and ``source_rows`` (the input row of each sample).
    ``rejected`` holds the input rows that already carried a ``drop_reason``, empty rows
    (``pack.empty``) and rows longer than ``max_length`` (``pack.too_long``), unless
    ``split_long=True`` cuts those into ``max_length`` chunks (for pretraining text).

    >>> rows = {"input_ids": [[1, 2, 3, 4, 5], [6, 7, 8], [9, 10]]}
    >>> packed, rejected = pack(rows, max_length=7)
    >>> packed["input_ids"], packed["seq_lens"], packed["position_ids"][0]
    ([[1, 2, 3, 4, 5, 9, 10], [6, 7, 8]], [[5, 2], [3]], [0, 1, 2, 3, 4, 0, 1])
    >>> packed["labels"][0]
    [-100, 2, 3, 4, 5, -100, 10]
    >>> round(pack_stats(packed, max_length=7).efficiency, 3)   # 10 tokens in 2 bins of 7
    0.714
    """
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise SftDataError(f"pack: max_length must be a positive int, got {max_length!r}")
    cols = _Columns.read(ds)
    lengths = np.diff(cols.offsets)
    reasons = list(cols.reasons)
    samples: list[tuple[int, int, int]] = []  # (row, start, end) in row-local token positions
    for i, n in enumerate(lengths.tolist()):
        if reasons[i] is not None:
            continue
        if n == 0:
            reasons[i] = "pack.empty"
        elif n <= max_length:
            samples.append((i, 0, n))
        elif split_long:
            samples.extend((i, s, min(s + max_length, n)) for s in range(0, n, max_length))
        else:
            reasons[i] = "pack.too_long"
    bins = best_fit_decreasing([e - s for _, s, e in samples], max_length)
    packed = _assemble(cols, samples, bins)
    rejected_idx = [i for i, r in enumerate(reasons) if r is not None]
    stats = PackStats(len(bins), len(samples), int(packed["n_tokens"]), max_length)
    logger.info(
        "packed %d samples into %d bins of %d tokens: efficiency %.2f%%, %d rows rejected",
        stats.samples,
        stats.bins,
        max_length,
        100 * stats.efficiency,
        len(rejected_idx),
    )
    options = (max_length, split_long)
    return _emit(ds, packed, rejected_idx, [reasons[i] for i in rejected_idx], options)


def best_fit_decreasing(lengths: list[int], capacity: int) -> list[list[int]]:
    """Assign items to bins: longest first, each into the fullest bin it still fits.

    Returns the item indices of each bin, bins in creation order. Deterministic.

    >>> best_fit_decreasing([5, 3, 2, 6], 8)
    [[3, 2], [0, 1]]
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    bins: list[list[int]] = []
    caps: list[int] = []  # sorted distinct free capacities that some open bin has
    at: dict[int, list[int]] = {}  # free capacity -> open bins with exactly that room
    for item in order:
        n = lengths[item]
        if n > capacity:
            raise SftDataError(
                f"best_fit_decreasing: item {item} ({n}) exceeds capacity {capacity}"
            )
        k = bisect.bisect_left(caps, n)
        if k == len(caps):
            b, room = len(bins), capacity
            bins.append([])
        else:
            room = caps[k]
            b = at[room].pop()
            if not at[room]:
                del at[room]
                del caps[k]
        bins[b].append(item)
        left = room - n
        if left > 0:
            if left not in at:
                at[left] = []
                bisect.insort(caps, left)
            at[left].append(b)
    return bins


def pack_stats(packed: Any, *, max_length: int) -> PackStats:
    """Bins, samples, tokens and efficiency of a packed dataset / batch from :func:`pack`."""
    lens, offsets = _flat(packed, "seq_lens")  # Arrow buffers for a Dataset, no per-row lists
    return PackStats(
        bins=len(offsets) - 1,
        samples=len(lens),
        tokens=int(lens.sum()),
        max_length=max_length,
    )


@dataclass(frozen=True)
class _Columns:
    """Flat token arrays plus row offsets, read once from any supported input kind."""

    ids: np.ndarray
    labels: np.ndarray
    offsets: np.ndarray
    reasons: list[str | None]

    @classmethod
    def read(cls, ds: Any) -> _Columns:
        columns = _column_names(ds)
        if "input_ids" not in columns:
            raise SftDataError(f"pack: rows need an 'input_ids' column; got {sorted(columns)}")
        ids, offsets = _flat(ds, "input_ids")
        if "labels" in columns:
            labels, label_offsets = _flat(ds, "labels")
            if not np.array_equal(offsets, label_offsets):
                bad = int(np.argmax(np.diff(offsets) != np.diff(label_offsets)))
                raise SftDataError(f"pack: row {bad} has different numbers of input_ids and labels")
        else:
            labels = ids.copy()
        n = len(offsets) - 1
        reasons = list(_column(ds, DROP_REASON)) if DROP_REASON in columns else [None] * n
        return cls(ids, labels, offsets, reasons)


def _assemble(
    cols: _Columns, samples: list[tuple[int, int, int]], bins: list[list[int]]
) -> dict[str, Any]:
    """Copy the tokens of each bin's samples into flat arrays plus bin offsets.

    One slice copy per sample (no per-token index array: that gather is the slow part
    on millions of tokens).
    """
    order = [samples[s] for b in bins for s in b]
    base = cols.offsets[:-1].tolist()
    spans = [(base[r] + a, base[r] + b) for r, a, b in order]
    lens = np.array([b - a for a, b in spans], dtype=np.int64)
    first = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(lens, out=first[1:])
    total = int(first[-1])

    def gather(values: np.ndarray) -> np.ndarray:
        if not spans:
            return np.zeros(0, dtype=np.int32)
        return np.concatenate([values[a:b] for a, b in spans]).astype(np.int32, copy=False)

    labels = gather(cols.labels)
    labels[first[:-1][lens > 0]] = IGNORE_INDEX
    position = np.arange(total, dtype=np.int32) - np.repeat(first[:-1].astype(np.int32), lens)
    per_bin = np.array([len(b) for b in bins], dtype=np.int64)
    sample_offsets = np.zeros(len(bins) + 1, dtype=np.int64)
    np.cumsum(per_bin, out=sample_offsets[1:])
    return {
        "input_ids": gather(cols.ids),
        "labels": labels,
        "position_ids": position,
        "token_offsets": first[sample_offsets],
        "sample_offsets": sample_offsets,
        "seq_lens": lens.astype(np.int32),
        "source_rows": np.array([r for r, _, _ in order], dtype=np.int64),
        "n_tokens": total,
    }


def _emit(
    ds: Any,
    packed: dict[str, Any],
    rejected_idx: list[int],
    reasons: list[str | None],
    options: tuple[Any, ...],
) -> tuple[Any, Any]:
    tok, smp = packed["token_offsets"], packed["sample_offsets"]
    flat = {
        "input_ids": (packed["input_ids"], tok),
        "labels": (packed["labels"], tok),
        "attention_mask": (np.ones(len(packed["input_ids"]), dtype=np.int8), tok),
        "position_ids": (packed["position_ids"], tok),
        "seq_lens": (packed["seq_lens"], smp),
        "source_rows": (packed["source_rows"], smp),
    }
    if isinstance(ds, Mapping):
        out = {k: _split(v, o) for k, (v, o) in flat.items()}
        rej = {k: [v[i] for i in rejected_idx] for k, v in ds.items()}
        rej[DROP_REASON] = reasons
        return out, rej
    if isinstance(ds, list):
        cols = {k: _split(v, o) for k, (v, o) in flat.items()}
        rows = [{k: cols[k][b] for k in PACKED_COLUMNS} for b in range(len(tok) - 1)]
        return rows, [{**ds[i], DROP_REASON: r} for i, r in zip(rejected_idx, reasons, strict=True)]
    import datasets
    import pyarrow as pa
    from datasets.fingerprint import Hasher

    large = packed["n_tokens"] >= 2**31  # int32 Arrow offsets would overflow
    offset_type = pa.int64() if large else pa.int32()
    array = pa.LargeListArray if large else pa.ListArray
    table = pa.table(
        {k: array.from_arrays(pa.array(o, offset_type), pa.array(v)) for k, (v, o) in flat.items()}
    )
    # Derive the fingerprint from the input's, instead of letting datasets hash every token.
    source = getattr(ds, "_fingerprint", None)
    fingerprint = Hasher.hash(("sftdata.pack", source, options)) if source else None
    rejected = ds.select(rejected_idx)
    if DROP_REASON in rejected.column_names:
        rejected = rejected.remove_columns(DROP_REASON)
    rejected = rejected.add_column(DROP_REASON, reasons)
    return datasets.Dataset(table, fingerprint=fingerprint), rejected


def _split(values: np.ndarray, offsets: np.ndarray) -> list[list[int]]:
    flat = values.tolist()
    bounds = offsets.tolist()
    return [flat[a:b] for a, b in itertools.pairwise(bounds)]


def _column_names(ds: Any) -> list[str]:
    if isinstance(ds, Mapping):
        return list(ds)
    if isinstance(ds, list):
        return sorted({k for r in ds for k in r})
    return list(ds.column_names)


def _column(ds: Any, name: str) -> list[Any]:
    if isinstance(ds, list):
        return [r.get(name) for r in ds]
    return list(ds[name])


def _flat(ds: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """All values of a list-of-ints column as one int64 array, plus row offsets."""
    if not isinstance(ds, (Mapping, list)):  # datasets.Dataset: read Arrow buffers directly
        import pyarrow as pa

        col = ds.with_format("arrow")[name]
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        if isinstance(col, pa.ListArray | pa.LargeListArray):
            offsets = col.offsets.to_numpy().astype(np.int64)
            values = col.values.to_numpy(zero_copy_only=False)
            return values[offsets[0] :], offsets - offsets[0]
    rows = _column(ds, name)
    lens = np.array([0 if r is None else len(r) for r in rows], dtype=np.int64)
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    parts = [np.asarray(r, dtype=np.int64) for r in rows if r is not None and len(r)]
    values = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return values, offsets
