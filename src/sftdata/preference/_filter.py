"""Filters of preference pairs: what a pair must hold to teach a preference at all.

====================== ===========================================================
reason                 the pair is dropped when
====================== ===========================================================
preference.bad_prompt  the prompt is not a conversation ending with a user turn
preference.bad_answer  an answer is not assistant (and tool) turns ending on assistant
preference.empty       the last user turn, or every assistant turn of an answer, is blank
preference.identical   both answers are the same turns (contents compared stripped)
preference.tie         ``score_chosen == score_rejected`` (both given)
preference.length_ratio  the longer answer has over ``max_length_ratio`` times the
                       characters of the shorter one (off unless set)
====================== ===========================================================

Dedup and decontamination of pairs are :mod:`sftdata.dedup` on the ``prompt`` column
(its default for a preference dataset); the clean and safety steps read all three
message columns of a preference dataset (see :mod:`sftdata._texts`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sftdata._batch import batch_len, drop_reasons
from sftdata._contract import DROP_REASON, Batch, Message, RowError, SftDataError
from sftdata._texts import step_features
from sftdata.preference._rows import (
    CHOSEN,
    PROMPT,
    REJECTED,
    SCORE_CHOSEN,
    SCORE_REJECTED,
    check_pair,
)

__all__ = ["PairFilter", "pair_reason"]


def pair_reason(row: Mapping[str, Any], *, max_length_ratio: float | None = None) -> str | None:
    """Why the preference ``row`` should be dropped (see the module table), or ``None``.

    >>> u = [{"role": "user", "content": "2+2?"}]
    >>> pair_reason({"prompt": u, "chosen": "4", "rejected": " 4 "})
    'preference.identical'
    >>> pair_reason({"prompt": u, "chosen": "4", "rejected": "5", "score_chosen": 3,
    ...              "score_rejected": 3})
    'preference.tie'
    >>> pair_reason({"prompt": u, "chosen": "It is 4, of course.", "rejected": "5"},
    ...             max_length_ratio=4.0)
    'preference.length_ratio'
    """
    try:
        prompt, chosen, rejected = check_pair(row.get(PROMPT), row.get(CHOSEN), row.get(REJECTED))
    except RowError as e:
        return e.reason
    if not prompt[-1]["content"].strip() or _blank(chosen) or _blank(rejected):
        return "preference.empty"
    if _turns(chosen) == _turns(rejected):
        return "preference.identical"
    scores = row.get(SCORE_CHOSEN), row.get(SCORE_REJECTED)
    if all(_number(s) for s in scores) and scores[0] == scores[1]:
        return "preference.tie"
    if max_length_ratio is not None:
        a, b = sorted((_chars(chosen), _chars(rejected)))
        if b > max_length_ratio * max(a, 1):
            return "preference.length_ratio"
    return None


def _blank(answer: list[Message]) -> bool:
    return all(not m["content"].strip() for m in answer if m["role"] == "assistant")


def _turns(answer: list[Message]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"].strip()) for m in answer]


def _chars(answer: list[Message]) -> int:
    return sum(len(m["content"]) for m in answer)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True, kw_only=True)
class PairFilter:
    """Batched :func:`pair_reason`: writes ``drop_reason``; every other column untouched,
    rows already rejected pass through.

    >>> PairFilter()({"prompt": [[{"role": "user", "content": "q"}]] * 2,
    ...               "chosen": ["a", "  "], "rejected": ["b", "c"]})["drop_reason"]
    [None, 'preference.empty']
    """

    max_length_ratio: float | None = None

    def __post_init__(self) -> None:
        ratio = self.max_length_ratio
        if ratio is not None and (not _number(ratio) or ratio < 1):
            raise SftDataError(f"max_length_ratio must be a number >= 1 or None, got {ratio!r}")

    def features(self, input_features: Mapping[str, Any]) -> Any:
        """``datasets.Features`` of the output (the input's plus ``drop_reason``)."""
        return step_features(input_features)

    def __call__(self, batch: Batch) -> Batch:
        missing = [c for c in (PROMPT, CHOSEN, REJECTED) if c not in batch]
        if missing:
            raise SftDataError(f"PairFilter: batch has no {missing} column; got {sorted(batch)}")
        reasons = drop_reasons(batch)
        keys = list(batch)
        for i in range(batch_len(batch)):
            if reasons[i] is None:
                row = {k: batch[k][i] for k in keys}
                reasons[i] = pair_reason(row, max_length_ratio=self.max_length_ratio)
        return {**batch, DROP_REASON: reasons}
