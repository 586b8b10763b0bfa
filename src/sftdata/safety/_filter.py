"""``PIIFilter``: redact PII in every text of a row, or reject the row, per type.

::

    PIIFilter(redact=("email", "phone"), reject=("secret",))

    text                                   ->  text                         drop_reason
    "mail ann@example.com"                     "mail <EMAIL>"               None
    "AKIAIOSFODNN7EXAMPLE is my key"           (unchanged)                  "pii.secret"
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sftdata._batch import drop_reasons, map_kept
from sftdata._contract import DROP_REASON, Batch, RowError, SftDataError
from sftdata._texts import (
    Column,
    check_column,
    over_preference_rows,
    pick_column,
    row_texts,
    step_features,
    with_texts,
)
from sftdata.safety._apply import BAD_ROW
from sftdata.safety._pii import (
    PII_TYPES,
    PIIType,
    check_region,
    check_tags,
    check_types,
    find_pii,
    redact_spans,
)

#: Types redacted by default: everything but secrets.
DEFAULT_REDACT: tuple[PIIType, ...] = ("email", "iban", "credit_card", "ip_address", "phone")
#: Types that reject the row by default: a leaked secret makes the whole sample unsafe.
DEFAULT_REJECT: tuple[PIIType, ...] = ("secret",)


def filter_pii(
    value: Any,
    *,
    redact: Iterable[str] = DEFAULT_REDACT,
    reject: Iterable[str] = DEFAULT_REJECT,
    tags: Mapping[str, str] | None = None,
    region: str = "US",
    column: str | None = None,
) -> tuple[Any, list[dict[str, Any]]]:
    """Row function of :class:`PIIFilter` for one ``text`` str or one ``messages`` list.

    Returns ``(new_value, spans)``; each span dict has ``message`` (index of the
    message, ``None`` for a text row), ``type``, ``start``, ``end``, ``text``, ``detail``.
    Raises :class:`~sftdata.RowError` ``pii.<type>`` when a ``reject`` type is found
    (the strongest type in :data:`PII_TYPES` order names the reason). ``column``
    (``"text"`` / ``"messages"``) insists on one row shape; ``None`` accepts both.

    >>> filter_pii([{"role": "user", "content": "I am at 203.0.113.9"}])[0]
    [{'role': 'user', 'content': 'I am at <IP_ADDRESS>'}]
    >>> filter_pii("token=ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9")
    Traceback (most recent call last):
    ...
    sftdata._contract.RowError: pii.secret: secret (assignment) in text at 6
    """
    redact_t, reject_t = check_types(redact, what="redact"), check_types(reject, what="reject")
    full_tags = check_tags(tags)
    wanted = [t for t in PII_TYPES if t in redact_t or t in reject_t]
    texts = row_texts(value, column, step=BAD_ROW)
    found = [find_pii(t, types=wanted, region=region) for t in texts]
    where = "text" if isinstance(value, str) else "message {}"
    for kind in reject_t:
        for i, spans in enumerate(found):
            hit = next((s for s in spans if s.type == kind), None)
            if hit is not None:
                place = where.format(i)
                raise RowError(f"pii.{kind}", f"{kind} ({hit.detail}) in {place} at {hit.start}")
    new_texts = [redact_spans(t, spans, full_tags) for t, spans in zip(texts, found, strict=True)]
    is_text = isinstance(value, str)
    records = [
        {"message": None if is_text else i, **s.to_dict()}
        for i, spans in enumerate(found)
        for s in spans
    ]
    return with_texts(value, new_texts), records


@dataclass(frozen=True, kw_only=True)
class PIIFilter:
    """Batched step: redact PII of the ``redact`` types, reject rows holding ``reject`` types.

    Works on the ``text`` column or on every message of ``messages`` (``column="auto"``
    picks ``messages`` when the batch has it). Types in neither tuple are left alone.
    Rejected rows keep their text and get ``drop_reason = "pii.<type>"``; bad rows get
    ``safety.not_text`` / ``safety.not_messages`` / ``safety.bad_message:<i>``.
    With ``spans_column`` set, the spans found in each row are written there (a list
    of dicts, see :func:`filter_pii`).

    >>> step = PIIFilter(redact=("email",), reject=("credit_card",))
    >>> out = step({"text": ["ann@example.com", "card 4111-1111-1111-1111"]})
    >>> out["text"], out["drop_reason"]
    (['<EMAIL>', 'card 4111-1111-1111-1111'], [None, 'pii.credit_card'])
    """

    redact: tuple[PIIType, ...] = DEFAULT_REDACT
    reject: tuple[PIIType, ...] = DEFAULT_REJECT
    tags: Mapping[str, str] | tuple[tuple[str, str], ...] = field(default=())
    region: str = "US"
    column: Column = "auto"
    spans_column: str | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "redact", check_types(self.redact, what="redact"))
        set_(self, "reject", check_types(self.reject, what="reject"))
        both = sorted(set(self.redact) & set(self.reject))
        if both:
            raise SftDataError(f"types {both} are in both redact and reject; pick one")
        tags = dict(self.tags)
        check_tags(tags)
        set_(self, "tags", tuple(sorted(tags.items())))
        check_column(self.column)
        check_region(self.region)
        if self.spans_column is not None and not isinstance(self.spans_column, str):
            raise SftDataError(
                f"spans_column must be a column name or None, got {self.spans_column!r}"
            )

    def features(self, input_features: Mapping[str, Any]) -> Any:
        """``datasets.Features`` of the output, for ``ds.map(step, batched=True, features=...)``.

        >>> import datasets
        >>> ds = datasets.Dataset.from_dict({"text": ["ann@example.com"]})
        >>> step = PIIFilter(spans_column="spans")
        >>> ds.map(step, batched=True, features=step.features(ds.features))[0]["text"]
        '<EMAIL>'
        """
        if self.spans_column is None:
            return step_features(input_features)
        import datasets

        int_, str_ = datasets.Value("int64"), datasets.Value("string")
        span = {"message": int_, "type": str_, "start": int_, "end": int_}
        span |= {"text": str_, "detail": str_}
        return step_features(input_features, {self.spans_column: datasets.List(span)})

    @over_preference_rows
    def __call__(self, batch: Batch) -> Batch:
        column = pick_column(batch, self.column)
        spans: list[Any] = []
        tags = dict(self.tags)

        def one(value: Any) -> Any:
            new, found = filter_pii(
                value,
                redact=self.redact,
                reject=self.reject,
                tags=tags,
                region=self.region,
                column=column,
            )
            spans.append(found)
            return new

        out = map_kept(batch, column, one)
        if self.spans_column is not None:
            it = iter(spans)  # map_kept visits kept rows in order; the rest get None
            prior = drop_reasons(batch)
            out[self.spans_column] = [
                next(it) if prior[i] is None and r is None else None
                for i, r in enumerate(out[DROP_REASON])
            ]
        return out
