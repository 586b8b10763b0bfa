"""``dedup.exact`` and ``dedup.minhash`` as streamed global passes.

The rows a pass sees are the previous stage's kept rows, read window by window; only
per-row keys stay in memory (exact) or go to a memory-mapped file (MinHash)::

    pass 1   exact:   window -> ExactKeys -> keys (n x 16 bytes); np.unique -> first row
             minhash: window -> MinHashSignatures -> signatures.u32 (memory-mapped,
                      n x num_perm) -> near_duplicate_roots (LSH bands, union-find)
    pass 2   (with an ``id`` column) the ids of the rows that are some duplicate's root
    pass 3   window -> drop_reason, dup_of (, dup_cluster) -> kept rows as parts,
             rejected rows appended to rejects.parquet

Rows, reasons and the written columns equal :func:`sftdata.dedup.exact_dedup` /
:func:`sftdata.dedup.minhash_dedup` on the whole table (the lowest row of each group
survives; ``dup_of`` is its ``id``, else its index), and so do the column types: each
is fixed after pass 1 from the whole column. ``minhash`` with ``against=`` is not
streamed (the runner falls back to the whole-table pass).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sftdata._contract import DROP_REASON
from sftdata.dedup._apply import DUP_CLUSTER, DUP_OF
from sftdata.dedup._exact import REASON_EXACT, ExactKeys, exact_dedup
from sftdata.dedup._lsh import resolve_bands
from sftdata.dedup._minhash import MinHashSignatures, batch_texts
from sftdata.dedup._near import REASON_NEAR, minhash_dedup, near_duplicate_roots
from sftdata.dedup._text import pick_column
from sftdata.runner import _parts as parts
from sftdata.runner._io import REJECTED_BY

ID = "id"
_HELPERS = (DROP_REASON, REJECTED_BY)


def streamable(fn: Callable[..., Any]) -> bool:
    """Whether a built global step is one this module streams (exact, or minhash alone)."""
    func = getattr(fn, "func", None)
    if func is exact_dedup:
        return True
    return func is minhash_dedup and getattr(fn, "keywords", {}).get("against") is None


def run_streamed(fn: Any, name: str, prev: Path, folder: Path, *, rows: int, bar: Any) -> list[str]:
    """Run the pass over ``prev``'s kept rows; write parts and ``rejects.parquet`` into ``folder``."""
    opts = dict(fn.keywords)
    near = fn.func is minhash_dedup
    schema = parts.stage_schema(prev)
    data_schema = pa.schema([f for f in schema if f.name not in _HELPERS])
    column = pick_column(data_schema.names, opts.get("column"))

    def windows() -> Iterator[pa.Table]:
        kept = (
            t.drop_columns([c for c in _HELPERS if c in t.column_names])
            for t in parts.iter_kept(prev, schema)
        )
        return parts.windows(kept, rows, data_schema)

    if near:
        roots, bad = _near_roots(_counted(windows(), bar), opts, column, folder)
    else:
        step = ExactKeys(
            column=column,
            **{k: opts[k] for k in ("fields", "lowercase", "whitespace", "punctuation", "unicode_form") if k in opts},
        )  # fmt: skip
        keys, bad = _keys(_counted(windows(), bar), step, column)
        roots = _roots(keys, bad)
        del keys
    n = len(roots)
    is_dup = roots != np.arange(n)
    sizes = np.bincount(roots, minlength=n) if near else None
    ids = _root_ids(windows(), roots, is_dup) if ID in data_schema.names else None
    reason_type = pa.string() if (bad or is_dup.any()) else pa.null()
    if ids is not None:
        dup_type = data_schema.field(ID).type if is_dup.any() else pa.null()
    else:
        dup_type = pa.int64() if is_dup.any() else pa.null()
    added = [pa.field(DROP_REASON, reason_type), pa.field(DUP_OF, dup_type)]
    if sizes is not None:
        added.append(pa.field(DUP_CLUSTER, pa.int64() if (sizes > 1).any() else pa.null()))
    names = {f.name for f in added}
    out_schema = pa.schema([*(f for f in data_schema if f.name not in names), *added])
    reason_dup = REASON_NEAR if near else REASON_EXACT
    rej_schema = out_schema.append(pa.field(REJECTED_BY, pa.string()))
    writer: pq.ParquetWriter | None = None
    tmp = folder / ".rejects.parquet.tmp"
    out = parts.PartWriter(folder, rows)
    lo = 0
    try:
        for window in windows():
            hi = lo + window.num_rows
            reasons = [bad.get(i, reason_dup if is_dup[i] else None) for i in range(lo, hi)]
            dups = [
                (ids[int(roots[i])] if ids is not None else int(roots[i])) if is_dup[i] else None
                for i in range(lo, hi)
            ]
            table = window.drop_columns([c for c in names if c in window.column_names])
            table = table.append_column(
                out_schema.field(DROP_REASON), pa.array(reasons, reason_type)
            )
            table = table.append_column(out_schema.field(DUP_OF), pa.array(dups, dup_type))
            if sizes is not None:
                cluster = [int(c) if sizes[c] > 1 else None for c in roots[lo:hi].tolist()]
                field = out_schema.field(DUP_CLUSTER)
                table = table.append_column(field, pa.array(cluster, field.type))
            kept, rejected = parts.split(table)
            out.add(kept)
            if rejected.num_rows:
                by = pa.array([name] * rejected.num_rows, pa.string())
                writer = writer or pq.ParquetWriter(tmp, rej_schema, compression="zstd")
                writer.write_table(rejected.append_column(rej_schema.field(REJECTED_BY), by))
            lo = hi
    finally:
        if writer is not None:
            writer.close()
    if writer is not None:
        tmp.replace(folder / "rejects.parquet")
    return out.close()


def _counted(windows: Iterator[pa.Table], bar: Any) -> Iterator[pa.Table]:
    """The windows, each counted on ``bar`` (rows and bytes) once it has been used."""
    for window in windows:
        yield window
        bar.update(window.num_rows, window.nbytes)


def _near_roots(
    windows: Iterator[pa.Table], opts: dict[str, Any], column: str, folder: Path
) -> tuple[np.ndarray, dict[int, str]]:
    """Sign every row into a memory-mapped file, then cluster: ``(roots, bad rows)``."""
    num_perm, seed, ngram = opts.get("num_perm", 128), opts.get("seed", 1), opts.get("ngram", 5)
    threshold, verify = opts.get("threshold", 0.8), opts.get("verify", True)
    b, r = resolve_bands(threshold, num_perm, opts.get("bands"), opts.get("rows"), verify=verify)
    step = MinHashSignatures(
        column=column, fields=opts.get("fields", "all"), num_perm=num_perm, seed=seed, ngram=ngram
    )
    path = folder / ".signatures.u32"
    bad: dict[int, str] = {}
    n = 0
    with path.open("wb") as f:
        for window in windows:
            texts, reasons = batch_texts(
                {column: window.column(column).to_pylist()}, column=column, fields=step.fields
            )
            sig = minhash_signatures_of(texts, step)
            f.write(np.ascontiguousarray(sig).tobytes())
            for j, reason in enumerate(reasons):
                if reason is not None:
                    bad[n + j] = reason
            n += window.num_rows
    if n == 0:
        path.unlink()
        return np.zeros(0, np.int64), bad
    sig = np.memmap(path, dtype=np.uint32, mode="r", shape=(n, num_perm))
    active = np.ones(n, dtype=bool)
    active[list(bad)] = False
    roots = near_duplicate_roots(
        sig, threshold=threshold, bands=b, rows=r, verify=verify, active=active
    )
    del sig
    path.unlink()
    return np.asarray(roots, dtype=np.int64), bad


def minhash_signatures_of(texts: list[str], step: MinHashSignatures) -> np.ndarray:
    from sftdata.dedup._minhash import minhash_signatures

    return minhash_signatures(texts, num_perm=step.num_perm, seed=step.seed, ngram=step.ngram)


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
