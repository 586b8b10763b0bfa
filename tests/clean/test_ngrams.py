"""The vectorised and compiled n-gram repetition statistics, and the word-rule shortcuts,
equal the plain Python loops they replace."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata.clean import _ngrams
from sftdata.clean._ngrams import NgramStats, repetition_chars
from sftdata.clean._quality import _PUNCT, _alpha_words, _stop_words_found


def top_chars_reference(words: list[str], n: int) -> int:
    counts = Counter(zip(*(words[i:] for i in range(n)), strict=False))
    if not counts:
        return 0
    gram, k = counts.most_common(1)[0]
    return k * sum(map(len, gram)) if k > 1 else 0


def dup_chars_reference(words: list[str], n: int) -> int:
    seen: set[tuple[str, ...]] = set()
    covered = [False] * len(words)
    for i in range(len(words) - n + 1):
        gram = tuple(words[i : i + n])
        if gram in seen:
            covered[i : i + n] = [True] * n
        seen.add(gram)
    return sum(len(w) for w, c in zip(words, covered, strict=True) if c)


@settings(max_examples=150)
@given(
    words=st.lists(st.sampled_from(["a", "bb", "ccc", "é", "東京", "a"]), max_size=40),
    n=st.integers(1, 10),
)
def test_ngram_stats_equal_the_python_loops(words: list[str], n: int) -> None:
    """Property: top_chars and dup_chars equal Counter.most_common / the seen-set loop."""
    stats = NgramStats(words)
    assert stats.top_chars(n) == top_chars_reference(words, n)
    assert stats.dup_chars(n) == dup_chars_reference(words, n)


@settings(max_examples=150)
@given(word=st.text(max_size=12))
def test_has_letter_equals_any_isalpha(word: str) -> None:
    """Property: the ASCII regex shortcut counts letters exactly as ``str.isalpha``."""
    from sftdata.clean._quality import _has_letter

    assert _has_letter(word) == any(c.isalpha() for c in word)


_words = st.lists(st.sampled_from(["a", "bb", "ccc", "é", "東京", "a", "dd"]), max_size=60)
_sizes = st.lists(st.integers(1, 12), max_size=6)


@pytest.mark.skipif(not _ngrams.AVAILABLE, reason="numba not installed or SFTDATA_NO_NUMBA set")
@settings(max_examples=200)
@given(words=_words, top_ns=_sizes, dup_ns=_sizes)
def test_compiled_repetition_equals_numpy(
    words: list[str], top_ns: list[int], dup_ns: list[int]
) -> None:
    """Property: the numba kernel gives the numpy path's top / dup characters, any sizes."""
    compiled = repetition_chars(words, top_ns, dup_ns)
    assert compiled == repetition_chars(words, top_ns, dup_ns, compiled=False)
    assert compiled == (
        [top_chars_reference(words, n) for n in top_ns],
        [dup_chars_reference(words, n) for n in dup_ns],
    )


def test_repetition_chars_on_a_long_document() -> None:
    """Both paths agree with the Python loops on a 5,000-word document (hash-table sizes)."""
    words = [f"w{(i * i) % 97}" if i % 7 else "the" for i in range(5000)]
    expected = (
        [top_chars_reference(words, n) for n in (2, 3, 4)],
        [dup_chars_reference(words, n) for n in range(5, 11)],
    )
    for compiled in (True, False):
        assert repetition_chars(words, (2, 3, 4), range(5, 11), compiled=compiled) == expected


@settings(max_examples=150)
@given(words=st.lists(st.text(max_size=6), max_size=20))
def test_alpha_words_equals_any_isalpha(words: list[str]) -> None:
    """Property: the isalpha fast path counts the words holding a letter."""
    assert _alpha_words(words) == sum(any(c.isalpha() for c in w) for w in words)


@settings(max_examples=150)
@given(
    words=st.lists(st.sampled_from(["the", "The", "the,", "(of)", "to", "x", "and."]), max_size=8),
    enough=st.integers(0, 4),
)
def test_stop_words_found_decides_as_the_full_count(words: list[str], enough: int) -> None:
    """Property: the shortcut count is below ``enough`` exactly when the full count is."""
    stop = ("and", "of", "the", "to")
    full = len({w.strip(_PUNCT).lower() for w in words} & set(stop))
    assert (_stop_words_found(words, stop, enough) < enough) == (full < enough)
