"""One rejects format: every rejected row leads back to its exact input line or row."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sftdata._rejects import REJECT_COLUMNS
from sftdata.runner import load_spec, run
from tests.pipeline._helpers import write_spec

QUALITY = "clean.quality: {min_words: 2, min_stop_words: 0, min_mean_word_length: 1}"


def read_back(base: Path, location: str) -> Any:
    """The input a location names: the line's bytes (``file:line``) or the row (``file#row``)."""
    if "#" in location:
        name, row = location.rsplit("#", 1)
        return pq.read_table(base / name).slice(int(row), 1).to_pylist()[0]
    name, line = location.rsplit(":", 1)
    return (base / name).read_bytes().splitlines()[int(line) - 1]


def rejects_of(base: Path, inputs: str, name: str) -> dict[str, dict[str, Any]]:
    """Run a spec over ``inputs`` with the quality filter; its rejects by location."""
    spec = (
        f"inputs:\n{inputs}steps:\n  - {QUALITY}\n"
        f"output: {{path: {name}/data, format: jsonl}}\n"
        f"rejects: {{path: {name}/rejects, format: jsonl}}\n"
    )
    run(load_spec(write_spec(base, spec, f"{name}.yaml")), progress=False)
    assert "location" not in (base / name / "data/part-00000.jsonl").read_text(encoding="utf-8")
    rows = [
        json.loads(x)
        for x in (base / name / "rejects/part-00000.jsonl").read_text("utf-8").splitlines()
    ]
    assert all(list(r)[: len(REJECT_COLUMNS)] == list(REJECT_COLUMNS) for r in rows)
    return {r["location"]: r for r in rows}


def test_chat_rejects_read_back_to_their_lines(tmp_path: Path) -> None:
    """Example: input, parse and step rejects of a JSONL input name `file:line`; the line
    read back is the row's input (raw is that line for input and parse rejects)."""
    lines = [
        b'{"instruction": "Say hi", "output": "hi there"}',
        b'{"instruction": "no answer here"}',  # parse reject (no output)
        b'{"instruction": "cut',  # input reject
        b'{"instruction": "Hmm", "output": "ok"}',  # quality reject (one word each)
    ]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "chat.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    inputs = "  - {path: data/chat.jsonl, source: chat, parse: parse.alpaca}\n"
    got = rejects_of(tmp_path, inputs, "chat")
    assert set(got) == {"data/chat.jsonl:2", "data/chat.jsonl:3", "data/chat.jsonl:4"}
    assert [got[f"data/chat.jsonl:{n}"]["rejected_by"] for n in (2, 3, 4)] == [
        "parse.alpaca",
        "input",
        "clean.quality",
    ]
    assert {r["source"] for r in got.values()} == {"chat"}
    assert got["data/chat.jsonl:3"]["raw"] == read_back(tmp_path, "data/chat.jsonl:3").decode()
    parsed = json.loads(got["data/chat.jsonl:2"]["raw"])  # the row as the parser saw it
    assert {k: v for k, v in parsed.items() if v is not None} == {
        **json.loads(read_back(tmp_path, "data/chat.jsonl:2")),
        "source": "chat",
    }
    step = got["data/chat.jsonl:4"]
    assert step["raw"] is None and step["messages"][1]["content"] == "ok"


def test_text_csv_parquet_rejects_read_back(tmp_path: Path) -> None:
    """Example: txt and CSV rejects name `file:line` (a CSV record's first line: header, blank lines and
    quoted newlines count), Parquet
    rejects `file#row`; each reads back to the rejected row's text."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_bytes(b"long enough text\nab\n\xff\xfe\n")
    (tmp_path / "in" / "rows.csv").write_bytes(b'text\nfine csv row\n\n"two\nlines ok"\nxy\n')
    pq.write_table(pa.table({"text": ["parquet row ok", "no"]}), tmp_path / "in" / "t.parquet")
    inputs = "  - {path: ['in/notes.txt', 'in/rows.csv', 'in/t.parquet'], source: plain}\n"
    got = rejects_of(tmp_path, inputs, "plain")
    assert set(got) == {"in/notes.txt:2", "in/notes.txt:3", "in/rows.csv:6", "in/t.parquet#1"}
    assert got["in/notes.txt:3"]["drop_reason"] == "input.bad_utf8"
    for location, r in got.items():
        original = read_back(tmp_path, location)
        if isinstance(original, dict):
            assert original == {"text": r["text"]}
        elif r["rejected_by"] == "input":
            assert r["raw"] == original.decode("utf-8", "replace")
        else:
            assert original.decode() == r["text"]
