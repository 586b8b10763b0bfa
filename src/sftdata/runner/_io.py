"""Reading inputs into Arrow (bad rows become rejects) and writing shards atomically.

Input rows that cannot be read become rejected rows instead of a traceback::

    line                          drop_reason            rejected_by   raw
    {"text": "ok"}                None (kept)
    {"text": "ok"                 input.bad_json         input         '{"text": "ok"'
    [1, 2]                        input.not_an_object    input         '[1, 2]'
    b'\\xff\\xfe'                   input.bad_utf8         input         '\\ufffd\\ufffd'
    {"text": 3} (text was str)    input.bad_type:text    input         '{"text": 3}'

Each row's ``location`` is ``file:line`` (JSONL, CSV, text; 1-based, a CSV's header is
line 1) or ``file#row`` (Parquet, a ``.json`` list, a saved dataset; 0-based), with
``file`` the path as given; ``read_input(..., locations=True)`` keeps it on the read
rows too (column ``_location``) so a row rejected later still names its input line.

JSONL is parsed by ``pyarrow.json.read_json``, one whole block of lines per read,
wherever that gives exactly the rows, types and rejects of parsing it line by line in
Python (:mod:`sftdata.runner._jsonl`, which hands a block back otherwise); a large
file's blocks are spilled to disk as they are read (:mod:`sftdata.runner._blocks`).

A binary file (a NUL byte in its first 8 KiB) is one clear error. Every file is
written to ``<name>.tmp-<pid>`` first and renamed into place, so a reader never sees
a half-written shard under its final name.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import hashlib
import io
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq

from sftdata._contract import SftDataError
from sftdata._rejects import REJECTED_BY as REJECTED_BY  # re-exported for the runner
from sftdata._rejects import ROW_LOCATION
from sftdata.runner._blocks import BlockSpill
from sftdata.runner._jsonl import TYPE_ERRORS, arrow_block, jsonl_lines, reject

_SUFFIX_FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".csv": "csv",
    ".txt": "text",
}


def expand_input(base: Path, pattern: str) -> list[Path]:
    """Files (or saved-dataset folders) matching ``pattern`` relative to ``base``, sorted."""
    full = pattern if os.path.isabs(pattern) else os.path.normpath(base / pattern)
    return [Path(p) for p in sorted(glob.glob(full, recursive=True))]


def check_writable(path: Path) -> str | None:
    """Why ``path`` cannot be created as an output folder, or ``None`` if it can."""
    p = path
    while not p.exists():
        if p.parent == p:
            return f"cannot create {path}: no existing parent"
        p = p.parent
    if not p.is_dir():
        return f"cannot create {path}: {p} is a file, not a folder"
    if not os.access(p, os.W_OK | os.X_OK):
        return f"cannot create {path}: {p} is not writable"
    return None


def infer_format(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        return fmt
    if path.is_dir():
        return "hf"
    try:
        return _SUFFIX_FORMATS[path.suffix.lower()]
    except KeyError:
        raise SftDataError(
            f"{path}: cannot tell the format from the suffix {path.suffix!r}; "
            f"set 'format' to one of {sorted(set(_SUFFIX_FORMATS.values()) | {'hf'})}"
        ) from None


def _reject(reason: str, raw: str, location: str) -> dict[str, Any]:
    return reject(reason, raw, location)


def _read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise SftDataError(f"{path}: looks like a binary file (NUL bytes); expected text")
    return data


def jsonl_rows(
    path: Path, label: str | None = None
) -> tuple[list[dict[str, Any]], list[str], list[dict[str, Any]]]:
    """Rows, their locations (``label:line``; ``label`` defaults to the path) and rejects."""
    return jsonl_lines(_read_bytes(path).splitlines(), str(path) if label is None else label, 1)


#: A JSONL file larger than this (16 MB) is read in blocks of about this many bytes (whole
#: lines), each block typed on its own; smaller files are read whole. Reading a block
#: holds a few times its size at once (its bytes, pyarrow's parse, the table).
JSONL_BLOCK_BYTES = 16 << 20

#: A whole-file JSONL read tries pyarrow's reader (one read) up to this size.
_ARROW_WHOLE_MAX = 1 << 30


def iter_input(
    path: Path,
    fmt: str | None,
    *,
    split: str = "train",
    block_bytes: int | None = None,
    locations: bool = False,
    label: str | None = None,
    spill: BlockSpill | None = None,
) -> Iterator[tuple[pa.Table, pa.Table]]:
    """:func:`read_input` in blocks: a JSONL file over ``block_bytes`` (default
    :data:`JSONL_BLOCK_BYTES`; any JSONL file with ``spill``) yields one ``(rows,
    rejects)`` pair per block of whole lines (locations stay file:line).

    The blocks give exactly what one whole read gives. Their tables are spilled (to
    ``spill``'s folder, where a rerun finds the finished ones, or to a temporary one)
    and yielded once every block is read: where a column's types disagree (inside a
    block or between blocks), a whole read would type the column by its most common
    type over the file and reject the other rows, so the file is read whole instead
    (memory then grows with that one file; such files are rare).
    """
    fmt = infer_format(path, fmt)
    block_bytes = JSONL_BLOCK_BYTES if block_bytes is None else block_bytes
    if fmt != "jsonl" or (spill is None and path.stat().st_size <= block_bytes):
        yield read_input(path, fmt, split=split, locations=locations, label=label)
        return
    label = str(path) if label is None else label
    with contextlib.ExitStack() as stack:
        if spill is None:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="sftdata-blocks-"))
            spill = BlockSpill(Path(tmp))
        key = {"size": path.stat().st_size, "block_bytes": block_bytes}
        blocks = spill.blocks(path, key, lambda first, data: _typed_block(data, label, first))
        if blocks is None:  # the types disagree: the file is read whole
            yield read_input(path, fmt, split=split, locations=locations, label=label)
            return
        for table, rejects in blocks:
            yield (table if locations else table.drop_columns([ROW_LOCATION])), rejects


def _typed_block(data: bytearray, label: str, first: int) -> tuple[pa.Table, pa.Table]:
    """One block's ``(rows with _location, rejects)``; ``pa.ArrowInvalid`` (or another
    Arrow type error) where its rows' types disagree."""
    fast = arrow_block(data, label, first)
    if fast is not None:
        table, where, rejects = fast
    else:
        rows, where, rejects = jsonl_lines(data.splitlines(), label, first)
        table = rows_table(rows)
    return _located(table, where), pa.Table.from_pylist(rejects) if rejects else pa.table({})


def _json_rows(
    path: Path, label: str
) -> tuple[list[dict[str, Any]], list[str], list[dict[str, Any]]]:
    try:
        value = json.loads(_read_bytes(path).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SftDataError(f"{path}: not a valid UTF-8 JSON document: {e}") from None
    if not isinstance(value, list):
        raise SftDataError(f"{path}: a .json input must hold a list of objects")
    rows, where, rejects = [], [], []
    for i, v in enumerate(value):
        loc = f"{label}#{i}"
        if isinstance(v, dict):
            rows.append(v)
            where.append(loc)
        else:
            rejects.append(_reject("input.not_an_object", json.dumps(v, ensure_ascii=False), loc))
    return rows, where, rejects


def _text_rows(
    path: Path, fmt: str, label: str
) -> tuple[list[dict[str, Any]], list[str], list[dict[str, Any]]]:
    rows, where, rejects = [], [], []
    data = _read_bytes(path)
    if fmt == "csv":
        try:
            reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
            for row in reader:  # a record's first line (blank lines and quoted newlines count)
                inner = sum(v.count("\n") for v in row.values() if isinstance(v, str))
                loc = f"{label}:{reader.line_num - inner}"
                if None in row or any(v is None for v in row.values()):
                    rejects.append(_reject("input.bad_csv", json.dumps(row, default=str), loc))
                else:
                    rows.append(dict(row))
                    where.append(loc)
        except (UnicodeDecodeError, csv.Error) as e:
            raise SftDataError(f"{path}: cannot read as UTF-8 CSV: {e}") from None
        return rows, where, rejects
    for n, line in enumerate(data.splitlines(), start=1):
        loc = f"{label}:{n}"
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            rejects.append(_reject("input.bad_utf8", line.decode("utf-8", "replace"), loc))
            continue
        if text.strip():
            rows.append({"text": text})
            where.append(loc)
    return rows, where, rejects


def _arrow_type_of(value: Any) -> pa.DataType | None:
    try:
        return pa.array([value]).type
    except TYPE_ERRORS:
        return None


def rows_to_table(
    rows: list[dict[str, Any]], where: list[str]
) -> tuple[pa.Table, list[dict[str, Any]]]:
    """Rows -> Arrow table; a row whose field has another type than its column is rejected.

    The column type is the most common type among its non-null values; a row that does
    not fit gets ``input.bad_type:<column>``. The table's last column, ``_location``,
    holds each kept row's ``where``.
    """
    columns = list(dict.fromkeys(k for r in rows for k in r))
    try:
        return _located(rows_table(rows, columns), where), []
    except TYPE_ERRORS:
        pass
    bad: dict[int, str] = {}
    for col in columns:
        values = [r.get(col) for r in rows]
        try:
            pa.array(values)
            continue
        except TYPE_ERRORS:
            pass
        types = Counter(str(t) for t in map(_arrow_type_of, values) if t is not None)
        common = types.most_common(1)[0][0] if types else None
        for i, v in enumerate(values):
            t = _arrow_type_of(v) if v is not None else None
            if i not in bad and v is not None and (t is None or str(t) != common):
                bad[i] = col
    good = [r for i, r in enumerate(rows) if i not in bad]
    rejects = [
        _reject(f"input.bad_type:{col}", _raw_row(rows[i]), where[i])
        for i, col in sorted(bad.items())
    ]
    try:
        return _located(
            rows_table(good, columns), [w for i, w in enumerate(where) if i not in bad]
        ), rejects
    except TYPE_ERRORS as e:
        raise SftDataError(f"rows have mixed types that Arrow cannot store: {e}") from None


def _raw_row(row: dict[str, Any]) -> str:
    """A rejected row as JSON text; escaped to ASCII only where it holds a lone surrogate
    (``"\\ud800"`` in the input), which no UTF-8 column can store."""
    text = json.dumps(row, ensure_ascii=False, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(row, default=str)
    return text


def rows_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> pa.Table:
    """Rows -> table over the union of their keys, in first-seen order (``columns`` when
    given). ``pa.Table.from_pylist`` alone takes the first row's keys and silently drops
    a field that row lacks."""
    if columns is None:
        columns = list(dict.fromkeys(k for r in rows for k in r))
    return pa.Table.from_pydict({c: [r.get(c) for r in rows] for c in columns})


def _located(table: pa.Table, where: list[str]) -> pa.Table:
    if ROW_LOCATION in table.column_names:
        table = table.drop_columns([ROW_LOCATION])
    return table.append_column(ROW_LOCATION, pa.array(where, pa.string()))


def read_input(
    path: Path,
    fmt: str | None,
    *,
    split: str = "train",
    locations: bool = False,
    label: str | None = None,
) -> tuple[pa.Table, pa.Table]:
    """Read one input file into ``(rows, rejects)`` Arrow tables; with ``locations``, the
    rows carry their ``_location`` (rejects always carry ``location``). Locations name
    the file as ``label`` (default: the path as given)."""
    fmt = infer_format(path, fmt)
    label = str(path) if label is None else label
    rejects: list[dict[str, Any]] = []
    if fmt == "parquet":
        try:
            table = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as e:
            raise SftDataError(f"{path}: not a readable parquet file: {e}") from None
    elif fmt == "hf":
        table = _read_hf(path, split)
    elif fmt == "jsonl" and (fast := _arrow_whole(path, label)) is not None:
        table, rejects = fast
    else:
        if fmt in ("jsonl", "json"):
            rows, where, rejects = (jsonl_rows if fmt == "jsonl" else _json_rows)(path, label)
        else:
            rows, where, rejects = _text_rows(path, fmt, label)
        table, type_rejects = rows_to_table(rows, where)
        rejects += type_rejects
    if not locations:
        table = table.drop_columns([c for c in (ROW_LOCATION,) if c in table.column_names])
    elif fmt in ("parquet", "hf"):
        table = _located(table, [f"{label}#{i}" for i in range(table.num_rows)])
    return table, pa.Table.from_pylist(rejects) if rejects else pa.table({})


def _arrow_whole(path: Path, label: str) -> tuple[pa.Table, list[dict[str, Any]]] | None:
    """A JSONL file read by pyarrow in one read, where that equals the per-line path."""
    if path.stat().st_size > _ARROW_WHOLE_MAX:
        return None
    fast = arrow_block(bytearray(_read_bytes(path)), label, 1)
    if fast is None:
        return None
    table, where, rejects = fast
    return _located(table, where), rejects


def _read_hf(path: Path, split: str) -> pa.Table:
    import datasets

    try:
        ds = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as e:
        raise SftDataError(f"{path}: not a saved Hugging Face dataset: {e}") from None
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise SftDataError(f"{path}: no split {split!r}; splits: {list(ds)}")
        ds = ds[split]
    return ds.flatten_indices().data.table


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` via a temp file and a rename (never half-written).

    The rename makes the write atomic for readers and against a killed process;
    ``durable`` also fsyncs the file first, so it survives a power cut (final outputs).
    Work files skip the fsync: a lost one is simply recomputed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        if durable:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)


_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _json_line(row: dict[str, Any]) -> str:
    """One JSON line; Unicode line breaks are escaped so any line splitter reads one row."""
    return json.dumps(row, ensure_ascii=False).translate(_LINE_BREAKS)


def table_bytes(table: pa.Table, fmt: str) -> bytes:
    """Serialise a table as one parquet or jsonl file (deterministic bytes)."""
    if fmt == "jsonl":
        lines = [_json_line(r) for r in table.to_pylist()]
        return ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8")
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


def write_table_atomic(
    table: pa.Table, path: Path, fmt: str = "parquet", *, durable: bool = False
) -> None:
    """A work file: atomic (temp + rename), not fsynced unless ``durable``."""
    write_table_file(table, path, fmt, durable=durable)


def write_table_file(
    table: pa.Table, path: Path, fmt: str = "parquet", *, durable: bool = False
) -> str:
    """Write ``table`` atomically as ``path`` (the bytes :func:`table_bytes` gives) and
    return their SHA-256. Parquet goes straight from pyarrow's writer to the temp file,
    never through one Python bytes object the size of the file: freeing such objects
    one after another leaves the C heap holding the largest (measured: +59 MB of peak
    RSS writing a 1 GB run's outputs, against 100 MB of input)."""
    if fmt != "parquet":
        data = table_bytes(table, fmt)
        atomic_write_bytes(path, data, durable=durable)
        return hashlib.sha256(data).hexdigest()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    pq.write_table(table, tmp, compression="zstd")
    release_memory()
    digest = hashlib.sha256()
    with open(tmp, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
        if durable:
            os.fsync(f.fileno())
    os.replace(tmp, path)
    return digest.hexdigest()


def release_memory() -> None:
    """Hand Arrow's freed buffers back to the system after a part is written: the pool
    otherwise keeps the high-water mark of every part it has seen (measured: 401 -> 362
    MB peak RSS writing the outputs of a 1 GB run)."""
    pa.default_memory_pool().release_unused()


def read_table(path: Path) -> pa.Table:
    return pq.read_table(path)
