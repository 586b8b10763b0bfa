"""numba kernels of :mod:`sftdata.dedup._compiled` (imported on first use: numba is slow
to import and optional). One compiled signature, cached on disk (``cache=True``)."""

# mypy: ignore-errors
from __future__ import annotations

import numba
import numpy as np

_U = np.uint64
_B = _U(0x9E3779B97F4A7C15)
_M32 = _U(0xFFFFFFFF)


@numba.njit(inline="always", cache=True)
def _mix(poly):
    h = poly ^ (poly >> _U(33))
    h = h * _U(0xFF51AFD7ED558CCD)
    h ^= h >> _U(33)
    h = h * _U(0xC4CEB9FE1A85EC53)
    h ^= h >> _U(33)
    x = h >> _U(32)  # fmix32 of the high half, kept in 64-bit lanes
    x ^= x >> _U(16)
    x = (x * _U(0x85EBCA6B)) & _M32
    x ^= x >> _U(13)
    x = (x * _U(0xC2B2AE35)) & _M32
    return x ^ (x >> _U(16))


@numba.njit(inline="always", cache=True)
def _fold_in(row, h, a, b):
    for k in range(row.shape[0]):  # uint32 lanes: vectorised by LLVM
        row[k] = min(row[k], np.uint32(a[k] * h + b[k]))


@numba.njit(inline="always", cache=True)
def _shingle(wpoly, wmul, wadd, first, n):
    s = wpoly[first]
    for j in range(first + 1, first + n):
        s = s * wmul[j] + wadd[j]
    return np.uint32(_mix(s))


_T = numba.types
_bytes = _T.Array(_T.uint8, 1, "C", readonly=True)
_u32s = _T.Array(_T.uint32, 1, "C", readonly=True)


@numba.njit(
    _T.void(_bytes, _T.Array(_T.int64, 1, "C"), _T.int64, _u32s, _u32s, _T.uint32[:, ::1]),
    cache=True,
    nogil=True,
)
def sign(buf, offsets, ngram, a, b, out):
    longest = 0
    for d in range(out.shape[0]):
        longest = max(longest, offsets[d + 1] - offsets[d])
    size = longest // 2 + 2  # a word is at least one byte plus one space
    wpoly = np.zeros(size, np.uint64)  # poly(word)
    wmul = np.zeros(size, np.uint64)  # B^(1+|word|)
    wadd = np.zeros(size, np.uint64)  # 32 * B^|word| + poly(word)
    for d in range(out.shape[0]):
        row = out[d]
        row[:] = np.uint32(0xFFFFFFFF)
        count, poly, pw = 0, _U(0), _U(1)
        for i in range(offsets[d], offsets[d + 1] + 1):  # one space past the end
            c = buf[i] if i < offsets[d + 1] else np.uint8(32)
            if c != np.uint8(32):
                poly = poly * _B + _U(c)
                pw = pw * _B
            elif pw != _U(1):  # a word just ended (no word is empty)
                wpoly[count], wmul[count], wadd[count] = poly, pw * _B, _U(32) * pw + poly
                count += 1
                poly, pw = _U(0), _U(1)
        if count < ngram:  # one shingle of all the words (none: poly 0)
            h = _shingle(wpoly, wmul, wadd, 0, count) if count else np.uint32(_mix(_U(0)))
            _fold_in(row, h, a, b)
        for first in range(count - ngram + 1):
            _fold_in(row, _shingle(wpoly, wmul, wadd, first, ngram), a, b)
