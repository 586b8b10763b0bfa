"""Preference (DPO-style) rows: one prompt, a chosen and a rejected answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sftdata._contract import Message, RowError, validate_messages
from sftdata.parse._common import KEEP_COLUMNS, ParseStep, as_row, check_keep, check_role

PreferenceRow = dict[str, list[Message]]


def preference(row: Mapping[str, Any]) -> PreferenceRow:
    """Parse one preference row into ``{"prompt", "chosen", "rejected"}``.

    Output layout: ``prompt`` is the shared conversation up to and including the last
    user turn; ``chosen`` and ``rejected`` are each a *full* conversation that starts
    with exactly ``prompt`` and goes on with assistant (or tool) turns. The completion
    alone is ``chosen[len(prompt):]``.

    Accepted input shapes:

    - ``prompt`` as a string (one user turn) or a message list, or ``messages`` (a
      message list) in its place;
    - ``chosen`` / ``rejected`` as a string (one assistant turn), one message dict, a
      message list continuing the prompt, or a full conversation starting with it;
    - no prompt at all: ``chosen`` and ``rejected`` are full conversations and the
      prompt is their common prefix, cut after its last user turn.

    >>> out = preference({"prompt": "2+2?", "chosen": "4", "rejected": "5"})
    >>> out["prompt"]
    [{'role': 'user', 'content': '2+2?'}]
    >>> out["chosen"]
    [{'role': 'user', 'content': '2+2?'}, {'role': 'assistant', 'content': '4'}]

    Raises :class:`~sftdata.RowError`: ``parse.missing_field:chosen|rejected|prompt``,
    ``parse.bad_field:<field>``, ``parse.bad_role:<role>``, ``parse.bad_prompt`` (the
    prompt does not end with a user turn), ``parse.identical_pair``, and the contract's
    codes for an invalid conversation.
    """
    row = as_row(row)
    chosen, rejected = _side(row, "chosen"), _side(row, "rejected")
    prompt = _prompt(row)
    if prompt is None:
        prompt = _shared_prompt(chosen, rejected)
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
            out[name] = validate_messages(full)
        except RowError as e:
            raise RowError(e.reason, f"{name}: {e}") from None
    if out["chosen"] == out["rejected"]:
        raise RowError("parse.identical_pair", "chosen and rejected are the same conversation")
    return out


def _prompt(row: Mapping[str, Any]) -> list[Message] | None:
    for key in ("prompt", "messages"):
        value = row.get(key)
        if isinstance(value, str):
            return [{"role": "user", "content": value}]
        if value is not None:
            return _messages(value, key)
    return None


def _side(row: Mapping[str, Any], key: str) -> list[Message]:
    value = row.get(key)
    if value is None:
        raise RowError(f"parse.missing_field:{key}", f"field {key!r} is missing")
    if isinstance(value, str):
        return [{"role": "assistant", "content": value}]
    if isinstance(value, Mapping):
        value = [value]
    return _messages(value, key)


def _messages(value: Any, key: str) -> list[Message]:
    if not isinstance(value, (list, tuple)) or not value:
        raise RowError(f"parse.bad_field:{key}", f"field {key!r} must be text or a message list")
    out: list[Message] = []
    for i, m in enumerate(value):
        if not isinstance(m, Mapping) or not isinstance(m.get("content"), str):
            raise RowError(f"parse.bad_field:{key}", f"{key}[{i}] must be {{role, content: str}}")
        out.append({"role": check_role(m.get("role"), f"{key}.role"), "content": m["content"]})
    return out


def _shared_prompt(chosen: list[Message], rejected: list[Message]) -> list[Message]:
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
    (message lists; a rejected *row* has all three ``[]``), ``drop_reason``, ``raw``.

    ::

        prompt   chosen   rejected      prompt        chosen               rejected
        "2+2?"   "4"      "5"       ->  [user 2+2?]   [user 2+2?, asst 4]  [user 2+2?, asst 5]
        "2+2?"   "4"      "4"       ->  []            []                   []   parse.identical_pair

    >>> Preference()({"prompt": ["2+2?"], "chosen": ["4"], "rejected": ["4"]})["drop_reason"]
    ['parse.identical_pair']
    """

    OUTPUTS: ClassVar[tuple[str, ...]] = ("prompt", "chosen", "rejected")
    REQUIRED: ClassVar[tuple[str, ...]] = ("chosen", "rejected")
    keep: tuple[str, ...] = KEEP_COLUMNS

    def __post_init__(self) -> None:
        object.__setattr__(self, "keep", check_keep(self.keep, self.OUTPUTS))

    def _parse_row(self, row: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [dict(preference(row))]
