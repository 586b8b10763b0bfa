"""``stage: pretrain``: causal-LM training on the token shards ``sftdata run`` writes.

A shard folder holds ``tokens-*.parquet`` (rows of exactly ``block_size`` token ids,
optionally ``position_ids``) and ``manifest.json``. Before a model loads, every folder's
manifest is checked against the tokenizer (its hash), the dtype and the block size, and
every shard's parquet footer against the manifest (row count, column types)::

    train_files: [out/pretrain/tokens]      # one or more shard folders
    tokenizer: out/pretrain/tokens/tokenizer

Blocks are read on demand, a few shards at a time (never the whole corpus). The epoch
order is a pure function of ``(seed, epoch)``: shards are permuted, then blocks are
permuted within windows of :data:`WINDOW` consecutive shards of that order, so reading
stays local while every block moves::

    shards   s0 s1 s2 s3 s4 ...  --permute-->  s3 s0 | s4 s1 | ...   (windows of WINDOW)
    blocks   permuted inside each window; the epoch is the windows one after another

The trainer walks that order sequentially; accelerate deals consecutive batches to
the ranks in turn, so ranks read disjoint blocks, and the epoch length is cut to a
multiple of ``batch_size * world_size`` (at most that many blocks wait for the next
epoch, whose order differs). A resumed run skips the batches already trained (no
reading) and continues at the exact next block.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sfttrain.config import ConfigError, TrainConfig

#: Shards whose blocks are shuffled together (and held decoded in memory at once).
WINDOW = 8


@dataclass(frozen=True)
class ShardSet:
    """The shard files of one or more folders, checked, with their row counts."""

    files: tuple[Path, ...]
    rows: tuple[int, ...]
    block_size: int
    dtype: str
    position_ids: bool

    @property
    def num_blocks(self) -> int:
        return sum(self.rows)


def open_shards(folders: list[str], tokenizer: Any) -> ShardSet:
    """Check every folder's manifest and shard footers; errors name ``train_files[i]``."""
    import pyarrow.parquet as pq

    from sftdata.tokenize import tokenizer_hash

    want_hash = tokenizer_hash(tokenizer)
    files: list[Path] = []
    rows: list[int] = []
    seen: dict[str, Any] = {}
    for i, folder in enumerate(folders):
        key = f"train_files[{i}]"
        m = _manifest(Path(folder), key)
        if m["tokenizer_sha256"] != want_hash:
            raise ConfigError(
                f"{key}: the shards were cut with another tokenizer (manifest tokenizer_sha256 "
                f"{m['tokenizer_sha256'][:12]}..., the config's tokenizer hashes to "
                f"{want_hash[:12]}...)"
            )
        want_dtype = "uint16" if m["vocab_size"] <= 65536 else "int32"
        if m["dtype"] != want_dtype:
            raise ConfigError(f"{key}: manifest dtype {m['dtype']!r}, expected {want_dtype!r}")
        for name in ("block_size", "dtype", "respect_documents"):
            if seen.setdefault(name, m[name]) != m[name]:
                raise ConfigError(f"{key}: {name} {m[name]!r} differs from {seen[name]!r}")
        for shard in m["shards"]:
            file = Path(folder) / shard["name"]
            if not file.is_file():
                raise ConfigError(f"{key}: {file} is listed in manifest.json but missing")
            meta = pq.read_metadata(file)
            schema = pq.read_schema(file)
            ids = schema.field("input_ids").type if "input_ids" in schema.names else None
            value = getattr(ids, "value_type", None)
            if meta.num_rows != shard["rows"] or str(value) != m["dtype"]:
                raise ConfigError(
                    f"{key}: {file} does not match manifest.json ({meta.num_rows} rows, "
                    f"input_ids {ids})"
                )
            files.append(file)
            rows.append(int(meta.num_rows))
    return ShardSet(
        tuple(files), tuple(rows), int(seen["block_size"]), str(seen["dtype"]),
        bool(seen["respect_documents"]),
    )  # fmt: skip


def _manifest(folder: Path, key: str) -> dict[str, Any]:
    path = folder / "manifest.json"
    if not path.is_file():
        raise ConfigError(f"{key}: {folder} has no manifest.json (not a finished shard folder)")
    m = json.loads(path.read_text(encoding="utf-8"))
    need = ("block_size", "dtype", "vocab_size", "tokenizer_sha256", "respect_documents", "shards")
    missing = [k for k in need if k not in m]
    if missing:
        raise ConfigError(f"{key}: {path} lacks {', '.join(missing)} (not a token manifest)")
    return m


def epoch_order(
    rows: tuple[int, ...], *, seed: int, epoch: int, window: int = WINDOW
) -> np.ndarray:
    """Global block numbers in the order epoch ``epoch`` reads them (see module docstring).

    >>> epoch_order((2, 3), seed=0, epoch=0).tolist() == epoch_order((2, 3), seed=0, epoch=0).tolist()
    True
    >>> sorted(epoch_order((2, 3), seed=0, epoch=1).tolist())
    [0, 1, 2, 3, 4]
    """
    rng = np.random.default_rng([seed, epoch])
    starts = np.concatenate(([0], np.cumsum(rows)))
    shard_order = rng.permutation(len(rows))
    parts = []
    for lo in range(0, len(rows), window):
        ids = [np.arange(starts[s], starts[s + 1]) for s in shard_order[lo : lo + window]]
        parts.append(rng.permutation(np.concatenate(ids)) if ids else np.zeros(0, np.int64))
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


class PretrainBlocks:
    """A map-style dataset of blocks: item ``i`` is the ``i``-th block of this epoch's order.

    Items are ``{"input_ids", "labels"}`` (plus ``position_ids`` when the shards carry
    them), int64 arrays of ``block_size``. ``multiple`` cuts the epoch to a multiple
    (the global batch). Set ``record`` to a list to have the served block numbers
    appended to it (tests of the rank split use it).
    """

    def __init__(self, shards: ShardSet, *, seed: int, multiple: int = 1) -> None:
        self.shards = shards
        self.seed = seed
        self.length = shards.num_blocks - shards.num_blocks % max(multiple, 1)
        self.starts = np.concatenate(([0], np.cumsum(shards.rows))).astype(np.int64)
        self.record: list[int] | None = None
        self._cache: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        self.order = epoch_order(self.shards.rows, seed=self.seed, epoch=self.epoch)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        if not 0 <= i < self.length:
            raise IndexError(i)
        g = int(self.order[i])
        s = int(np.searchsorted(self.starts, g, side="right")) - 1
        cols = self._shard(s)
        row = g - int(self.starts[s])
        ids = cols["input_ids"][row].astype(np.int64)
        item = {"input_ids": ids, "labels": ids.copy()}
        if "position_ids" in cols:
            item["position_ids"] = cols["position_ids"][row].astype(np.int64)
        if self.record is not None:
            self.record.append(g)
        return item

    def _shard(self, s: int) -> dict[str, np.ndarray]:
        """Shard ``s`` decoded to ``(rows, block_size)`` arrays; the last WINDOW kept."""
        if s in self._cache:
            self._cache.move_to_end(s)
            return self._cache[s]
        import pyarrow.parquet as pq

        table = pq.read_table(self.shards.files[s])
        b = self.shards.block_size
        cols = {}
        for name in ("input_ids", "position_ids"):
            if name in table.column_names:
                flat = table.column(name).combine_chunks().flatten().to_numpy()
                cols[name] = flat.reshape(-1, b)
        self._cache[s] = cols
        while len(self._cache) > WINDOW:
            self._cache.popitem(last=False)
        return cols


def collate_blocks(features: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Stack equal-length blocks into int64 tensors (no padding is ever needed)."""
    import torch

    return {k: torch.as_tensor(np.stack([f[k] for f in features])) for k in features[0]}


def new_model(cfg: TrainConfig, tokenizer: Any) -> Any:
    """A randomly initialised model from ``cfg.model_config`` (vocabulary from the tokenizer),
    saved to ``cfg.model`` the first time so the run's starting point is on disk."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    spec = dict(cfg.model_config or {})
    model_type = spec.pop("model_type", None)
    if not isinstance(model_type, str):
        raise ConfigError("model_config.model_type: required (e.g. 'llama')")
    spec.setdefault("vocab_size", len(tokenizer))
    for name in ("eos_token_id", "pad_token_id", "bos_token_id"):
        spec.setdefault(name, getattr(tokenizer, name, None))
    try:
        config = AutoConfig.for_model(model_type, **spec)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"model_config: {e}") from e
    torch.manual_seed(cfg.seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.config.use_cache = False
    folder = Path(cfg.model)
    if not (folder / "config.json").exists():
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    return model
