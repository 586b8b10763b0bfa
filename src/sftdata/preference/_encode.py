"""Encode preference pairs: the prompt, and each answer as the SFT encoder sees it.

One pair becomes five int32 arrays (labels unshifted, ``-100`` = no loss)::

    prompt_input_ids     <s> [INST] 2+2? [/INST]                 (with the generation prompt)
    chosen_input_ids     <s> [INST] 2+2? [/INST] ▁4 ▁</s>        == sd.encode(prompt + chosen)
    chosen_labels        -100 ...            -100 ▁4 ▁</s>        the answer turn(s) and their end
    rejected_input_ids   <s> [INST] 2+2? [/INST] ▁5 ▁</s>        == sd.encode(prompt + rejected)
    rejected_labels      -100 ...            -100 ▁5 ▁</s>

The two conversations are planned by the :class:`~sftdata.Encode` step's own planner
(so their ids are exactly the SFT encoding, template reference included), the prompt
with the template's generation prompt, and all three rows of every pair of a batch go
to ONE batched tokenizer call. ``prompt_input_ids`` is then checked to be a prefix of
both answers' ids: a pair where it is not (a jinja template that renders the prompt
differently once an answer follows, or a tokenizer that merges the generation prompt's
last characters with the answer's first ones, e.g. byte-level BPE on an answer that
starts with a newline) is rejected as ``preference.prompt_not_prefix``, never trained
on ids the model would not see at inference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass
from typing import Any, Literal

import numpy as np

from sftdata._batch import batch_len, drop_reasons
from sftdata._contract import DROP_REASON, IGNORE_INDEX, Batch, RowError, SftDataError
from sftdata.encode._encode import ChatTemplate, Encode, RecentSteps, _step_key
from sftdata.encode._pieces import Assembled, check_choice, check_max_length, paused_gc, tokenize
from sftdata.encode._plan import PlanCache, Row
from sftdata.preference._rows import CHOSEN, PROMPT, REJECTED, check_pair
from sftdata.templates import get

__all__ = ["PREFERENCE_ENCODED", "EncodePreference", "PreferenceTruncation", "encode_preference"]

#: ``drop`` (default): a pair over a limit is rejected as ``preference.too_long``, so
#: every kept pair keeps the exact SFT encoding; ``truncate``: the prompt is cut from
#: the left to ``max_prompt_length``, then the answers from the right to ``max_length``.
PreferenceTruncation = Literal["drop", "truncate"]

#: The columns :class:`EncodePreference` writes (besides ``drop_reason``).
PREFERENCE_ENCODED = (
    "prompt_input_ids",
    "chosen_input_ids",
    "chosen_labels",
    "rejected_input_ids",
    "rejected_labels",
)

_CACHES = ("_encoder", "_prompts")  # per-process state, never pickled


def encode_preference(
    row: Mapping[str, Any],
    tokenizer: Any,
    template: ChatTemplate | str,
    *,
    max_length: int,
    max_prompt_length: int | None = None,
    truncation: PreferenceTruncation = "drop",
) -> dict[str, np.ndarray]:
    """Encode one preference row (``prompt``, ``chosen``, ``rejected``; see
    :mod:`sftdata.preference`). Raises :class:`~sftdata.RowError` for a row that cannot
    be used (``preference.bad_prompt``, ``preference.bad_answer``,
    ``preference.too_long``, ``preference.prompt_not_prefix``, ``template.*``).

    >>> tok = getfixture("llama_tokenizer")
    >>> row = {"prompt": [{"role": "user", "content": "2+2?"}],
    ...        "chosen": [{"role": "assistant", "content": "4"}],
    ...        "rejected": [{"role": "assistant", "content": "5"}]}
    >>> out = encode_preference(row, tok, "llama2", max_length=64)
    >>> tok.decode(out["prompt_input_ids"]), tok.decode(out["chosen_input_ids"])
    ('<s> [INST] 2+2? [/INST]', '<s> [INST] 2+2? [/INST] 4 </s>')
    >>> tok.decode([t for t in out["rejected_labels"] if t != -100])
    '5 </s>'
    """
    settings = (template, max_length, max_prompt_length, truncation)
    key = _step_key(tokenizer, settings)
    step = _RECENT.get(tokenizer, key)
    if step is None:
        step = EncodePreference(
            tokenizer,
            template,
            max_length=max_length,
            max_prompt_length=max_prompt_length,
            truncation=truncation,
        )
        _RECENT.put(key, step)
    batch = {PROMPT: [row.get(PROMPT)], CHOSEN: [row.get(CHOSEN)], REJECTED: [row.get(REJECTED)]}
    out, errors = step._run(batch)
    if 0 in errors:
        raise errors[0]
    return {k: out[k][0] for k in PREFERENCE_ENCODED}


_RECENT: RecentSteps[EncodePreference] = RecentSteps(4)


@dataclass(frozen=True)
class EncodePreference:
    """Batched step of :func:`encode_preference`: reads ``prompt`` / ``chosen`` /
    ``rejected``, adds the five encoded columns (:data:`PREFERENCE_ENCODED`).

    Contract, for every template: ``chosen_input_ids`` equals
    ``sd.encode(prompt + chosen, ...)["input_ids"]`` (same tokenizer and template), and
    likewise for rejected; ``prompt_input_ids`` (with the generation prompt) is a prefix
    of both; the labels train exactly the answer turns and their end token. Rows it
    rejects keep their place with empty arrays and a ``drop_reason``; rows that already
    carry one pass through. ``max_length`` bounds each of the two sequences;
    ``max_prompt_length`` the prompt; ``truncation`` says what happens over a limit
    (:data:`PreferenceTruncation`, default ``drop``).

    >>> tok = getfixture("llama_tokenizer")
    >>> step = EncodePreference(tok, "chatml", max_length=16)
    Traceback (most recent call last):
    ...
    sftdata._contract.SftDataError: control token '<|im_end|>' of the template is not ...
    >>> step = EncodePreference(tok, "llama2", max_length=16)
    >>> out = step({"prompt": ["Hi", "Hi"], "chosen": ["Hello", "Hey " * 20],
    ...             "rejected": ["Go away", "Bye"]})
    >>> out["drop_reason"], out["chosen_input_ids"][0].dtype
    ([None, 'preference.too_long'], dtype('int32'))
    """

    tokenizer: Any
    template: ChatTemplate | str
    _: KW_ONLY
    max_length: int
    max_prompt_length: int | None = None
    truncation: PreferenceTruncation = "drop"

    def __post_init__(self) -> None:
        if isinstance(self.template, str):
            object.__setattr__(self, "template", get(self.template))
        check_max_length(self.max_length, optional=False)
        check_choice("truncation", self.truncation, ("drop", "truncate"))
        if self.max_prompt_length is not None:
            check_max_length(self.max_prompt_length, optional=False)
            if self.max_prompt_length >= self.max_length:
                raise SftDataError(
                    f"max_prompt_length ({self.max_prompt_length}) must be below "
                    f"max_length ({self.max_length}): the answers need room"
                )
        self._inner()  # checks the tokenizer and the template's control tokens now

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in _CACHES}

    def _inner(self) -> Encode:
        """The SFT encoder of the two conversations (no limit: the pair's limits apply)."""
        encoder = self.__dict__.get("_encoder")
        if encoder is None:
            encoder = Encode(self.tokenizer, self.template, max_length=2**31 - 1)
            object.__setattr__(self, "_encoder", encoder)
        return encoder

    def _prompt_planner(self) -> PlanCache:
        """Plans of the prompts with the generation prompt: compiled once per shape for
        a built-in template, as the conversations are."""
        planner = self.__dict__.get("_prompts")
        if planner is None:
            bos = self.tokenizer.bos_token
            planner = PlanCache(
                self.template, loss_on="all", eos=True, bos=bos, generation_prompt=True
            )
            object.__setattr__(self, "_prompts", planner)
        return planner

    def features(self, input_features: Mapping[str, Any] | None = None) -> Any:
        """``datasets.Features`` of the columns this step writes (``sd.apply`` reads it)."""
        import datasets

        del input_features  # carried columns keep their own types
        ids = datasets.List(datasets.Value("int32"))
        out = {name: ids for name in PREFERENCE_ENCODED}
        return datasets.Features({**out, DROP_REASON: datasets.Value("string")})

    def __call__(self, batch: Mapping[str, list[Any]]) -> Batch:
        with paused_gc():
            return self._run(batch)[0]

    def _run(self, batch: Mapping[str, list[Any]]) -> tuple[Batch, dict[int, RowError]]:
        missing = [c for c in (PROMPT, CHOSEN, REJECTED) if c not in batch]
        if missing:
            raise SftDataError(
                f"EncodePreference: batch has no {missing} column; got {sorted(batch)}"
            )
        n = batch_len(batch)
        reasons = drop_reasons(batch)
        errors: dict[int, RowError] = {}
        plans: list[Row | None] = [None] * (3 * n)  # [prompts | chosen | rejected]
        conversation = self._inner()._planner().plan
        prompt_plan = self._prompt_planner().plan
        for i in range(n):
            if reasons[i] is not None:
                continue
            try:
                prompt, chosen, rejected = check_pair(
                    batch[PROMPT][i], batch[CHOSEN][i], batch[REJECTED][i]
                )
                plans[n + i] = conversation(prompt + chosen)
                plans[2 * n + i] = conversation(prompt + rejected)
                plans[i] = prompt_plan(prompt)
            except RowError as e:
                reasons[i], errors[i] = e.reason, e
                plans[i] = plans[n + i] = plans[2 * n + i] = None
        tokens = tokenize(self.tokenizer, plans, self._inner()._shared())
        columns: dict[str, list[np.ndarray]] = {k: [] for k in PREFERENCE_ENCODED}
        empty = np.zeros(0, np.int32)
        for i in range(n):
            row = None
            if reasons[i] is None:
                try:
                    row = self._pair(tokens, i, n)
                except RowError as e:
                    reasons[i], errors[i] = e.reason, e
            for k in PREFERENCE_ENCODED:
                columns[k].append(row[k] if row is not None else empty)
        return {**batch, **columns, DROP_REASON: reasons}, errors

    def _pair(self, tokens: Assembled, i: int, n: int) -> dict[str, np.ndarray]:
        """One pair's arrays from the batch's tokens, limits applied."""
        prompt = _span(tokens, i)
        p = len(prompt)
        out: dict[str, np.ndarray] = {"prompt_input_ids": prompt}
        answers = []
        for side, r in ((CHOSEN, n + i), (REJECTED, 2 * n + i)):
            ids = _span(tokens, r)
            if len(ids) < p or ids[:p].tobytes() != prompt.tobytes():
                raise RowError(
                    "preference.prompt_not_prefix",
                    f"the prompt's ids (with the generation prompt) are not a prefix of the "
                    f"{side} conversation's ids: the template or tokenizer joins them differently",
                )
            labels = tokens.labels[slice(*_bounds(tokens, r))].copy()
            labels[:p] = IGNORE_INDEX
            answers.append((side, ids, labels))
        keep = self._limits(p, max(len(ids) for _, ids, _ in answers) - p)
        cut = p - keep[0]  # prompt tokens cut from the left
        out["prompt_input_ids"] = prompt[cut:]
        for side, ids, labels in answers:
            end = min(len(ids), p + keep[1])
            if not (labels[p:end] != IGNORE_INDEX).any():
                raise RowError(
                    "preference.too_long", f"truncation leaves the {side} answer no label"
                )
            out[f"{side}_input_ids"] = ids[cut:end]
            out[f"{side}_labels"] = labels[cut:end]
        return out

    def _limits(self, prompt: int, answer: int) -> tuple[int, int]:
        """(prompt tokens kept, answer tokens kept) under the limits; RowError if the
        pair is too long and ``truncation="drop"`` or nothing of the answers fits."""
        over_prompt = self.max_prompt_length is not None and prompt > self.max_prompt_length
        if not over_prompt and prompt + answer <= self.max_length:
            return prompt, answer
        why = f"prompt {prompt} + answer {answer} tokens over max_length {self.max_length}"
        if over_prompt:
            why = f"prompt {prompt} tokens > max_prompt_length {self.max_prompt_length}"
        if self.truncation == "drop":
            raise RowError("preference.too_long", why)
        if over_prompt:
            assert self.max_prompt_length is not None
            prompt = self.max_prompt_length
        room = self.max_length - prompt
        if room <= 0:
            raise RowError("preference.too_long", why + "; no room is left for the answers")
        return prompt, min(answer, room)


def _bounds(tokens: Assembled, r: int) -> tuple[int, int]:
    bound = tokens.bounds[r]
    assert bound is not None
    return bound


def _span(tokens: Assembled, r: int) -> np.ndarray:
    a, b = _bounds(tokens, r)
    return tokens.ids[a:b]
