"""xtuner's ``conversation: [{system, input, output}]`` format, in both directions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sftdata._batch import map_kept
from sftdata._contract import DROP_REASON, Batch, Message, RowError, SftDataError, validate_messages
from sftdata.parse._common import (
    KEEP_COLUMNS,
    ParseStep,
    as_row,
    check_keep,
    feature_of,
    get_item,
    get_list,
    get_str,
)

XTunerTurn = dict[str, str]


def xtuner(row: Mapping[str, Any]) -> dict[str, list[Message]]:
    """Parse one xtuner row into ``{"messages": [...]}``.

    Each turn ``{"system"?, "input", "output"}`` gives a user and an assistant message;
    a ``system`` that is missing, ``None`` or ``""`` means no system message (as in
    xtuner's template map), and a missing or ``None`` ``input`` is ``""``. A system
    prompt is only allowed on the first turn (the contract's leading system message).

    >>> xtuner({"conversation": [{"system": "Be brief.", "input": "Hi", "output": "Hello"},
    ...                          {"input": "Bye", "output": "Bye!"}]})
    ... # doctest: +NORMALIZE_WHITESPACE
    {'messages': [{'role': 'system', 'content': 'Be brief.'},
                  {'role': 'user', 'content': 'Hi'}, {'role': 'assistant', 'content': 'Hello'},
                  {'role': 'user', 'content': 'Bye'}, {'role': 'assistant', 'content': 'Bye!'}]}

    Raises :class:`~sftdata.RowError`: ``parse.missing_field:conversation.output``,
    ``parse.bad_field:conversation.<field>``, ``parse.bad_order:<i>`` (a system prompt
    after the first turn).
    """
    turns = get_list(as_row(row), "conversation")
    messages: list[Message] = []
    for i in range(len(turns)):
        turn = get_item(turns, i, "conversation")
        try:
            system = get_str(turn, "system", default="")
            user = get_str(turn, "input", default="")
            answer = get_str(turn, "output")
        except RowError as e:
            kind, field = e.reason.rsplit(":", 1)
            raise RowError(f"{kind}:conversation.{field}", f"turn {i}: {e}") from None
        if system:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": answer})
    return {"messages": validate_messages(messages)}


@dataclass(frozen=True, kw_only=True)
class XTuner(ParseStep):
    """Batched :func:`xtuner`: ``conversation`` -> ``messages``.

    >>> XTuner()({"conversation": [[{"input": "Hi", "output": "Hello"}]]})["messages"]
    [[{'role': 'user', 'content': 'Hi'}, {'role': 'assistant', 'content': 'Hello'}]]
    """

    REQUIRED: ClassVar[tuple[str, ...]] = ("conversation",)
    keep: tuple[str, ...] = KEEP_COLUMNS

    def __post_init__(self) -> None:
        object.__setattr__(self, "keep", check_keep(self.keep, self.OUTPUTS))

    def _parse_row(self, row: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [xtuner(row)]


def to_xtuner(messages: Any) -> dict[str, list[XTunerTurn]]:
    """Turn contract ``messages`` into an xtuner row ``{"conversation": [...]}``.

    Each user/assistant pair becomes ``{"input", "output"}``; a system message (when
    non-empty: xtuner reads ``""`` as none) goes on the first turn as ``"system"``.
    ``xtuner(to_xtuner(m)) == {"messages": m}`` for every valid ``m`` without tool turns
    or an empty system message.

    >>> to_xtuner([{"role": "system", "content": "Be brief."},
    ...            {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}])
    {'conversation': [{'system': 'Be brief.', 'input': 'Hi', 'output': 'Hello'}]}

    Raises :class:`~sftdata.RowError` for invalid messages (the contract's codes) and
    ``parse.bad_role:tool`` (xtuner's format has no tool turns).
    """
    msgs = validate_messages(messages)
    system = msgs[0]["content"] if msgs[0]["role"] == "system" else ""
    body = msgs[1:] if msgs[0]["role"] == "system" else msgs
    if any(m["role"] == "tool" for m in body):
        raise RowError("parse.bad_role:tool", "xtuner's format has no tool turns")
    if len(body) % 2:
        raise RowError("parse.no_assistant", "the last user turn has no answer")
    conversation: list[XTunerTurn] = []
    for user, answer in zip(body[0::2], body[1::2], strict=True):
        turn = {"system": system} if system and not conversation else {}
        conversation.append({**turn, "input": user["content"], "output": answer["content"]})
    return {"conversation": conversation}


@dataclass(frozen=True, kw_only=True)
class ToXTuner:
    """Batched :func:`to_xtuner`: ``messages`` -> ``conversation`` (other columns kept).

    Rows already rejected pass through with ``conversation=[]``; rows ``to_xtuner``
    rejects get a ``drop_reason``. Every turn carries a ``system`` key (``None`` after
    the first) so the column has one Arrow type.

    >>> ToXTuner()({"messages": [[{"role": "user", "content": "Hi"},
    ...                           {"role": "assistant", "content": "Yo"}]]})["conversation"]
    [[{'system': None, 'input': 'Hi', 'output': 'Yo'}]]
    """

    OUTPUTS: ClassVar[tuple[str, ...]] = ("conversation",)

    def features(self, input_features: Mapping[str, Any]) -> Any:
        """Output ``datasets.Features`` for ``ds.map(step, batched=True,
        remove_columns=["messages"], features=step.features(ds.features))``."""
        import datasets

        out = {k: v for k, v in input_features.items() if k != "messages"}
        out["conversation"] = feature_of("conversation")
        out.setdefault(DROP_REASON, datasets.Value("string"))
        return datasets.Features(out)

    def __call__(self, batch: Mapping[str, list[Any]]) -> Batch:
        if "messages" not in batch:
            raise SftDataError(f"ToXTuner needs a 'messages' column; got {sorted(batch)}")
        out = map_kept({**batch, "conversation": list(batch["messages"])}, "conversation", _turns)
        out["conversation"] = [
            c if r is None else []
            for c, r in zip(out["conversation"], out["drop_reason"], strict=True)
        ]
        del out["messages"]
        return out


def _turns(messages: Any) -> list[dict[str, str | None]]:
    return [
        {"system": t.get("system"), "input": t["input"], "output": t["output"]}
        for t in to_xtuner(messages)["conversation"]
    ]
