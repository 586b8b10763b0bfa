"""sftdata: typed, composable, pure map-function primitives for LLM fine-tuning data.

Every step is a frozen dataclass whose ``__call__`` maps a columnar batch
(``dict[str, list]``) to a new batch: use it with ``datasets.Dataset.map(step,
batched=True)``, call it on a plain dict, or hand it to ``ray.data`` ``map_batches``.
"""

from __future__ import annotations

import importlib
from typing import Any

from sftdata._apply import apply
from sftdata._contract import (
    DROP_REASON,
    IGNORE_INDEX,
    MESSAGES,
    ROLES,
    TEXT,
    Message,
    Role,
    RowError,
    SftDataError,
    validate_messages,
)
from sftdata._pipeline import Pipeline
from sftdata._rejects import Counters, split_rejects

__version__ = "0.1.0"

# Submodules and names loaded on first use, so ``import sftdata`` stays light and
# never needs torch.
_SUBMODULES = (
    "parse",
    "clean",
    "dedup",
    "safety",
    "templates",
    "stats",
    "tokenize",
    "view",
    "engines",
    "runner",
)
_LAZY_NAMES = {
    "encode": "sftdata._encode",
    "Encode": "sftdata._encode",
    "encode_text": "sftdata._encode",
    "EncodeText": "sftdata._encode",
    "Collator": "sftdata._collate",
    "pack": "sftdata._pack",
    "pack_stats": "sftdata._pack",
    "PackStats": "sftdata._pack",
    "mix": "sftdata.stats",
}

__all__ = [
    "DROP_REASON",
    "IGNORE_INDEX",
    "MESSAGES",
    "ROLES",
    "TEXT",
    "Counters",
    "Message",
    "Pipeline",
    "apply",
    "Role",
    "RowError",
    "SftDataError",
    "split_rejects",
    "validate_messages",
    *_SUBMODULES,
    *_LAZY_NAMES,
]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"sftdata.{name}")
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(_LAZY_NAMES[name]), name)
    raise AttributeError(f"module 'sftdata' has no attribute {name!r}")
