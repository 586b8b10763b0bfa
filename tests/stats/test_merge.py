"""Statistics merge part by part: counters against numpy, split-and-merge against one pass."""

from __future__ import annotations

import doctest
import importlib
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sentencepiece as spm
from hypothesis import given, settings
from hypothesis import strategies as st

import sftdata as sd
from sftdata.stats import LengthCounts, measure, merge, report
from sftdata.stats._plots import int_histogram, share_over
from tests.clean._strategies import ascii_words as words
from tests.strategies import conversations, long_text, plain_text, preference_rows

lengths = st.lists(
    st.one_of(st.integers(0, 40), st.integers(0, 50_000), st.integers(0, 2**40)), min_size=1
)


@given(values=lengths)
def test_length_summary_equals_numpy(values: list[int]) -> None:
    """Property: total, mean, percentiles, min and max from the counts equal numpy on the list."""
    a = np.asarray(values, dtype=np.int64)
    s = LengthCounts.of(values).summary()
    assert s["total"] == int(a.sum()) and s["min"] == int(a.min()) and s["max"] == int(a.max())
    assert s["mean"] == float(a.mean())
    for p in (50, 90, 99):
        assert s[f"p{p}"] == float(np.percentile(a, p))
    for p in (0, 12.5, 37, 100):
        assert LengthCounts.of(values).percentile(p) == float(np.percentile(a, p))


@given(values=lengths, more=lengths, bins=st.integers(1, 40))
def test_length_histogram_and_shares_equal_the_list_ones(
    values: list[int], more: list[int], bins: int
) -> None:
    """Property: histograms (own range or a wider one) and shares over 2k/4k/8k equal the list's."""
    counts = LengthCounts.of(values)
    assert counts.histogram(bins) == int_histogram(values, bins)
    lo, hi = min(values + more), max(values + more)
    assert counts.histogram(bins, lo=lo, hi=hi) == int_histogram(values, bins, lo=lo, hi=hi)
    assert counts.share_over() == share_over(values)


@given(parts=st.lists(lengths, min_size=1, max_size=5))
def test_length_counts_add_like_concatenation(parts: list[list[int]]) -> None:
    """Property: the counts of the parts added up equal the counts of all lengths together."""
    added = LengthCounts.empty()
    for p in parts:
        added = added + LengthCounts.of(p)
    together = LengthCounts.of([v for p in parts for v in p])
    assert added == together and added.n == sum(map(len, parts))


text = st.one_of(plain_text, words, long_text)
reasons = st.one_of(st.none(), st.none(), st.sampled_from(["a.x", "b.y"]))
sources = st.one_of(st.none(), st.sampled_from(["web", "books", "code"]))


@st.composite
def datasets_(draw: st.DrawFn) -> dict[str, list[Any]]:
    """Columns of text, messages or preference rows, with some of source, language and
    drop_reason."""
    n = draw(st.integers(0, 14))
    kind = draw(st.sampled_from(["text", "messages", "preference"]))
    if kind == "text":
        cols: dict[str, list[Any]] = {
            "text": draw(st.lists(st.none() | text, min_size=n, max_size=n))
        }
    elif kind == "messages":
        convo = conversations(text=text)
        cols = {"messages": draw(st.lists(convo, min_size=n, max_size=n))}
    else:
        rows = draw(st.lists(preference_rows(text=text), min_size=n, max_size=n))
        cols = {k: [r[k] for r in rows] for k in ("prompt", "chosen", "rejected")}
    for name, values in (("source", sources), ("language", st.sampled_from(["en", "fr"]))):
        if draw(st.booleans()):
            cols[name] = draw(st.lists(values, min_size=n, max_size=n))
    if draw(st.booleans()):
        cols["drop_reason"] = draw(st.lists(reasons, min_size=n, max_size=n))
    return cols


def _split(cols: dict[str, list[Any]], cuts: list[int]) -> list[dict[str, list[Any]]]:
    n = len(next(iter(cols.values())))
    bounds = [0, *sorted(c % (n + 1) for c in cuts), n]
    return [{k: v[a:b] for k, v in cols.items()} for a, b in itertools.pairwise(bounds)]


@pytest.fixture(scope="module")
def sp(sp_model_path: Path) -> Any:
    return spm.SentencePieceProcessor(model_file=str(sp_model_path))


@settings(max_examples=40)
@given(
    cols=datasets_(),
    cuts=st.lists(st.integers(0, 20), max_size=5),
    bins=st.integers(1, 40),
    tokens=st.booleans(),
)
def test_split_and_merge_equals_one_pass(
    sp: Any, cols: dict[str, list[Any]], cuts: list[int], bins: int, tokens: bool
) -> None:
    """Property: any split into parts, measured and merged, gives the one-pass report."""
    tok = sp if tokens else None
    whole = report(cols, tok, bins=bins)
    merged = merge(measure(part, tok) for part in _split(cols, cuts)).report(bins=bins)
    assert merged.to_dict() == whole.to_dict()
    assert json.dumps(merged.to_dict()) == json.dumps(whole.to_dict())  # same order, same types
    assert merged.to_markdown() == whole.to_markdown()


class _Words:
    """A tokenizer with ``encode``: one token per whitespace-separated word."""

    def encode(self, text: str) -> list[str]:
        return text.split()


def test_rows_missing_a_column_in_one_part_count_as_none() -> None:
    """Example: a list of rows whose first part has no source merges as one pass counts it."""
    rows = [{"text": "ab"}, {"text": "abc", "source": "web"}, {"text": "a", "language": "en"}]
    whole = report(rows, _Words())
    parts = [measure(rows[:1], _Words()), measure(rows[1:2], _Words()), measure(rows[2:], _Words())]
    merged = merge(parts).report()
    assert merged.to_dict() == whole.to_dict()
    assert whole.sources == {"None": 2, "web": 1} and whole.languages == {"None": 2, "en": 1}
    assert set(whole.by_source) == {"None", "web"}


def test_merging_different_rows_is_refused() -> None:
    """Parts of text and messages rows, or with and without tokens, do not merge; nor nothing."""
    convo = [{"role": "user", "content": "hi"}]
    with pytest.raises(sd.SftDataError, match="'text' rows with 'messages' rows"):
        measure({"text": ["a"]}) + measure({"messages": [convo]})
    with pytest.raises(sd.SftDataError, match="with and without a tokenizer"):
        measure({"text": ["a"]}) + measure({"text": ["a"]}, _Words())
    with pytest.raises(sd.SftDataError, match="at least one"):
        merge([])
    with pytest.raises(sd.SftDataError, match="bins"):
        measure({"text": ["a"]}).report(bins=0)


def test_arrow_table_reads_like_a_dataset() -> None:
    """Example: a pyarrow table measures as the datasets.Dataset over it (other columns unread)."""
    import datasets
    import pyarrow as pa

    convo = [{"role": "user", "content": "hi there"}, {"role": "assistant", "content": "yo"}]
    table = pa.table(
        {"messages": [convo, convo[:1]], "source": ["a", None], "meta": [{"k": 1}, {"k": 2}]}
    )
    assert report(table).to_dict() == report(datasets.Dataset(table)).to_dict()


@pytest.mark.parametrize(
    "name", ["sftdata.stats", "sftdata.stats._measure", "sftdata.stats._lengths",
             "sftdata.stats._plots", "sftdata.stats._preference"],
)  # fmt: skip
def test_docstring_examples(name: str) -> None:
    """The examples in the statistics modules' docstrings run."""
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0
