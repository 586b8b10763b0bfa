"""sd.apply: a step over a real datasets.Dataset with output types pinned."""

from __future__ import annotations

import doctest
from dataclasses import dataclass

import datasets
import pytest

import sftdata as sd
import sftdata._apply
from sftdata._batch import map_kept


def _reject_late(text: str) -> str:
    if text.startswith("bad"):
        raise sd.RowError("test.bad")
    return text


@dataclass(frozen=True)
class LateFilter:
    """A step with no features(): rejects only rows whose text starts with 'bad'."""

    def __call__(self, batch):
        return map_kept(batch, "text", _reject_late)


def test_first_batch_all_kept_does_not_pin_drop_reason_to_null():
    """A filter whose first batch keeps everything still writes later reasons."""
    ds = datasets.Dataset.from_dict({"text": ["ok"] * 8 + ["bad one"]})
    with pytest.raises(TypeError):  # the trap apply() exists for
        ds.map(LateFilter(), batched=True, batch_size=4, load_from_cache_file=False)
    out = sd.apply(ds, LateFilter(), batch_size=4, load_from_cache_file=False)
    assert list(out["drop_reason"]) == [None] * 8 + ["test.bad"]
    assert out.features["drop_reason"] == datasets.Value("string")


def test_remove_input_columns_keeps_only_step_outputs():
    ds = datasets.Dataset.from_dict({"instruction": ["Hi"], "output": ["Yo"], "id": [3]})
    out = sd.apply(ds, sd.parse.Alpaca(), remove_columns="input")
    assert set(out.column_names) == {"messages", "drop_reason", "raw", "id"}
    assert out[0]["messages"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Yo"},
    ]


def test_bad_arguments_fail_before_work():
    ds = datasets.Dataset.from_dict({"text": ["a"]})
    with pytest.raises(sd.SftDataError, match="nope"):
        sd.apply(ds, LateFilter(), remove_columns=["nope"])
    with pytest.raises(sd.SftDataError, match="batch_size"):
        sd.apply(ds, LateFilter(), batch_size=0)
    with pytest.raises(sd.SftDataError, match="callable"):
        sd.apply(ds, 3)  # type: ignore[arg-type]


def test_docstring_examples_run():
    """The examples in sd.apply's docstrings run (at least one) and print what they show."""
    result = doctest.testmod(sftdata._apply)
    assert result.attempted > 0 and result.failed == 0


def test_carried_column_named_in_remove_columns_is_typed(llama_tokenizer):
    """A step that returns an input column the caller also removes still gets typed output."""
    ds = datasets.Dataset.from_dict(
        {"messages": [[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]]}
    )
    step = sd.Encode(llama_tokenizer, "llama2", max_length=64)
    out = sd.apply(ds, step, remove_columns=["messages"])
    assert out.features["input_ids"] == datasets.List(datasets.Value("int32"))
    assert len(out[0]["input_ids"]) == len(out[0]["labels"]) > 0


def test_wrong_parser_fails_before_the_map():
    """Running a parser on data without its columns is one clear error, not a failed map."""
    ds = datasets.Dataset.from_dict({"conversations": [[]]})
    with pytest.raises(sd.SftDataError, match="instruction"):
        sd.apply(ds, sd.parse.Alpaca(), remove_columns="input")
