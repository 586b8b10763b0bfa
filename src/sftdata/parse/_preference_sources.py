"""Preference data as published: Anthropic HH transcripts, UltraFeedback rated completions.

Both parsers write the canonical preference row (see :mod:`sftdata.parse._preference`).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from sftdata._contract import Batch, Message, RowError
from sftdata.parse._common import ParseStep, as_row, check_choice, check_keep, get_str
from sftdata.parse._preference import (
    PREFERENCE_KEEP,
    PreferenceRow,
    canonical,
    messages_of,
    shared_prompt,
)

# A turn starts at "Human:" / "Assistant:" opening the text or after a blank line, as
# the HH-RLHF transcripts write them; anywhere else the words are content.
_HH_MARKER = re.compile(r"(?:^|\n\n)(Human|Assistant):")
_HH_ROLE = {"Human": "user", "Assistant": "assistant"}


def anthropic_hh(row: Mapping[str, Any]) -> PreferenceRow:
    """Parse one Anthropic HH-RLHF row (``chosen`` / ``rejected`` transcripts).

    Each transcript is ``\\n\\nHuman: ...\\n\\nAssistant: ...`` turns (contents stripped);
    the two share every turn but the last answer(s), and the prompt is their common
    prefix up to its last user turn.

    >>> row = {"chosen": "\\n\\nHuman: Hi?\\n\\nAssistant: Hello!",
    ...        "rejected": "\\n\\nHuman: Hi?\\n\\nAssistant: Go away."}
    >>> out = anthropic_hh(row)
    >>> out["prompt"], out["chosen"]
    ([{'role': 'user', 'content': 'Hi?'}], [{'role': 'assistant', 'content': 'Hello!'}])

    Raises :class:`~sftdata.RowError`: ``parse.missing_field:chosen|rejected``,
    ``parse.bad_field:<side>``, ``parse.malformed`` (text outside any turn, or no
    turn), ``parse.missing_field:prompt`` (no shared user turn), ``preference.identical``
    and the codes of :func:`~sftdata.parse.preference`.
    """
    row = as_row(row)
    chosen = _transcript(get_str(row, "chosen"), "chosen")
    rejected = _transcript(get_str(row, "rejected"), "rejected")
    return canonical(shared_prompt(chosen, rejected), chosen, rejected)


def _transcript(text: str, side: str) -> list[Message]:
    parts = _HH_MARKER.split(text)
    if len(parts) == 1:
        raise RowError("parse.malformed", f"{side} has no 'Human:' / 'Assistant:' turn")
    if parts[0].strip():
        raise RowError("parse.malformed", f"{side} has text before its first turn")
    return [
        {"role": _HH_ROLE[name], "content": content.strip()}
        for name, content in zip(parts[1::2], parts[2::2], strict=True)
    ]


Binarize = Literal["best_vs_worst", "best_vs_random"]
_SCORE_KEYS = ("overall_score", "score", "rating")
_TEXT_KEYS = ("response", "text", "content")


def ultrafeedback(
    row: Mapping[str, Any],
    *,
    binarize: Binarize = "best_vs_worst",
    seed: int = 0,
    score_key: str | None = None,
) -> dict[str, Any]:
    """Binarize one UltraFeedback-style row: a prompt and several rated completions.

    The prompt is ``prompt`` or ``instruction`` (text or messages); ``completions`` is
    a list of ``{response | text | content, <score>}``, the score read from
    ``score_key`` (default: the first of ``overall_score``, ``score``, ``rating``);
    completions without a numeric score are unrated and skipped. ``chosen`` is the
    best-rated (the first of equals); ``rejected`` the worst-rated
    (``best_vs_worst``), or one drawn among those rated below the best
    (``best_vs_random``: the draw depends on ``seed`` and the prompt only, so it is the
    same in any batch and process). The scores go to ``score_chosen`` /
    ``score_rejected``.

    >>> row = {"instruction": "2+2?", "completions": [
    ...     {"response": "5", "overall_score": 2}, {"response": "4", "overall_score": 9.5},
    ...     {"response": "four", "overall_score": 8}]}
    >>> out = ultrafeedback(row)
    >>> out["chosen"], out["rejected"], out["score_chosen"], out["score_rejected"]
    ([{'role': 'assistant', 'content': '4'}], [{'role': 'assistant', 'content': '5'}], 9.5, 2.0)

    Raises :class:`~sftdata.RowError`: ``parse.missing_field:prompt|completions``,
    ``parse.bad_field:completions``, ``parse.too_few_completions`` (fewer than two
    rated), ``preference.tie`` (no completion is rated below the best), and the codes
    of :func:`~sftdata.parse.preference`.
    """
    check_choice("binarize", binarize, ("best_vs_worst", "best_vs_random"))
    row = as_row(row)
    prompt = _uf_prompt(row)
    rated = _rated(row, score_key)
    if len(rated) < 2:
        raise RowError("parse.too_few_completions", f"{len(rated)} rated completion(s), need 2")
    best = max(range(len(rated)), key=lambda i: (rated[i][1], -i))
    top = rated[best][1]
    below = [i for i, (_, score) in enumerate(rated) if score < top]
    if not below:
        raise RowError("preference.tie", f"every rated completion scores {top}")
    if binarize == "best_vs_worst":
        worst = min(below, key=lambda i: (rated[i][1], i))
    else:
        worst = _draw(seed, prompt).choice(below)
    out: dict[str, Any] = dict(canonical(prompt, [rated[best][0]], [rated[worst][0]]))
    out["score_chosen"], out["score_rejected"] = top, rated[worst][1]
    return out


def _uf_prompt(row: Mapping[str, Any]) -> list[Message]:
    for key in ("prompt", "instruction"):
        value = row.get(key)
        if isinstance(value, str):
            return [{"role": "user", "content": value}]
        if value is not None:
            return messages_of(value, key)
    raise RowError("parse.missing_field:prompt", "neither 'prompt' nor 'instruction' is given")


def _rated(row: Mapping[str, Any], score_key: str | None) -> list[tuple[Message, float]]:
    completions = row.get("completions")
    if completions is None:
        raise RowError("parse.missing_field:completions", "field 'completions' is missing")
    if not isinstance(completions, (list, tuple)):
        raise RowError("parse.bad_field:completions", "field 'completions' must be a list")
    out: list[tuple[Message, float]] = []
    for i, item in enumerate(completions):
        if not isinstance(item, Mapping):
            raise RowError("parse.bad_field:completions", f"completions[{i}] must be a mapping")
        text = next((item[k] for k in _TEXT_KEYS if k in item), None)
        if not isinstance(text, str):
            raise RowError("parse.bad_field:completions", f"completions[{i}] has no text")
        keys = (score_key,) if score_key is not None else _SCORE_KEYS
        score = next((item[k] for k in keys if k in item), None)
        if isinstance(score, (int, float)) and not isinstance(score, bool) and math.isfinite(score):
            out.append(({"role": "assistant", "content": text}, float(score)))
    return out


def _draw(seed: int, prompt: list[Message]) -> random.Random:
    """A generator fixed by ``seed`` and the prompt alone (stable across processes)."""
    key = json.dumps([seed, prompt], ensure_ascii=False, sort_keys=True).encode()
    return random.Random(int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big"))


@dataclass(frozen=True, kw_only=True)
class AnthropicHH(ParseStep):
    """Batched :func:`anthropic_hh`: ``chosen`` / ``rejected`` transcripts -> ``prompt``,
    ``chosen``, ``rejected`` (+ ``drop_reason``, ``raw``).

    >>> AnthropicHH()({"chosen": ["Hi"], "rejected": ["Hey"]})["drop_reason"]
    ['parse.malformed']
    """

    OUTPUTS: ClassVar[tuple[str, ...]] = ("prompt", "chosen", "rejected")
    REQUIRED: ClassVar[tuple[str, ...]] = ("chosen", "rejected")
    keep: tuple[str, ...] = PREFERENCE_KEEP

    def __post_init__(self) -> None:
        object.__setattr__(self, "keep", check_keep(self.keep, self.OUTPUTS))

    def _parse_row(self, row: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [dict(anthropic_hh(row))]


_SCORES = ("score_chosen", "score_rejected")


@dataclass(frozen=True, kw_only=True)
class UltraFeedback(ParseStep):
    """Batched :func:`ultrafeedback`: ``prompt`` | ``instruction`` and ``completions`` ->
    ``prompt``, ``chosen``, ``rejected``, ``score_chosen``, ``score_rejected`` (``None`` on
    a rejected row) (+ ``drop_reason``, ``raw``).

    >>> step = UltraFeedback(binarize="best_vs_random", seed=3)
    >>> out = step({"prompt": ["Hi"], "completions": [[{"text": "a", "score": 1},
    ...                                                 {"text": "b", "score": 1}]]})
    >>> out["drop_reason"], out["score_chosen"]
    (['preference.tie'], [None])
    """

    OUTPUTS: ClassVar[tuple[str, ...]] = ("prompt", "chosen", "rejected", *_SCORES)
    REQUIRED: ClassVar[tuple[str, ...]] = ("completions",)
    binarize: Binarize = "best_vs_worst"
    seed: int = 0
    score_key: str | None = None
    keep: tuple[str, ...] = PREFERENCE_KEEP[:-2]

    def __post_init__(self) -> None:
        check_choice("binarize", self.binarize, ("best_vs_worst", "best_vs_random"))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise TypeError(f"seed must be an int, got {self.seed!r}")
        if self.score_key is not None and not isinstance(self.score_key, str):
            raise TypeError(
                f"score_key must be a column name (str) or None, got {self.score_key!r}"
            )
        object.__setattr__(self, "keep", check_keep(self.keep, self.OUTPUTS))

    def _parse_row(self, row: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [
            ultrafeedback(row, binarize=self.binarize, seed=self.seed, score_key=self.score_key)
        ]

    def __call__(self, batch: Mapping[str, list[Any]]) -> Batch:
        out = super().__call__(batch)
        for name in _SCORES:  # a rejected row's score is None, not the messages' []
            out[name] = [None if s == [] else s for s in out[name]]
        return out

    def features(self, input_features: Mapping[str, Any]) -> Any:
        """As every parser's, with the scores as float64."""
        import datasets

        out = super().features(input_features)
        for name in _SCORES:
            out[name] = datasets.Value("float64")
        return out
