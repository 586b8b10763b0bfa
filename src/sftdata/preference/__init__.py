"""Preference data: canonical pairs, parsers, filters, and their encoding.

A preference row holds one prompt and two answers to it::

    prompt    [{"role": "user", "content": "2+2?"}]          ends with a user turn
    chosen    [{"role": "assistant", "content": "4"}]        the answer turn(s) only
    rejected  [{"role": "assistant", "content": "5"}]
    score_chosen, score_rejected                             optional; other columns carried

``sd.encode_preference`` / ``sd.EncodePreference`` turn a pair into
``prompt_input_ids``, ``chosen_input_ids`` / ``chosen_labels`` and
``rejected_input_ids`` / ``rejected_labels``: each answer's ids exactly the SFT
encoding of ``prompt + answer``, the prompt's ids (with the generation prompt) a prefix
of both.

Modules (private; the public names are re-exported here and at the top of
:mod:`sftdata`)::

    _rows.py     the canonical row: column names, check_prompt / check_answer / check_pair
    _encode.py   encode_preference / EncodePreference
    _filter.py   pair_reason / PairFilter: preference.empty|identical|tie|length_ratio
    _collate.py  PreferenceCollator: chosen and rejected padded to one width

The names load on first use: importing this package costs nothing until one is needed.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "PROMPT": "sftdata.preference._rows",
    "CHOSEN": "sftdata.preference._rows",
    "REJECTED": "sftdata.preference._rows",
    "SCORE_CHOSEN": "sftdata.preference._rows",
    "SCORE_REJECTED": "sftdata.preference._rows",
    "PREFERENCE_COLUMNS": "sftdata.preference._rows",
    "check_prompt": "sftdata.preference._rows",
    "check_answer": "sftdata.preference._rows",
    "check_pair": "sftdata.preference._rows",
    "PREFERENCE_ENCODED": "sftdata.preference._encode",
    "PreferenceTruncation": "sftdata.preference._encode",
    "encode_preference": "sftdata.preference._encode",
    "EncodePreference": "sftdata.preference._encode",
    "pair_reason": "sftdata.preference._filter",
    "PairFilter": "sftdata.preference._filter",
    "PreferenceCollator": "sftdata.preference._collate",
}

__all__ = list(_NAMES)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'sftdata.preference' has no attribute {name!r}")
