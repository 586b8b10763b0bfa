"""Chat templates: render conversations exactly as each model family was trained.

A :class:`Template` is frozen data (the strings around each turn, where BOS/EOS go,
the default system prompt, stop words). It renders a conversation to text, to
:class:`Segment` s (who owns each character, what is trained, which characters are
one control token) and to an HF jinja ``chat_template`` (:meth:`Template.to_jinja`)
that renders the same text, so a trained model is served in its training format.

>>> from sftdata import templates
>>> t = templates.get("llama2")
>>> t.render([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}])
'<s>[INST] hi [/INST] yo </s>'
>>> templates.get("nope")
Traceback (most recent call last):
...
sftdata._contract.SftDataError: unknown template 'nope'; known templates: ...
"""

from __future__ import annotations

from sftdata.templates._doctor import Check, TokenizerReport, check_tokenizer
from sftdata.templates._families import get, names
from sftdata.templates._jinja import JinjaTemplate, from_tokenizer, render_jinja
from sftdata.templates._segments import Segment, special_token_id, split_pieces, token_ids
from sftdata.templates._store import from_dict, load, save, to_dict
from sftdata.templates._template import StripMode, SystemPlacement, Template
from sftdata.templates._xtuner import XTUNER_FORMATS, from_xtuner

__all__ = [
    "XTUNER_FORMATS",
    "Check",
    "JinjaTemplate",
    "Segment",
    "StripMode",
    "SystemPlacement",
    "Template",
    "TokenizerReport",
    "check_tokenizer",
    "from_dict",
    "from_tokenizer",
    "from_xtuner",
    "get",
    "load",
    "names",
    "render_jinja",
    "save",
    "special_token_id",
    "split_pieces",
    "to_dict",
    "token_ids",
]
