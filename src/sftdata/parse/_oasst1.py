"""The oasst1 / guanaco ``text`` format: ``### Human: ... ### Assistant: ...``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sftdata._contract import Message, RowError, validate_messages
from sftdata.parse._common import KEEP_COLUMNS, ParseStep, as_row, check_keep, get_str

# The only two strings that start a turn. Anything else, ``### Step 1``, ``###Human:``,
# ``### human:``, a markdown heading, stays content.
_MARKER = re.compile(r"### (Human|Assistant):")
_ROLE = {"Human": "user", "Assistant": "assistant"}


def oasst1(row: Mapping[str, Any]) -> dict[str, list[Message]]:
    """Parse one oasst1-style row (column ``text``) into ``{"messages": [...]}``.

    The split rule: a turn starts at each exact ``### Human:`` or ``### Assistant:``
    (three ``#``, one space, the capitalised word, a colon), wherever it occurs; every
    other ``###`` is content. Each turn's content is stripped. As in xtuner's
    ``oasst1_map_fn``, a trailing human turn with no answer is dropped; unlike it, a
    markdown heading inside a turn stays in that turn. Text before the first marker,
    or no marker at all, is ``parse.malformed``.

    >>> text = "### Human: Steps?### Assistant: ### Step 1\\nBoil water.### Human: Thanks"
    >>> oasst1({"text": text})["messages"]  # doctest: +NORMALIZE_WHITESPACE
    [{'role': 'user', 'content': 'Steps?'},
     {'role': 'assistant', 'content': '### Step 1\\nBoil water.'}]

    Raises :class:`~sftdata.RowError`: ``parse.missing_field:text``,
    ``parse.bad_field:text``, ``parse.malformed``, ``parse.no_assistant``,
    ``parse.bad_order:<i>`` (two human turns in a row, or an assistant first).
    """
    text = get_str(as_row(row), "text")
    parts = _MARKER.split(text.strip())
    if len(parts) == 1:
        raise RowError("parse.malformed", "text has no '### Human:' / '### Assistant:' marker")
    if parts[0].strip():
        raise RowError("parse.malformed", f"text before the first marker: {parts[0][:40]!r}")
    messages: list[Message] = [
        {"role": _ROLE[name], "content": content.strip()}
        for name, content in zip(parts[1::2], parts[2::2], strict=True)
    ]
    if messages[-1]["role"] == "user":
        messages.pop()  # an unanswered question has nothing to learn from
    if not any(m["role"] == "assistant" for m in messages):
        raise RowError("parse.no_assistant", "no '### Assistant:' turn answers a human turn")
    return {"messages": validate_messages(messages)}


@dataclass(frozen=True, kw_only=True)
class Oasst1(ParseStep):
    """Batched :func:`oasst1`: ``text`` -> ``messages`` (+ ``drop_reason``, ``raw``).

    ::

        text                                         messages                      drop_reason
        "### Human: Hi### Assistant: Hello"     ->   [user "Hi", assistant "Hello"]  None
        "no markers"                            ->   []                             "parse.malformed"

    >>> Oasst1()({"text": ["### Human: Hi### Assistant: Hello", "oops"]})["drop_reason"]
    [None, 'parse.malformed']
    """

    REQUIRED: ClassVar[tuple[str, ...]] = ("text",)
    keep: tuple[str, ...] = KEEP_COLUMNS

    def __post_init__(self) -> None:
        object.__setattr__(self, "keep", check_keep(self.keep, self.OUTPUTS))

    def _parse_row(self, row: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [oasst1(row)]
