"""JSONL blocks into Arrow: pyarrow's own reader where it agrees with the per-line path.

The reference is the per-line path (:func:`jsonl_lines`): ``bytes.splitlines``, blank
lines skipped, ``json.loads`` per line, bad lines become rejects, then the rows typed by
``pa.array`` per column. :func:`arrow_block` gives exactly its table and rejects with one
``pyarrow.json.read_json`` over the whole block, or ``None`` where it cannot vouch for
that (the caller then runs the per-line path on the block)::

    block bytes --lines (numpy: "\\n" offsets)--> each line starts "{" and ends "}"?
        no  --> json.loads that line alone: a reject or a blank line (blanked out)
        yes --> kept line; the block not valid UTF-8? decode each kept line alone
    kept lines --read_json--> ok: one row per kept line?  types Python would give?
                          \\-> error "in row N": json.loads kept line N; a reject: blank
                               it out and read again; a good row: give up (None)

Why the checks are enough:

* a kept line starts with ``{`` and ends with ``}``, and a ``{`` can never follow a
  ``}`` inside one JSON value, so no row of pyarrow's spans two lines; a line with two
  objects gives two rows, so "as many rows as kept lines" means one row per line;
* only lines that ``json.loads`` itself rejects are ever dropped, so the rejects are
  the per-line path's, with the same reasons, raw text and ``file:line``;
* pyarrow refuses some lines Python reads (``1e400``, duplicate keys): the block is
  given up; it reads ``-NaN`` and ``Inf`` (Python does not): given up. It keeps bad UTF-8 inside strings (so the block is checked first), splits
  lines at a lone ``\\r`` as Python does but "\\n"-counting would not (given up), and
  types some values otherwise: ISO strings as timestamps and ``[null, 1]`` as an
  invalid list (both read again with explicit types), integers past int64 as doubles
  and lone surrogate escapes as bad UTF-8 (given up).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from sftdata._contract import DROP_REASON
from sftdata._rejects import REJECTED_BY

#: What ``pa.array`` raises on values it cannot type together (a lone surrogate in a
#: string is a UnicodeEncodeError).
TYPE_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, UnicodeEncodeError)

Rows = tuple[list[dict[str, Any]], list[str], list[dict[str, Any]]]

#: How many bad lines one block may reveal through pyarrow errors (each costs one more
#: read of the block) before the block is handed to the per-line path.
MAX_RETRIES = 8

_ROW = re.compile(r" in row (\d+)")
_LONG_INT = re.compile(rb"-?\d{19,}")
#: Literals pyarrow reads as NaN or infinity and ``json.loads`` refuses.
_NON_PYTHON_FLOAT = re.compile(rb"-NaN|Inf(?!inity)")
_OPEN, _CLOSE = ord("{"), ord("}")


def reject(reason: str, raw: str, location: str) -> dict[str, Any]:
    return {DROP_REASON: reason, REJECTED_BY: "input", "raw": raw, "location": location}


def line_verdict(line: bytes | bytearray, loc: str) -> tuple[str, Any]:
    """``("skip", None)`` for a blank line, ``("row", dict)`` or ``("reject", row)``."""
    if not line.strip():
        return "skip", None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return "reject", reject("input.bad_utf8", line.decode("utf-8", "replace"), loc)
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return "reject", reject("input.bad_json", text, loc)
    if not isinstance(value, dict):
        return "reject", reject("input.not_an_object", text, loc)
    return "row", value


def jsonl_lines(lines: Sequence[bytes | bytearray], name: str, first: int) -> Rows:
    """Rows of JSONL ``lines`` (line ``first`` is the first one); bad lines become rejects."""
    rows, where, rejects = [], [], []
    for n, line in enumerate(lines, start=first):
        loc = f"{name}:{n}"
        kind, value = line_verdict(line, loc)
        if kind == "row":
            rows.append(value)
            where.append(loc)
        elif kind == "reject":
            rejects.append(value)
    return rows, where, rejects


def line_spans(data: bytes | bytearray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(starts, stops)`` of the lines ``data.splitlines()`` gives (line breaks not
    included), or ``None`` where a lone ``\\r`` would split a line there (rare)."""
    arr = np.frombuffer(data, np.uint8)
    step = 1 << 20  # look for "\n" a MiB at a time: no block-sized temporary
    ends = np.concatenate(
        [np.flatnonzero(arr[i : i + step] == 10) + i for i in range(0, len(arr), step)]
        or [np.zeros(0, np.int64)]
    )
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [len(data)]))
    if starts[-1] == len(data):  # data ends with "\n": no line after it
        starts, stops = starts[:-1], stops[:-1]
    if b"\r" in data:
        if data.count(b"\r") != data.count(b"\r\n"):
            return None
        crlf = (stops > starts) & (arr[np.maximum(stops - 1, 0)] == 13)
        stops = stops - crlf
    return starts, stops


class _Lines:
    """A block's lines, judged one at a time by :func:`line_verdict` where needed; a line
    that is not a row is blanked out in ``data`` (pyarrow skips blank lines: no second
    copy of the block) and remembered, so that :meth:`restore` can put it back."""

    def __init__(
        self, data: bytearray, starts: np.ndarray, stops: np.ndarray, name: str, first: int
    ):
        self.data, self.starts, self.stops = data, starts, stops
        self.name, self.first = name, first
        self.rejects: dict[int, dict[str, Any]] = {}
        self.blanked: dict[int, bytes] = {}

    def drop(self, i: int) -> bool:
        """Judge line ``i`` alone: ``False`` for a row; a reject or a blank line is
        blanked out (``True``)."""
        s, e = int(self.starts[i]), int(self.stops[i])
        line = bytes(self.data[s:e])
        kind, value = line_verdict(line, f"{self.name}:{self.first + i}")
        if kind == "row":
            return False
        if kind == "reject":
            self.rejects[i] = value
        self.blanked[i] = line
        self.data[s:e] = b" " * len(line)
        return True

    def candidates(self) -> np.ndarray | None:
        """Which lines go to pyarrow: those that start with "{" and end with "}", those
        that hold bad UTF-8 (pyarrow would keep it) dropped, other lines judged alone
        (an object with spaces around it stays). ``None``: too many odd lines."""
        arr = np.frombuffer(self.data, np.uint8)
        starts, stops = self.starts, self.stops
        nonempty = stops > starts
        ok = nonempty & (arr[np.where(nonempty, starts, 0)] == _OPEN)
        ok &= nonempty & (arr[np.where(nonempty, stops - 1, 0)] == _CLOSE)
        odd = np.flatnonzero(~ok)
        if len(odd) > max(64, len(starts) // 100):  # the per-line path is as fast then
            return None
        ok[[i for i in odd.tolist() if not self.drop(i)]] = True
        if not _valid_utf8(self.data):
            for i in np.flatnonzero(ok).tolist():
                try:
                    self.data[starts[i] : stops[i]].decode("utf-8")
                except UnicodeDecodeError:
                    ok[i] = not self.drop(i)
        return np.flatnonzero(ok)

    def restore(self) -> None:
        for i, line in self.blanked.items():
            self.data[int(self.starts[i]) : int(self.stops[i])] = line
        self.blanked.clear()


def arrow_block(
    data: bytearray, name: str, first: int
) -> tuple[pa.Table, list[str], list[dict[str, Any]]] | None:
    """``(table, where, rejects)`` for the lines of ``data`` (line ``first`` first),
    equal to the per-line path's typed rows, or ``None`` where that is not certain.

    Lines that are not rows are overwritten with spaces in ``data`` and put back before
    ``None`` is returned (the caller then reads ``data`` per line).
    """
    spans = line_spans(data)
    if spans is None:
        return None
    lines = _Lines(data, *spans, name, first)
    found = lines.candidates()
    kept = found if found is not None else np.zeros(0, np.int64)
    for _ in range(MAX_RETRIES + 1 if found is not None else 0):
        try:
            table = _read(data)
        except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError) as e:
            k = _bad_row(e, data, lines.starts[kept])
            # a line Python reads as a row: pyarrow's types differ from Python's, give up
            if k is None or not 0 <= k < len(kept) or not lines.drop(int(kept[k])):
                break
            kept = np.delete(kept, k)
            continue
        if table.num_rows != len(kept) or (table.num_columns == 0 and len(kept)):
            break  # a line held two objects (or rows have no field: per-line path's call)
        typed = _python_types(table, data)
        if typed is None:
            break
        where = [f"{name}:{first + i}" for i in kept.tolist()]
        return typed, where, [lines.rejects[i] for i in sorted(lines.rejects)]
    lines.restore()
    return None


def _read(buf: bytes | bytearray) -> pa.Table:
    opts = pj.ReadOptions(block_size=max(len(buf) + 1, 1 << 16), use_threads=False)
    return pj.read_json(pa.BufferReader(buf), read_options=opts)


def _valid_utf8(data: bytes | bytearray) -> bool:
    """Is ``data`` valid UTF-8? (Arrow's own check, on the block as one string, no copy.)"""
    offsets = pa.array([0, len(data)], pa.int64()).buffers()[1]
    text = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _bad_row(e: Exception, buf: bytes | bytearray, offsets: np.ndarray) -> int | None:
    """Which kept line (they begin at ``offsets``) pyarrow's error is about: its ``in row
    N``, or for bad UTF-8 (whose message pyarrow cannot decode) the line holding the
    first bad byte."""
    if not isinstance(e, UnicodeDecodeError):
        m = _ROW.search(str(e))
        return int(m.group(1)) if m else None
    try:
        buf.decode("utf-8")
    except UnicodeDecodeError as bad:
        return int(np.searchsorted(offsets, bad.start, side="right") - 1)
    return None


def _python_types(table: pa.Table, buf: bytes | bytearray) -> pa.Table | None:
    """``table`` with the types ``pa.array`` gives the same values in Python, or ``None``.

    pyarrow infers timestamps from ISO-like strings (Python keeps them as strings): the
    block is read again with ``string`` in their place. pyarrow (25) also builds an
    invalid list from a list whose first items are null (``[null, 1]``): read again with
    the types it inferred, the list comes out whole. Still invalid (a lone surrogate
    escape, ``"\\ud800"``, leaves bad UTF-8, which Python refuses): give up. pyarrow
    reads an integer literal past int64 as a double, and ``-NaN``, ``Inf``, ``-Inf``
    as floats (Python refuses them all): where a double is NaN, infinite or reaches
    2**63 and the block holds a run of digits past int64 or such a word, give up. Any
    other type than Python's own ones: give up.
    """
    types = [f.type for f in table.schema]
    if not all(_pythonic(t, temporal=True) for t in types):
        return None
    if not all(_pythonic(t, temporal=False) for t in types) or not _valid(table):
        schema = pa.schema([pa.field(f.name, _as_string(f.type)) for f in table.schema])
        opts = pj.ReadOptions(block_size=max(len(buf) + 1, 1 << 16), use_threads=False)
        parse = pj.ParseOptions(explicit_schema=schema)
        table = pj.read_json(pa.BufferReader(buf), read_options=opts, parse_options=parse)
        if not table.schema.equals(schema) or not _valid(table):
            return None
    odd = any(_odd_double(c) for c in table.columns)  # rare: then scan the block's bytes
    if odd and (_past_int64(buf) or _NON_PYTHON_FLOAT.search(buf) is not None):
        return None
    return table


def _valid(table: pa.Table) -> bool:
    try:
        table.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _past_int64(buf: bytes | bytearray) -> bool:
    """Does ``buf`` hold a run of digits (an integer literal, or within a float or a string:
    those merely make the check cautious) whose value lies outside int64?"""
    return any(not -(2**63) <= int(m) < 2**63 for m in _LONG_INT.findall(buf))


_TEMPORAL = (pa.types.is_timestamp, pa.types.is_date, pa.types.is_time, pa.types.is_duration)


def _pythonic(t: pa.DataType, *, temporal: bool) -> bool:
    """A type ``pa.array`` infers from JSON values (and, with ``temporal``, a temporal type
    standing for a string)."""
    if temporal and any(f(t) for f in _TEMPORAL):
        return True
    if pa.types.is_list(t):
        return _pythonic(t.value_type, temporal=temporal)
    if pa.types.is_struct(t):
        return all(_pythonic(f.type, temporal=temporal) for f in t)
    return t in (pa.null(), pa.bool_(), pa.int64(), pa.float64(), pa.string())


def _as_string(t: pa.DataType) -> pa.DataType:
    if any(f(t) for f in _TEMPORAL):
        return pa.string()
    if pa.types.is_list(t):
        return pa.list_(_as_string(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _as_string(f.type)) for f in t])
    return t


def _odd_double(col: pa.ChunkedArray | pa.Array) -> bool:
    """Does this column (nested ones walked) hold a NaN, an infinity or a double of
    magnitude >= 2**63 (values that may stand for a literal Python refuses)?"""
    t = col.type
    if pa.types.is_floating(t):
        big = pc.max(pc.abs(col)).as_py()
        return (big is not None and big >= 2.0**63) or bool(pc.any(pc.is_nan(col)).as_py())
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    if pa.types.is_list(t):
        return any(_odd_double(c.flatten()) for c in chunks)
    if pa.types.is_struct(t):
        return any(_odd_double(c.field(i)) for c in chunks for i in range(t.num_fields))
    return False
