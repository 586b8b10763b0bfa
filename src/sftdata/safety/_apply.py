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

from sftdata._contract import DROP_REASON, MESSAGES, TEXT, RowError, SftDataError

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


def texts_of(value: Any, column: str | None = None) -> list[str]:
    """The texts of one row value: ``[value]`` for text, every content for messages.

    ``column`` (``"text"`` / ``"messages"``) says which shape is expected; ``None``
    accepts either (a str is a text row, anything else must be messages).
    """
    if column == TEXT or (column is None and (value is None or isinstance(value, str))):
        if not isinstance(value, str):
            raise RowError("safety.not_text", f"text must be str, got {type(value).__name__}")
        return [value]
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes, bytearray)):
        raise RowError(
            "safety.not_messages", f"messages must be a list, got {type(value).__name__}"
        )
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


def step_features(input_features: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> Any:
    """``datasets.Features`` for a safety step's output: the input's, plus ``drop_reason``.

    Pass the result to ``ds.map(step, batched=True, features=...)`` so that a first batch
    with no rejects cannot pin ``drop_reason`` to Arrow's ``null`` type.
    """
    import datasets

    out = dict(input_features)
    out[DROP_REASON] = datasets.Value("string")
    out.update(extra or {})
    return datasets.Features(out)
