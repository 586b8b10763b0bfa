"""``PreferenceCollator``: pad encoded pairs into one batch, both sides to one width.

::

    rows (EncodePreference)                 batch (right padding, P = pad, . = -100)
    chosen   [p p a a]    rejected [p p b]   chosen_input_ids    p p a a     rejected_input_ids  p p b P
    chosen   [p a]        rejected [p b b b] chosen_input_ids    p a P P     rejected_input_ids  p b b b
                                             *_attention_mask from real lengths, *_labels . at P

Chosen and rejected share one width, so a trainer can stack them into one forward pass
(``torch.cat([chosen, rejected])``). Padding is :class:`sftdata.Collator`'s, applied to
the chosen rows and the rejected rows together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any, Literal

import numpy as np

from sftdata._contract import SftDataError
from sftdata.encode._collate import Collator

__all__ = ["PreferenceCollator"]

_SIDES = ("chosen", "rejected")


@dataclass(frozen=True)
class PreferenceCollator:
    """Pad :class:`~sftdata.EncodePreference` rows: ``chosen_*`` and ``rejected_*``
    ``input_ids`` / ``attention_mask`` / ``labels``, and ``prompt_lengths`` (the prompt's
    tokens in each row); usable as a ``transformers.Trainer`` collator.

    >>> c = PreferenceCollator(0, return_tensors="np")
    >>> b = c([{"prompt_input_ids": [1, 2], "chosen_input_ids": [1, 2, 3],
    ...         "chosen_labels": [-100, -100, 3], "rejected_input_ids": [1, 2, 4, 5],
    ...         "rejected_labels": [-100, -100, 4, 5]}])
    >>> b["chosen_input_ids"].tolist(), b["chosen_attention_mask"].tolist()
    ([[1, 2, 3, 0]], [[1, 1, 1, 0]])
    >>> b["rejected_labels"].tolist(), b["prompt_lengths"].tolist()
    ([[-100, -100, 4, 5]], [2])
    """

    pad_token_id: int | None
    _: KW_ONLY
    pad_to_multiple_of: int | None = None
    return_tensors: Literal["pt", "np"] = "pt"

    def __post_init__(self) -> None:
        Collator(self.pad_token_id, pad_to_multiple_of=self.pad_to_multiple_of)  # checks them
        if self.return_tensors not in ("pt", "np"):
            raise SftDataError(f"return_tensors must be 'pt' or 'np', got {self.return_tensors!r}")

    @classmethod
    def for_tokenizer(cls, tokenizer: Any, **options: Any) -> PreferenceCollator:
        """A collator padding with ``tokenizer.pad_token_id`` (see
        :meth:`sftdata.Collator.for_tokenizer` for the error without one)."""
        pad = options.pop("pad_token_id", None)
        if pad is None:
            pad = Collator.for_tokenizer(tokenizer).pad_token_id
        return cls(pad, **options)

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        if len(features) == 0:
            raise SftDataError("PreferenceCollator: got an empty list of pairs")
        rows = []
        for side in _SIDES:
            for i, f in enumerate(features):
                if f.get(f"{side}_input_ids") is None:
                    raise SftDataError(f"PreferenceCollator: pair {i} has no {side}_input_ids")
                labels = f.get(f"{side}_labels")
                rows.append({"input_ids": f[f"{side}_input_ids"], "labels": labels})
        pad = Collator(
            self.pad_token_id, pad_to_multiple_of=self.pad_to_multiple_of, return_tensors="np"
        )
        both = pad(rows)
        n = len(features)
        out = {
            f"{side}_{key}": both[key][k * n : (k + 1) * n]
            for k, side in enumerate(_SIDES)
            for key in ("input_ids", "attention_mask", "labels")
        }
        prompt = [f.get("prompt_input_ids") for f in features]
        out["prompt_lengths"] = np.array([len(p) if p is not None else 0 for p in prompt], np.int64)
        if self.return_tensors == "np":
            return out
        import torch

        return {k: torch.from_numpy(v) for k, v in out.items()}
