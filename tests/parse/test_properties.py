"""Properties every parser shares: no crash on junk, reasons on rejects, contract on keeps."""

from __future__ import annotations

import json

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import sftdata as sd
from sftdata._batch import iter_rows, rows_to_batch
from tests.parse._helpers import PARSER_IDS, PARSERS, Parser, kept_output_ok
from tests.strategies import json_like

pytestmark = pytest.mark.parametrize("parser", PARSERS, ids=PARSER_IDS)


def _outputs(parser: Parser) -> tuple[str, ...]:
    return parser.step.OUTPUTS


def _missing(parser: Parser, batch: dict) -> list[str]:
    return [c for c in parser.step._required() if c not in batch]


@settings(max_examples=25)
@given(data=st.data())
def test_row_function_raises_only_row_errors(parser, data):
    """On arbitrary JSON-like input, a row function returns or raises RowError with a parse.*
    (or, for preference pairs, preference.*) reason."""
    row = data.draw(st.one_of(json_like, parser.rows))
    try:
        out = parser.row_fn(row)
    except sd.RowError as e:
        assert e.reason.startswith(("parse.", "preference.")) and " " not in e.reason
        assert len(e.reason) < 80
    else:
        assert set(out) == set(_outputs(parser))


@settings(max_examples=120)  # few drawn rows parse (alpaca ~18%): draw enough to check many
@given(data=st.data())
def test_kept_rows_satisfy_the_contract(parser, data):
    """Whatever a row function returns validates unchanged as contract messages
    (a preference side as answer turns)."""
    row = data.draw(parser.rows)
    try:
        out = parser.row_fn(row)
    except sd.RowError:
        return
    for column in _outputs(parser):
        assert kept_output_ok(column, out[column])


@settings(max_examples=15)
@given(data=st.data())
def test_step_keeps_every_row_with_reason_or_messages(parser, data):
    """One row out per row in: kept rows equal the row function's, rejected rows carry its reason and the raw JSON."""
    rows = data.draw(st.lists(parser.rows, max_size=5))
    batch = rows_to_batch(rows)
    if _missing(parser, batch) and rows:  # the wrong parser for these columns: one clear error
        with pytest.raises(sd.SftDataError, match=_missing(parser, batch)[0]):
            parser.step(batch)
        return
    out = parser.step(batch)
    assert all(len(col) == len(rows) for col in out.values())
    for row, got in zip(iter_rows(batch), iter_rows(out), strict=True):
        try:
            expected, reason = parser.row_fn(row), None
        except sd.RowError as e:
            expected, reason = {c: [] for c in _outputs(parser)}, e.reason
            expected.update({c: None for c in ("score_chosen", "score_rejected") if c in expected})
        assert got["drop_reason"] == reason
        assert {c: got[c] for c in _outputs(parser)} == expected
        if reason is None:
            assert got["raw"] is None
        else:
            assert json.loads(got["raw"]) == json.loads(json.dumps(row, default=str))
        for carried in ("id", "meta"):
            if carried in batch:
                assert got[carried] == row[carried]


@settings(max_examples=15)
@given(data=st.data())
def test_step_output_is_batch_size_invariant(parser, data):
    """Running the step on chunks of any size and concatenating equals one run on the whole batch."""
    rows = data.draw(st.lists(parser.rows, max_size=6))
    size = data.draw(st.integers(min_value=1, max_value=4))
    batch = rows_to_batch(rows)
    assume(not _missing(parser, batch))
    whole = parser.step(batch)
    pieces = [
        parser.step(rows_to_batch(rows[i : i + size], list(batch)))
        for i in range(0, len(rows), size)
    ]
    for column, values in whole.items():
        assert [v for p in pieces for v in p[column]] == values


@settings(max_examples=8)
@given(data=st.data())
def test_rows_rejected_upstream_pass_through(parser, data):
    """A row that already has a drop_reason keeps it and is not parsed again."""
    rows = data.draw(st.lists(parser.rows, min_size=1, max_size=5))
    batch = rows_to_batch(rows)
    assume(not _missing(parser, batch))
    batch["drop_reason"] = ["clean.upstream"] * len(rows)
    out = parser.step(batch)
    assert out["drop_reason"] == ["clean.upstream"] * len(rows)
    assert all(isinstance(r, str) for r in out["raw"])
    kept, rejected = sd.split_rejects(out)
    assert len(kept["drop_reason"]) == 0 and len(rejected["drop_reason"]) == len(rows)
