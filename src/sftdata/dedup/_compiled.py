"""The compiled MinHash kernel (numba): folded bytes -> words -> shingle hashes -> minima.

One pass over each document's folded bytes (:func:`~sftdata.dedup._text.folded_bytes`,
words separated by runs of spaces) computes, per word, ``poly(word)`` and ``B^|word|``
(the polynomial of :mod:`sftdata.dedup._hashing`), keeps the last ``ngram`` words in a
ring, builds each shingle's polynomial by Horner over them, mixes it exactly as the
numpy path does (``fmix64``, high 32 bits, ``fmix32``) and folds it into the
document's signature row with ``min(a_k * h + b_k mod 2^32)`` over the permutations::

    bytes  t h e _ c a t _ _ s a t ...   ->  words [the] [cat] [sat] ...
    ring   [the cat sat] -> h -> row[k] = min(row[k], a[k]*h + b[k])   k < num_perm

The signatures are bit-identical to the numpy kernel (tested on arbitrary Unicode).
numba is optional (the ``fast`` extra): :data:`AVAILABLE` is False without it, or when
``SFTDATA_NO_NUMBA=1``, and callers fall back to numpy. The kernel is compiled once per
machine (``cache=True``) for one fixed signature: the caller casts its arguments.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence

import numpy as np

from sftdata.dedup._text import folded_bytes


def _disabled() -> bool:
    return os.environ.get("SFTDATA_NO_NUMBA", "") not in ("", "0")


#: Whether the compiled kernel can run here (numba installed, not switched off by
#: ``SFTDATA_NO_NUMBA=1``); numba itself is imported on the first call only.
AVAILABLE: bool = importlib.util.find_spec("numba") is not None and not _disabled()


def signatures_compiled(
    texts: Sequence[str], *, a: np.ndarray, b: np.ndarray, ngram: int
) -> np.ndarray:
    """``(len(texts), len(a))`` uint32 MinHash signatures through the compiled kernel.

    Raises ``RuntimeError`` when numba is unavailable (check :data:`AVAILABLE`).
    """
    if importlib.util.find_spec("numba") is None or _disabled():
        raise RuntimeError("the compiled MinHash kernel needs numba (pip install sftdata[fast])")
    from sftdata.dedup._kernels import sign

    parts = [folded_bytes(t) for t in texts]
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum([len(p) for p in parts], out=offsets[1:])
    buf = np.frombuffer(b"".join(parts), dtype=np.uint8)
    out = np.empty((len(parts), len(a)), dtype=np.uint32)
    sign(buf, offsets, int(ngram), a, b, out)
    return out
