"""The data contract every sftdata step reads and writes.

A conversation is the column ``messages``::

    messages: list[{"role": "system"|"user"|"assistant"|"tool", "content": str}]

Pretraining text is the column ``text``. A filter never deletes a row: it writes
``drop_reason`` (``None`` = kept, else a short stable code such as
``quality.too_short``). Encoded rows carry ``input_ids`` / ``labels`` /
``attention_mask``; ``labels`` are *unshifted* and ``-100`` means "no loss".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypedDict

Role = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool")

#: Column names fixed by the contract.
MESSAGES = "messages"
TEXT = "text"
DROP_REASON = "drop_reason"
IGNORE_INDEX = -100


class Message(TypedDict):
    role: str
    content: str


Batch = dict[str, list[Any]]


class SftDataError(ValueError):
    """Base class of every error sftdata raises on bad input or bad arguments."""


class RowError(SftDataError):
    """A single row is unusable. ``reason`` is the stable ``drop_reason`` code.

    Row functions raise it; batched steps catch it and turn the row into a rejected
    row, so one bad row never stops a batch.
    """

    def __init__(self, reason: str, message: str | None = None) -> None:
        self.reason = reason
        super().__init__(f"{reason}: {message}" if message else reason)


def validate_messages(messages: Any, *, require_assistant: bool = True) -> list[Message]:
    """Check ``messages`` against the contract and return it as a clean list.

    Rules: a list of ``{"role", "content"}`` dicts; content is a ``str``; an optional
    leading system message; then user/assistant alternate, starting with user; ``tool``
    turns may follow an assistant turn (a tool call) and are followed by an assistant
    or another tool turn; with ``require_assistant`` at least one assistant turn.

    Raises :class:`RowError` with codes ``parse.not_a_list``, ``parse.bad_message:<i>``,
    ``parse.bad_role:<role>``, ``parse.bad_content:<i>``, ``parse.bad_order:<i>``,
    ``parse.empty``, ``parse.no_assistant``.
    """
    if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes)):
        raise RowError(
            "parse.not_a_list", f"messages must be a list, got {type(messages).__name__}"
        )
    if len(messages) == 0:
        raise RowError("parse.empty", "conversation has no messages")
    out: list[Message] = []
    prev: str | None = None
    for i, m in enumerate(messages):
        # `type(m) is dict` first: the common case, and much cheaper than the ABC check
        if (
            (type(m) is not dict and not isinstance(m, Mapping))
            or "role" not in m
            or "content" not in m
        ):
            raise RowError(f"parse.bad_message:{i}", f"message {i} must have 'role' and 'content'")
        role, content = m["role"], m["content"]
        if role not in ROLES:
            raise RowError(
                f"parse.bad_role:{role}", f"message {i} has role {role!r}; allowed: {ROLES}"
            )
        if not isinstance(content, str):
            raise RowError(
                f"parse.bad_content:{i}",
                f"message {i} content must be str, got {type(content).__name__}",
            )
        if not _may_follow(prev, role, first_system_ok=(i == 0)):
            raise RowError(
                f"parse.bad_order:{i}", f"message {i} role {role!r} cannot follow {prev!r}"
            )
        out.append({"role": role, "content": content})
        prev = role
    if require_assistant and not any(m["role"] == "assistant" for m in out):
        raise RowError("parse.no_assistant", "conversation has no assistant turn")
    return out


def _may_follow(prev: str | None, role: str, *, first_system_ok: bool) -> bool:
    if prev is None:
        return role == "user" or (role == "system" and first_system_ok)
    allowed = {
        "system": ("user",),
        "user": ("assistant",),
        "assistant": ("user", "tool"),
        "tool": ("assistant", "tool"),
    }
    return role in allowed[prev]
