"""Ready-made GRPO reward functions (``grpo.rewards: ["sfttrain.rewards:NAME"]``).

TRL's calling convention: ``fn(prompts, completions, **columns) -> list[float]``, one
float per completion; a completion is ``[{"role": "assistant", "content": text}]`` (or
plain text for text prompts).

>>> contains_answer([None], [[{"role": "assistant", "content": "It is Paris."}]], answer=["paris"])
[1.0]
>>> lowercase_share([None], ["abC!"])
[0.5]
"""

from __future__ import annotations

from typing import Any


def _text(completion: Any) -> str:
    if isinstance(completion, str):
        return completion
    return "".join(str(m.get("content", "")) for m in completion)


def contains_answer(prompts: list[Any], completions: list[Any], **columns: Any) -> list[float]:
    """1.0 when the row's ``answer`` column occurs in the completion (case-insensitive)."""
    answers = columns.get("answer") or [""] * len(completions)
    return [
        float(bool(a) and str(a).lower() in _text(c).lower())
        for c, a in zip(completions, answers, strict=True)
    ]


def lowercase_share(prompts: list[Any], completions: list[Any], **_: Any) -> list[float]:
    """Share of the completion's characters that are ASCII lowercase letters (0 when empty).

    Dense and easy to move: a tiny model learns it in a few GRPO steps (used by the tests).
    """
    out = []
    for c in completions:
        text = _text(c)
        out.append(sum("a" <= ch <= "z" for ch in text) / len(text) if text else 0.0)
    return out
