"""Multi-turn formats: ShareGPT (``conversations: [{from, value}]``) and OpenAI ``messages``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sftdata._contract import ROLES, Message, RowError, validate_messages
from sftdata.parse._common import (
    KEEP_COLUMNS,
    ParseStep,
    as_row,
    check_keep,
    check_role,
    code_value,
    get_item,
    get_list,
)

#: ShareGPT speaker names -> contract roles. ``function_call`` is the assistant calling
#: a tool; ``observation`` is the tool's answer.
SHAREGPT_ROLES: Mapping[str, str] = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
    "tool": "tool",
    "function_call": "assistant",
    "observation": "tool",
}


def sharegpt(
    row: Mapping[str, Any],
    *,
    role_map: Mapping[str, str] = SHAREGPT_ROLES,
    column: str = "conversations",
    role_key: str = "from",
    content_key: str = "value",
    system_key: str | None = "system",
) -> dict[str, list[Message]]:
    """Parse one ShareGPT row into ``{"messages": [...]}``.

    Each turn ``{"from": name, "value": text}`` becomes ``{"role": role_map[name],
    "content": text}``. A non-empty string in the row's ``system_key`` column (if any)
    becomes a leading system message.

    >>> sharegpt({"conversations": [{"from": "human", "value": "Hi"},
    ...                             {"from": "gpt", "value": "Hello!"}]})
    ... # doctest: +NORMALIZE_WHITESPACE
    {'messages': [{'role': 'user', 'content': 'Hi'},
                  {'role': 'assistant', 'content': 'Hello!'}]}

    Raises :class:`~sftdata.RowError`: ``parse.missing_field:conversations``,
    ``parse.bad_field:conversations.from|value``, ``parse.bad_role:<name>`` (a name
    not in ``role_map``), ``parse.bad_order:<i>``, ``parse.no_assistant``.
    """
    row = as_row(row)
    turns = get_list(row, column)
    messages: list[Message] = []
    system = row.get(system_key) if system_key is not None else None
    if system is not None and not isinstance(system, str):
        raise RowError(f"parse.bad_field:{system_key}", f"field {system_key!r} must be a string")
    if system:
        messages.append({"role": "system", "content": system})
    for i in range(len(turns)):
        turn = get_item(turns, i, column)
        name, value = turn.get(role_key), turn.get(content_key)
        if not isinstance(name, str):
            raise RowError(f"parse.bad_field:{column}.{role_key}", f"{column}[{i}] has no name")
        if name not in role_map:
            raise RowError(
                f"parse.bad_role:{code_value(name)}",
                f"{column}[{i}].{role_key} is {name!r}; known: {sorted(role_map)}",
            )
        if not isinstance(value, str):
            raise RowError(f"parse.bad_field:{column}.{content_key}", f"{column}[{i}] has no text")
        messages.append({"role": role_map[name], "content": value})
    return {"messages": validate_messages(messages)}


@dataclass(frozen=True, kw_only=True)
class ShareGPT(ParseStep):
    """Batched :func:`sharegpt`: ``conversations`` -> ``messages``.

    ``role_map`` replaces the default speaker map (it is stored as sorted pairs so the
    step stays hashable and its fingerprint does not depend on dict order).

    >>> step = ShareGPT(role_map={"q": "user", "a": "assistant"})
    >>> step({"conversations": [[{"from": "q", "value": "1+1?"}, {"from": "a", "value": "2"}],
    ...                         [{"from": "bot", "value": "hi"}]]})["drop_reason"]
    [None, 'parse.bad_role:bot']
    """

    role_map: Mapping[str, str] | tuple[tuple[str, str], ...] = tuple(
        sorted(SHAREGPT_ROLES.items())
    )
    column: str = "conversations"
    role_key: str = "from"
    content_key: str = "value"
    system_key: str | None = "system"
    keep: tuple[str, ...] = KEEP_COLUMNS

    def __post_init__(self) -> None:
        pairs = self.role_map.items() if isinstance(self.role_map, Mapping) else self.role_map
        pairs = tuple(sorted((str(k), str(v)) for k, v in pairs))
        for name, role in pairs:
            if role not in ROLES:
                raise ValueError(f"role_map[{name!r}] = {role!r} is not a role; allowed: {ROLES}")
        object.__setattr__(self, "role_map", pairs)
        if self.system_key is not None and not isinstance(self.system_key, str):
            raise TypeError(f"system_key must be a string or None, got {self.system_key!r}")
        for option in ("column", "role_key", "content_key"):
            if not isinstance(getattr(self, option), str):
                raise TypeError(f"{option} must be a string, got {getattr(self, option)!r}")
        object.__setattr__(self, "keep", check_keep(self.keep, self.OUTPUTS))

    def _required(self) -> tuple[str, ...]:
        return (self.column,)

    def _parse_row(self, row: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [
            sharegpt(
                row,
                role_map=dict(self.role_map),
                column=self.column,
                role_key=self.role_key,
                content_key=self.content_key,
                system_key=self.system_key,
            )
        ]


def openai(row: Mapping[str, Any], *, part_separator: str = "\n") -> dict[str, list[Message]]:
    """Validate one OpenAI-style row (``messages: [{role, content}]``) against the contract.

    Content may be a string or a list of parts; text parts ``{"type": "text", "text":
    ...}`` are joined with ``part_separator`` and any other part type is rejected
    (``parse.unsupported_part:<type>``). An assistant turn with ``tool_calls`` keeps
    them as JSON, on a line after its text when it has text (the contract has no
    tool-call field, and dropping them would lose data). Other keys are dropped.

    >>> openai({"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"},
    ...                                                    {"type": "text", "text": "there"}]},
    ...                      {"role": "assistant", "content": "Hello"}]})
    ... # doctest: +NORMALIZE_WHITESPACE
    {'messages': [{'role': 'user', 'content': 'Hi\\nthere'},
                  {'role': 'assistant', 'content': 'Hello'}]}

    Raises :class:`~sftdata.RowError`: ``parse.missing_field:messages``,
    ``parse.bad_field:messages.role|content``, ``parse.bad_role:<role>``,
    ``parse.unsupported_part:<type>``, ``parse.bad_order:<i>``, ``parse.no_assistant``.
    """
    turns = get_list(as_row(row), "messages")
    messages: list[Message] = []
    for i in range(len(turns)):
        turn = get_item(turns, i, "messages")
        role = check_role(turn.get("role"), "messages.role")
        messages.append({"role": role, "content": _content(turn, i, part_separator)})
    return {"messages": validate_messages(messages)}


def _content(turn: Mapping[str, Any], i: int, separator: str) -> str:
    calls = turn.get("tool_calls") if turn.get("role") == "assistant" else None
    text = _text(turn.get("content"), i, separator, none_ok=bool(calls))
    if calls:
        dumped = json.dumps(calls, ensure_ascii=False, default=str)
        return f"{text}\n{dumped}" if text else dumped
    return text


def _text(content: Any, i: int, separator: str, *, none_ok: bool) -> str:
    if isinstance(content, str):
        return content
    if content is None and none_ok:
        return ""
    if not isinstance(content, list):
        raise RowError("parse.bad_field:messages.content", f"messages[{i}].content is not text")
    texts = []
    for part in content:
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind != "text" or not isinstance(part.get("text"), str):
            raise RowError(
                f"parse.unsupported_part:{code_value(kind)}",
                f"messages[{i}].content has a part that is not {{'type': 'text', 'text': str}}",
            )
        texts.append(part["text"])
    return separator.join(texts)


@dataclass(frozen=True, kw_only=True)
class OpenAI(ParseStep):
    """Batched :func:`openai`: ``messages`` -> validated, flattened ``messages``.

    >>> OpenAI()({"messages": [[{"role": "user", "content": "Hi"}]]})["drop_reason"]
    ['parse.no_assistant']
    """

    REQUIRED: ClassVar[tuple[str, ...]] = ("messages",)
    part_separator: str = "\n"
    keep: tuple[str, ...] = KEEP_COLUMNS

    def __post_init__(self) -> None:
        if not isinstance(self.part_separator, str):
            raise TypeError(f"part_separator must be a string, got {self.part_separator!r}")
        object.__setattr__(self, "keep", check_keep(self.keep, self.OUTPUTS))

    def _parse_row(self, row: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [openai(row, part_separator=self.part_separator)]
