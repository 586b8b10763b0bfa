"""Near-dedup with MinHash LSH: signatures map, one global clustering pass, drop map.

::

    rows --MinHashSignatures (map, num_proc)--> sig (n, num_perm) uint32
         --near_duplicate_roots (global: bands, sort, verify, union-find)--> root per row
         --drop map--> drop_reason="dedup.near", dup_of=<kept row id>, dup_cluster=<root>

Memory: the signature matrix (``4 * num_perm`` bytes per row, 512 B at 128) plus O(n)
working arrays: band keys (``8 * bands`` bytes per row), candidate pairs (at most
``bands`` per row) and the union-find parents. The result depends only on the rows
and the parameters: not on batch size, ``num_proc`` or run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sftdata._batch import drop_reasons
from sftdata._contract import DROP_REASON, Batch
from sftdata.dedup._apply import (
    DUP_CLUSTER,
    DUP_OF,
    as_input,
    check_lengths,
    finish,
    row_ids,
)
from sftdata.dedup._index import MinHashIndex
from sftdata.dedup._lsh import (
    band_key,
    connected_components,
    resolve_bands,
    star_edges,
    unique_pairs,
    verify_pairs,
)
from sftdata.dedup._minhash import sign_input
from sftdata.dedup._text import Fields

REASON_NEAR = "dedup.near"


def near_duplicate_roots(
    signatures: np.ndarray,
    *,
    threshold: float = 0.8,
    bands: int | None = None,
    rows: int | None = None,
    verify: bool = True,
    active: np.ndarray | None = None,
) -> np.ndarray:
    """The global pass: the surviving row (lowest index of its cluster) for every row.

    Rows with ``active[i] == False`` are left out (their root is themselves).

    >>> from sftdata.dedup import minhash_signatures
    >>> texts = ["one two three four five six seven eight"] * 2 + ["nine ten eleven twelve"]
    >>> near_duplicate_roots(minhash_signatures(texts)).tolist()
    [0, 0, 2]
    """
    sig = np.asarray(signatures)
    b, r = resolve_bands(threshold, sig.shape[1], bands, rows, verify=verify)
    idx = None if active is None or bool(np.all(active)) else np.flatnonzero(active)
    parts = []
    for j in range(b):  # one band at a time: O(n) memory next to the signatures
        key = band_key(sig, j, r)
        parts.append(star_edges(key) if idx is None else idx[star_edges(key[idx])])
    pairs = unique_pairs(np.concatenate(parts)) if parts else np.empty((0, 2), np.int64)
    if verify:
        pairs = verify_pairs(sig, pairs, threshold=threshold)
    return connected_components(len(sig), pairs)


def minhash_dedup(
    data: Any,
    *,
    threshold: float = 0.8,
    num_perm: int = 128,
    ngram: int = 5,
    seed: int = 1,
    bands: int | None = None,
    rows: int | None = None,
    verify: bool = True,
    column: str | None = None,
    fields: Fields = "all",
    against: MinHashIndex | None = None,
    num_proc: int | None = None,
    batch_size: int = 1000,
) -> tuple[Any, Any]:
    """Drop near-duplicate rows (estimated Jaccard of word shingles >= ``threshold``).

    Clusters are connected components of LSH candidate pairs (verified by estimated
    Jaccard unless ``verify=False``); the lowest row index of each cluster survives.
    ``bands``/``rows`` default to datasketch's optimiser for ``threshold``, weighted
    towards recall when verifying (see :func:`resolve_bands`). Rejected rows get ``drop_reason="dedup.near"``,
    ``dup_of`` (the kept row's ``id``, or its index without an ``id`` column) and
    ``dup_cluster`` (the kept row's index; also set on the kept row of a cluster).
    With ``against=index`` rows that near-duplicate an indexed (older) row are dropped
    first, ``dup_of`` naming the indexed row's id. Rows already carrying a
    ``drop_reason`` go to ``rejected`` untouched.

    >>> texts = ["the quick brown fox jumps over the lazy dog again and again",
    ...          "The quick brown fox jumps over the lazy dog again and again!",
    ...          "a completely different sentence about rain in spring"]
    >>> kept, rejected = minhash_dedup(texts)
    >>> len(kept), [(r["drop_reason"], r["dup_of"]) for r in rejected]
    (2, [('dedup.near', 0)])
    """
    b, r = resolve_bands(threshold, num_perm, bands, rows, verify=verify)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if against is not None:
        against.check_compatible(num_perm=num_perm, seed=seed, ngram=ngram)
    data, sig, reasons = sign_input(
        data,
        column=column,
        fields=fields,
        num_perm=num_perm,
        seed=seed,
        ngram=ngram,
        num_proc=num_proc,
        batch_size=batch_size,
    )
    active = np.array([x is None for x in reasons], dtype=bool)
    dup_of: list[Any] = [None] * len(reasons)
    if against is not None:
        match, _ = against.match(sig, threshold=threshold, bands=b, rows=r, verify=verify)
        for i in np.flatnonzero((match >= 0) & active):
            reasons[i], dup_of[i] = REASON_NEAR, against.ids[int(match[i])]
        active &= match < 0
    roots = near_duplicate_roots(
        sig, threshold=threshold, bands=b, rows=r, verify=verify, active=active
    )
    return apply_near_roots(data, roots, reasons, dup_of=dup_of)


def apply_near_roots(
    data: Any,
    roots: Sequence[int] | np.ndarray,
    reasons: Sequence[str | None],
    *,
    dup_of: Sequence[Any] | None = None,
) -> tuple[Any, Any]:
    """Write a near-dedup pass's result onto ``data`` and split it: ``(kept, rejected)``.

    ``roots[i]`` is row ``i``'s surviving row (:func:`near_duplicate_roots`, or an
    engine's own clustering); ``reasons`` the rows' earlier ``drop_reason`` and
    ``dup_of`` their earlier duplicate ids (both kept where set). Writes the
    ``drop_reason`` / ``dup_of`` / ``dup_cluster`` columns of :func:`minhash_dedup`.

    >>> kept, rejected = apply_near_roots(["a", "a!", "b"], [0, 0, 2], [None] * 3)
    >>> [r["text"] for r in kept], [(r["drop_reason"], r["dup_of"]) for r in rejected]
    (['a', 'b'], [('dedup.near', 0)])
    """
    data = as_input(data)
    check_lengths(data, roots=roots, reasons=reasons, dup_of=dup_of)
    root_arr = np.asarray(roots, dtype=np.int64)
    dups = list(dup_of) if dup_of is not None else [None] * len(root_arr)
    return finish(data, _drop_columns(data, root_arr, list(reasons), dups))


def _drop_columns(
    data: Any, roots: np.ndarray, reasons: list[str | None], dup_of: list[Any]
) -> dict[str, list[Any]]:
    """The drop map: reason, kept row's id and cluster for every row."""
    sizes = np.bincount(roots, minlength=len(roots))
    dup = np.flatnonzero(roots != np.arange(len(roots)))
    ids = row_ids(data, roots[dup])
    for i, kept_id in zip(dup.tolist(), ids, strict=True):
        reasons[i], dup_of[i] = REASON_NEAR, kept_id
    cluster = [int(c) if sizes[c] > 1 else None for c in roots.tolist()]
    return {DROP_REASON: reasons, DUP_OF: dup_of, DUP_CLUSTER: cluster}


@dataclass(frozen=True, eq=False)
class MarkDuplicates:
    """Batched drop map for engines that shard rows (Ray): apply the global pass's roots.

    ``roots[i]`` is the surviving row of global row ``i`` (:func:`near_duplicate_roots`);
    each batch carries its rows' global indices in ``index_column``. Writes the same
    ``drop_reason`` / ``dup_of`` / ``dup_cluster`` columns as :func:`minhash_dedup`;
    rows already rejected keep their reason. Build it with :meth:`from_roots`.

    >>> step = MarkDuplicates.from_roots(np.array([0, 0, 2]))
    >>> out = step({"text": ["a", "a", "b"], "row_index": [0, 1, 2]})
    >>> out["drop_reason"], out["dup_of"], out["dup_cluster"]
    ([None, 'dedup.near', None], [None, 0, None], [0, 0, None])
    """

    roots: np.ndarray
    clustered: np.ndarray
    ids: Sequence[Any] | None = None
    index_column: str = "row_index"
    reason: str = REASON_NEAR

    @classmethod
    def from_roots(
        cls, roots: np.ndarray, *, ids: Sequence[Any] | None = None, index_column: str = "row_index"
    ) -> MarkDuplicates:
        """Precompute which rows sit in a cluster of two or more (one O(n) pass)."""
        roots = np.asarray(roots, dtype=np.int64)
        if ids is not None and len(ids) != len(roots):
            raise ValueError(f"{len(ids)} ids for {len(roots)} roots")
        clustered = np.bincount(roots, minlength=len(roots))[roots] > 1
        return cls(roots, clustered, ids, index_column)

    def __call__(self, batch: Mapping[str, list[Any]]) -> Batch:
        if self.index_column not in batch:
            raise ValueError(f"batch has no {self.index_column!r} column of global row indices")
        idx = np.asarray(batch[self.index_column], dtype=np.int64)
        root = self.roots[idx]
        reasons = drop_reasons(batch)
        dup_of: list[Any] = [None] * len(idx)
        for j in np.flatnonzero(root != idx).tolist():
            if reasons[j] is None:
                k = int(root[j])
                reasons[j], dup_of[j] = self.reason, (self.ids[k] if self.ids is not None else k)
        out: Batch = dict(batch)
        out[DROP_REASON] = reasons
        out[DUP_OF] = dup_of
        out[DUP_CLUSTER] = [
            int(r) if c else None for r, c in zip(root, self.clustered[idx], strict=True)
        ]
        return out
