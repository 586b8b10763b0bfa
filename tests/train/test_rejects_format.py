"""The demo's rejects.jsonl has `sftdata run`'s rejects format and leads back to input lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sftdata._rejects import REJECT_COLUMNS

DATA = Path(__file__).parents[2] / "examples" / "data"


@pytest.mark.slow
def test_demo_rejects_read_back_to_their_input_lines(tmp_path: Path) -> None:
    """Example: every row of the demo's rejects file starts with (drop_reason, rejected_by,
    source, location, raw); its `file:line` reads back to the input line (raw is that line
    for an input reject, its JSON for a parse reject)."""
    from sfttrain._demo import _save_rejects, prepare_demo_rows

    rejects: list = []
    prepare_demo_rows(DATA, lambda _: None, rejects)
    n = _save_rejects(rejects, tmp_path / "rejects.jsonl")
    rows = [json.loads(x) for x in (tmp_path / "rejects.jsonl").read_text("utf-8").splitlines()]
    assert n == len(rows) > 0
    stages = set()
    for r in rows:
        assert list(r)[: len(REJECT_COLUMNS)] == list(REJECT_COLUMNS)
        name, line = r["location"].rsplit(":", 1)
        original = Path(name).read_bytes().splitlines()[int(line) - 1].decode("utf-8", "replace")
        stages.add(r["rejected_by"])
        if r["rejected_by"] == "input":
            assert r["raw"] == original
        elif r["rejected_by"].startswith("parse."):
            assert _set(json.loads(r["raw"])) == _set(json.loads(original))
        else:  # rejected later: the row's messages come from that line
            assert r["raw"] is None and r["messages"]
            assert r["messages"][-1]["content"][:8].strip() in original or "pii" in r["drop_reason"]
    assert {"input", "parse.openai", "dedup.exact"} <= stages


def _set(row: dict) -> dict:
    """The fields that hold a value (a batch gives every row every column, as None)."""
    return {k: v for k, v in row.items() if v is not None}
