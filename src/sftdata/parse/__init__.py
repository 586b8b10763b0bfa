"""Parsers: raw records of common formats -> the ``messages`` column of the contract.

Each format has a pure row function (``sd.parse.alpaca(row) -> {"messages": [...]}``,
raising :class:`~sftdata.RowError` with a stable ``reason``) and a frozen batched step
(``sd.parse.Alpaca()``) for ``ds.map``::

    step = sd.parse.Alpaca()
    out = ds.map(step, batched=True, remove_columns=ds.column_names,
                 features=step.features(ds.features))
    kept, rejected = sd.split_rejects(out)

Every step writes ``messages`` (``[]`` on a rejected row), ``drop_reason`` (``None`` =
kept) and ``raw`` (the rejected input row as JSON, ``None`` when kept), and copies the
optional ``id`` / ``source`` / ``meta`` columns through untouched (``keep=`` changes
the list). ``features=`` fixes the Arrow types so that a first batch that happens to
be all kept or all rejected cannot pin a ``null`` column type.

=============  ========================================  =================================
name           input columns                             output columns
=============  ========================================  =================================
oasst1         text (``### Human:``/``### Assistant:``)   messages
alpaca         instruction, input, output | instances    messages
dolly          instruction, context, response            messages
sharegpt       conversations: [{from, value}]            messages
openai         messages: [{role, content}]               messages
xtuner         conversation: [{system, input, output}]   messages
to_xtuner      messages                                  conversation
preference     prompt | messages, chosen, rejected       prompt, chosen, rejected
anthropic_hh   chosen, rejected (HH transcripts)         prompt, chosen, rejected
ultrafeedback  prompt | instruction, completions         prompt, chosen, rejected, scores
=============  ========================================  =================================

The preference parsers write the canonical preference row: ``prompt`` ends with a user
turn, ``chosen`` / ``rejected`` hold the answer turn(s) only (see
:mod:`sftdata.preference`).
"""

from __future__ import annotations

from sftdata.parse._common import KEEP_COLUMNS, RAW
from sftdata.parse._oasst1 import Oasst1, oasst1
from sftdata.parse._preference import Preference, preference
from sftdata.parse._preference_sources import (
    AnthropicHH,
    UltraFeedback,
    anthropic_hh,
    ultrafeedback,
)
from sftdata.parse._sharegpt import SHAREGPT_ROLES, OpenAI, ShareGPT, openai, sharegpt
from sftdata.parse._simple import Alpaca, Dolly, alpaca, dolly
from sftdata.parse._xtuner import ToXTuner, XTuner, to_xtuner, xtuner

__all__ = [
    "KEEP_COLUMNS",
    "RAW",
    "SHAREGPT_ROLES",
    "Alpaca",
    "AnthropicHH",
    "Dolly",
    "Oasst1",
    "OpenAI",
    "Preference",
    "ShareGPT",
    "ToXTuner",
    "UltraFeedback",
    "XTuner",
    "alpaca",
    "anthropic_hh",
    "dolly",
    "oasst1",
    "openai",
    "preference",
    "sharegpt",
    "to_xtuner",
    "ultrafeedback",
    "xtuner",
]
