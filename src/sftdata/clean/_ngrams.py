"""Word n-gram repetition statistics of one document, vectorised with numpy.

Words become integer ids once per document; n-grams are grouped exactly, size after
size: the group of an ``n``-gram is the rank of (group of its first ``n-1`` words, id of
its last word), one ``np.unique`` over int64 keys per size (no hashing)::

    words  a  b  a  b  a        ids  0 1 0 1 0
    2-grams (0,1) (1,0) (0,1) (1,0)   first occurrence 0 1 0 1 -> later copies at 2, 3
    covered words (copies and their words): positions 2..4

Both statistics equal the plain Python loops of the Gopher repetition rules (tested).

:func:`repetition_chars` computes every size a filter asks for in one call: through a
compiled kernel (:mod:`sftdata.clean._ngram_kernel`: hash tables instead of sorts, the
ten sizes of a 440-word web document in ~35 us instead of ~390 us) when numba is
installed (the ``fast`` extra) and not switched off by ``SFTDATA_NO_NUMBA=1``, else
through :class:`NgramStats`. Both give the same integers (tested).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence

import numpy as np

#: Whether the compiled kernel can run here (numba installed, ``SFTDATA_NO_NUMBA``
#: unset or ``0``); numba itself is imported on the first call only.
AVAILABLE: bool = importlib.util.find_spec("numba") is not None and os.environ.get(
    "SFTDATA_NO_NUMBA", ""
) in ("", "0")


def word_ids(words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, lens)``: each word's id (ids in order of first occurrence) and length.

    ``dict.fromkeys`` keeps first occurrences in order, so the loops stay in C.
    """
    index = {w: i for i, w in enumerate(dict.fromkeys(words))}
    ids = np.fromiter(map(index.__getitem__, words), np.int64, len(words))
    return ids, np.fromiter(map(len, words), np.int64, len(words))


def repetition_chars(
    words: list[str], top_ns: Sequence[int], dup_ns: Sequence[int], *, compiled: bool = True
) -> tuple[list[int], list[int]]:
    """``([top_chars(n) for n in top_ns], [dup_chars(n) for n in dup_ns])`` of ``words``.

    ``compiled=False`` takes the numpy path even where the kernel could run.
    """
    if not (compiled and AVAILABLE):
        stats = NgramStats(words)
        return [stats.top_chars(n) for n in top_ns], [stats.dup_chars(n) for n in dup_ns]
    from sftdata.clean._ngram_kernel import repetition

    ids, lens = word_ids(words)
    top = np.zeros(len(top_ns), np.int64)
    dup = np.zeros(len(dup_ns), np.int64)
    repetition(ids, lens, np.asarray(top_ns, np.int64), np.asarray(dup_ns, np.int64), top, dup)
    return top.tolist(), dup.tolist()


class NgramStats:
    """Per-document helper: ``top_chars(n)`` and ``dup_chars(n)`` over ``words``."""

    def __init__(self, words: list[str]) -> None:
        self.ids, self.lens = word_ids(words)
        self._ranks: list[np.ndarray] = []
        self._stats: list[tuple[np.ndarray, np.ndarray]] = []

    def _groups(self, n: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``(first occurrence per position, count per group)`` of the ``n``-grams."""
        if len(self.ids) - n + 1 <= 0:
            return None
        while len(self._ranks) < n:
            k = len(self._ranks) + 1  # build the k-grams from the (k-1)-grams
            prev = self._ranks[-1] if self._ranks else np.zeros(len(self.ids), np.int64)
            m = len(self.ids) - k + 1
            key = prev[:m] * (len(self.ids) + 1) + self.ids[k - 1 : k - 1 + m]
            _, first, inverse, counts = np.unique(
                key, return_index=True, return_inverse=True, return_counts=True
            )
            inverse = inverse.ravel()
            self._ranks.append(inverse)
            self._stats.append((first[inverse], counts[inverse]))
        return self._stats[n - 1]

    def top_chars(self, n: int) -> int:
        """Characters of the most frequent ``n``-gram (earliest on ties) times its count,
        or 0 when no ``n``-gram repeats (``Counter.most_common(1)`` semantics)."""
        groups = self._groups(n)
        if groups is None:
            return 0
        first, counts = groups
        k = int(counts.max())
        if k <= 1:
            return 0
        pos = int(first[counts == k].min())
        return k * int(self.lens[pos : pos + n].sum())

    def dup_chars(self, n: int) -> int:
        """Characters of the words covered by ``n``-grams seen earlier in the text."""
        groups = self._groups(n)
        if groups is None:
            return 0
        first, _ = groups
        starts = np.flatnonzero(first != np.arange(len(first)))
        if not len(starts):
            return 0
        edge = np.zeros(len(self.ids) + 1, np.int64)
        np.add.at(edge, starts, 1)
        np.add.at(edge, starts + n, -1)
        covered = np.cumsum(edge[:-1]) > 0
        return int(self.lens[covered].sum())
