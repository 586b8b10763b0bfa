"""Single-turn instruction formats: alpaca (``instruction/input/output``) and dolly."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from sftdata._contract import Message, RowError
from sftdata.parse._common import (
    KEEP_COLUMNS,
    ParseStep,
    as_row,
    check_choice,
    check_keep,
    get_item,
    get_list,
    get_str,
    join_turn,
    pair,
)

Instances = Literal["single", "first", "expand"]
_INSTANCES: tuple[str, ...] = ("single", "first", "expand")


def alpaca(
    row: Mapping[str, Any], *, instances: Literal["single", "first"] = "single"
) -> dict[str, list[Message]]:
    """Parse one alpaca row into ``{"messages": [user, assistant]}``.

    The user turn is ``instruction``; a non-blank ``input`` follows it after a blank
    line (a missing, ``None``, empty or whitespace-only ``input`` is omitted). The
    assistant turn is ``output``.

    >>> alpaca({"instruction": "Translate to French.", "input": "cat", "output": "chat"})
    ... # doctest: +NORMALIZE_WHITESPACE
    {'messages': [{'role': 'user', 'content': 'Translate to French.\\n\\ncat'},
                  {'role': 'assistant', 'content': 'chat'}]}

    The seed-task shape ``{"instruction", "instances": [{"input", "output"}, ...]}`` is
    read when the row has no ``output``: ``instances="single"`` (default) accepts exactly
    one instance and rejects more as ``parse.multiple_instances``; ``"first"`` takes
    the first and ignores the rest. To get one row per instance use the batched step
    ``Alpaca(instances="expand")``.

    >>> alpaca({"instruction": "Add.", "instances": [{"input": "1+1", "output": "2"}]})
    ... # doctest: +NORMALIZE_WHITESPACE
    {'messages': [{'role': 'user', 'content': 'Add.\\n\\n1+1'},
                  {'role': 'assistant', 'content': '2'}]}

    Raises :class:`~sftdata.RowError`: ``parse.missing_field:instruction|output``,
    ``parse.bad_field:<field>``, ``parse.empty`` (no instances),
    ``parse.multiple_instances``.
    """
    check_choice("instances", instances, ("single", "first"))
    rows = _alpaca_rows(as_row(row), instances)
    return rows[0]


def _alpaca_rows(row: Mapping[str, Any], instances: str) -> list[dict[str, Any]]:
    instruction = get_str(row, "instruction")
    if row.get("output") is not None or row.get("instances") is None:
        return [_alpaca_one(instruction, row, "")]
    items = get_list(row, "instances")
    if instances == "single" and len(items) > 1:
        raise RowError(
            "parse.multiple_instances",
            f"row has {len(items)} instances; choose instances='first' or 'expand'",
        )
    if instances != "expand":
        items = items[:1]
    return [
        _alpaca_one(instruction, get_item(items, i, "instances"), "instances.")
        for i in range(len(items))
    ]


def _alpaca_one(instruction: str, fields: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    try:
        extra = get_str(fields, "input", default="")
        output = get_str(fields, "output")
    except RowError as e:  # name the nested field in the reason: instances.output
        kind, field = e.reason.rsplit(":", 1)
        raise RowError(f"{kind}:{prefix}{field}", str(e)) from None
    return {"messages": pair(join_turn(instruction, extra), output)}


@dataclass(frozen=True, kw_only=True)
class Alpaca(ParseStep):
    """Batched :func:`alpaca`: ``instruction/input/output`` -> ``messages``.

    ::

        instruction   input   output       messages
        "Sum 2+2"     ""      "4"      ->  [user "Sum 2+2", assistant "4"]
        "Name it"     "cat"   None     ->  []   drop_reason "parse.missing_field:output"

    ``instances="expand"`` turns a seed-task row with n instances into n output rows
    (the one documented exception to one-row-in, one-row-out); carried columns such
    as ``id`` repeat on each.

    >>> Alpaca()({"instruction": ["Sum 2+2"], "input": [""], "output": ["4"]})["messages"]
    [[{'role': 'user', 'content': 'Sum 2+2'}, {'role': 'assistant', 'content': '4'}]]
    """

    REQUIRED: ClassVar[tuple[str, ...]] = ("instruction",)
    instances: Instances = "single"
    keep: tuple[str, ...] = KEEP_COLUMNS

    def __post_init__(self) -> None:
        check_choice("instances", self.instances, _INSTANCES)
        object.__setattr__(self, "keep", check_keep(self.keep, self.OUTPUTS))

    def _parse_row(self, row: Mapping[str, Any]) -> list[dict[str, Any]]:
        return _alpaca_rows(row, self.instances)


def dolly(row: Mapping[str, Any]) -> dict[str, list[Message]]:
    """Parse one dolly row (``instruction``, ``context``, ``response``) into messages.

    ``context``, when not blank, joins the user turn after a blank line, as alpaca's
    ``input`` does.

    >>> dolly({"instruction": "Who wrote it?", "context": "Hamlet, by Shakespeare.",
    ...        "response": "Shakespeare."})  # doctest: +NORMALIZE_WHITESPACE
    {'messages': [{'role': 'user', 'content': 'Who wrote it?\\n\\nHamlet, by Shakespeare.'},
                  {'role': 'assistant', 'content': 'Shakespeare.'}]}

    Raises :class:`~sftdata.RowError`: ``parse.missing_field:instruction|response``,
    ``parse.bad_field:<field>``.
    """
    row = as_row(row)
    instruction = get_str(row, "instruction")
    context = get_str(row, "context", default="")
    return {"messages": pair(join_turn(instruction, context), get_str(row, "response"))}


@dataclass(frozen=True, kw_only=True)
class Dolly(ParseStep):
    """Batched :func:`dolly`: ``instruction/context/response`` -> ``messages``.

    Add ``"category"`` to ``keep`` to carry dolly's category column along.

    >>> Dolly(keep=("category",))(
    ...     {"instruction": ["Hi?"], "context": [""], "response": ["Hi."], "category": ["qa"]}
    ... )["category"]
    ['qa']
    """

    REQUIRED: ClassVar[tuple[str, ...]] = ("instruction", "response")
    keep: tuple[str, ...] = KEEP_COLUMNS

    def __post_init__(self) -> None:
        object.__setattr__(self, "keep", check_keep(self.keep, self.OUTPUTS))

    def _parse_row(self, row: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [dolly(row)]
