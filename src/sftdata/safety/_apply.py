"""Reading and rewriting the texts of a row: the ``text`` column or every message content.

A row value is either a ``str`` (``text`` rows) or a list of ``{"role", "content"}``
dicts (``messages`` rows). Bad values raise :class:`~sftdata.RowError`:

=============================  =========================================
value                          reason
=============================  =========================================
``text`` not a ``str``         ``safety.not_text``
``messages`` not a list        ``safety.not_messages``
message ``i`` without str      ``safety.bad_message:<i>``
content
=============================  =========================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from sftdata._contract import MESSAGES, TEXT, RowError, SftDataError

Column = Literal["auto", "text", "messages"]
COLUMNS: tuple[str, ...] = ("auto", "text", "messages")


def check_column(column: str) -> None:
    """Raise :class:`SftDataError` unless ``column`` is one of :data:`COLUMNS`."""
    if column not in COLUMNS:
        raise SftDataError(f"column must be one of {COLUMNS}, got {column!r}")


def resolve_column(batch: Mapping[str, Any], column: str) -> str:
    """The column a step works on: ``messages`` when present under ``auto``, else ``text``."""
    if column == "auto":
        column = MESSAGES if MESSAGES in batch else TEXT
    if column not in batch:
        raise SftDataError(f"batch has no {column!r} column; columns: {sorted(batch)}")
    return column


def texts_of(value: Any) -> list[str]:
    """The texts of one row value: ``[value]`` for a str, every content for messages."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Sequence) or isinstance(value, (bytes, bytearray)):
        if value is None or isinstance(value, (bytes, bytearray, int, float)):
            raise RowError("safety.not_text", f"expected str, got {type(value).__name__}")
        raise RowError("safety.not_messages", f"expected a list, got {type(value).__name__}")
    out: list[str] = []
    for i, m in enumerate(value):
        content = m.get("content") if isinstance(m, Mapping) else None
        if not isinstance(content, str):
            raise RowError(f"safety.bad_message:{i}", f"message {i} has no str content")
        out.append(content)
    return out


def with_texts(value: Any, texts: list[str]) -> Any:
    """``value`` with its texts replaced by ``texts`` (a new object; the input is untouched)."""
    if isinstance(value, str):
        return texts[0]
    return [{**m, "content": t} for m, t in zip(value, texts, strict=True)]
