"""Splitting a dataset into kept and rejected rows, and counting why rows went."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sftdata._batch import drop_reasons
from sftdata._contract import DROP_REASON

T = TypeVar("T")

#: Which step (or ``input``) rejected a row.
REJECTED_BY = "rejected_by"
#: Where an input row came from: ``file:line`` (JSONL, CSV, text) or ``file#row``
#: (Parquet, a .json list, a saved dataset).
LOCATION = "location"
#: The columns every rejects file starts with, in this order (``None`` where unknown:
#: ``raw`` is the input text of a row that could not be read or parsed; a row rejected
#: later keeps its own columns after these).
REJECT_COLUMNS = (DROP_REASON, REJECTED_BY, "source", LOCATION, "raw")
#: The column that carries each input row's location through a run (dropped from
#: outputs; written as ``location`` in rejects).
ROW_LOCATION = "_location"


def rejects_row(row: Mapping[str, Any], *, rejected_by: str | None = None) -> dict[str, Any]:
    """``row`` in the rejects format: :data:`REJECT_COLUMNS` first, then its own columns.

    >>> rejects_row({"messages": [], "drop_reason": "parse.x", "_location": "a.jsonl:3"},
    ...             rejected_by="parse")
    {'drop_reason': 'parse.x', 'rejected_by': 'parse', 'source': None, 'location': 'a.jsonl:3', 'raw': None, 'messages': []}
    """
    where = row.get(ROW_LOCATION)
    out = {
        DROP_REASON: row.get(DROP_REASON),
        REJECTED_BY: row.get(REJECTED_BY) or rejected_by,
        "source": row.get("source"),
        LOCATION: where if where is not None else row.get(LOCATION),
        "raw": row.get("raw"),
    }
    out.update((k, v) for k, v in row.items() if k not in out and k != ROW_LOCATION)
    return out


def split_rejects(ds: Any) -> tuple[Any, Any]:
    """Split rows into ``(kept, rejected)`` by their ``drop_reason`` column.

    Works on a ``datasets.Dataset``, a columnar batch ``dict[str, list]`` or a list of
    row dicts, and returns two objects of the same kind. ``len(kept) + len(rejected)``
    always equals the number of rows in. A dataset without ``drop_reason`` is all kept.
    """
    if isinstance(ds, Mapping):
        reasons = drop_reasons(ds)
        keep = [i for i, r in enumerate(reasons) if r is None]
        drop = [i for i, r in enumerate(reasons) if r is not None]
        return (
            {k: [v[i] for i in keep] for k, v in ds.items()},
            {k: [v[i] for i in drop] for k, v in ds.items()},
        )
    if isinstance(ds, list):
        return (
            [r for r in ds if r.get(DROP_REASON) is None],
            [r for r in ds if r.get(DROP_REASON) is not None],
        )
    # datasets.Dataset (duck-typed so the core does not import `datasets` eagerly)
    if DROP_REASON not in ds.column_names:
        return ds, ds.select([])
    reasons = ds[DROP_REASON]
    keep = [i for i, r in enumerate(reasons) if r is None]
    drop = [i for i, r in enumerate(reasons) if r is not None]
    return ds.select(keep), ds.select(drop)


@dataclass
class Counters:
    """Rows in, kept, and dropped per reason. Merge shards with ``+``.

    >>> Counters.from_reasons([None, "quality.too_short", None]) + Counters.from_reasons(["pii.secret"])
    Counters(rows_in=4, kept=2, dropped={'pii.secret': 1, 'quality.too_short': 1})
    """

    rows_in: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_reasons(cls, reasons: list[str | None]) -> Counters:
        c = Counter(r for r in reasons if r is not None)
        kept = sum(1 for r in reasons if r is None)
        return cls(rows_in=len(reasons), kept=kept, dropped=dict(sorted(c.items())))

    @classmethod
    def from_batch(cls, batch: Mapping[str, list[Any]]) -> Counters:
        return cls.from_reasons(drop_reasons(batch))

    @classmethod
    def from_dataset(cls, ds: Any) -> Counters:
        if DROP_REASON not in ds.column_names:
            return cls(rows_in=len(ds), kept=len(ds))
        return cls.from_reasons(list(ds[DROP_REASON]))

    @property
    def rejected(self) -> int:
        return sum(self.dropped.values())

    def __add__(self, other: Counters) -> Counters:
        merged = Counter(self.dropped)
        merged.update(other.dropped)
        return Counters(
            self.rows_in + other.rows_in, self.kept + other.kept, dict(sorted(merged.items()))
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_in": self.rows_in,
            "kept": self.kept,
            "rejected": self.rejected,
            "dropped": dict(self.dropped),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def to_table(self) -> str:
        """A plain-text table: one line per reason, then the totals."""
        width = max([len(r) for r in self.dropped] + [len("rows in")])
        lines = [f"{'rows in':<{width}}  {self.rows_in:>10}", f"{'kept':<{width}}  {self.kept:>10}"]
        lines += [
            f"{r:<{width}}  {n:>10}" for r, n in sorted(self.dropped.items(), key=lambda kv: -kv[1])
        ]
        return "\n".join(lines)
