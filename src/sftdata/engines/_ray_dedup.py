"""Exact and MinHash near-dedup as distributed Ray Data passes, same keep rule as local.

Near-dedup, every arrow a distributed Ray operation::

    rows --map_batches(MinHashSignatures)--> (row, sig)
         --map_batches(explode bands)-----> (band, key, row, sig)   one row per band
         --groupby(band, key).map_groups--> verified star edges (first row, other row)
         --large-star / small-star rounds-> (row, root): components, each a star on its
                                             lowest row, found by groupby rounds over
                                             edges only (no node holds all pairs)

Edges are the star edges of the local engine (``sd.dedup.candidate_pairs``), verified
with the same estimate, so the components, the surviving row (the lowest index) and
the rows written out are identical. Only the per-row roots come back to the driver.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sftdata._contract import DROP_REASON, SftDataError
from sftdata.engines._local import local_global
from sftdata.engines._ray import ArrowBatchStep, init_ray, to_ray

ROW = "__row"


def _col(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False))


def _sig_matrix(table: pa.Table, name: str) -> np.ndarray:
    col = table.column(name).combine_chunks()
    width = len(col[0]) if len(col) else 0
    flat = col.flatten().to_numpy(zero_copy_only=False)
    return np.asarray(flat, dtype=np.uint32).reshape(len(col), width)


@dataclass(frozen=True)
class _ExplodeBands:
    """(row, sig) -> one row per band: (band, key, row, sig), active rows only."""

    sig_column: str
    bands: int
    rows: int

    def __call__(self, table: pa.Table) -> pa.Table:
        from sftdata.dedup import band_keys

        active = table.filter(pc.is_null(table.column(DROP_REASON)))
        n = active.num_rows
        sig = _sig_matrix(active, self.sig_column) if n else np.zeros((0, 1), np.uint32)
        keys = band_keys(sig, bands=self.bands, rows=self.rows) if n else np.zeros((0, 0))
        rows = _col(active, ROW) if n else np.zeros(0, np.int64)
        sig_col = active.column(self.sig_column).combine_chunks() if n else pa.array([])
        take = np.tile(np.arange(n), self.bands)
        return pa.table(
            {
                "band": np.repeat(np.arange(self.bands, dtype=np.int32), n),
                "key": keys.T.reshape(-1).astype(np.uint64),
                "row": rows[take].astype(np.int64),
                "sig": sig_col.take(pa.array(take, pa.int64()))
                if n
                else pa.array([], pa.list_(pa.uint32())),
            }
        )


@dataclass(frozen=True)
class _StarEdges:
    """One band bucket -> edges (lowest row, other row), kept when verified."""

    __name__ = "star_edges"  # Ray's map_groups names the operator after its function

    threshold: float
    verify: bool

    def __call__(self, group: pa.Table) -> pa.Table:
        rows = _col(group, "row").astype(np.int64)
        if len(rows) < 2:
            return pa.table({"u": pa.array([], pa.int64()), "v": pa.array([], pa.int64())})
        order = np.argsort(rows, kind="stable")
        rows = rows[order]
        keep = np.ones(len(rows) - 1, dtype=bool)
        if self.verify:
            sig = _sig_matrix(group, "sig")[order]
            keep = (sig[1:] == sig[0]).mean(axis=1) >= self.threshold
        first = np.full(int(keep.sum()), rows[0], dtype=np.int64)
        return pa.table({"u": first, "v": rows[1:][keep]})


def _both_ways(table: pa.Table) -> pa.Table:
    u, v = table.column("u"), table.column("v")
    return pa.table(
        {
            "u": pa.concat_arrays([u.combine_chunks(), v.combine_chunks()]),
            "v": pa.concat_arrays([v.combine_chunks(), u.combine_chunks()]),
        }
    )


def _large_star(group: pa.Table) -> pa.Table:
    """Node u: link every larger neighbour to the smallest of u and its neighbours."""
    u = int(_col(group, "u")[0])
    nbrs = np.unique(_col(group, "v"))
    m = min(u, int(nbrs.min()))
    big = nbrs[nbrs > u]
    return pa.table({"u": big.astype(np.int64), "v": np.full(len(big), m, np.int64)})


def _small_star(group: pa.Table) -> pa.Table:
    """Node u: link u and its smaller neighbours to the smallest of them."""
    u = int(_col(group, "u")[0])
    nbrs = np.unique(_col(group, "v"))
    small = np.append(nbrs[nbrs <= u], u)
    m = int(small.min())
    small = np.unique(small[small != m])
    return pa.table({"u": small.astype(np.int64), "v": np.full(len(small), m, np.int64)})


def _block_sums(t: pa.Table) -> pa.Table:
    if t.num_rows == 0:
        return pa.table({})
    u, v = _col(t, "u").astype(np.int64), _col(t, "v").astype(np.int64)
    h = (u * 1_000_003 + v) % 2_147_483_647
    return pa.table({"n": [len(u)], "h": [int(h.sum())], "u": [int(u.sum())], "v": [int(v.sum())]})


def _checksum(ds: Any) -> tuple[int, ...]:
    """A cheap fingerprint of an edge set: per-block sums on the workers, added up here."""
    parts = [
        p
        for p in _collect(ds.map_batches(_block_sums, batch_format="pyarrow", batch_size=None))
        if p.num_rows
    ]
    return tuple(int(sum(sum(p.column(c).to_pylist()) for p in parts)) for c in "nhuv")


def components(edges: Any, n: int) -> np.ndarray:
    """Root (lowest row) of every row, by large-star / small-star rounds on Ray."""
    current = edges.map_batches(_both_ways, batch_format="pyarrow").materialize()
    last: tuple[int, ...] = ()
    while True:
        large = current.groupby("u", num_partitions=_parts()).map_groups(
            _large_star, batch_format="pyarrow"
        )
        small = (
            large.map_batches(_both_ways, batch_format="pyarrow")
            .groupby("u", num_partitions=_parts())
            .map_groups(_small_star, batch_format="pyarrow")
            .materialize()
        )
        check = _checksum(small)
        if check == last or check[0] == 0:
            break
        last = check
        current = small.map_batches(_both_ways, batch_format="pyarrow").materialize()
    roots = np.arange(n, dtype=np.int64)
    for t in _collect(small):
        if t.num_rows:
            np.minimum.at(roots, _col(t, "u"), _col(t, "v"))
    return roots


@contextlib.contextmanager
def _sort_shuffle() -> Iterator[None]:
    """Use Ray's sort-based shuffle: tasks only, much faster than actor hash shuffles here."""
    from ray.data import DataContext
    from ray.data.context import ShuffleStrategy

    ctx = DataContext.get_current()
    before = ctx.shuffle_strategy
    ctx.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
    try:
        yield
    finally:
        ctx.shuffle_strategy = before


def _parts() -> int:
    """Shuffle partitions: one per CPU of the cluster (Ray's default of 200 is slow on small data)."""
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def _collect(ds: Any) -> list[pa.Table]:
    import ray

    return list(ray.get(ds.to_arrow_refs()))


def _with_rows(table: pa.Table, column: str) -> pa.Table:
    return pa.table({column: table.column(column), ROW: pa.array(np.arange(table.num_rows))})


def ray_minhash_dedup(fn: Callable[..., Any], table: pa.Table) -> tuple[pa.Table, pa.Table]:
    """``dedup.minhash`` on Ray: same options, same kept/rejected rows as the local pass."""
    import datasets

    from sftdata.dedup import MinHashSignatures, apply_near_roots, resolve_bands, resolve_column

    opts = dict(getattr(fn, "keywords", {}))
    if opts.get("against") is not None:
        raise SftDataError("dedup.minhash with 'against' is not supported on the Ray engine")
    data = datasets.Dataset(table)
    step = MinHashSignatures(
        column=resolve_column(data, opts.get("column")),
        fields=opts.get("fields", "all"),
        num_perm=opts.get("num_perm", 128),
        seed=opts.get("seed", 1),
        ngram=opts.get("ngram", 5),
    )
    threshold, verify = opts.get("threshold", 0.8), opts.get("verify", True)
    b, r = resolve_bands(
        threshold, step.num_perm, opts.get("bands"), opts.get("rows"), verify=verify
    )
    signed = (
        to_ray(_with_rows(table, step.column))
        .map_batches(ArrowBatchStep(step), batch_format="pyarrow")
        .materialize()
    )
    reasons_t = pa.concat_tables(_collect(signed.select_columns([ROW, DROP_REASON])))
    reasons: list[str | None] = [None] * table.num_rows
    for i, reason in zip(
        _col(reasons_t, ROW).tolist(), reasons_t.column(DROP_REASON).to_pylist(), strict=True
    ):
        reasons[int(i)] = reason
    exploded = signed.map_batches(_ExplodeBands(step.output, b, r), batch_format="pyarrow")
    edges = exploded.groupby(["band", "key"], num_partitions=_parts()).map_groups(
        _StarEdges(threshold, verify), batch_format="pyarrow"
    )
    roots = components(edges, table.num_rows)
    kept, rejected = apply_near_roots(data, roots, reasons)
    return kept.flatten_indices().data.table, rejected.flatten_indices().data.table


def ray_exact_dedup(fn: Callable[..., Any], table: pa.Table) -> tuple[pa.Table, pa.Table]:
    """``dedup.exact`` on Ray: keys as a map, groups by key via a shuffle, lowest row kept."""
    import datasets

    from sftdata.dedup import EXACT_KEY, ExactKeys, apply_exact_roots, resolve_column

    opts = {
        k: v for k, v in getattr(fn, "keywords", {}).items() if k not in ("num_proc", "batch_size")
    }
    data = datasets.Dataset(table)
    step = ExactKeys(column=resolve_column(data, opts.pop("column", None)), **opts)
    keyed = to_ray(_with_rows(table, step.column)).map_batches(
        ArrowBatchStep(step), batch_format="pyarrow"
    )
    groups = (
        keyed.select_columns([ROW, EXACT_KEY, DROP_REASON])
        .groupby(EXACT_KEY, num_partitions=_parts())
        .map_groups(_exact_roots, batch_format="pyarrow")
    )
    roots = np.arange(table.num_rows, dtype=np.int64)
    reasons: list[str | None] = [None] * table.num_rows
    for t in _collect(groups):
        rows = _col(t, ROW)
        roots[rows] = _col(t, "root")
        for i, reason in zip(rows.tolist(), t.column(DROP_REASON).to_pylist(), strict=True):
            reasons[int(i)] = reason
    kept, rejected = apply_exact_roots(data, roots, reasons)
    return kept.flatten_indices().data.table, rejected.flatten_indices().data.table


def _exact_roots(group: pa.Table) -> pa.Table:
    """One key group -> (row, root, reason): the lowest valid row is every valid row's root."""
    rows = _col(group, ROW).astype(np.int64)
    reasons = group.column(DROP_REASON).to_pylist()
    valid = np.array([r is None for r in reasons], dtype=bool)
    root = np.where(valid, rows[valid].min() if valid.any() else 0, rows)
    return pa.table(
        {ROW: rows, "root": root.astype(np.int64), DROP_REASON: pa.array(reasons, pa.string())}
    )


def _shuffled(impl: Callable[..., Any]) -> Callable[..., Any]:
    def run(fn: Callable[..., Any], table: pa.Table) -> Any:
        with _sort_shuffle():
            return impl(fn, table)

    return run


RAY_GLOBALS: dict[str, Callable[..., Any]] = {
    "dedup.minhash": _shuffled(ray_minhash_dedup),
    "dedup.exact": _shuffled(ray_exact_dedup),
}


def ray_global(name: str, fn: Callable[..., Any], table: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Run a global pass for the Ray engine: distributed when Ray has one, else on the driver."""
    impl = RAY_GLOBALS.get(name)
    if impl is not None:
        init_ray()
        return impl(fn, table)  # type: ignore[no-any-return]
    return local_global(fn, table)
