"""The data contract: validation, split_rejects, Counters, Pipeline."""

from __future__ import annotations

import pickle

import datasets
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sftdata as sd
from sftdata._batch import map_kept
from tests.strategies import conversations, json_like


@given(conversations())
def test_valid_conversations_pass_validation_unchanged(msgs):
    """A well-formed conversation validates to itself."""
    assert sd.validate_messages(msgs) == msgs


@given(json_like)
def test_validation_raises_only_row_errors(value):
    """Arbitrary JSON-like input either validates or raises RowError with a reason code."""
    try:
        sd.validate_messages(value)
    except sd.RowError as e:
        assert e.reason.startswith("parse.")


@pytest.mark.parametrize(
    ("msgs", "reason"),
    [
        ([], "parse.empty"),
        ([{"role": "bot", "content": "x"}], "parse.bad_role:bot"),
        ([{"role": "user", "content": 3}], "parse.bad_content:0"),
        ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], "parse.bad_order:1"),
        ([{"role": "user", "content": "a"}], "parse.no_assistant"),
        ([{"role": "assistant", "content": "a"}], "parse.bad_order:0"),
    ],
)
def test_validation_reason_codes(msgs, reason):
    with pytest.raises(sd.RowError) as e:
        sd.validate_messages(msgs)
    assert e.value.reason == reason


def test_tool_turns_follow_assistant_calls():
    msgs = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": '{"call": "weather"}'},
        {"role": "tool", "content": "sunny"},
        {"role": "assistant", "content": "It is sunny."},
    ]
    assert sd.validate_messages(msgs) == msgs


@given(st.lists(st.one_of(st.none(), st.sampled_from(["a.x", "b.y"])), max_size=30))
def test_split_rejects_conserves_rows(reasons):
    """len(kept) + len(rejected) == rows in, for dicts, lists and datasets alike."""
    batch = {"i": list(range(len(reasons))), "drop_reason": reasons}
    kept, rej = sd.split_rejects(batch)
    assert len(kept["i"]) + len(rej["i"]) == len(reasons)
    assert all(r is None for r in kept["drop_reason"])
    assert all(r is not None for r in rej["drop_reason"])
    rows = [dict(i=i, drop_reason=r) for i, r in enumerate(reasons)]
    k2, r2 = sd.split_rejects(rows)
    assert [r["i"] for r in k2] == kept["i"] and [r["i"] for r in r2] == rej["i"]


def test_split_rejects_on_real_dataset():
    ds = datasets.Dataset.from_dict({"i": [0, 1, 2], "drop_reason": [None, "x.y", None]})
    kept, rej = sd.split_rejects(ds)
    assert kept["i"] == [0, 2] and rej["i"] == [1]
    plain = datasets.Dataset.from_dict({"i": [0, 1]})
    kept, rej = sd.split_rejects(plain)
    assert len(kept) == 2 and len(rej) == 0


@given(
    st.lists(
        st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c"])), max_size=10), max_size=5
    )
)
def test_counters_merge_equals_count_of_concatenation(shards):
    """Counters of shards added with + equal the Counters of all rows at once."""
    total = sd.Counters()
    for s in shards:
        total = total + sd.Counters.from_reasons(s)
    flat = [r for s in shards for r in s]
    assert total == sd.Counters.from_reasons(flat)
    assert total.rows_in == total.kept + total.rejected


def _upper(text: str) -> str:
    if text == "bad":
        raise sd.RowError("test.bad")
    return text.upper()


def test_map_kept_rejects_and_skips_already_dropped():
    batch = {"text": ["a", "bad", "c"], "drop_reason": [None, None, "earlier.x"]}
    out = map_kept(batch, "text", _upper)
    assert out["text"] == ["A", "bad", "c"]
    assert out["drop_reason"] == [None, "test.bad", "earlier.x"]
    assert batch["text"] == ["a", "bad", "c"]  # input untouched


def test_pipeline_is_a_picklable_step():
    p = sd.Pipeline([])
    assert pickle.loads(pickle.dumps(p)) == p
    assert p({"x": [1]}) == {"x": [1]}
    with pytest.raises(TypeError, match="step 0"):
        sd.Pipeline((1,))  # type: ignore[arg-type]
