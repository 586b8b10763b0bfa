"""``dedup.exact`` and ``dedup.minhash`` as streamed, resumable global passes.

The rows a pass sees are the previous stage's kept rows, read in windows of
``shard_rows`` rows. Nothing per row stays in memory but small keys; what grows with
the corpus goes to files in the stage's ``.pass1/`` folder::

    pass 1  (per window w, skipped on a rerun when its files are whole)
        exact:    window -> ExactKeys -> w-0000w.npz {keys (n_w x 16 bytes), bad rows}
        minhash:  window -> MinHashSignatures -> signatures.u32 rows [lo, hi)  (pwrite)
                                              -> w-0000w.bands (bands x n_w uint64, band-major)
                                              -> w-0000w.npz {bad rows, crc32 of the rows}
    pass 2  roots: the surviving (lowest) row of every row's group
        exact:    all keys -> np.unique, or, past 32 MB of sort (or half the memory
                  budget), keys distributed by their leading bits into bucket files,
                  each bucket unique'd alone
        minhash:  band by band: the band's keys (read from every window's .bands file,
                  or distributed into bucket files past the same limit) -> star edges ->
                  edges whose ends are not yet joined -> Jaccard check (signature rows
                  read with pread, never mapped) -> union into the parent array
    pass 3  (per window w, skipped when its part is whole)
        window -> drop_reason, dup_of (, dup_cluster) -> part-0000w.parquet (kept rows)
                                                       + rejects-0000w.parquet

Memory is O(rows) small integers (roots, parent: 8 bytes a row; exact keys 16 bytes a
row unless spilled) plus one window and one bucket, never the signatures
(``num_perm * 4`` bytes a row stay on disk). ``memory_budget`` (``options``) and
:data:`SORT_CHUNK` decide when the sorts go through buckets; the result does not
depend on them.

Rows, reasons and the written columns equal :func:`sftdata.dedup.exact_dedup` /
:func:`sftdata.dedup.minhash_dedup` on the whole table (the lowest row of each group
survives; ``dup_of`` is its ``id``, else its index), and so do the column types: each
is fixed after pass 2 from the whole column. Joining band by band and skipping edges
whose ends are already joined gives the same components as verifying every candidate
pair first: an edge between rows of one component changes no component.
``minhash`` with ``against=`` is not streamed (the runner falls back to the whole-table
pass).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sftdata._contract import DROP_REASON
from sftdata.dedup._apply import DUP_CLUSTER, DUP_OF
from sftdata.dedup._exact import REASON_EXACT, ExactKeys, exact_dedup
from sftdata.dedup._lsh import band_key, resolve_bands, star_edges, union_into
from sftdata.dedup._minhash import MinHashSignatures, batch_texts, minhash_signatures
from sftdata.dedup._near import REASON_NEAR, minhash_dedup
from sftdata.dedup._text import pick_column
from sftdata.runner import _parts as parts
from sftdata.runner._io import REJECTED_BY, atomic_write_bytes, write_table_atomic

ID = "id"
_HELPERS = (DROP_REASON, REJECTED_BY)
#: Bytes a sort needs per element, over the element itself (argsort, sorted copy,
#: run flags, inverse): what the budget is compared against.
_SORT_OVERHEAD = 6
_MAX_BUCKETS = 256  # one open file each
#: The largest sort done in memory (32 MB), whatever the budget: past it the keys go
#: through bucket files, which costs little (24 bytes a row written and read once) and
#: keeps peak memory from growing with the corpus.
SORT_CHUNK = 32 << 20
_SMALL = pa.system_memory_pool()


def streamable(fn: Callable[..., Any]) -> bool:
    """Whether a built global step is one this module streams (exact, or minhash alone)."""
    func = getattr(fn, "func", None)
    if func is exact_dedup:
        return True
    return func is minhash_dedup and getattr(fn, "keywords", {}).get("against") is None


class _Pass:
    """What one streamed pass knows: its options, rows, windows and work files."""

    def __init__(self, fn: Any, prev: Path, folder: Path, rows: int, budget: int, bar: Any) -> None:
        self.opts = dict(fn.keywords)
        self.near = fn.func is minhash_dedup
        self.prev, self.folder, self.rows, self.budget, self.bar = prev, folder, rows, budget, bar
        self.schema = parts.stage_schema(prev)
        self.data_schema = pa.schema([f for f in self.schema if f.name not in _HELPERS])
        self.column = pick_column(self.data_schema.names, self.opts.get("column"))
        self.n = parts.kept_count(prev)
        self.n_windows = max(1, -(-self.n // rows))
        self.work = folder / ".pass1"
        self.reused = 0  # windows of pass 1 found finished
        self.reused_parts = 0  # windows of pass 3 found finished

    def windows(self) -> Iterator[pa.Table]:
        kept = (
            t.drop_columns([c for c in _HELPERS if c in t.column_names])
            for t in parts.iter_kept(self.prev, self.schema)
        )
        return parts.windows(kept, self.rows, self.data_schema)

    def prepare(self) -> None:
        """Reuse the work files of an interrupted run of this same pass, else start clean."""
        meta = {
            "rows": self.rows,
            "n": self.n,
            "near": self.near,
            "opts": repr(sorted(self.opts.items())),
        }
        marker = self.work / "meta.json"
        try:
            if json.loads(marker.read_text()) == meta:
                return
        except (OSError, ValueError):
            pass
        shutil.rmtree(self.work, ignore_errors=True)
        for stale in [
            *self.folder.glob("part-*.parquet"),
            *self.folder.glob("rejects*.parquet"),  # a whole-table pass's too
            *self.folder.glob(".*.tmp-*"),
        ]:
            stale.unlink()
        self.work.mkdir(parents=True)
        atomic_write_bytes(marker, json.dumps(meta).encode(), durable=False)


def remove_work(folder: Path) -> None:
    """Delete a streamed pass's work files; call after its ``_DONE.json`` is written (a
    kill while deleting then leaves a finished stage, not a half-deleted ``.pass1``)."""
    shutil.rmtree(folder / ".pass1", ignore_errors=True)


def run_streamed(
    fn: Any, name: str, prev: Path, folder: Path, *, rows: int, bar: Any, budget: int = 2 << 30
) -> tuple[list[str], list[str], str]:
    """Run the pass over ``prev``'s kept rows into ``folder``.

    Returns ``(parts, rejects files, what an interrupted run left that was reused)``.
    """
    p = _Pass(fn, prev, folder, rows, budget, bar)
    p.prepare()
    if p.near:
        roots, bad = _near_pass(p)
    else:
        roots, bad = _exact_pass(p)
    names, rejects = _write(p, name, roots, bad)
    again = [
        f"{k} {what}"
        for k, what in ((p.reused, "windows of pass 1"), (p.reused_parts, "parts"))
        if k
    ]
    return names, rejects, ", ".join(again)


# ---------------------------------------------------------------- pass 1 helpers


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)


def _load_npz(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, zlib.error, EOFError):
        return None


def _bad_arrays(bad: dict[int, str]) -> dict[str, np.ndarray]:
    idx = np.fromiter(bad, np.int64, len(bad))
    return {"bad_idx": idx, "bad_reason": np.array([bad[i] for i in idx.tolist()], dtype=str)}


class _Bad:
    """Rows a pass cannot key (no text, wrong type): their indices, ascending, and
    reasons, as arrays (no Python object per row)."""

    def __init__(self) -> None:
        self.idx_parts: list[np.ndarray] = []
        self.reason_parts: list[np.ndarray] = []

    def add(self, z: dict[str, np.ndarray], lo: int) -> None:
        self.idx_parts.append(lo + z["bad_idx"].astype(np.int64))
        self.reason_parts.append(z["bad_reason"].astype(object))

    def finish(self) -> _Bad:
        self.idx = np.concatenate([np.zeros(0, np.int64), *self.idx_parts])
        self.reasons = np.concatenate([np.zeros(0, object), *self.reason_parts])
        self.idx_parts, self.reason_parts = [], []
        return self

    def __len__(self) -> int:
        return len(self.idx)

    def window(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """The bad rows in ``[lo, hi)``: ``(indices - lo, reasons)``."""
        a, b = np.searchsorted(self.idx, [lo, hi])
        return self.idx[a:b] - lo, self.reasons[a:b]


def _counted(p: _Pass) -> Iterator[tuple[int, int, pa.Table]]:
    """``(window index, first row, window)``, each counted on the bar once used."""
    lo = 0
    for w, window in enumerate(p.windows()):
        yield w, lo, window
        lo += window.num_rows
        p.bar.update(window.num_rows, window.nbytes)


# ---------------------------------------------------------------- exact


def _exact_pass(p: _Pass) -> tuple[np.ndarray, _Bad]:
    opts = p.opts
    step = ExactKeys(
        column=p.column,
        **{k: opts[k] for k in ("fields", "lowercase", "whitespace", "punctuation", "unicode_form") if k in opts},
    )  # fmt: skip
    bad = _Bad()
    files = []
    for w, lo, window in _counted(p):
        path = p.work / f"w-{w:05d}.npz"
        files.append((path, lo))
        z = _load_npz(path) if path.exists() else None
        if z is not None and len(z["keys"]) == window.num_rows:
            p.reused += 1
        else:
            out = step({p.column: window.column(p.column).to_pylist()})
            mine: dict[int, str] = {}
            for j, (k, r) in enumerate(zip(out["exact_key"], out[DROP_REASON], strict=True)):
                if k is None or r is not None:
                    mine[j] = r or "dedup.bad_row"
            keys = np.frombuffer(
                b"".join(k or bytes(16) for k in out["exact_key"]), np.uint8
            ).reshape(-1, 16)
            z = {"keys": keys, **_bad_arrays(mine)}
            _save_npz(path, **z)
        bad.add(z, lo)
    bad.finish()
    roots = np.arange(p.n, dtype=np.int64)
    good = np.ones(p.n, dtype=bool)
    good[bad.idx] = False
    buckets = _buckets_for(p.n * 16, p.budget)
    if buckets == 1:
        keys = np.concatenate([_load_npz(f)["keys"] for f, _ in files])  # type: ignore[index]
        idx = np.flatnonzero(good)
        _first_of_keys(keys[idx], idx, roots)
        return roots, bad
    spill = _Spill(p.work / "exact-buckets", buckets, np.dtype((np.uint8, 16)))
    for f, lo in files:
        keys = _load_npz(f)["keys"]  # type: ignore[index]
        rows = lo + np.flatnonzero(good[lo : lo + len(keys)])
        k = keys[rows - lo]
        lead = (k[:, 0].astype(np.int64) << 8) | k[:, 1]
        spill.add(lead, k, rows)
    for k, rows in spill.buckets():
        _first_of_keys(k, rows, roots)
    spill.remove()
    return roots, bad


def _first_of_keys(keys: np.ndarray, rows: np.ndarray, roots: np.ndarray) -> None:
    """``roots[rows[i]]`` = the lowest of ``rows`` sharing ``keys[i]`` (``rows`` ascending)."""
    if len(rows) == 0:
        return
    view = np.ascontiguousarray(keys).view(np.dtype((np.void, 16))).ravel()
    _, first, inverse = np.unique(view, return_index=True, return_inverse=True)
    roots[rows] = rows[first[inverse.ravel()]]


def _buckets_for(nbytes: int, budget: int) -> int:
    """How many buckets a sort of ``nbytes`` of keys needs so that one bucket's sort fits
    half the budget and at most :data:`SORT_CHUNK` (at most 256 buckets, and at most half
    the open files this process may hold)."""
    need = nbytes * _SORT_OVERHEAD
    limit = min(budget // 2, SORT_CHUNK)
    if need <= limit:
        return 1
    try:
        import resource

        files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        cap = _MAX_BUCKETS if files == resource.RLIM_INFINITY else min(_MAX_BUCKETS, files // 2)
    except ImportError:  # no rlimits on this platform
        cap = _MAX_BUCKETS
    return max(2, min(cap, -(-need // max(1, limit))))


class _Spill:
    """Distribute ``(key, row)`` records into bucket files by a 16-bit lead of the key
    (a distribution sort: equal keys land in one bucket, rows stay ascending in each).
    One file per bucket, records of a structured dtype."""

    def __init__(self, folder: Path, n: int, key: np.dtype[Any]) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.folder, self.n = folder, n
        self.dtype = np.dtype([("key", key), ("row", np.int64)])
        self.stack = contextlib.ExitStack()  # the files live across add() calls
        self.files = [
            self.stack.enter_context(open(folder / f"{b:04d}.rec", "wb"))  # noqa: SIM115
            for b in range(n)
        ]

    def add(self, lead: np.ndarray, keys: np.ndarray, rows: np.ndarray) -> None:
        bucket = (lead.astype(np.int64) * self.n) >> 16
        order = np.argsort(bucket, kind="stable")
        bounds = np.searchsorted(bucket[order], np.arange(self.n + 1))
        for b in np.flatnonzero(np.diff(bounds)):
            sel = order[bounds[b] : bounds[b + 1]]
            rec = np.empty(len(sel), self.dtype)
            rec["key"], rec["row"] = keys[sel], rows[sel]
            self.files[b].write(rec.tobytes())

    def buckets(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(keys, rows)`` of each non-empty bucket, in bucket order."""
        self.stack.close()
        for b in range(self.n):
            rec = np.fromfile(self.folder / f"{b:04d}.rec", dtype=self.dtype)
            if len(rec):
                yield np.ascontiguousarray(rec["key"]), np.ascontiguousarray(rec["row"])

    def remove(self) -> None:
        self.stack.close()
        shutil.rmtree(self.folder, ignore_errors=True)


# ---------------------------------------------------------------- minhash


def _near_pass(p: _Pass) -> tuple[np.ndarray, _Bad]:
    opts = p.opts
    num_perm, seed, ngram = opts.get("num_perm", 128), opts.get("seed", 1), opts.get("ngram", 5)
    threshold, verify = opts.get("threshold", 0.8), opts.get("verify", True)
    b, r = resolve_bands(threshold, num_perm, opts.get("bands"), opts.get("rows"), verify=verify)
    step = MinHashSignatures(
        column=p.column, fields=opts.get("fields", "all"), num_perm=num_perm, seed=seed, ngram=ngram
    )
    row_bytes = num_perm * 4
    sig_path = p.work / "signatures.u32"
    if not sig_path.exists():
        with open(sig_path, "wb") as f:
            f.truncate(p.n * row_bytes)
    bad = _Bad()
    spans: list[tuple[Path, int, int]] = []
    fd = os.open(sig_path, os.O_RDWR)
    try:
        for w, lo, window in _counted(p):
            n_w = window.num_rows
            bands_path, meta_path = p.work / f"w-{w:05d}.bands", p.work / f"w-{w:05d}.npz"
            spans.append((bands_path, lo, n_w))
            z = _load_npz(meta_path) if meta_path.exists() else None
            if (
                z is not None
                and _size(bands_path) == b * n_w * 8
                and _crc(fd, lo * row_bytes, n_w * row_bytes) == int(z["crc"])
            ):
                p.reused += 1
            else:
                texts, reasons = batch_texts(
                    {p.column: window.column(p.column).to_pylist()},
                    column=p.column,
                    fields=step.fields,
                )
                sig = np.ascontiguousarray(
                    minhash_signatures(texts, num_perm=num_perm, seed=seed, ngram=ngram)
                )
                data = sig.tobytes()
                os.pwrite(fd, data, lo * row_bytes)
                keys = (
                    np.stack([band_key(sig, j, r) for j in range(b)]) if n_w else np.zeros((b, 0))
                )
                tmp = bands_path.with_name(f".{bands_path.name}.tmp-{os.getpid()}")
                keys.astype(np.uint64).tofile(tmp)
                os.replace(tmp, bands_path)
                mine = {j: x for j, x in enumerate(reasons) if x is not None}
                z = {"crc": np.array(zlib.crc32(data), np.uint64), **_bad_arrays(mine)}
                _save_npz(meta_path, **z)
            bad.add(z, lo)
        bad.finish()
        active = np.ones(p.n, dtype=bool)
        active[bad.idx] = False
        parent = np.arange(p.n, dtype=np.int64)
        buckets = _buckets_for(int(active.sum()) * 8, p.budget)
        for j in range(b):
            edges = _band_edges(p, spans, j, active, buckets)
            edges = edges[parent[edges[:, 0]] != parent[edges[:, 1]]]
            if verify and len(edges):
                edges = edges[_jaccard(fd, edges, num_perm) >= threshold]
            union_into(parent, edges)
    finally:
        os.close(fd)
    return parent, bad


def _crc(fd: int, offset: int, size: int) -> int:
    crc, done = 0, 0
    while done < size:
        chunk = os.pread(fd, min(size - done, 1 << 24), offset + done)
        if not chunk:
            return -1
        crc = zlib.crc32(chunk, crc)
        done += len(chunk)
    return crc


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def _band_keys(path: Path, band: int, n_w: int) -> np.ndarray:
    keys = np.fromfile(path, dtype=np.uint64, count=n_w, offset=band * n_w * 8)
    if len(keys) != n_w:  # checked when the window was reused: a file changed under us
        raise OSError(f"{path}: band {band} has {len(keys)} keys, expected {n_w}")
    return keys


def _band_edges(
    p: _Pass, spans: list[tuple[Path, int, int]], band: int, active: np.ndarray, buckets: int
) -> np.ndarray:
    """Star edges ``(lowest row, other row)`` of every run of equal keys of one band,
    among the active rows, as global row indices."""
    if buckets == 1:
        keys = np.concatenate([_band_keys(f, band, n_w) for f, _, n_w in spans])
        idx = np.flatnonzero(active)
        return idx[star_edges(keys[idx])]
    spill = _Spill(p.work / "band-buckets", buckets, np.dtype(np.uint64))
    for f, lo, n_w in spans:
        rows = lo + np.flatnonzero(active[lo : lo + n_w])
        keys = _band_keys(f, band, n_w)[rows - lo]
        spill.add((keys >> np.uint64(48)).astype(np.int64), keys, rows)
    out = [rows[star_edges(keys)] for keys, rows in spill.buckets()]
    spill.remove()
    return np.concatenate(out) if out else np.empty((0, 2), np.int64)


def _jaccard(fd: int, pairs: np.ndarray, num_perm: int, chunk: int = 8192) -> np.ndarray:
    """``mean(sig[u] == sig[v])`` for each pair, the rows read from the signature file."""
    row_bytes = num_perm * 4
    out = np.empty(len(pairs), dtype=np.float64)
    for lo in range(0, len(pairs), chunk):
        some = pairs[lo : lo + chunk]
        rows = np.unique(some.ravel())
        data = b"".join(os.pread(fd, row_bytes, int(i) * row_bytes) for i in rows.tolist())
        sig = np.frombuffer(data, dtype=np.uint32).reshape(len(rows), num_perm)
        pos = np.searchsorted(rows, some)
        out[lo : lo + len(some)] = (sig[pos[:, 0]] == sig[pos[:, 1]]).mean(axis=1)
    return out


# ---------------------------------------------------------------- pass 3


def _write(p: _Pass, name: str, roots: np.ndarray, bad: _Bad) -> tuple[list[str], list[str]]:
    """Mark every window's rows; write its kept part and its rejects file (if any)."""
    n = len(roots)
    is_dup = roots != np.arange(n)
    sizes = np.bincount(roots, minlength=n) if p.near else None
    need = np.unique(roots[is_dup])  # the rows some duplicate points at
    ids = _root_ids(p, need) if ID in p.data_schema.names else None
    reason_type = pa.string() if (len(bad) or is_dup.any()) else pa.null()
    if ids is not None:
        dup_type = p.data_schema.field(ID).type if is_dup.any() else pa.null()
    else:
        dup_type = pa.int64() if is_dup.any() else pa.null()
    added = [pa.field(DROP_REASON, reason_type), pa.field(DUP_OF, dup_type)]
    if sizes is not None:
        added.append(pa.field(DUP_CLUSTER, pa.int64() if (sizes > 1).any() else pa.null()))
    names = {f.name for f in added}
    out_schema = pa.schema([*(f for f in p.data_schema if f.name not in names), *added])
    reason_dup = REASON_NEAR if p.near else REASON_EXACT
    rej_schema = out_schema.append(pa.field(REJECTED_BY, pa.string()))
    dropped = is_dup.copy()
    dropped[bad.idx] = True
    part_names, rej_names = [], []
    lo = 0
    for w, window in enumerate(p.windows()):
        hi = lo + window.num_rows
        part, rej = f"part-{w:05d}.parquet", f"rejects-{w:05d}.parquet"
        part_names.append(part)
        has_rejects = bool(dropped[lo:hi].any())
        if has_rejects:
            rej_names.append(rej)
        if parts.complete(p.folder / part) and (not has_rejects or parts.complete(p.folder / rej)):
            p.reused_parts += 1
            lo = hi
            continue
        dup, root = is_dup[lo:hi], roots[lo:hi]
        reasons = np.full(hi - lo, None, dtype=object)
        reasons[dup] = reason_dup
        at, why = bad.window(lo, hi)
        reasons[at] = why
        table = window.drop_columns([c for c in names if c in window.column_names])
        table = table.append_column(out_schema.field(DROP_REASON), pa.array(reasons, reason_type))
        if pa.types.is_null(dup_type):
            dups: pa.Array = pa.nulls(hi - lo)
        elif ids is not None:
            pos = np.where(dup, np.searchsorted(need, root), 0)
            dups = ids.take(pa.array(pos, mask=~dup))
        else:
            dups = pa.array(root, mask=~dup, type=pa.int64())
        table = table.append_column(out_schema.field(DUP_OF), dups)
        if sizes is not None:
            field = out_schema.field(DUP_CLUSTER)
            alone = sizes[root] <= 1
            cluster = pa.nulls(hi - lo) if alone.all() else pa.array(root, mask=alone)
            table = table.append_column(field, cluster.cast(field.type))
        kept, rejected = parts.split(table)
        if rejected.num_rows:
            by = pa.array([name] * rejected.num_rows, pa.string())
            rejected = rejected.append_column(rej_schema.field(REJECTED_BY), by)
            write_table_atomic(rejected, p.folder / rej)
        write_table_atomic(kept, p.folder / part)
        lo = hi
    return part_names, rej_names


def _root_ids(p: _Pass, need: np.ndarray) -> pa.Array:
    """The ``id`` of each row in ``need`` (ascending), in that order."""
    pieces = []
    lo = 0
    for window in p.windows():
        hi = lo + window.num_rows
        a, b = np.searchsorted(need, [lo, hi])
        if b > a:
            col = window.column(ID).combine_chunks()
            # kept apart from the windows' pool: small arrays that outlive a window would
            # otherwise pin its pool's pages (measured: +65 MB at 1 GB of input)
            pieces.append(pc.take(col, pa.array(need[a:b] - lo), memory_pool=_SMALL))
        lo = hi
    if not pieces:
        return pa.array([], p.data_schema.field(ID).type)
    return pa.concat_arrays(pieces, memory_pool=_SMALL)
