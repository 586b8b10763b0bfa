"""Container plumbing for the global passes: datasets.Dataset or a plain list of rows.

A global pass reads one column of every row, decides per row, then writes the
decision back as columns and splits the rows into ``(kept, rejected)``::

    rows in  --read column-->  keys / signatures  --decide-->  drop_reason, dup_of, ...
             --attach columns--> split_rejects --> (kept, rejected)   same container kind
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np

from sftdata._contract import DROP_REASON, TEXT
from sftdata._rejects import split_rejects
from sftdata.dedup._text import pick_column

#: Columns the dedup passes write on every row (``None`` on rows they keep).
DUP_OF = "dup_of"
DUP_CLUSTER = "dup_cluster"
ID = "id"

Step = Callable[[Mapping[str, list[Any]]], dict[str, list[Any]]]


def is_dataset(data: Any) -> bool:
    """True for a ``datasets.Dataset`` (duck-typed: no eager ``datasets`` import)."""
    return hasattr(data, "column_names") and hasattr(data, "map") and hasattr(data, "select")


def as_input(data: Any) -> Any:
    """A Dataset as is; a list of row dicts as is (not copied); str items as ``{"text": s}``."""
    if is_dataset(data):
        return data
    if isinstance(data, (str, bytes)) or not isinstance(data, Sequence):
        raise TypeError(f"expected a datasets.Dataset or a list of rows, got {type(data).__name__}")
    rows: list[Mapping[str, Any]] = []
    for i, r in enumerate(data):
        if isinstance(r, str):
            rows.append({TEXT: r})
        elif isinstance(r, Mapping):
            rows.append(r)
        else:
            raise TypeError(f"row {i} must be a dict or a str, got {type(r).__name__}")
    return rows


def columns_of(data: Any) -> list[str]:
    """Column names: a Dataset's, or every key seen in a list of rows (first-seen order)."""
    if is_dataset(data):
        return list(data.column_names)
    seen: dict[str, None] = {}
    for r in data:
        seen.update(dict.fromkeys(r))
    return list(seen)


def resolve_column(data: Any, column: str | None) -> str:
    """The column to read (``messages``, else ``text`` when not given), checked to exist."""
    return pick_column(columns_of(data), column)


def read_column(data: Any, name: str) -> list[Any]:
    """One column as a list (``None`` where a row lacks it)."""
    if is_dataset(data):
        return list(data[name]) if name in data.column_names else [None] * len(data)
    return [r.get(name) for r in data]


def map_columns(
    data: Any, step: Step, *, keep: list[str], num_proc: int | None, batch_size: int
) -> dict[str, list[Any]] | Any:
    """Run a batched step over all rows; return only the ``keep`` columns it produced.

    On a Dataset this is ``ds.map(step, batched=True, num_proc=...)`` (cached, parallel)
    and the result is an Arrow table; on rows the step runs on one columnar batch per
    ``batch_size`` rows and the result is a dict of lists.
    """
    if is_dataset(data):
        if len(data) == 0:  # datasets maps zero rows to a table with no columns at all
            return {k: [] for k in keep}
        out = data.map(
            partial(_keep_only, step=step, keep=tuple(keep)),
            batched=True,
            batch_size=batch_size,
            num_proc=num_proc,
            remove_columns=data.column_names,
            desc="dedup map",
        )
        return out.with_format("arrow")[:]
    cols = columns_of(data)
    result: dict[str, list[Any]] = {k: [] for k in keep}
    for lo in range(0, len(data), batch_size):
        chunk = data[lo : lo + batch_size]
        got = step({c: [r.get(c) for r in chunk] for c in cols})
        for k in keep:
            result[k].extend(got[k])
    return result


def _keep_only(
    batch: Mapping[str, list[Any]], *, step: Step, keep: tuple[str, ...]
) -> dict[str, list[Any]]:
    got = step(batch)
    return {k: got[k] for k in keep}


def column_list(table: Any, name: str) -> list[Any]:
    """A column of :func:`map_columns`' result as a list."""
    if isinstance(table, dict):
        return list(table[name])
    return table.column(name).to_pylist()  # type: ignore[no-any-return]


def column_matrix(table: Any, name: str, width: int, dtype: type) -> np.ndarray:
    """A fixed-width list column of :func:`map_columns`' result as an ``(n, width)`` array."""
    if isinstance(table, dict):
        rows = table[name]
        return np.asarray(rows, dtype=dtype).reshape(len(rows), width)
    col = table.column(name)
    out: np.ndarray = np.empty((len(col), width), dtype=dtype)
    lo = 0
    for chunk in col.chunks:
        flat = chunk.flatten().to_numpy(zero_copy_only=False)
        out[lo : lo + len(chunk)] = flat.reshape(len(chunk), width)
        lo += len(chunk)
    return out


def row_ids(data: Any, roots: Sequence[int] | np.ndarray) -> list[Any]:
    """The id of each row in ``roots``: the ``id`` column's value if any, else the index."""
    if ID in columns_of(data):
        ids = read_column(data, ID)
        return [ids[int(r)] for r in roots]
    return [int(r) for r in roots]


def check_lengths(data: Any, **columns: Sequence[Any] | np.ndarray | None) -> None:
    """Raise ``ValueError`` naming the first of ``columns`` whose length is not ``len(data)``."""
    for name, values in columns.items():
        if values is not None and len(values) != len(data):
            raise ValueError(f"{name} has {len(values)} entries for {len(data)} rows")


def finish(data: Any, columns: dict[str, list[Any]]) -> tuple[Any, Any]:
    """Write ``columns`` onto every row and split into ``(kept, rejected)``."""
    if is_dataset(data):
        out = data
        for name, values in columns.items():
            if name in out.column_names:
                out = out.remove_columns(name)
            out = out.add_column(name, values)
        return split_rejects(out)
    rows = [dict(r) for r in data]
    for name, values in columns.items():
        for r, v in zip(rows, values, strict=True):
            r[name] = v
    return split_rejects(rows)


__all__ = [
    "DROP_REASON",
    "DUP_CLUSTER",
    "DUP_OF",
    "as_input",
    "check_lengths",
    "column_list",
    "column_matrix",
    "finish",
    "map_columns",
    "read_column",
    "resolve_column",
    "row_ids",
]
