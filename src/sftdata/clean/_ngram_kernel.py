"""numba kernel of :func:`sftdata.clean._ngrams.repetition_chars` (imported on first use:
numba is slow to import and optional). One compiled signature, cached on disk.

Sizes ``k = 1, 2, ...`` are grouped in turn, as the numpy path does, but with one
open-addressing hash table per size instead of a sort: the group of the ``k``-gram at
``i`` is looked up by the key ``(group of its (k-1)-gram, id of its last word)``, and
groups are numbered in order of first occurrence::

    ids     0 1 0 1 0          k=2 keys (0,1) (1,0) (0,1) (1,0)
    group   0 1 0 1            first[g] = 0 1   count[g] = 2 2
"""

# mypy: ignore-errors
from __future__ import annotations

import numba
import numpy as np

_T = numba.types
_i64s = _T.Array(_T.int64, 1, "C", readonly=True)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@numba.njit(
    _T.void(_i64s, _i64s, _i64s, _i64s, _T.int64[::1], _T.int64[::1]), cache=True, nogil=True
)
def repetition(ids, lens, top_ns, dup_ns, top_out, dup_out):
    n_words = ids.shape[0]
    top_out[:] = 0
    dup_out[:] = 0
    max_n = 0
    for n in top_ns:
        max_n = max(max_n, n)
    for n in dup_ns:
        max_n = max(max_n, n)
    cum = np.zeros(n_words + 1, np.int64)  # characters of words[:i]
    for i in range(n_words):
        cum[i + 1] = cum[i] + lens[i]
    bits = 1
    while (1 << bits) < 2 * n_words:
        bits += 1
    mask = (1 << bits) - 1
    shift = np.uint64(64 - bits)
    keys = np.empty(1 << bits, np.int64)
    slot_group = np.empty(1 << bits, np.int64)
    rank = np.zeros(n_words, np.int64)  # group of the current k-gram starting at i
    first = np.empty(n_words, np.int64)  # first start of group g
    count = np.empty(n_words, np.int64)
    for k in range(1, max_n + 1):
        m = n_words - k + 1
        if m <= 0:
            break
        keys[:] = -1
        groups = 0
        for i in range(m):
            key = rank[i] * (n_words + 1) + ids[i + k - 1]
            h = np.int64((np.uint64(key) * _GOLDEN) >> shift)
            while keys[h] != -1 and keys[h] != key:
                h = (h + 1) & mask
            if keys[h] == -1:
                keys[h] = key
                slot_group[h] = groups
                first[groups] = i
                count[groups] = 0
                groups += 1
            g = slot_group[h]
            count[g] += 1
            rank[i] = g
        for j in range(top_ns.shape[0]):
            if top_ns[j] == k:
                best, at = 1, -1
                for g in range(groups):  # groups run in order of first occurrence
                    if count[g] > best:
                        best, at = count[g], first[g]
                if at >= 0:
                    top_out[j] = best * (cum[at + k] - cum[at])
        for j in range(dup_ns.shape[0]):
            if dup_ns[j] == k:
                total, covered_to = 0, 0
                for i in range(m):
                    if first[rank[i]] != i:  # a copy of an earlier k-gram
                        start = max(i, covered_to)
                        total += cum[i + k] - cum[start]
                        covered_to = i + k
                dup_out[j] = total
