"""Preference pairs in a report: chosen against rejected answer lengths.

Length is DPO's best-known exploit: when chosen answers are mostly the longer ones, a
model learns "longer is better". For the kept pairs of a preference dataset
(``prompt`` / ``chosen`` / ``rejected``) :func:`pair_lengths` measures each answer
(its turns' contents, in tokens with a tokenizer, else characters) and the share of
pairs where the chosen answer is longer, shorter or as long.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["answer_text", "pair_lengths", "pair_markdown"]


def answer_text(value: Any) -> str:
    """The contents of an answer's turns, joined by newlines (``""`` for a bad value)."""
    if isinstance(value, str):
        return value
    msgs = value if isinstance(value, list) else []
    return "\n".join(
        m["content"] for m in msgs if isinstance(m, Mapping) and isinstance(m.get("content"), str)
    )


def pair_lengths(
    chosen: Sequence[Any],
    rejected: Sequence[Any],
    *,
    count: Callable[[list[str]], list[int]] | None,
    summary: Callable[[Sequence[int]], dict[str, float]],
) -> dict[str, Any]:
    """Length summaries of both answers and the shares of longer/shorter chosen answers.

    ``count`` turns texts into token counts (``None``: characters).

    >>> from sftdata.stats._report import _summary
    >>> out = pair_lengths(["a long answer", "b"], ["short", "longer"], count=None,
    ...                    summary=_summary)
    >>> out["unit"], out["chosen_longer"], out["chosen_shorter"], out["chosen"]["max"]
    ('chars', 0.5, 0.5, 13)
    """
    texts = [answer_text(v) for v in (*chosen, *rejected)]
    lengths = count(texts) if count is not None else [len(t) for t in texts]
    n = len(chosen)
    a, b = lengths[:n], lengths[n:]
    share = (lambda k: k / n) if n else (lambda k: 0.0)
    return {
        "unit": "chars" if count is None else "tokens",
        "pairs": n,
        "chosen": summary(a),
        "rejected": summary(b),
        "chosen_longer": share(sum(x > y for x, y in zip(a, b, strict=True))),
        "chosen_shorter": share(sum(x < y for x, y in zip(a, b, strict=True))),
        "same_length": share(sum(x == y for x, y in zip(a, b, strict=True))),
    }


def pair_markdown(pairs: Mapping[str, Any], fmt: Callable[[float], str]) -> list[str]:
    """Markdown lines of :func:`pair_lengths`' result."""
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
