"""Exact dedup: hash of a normalised text (or canonical conversation), first row wins.

::

    row  text               normalised        key      result
    0    "Hello  World"     "hello world"     9f1c..   kept
    1    "hello world"      "hello world"     9f1c..   dedup.exact, dup_of=0
    2    "Bye"              "bye"             03ab..   kept
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sftdata._batch import batch_len, drop_reasons
from sftdata._contract import DROP_REASON, Batch, RowError
from sftdata._texts import MESSAGE_COLUMNS
from sftdata.dedup._apply import (
    DUP_OF,
    as_input,
    check_lengths,
    column_list,
    finish,
    map_columns,
    resolve_column,
    row_ids,
)
from sftdata.dedup._text import Fields, UnicodeForm, canonical_messages, normalize_text

EXACT_KEY = "exact_key"
REASON_EXACT = "dedup.exact"


@dataclass(frozen=True)
class ExactKeys:
    """Batched step: add ``exact_key`` (16-byte BLAKE2b of the normalised row text).

    Rows whose column is unusable are rejected (``dedup.bad_<column>``, key ``None``).

    >>> step = ExactKeys(column="text")
    >>> out = step({"text": ["Hello  World", "hello world", "Bye"]})
    >>> out["exact_key"][0] == out["exact_key"][1] != out["exact_key"][2]
    True
    """

    column: str = "text"
    fields: Fields = "all"
    lowercase: bool = True
    whitespace: bool = True
    punctuation: bool = False
    unicode_form: UnicodeForm | None = "NFKC"

    def __post_init__(self) -> None:
        if self.fields not in ("all", "user"):
            raise ValueError(f"fields must be 'all' or 'user', got {self.fields!r}")
        if self.unicode_form not in (None, "NFC", "NFKC", "NFD", "NFKD"):
            raise ValueError(
                f"unicode_form must be NFC/NFKC/NFD/NFKD/None, got {self.unicode_form!r}"
            )

    def key(self, value: Any) -> bytes:
        """The key of one cell; raises :class:`RowError` for an unusable value."""
        if self.column in MESSAGE_COLUMNS:
            if not isinstance(value, list):
                raise RowError("dedup.bad_messages", "messages must be a list")
            turns = [
                {"role": m.get("role"), "content": self._norm(m["content"])}
                if isinstance(m, Mapping) and isinstance(m.get("content"), str)
                else m
                for m in value
            ]
            text = canonical_messages(turns, fields=self.fields)
        elif isinstance(value, str):
            text = self._norm(value)
        else:
            raise RowError(
                f"dedup.bad_{self.column}",
                f"column {self.column!r} must be str, got {type(value).__name__}",
            )
        return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()

    def _norm(self, text: str) -> str:
        return normalize_text(
            text,
            lowercase=self.lowercase,
            whitespace=self.whitespace,
            punctuation=self.punctuation,
            unicode_form=self.unicode_form,
        )

    def __call__(self, batch: Mapping[str, list[Any]]) -> Batch:
        reasons = drop_reasons(batch)
        keys: list[bytes | None] = []
        values = batch[self.column]
        for i in range(batch_len(batch)):
            try:
                keys.append(self.key(values[i]))
            except RowError as e:
                keys.append(None)
                reasons[i] = reasons[i] or e.reason
        out: Batch = dict(batch)
        out[EXACT_KEY] = keys
        out[DROP_REASON] = reasons
        return out


def exact_dedup(
    data: Any,
    *,
    column: str | None = None,
    fields: Fields = "all",
    lowercase: bool = True,
    whitespace: bool = True,
    punctuation: bool = False,
    unicode_form: UnicodeForm | None = "NFKC",
    num_proc: int | None = None,
    batch_size: int = 1000,
) -> tuple[Any, Any]:
    """Drop rows whose normalised text equals an earlier row's: ``(kept, rejected)``.

    ``column`` defaults to ``text`` (or ``messages``: the canonical JSON of the turns,
    contents normalised; ``fields="user"`` compares only user turns). The lowest row
    index of each group survives; the others get ``drop_reason="dedup.exact"`` and
    ``dup_of`` = the kept row's ``id`` (or its index when there is no ``id`` column).
    Rows already carrying a ``drop_reason`` are passed to ``rejected`` untouched.
    Works on a ``datasets.Dataset`` (keys via ``map(num_proc=...)``) or a list of rows.

    >>> kept, rejected = exact_dedup(["Hello  World", "hello world", "Bye"])
    >>> [r["text"] for r in kept], [(r["drop_reason"], r["dup_of"]) for r in rejected]
    (['Hello  World', 'Bye'], [('dedup.exact', 0)])
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    data = as_input(data)
    step = ExactKeys(
        column=resolve_column(data, column),
        fields=fields,
        lowercase=lowercase,
        whitespace=whitespace,
        punctuation=punctuation,
        unicode_form=unicode_form,
    )
    table = map_columns(
        data, step, keep=[EXACT_KEY, DROP_REASON], num_proc=num_proc, batch_size=batch_size
    )
    keys = column_list(table, EXACT_KEY)
    reasons: list[str | None] = column_list(table, DROP_REASON)
    first: dict[bytes, int] = {}
    roots: list[int] = []
    for i, (k, r) in enumerate(zip(keys, reasons, strict=True)):
        roots.append(first.setdefault(k, i) if r is None else i)
    return apply_exact_roots(data, roots, reasons)


def apply_exact_roots(
    data: Any, roots: Sequence[int] | np.ndarray, reasons: Sequence[str | None]
) -> tuple[Any, Any]:
    """Write an exact-dedup pass's result onto ``data`` and split it: ``(kept, rejected)``.

    ``roots[i]`` is the first row with row ``i``'s key (``i`` itself for a first row
    or a row already rejected); ``reasons`` the rows' earlier ``drop_reason`` (kept
    where set). Rows with ``roots[i] != i`` get ``dedup.exact`` and ``dup_of``, as in
    :func:`exact_dedup`.

    >>> kept, rejected = apply_exact_roots(["a", "a", "b"], [0, 0, 2], [None] * 3)
    >>> [r["text"] for r in kept], [(r["drop_reason"], r["dup_of"]) for r in rejected]
    (['a', 'b'], [('dedup.exact', 0)])
    """
    data = as_input(data)
    check_lengths(data, roots=roots, reasons=reasons)
    root_list = [int(r) for r in roots]
    dup_ids = row_ids(data, root_list)
    new_reasons = [
        r if r is not None else (REASON_EXACT if root_list[i] != i else None)
        for i, r in enumerate(reasons)
    ]
    dup_of = [dup_ids[i] if new_reasons[i] == REASON_EXACT else None for i in range(len(root_list))]
    return finish(data, {DROP_REASON: new_reasons, DUP_OF: dup_of})
