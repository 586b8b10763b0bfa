"""The encoder area: conversations and texts to ids and labels, padding, packing, viewing.

Modules (all private but :mod:`view`; the public names are re-exported at the top of
:mod:`sftdata`)::

    _plan.py      a conversation shape compiled once into a program of pieces
    _pieces.py    one batched tokenizer call per batch, then ids and labels with numpy
    _encode.py    encode / Encode, encode_text / EncodeText (the public steps)
    _collate.py   Collator: right or left padding, packed batches
    _pack.py      pack / pack_stats: best-fit-decreasing packing, no cross-contamination
    view.py       the mask viewer (terminal colours, HTML)

The names load on first use, so importing this package (``import sftdata`` does) costs
nothing until an encoder is needed.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "encode": "sftdata.encode._encode",
    "Encode": "sftdata.encode._encode",
    "encode_text": "sftdata.encode._encode",
    "EncodeText": "sftdata.encode._encode",
    "Collator": "sftdata.encode._collate",
    "pack": "sftdata.encode._pack",
    "pack_stats": "sftdata.encode._pack",
    "PackStats": "sftdata.encode._pack",
}

__all__ = [*_NAMES, "view"]


def __getattr__(name: str) -> Any:
    if name == "view":
        return importlib.import_module("sftdata.encode.view")
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'sftdata.encode' has no attribute {name!r}")
