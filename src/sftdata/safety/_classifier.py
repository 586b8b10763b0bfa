"""``ClassifierFilter``: any ``texts -> scores`` callable, thresholded into rejects.

The scorer is called once per batch with every text of every kept row (all message
contents of ``messages`` rows, or only those of ``roles``). A row's score is the
highest score of its texts; rows scoring ``>= threshold`` are rejected.

A scorer may return, per text:

- a number;
- a ``{"label": str, "score": float}`` dict: with ``label=`` set, its score counts only
  when its label is that label (else 0), which is what a transformers
  ``text-classification`` pipeline returns by default (its top label);
- a list of such dicts (a pipeline called with ``top_k=None``): the score of ``label``.

>>> shouty = lambda texts: [sum(c.isupper() for c in t) / max(len(t), 1) for t in texts]
>>> step = ClassifierFilter(scorer=shouty, threshold=0.5, reason="safety.shouting")
>>> step({"text": ["hello there", "STOP THAT"]})["drop_reason"]
[None, 'safety.shouting']
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sftdata._batch import drop_reasons
from sftdata._contract import DROP_REASON, ROLES, Batch, RowError, SftDataError
from sftdata._texts import (
    Column,
    check_column,
    over_preference_rows,
    pick_column,
    row_texts,
    step_features,
)
from sftdata.safety._apply import BAD_ROW

Scorer = Callable[[list[str]], Sequence[Any]]


def _one_score(out: Any, label: str | None, i: int) -> float:
    if isinstance(out, numbers.Real) and not isinstance(out, bool):
        score = float(out)
    elif isinstance(out, Mapping) and "score" in out:
        score = float(out["score"]) if label is None or out.get("label") == label else 0.0
    elif isinstance(out, Sequence) and all(isinstance(o, Mapping) for o in out):
        if label is None:
            raise SftDataError(f"scorer output {i} lists several labels; set label= to pick one")
        score = max((float(o["score"]) for o in out if o.get("label") == label), default=0.0)
    else:
        raise SftDataError(f"scorer output {i} is {out!r}: expected a number or label/score dicts")
    if not math.isfinite(score):
        raise SftDataError(f"scorer output {i} is not a finite number: {score}")
    return score


def score_texts(texts: list[str], scorer: Scorer, *, label: str | None = None) -> list[float]:
    """Call ``scorer`` on ``texts`` once and read one float per text.

    >>> score_texts(["a", "b"], lambda ts: [{"label": "toxic", "score": 0.9}] * len(ts), label="toxic")
    [0.9, 0.9]
    """
    outputs = list(scorer(list(texts))) if texts else []
    if len(outputs) != len(texts):
        raise SftDataError(f"scorer returned {len(outputs)} outputs for {len(texts)} texts")
    return [_one_score(o, label, i) for i, o in enumerate(outputs)]


@dataclass(frozen=True, kw_only=True)
class ClassifierFilter:
    """Batched step: reject rows whose classifier score reaches ``threshold``.

    ``scorer`` must be picklable for ``num_proc`` / Ray (a module-level function or a
    callable object); a transformers pipeline works in one process. ``roles`` limits
    which messages are scored (default: all). Rows that have no scored text are kept.
    """

    scorer: Scorer
    threshold: float = 0.5
    label: str | None = None
    reason: str = "safety.classifier"
    roles: tuple[str, ...] | None = None
    column: Column = "auto"

    def __post_init__(self) -> None:
        if not callable(self.scorer):
            raise SftDataError(f"scorer must be callable, got {type(self.scorer).__name__}")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, numbers.Real):
            raise SftDataError(f"threshold must be a number, got {self.threshold!r}")
        if not math.isfinite(self.threshold):
            raise SftDataError(f"threshold must be finite, got {self.threshold}")
        if not isinstance(self.reason, str) or not self.reason:
            raise SftDataError(
                f"reason must be a non-empty str such as 'safety.toxic', got {self.reason!r}"
            )
        if self.roles is not None:
            if isinstance(self.roles, str):
                raise SftDataError(f"roles must be a tuple of roles, not the string {self.roles!r}")
            object.__setattr__(self, "roles", tuple(self.roles))
            bad = [r for r in self.roles if r not in ROLES]
            if bad:
                raise SftDataError(f"roles: unknown role(s) {bad}; known: {list(ROLES)}")
        check_column(self.column)

    def features(self, input_features: Mapping[str, Any]) -> Any:
        """``datasets.Features`` of the output (the input's plus ``drop_reason``)."""
        return step_features(input_features)

    @over_preference_rows
    def __call__(self, batch: Batch) -> Batch:
        column = pick_column(batch, self.column)
        reasons = drop_reasons(batch)
        owners: list[int] = []  # row index of each text sent to the scorer
        texts: list[str] = []
        for i, value in enumerate(batch[column]):
            if reasons[i] is not None:
                continue
            try:
                found = row_texts(value, column, step=BAD_ROW, roles=self.roles)
            except RowError as e:
                reasons[i] = e.reason
                continue
            owners += [i] * len(found)
            texts += found
        for i, score in zip(owners, score_texts(texts, self.scorer, label=self.label), strict=True):
            if score >= self.threshold and reasons[i] is None:
                reasons[i] = self.reason
        out: Batch = {k: list(v) for k, v in batch.items()}
        out[DROP_REASON] = reasons
        return out
