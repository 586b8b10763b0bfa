"""Preference rows (DPO-style): one prompt, a chosen and a rejected answer.

Every preference parser writes the canonical row (see :mod:`sftdata.preference`)::

    prompt     [system?, user, ..., user]        ends with a user turn
    chosen     [assistant, (tool, assistant)*]   the answer turn(s) only
    rejected   [assistant, ...]                  the answer turn(s) only

This module reads the explicit ``{prompt, chosen, rejected}`` shape (strings or message
lists) and TRL's implicit-prompt shape (two full conversations, no prompt);
:mod:`sftdata.parse._preference_sources` reads Anthropic HH transcripts and
UltraFeedback-style rated completions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sftdata._contract import Message, RowError, validate_messages
from sftdata.parse._common import KEEP_COLUMNS, ParseStep, as_row, check_keep, check_role

PreferenceRow = dict[str, list[Message]]

#: Columns a preference parser step copies through when present: the usual ones and
#: the pair's optional scores.
PREFERENCE_KEEP: tuple[str, ...] = (*KEEP_COLUMNS, "score_chosen", "score_rejected")


def preference(row: Mapping[str, Any]) -> PreferenceRow:
    """Parse one preference row into the canonical ``{"prompt", "chosen", "rejected"}``.

    Accepted input shapes:

    - ``prompt`` as a string (one user turn) or a message list, or ``messages`` (a
      message list) in its place;
    - ``chosen`` / ``rejected`` as a string (one assistant turn), one message dict, a
      message list continuing the prompt, or a full conversation starting with it;
    - no prompt at all (TRL's implicit prompt): ``chosen`` and ``rejected`` are full
      conversations and the prompt is their common message prefix, cut after its last
      user turn.

    >>> out = preference({"prompt": "2+2?", "chosen": "4", "rejected": "5"})
    >>> out["prompt"], out["chosen"]
    ([{'role': 'user', 'content': '2+2?'}], [{'role': 'assistant', 'content': '4'}])
    >>> u = {"role": "user", "content": "Hi"}
    >>> preference({"chosen": [u, {"role": "assistant", "content": "Hello!"}],
    ...             "rejected": [u, {"role": "assistant", "content": "Go away."}]})["rejected"]
    [{'role': 'assistant', 'content': 'Go away.'}]

    Raises :class:`~sftdata.RowError`: ``parse.missing_field:chosen|rejected|prompt``,
    ``parse.bad_field:<field>``, ``parse.bad_role:<role>``, ``parse.bad_prompt`` (the
    prompt does not end with a user turn), ``parse.no_answer`` (a side adds nothing to
    the prompt), ``parse.bad_answer`` (a side goes on with a user turn or ends on a tool
    turn), ``preference.identical`` (both answers equal), and the contract's codes for
    an invalid conversation.
    """
    row = as_row(row)
    chosen, rejected = _side(row, "chosen"), _side(row, "rejected")
    prompt = _prompt(row)
    if prompt is None:
        prompt = shared_prompt(chosen, rejected)
    return canonical(prompt, chosen, rejected)


def canonical(
    prompt: list[Message], chosen: list[Message], rejected: list[Message]
) -> PreferenceRow:
    """The canonical row of a prompt and two sides (each its answer turns, or a full
    conversation starting with the prompt); raises as :func:`preference`."""
    try:
        validate_messages(prompt, require_assistant=False)
    except RowError as e:
        raise RowError(e.reason, f"prompt: {e}") from None
    if prompt[-1]["role"] != "user":
        raise RowError("parse.bad_prompt", "the prompt must end with a user turn")
    out = {"prompt": prompt}
    for name, side in (("chosen", chosen), ("rejected", rejected)):
        full = side if side[: len(prompt)] == prompt else prompt + side
        try:
            validate_messages(full, require_assistant=False)
        except RowError as e:
            raise RowError(e.reason, f"{name}: {e}") from None
        answer = full[len(prompt) :]
        if not answer:
            raise RowError("parse.no_answer", f"{name} adds no turn to the prompt")
        if answer[-1]["role"] != "assistant" or any(m["role"] == "user" for m in answer):
            raise RowError(
                "parse.bad_answer", f"{name} must be answer turns ending with an assistant turn"
            )
        out[name] = answer
    if out["chosen"] == out["rejected"]:
        raise RowError("preference.identical", "chosen and rejected are the same answer")
    return out


def _prompt(row: Mapping[str, Any]) -> list[Message] | None:
    for key in ("prompt", "messages"):
        value = row.get(key)
        if isinstance(value, str):
            return [{"role": "user", "content": value}]
        if value is not None:
            return messages_of(value, key)
    return None


def _side(row: Mapping[str, Any], key: str) -> list[Message]:
    value = row.get(key)
    if value is None:
        raise RowError(f"parse.missing_field:{key}", f"field {key!r} is missing")
    if isinstance(value, str):
        return [{"role": "assistant", "content": value}]
    if isinstance(value, Mapping):
        value = [value]
    return messages_of(value, key)


def messages_of(value: Any, key: str) -> list[Message]:
    """``value`` as a non-empty list of ``{role, content: str}``; ``parse.bad_field:<key>``."""
    if not isinstance(value, (list, tuple)) or not value:
        raise RowError(f"parse.bad_field:{key}", f"field {key!r} must be text or a message list")
    out: list[Message] = []
    for i, m in enumerate(value):
        if not isinstance(m, Mapping) or not isinstance(m.get("content"), str):
            raise RowError(f"parse.bad_field:{key}", f"{key}[{i}] must be {{role, content: str}}")
        out.append({"role": check_role(m.get("role"), f"{key}.role"), "content": m["content"]})
    return out


def shared_prompt(chosen: list[Message], rejected: list[Message]) -> list[Message]:
    """The common message prefix of two conversations, cut after its last user turn."""
    common = 0
    while common < min(len(chosen), len(rejected)) and chosen[common] == rejected[common]:
        common += 1
    users = [i for i in range(common) if chosen[i]["role"] == "user"]
    if not users:
        raise RowError(
            "parse.missing_field:prompt",
            "no prompt given and chosen/rejected share no user turn to take it from",
        )
    return chosen[: users[-1] + 1]


@dataclass(frozen=True, kw_only=True)
class Preference(ParseStep):
    """Batched :func:`preference`. Columns: ``prompt``, ``chosen``, ``rejected``
    (message lists; a rejected *row* has all three ``[]``), ``drop_reason``, ``raw``;
    ``score_chosen`` / ``score_rejected`` and the usual optional columns carried.

    ::

        prompt   chosen   rejected      prompt        chosen    rejected
        "2+2?"   "4"      "5"       ->  [user 2+2?]   [asst 4]  [asst 5]
        "2+2?"   "4"      "4"       ->  []            []        []   preference.identical

    >>> Preference()({"prompt": ["2+2?"], "chosen": ["4"], "rejected": ["4"]})["drop_reason"]
    ['preference.identical']
    """

    OUTPUTS: ClassVar[tuple[str, ...]] = ("prompt", "chosen", "rejected")
    REQUIRED: ClassVar[tuple[str, ...]] = ("chosen", "rejected")
    keep: tuple[str, ...] = PREFERENCE_KEEP

    def __post_init__(self) -> None:
        object.__setattr__(self, "keep", check_keep(self.keep, self.OUTPUTS))

    def _parse_row(self, row: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [dict(preference(row))]
