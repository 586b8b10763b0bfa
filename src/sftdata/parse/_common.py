"""Plumbing shared by the parsers: field access with reason codes, the batched adapter.

Every parser step writes the same column layout (here for ``messages``)::

    column        kept row                 rejected row
    -----------   ----------------------   ------------------------------------
    messages      [{"role", "content"}]    []
    drop_reason   None                     "parse.missing_field:output", ...
    raw           None                     the input row as a JSON string
    id/source/    copied from the input    copied from the input
    meta          (only when present)      (only when present)

Arrow fixes a column's type from the first batch it writes, so a first batch that is
all kept (``raw`` all ``None``) or all rejected (``messages`` all ``[]``) would pin a
``null`` type. Pass ``features=step.features(ds.features)`` to ``ds.map`` to fix the
types up front.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from sftdata._batch import batch_len, drop_reasons, iter_rows
from sftdata._contract import DROP_REASON, ROLES, Batch, Message, RowError, SftDataError
from sftdata._rejects import REJECTED_BY, ROW_LOCATION

#: Column holding a rejected row's input as JSON, so nothing is lost.
RAW = "raw"
#: Optional columns every parser step copies through untouched when present.
KEEP_COLUMNS: tuple[str, ...] = ("id", "source", "meta")
#: Trace columns (where a row was read from, who rejected it) always copied through.
TRACE_COLUMNS: tuple[str, ...] = (ROW_LOCATION, REJECTED_BY)
_MAX_CODE = 32  # longest user value echoed inside a reason code


def code_value(value: Any) -> str:
    """A short, printable rendering of a user value for a reason code."""
    text = value if isinstance(value, str) else type(value).__name__
    text = "".join(ch if ch.isprintable() and not ch.isspace() else "_" for ch in text)
    return text[:_MAX_CODE] or "_"


def as_row(row: Any) -> Mapping[str, Any]:
    """``row`` itself when it is a mapping, else ``parse.malformed``."""
    if not isinstance(row, Mapping):
        raise RowError("parse.malformed", f"a row must be a mapping, got {type(row).__name__}")
    return row


def get_str(row: Mapping[str, Any], key: str, *, default: str | None = None) -> str:
    """``row[key]`` as a string. Missing/``None`` gives ``default`` or ``parse.missing_field``."""
    value = row.get(key)
    if value is None:
        if default is None:
            raise RowError(f"parse.missing_field:{key}", f"field {key!r} is missing")
        return default
    if not isinstance(value, str):
        raise RowError(
            f"parse.bad_field:{key}", f"field {key!r} must be a string, got {type(value).__name__}"
        )
    return value


def get_list(row: Mapping[str, Any], key: str) -> list[Any]:
    """``row[key]`` as a non-empty list, else ``parse.missing_field`` / ``parse.bad_field``."""
    value = row.get(key)
    if value is None:
        raise RowError(f"parse.missing_field:{key}", f"field {key!r} is missing")
    if not isinstance(value, (list, tuple)):
        raise RowError(
            f"parse.bad_field:{key}", f"field {key!r} must be a list, got {type(value).__name__}"
        )
    if len(value) == 0:
        raise RowError("parse.empty", f"field {key!r} is an empty list")
    return list(value)


def get_item(items: list[Any], i: int, key: str) -> Mapping[str, Any]:
    """``items[i]`` as a mapping; ``key`` names the list in the error."""
    item = items[i]
    if not isinstance(item, Mapping):
        raise RowError(
            f"parse.bad_field:{key}", f"{key}[{i}] must be a mapping, got {type(item).__name__}"
        )
    return item


def check_role(role: Any, where: str) -> str:
    """``role`` when it is a contract role, else ``parse.bad_role:<role>``."""
    if not isinstance(role, str):
        raise RowError(
            f"parse.bad_field:{where}", f"{where} must be a string, got {type(role).__name__}"
        )
    if role not in ROLES:
        raise RowError(
            f"parse.bad_role:{code_value(role)}", f"{where} is {role!r}; allowed: {ROLES}"
        )
    return role


def join_turn(instruction: str, extra: str) -> str:
    """The user turn: ``instruction``, then a blank line and ``extra`` unless it is blank."""
    return f"{instruction}\n\n{extra}" if extra.strip() else instruction


def pair(user: str, assistant: str) -> list[Message]:
    """A one-turn conversation."""
    return [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]


def raw_json(row: Mapping[str, Any]) -> str:
    """The row as JSON (values JSON cannot hold become their ``str``), without the
    bookkeeping columns (``drop_reason``, ``raw`` and the trace columns)."""
    skip = {DROP_REASON, RAW, *TRACE_COLUMNS}
    return json.dumps(
        {k: v for k, v in row.items() if k not in skip}, ensure_ascii=False, default=str
    )


def check_keep(keep: Any, outputs: Iterable[str]) -> tuple[str, ...]:
    """Validate a step's ``keep`` argument; return it as a tuple."""
    if isinstance(keep, str) or not isinstance(keep, (tuple, list)):
        raise TypeError(f"keep must be a tuple of column names, got {keep!r}")
    reserved = {*outputs, DROP_REASON, RAW}
    for name in keep:
        if not isinstance(name, str):
            raise TypeError(f"keep must hold column names (str), got {name!r}")
        if name in reserved:
            raise ValueError(f"keep cannot name {name!r}: the step writes that column itself")
    return tuple(keep)


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    """Raise ``ValueError`` naming the option when ``value`` is not one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def parse_batch(
    batch: Mapping[str, list[Any]],
    parse_row: Callable[[Mapping[str, Any]], list[dict[str, Any]]],
    *,
    outputs: tuple[str, ...],
    keep: tuple[str, ...],
) -> Batch:
    """Run ``parse_row`` on every row; see the module docstring for the column layout.

    ``parse_row`` returns one output dict per produced row (several only for a
    documented expansion). Rows that already carry a ``drop_reason`` pass through as
    rejected rows with their reason.
    """
    batch_len(batch)  # equal column lengths, or a clear error
    carried = [c for c in dict.fromkeys((*keep, *TRACE_COLUMNS)) if c in batch]
    out: Batch = {c: [] for c in (*outputs, DROP_REASON, RAW, *carried)}
    prior = drop_reasons(batch)
    for row, reason in zip(iter_rows(batch), prior, strict=True):
        results: list[dict[str, Any]] = []
        raw: str | None = None
        if reason is None:
            try:
                results = parse_row(row)
            except RowError as e:
                reason = e.reason
            if not results and reason is None:
                reason = "parse.empty"
        if reason is not None:
            results = [{c: [] for c in outputs}]
            raw = row.get(RAW) if isinstance(row.get(RAW), str) else raw_json(row)
        for result in results:
            for c in outputs:
                out[c].append(result[c])
            out[DROP_REASON].append(reason)
            out[RAW].append(raw)
            for c in carried:
                out[c].append(row[c])
    return out


class ParseStep:
    """Shared ``__call__`` and ``features`` of the frozen parser dataclasses.

    Subclasses set ``OUTPUTS`` (the columns the row function returns), ``REQUIRED``
    (input columns without which no row can parse), a ``keep`` field and ``_parse_row``.
    A batch that lacks a required column altogether raises ``SftDataError``: that is
    the wrong parser for the data, not a bad row.
    """

    OUTPUTS: ClassVar[tuple[str, ...]] = ("messages",)
    REQUIRED: ClassVar[tuple[str, ...]] = ()
    keep: tuple[str, ...]

    def _required(self) -> tuple[str, ...]:
        return self.REQUIRED

    def _parse_row(self, row: Mapping[str, Any]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def __call__(self, batch: Mapping[str, list[Any]]) -> Batch:
        missing = [c for c in self._required() if c not in batch]
        if missing and batch_len(batch) > 0:  # the wrong parser for this data: say so at once
            raise SftDataError(
                f"{type(self).__name__} needs column(s) {missing}; the batch has {sorted(batch)}"
            )
        return parse_batch(batch, self._parse_row, outputs=self.OUTPUTS, keep=self.keep)

    def features(self, input_features: Mapping[str, Any]) -> Any:
        """The ``datasets.Features`` of this step's output, for ``ds.map(..., features=)``.

        ``input_features`` (``ds.features``) supplies the types of the carried columns.

        >>> import datasets
        >>> from sftdata.parse import Alpaca
        >>> ds = datasets.Dataset.from_dict({"id": [7], "instruction": ["Hi"], "output": ["Yo"]})
        >>> sorted(Alpaca().features(ds.features))
        ['drop_reason', 'id', 'messages', 'raw']
        """
        import datasets

        out = {c: feature_of(c) for c in self.OUTPUTS}
        out[DROP_REASON] = datasets.Value("string")
        out[RAW] = datasets.Value("string")
        for c in dict.fromkeys((*self.keep, *TRACE_COLUMNS)):
            if c in input_features:
                out[c] = input_features[c]
        return datasets.Features(out)


def feature_of(column: str) -> Any:
    import datasets

    string = datasets.Value("string")
    if column == "conversation":
        return datasets.List({"system": string, "input": string, "output": string})
    return datasets.List({"role": string, "content": string})
