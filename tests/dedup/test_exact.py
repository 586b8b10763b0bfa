"""exact_dedup: keep rule, normalisation switches, messages, Dataset input."""

from __future__ import annotations

import datasets
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata.dedup import ExactKeys, exact_dedup, normalize_text
from tests.dedup._strategies import documents
from tests.strategies import conversations


@settings(max_examples=40)
@given(texts=st.lists(documents, max_size=20))
def test_exact_dedup_keeps_first_of_each_normal_form(texts: list[str]) -> None:
    """Property: kept = the first row of each normalised text; each reject points at it."""
    kept, rejected = exact_dedup(texts)
    assert len(kept) + len(rejected) == len(texts)
    first: dict[str, int] = {}
    for i, t in enumerate(texts):
        first.setdefault(normalize_text(t), i)
    assert [r["text"] for r in kept] == [texts[i] for i in sorted(first.values())]
    for r in rejected:
        assert r["drop_reason"] == "dedup.exact"
        assert r["dup_of"] == first[normalize_text(r["text"])]
    again, none = exact_dedup([r["text"] for r in kept])
    assert none == [] and len(again) == len(kept)


@pytest.mark.parametrize(
    ("options", "a", "b", "same"),
    [
        ({}, "Hello World", "hello   world", True),
        ({"lowercase": False}, "Hello World", "hello world", False),
        ({"whitespace": False}, "hello world", "hello  world", False),
        ({}, "hello, world", "hello world", False),
        ({"punctuation": True}, "hello, world!", "hello world", True),
        ({}, "ｆｉｎｅ", "fine", True),
        ({"unicode_form": None}, "ｆｉｎｅ", "fine", False),
    ],
)
def test_normalisation_switches(options: dict, a: str, b: str, same: bool) -> None:
    """Each normalisation switch decides whether two spellings are one text."""
    _, rejected = exact_dedup([a, b], **options)
    assert (len(rejected) == 1) is same


@settings(max_examples=15)
@given(conv=conversations(min_turns=1, max_turns=2), other=st.text(min_size=1, max_size=10))
def test_user_fields_ignore_answers(conv: list[dict[str, str]], other: str) -> None:
    """Property: with fields='user', changing only assistant answers still gives a duplicate."""
    changed = [
        {**m, "content": m["content"] + "#" + other} if m["role"] == "assistant" else m
        for m in conv
    ]
    rows = [{"messages": conv}, {"messages": changed}]
    assert len(exact_dedup(rows, fields="user")[1]) == 1
    assert len(exact_dedup(rows, fields="all")[1]) == 0


def test_dataset_input_uses_ids_and_keeps_columns() -> None:
    """On a Dataset, dup_of is the kept row's id and other columns travel untouched."""
    ds = datasets.Dataset.from_dict(
        {"id": ["a", "b", "c"], "text": ["x  y", "X Y", "z"], "source": [1, 2, 3]}
    )
    kept, rejected = exact_dedup(ds, num_proc=None, batch_size=2)
    assert kept["id"] == ["a", "c"] and kept["source"] == [1, 3]
    assert rejected.to_list() == [
        {"id": "b", "text": "X Y", "source": 2, "drop_reason": "dedup.exact", "dup_of": "a"}
    ]


def test_bad_rows_are_rejected_with_a_reason() -> None:
    """A non-string text is rejected as dedup.bad_text, not crashing the pass."""
    kept, rejected = exact_dedup([{"text": "ok"}, {"text": None}, {"text": "ok"}])
    assert [r["drop_reason"] for r in rejected] == ["dedup.bad_text", "dedup.exact"]
    assert len(kept) == 1


def test_step_is_batch_size_invariant_and_validates() -> None:
    """ExactKeys gives per-row keys whatever the batching; a bad unicode form is refused."""
    step = ExactKeys()
    texts = ["a", "b", "A"]
    whole = step({"text": texts})["exact_key"]
    parts = step({"text": texts[:1]})["exact_key"] + step({"text": texts[1:]})["exact_key"]
    assert whole == parts and whole[0] == whole[2]
    with pytest.raises(ValueError, match="unicode_form"):
        ExactKeys(unicode_form="NFX")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list of rows"):
        exact_dedup("one string")


def test_with_both_columns_the_messages_decide_as_in_clean_and_safety() -> None:
    """Rows with ``messages`` and a leftover ``text``: dedup reads ``messages``, like the
    clean and safety steps; a missing column named explicitly is a clear error."""
    from sftdata import SftDataError

    convo = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    other = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "no"}]
    rows = [
        {"messages": convo, "text": "same raw line"},
        {"messages": other, "text": "same raw line"},
        {"messages": convo, "text": "different raw line"},
    ]
    kept, rejected = exact_dedup(rows)
    assert [r["messages"] for r in kept] == [convo, other]
    assert [r["text"] for r in rejected] == ["different raw line"]
    with pytest.raises(SftDataError, match="'prompt'"):
        exact_dedup(rows, column="prompt")
