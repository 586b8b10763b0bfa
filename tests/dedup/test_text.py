"""Shingle normalisation: folding rules, the ASCII fast path, CJK handling."""

from __future__ import annotations

import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata.dedup import shingles, words
from tests.dedup._strategies import documents


@settings(max_examples=60)
@given(text=documents)
def test_words_are_folded_letters_and_digits(text: str) -> None:
    """Property: words are non-empty, lowercase, free of separators and combining marks."""
    for w in words(text):
        assert w and w == w.casefold()
        assert not regex.search(r"[\s\p{P}\p{Mn}_]", w)


@settings(max_examples=60)
@given(text=st.text(alphabet=st.characters(max_codepoint=127), max_size=80))
def test_ascii_fast_path_equals_unicode_path(text: str) -> None:
    """Property: ASCII text splits the same with the byte table as with the Unicode regex."""
    marker = "é"  # forces the Unicode path; it folds to the word 'e'
    assert words(text + " " + marker) == [*words(text), "e"]


@settings(max_examples=40)
@given(text=documents, n=st.integers(1, 6))
def test_shingles_cover_the_words(text: str, n: int) -> None:
    """Property: shingles are the n-word windows; a shorter text is one shingle of all words."""
    ws = words(text)
    got = shingles(text, ngram=n)
    if len(ws) < n:
        assert got == [" ".join(ws)]
    else:
        assert len(got) == len(ws) - n + 1
        assert all(s.split(" ") == ws[i : i + n] for i, s in enumerate(got))


def test_folding_examples() -> None:
    """Case, accents, ligatures and punctuation fold; CJK splits per character."""
    assert words("Crème BRÛLÉE, ﬁne!") == ["creme", "brulee", "fine"]
    assert words("東京タワーへ行く") == ["東", "京", "タ", "ワ", "ー", "へ", "行", "く"]
    assert words("한국어 문장입니다") == ["한국어", "문장입니다"]
    assert words("snake_case and-dash") == ["snake", "case", "and", "dash"]
    assert words("") == [] and shingles("", ngram=3) == [""]
