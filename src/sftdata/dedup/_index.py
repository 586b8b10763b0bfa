"""A saved MinHash index: dedup a new dataset against an old one, or against eval sets.

On disk it is a folder of plain formats, no pickle::

    index/
      meta.json        {"format": 1, "num_perm": 128, "seed": 1, "ngram": 5, "fields": ..., "rows": n}
      signatures.npy   (n, num_perm) uint32, memory-mapped on load
      ids.arrow        Arrow IPC file with one column "id" (the row ids)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sftdata.dedup._apply import (
    ID,
    columns_of,
    read_column,
)
from sftdata.dedup._lsh import match_rows, resolve_bands
from sftdata.dedup._minhash import check_params, sign_input
from sftdata.dedup._text import Fields

_FORMAT = 1


@dataclass(frozen=True, eq=False)
class MinHashIndex:
    """Signatures and ids of already-accepted rows, with the parameters that made them.

    >>> idx = MinHashIndex.build(["the quick brown fox jumps over the lazy dog today"])
    >>> from sftdata.dedup import minhash_signatures
    >>> match, est = idx.match(minhash_signatures(["The quick brown fox jumps over the lazy dog today!"]))
    >>> match.tolist(), float(est[0])
    ([0], 1.0)
    """

    signatures: np.ndarray
    ids: list[Any]
    num_perm: int = 128
    seed: int = 1
    ngram: int = 5
    fields: str = "all"
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_params(num_perm=self.num_perm, ngram=self.ngram, seed=self.seed)
        sig = self.signatures
        if sig.ndim != 2 or sig.shape[1] != self.num_perm or sig.dtype != np.uint32:
            raise ValueError(
                f"signatures must be (n, {self.num_perm}) uint32, got {sig.dtype} {sig.shape}"
            )
        if len(self.ids) != len(sig):
            raise ValueError(f"{len(self.ids)} ids for {len(sig)} signatures")

    def __len__(self) -> int:
        return len(self.signatures)

    @classmethod
    def build(
        cls,
        data: Any,
        *,
        num_perm: int = 128,
        seed: int = 1,
        ngram: int = 5,
        column: str | None = None,
        fields: Fields = "all",
        num_proc: int | None = None,
        batch_size: int = 1000,
    ) -> MinHashIndex:
        """Index the kept rows (``drop_reason`` ``None``) of a Dataset, rows or texts."""
        check_params(num_perm=num_perm, ngram=ngram, seed=seed)
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
        keep = np.array([r is None for r in reasons], dtype=bool)
        all_ids = read_column(data, ID) if ID in columns_of(data) else list(range(len(sig)))
        ids = [all_ids[i] for i in np.flatnonzero(keep)]
        return cls(sig[keep], ids, num_perm=num_perm, seed=seed, ngram=ngram, fields=fields)

    def check_compatible(self, *, num_perm: int, seed: int, ngram: int) -> None:
        """Raise if signatures made with these parameters cannot be compared to ours."""
        mine = {"num_perm": self.num_perm, "seed": self.seed, "ngram": self.ngram}
        theirs = {"num_perm": num_perm, "seed": seed, "ngram": ngram}
        bad = {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}
        if bad:
            raise ValueError(f"index parameters differ (index, requested): {bad}")

    def match(
        self,
        signatures: np.ndarray,
        *,
        threshold: float = 0.8,
        bands: int | None = None,
        rows: int | None = None,
        verify: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each signature row, the lowest index row it near-duplicates, or ``-1``.

        Returns ``(match, estimated_jaccard)`` (``nan`` where unmatched).
        """
        b, r = resolve_bands(threshold, self.num_perm, bands, rows, verify=verify)
        return match_rows(
            self.signatures, signatures, bands=b, rows=r, threshold=threshold, verify=verify
        )

    def save(self, path: str | Path) -> Path:
        """Write the index folder (see module docstring); returns its path."""
        import pyarrow as pa

        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "signatures.npy", np.ascontiguousarray(self.signatures))
        with pa.OSFile(str(folder / "ids.arrow"), "wb") as sink:
            table = pa.table({"id": pa.array(self.ids)})
            with pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
        meta = {
            "format": _FORMAT,
            "num_perm": self.num_perm,
            "seed": self.seed,
            "ngram": self.ngram,
            "fields": self.fields,
            "rows": len(self),
            **self.meta,
        }
        (folder / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        return folder

    @classmethod
    def load(cls, path: str | Path, *, mmap: bool = True) -> MinHashIndex:
        """Read an index folder written by :meth:`save` (signatures memory-mapped)."""
        import pyarrow as pa

        folder = Path(path)
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{folder}: unsupported index format {meta.get('format')!r}")
        sig = np.load(folder / "signatures.npy", mmap_mode="r" if mmap else None)
        with pa.memory_map(str(folder / "ids.arrow"), "r") as source:
            ids = pa.ipc.open_file(source).read_all().column("id").to_pylist()
        known = {"format", "num_perm", "seed", "ngram", "fields", "rows"}
        return cls(
            sig,
            ids,
            num_perm=meta["num_perm"],
            seed=meta["seed"],
            ngram=meta["ngram"],
            fields=meta["fields"],
            meta={k: v for k, v in meta.items() if k not in known},
        )
