"""The public hand-back of an engine's roots: apply_near_roots / apply_exact_roots."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata.dedup import (
    apply_exact_roots,
    apply_near_roots,
    exact_dedup,
    minhash_dedup,
    minhash_signatures,
    near_duplicate_roots,
    normalize_text,
)
from tests.dedup._strategies import documents, vocab_documents


@settings(max_examples=25, deadline=None)
@given(texts=st.lists(vocab_documents, min_size=1, max_size=12))
def test_near_roots_from_the_global_pass_give_minhash_dedup(texts: list[str]) -> None:
    """Property: near_duplicate_roots + apply_near_roots == minhash_dedup on the same rows."""
    roots = near_duplicate_roots(minhash_signatures(texts), threshold=0.8)
    assert apply_near_roots(texts, roots, [None] * len(texts)) == minhash_dedup(texts)


@settings(max_examples=25)
@given(texts=st.lists(documents, max_size=15))
def test_first_of_each_key_as_roots_gives_exact_dedup(texts: list[str]) -> None:
    """Property: roots = first row of each normalised text, applied, == exact_dedup."""
    first: dict[str, int] = {}
    roots = [first.setdefault(normalize_text(t), i) for i, t in enumerate(texts)]
    assert apply_exact_roots(texts, roots, [None] * len(texts)) == exact_dedup(texts)


def test_earlier_reasons_are_kept_and_lengths_are_checked() -> None:
    """A row already rejected keeps its reason; roots/reasons of the wrong length are refused."""
    kept, rejected = apply_near_roots(["a", "b"], [0, 1], ["parse.empty", None])
    assert [r["text"] for r in kept] == ["b"]
    assert [r["drop_reason"] for r in rejected] == ["parse.empty"]
    kept, rejected = apply_exact_roots(["a", "a"], [0, 1], [None, "parse.empty"])
    assert [r["drop_reason"] for r in rejected] == ["parse.empty"]
    with pytest.raises(ValueError, match="roots has 1 entries for 2 rows"):
        apply_near_roots(["a", "b"], [0], [None, None])
    with pytest.raises(ValueError, match="reasons has 3 entries for 2 rows"):
        apply_exact_roots(["a", "b"], [0, 1], [None] * 3)
