"""LSH banding, candidate pairs by sorting, verification and connected components.

The global pass of near-dedup, split into pure array functions an engine can call:

    signatures (n, b*r) --band_keys--> keys (n, b) --candidate_pairs--> pairs (m, 2)
        --verify_pairs--> similar pairs --connected_components--> root of each row

**Why bands.** Cut each signature into ``b`` bands of ``r`` rows. Two documents with
Jaccard similarity ``s`` agree on one permutation with probability ``s``, on a whole
band with ``s^r``, and share at least one band (become candidates) with::

    P(candidate | s) = 1 - (1 - s^r)^b

an S-curve whose steep part sits near ``(1/b)^(1/r)``::

    P 1 |                 ______
        |               /
        |              /            b=9, r=13 (num_perm=128, threshold 0.8)
        |             /
      0 |___________/________________ s
        0          0.8              1

The false-positive weight is the area under the curve left of the threshold
(``∫_0^t P ds``), the false-negative weight the area above it right of the threshold
(``∫_t^1 1-P ds``). :func:`optimal_bands` picks ``(b, r)`` with ``b*r <= num_perm``
minimising their weighted sum, exactly like datasketch's ``MinHashLSH`` optimiser
(even weights give the b=9, r=13 above). With verification on, ``minhash_dedup``
weights false negatives 0.95 instead (b=16, r=8: ``P = 0.95`` at ``s = 0.8``), since
a false candidate then only costs one signature comparison. Verification (estimated
Jaccard ``mean(sig_u == sig_v) >= threshold``) then removes most false positives;
the estimate's standard error is ``sqrt(s(1-s)/num_perm)`` (0.035 at ``s = 0.8``
with 128 permutations), so pairs within a few hundredths of the threshold can land
on either side.

**Why sorting.** Rows that share a band share that band's 64-bit key. ``argsort`` of
one band's keys puts equal keys next to each other; each run of equal keys becomes a
star of edges to its lowest row index. No dict of every key, memory O(n) per band,
and the edges depend only on the signatures, never on how rows were batched.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_M1 = np.uint64(0x9E3779B97F4A7C15)


@lru_cache(maxsize=64)
def optimal_bands(
    threshold: float, num_perm: int, *, fp_weight: float = 0.5, fn_weight: float = 0.5
) -> tuple[int, int]:
    """``(bands, rows)`` minimising ``fp_weight*FP + fn_weight*FN`` (datasketch's rule).

    >>> optimal_bands(0.8, 128)
    (9, 13)
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
    from scipy.integrate import quad  # here: scipy costs ~0.5 s and ~40 MB to import

    best, best_err = (0, 0), float("inf")
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = quad(lambda s, b=b, r=r: 1 - (1 - s ** float(r)) ** float(b), 0.0, threshold)[0]
            fn = quad(lambda s, b=b, r=r: (1 - s ** float(r)) ** float(b), threshold, 1.0)[0]
            err = fp * fp_weight + fn * fn_weight
            if err < best_err:
                best, best_err = (b, r), err
    return best


def candidate_probability(s: float, *, bands: int, rows: int) -> float:
    """``P(two documents of Jaccard s share a band) = 1 - (1 - s^rows)^bands``.

    >>> round(candidate_probability(0.9, bands=9, rows=13), 3)
    0.929
    """
    return float(1 - (1 - s**rows) ** bands)


def band_keys(signatures: np.ndarray, *, bands: int, rows: int) -> np.ndarray:
    """A 64-bit key per (row, band): equal bands give equal keys. ``(n, bands)`` uint64."""
    sig = _check_signatures(signatures)
    if bands < 1 or rows < 1 or bands * rows > sig.shape[1]:
        raise ValueError(
            f"bands * rows must be <= num_perm={sig.shape[1]}, got bands={bands}, rows={rows}"
        )
    keys = np.empty((sig.shape[0], bands), dtype=np.uint64)
    for j in range(bands):
        keys[:, j] = band_key(sig, j, rows)
    return keys


def band_key(signatures: np.ndarray, band: int, rows: int) -> np.ndarray:
    """The ``(n,)`` uint64 keys of one band (column by column: O(n) extra memory).

    Keys are 64-bit: two different bands collide with probability ~2^-64 per pair,
    and verification (when on) would drop such a pair anyway.
    """
    key = np.full(signatures.shape[0], np.uint64(band), dtype=np.uint64)
    for c in range(band * rows, (band + 1) * rows):
        key ^= signatures[:, c].astype(np.uint64)
        key *= _M1
        key ^= key >> np.uint64(29)
    return key


def _check_signatures(signatures: np.ndarray) -> np.ndarray:
    sig = np.asarray(signatures)
    if sig.ndim != 2 or sig.dtype.kind != "u":
        raise ValueError(f"signatures must be a 2-D unsigned array, got {sig.dtype} {sig.shape}")
    return sig


def candidate_pairs(keys: np.ndarray) -> np.ndarray:
    """Pairs ``(u, v)``, ``u < v``, sharing a band key: ``(m, 2)`` int64, sorted, unique.

    In every band each run of equal keys gives the edges ``(first, other)`` where
    ``first`` is the run's lowest row index (a star, O(run) edges, not O(run^2)).

    >>> candidate_pairs(np.array([[7], [3], [7], [7]], dtype=np.uint64)).tolist()
    [[0, 2], [0, 3]]
    """
    keys = np.asarray(keys)
    if keys.ndim != 2:
        raise ValueError(f"keys must be 2-D (n, bands), got shape {keys.shape}")
    parts = [star_edges(keys[:, j]) for j in range(keys.shape[1])]
    return unique_pairs(np.concatenate(parts) if parts else np.empty((0, 2), np.int64))


def star_edges(key: np.ndarray) -> np.ndarray:
    """Edges ``(run's lowest row, other row)`` for every run of equal keys of one band."""
    if len(key) == 0:  # no rows, no runs
        return np.empty((0, 2), np.int64)
    order = np.argsort(key, kind="stable")
    sk = key[order]
    new_run = np.concatenate(([True], sk[1:] != sk[:-1]))
    run_first = order[np.flatnonzero(new_run)]
    run_id = np.cumsum(new_run) - 1
    member = ~new_run
    return np.stack([run_first[run_id[member]], order[member]], axis=1).astype(np.int64)


def unique_pairs(pairs: np.ndarray) -> np.ndarray:
    """Pairs as ``(low, high)``, sorted and without repeats."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) == 0:
        return pairs
    lo, hi = np.minimum(pairs[:, 0], pairs[:, 1]), np.maximum(pairs[:, 0], pairs[:, 1])
    width = np.int64(hi.max() + 1)
    code = np.unique(lo * width + hi)
    return np.stack([code // width, code % width], axis=1)


def estimated_jaccard(signatures: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """``mean(sig[u] == sig[v])`` for each pair: the MinHash Jaccard estimate, float64."""
    sig = _check_signatures(signatures)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    out = np.empty(len(pairs), dtype=np.float64)
    step = max(1, (1 << 22) // max(sig.shape[1], 1))
    for lo in range(0, len(pairs), step):
        p = pairs[lo : lo + step]
        out[lo : lo + len(p)] = (sig[p[:, 0]] == sig[p[:, 1]]).mean(axis=1)
    return out


def verify_pairs(signatures: np.ndarray, pairs: np.ndarray, *, threshold: float) -> np.ndarray:
    """The pairs whose estimated Jaccard is ``>= threshold``."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return pairs[estimated_jaccard(signatures, pairs) >= threshold]


def connected_components(n: int, pairs: np.ndarray) -> np.ndarray:
    """The root of each of ``n`` rows: the lowest row index of its connected component.

    Vectorised union-find: hook every edge's two roots to the smaller one
    (``minimum.at``), then pointer-jump until every row points at its root; repeat
    until no edge joins two roots. A row is a cluster's survivor iff ``root[i] == i``.

    >>> connected_components(5, np.array([[3, 4], [1, 3]])).tolist()
    [0, 1, 2, 1, 1]
    """
    parent = np.arange(n, dtype=np.int64)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) and (pairs.min() < 0 or pairs.max() >= n):
        raise ValueError(f"pairs reference rows outside [0, {n})")
    return union_into(parent, pairs)


def union_into(parent: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Join the rows of ``pairs`` in ``parent`` (in place) and return it.

    ``parent`` must be fully compressed (``parent[parent] == parent``: every row points
    at its component's lowest row), as :func:`connected_components` leaves it; it stays
    so. Joining edges in several calls gives the components of all of them at once.

    >>> parent = connected_components(5, np.array([[3, 4]]))
    >>> union_into(parent, np.array([[1, 3]])).tolist()
    [0, 1, 2, 1, 1]
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    u, v = pairs[:, 0], pairs[:, 1]
    while True:
        ru, rv = parent[u], parent[v]
        differ = ru != rv
        if not differ.any():
            return parent
        lo = np.minimum(ru[differ], rv[differ])
        np.minimum.at(parent, ru[differ], lo)
        np.minimum.at(parent, rv[differ], lo)
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent[:] = jumped


def query_pairs(index_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Pairs ``(row, index_row)`` where a new row shares a band with an indexed row.

    For each band the index keys are sorted once and the new keys looked up with
    ``searchsorted``; a hit pairs the new row with the lowest index row of that key.
    """
    if index_keys.shape[1] != keys.shape[1]:
        raise ValueError(f"index has {index_keys.shape[1]} bands, keys have {keys.shape[1]}")
    parts = []
    for j in range(keys.shape[1]):
        order = np.argsort(index_keys[:, j], kind="stable")
        sk = index_keys[order, j]
        pos = np.searchsorted(sk, keys[:, j], side="left")
        hit = pos < len(sk)
        hit[hit] = sk[pos[hit]] == keys[hit, j]
        rows = np.flatnonzero(hit)
        parts.append(np.stack([rows, order[pos[hit]]], axis=1))
    pairs = np.concatenate(parts).astype(np.int64) if parts else np.empty((0, 2), np.int64)
    width = np.int64(len(index_keys) + 1)
    code = np.unique(pairs[:, 0] * width + pairs[:, 1])  # sorted by (row, index row)
    return np.stack([code // width, code % width], axis=1)


def match_rows(
    index_signatures: np.ndarray,
    signatures: np.ndarray,
    *,
    bands: int,
    rows: int,
    threshold: float,
    verify: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """For each new row, the lowest indexed row it near-duplicates (``-1``: none).

    Returns ``(match, jaccard)``: the matched index row and the estimated Jaccard of
    the pair (``nan`` where there is no match). Only direct band matches count: no
    transitive closure through other new rows.
    """
    idx_sig, sig = _check_signatures(index_signatures), _check_signatures(signatures)
    if idx_sig.shape[1] != sig.shape[1]:
        raise ValueError(f"index has {idx_sig.shape[1]} permutations, signatures {sig.shape[1]}")
    pairs = query_pairs(
        band_keys(idx_sig, bands=bands, rows=rows), band_keys(sig, bands=bands, rows=rows)
    )
    jac = np.empty(len(pairs))
    step = max(1, (1 << 22) // max(sig.shape[1], 1))
    for lo in range(0, len(pairs), step):
        p = pairs[lo : lo + step]
        jac[lo : lo + len(p)] = (sig[p[:, 0]] == idx_sig[p[:, 1]]).mean(axis=1)
    if verify:
        pairs, jac = pairs[jac >= threshold], jac[jac >= threshold]
    match = np.full(len(sig), -1, dtype=np.int64)
    est = np.full(len(sig), np.nan)
    # pairs are sorted by (row, index row): the first pair of each row has the lowest
    first = np.concatenate(([len(pairs) > 0], pairs[1:, 0] != pairs[:-1, 0]))[: len(pairs)]
    match[pairs[first, 0]] = pairs[first, 1]
    est[pairs[first, 0]] = jac[first]
    return match, est


#: Optimiser weights (false positive, false negative). Without verification datasketch's
#: even split; with verification an LSH false positive only costs one Jaccard check,
#: so the bands are chosen to miss fewer true pairs (b=16, r=8 at 0.8 / 128 perms:
#: P(candidate) = 0.95 at s = 0.8, 0.24 at s = 0.6, ~0 for unrelated documents).
WEIGHTS_PLAIN = (0.5, 0.5)
WEIGHTS_VERIFIED = (0.05, 0.95)


def resolve_bands(
    threshold: float,
    num_perm: int,
    bands: int | None,
    rows: int | None,
    *,
    verify: bool = False,
) -> tuple[int, int]:
    """``(bands, rows)``: given explicitly (both), or chosen by :func:`optimal_bands`.

    >>> resolve_bands(0.8, 128, None, None), resolve_bands(0.8, 128, None, None, verify=True)
    ((9, 13), (16, 8))
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
    if (bands is None) != (rows is None):
        raise ValueError("give both bands and rows, or neither")
    if bands is None or rows is None:
        fp, fn = WEIGHTS_VERIFIED if verify else WEIGHTS_PLAIN
        return optimal_bands(threshold, num_perm, fp_weight=fp, fn_weight=fn)
    if bands < 1 or rows < 1 or bands * rows > num_perm:
        raise ValueError(f"need bands, rows >= 1 and bands * rows <= num_perm={num_perm}")
    return bands, rows
