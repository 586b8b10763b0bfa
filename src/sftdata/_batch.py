"""Helpers shared by batched steps: rows <-> columnar batches, rejected rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sftdata._contract import DROP_REASON, Batch, RowError


def batch_len(batch: Mapping[str, list[Any]]) -> int:
    """Number of rows in a columnar batch (all columns have equal length)."""
    lengths = {len(v) for v in batch.values()}
    if len(lengths) > 1:
        raise ValueError(
            f"batch columns have different lengths: { {k: len(v) for k, v in batch.items()} }"
        )
    return lengths.pop() if lengths else 0


def iter_rows(batch: Mapping[str, list[Any]]) -> Iterator[dict[str, Any]]:
    """Yield each row of a columnar batch as a dict."""
    keys = list(batch)
    for i in range(batch_len(batch)):
        yield {k: batch[k][i] for k in keys}


def rows_to_batch(rows: list[dict[str, Any]], columns: list[str] | None = None) -> Batch:
    """Turn a list of row dicts into a columnar batch (missing keys become ``None``)."""
    if columns is None:
        columns = []
        for r in rows:
            for k in r:
                if k not in columns:
                    columns.append(k)
    return {c: [r.get(c) for r in rows] for c in columns}


def drop_reasons(batch: Mapping[str, list[Any]]) -> list[str | None]:
    """The ``drop_reason`` column of a batch, all ``None`` when absent."""
    col = batch.get(DROP_REASON)
    return list(col) if col is not None else [None] * batch_len(batch)


def map_kept(
    batch: Mapping[str, list[Any]],
    column: str,
    fn: Callable[[Any], Any],
) -> Batch:
    """Apply ``fn`` to ``column`` of every kept row; rows ``fn`` rejects get a reason.

    Rows already carrying a ``drop_reason`` pass through untouched, so steps can run
    on one dataset that holds kept and rejected rows together. ``fn`` raises
    :class:`~sftdata.RowError` to reject. Returns a new batch (input untouched).
    """
    out: Batch = {k: list(v) for k, v in batch.items()}
    reasons = drop_reasons(batch)
    values = out[column]
    for i, value in enumerate(values):
        if reasons[i] is not None:
            continue
        try:
            values[i] = fn(value)
        except RowError as e:
            reasons[i] = e.reason
    out[DROP_REASON] = reasons
    return out
