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
    "engines",
    "runner",
    "preference",
)
_LAZY_NAMES = {
    "encode": "sftdata.encode._encode",
    "Encode": "sftdata.encode._encode",
    "encode_text": "sftdata.encode._encode",
    "EncodeText": "sftdata.encode._encode",
    "Collator": "sftdata.encode._collate",
    "pack": "sftdata.encode._pack",
    "pack_stats": "sftdata.encode._pack",
    "PackStats": "sftdata.encode._pack",
    "view": "sftdata.encode",
    "mix": "sftdata.stats",
    # preference pairs (issue 11)
    "encode_preference": "sftdata.preference._encode",
    "EncodePreference": "sftdata.preference._encode",
    "PreferenceCollator": "sftdata.preference._collate",
}

# ``sftdata.encode`` is both the encoder's package and the public function ``sd.encode``.
# Importing a package binds it as an attribute of its parent, which would shadow the
# function; so the (light, lazy) package is imported here once, before anyone else can,
# and that binding removed: ``sd.encode`` then resolves through ``__getattr__`` to the
# function, and later imports of ``sftdata.encode.*`` never rebind it.
importlib.import_module("sftdata.encode")
globals().pop("encode", None)

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
