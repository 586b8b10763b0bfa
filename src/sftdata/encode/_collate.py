"""``Collator``: pad encoded (or packed) rows into one rectangular batch.

Right padding for training, left padding for batched generation::

    rows            right (training)              left (generation)
    [5 6 7]     ->  input_ids  5 6 7 P      or    P 5 6 7
    [8 9]           input_ids  8 9 P P            P P 8 9
                    attention  1 1 1 0            0 1 1 1
                    labels     . 6 7 .            . . 6 7     (. = -100)

The attention mask is built from each row's real length, never by comparing ids with
``pad_token_id``, so it stays right when the pad token is the EOS token.

Packed rows (from :func:`sftdata.pack`, carrying ``position_ids`` and ``seq_lens``)
get one of two attention layouts, chosen by ``packed_attention``:

- ``"position_ids"``: no ``attention_mask`` key; ``position_ids`` restart at 0 per
  sample, which transformers' padding-free path turns into block-diagonal attention
  (flash-attention varlen, or a block mask for sdpa / eager). transformers reads
  packing from ``position_ids`` only when no KV cache is built: set
  ``model.config.use_cache = False`` for training, or it attends across samples.
- ``"block_mask"``: a 4D ``(batch, 1, length, length)`` block-diagonal causal mask
  (bool, ``True`` = may attend, for sdpa; or additive float for eager attention).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any, Literal

import numpy as np

from sftdata._contract import IGNORE_INDEX, SftDataError

PaddingSide = Literal["right", "left"]

_NO_PAD_HINT = (
    "the tokenizer has no pad token and no pad_token_id was given. Usual choices: "
    "pad_token_id=tokenizer.eos_token_id (safe here: the attention mask comes from the "
    "real lengths and padded labels are -100), tokenizer.unk_token_id, or add a dedicated "
    "'<pad>' token with tokenizer.add_special_tokens and resize the model's embeddings"
)


@dataclass(frozen=True)
class Collator:
    """Pad a list of encoded rows into a batch; usable as a ``transformers.Trainer`` collator.

    >>> c = Collator(0, return_tensors="np")
    >>> b = c([{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"input_ids": [8, 9]}])
    >>> b["input_ids"].tolist(), b["attention_mask"].tolist()
    ([[5, 6, 7], [8, 9, 0]], [[1, 1, 1], [1, 1, 0]])
    >>> b["labels"].tolist()   # a row without labels trains on all its tokens
    [[-100, 6, 7], [8, 9, -100]]
    >>> Collator(0, padding_side="left", return_tensors="np")([{"input_ids": [1]}, {"input_ids": [2, 3]}])["input_ids"].tolist()
    [[0, 1], [2, 3]]
    """

    pad_token_id: int | None
    _: KW_ONLY
    padding_side: PaddingSide = "right"
    pad_to_multiple_of: int | None = None
    return_tensors: Literal["pt", "np"] = "pt"
    packed_attention: Literal["position_ids", "block_mask"] = "position_ids"
    block_mask_dtype: Literal["bool", "float32"] = "bool"

    def __post_init__(self) -> None:
        if self.pad_token_id is None:
            raise SftDataError(f"Collator: {_NO_PAD_HINT}")
        if isinstance(self.pad_token_id, bool) or not isinstance(self.pad_token_id, int):
            raise SftDataError(f"Collator: pad_token_id must be an int, got {self.pad_token_id!r}")
        _check_choice("padding_side", self.padding_side, ("right", "left"))
        _check_choice("return_tensors", self.return_tensors, ("pt", "np"))
        _check_choice("packed_attention", self.packed_attention, ("position_ids", "block_mask"))
        _check_choice("block_mask_dtype", self.block_mask_dtype, ("bool", "float32"))
        m = self.pad_to_multiple_of
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 1):
            raise SftDataError(f"Collator: pad_to_multiple_of must be a positive int, got {m!r}")

    @classmethod
    def for_tokenizer(cls, tokenizer: Any, **options: Any) -> Collator:
        """A collator padding with ``tokenizer.pad_token_id`` (or ``options["pad_token_id"]``).

        Raises :class:`SftDataError` suggesting the usual choices when the tokenizer has
        no pad token and none is given.
        """
        pad = options.pop("pad_token_id", None)
        if pad is None:
            pad = getattr(tokenizer, "pad_token_id", None)
        if pad is None:
            name = type(tokenizer).__name__
            raise SftDataError(f"Collator.for_tokenizer({name}): {_NO_PAD_HINT}")
        return cls(pad, **options)

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        if len(features) == 0:
            raise SftDataError("Collator: got an empty list of rows")
        ids = [_as_int_list(f, "input_ids", i) for i, f in enumerate(features)]
        lengths = [len(x) for x in ids]
        width = self._width(max(lengths))
        labels = [
            _as_int_list(f, "labels", i) if f.get("labels") is not None else ids[i]
            for i, f in enumerate(features)
        ]
        for i, (x, y) in enumerate(zip(ids, labels, strict=True)):
            if len(x) != len(y):
                raise SftDataError(f"Collator: row {i} has {len(x)} input_ids but {len(y)} labels")
        out: dict[str, np.ndarray] = {
            "input_ids": self._pad(ids, width, int(self.pad_token_id or 0)),
            "labels": self._pad(labels, width, IGNORE_INDEX),
        }
        packed = any(f.get("position_ids") is not None for f in features)
        if not packed:
            out["attention_mask"] = self._mask(np.asarray(lengths, dtype=np.int64), width)
        else:
            self._add_packed(out, features, lengths, width)
        return self._convert(out)

    def _width(self, longest: int) -> int:
        m = self.pad_to_multiple_of
        return longest if m is None else -(-longest // m) * m

    def _pad(self, rows: list[list[int]], width: int, value: int) -> np.ndarray:
        arr = np.full((len(rows), width), value, dtype=np.int64)
        for i, r in enumerate(rows):
            if not r:
                continue
            if self.padding_side == "right":
                arr[i, : len(r)] = r
            else:
                arr[i, width - len(r) :] = r
        return arr

    def _mask(self, lengths: np.ndarray, width: int) -> np.ndarray:
        """1 on each row's real tokens, 0 on its padding (one comparison, no per-token lists)."""
        cols = np.arange(width, dtype=np.int64)[None, :]
        if self.padding_side == "right":
            return (cols < lengths[:, None]).astype(np.int64)
        return (cols >= width - lengths[:, None]).astype(np.int64)

    def _add_packed(
        self,
        out: dict[str, np.ndarray],
        features: Sequence[Mapping[str, Any]],
        lengths: list[int],
        width: int,
    ) -> None:
        if self.padding_side != "right":
            raise SftDataError("Collator: packed rows are for training; use padding_side='right'")
        seq_lens = [_seq_lens(f, i, lengths[i]) for i, f in enumerate(features)]
        # The padded tail is one more "sample" with its own positions, so it never joins
        # the last real sample; its labels are -100.
        full = [
            s + ([width - n] if width > n else []) for s, n in zip(seq_lens, lengths, strict=True)
        ]
        out["position_ids"] = np.stack([np.concatenate([np.arange(k) for k in s]) for s in full])
        if self.packed_attention == "block_mask":
            out["attention_mask"] = _block_causal(full, width, lengths, self.block_mask_dtype)

    def _convert(self, out: dict[str, np.ndarray]) -> dict[str, Any]:
        if self.return_tensors == "np":
            return dict(out)
        import torch

        return {k: torch.from_numpy(v) for k, v in out.items()}


def _block_causal(
    seq_lens: list[list[int]], width: int, lengths: list[int], dtype: str
) -> np.ndarray:
    """``(batch, 1, width, width)``: token i may see token j iff same sample and j <= i."""
    sample = np.stack([np.repeat(np.arange(len(s)), s) for s in seq_lens])
    same = sample[:, :, None] == sample[:, None, :]
    allowed = same & np.tril(np.ones((width, width), dtype=bool))[None]
    for i, n in enumerate(lengths):  # padding attends to itself only: no NaN rows
        if n < width:
            allowed[i, n:, :] = False
            allowed[i, np.arange(n, width), np.arange(n, width)] = True
    allowed = allowed[:, None]
    if dtype == "bool":
        return allowed
    return np.where(allowed, 0.0, np.finfo(np.float32).min).astype(np.float32)


def _seq_lens(f: Mapping[str, Any], i: int, n: int) -> list[int]:
    raw = f.get("seq_lens")
    if raw is None:  # derive from position_ids restarting at 0
        pos = _as_int_list(f, "position_ids", i)
        if not pos or pos[0] != 0:
            raise SftDataError(f"Collator: row {i} position_ids must start at 0")
        starts = [k for k, p in enumerate(pos) if p == 0] + [n]
        return [b - a for a, b in itertools.pairwise(starts)]
    lens = [int(x) for x in raw]
    if sum(lens) != n or any(x <= 0 for x in lens):
        raise SftDataError(
            f"Collator: row {i} seq_lens {lens} must be positive and sum to its {n} tokens"
        )
    return lens


def _as_int_list(f: Mapping[str, Any], key: str, i: int) -> list[int]:
    if key not in f or f[key] is None:
        raise SftDataError(f"Collator: row {i} has no {key!r}; keys: {sorted(f)}")
    value = f[key]
    if hasattr(value, "tolist"):
        value = value.tolist()
    return list(value)


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise SftDataError(f"Collator: {name} must be one of {allowed}, got {value!r}")
