"""The local engine: steps and global passes on Arrow tables in this process.

The runner picks an engine (this one, or :mod:`sftdata.engines._ray`); both build on
the table helpers here, and neither knows anything of the runner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa

from sftdata._contract import Batch, SftDataError


def concat(tables: list[pa.Table]) -> pa.Table:
    """Concatenate tables, unifying schemas (missing columns become nulls)."""
    tables = [t for t in tables if t.num_columns]
    if not tables:
        return pa.table({})
    try:
        return pa.concat_tables(tables, promote_options="permissive").combine_chunks()
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise SftDataError(f"inputs disagree on a column's type: {e}") from None


def _plain(value: Any) -> Any:
    """numpy arrays / scalars -> lists / Python scalars, so Arrow infers the same types."""
    tolist = getattr(value, "tolist", None)
    return tolist() if tolist is not None else value


def apply_to_table(fn: Callable[[Batch], Batch], table: pa.Table) -> pa.Table:
    """Call a batch step on one Arrow table and return its output as a table."""
    out = fn(table.to_pydict())
    cols = {k: [_plain(v) for v in vals] for k, vals in out.items()}
    try:
        return pa.Table.from_pydict(cols)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise SftDataError(f"a step returned values Arrow cannot store: {e}") from None


def slices(table: pa.Table, size: int) -> Iterator[pa.Table]:
    for start in range(0, max(table.num_rows, 1), size):
        piece = table.slice(start, size)
        if piece.num_rows or table.num_rows == 0:
            yield piece


def map_table(fn: Callable[[Batch], Batch], table: pa.Table, *, batch_size: int) -> pa.Table:
    """Apply ``fn`` to ``table`` in batches of ``batch_size`` rows; schemas are unified."""
    if table.num_rows == 0:
        return table
    return concat([apply_to_table(fn, piece) for piece in slices(table, batch_size)])


def local_global(fn: Callable[..., Any], table: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Run a global pass on the driver with ``datasets``; returns ``(kept, rejected)`` tables."""
    import datasets

    kept, rejected = fn(datasets.Dataset(table))
    return kept.flatten_indices().data.table, rejected.flatten_indices().data.table
