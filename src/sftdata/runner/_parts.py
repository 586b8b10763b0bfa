"""A finished stage read part by part: the rows it kept and rejected, never the whole table.

A stage's parts may disagree on their schemas (a column missing, or all-null in one
part); the stage's rows are the parts concatenated with permissive promotion. Here
each part is conformed to the union of all the parts' schemas (read from the parquet
footers), so the rows streamed are exactly those of the concatenation::

    part-00000 {text, drop_reason}      --conform-->  {text, drop_reason, dup_of}
    part-00001 {text, drop_reason, dup_of}
                     |  split on drop_reason
    kept rows  --windows of R rows-->  [R] [R] [R] [rest]   (what the next stage's parts take)

Memory is one part plus one window, whatever the corpus size.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sftdata._contract import DROP_REASON, SftDataError
from sftdata._rejects import Counters
from sftdata.engines._local import concat
from sftdata.runner._io import REJECTED_BY, release_memory, write_table_atomic


def stage_info(folder: Path) -> dict[str, Any]:
    """A finished stage's ``_DONE.json``."""
    return dict(json.loads((folder / "_DONE.json").read_text()))


def part_paths(folder: Path) -> list[Path]:
    return [folder / p for p in stage_info(folder)["parts"]]


def extra_rejects(folder: Path) -> list[Path]:
    """The stage's rejects files besides its parts: ``rejects.parquet`` (input stage, whole
    global passes) and the files ``_DONE.json`` lists under ``rejects`` (streamed passes)."""
    info = stage_info(folder)
    if "rejects" in info:  # a streamed pass lists its own (a stale rejects.parquet is not one)
        return [folder / n for n in info["rejects"]]
    path = folder / "rejects.parquet"
    return [path] if path.exists() else []


def unified_schema(schemas: Iterable[pa.Schema]) -> pa.Schema:
    """The schema ``concat`` gives these tables (permissive promotion, first-seen order)."""
    kept = [s for s in schemas if len(s)]
    if not kept:
        return pa.schema([])
    try:
        return pa.unify_schemas(kept, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise SftDataError(f"inputs disagree on a column's type: {e}") from None


def stage_schema(folder: Path) -> pa.Schema:
    """The union schema of a stage's parts (its kept and split-off rejected rows)."""
    return unified_schema(pq.read_schema(p) for p in part_paths(folder))


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with ``schema``'s columns, in its order (missing ones null), as ``concat`` would."""
    if table.schema.equals(schema):
        return table
    if not len(schema):
        return table
    return pa.concat_tables([schema.empty_table(), table], promote_options="permissive")


def split(table: pa.Table) -> tuple[pa.Table, pa.Table]:
    """``(kept, rejected)`` by ``drop_reason`` (absent: all kept)."""
    if DROP_REASON not in table.column_names or table.num_rows == 0:
        return table, table.slice(0, 0)
    dropped = table.column(DROP_REASON).is_valid()
    return table.filter(pc.invert(dropped)), table.filter(dropped)


def iter_kept(folder: Path, schema: pa.Schema | None = None) -> Iterator[pa.Table]:
    """The stage's kept rows, part by part, conformed to the stage schema."""
    schema = schema if schema is not None else stage_schema(folder)
    for path in part_paths(folder):
        yield split(conform(pq.read_table(path), schema))[0]


def iter_rejected(folder: Path, schema: pa.Schema | None = None) -> Iterator[pa.Table]:
    """The stage's rejected rows (split off its parts, then its ``rejects.parquet``)."""
    schema = schema if schema is not None else stage_schema(folder)
    for path in part_paths(folder):
        yield split(conform(pq.read_table(path), schema))[1]
    for extra in extra_rejects(folder):
        yield pq.read_table(extra)


def rejected_schemas(folder: Path) -> list[pa.Schema]:
    """Schemas the stage's rejected rows contribute to the rejects output, in order."""
    return [stage_schema(folder), *(pq.read_schema(p) for p in extra_rejects(folder))]


def kept_count(folder: Path) -> int:
    """Kept rows of a finished stage (reads only ``drop_reason``)."""
    n = 0
    for path in part_paths(folder):
        if DROP_REASON in pq.read_schema(path).names:
            n += pq.read_table(path, columns=[DROP_REASON]).column(DROP_REASON).null_count
        else:
            n += pq.read_metadata(path).num_rows
    return n


def reject_counters(folder: Path, names: tuple[str, ...]) -> dict[str, list[str]]:
    """Drop reasons of the stage's rejected rows, per ``rejected_by`` name in ``names``."""
    out: dict[str, list[str]] = {n: [] for n in names}
    for path in [*part_paths(folder), *extra_rejects(folder)]:
        cols = [c for c in (DROP_REASON, REJECTED_BY) if c in pq.read_schema(path).names]
        if len(cols) < 2:
            continue
        t = pq.read_table(path, columns=cols)
        t = t.filter(t.column(DROP_REASON).is_valid())
        for by, reason in zip(
            t.column(REJECTED_BY).to_pylist(), t.column(DROP_REASON).to_pylist(), strict=True
        ):
            if by in out:
                out[by].append(reason)
    return out


def total_reasons(folders: list[Path]) -> Counters:
    """Counts per drop reason of every rejected row of these stages."""
    total = Counters(0, 0, {})
    for folder in folders:
        for path in [*part_paths(folder), *extra_rejects(folder)]:
            if DROP_REASON not in pq.read_schema(path).names:
                continue
            col = pq.read_table(path, columns=[DROP_REASON]).column(DROP_REASON)
            reasons = [r for r in col.to_pylist() if r is not None]
            total = total + Counters.from_reasons(reasons)
    return total


def complete(part: Path) -> bool:
    """A finished part: present and with a readable parquet footer (work files skip fsync)."""
    try:
        pq.read_metadata(part)
    except (OSError, pa.ArrowInvalid):
        return False
    return True


def windows(tables: Iterable[pa.Table], size: int, schema: pa.Schema) -> Iterator[pa.Table]:
    """Re-cut a stream of tables into tables of ``size`` rows (the last shorter; one empty
    table when there are no rows at all), each conformed to ``schema``, one chunk."""
    buf: list[pa.Table] = []
    n = 0
    emitted = False
    for t in tables:
        if t.num_rows == 0:
            continue
        buf.append(conform(t, schema))
        n += t.num_rows
        while n >= size:
            whole = pa.concat_tables(buf).combine_chunks() if len(buf) > 1 else buf[0]
            yield whole.slice(0, size).combine_chunks()
            release_memory()  # the window is done with: its buffers back to the system
            emitted = True
            rest = whole.slice(size)
            buf, n = ([rest] if rest.num_rows else []), rest.num_rows
    if n or not emitted:
        yield (pa.concat_tables(buf).combine_chunks() if buf else schema.empty_table())


class PartWriter:
    """Write incoming tables as parts of ``rows`` rows, in order, as they fill."""

    def __init__(self, folder: Path, rows: int) -> None:
        self.folder, self.rows = folder, rows
        self.buf: list[pa.Table] = []
        self.n = 0
        self.names: list[str] = []

    def add(self, table: pa.Table) -> None:
        self.buf.append(table)  # zero-row tables too: their columns belong to the union
        self.n += table.num_rows
        while self.n >= self.rows:
            whole = concat(self.buf)
            self._write(whole.slice(0, self.rows))
            rest = whole.slice(self.rows)
            self.buf, self.n = [rest], rest.num_rows

    def close(self) -> list[str]:
        if self.n or not self.names or any(t.num_columns for t in self.buf[1:]):
            self._write(concat(self.buf))  # rows left, or columns only empty tables brought
        return self.names

    def _write(self, piece: pa.Table) -> None:
        name = f"part-{len(self.names):05d}.parquet"
        write_table_atomic(piece.combine_chunks(), self.folder / name)
        self.names.append(name)
