"""Preference pairs in a report: chosen against rejected answer lengths.

Length is DPO's best-known exploit: when chosen answers are mostly the longer ones, a
model learns "longer is better". For the kept pairs of a preference dataset
(``prompt`` / ``chosen`` / ``rejected``) :func:`measure_pairs` measures each answer
(its turns' contents, in tokens with a tokenizer, else characters) and counts the pairs
where the chosen answer is longer, shorter or as long. The counts of two parts add up
(``a + b``); :meth:`PairStats.to_dict` turns them into summaries and shares.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from sftdata._contract import SftDataError
from sftdata.stats._lengths import LengthCounts

__all__ = ["PairStats", "answer_text", "measure_pairs", "pair_markdown"]


def answer_text(value: Any) -> str:
    """The contents of an answer's turns, joined by newlines (``""`` for a bad value)."""
    if isinstance(value, str):
        return value
    msgs = value if isinstance(value, list) else []
    return "\n".join(
        m["content"] for m in msgs if isinstance(m, Mapping) and isinstance(m.get("content"), str)
    )


@dataclass(frozen=True)
class PairStats:
    """Answer lengths of preference pairs, and how many chosen answers are longer,
    shorter or as long as their rejected one. Merge parts with ``+``."""

    unit: Literal["chars", "tokens"]
    chosen: LengthCounts
    rejected: LengthCounts
    longer: int
    shorter: int
    same: int

    @property
    def pairs(self) -> int:
        return self.longer + self.shorter + self.same

    def __add__(self, other: PairStats) -> PairStats:
        if self.unit != other.unit:
            raise SftDataError(
                f"cannot merge answer lengths in {self.unit} with answer lengths in {other.unit}"
            )
        return PairStats(
            self.unit,
            self.chosen + other.chosen,
            self.rejected + other.rejected,
            self.longer + other.longer,
            self.shorter + other.shorter,
            self.same + other.same,
        )

    def to_dict(self) -> dict[str, Any]:
        """Length summaries of both answers and the shares of longer/shorter chosen answers.

        >>> p = measure_pairs(["a long answer", "b"], ["short", "longer"], count=None)
        >>> out = p.to_dict()
        >>> out["unit"], out["chosen_longer"], out["chosen_shorter"], out["chosen"]["max"]
        ('chars', 0.5, 0.5, 13)
        """
        n = self.pairs
        share = (lambda k: k / n) if n else (lambda k: 0.0)
        return {
            "unit": self.unit,
            "pairs": n,
            "chosen": self.chosen.summary(),
            "rejected": self.rejected.summary(),
            "chosen_longer": share(self.longer),
            "chosen_shorter": share(self.shorter),
            "same_length": share(self.same),
        }


def measure_pairs(
    chosen: Sequence[Any],
    rejected: Sequence[Any],
    *,
    count: Callable[[list[str]], list[int]] | None,
) -> PairStats:
    """The :class:`PairStats` of aligned ``chosen`` / ``rejected`` answers; ``count``
    turns texts into token counts (``None``: characters)."""
    texts = [answer_text(v) for v in (*chosen, *rejected)]
    lengths = np.asarray(
        count(texts) if count is not None else [len(t) for t in texts], dtype=np.int64
    )
    a, b = lengths[: len(chosen)], lengths[len(chosen) :]
    return PairStats(
        unit="chars" if count is None else "tokens",
        chosen=LengthCounts.of(a),
        rejected=LengthCounts.of(b),
        longer=int((a > b).sum()),
        shorter=int((a < b).sum()),
        same=int((a == b).sum()),
    )


def pair_markdown(pairs: Mapping[str, Any], fmt: Callable[[float], str]) -> list[str]:
    """Markdown lines of :meth:`PairStats.to_dict`'s result."""
    unit = pairs["unit"]
    out = ["", f"| answer {unit} | mean | p50 | p90 | max |", "|---|---:|---:|---:|---:|"]
    for side in ("chosen", "rejected"):
        s = pairs[side]
        out.append(
            f"| {side} | " + " | ".join(fmt(s[k]) for k in ("mean", "p50", "p90", "max")) + " |"
        )
    out += [
        "",
        f"chosen longer in {pairs['chosen_longer']:.1%} of {pairs['pairs']} pairs, "
        f"shorter in {pairs['chosen_shorter']:.1%}, as long in {pairs['same_length']:.1%}",
    ]
    return out
