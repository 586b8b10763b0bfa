"""Shingle hashing, vectorised over a whole batch of documents.

A shingle is ``ngram`` words joined by single spaces (see :func:`shingles`). Its hash
is a polynomial over its UTF-8 bytes, mixed by the MurmurHash3 64-bit finalizer::

    poly(c_0 .. c_{L-1}) = sum_k c_k * B^(L-1-k)   (mod 2^64, B odd)
    shingle_hash64(s)    = fmix64(poly(utf8(s)))
    shingle_hash(s)      = shingle_hash64(s) >> 32          (the 32-bit MinHash input)

The kernel hashes every word of every document of a batch at once (one segmented
sum of ``byte * B^(bytes left in the word)``), then builds each shingle's polynomial
from its words with ``poly(x + " " + w) = poly(x) * B^(1+|w|) + 32 * B^|w| + poly(w)``:
``ngram - 1`` vectorised steps over all shingles, no Python work per word or shingle,
and a power table only as long as the longest word::

    bytes   t h e _ c a t _ s a t _ o n ...      (all documents, words joined by " ")
    words   [the] [cat] [sat] [on] ...           poly(word): one reduceat
    shingle [the cat sat]  [cat sat on] ...      Horner over words: ngram - 1 steps
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sftdata.dedup._text import folded_bytes

MASK64 = (1 << 64) - 1
_B = 0x9E3779B97F4A7C15
_U64 = np.uint64


def _fmix64_int(h: int) -> int:
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & MASK64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & MASK64
    return h ^ (h >> 33)


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer on a ``uint64`` array (a bijection)."""
    h = h ^ (h >> _U64(33))
    h = h * _U64(0xFF51AFD7ED558CCD)
    h ^= h >> _U64(33)
    h = h * _U64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> _U64(33))


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer on a ``uint32`` array (datasketch's pre-mix)."""
    u = np.uint32
    h = h ^ (h >> u(16))
    h = h * u(0x85EBCA6B)
    h ^= h >> u(13)
    h = h * u(0xC2B2AE35)
    return h ^ (h >> u(16))


def shingle_hash64(shingle: str | bytes) -> int:
    """The 64-bit hash of one shingle (pure Python reference of the batched kernel).

    >>> shingle_hash64("the cat sat") == shingle_hash64(b"the cat sat")
    True
    """
    data = shingle.encode("utf-8") if isinstance(shingle, str) else shingle
    h = 0
    for c in data:
        h = (h * _B + c) & MASK64
    return _fmix64_int(h)


def shingle_hash(shingle: str | bytes) -> int:
    """The 32-bit shingle hash MinHash uses; pass it as datasketch's ``hashfunc``.

    >>> 0 <= shingle_hash("the cat sat on the") < 2**32
    True
    """
    return shingle_hash64(shingle) >> 32


@dataclass(frozen=True, eq=False)
class NgramHashes:
    """The ngram hashes of a batch of documents, flat, with per-document offsets.

    Shingles of document ``i`` are ``hashes[offsets[i]:offsets[i+1]]``; every document
    has at least one (a document shorter than ``ngram`` words is one shingle).
    :meth:`text` recovers a shingle's text from the folded bytes kept alongside.
    """

    hashes: np.ndarray  # uint64 (S,)
    offsets: np.ndarray  # int64 (n + 1,)
    ngram: int
    words_per_doc: np.ndarray  # int64 (n,)
    folded: np.ndarray  # uint8: all documents' words, each followed by one space
    word_starts: np.ndarray  # int64 (W,) byte offsets into ``folded``
    word_ends: np.ndarray  # int64 (W,)

    def text(self, j: int) -> str:
        """The shingle ``j`` as text (words joined by single spaces)."""
        d = int(np.searchsorted(self.offsets, j, side="right")) - 1
        count = int(self.words_per_doc[d])
        if count == 0:
            return ""
        first = int(self.words_per_doc[:d].sum()) + j - int(self.offsets[d])
        last = first + min(self.ngram, count) - 1
        lo, hi = int(self.word_starts[first]), int(self.word_ends[last])
        return self.folded[lo:hi].tobytes().decode("utf-8")


def _powers(n: int) -> np.ndarray:
    """``B**k mod 2**64`` for ``k < n`` (``n`` is at most the longest word + 2)."""
    out = np.empty(max(n, 1), dtype=np.uint64)
    out[0] = 1
    np.cumprod(np.full(len(out) - 1, _B, dtype=np.uint64), out=out[1:])
    return out


def _word_polys(
    arr: np.ndarray, wstart: np.ndarray, wend: np.ndarray, pw: np.ndarray
) -> np.ndarray:
    """``poly(word)`` for every word: each byte times ``B^(bytes after it in its word)``."""
    wlen = wend - wstart
    if wlen.sum() == 0:
        return np.zeros(len(wstart), dtype=np.uint64)
    pos = np.flatnonzero(arr != 32)  # the word bytes, word after word
    exponent = np.repeat(wend, wlen) - 1 - pos
    terms = arr[pos].astype(np.uint64) * pw[exponent]
    return np.add.reduceat(terms, np.concatenate(([0], np.cumsum(wlen)[:-1])))


def ngram_hashes(texts: Sequence[str], *, ngram: int) -> NgramHashes:
    """Hash every word ``ngram``-gram of every text, vectorised (see module docstring)."""
    return ngram_hashes_multi(texts, ngrams=[ngram])[ngram]


def ngram_hashes_multi(texts: Sequence[str], *, ngrams: Sequence[int]) -> dict[int, NgramHashes]:
    """:func:`ngram_hashes` for several ``ngram`` sizes, folding and hashing words once."""
    arr, wstart, wend, counts = _word_spans(texts)
    n_words = int(counts.sum())
    wlen = (wend - wstart)[:n_words]
    pw = _powers(int(wlen.max(initial=0)) + 2)
    wpoly = _word_polys(arr, wstart[:n_words], wend[:n_words], pw)
    # poly(x + " " + w) = poly(x) * B^(1+|w|) + (32 * B^|w| + poly(w))
    mul = pw[wlen + 1]
    add = np.uint64(32) * pw[wlen] + wpoly
    out = {}
    for n in sorted(set(ngrams)):
        poly, offsets = _shingle_polys(wpoly, mul, add, counts, n)
        out[n] = NgramHashes(fmix64(poly), offsets, n, counts, arr, wstart, wend)
    return out


def _shingle_polys(
    wpoly: np.ndarray, mul: np.ndarray, add: np.ndarray, counts: np.ndarray, ngram: int
) -> tuple[np.ndarray, np.ndarray]:
    """Polynomials of every shingle and the per-document offsets.

    After step ``j``, ``acc[g]`` is the poly of words ``g..g+j`` (running past a
    document's end is harmless: only starts with ``ngram`` words left are read).
    """
    n_words = len(wpoly)
    acc = wpoly.copy()
    word_off = np.concatenate(([0], np.cumsum(counts)))[:-1]
    short = np.flatnonzero((counts < ngram) & (counts > 0))
    short_poly = np.zeros(len(counts), dtype=np.uint64)  # one shingle of all words
    for j in range(ngram):
        done = short[counts[short] == j + 1]
        short_poly[done] = acc[word_off[done]]
        if j + 1 < ngram and j + 1 < n_words:
            acc[: n_words - j - 1] = acc[: n_words - j - 1] * mul[j + 1 :] + add[j + 1 :]
    per_doc = np.maximum(counts - ngram + 1, 1)
    offsets = np.concatenate(([0], np.cumsum(per_doc))).astype(np.int64)
    first = np.arange(offsets[-1]) + np.repeat(word_off - offsets[:-1], per_doc)
    full = np.repeat(counts >= ngram, per_doc)
    poly = np.zeros(offsets[-1], dtype=np.uint64)
    poly[full] = acc[first[full]]
    not_full = np.flatnonzero(counts < ngram)
    poly[offsets[not_full]] = short_poly[not_full]  # empty documents keep poly 0
    return poly, offsets


def _word_spans(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All documents' words in one byte array, each word followed by one space.

    Returns ``(bytes, word_starts, word_ends, words_per_doc)``. Documents are folded
    one by one (:func:`folded_bytes`, C-speed for ASCII) and joined by a ``0x01``
    separator; numpy then finds word boundaries and squeezes each run of separators
    to a single space, so a shingle's bytes are exactly its canonical text.
    """
    raw = np.frombuffer(b"\x01".join([folded_bytes(t) for t in texts]), dtype=np.uint8)
    is_word = (raw != 32) & (raw != 1)
    prev_word = np.concatenate(([False], is_word[:-1]))
    raw_word_start = np.flatnonzero(is_word & ~prev_word)
    # words per document: word starts between consecutive separators (D searches, not W)
    bounds = np.concatenate(([0], np.flatnonzero(raw == 1) + 1, [len(raw) + 1]))
    counts = np.diff(np.searchsorted(raw_word_start, bounds)).astype(np.int64)
    keep = is_word | prev_word  # words plus the first separator byte after each word
    arr = raw[keep]
    # arr is word, one separator, word, one separator, ...: the separators delimit words
    seps = np.flatnonzero((arr == 32) | (arr == 1))
    arr[seps] = 32
    n_words = len(raw_word_start)
    wstart = np.concatenate(([0], seps + 1))[:n_words].astype(np.int64)
    wend = np.concatenate((seps, [len(arr)]))[:n_words].astype(np.int64)
    if n_words == 0:  # no words at all: one dummy span so indexing stays valid
        wstart, wend = np.zeros(1, np.int64), np.zeros(1, np.int64)
    return arr, wstart, wend, counts
