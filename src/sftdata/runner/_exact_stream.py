"""``dedup.exact`` as a streamed global pass: only the 16-byte keys are held in memory.

The rows the pass sees are the previous stage's kept rows, read window by window::

    pass 1   window -> ExactKeys -> keys[lo:hi]        (n x 16 bytes, plus bad-row reasons)
             np.unique(keys): first row of every key -> roots
    pass 2   (with an ``id`` column) the ids of the rows that are some duplicate's root
    pass 3   window -> drop_reason, dup_of -> kept rows as parts, rejected rows appended
             to rejects.parquet

The rows, reasons and ``dup_of`` values equal :func:`sftdata.dedup.exact_dedup` on the
whole table (the lowest row of each key survives; ``dup_of`` is its ``id``, else its
index), and so do the column types: each is fixed after pass 1 from the whole column.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sftdata._contract import DROP_REASON
from sftdata.dedup._apply import DUP_OF
from sftdata.dedup._exact import REASON_EXACT, ExactKeys, exact_dedup
from sftdata.dedup._text import pick_column
from sftdata.runner import _parts as parts
from sftdata.runner._io import REJECTED_BY

ID = "id"
_HELPERS = (DROP_REASON, REJECTED_BY)


def is_exact(fn: Callable[..., Any]) -> bool:
    """Whether a built global step is ``dedup.exact`` (a partial of :func:`exact_dedup`)."""
    return getattr(fn, "func", None) is exact_dedup


def run_exact(fn: Any, name: str, prev: Path, folder: Path, *, rows: int, bar: Any) -> list[str]:
    """Run the pass over ``prev``'s kept rows; write parts and ``rejects.parquet`` into ``folder``."""
    opts = dict(fn.keywords)
    schema = parts.stage_schema(prev)
    data_schema = pa.schema([f for f in schema if f.name not in _HELPERS])
    column = pick_column(data_schema.names, opts.get("column"))
    step = ExactKeys(
        column=column,
        **{k: opts[k] for k in ("fields", "lowercase", "whitespace", "punctuation", "unicode_form") if k in opts},
    )  # fmt: skip

    def windows() -> Iterator[pa.Table]:
        kept = (
            t.drop_columns([c for c in _HELPERS if c in t.column_names])
            for t in parts.iter_kept(prev, schema)
        )
        return parts.windows(kept, rows, data_schema)  # fmt: skip

    keys, bad = _keys(windows(), step, column)
    roots = _roots(keys, bad)
    n = len(roots)
    is_dup = roots != np.arange(n)
    ids = _root_ids(windows(), roots, is_dup) if ID in data_schema.names else None
    reason_type = pa.string() if (bad or is_dup.any()) else pa.null()
    if ids is not None:
        dup_type = data_schema.field(ID).type if is_dup.any() else pa.null()
    else:
        dup_type = pa.int64() if is_dup.any() else pa.null()
    base = [f for f in data_schema if f.name != DUP_OF]
    out_schema = pa.schema([*base, pa.field(DROP_REASON, reason_type), pa.field(DUP_OF, dup_type)])
    rej_schema = out_schema.append(pa.field(REJECTED_BY, pa.string()))
    writer: pq.ParquetWriter | None = None
    tmp = folder / ".rejects.parquet.tmp"
    out = parts.PartWriter(folder, rows)
    lo = 0
    try:
        for window in windows():
            hi = lo + window.num_rows
            reasons = [bad.get(i, REASON_EXACT if is_dup[i] else None) for i in range(lo, hi)]
            dups = [
                (ids[int(roots[i])] if ids is not None else int(roots[i])) if is_dup[i] else None
                for i in range(lo, hi)
            ]
            table = window.drop_columns([DUP_OF] if DUP_OF in window.column_names else [])
            table = table.append_column(
                out_schema.field(DROP_REASON), pa.array(reasons, reason_type)
            )
            table = table.append_column(out_schema.field(DUP_OF), pa.array(dups, dup_type))
            kept, rejected = parts.split(table)
            out.add(kept)
            if rejected.num_rows:
                by = pa.array([name] * rejected.num_rows, pa.string())
                writer = writer or pq.ParquetWriter(tmp, rej_schema, compression="zstd")
                writer.write_table(rejected.append_column(rej_schema.field(REJECTED_BY), by))
            bar.update(window.num_rows)
            lo = hi
    finally:
        if writer is not None:
            writer.close()
    if writer is not None:
        tmp.replace(folder / "rejects.parquet")
    return out.close()


def _keys(
    windows: Iterator[pa.Table], step: ExactKeys, column: str
) -> tuple[np.ndarray, dict[int, str]]:
    """All rows' keys (``(n, 16)`` bytes; zeros for bad rows) and the bad rows' reasons."""
    chunks: list[np.ndarray] = []
    bad: dict[int, str] = {}
    lo = 0
    for window in windows:
        batch = {column: window.column(column).to_pylist()}
        out = step(batch)
        keys = out["exact_key"]
        for j, (k, r) in enumerate(zip(keys, out[DROP_REASON], strict=True)):
            if k is None or r is not None:
                bad[lo + j] = r or "dedup.bad_row"
        chunks.append(
            np.frombuffer(b"".join(k or bytes(16) for k in keys), np.uint8).reshape(-1, 16)
        )
        lo += window.num_rows
    return (np.concatenate(chunks) if chunks else np.zeros((0, 16), np.uint8)), bad


def _roots(keys: np.ndarray, bad: dict[int, str]) -> np.ndarray:
    """``roots[i]``: the first row with row ``i``'s key (``i`` for bad rows)."""
    n = len(keys)
    roots = np.arange(n, dtype=np.int64)
    good = np.setdiff1d(roots, np.fromiter(bad, np.int64, len(bad)), assume_unique=True)
    if len(good):
        view = np.ascontiguousarray(keys[good]).view(np.dtype((np.void, 16))).ravel()
        _, first, inverse = np.unique(view, return_index=True, return_inverse=True)
        roots[good] = good[first[inverse.ravel()]]
    return roots


def _root_ids(windows: Iterator[pa.Table], roots: np.ndarray, is_dup: np.ndarray) -> dict[int, Any]:
    """The ``id`` of every row that is the root of some duplicate."""
    need = set(np.unique(roots[is_dup]).tolist())
    out: dict[int, Any] = {}
    lo = 0
    for window in windows:
        hi = lo + window.num_rows
        wanted = [i for i in range(lo, hi) if i in need] if need else []
        if wanted:
            col = window.column(ID)
            for i in wanted:
                out[i] = col[i - lo].as_py()
        lo = hi
    return out
