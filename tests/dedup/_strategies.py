"""Cheap hypothesis strategies for dedup tests: documents drawn from a small vocabulary.

Sampling from a fixed vocabulary keeps generation fast and makes shared shingles likely;
the vocabulary mixes ASCII, accents, ligatures, CJK, Hangul, punctuation and whitespace.
"""

from __future__ import annotations

from hypothesis import strategies as st

from tests.strategies import plain_text

VOCAB = [
    "the", "cat", "sat", "on", "mat", "The", "CAT", "dog", "ran", "fast", "a", "an",
    "Crème", "brûlée", "café", "ﬁne", "ß", "東京", "タワー", "한국어", "文章", "a_b-c",
    "x1", "42", "!!", ",", "...", "  ", "\n", "\t", "Ünïcödé", "naïve", "résumé",
]  # fmt: skip

vocab_documents = st.lists(st.sampled_from(VOCAB), min_size=0, max_size=30).map(" ".join)
#: Mostly vocabulary documents, sometimes arbitrary unicode text.
documents = st.one_of(vocab_documents, vocab_documents, plain_text)

#: Distinct alphabetic words for documents that must not share any shingle.
distinct_words = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=8),
    min_size=2,
    max_size=40,
    unique=True,
)
