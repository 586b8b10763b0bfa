"""MinHash signatures for a whole batch at once: the map step of near-dedup.

Each document is a set of shingles (:func:`shingles`); each shingle a 32-bit hash
``h`` (:func:`shingle_hash`). Permutation ``k`` is datasketch's ``affine32`` scheme::

    perm_k(h) = a_k * fmix32(h) + b_k   (mod 2^32, a_k odd: a bijection)
    sig[k]    = min over the document's shingles of perm_k(h)

``a, b`` come from ``numpy.random.RandomState(seed)`` exactly as in datasketch, so
``minhash_signatures([text], seed=s)[0]`` equals
``datasketch.MinHash(num_perm, seed=s, hashfunc=shingle_hash)`` updated with
``shingles(text)``. For two sets, ``P[sig_A[k] == sig_B[k]] = Jaccard(A, B)``.

The numpy kernel (the fallback without numba) lays the work out as ``(num_perm, shingles)``: each permutation is one
contiguous multiply-add over all shingles of a chunk of documents and one
``minimum.reduceat`` over document boundaries, all in numpy, chunked so the
temporary stays in cache::

              shingles of doc0 | doc1 | doc2 ...
    perm 0    a0*h+b0 ........ | .... | ....   --min per segment-->  sig[:, 0]
    perm 1    a1*h+b1 ........ | .... | ....   --min per segment-->  sig[:, 1]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from sftdata._batch import batch_len, drop_reasons
from sftdata._contract import DROP_REASON, Batch, RowError
from sftdata.dedup import _compiled
from sftdata.dedup._apply import (
    as_input,
    column_list,
    column_matrix,
    is_dataset,
    map_columns,
    resolve_column,
)
from sftdata.dedup._hashing import fmix32, ngram_hashes
from sftdata.dedup._text import Fields, document_text

#: Column the signature map step writes by default.
SIGNATURE_COLUMN = "minhash"
_CHUNK_SHINGLES = 8192
_DOC_CHUNK = 1024


@lru_cache(maxsize=16)
def permutations(seed: int, num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``(a, b)`` uint32 parameters of datasketch's ``affine32`` permutations."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


def check_params(*, num_perm: int, ngram: int, seed: int) -> None:
    """Validate MinHash parameters, naming the bad one."""
    if not isinstance(num_perm, int) or not 1 <= num_perm <= 4096:
        raise ValueError(f"num_perm must be an int in [1, 4096], got {num_perm!r}")
    if not isinstance(ngram, int) or ngram < 1:
        raise ValueError(f"ngram must be an int >= 1, got {ngram!r}")
    if not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an int in [0, 2**32), got {seed!r}")


def minhash_signatures(
    texts: Sequence[str],
    *,
    num_perm: int = 128,
    seed: int = 1,
    ngram: int = 5,
    compiled: bool = True,
) -> np.ndarray:
    """MinHash signatures of ``texts``: a ``(len(texts), num_perm)`` uint32 matrix.

    With numba installed (the ``fast`` extra) the compiled kernel of
    :mod:`sftdata.dedup._compiled` signs the texts; ``compiled=False`` (or no numba, or
    ``SFTDATA_NO_NUMBA=1``) takes the numpy kernel below. Both give the same bits.

    >>> sig = minhash_signatures(["the quick brown fox jumps over the lazy dog"] * 2
    ...                          + ["an entirely different sentence about the weather"])
    >>> sig.shape, sig.dtype.name
    ((3, 128), 'uint32')
    >>> bool((sig[0] == sig[1]).all()), float((sig[0] == sig[2]).mean()) < 0.2
    (True, True)
    """
    check_params(num_perm=num_perm, ngram=ngram, seed=seed)
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of str, not one str")
    out = np.empty((len(texts), num_perm), dtype=np.uint32)
    for lo in range(0, len(texts), _DOC_CHUNK):
        chunk = texts[lo : lo + _DOC_CHUNK]
        for i, t in enumerate(chunk):
            if not isinstance(t, str):
                raise TypeError(f"texts[{lo + i}] must be str, got {type(t).__name__}")
        if compiled and _compiled.AVAILABLE:
            a, b = permutations(seed, num_perm)
            out[lo : lo + len(chunk)] = _compiled.signatures_compiled(chunk, a=a, b=b, ngram=ngram)
            continue
        grams = ngram_hashes(chunk, ngram=ngram)
        h32 = fmix32((grams.hashes >> np.uint64(32)).astype(np.uint32))
        out[lo : lo + len(chunk)] = _min_permuted(h32, grams.offsets, seed, num_perm).T
    return out


def _min_permuted(h: np.ndarray, offsets: np.ndarray, seed: int, num_perm: int) -> np.ndarray:
    """``(num_perm, n_docs)`` minima of ``a*h+b`` per document segment of ``h``."""
    a, b = permutations(seed, num_perm)
    n_docs = len(offsets) - 1
    sig = np.full((num_perm, n_docs), np.iinfo(np.uint32).max, dtype=np.uint32)
    buf = np.empty((num_perm, min(_CHUNK_SHINGLES, len(h))), dtype=np.uint32)
    a_col, b_col = a[:, None], b[:, None]
    for lo in range(0, len(h), _CHUNK_SHINGLES):
        hi = min(lo + _CHUNK_SHINGLES, len(h))
        # documents whose shingles intersect [lo, hi); a long document spans chunks
        d0 = int(np.searchsorted(offsets, lo, side="right")) - 1
        d1 = int(np.searchsorted(offsets, hi, side="left"))
        seg = np.maximum(offsets[d0:d1], lo) - lo
        work = buf[:, : hi - lo]
        np.multiply(a_col, h[lo:hi], out=work)
        np.add(work, b_col, out=work)
        red = np.minimum.reduceat(work, seg, axis=1)
        np.minimum(sig[:, d0:d1], red, out=sig[:, d0:d1])
    return sig


@dataclass(frozen=True)
class MinHashSignatures:
    """Batched step: add a ``minhash`` column (one uint32 row of ``num_perm`` per row).

    The map half of near-dedup; run it with ``ds.map(step, batched=True, num_proc=k)``
    or a Ray ``map_batches``. Rows whose ``column`` is unusable are rejected with
    ``dedup.bad_<column>`` (their signature is that of the empty text).

    >>> step = MinHashSignatures(num_perm=16)
    >>> out = step({"text": ["a b c d e f", "x y z"]})
    >>> len(out["minhash"]), len(out["minhash"][0])
    (2, 16)
    """

    column: str = "text"
    fields: Fields = "all"
    num_perm: int = 128
    seed: int = 1
    ngram: int = 5
    output: str = SIGNATURE_COLUMN

    def __post_init__(self) -> None:
        check_params(num_perm=self.num_perm, ngram=self.ngram, seed=self.seed)
        if self.fields not in ("all", "user"):
            raise ValueError(f"fields must be 'all' or 'user', got {self.fields!r}")

    def __call__(self, batch: Mapping[str, list[Any]]) -> Batch:
        texts, reasons = batch_texts(batch, column=self.column, fields=self.fields)
        sig = minhash_signatures(texts, num_perm=self.num_perm, seed=self.seed, ngram=self.ngram)
        out: Batch = dict(batch)
        out[self.output] = list(sig)
        out[DROP_REASON] = reasons
        return out


def batch_texts(
    batch: Mapping[str, list[Any]], *, column: str, fields: Fields
) -> tuple[list[str], list[str | None]]:
    """Texts of a batch's rows and their drop reasons (unusable rows become ``""``)."""
    if column not in batch:
        raise ValueError(f"batch has no column {column!r}; columns are {list(batch)}")
    reasons = drop_reasons(batch)
    values = batch[column]
    texts: list[str] = []
    for i in range(batch_len(batch)):
        try:
            texts.append(document_text({column: values[i]}, column=column, fields=fields))
        except RowError as e:
            texts.append("")
            reasons[i] = reasons[i] or e.reason
    return texts, reasons


def signatures_of(
    data: Any, step: MinHashSignatures, *, num_proc: int | None, batch_size: int
) -> tuple[np.ndarray, list[str | None]]:
    """Signature matrix and drop reasons of every row of a Dataset or a list of rows.

    A Dataset goes through ``map(step, batched=True, num_proc=...)`` (cached, parallel);
    a list is signed in one call, straight into the ``(n, num_perm)`` matrix.
    """
    if is_dataset(data):
        table = map_columns(
            data, step, keep=[step.output, DROP_REASON], num_proc=num_proc, batch_size=batch_size
        )
        sig = column_matrix(table, step.output, step.num_perm, np.uint32)
        return sig, column_list(table, DROP_REASON)
    cols = {
        step.column: [r.get(step.column) for r in data],
        DROP_REASON: [r.get(DROP_REASON) for r in data],
    }
    texts, reasons = batch_texts(cols, column=step.column, fields=step.fields)
    sig = minhash_signatures(texts, num_perm=step.num_perm, seed=step.seed, ngram=step.ngram)
    return sig, reasons


def sign_input(
    data: Any,
    *,
    column: str | None,
    fields: Fields,
    num_perm: int,
    seed: int,
    ngram: int,
    num_proc: int | None,
    batch_size: int,
) -> tuple[Any, np.ndarray, list[str | None]]:
    """:func:`as_input` of ``data``, its signature matrix and its rows' drop reasons.

    The column is ``column`` or the one :func:`resolve_column` finds; the rows are
    signed by :class:`MinHashSignatures` with these options (see :func:`signatures_of`).
    """
    data = as_input(data)
    step = MinHashSignatures(
        column=resolve_column(data, column),
        fields=fields,
        num_perm=num_perm,
        seed=seed,
        ngram=ngram,
    )
    sig, reasons = signatures_of(data, step, num_proc=num_proc, batch_size=batch_size)
    return data, sig, reasons
