"""Run map steps on Arrow tables the same way on every engine.

``TrackedSteps`` is one step made of several; it also writes ``rejected_by``, the
name of the step that rejected each row, so counts per step come from the data
itself and are identical whichever engine ran the batches::

    drop_reason         rejected_by
    None                None                 kept
    quality.too_short   clean.quality        rejected by the 2nd step
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sftdata._batch import batch_len, drop_reasons, iter_rows, rows_to_batch
from sftdata._contract import DROP_REASON, Batch, SftDataError
from sftdata.runner._io import REJECTED_BY


@dataclass(frozen=True)
class TrackedSteps:
    """Run ``steps`` in order on a batch, recording which step rejected each row.

    >>> from sftdata.runner._apply import TrackedSteps
    >>> def short(batch):
    ...     return {**batch, "drop_reason": [None if len(t) > 2 else "too_short" for t in batch["text"]]}
    >>> TrackedSteps((short,), ("short",))({"text": ["hello", "hi"]})["rejected_by"]
    [None, 'short']

    A step that raises on a batch is re-run row by row; the rows it raises on are
    rejected with ``step.error:<ExceptionType>``:

    >>> TrackedSteps((short,), ("short",))({"text": ["hello", 5]})["drop_reason"]
    [None, 'step.error:TypeError']
    """

    steps: tuple[Callable[[Batch], Batch], ...]
    names: tuple[str, ...]

    def __call__(self, batch: Batch) -> Batch:
        n = batch_len(batch)
        out: Batch = dict(batch)
        by = list(out.get(REJECTED_BY) or [None] * n)
        for step, name in zip(self.steps, self.names, strict=True):
            try:
                out = step(out)
            except Exception:
                out = _row_by_row(step, out)
            if batch_len(out) != n:
                raise SftDataError(
                    f"step {name!r} turned {n} rows into {batch_len(out)}; "
                    "a map step must keep the row count (use a global pass instead)"
                )
            for i, reason in enumerate(drop_reasons(out)):
                if reason is not None and by[i] is None:
                    by[i] = name
        out[DROP_REASON] = drop_reasons(out)
        out[REJECTED_BY] = by
        return out


def _row_by_row(step: Callable[[Batch], Batch], batch: Batch) -> Batch:
    """Re-run a step that raised on a batch one row at a time; rows it raises on are rejected.

    The reason is ``step.error:<ExceptionType>``, so one bad row never stops a run.
    """
    rows: list[dict[str, Any]] = []
    for row in iter_rows(batch):
        single = {k: [v] for k, v in row.items()}
        try:
            out = step(single)
            rows.append({k: v[0] for k, v in out.items()})
        except Exception as e:
            if row.get(DROP_REASON) is None:
                row[DROP_REASON] = f"step.error:{type(e).__name__}"
            rows.append(row)
    return rows_to_batch(rows)


def split_kept(table: pa.Table) -> tuple[pa.Table, pa.Table]:
    """``(kept, rejected)`` by the ``drop_reason`` column (absent = all kept)."""
    if DROP_REASON not in table.column_names or table.num_rows == 0:
        return table, table.slice(0, 0)
    dropped = table.column(DROP_REASON).is_valid()
    return table.filter(pc.invert(dropped)), table.filter(dropped)
