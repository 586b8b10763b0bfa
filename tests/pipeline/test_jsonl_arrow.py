"""pyarrow's JSON reader on a JSONL block gives exactly the per-line Python path's table
(schema, column order, values, `_location`) and rejects, or hands the block back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from sftdata._contract import SftDataError
from sftdata.runner._io import _located, read_input, rows_table, rows_to_table
from sftdata.runner._jsonl import TYPE_ERRORS, arrow_block, jsonl_lines, line_verdict
from tests.strategies import BAD_JSONL_LINES, DATE_LIKE, json_rows, plain_text, same_type_rows

ENDINGS = [b"\n", b"\n", b"\n", b"\r\n", b"\r"]


def per_line(data: bytes, name: str, first: int) -> tuple[pa.Table | None, list[dict[str, Any]]]:
    """The reference: splitlines, json.loads per line, ``pa.array`` per column (``None``
    where the rows' types disagree)."""
    rows, where, rejects = jsonl_lines(data.splitlines(), name, first)
    try:
        return _located(rows_table(rows), where), rejects
    except TYPE_ERRORS:
        return None, rejects


def same(a: pa.Table, b: pa.Table) -> bool:
    """Same schema and the same values (``repr``: NaN equals NaN, -0.0 differs from 0.0)."""
    return a.schema.equals(b.schema) and repr(a.to_pylist()) == repr(b.to_pylist())


def as_jsonl(lines: list[tuple[bytes, bytes]], last_break: bool) -> bytes:
    data = b"".join(line + end for line, end in lines)
    return data if last_break or not lines else data[: -len(lines[-1][1])]


def check_block(data: bytes, first: int = 1) -> bool:
    """Assert the fast path equals the reference where it answers; True when it did."""
    name = "data/rows.jsonl"
    buf = bytearray(data)
    fast = arrow_block(buf, name, first)
    want, want_bad = per_line(data, name, first)
    if fast is None:
        assert bytes(buf) == data  # handed back as it was
        return False
    table, where, bad = fast
    assert want is not None, "pyarrow typed rows that Python cannot"
    assert same(_located(table, where), want)
    assert bad == want_bad
    return True


row_lines = st.one_of(
    json_rows.map(lambda r: json.dumps(r, ensure_ascii=False).encode()),
    json_rows.map(lambda r: json.dumps(r).encode()),
    st.sampled_from(BAD_JSONL_LINES),
)


@settings(max_examples=300)
@given(
    lines=st.lists(st.tuples(row_lines, st.sampled_from(ENDINGS)), max_size=25),
    last_break=st.booleans(),
    first=st.integers(1, 10**6),
)
def test_arrow_block_equals_per_line_path(
    lines: list[tuple[bytes, bytes]], last_break: bool, first: int
) -> None:
    """Property: for any lines (rows of mixed, nested, date-like, huge or missing values,
    malformed lines, blank lines, CRLF or lone CR), the pyarrow path gives the per-line
    path's table and rejects, or gives up and leaves the block as it was."""
    event("pyarrow" if check_block(as_jsonl(lines, last_break), first) else "per-line")


typed_rows = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
        "text": st.one_of(st.none(), plain_text, st.sampled_from(DATE_LIKE)),
        "meta": st.fixed_dictionaries(
            {},
            optional={"tags": st.lists(plain_text, max_size=3), "when": st.sampled_from(DATE_LIKE)},
        ),
        "score": st.floats(-1e18, 1e18),  # at 2**63 a digit run in a string makes it cautious
    },
)
#: Bad lines the pyarrow path rejects itself (the others make it give up).
HANDLED = [b for b in BAD_JSONL_LINES if b.lstrip()[:1] != b"{" or not b.rstrip().endswith(b"}")]
HANDLED += [b'{"text": "bad \xff utf8"}', b'{"text": "tab\tinside"}', b'  {"text": "spaced"}  ']


@settings(max_examples=150)
@given(
    lines=st.lists(
        st.one_of(
            typed_rows.map(lambda r: json.dumps(r, ensure_ascii=False).encode()),
            st.sampled_from(HANDLED),
        ),
        max_size=30,
    ),
    crlf=st.booleans(),
)
def test_arrow_block_takes_rows_of_one_type_with_bad_lines(lines: list[bytes], crlf: bool) -> None:
    """Property: rows whose columns keep one type (ISO dates as strings included), among
    malformed, non-object, bad-UTF-8 and blank lines, are read by pyarrow (not handed
    back) whenever a row has a field, with the per-line path's rejects."""
    data = b"".join(line + (b"\r\n" if crlf else b"\n") for line in lines)
    took = check_block(data)
    assert took or not any(_field_row(line) for line in lines)


def _field_row(line: bytes) -> bool:
    """Is ``line`` a row (to the per-line path) with at least one field?"""
    kind, value = line_verdict(line, "")
    return kind == "row" and bool(value)


@settings(max_examples=200)
@given(rows=same_type_rows())
def test_arrow_block_takes_nested_rows_of_one_type(rows: list[dict[str, Any]]) -> None:
    """Property: rows of nested lists and structs (fields missing, nulls, empty lists and
    objects, ISO-like strings) whose types agree are read by pyarrow, as Python types
    them."""
    data = b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows)
    took = check_block(data)
    want = per_line(data, "x", 1)[0]
    # pyarrow 25 builds an invalid list<null> from lists of nulls: that block is handed back
    assert took or not any(rows) or want is None or "list<item: null>" in str(want.schema)


def test_malformed_lines_keep_their_rejects_and_locations(tmp_path: Path) -> None:
    """A file like a crawl (rows, truncated lines, a non-object, bad UTF-8, blank lines)
    read whole: the pyarrow path's rows and rejects equal the per-line path's."""
    lines = []
    for i in range(200):
        row = json.dumps({"id": i, "text": f"doc {i} café 東京", "date": "2021-03-04"})
        lines.append(row.encode()[:-9] if i % 37 == 5 else row.encode())
    lines[50] = b"[1, 2, 3]"
    lines[90] = b'{"id": 90, "text": "\xff\xfe"}'
    lines[120] = b""
    lines[121] = b"   "
    data = b"\n".join(lines) + b"\n"
    assert check_block(data, 1)
    path = tmp_path / "crawl.jsonl"
    path.write_bytes(data)
    table, bad = read_input(path, None, locations=True, label="crawl.jsonl")
    rows, where, rejects = jsonl_lines(data.splitlines(), "crawl.jsonl", 1)
    want, type_rejects = rows_to_table(rows, where)
    assert same(table, want) and not type_rejects
    assert bad.to_pylist() == rejects
    reasons = {r["location"]: r["drop_reason"] for r in rejects}
    assert reasons["crawl.jsonl:51"] == "input.not_an_object"
    assert reasons["crawl.jsonl:91"] == "input.bad_utf8"
    assert reasons["crawl.jsonl:6"] == "input.bad_json"
    assert table.column("date").type == pa.string()
    assert "crawl.jsonl:121" not in table.column("_location").to_pylist()


@settings(max_examples=100)
@given(lines=st.lists(row_lines, max_size=20))
def test_read_input_equals_per_line_whole_read(tmp_path_factory, lines: list[bytes]) -> None:
    """Property: a whole JSONL read (pyarrow where it can) gives the per-line whole read:
    same table and rejects, type rejects included."""
    path = tmp_path_factory.mktemp("whole") / "rows.jsonl"
    data = b"".join(line + b"\n" for line in lines)
    path.write_bytes(data)
    rows, where, rejects = jsonl_lines(data.splitlines(), str(path), 1)
    try:
        want, type_rejects = rows_to_table(rows, where)
    except SftDataError:  # the per-line path refuses the file (rows without any field)
        event("refused")
        with pytest.raises(SftDataError):
            read_input(path, None, locations=True)
        return
    table, bad = read_input(path, None, locations=True)
    assert same(table, want)
    assert bad.to_pylist() == rejects + type_rejects
