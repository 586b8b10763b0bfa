"""The vectorised n-gram repetition statistics equal the plain Python loops they replace."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata.clean._ngrams import NgramStats


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
