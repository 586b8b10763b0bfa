"""Encode conversations into ``input_ids`` / ``labels`` / ``attention_mask``.

Render once, tokenize once with offsets, derive the label mask from character spans::

    segments   <|im_start|> | user\\nhi | <|im_end|> | \\n | <|im_start|> | assistant\\nyo | <|im_end|> | \\n
    pieces     [special]      [text .....] [special]  [text.......][special]  [text ........] [special]  [text]
    train      .              . .          .          .  .           .          . .   yo       <|im_end|>  .
    labels     -100          -100 -100    -100       -100           -100     -100 -100 id(yo)  id(<|im_end|>) -100

The template says which characters are trained (:class:`sftdata.templates.Segment`
``train``); :func:`sftdata.templates.split_pieces` says how the text is cut into
tokenizer calls. Control tokens are emitted only by the template, looked up one by
one; text pieces of *all* rows of a batch go to ONE tokenizer call with
``add_special_tokens=False`` (the template owns BOS/EOS) and
``split_special_tokens=True`` (content that looks like ``</s>`` stays text). A token is
trained iff its character range overlaps a trained segment.

How it stays fast (each part is property-tested against the per-row reference
:func:`sftdata.templates.token_ids` and token-by-token labels):

* a built-in template's plan is compiled once per conversation *shape* (roles, and
  which contents are empty or blank) and filled per row (:mod:`sftdata.encode._plan`);
* control tokens and glue pieces without content (the ``\n`` between ChatML turns)
  are tokenized once per step and copied;
* the content pieces of the whole batch go to the Rust tokenizer as pre-split words
  of a few dozen sequences, and rows are assembled with a handful of numpy calls
  (:mod:`sftdata.encode._pieces`).
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar

import numpy as np

from sftdata._batch import batch_len, drop_reasons
from sftdata._contract import MESSAGES, TEXT, Batch, RowError, SftDataError
from sftdata._sentencepiece import warn_if_unlike_sentencepiece
from sftdata._tokenizer_copies import plain_backend, state
from sftdata.encode._pieces import (
    SharedPieces,
    check_choice,
    check_max_length,
    check_tokenizer,
    control_tokens,
    encoded_features,
    finish,
    paused_gc,
    single_row,
    tokenize,
)
from sftdata.encode._plan import SPECIAL, START, PlanCache, Program, Row
from sftdata.templates import Segment, get
from sftdata.templates._segments import special_token_id

LossOn = Literal["assistant", "last", "all"]
Truncation = Literal["drop", "truncate", "raise"]

__all__ = ["Encode", "EncodeText", "LossOn", "Truncation", "encode", "encode_text"]


class ChatTemplate(Protocol):
    """What the encoder needs from a template (``Template`` or ``JinjaTemplate``)."""

    name: str

    def segments(
        self, messages: Sequence[Any], *, add_generation_prompt: bool = False
    ) -> list[Segment]: ...


def encode(
    messages: Sequence[Mapping[str, Any]],
    tokenizer: Any,
    template: ChatTemplate | str,
    *,
    max_length: int,
    loss_on: LossOn = "assistant",
    train_on_eos: bool = True,
    truncation: Truncation = "drop",
) -> dict[str, np.ndarray]:
    """Encode one conversation; ``labels`` are unshifted, ``-100`` where no loss.

    Returns int32 ``input_ids`` / ``labels`` and int8 ``attention_mask`` (numpy). With
    ``truncation="truncate"`` also ``truncated``: how many tokens were cut from the
    right. Raises :class:`~sftdata.RowError` (``encode.too_long``,
    ``encode.no_trained_tokens``, ``parse.*``, ``template.*``) for a row that cannot
    be used. The :class:`Encode` step of the last four (tokenizer, template, settings)
    is kept and reused while the tokenizer is unchanged (those tokenizers stay in
    memory meanwhile); for many rows, the batched ``Encode`` is much faster.

    >>> tok = getfixture("llama_tokenizer")
    >>> msgs = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    >>> row = encode(msgs, tok, "llama2", max_length=64)
    >>> tok.decode(row["input_ids"])
    '<s> [INST] Hi [/INST] Hello! </s>'
    >>> tok.decode([t for t in row["labels"] if t != -100])   # the answer and its EOS
    'Hello! </s>'
    """
    key = _step_key(tokenizer, (template, max_length, loss_on, train_on_eos, truncation))
    step = _RECENT.get(tokenizer, key)
    if step is None:
        step = Encode(
            tokenizer,
            template,
            max_length=max_length,
            loss_on=loss_on,
            train_on_eos=train_on_eos,
            truncation=truncation,
        )
        _RECENT.put(key, step)
    return single_row(*step._run({MESSAGES: [messages]}))


# encode() reuses the steps of its last few (tokenizer, template, settings): a step's
# compiled shapes and shared pieces would otherwise be rebuilt for every row. A step
# is found only for the same tokenizer object in the same state (see
# sftdata._tokenizer_copies.state), so a tokenizer changed in between gets a new step.
S = TypeVar("S")


class RecentSteps(Generic[S]):
    """The steps of the last ``size`` keys, most recent last (thread-safe). A step is
    returned only for the very tokenizer object it was built with."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._steps: collections.OrderedDict[tuple[Any, ...], S] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, tokenizer: Any, key: tuple[Any, ...] | None) -> S | None:
        if key is None:
            return None
        with self._lock:
            step = self._steps.get(key)
            if step is not None and step.tokenizer is tokenizer:  # type: ignore[attr-defined]
                self._steps.move_to_end(key)
                return step
        return None

    def put(self, key: tuple[Any, ...] | None, step: S) -> None:
        if key is None:
            return
        with self._lock:
            self._steps[key] = step
            while len(self._steps) > self.size:
                self._steps.popitem(last=False)


_RECENT: RecentSteps[Encode] = RecentSteps(4)


def _step_key(tokenizer: Any, settings: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """``None`` (no reuse) for a tokenizer whose state cannot be read or an unhashable
    template. Settings are keyed with their types (``64.0 == 64`` must not find the
    step of ``64``: it is refused), a template name by the template it names now."""
    backend = plain_backend(tokenizer)
    now = state(backend) if backend is not None else None
    if now is None:
        return None
    template, *rest = settings
    if isinstance(template, str):
        try:
            template = get(template)
        except SftDataError:
            return None
    key = (id(tokenizer), now, template, *((type(v), v) for v in rest))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def encode_text(
    text: str,
    tokenizer: Any,
    *,
    max_length: int | None = None,
    truncation: Truncation = "drop",
    add_bos: bool = True,
    add_eos: bool = True,
) -> dict[str, np.ndarray]:
    """Encode one pretraining document: ``BOS + text + EOS``, every token trained.

    ``max_length=None`` keeps documents of any length (``sftdata.pack(...,
    split_long=True)`` cuts them later).

    >>> tok = getfixture("llama_tokenizer")
    >>> row = encode_text("Plain </s> text", tok)
    >>> tok.convert_ids_to_tokens(row["input_ids"])
    ['<s>', '▁Pl', 'ain', '▁</', 's', '>', '▁text', '</s>']
    >>> bool((row["labels"] == row["input_ids"]).all())
    True
    """
    step = EncodeText(
        tokenizer,
        max_length=max_length,
        truncation=truncation,
        add_bos=add_bos,
        add_eos=add_eos,
    )
    return single_row(*step._run({TEXT: [text]}))


_CACHES = ("_shared_pieces", "_plan_cache")  # per-process state, never pickled


class _Encoder:
    """What ``Encode`` and ``EncodeText`` share: the call, the features, the tail.

    A subclass plans each row (``_run``) and hands the plans to :meth:`_finish`: one
    tokenizer call for the whole batch, then lengths cut or rejected per ``truncation``.
    Pieces every row shares (control tokens, glue) are tokenized once per step and kept
    in a table that is not part of the step's pickled state or fingerprint.
    """

    tokenizer: Any
    max_length: int | None
    truncation: Truncation

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in _CACHES}

    def _shared(self) -> SharedPieces:
        shared = self.__dict__.get("_shared_pieces")
        if shared is None:
            shared = SharedPieces()
            object.__setattr__(self, "_shared_pieces", shared)
        return shared

    def _run(self, batch: Mapping[str, list[Any]]) -> tuple[Batch, dict[int, RowError]]:
        raise NotImplementedError

    def __call__(self, batch: Mapping[str, list[Any]]) -> Batch:
        with paused_gc():
            return self._run(batch)[0]

    def features(self, input_features: Mapping[str, Any] | None = None) -> Any:
        """``datasets.Features`` of the columns this step writes (``sd.apply`` reads it).

        With them pinned, a first batch that happens to be all kept cannot give
        ``drop_reason`` the ``null`` type. ``input_features`` is accepted for the step
        protocol; the carried columns keep their own types.
        """
        return encoded_features(input_features, truncated=self.truncation == "truncate")

    def _finish(
        self,
        batch: Mapping[str, list[Any]],
        plans: list[Row | None],
        reasons: list[str | None],
        errors: dict[int, RowError],
    ) -> Batch:
        tokens = tokenize(self.tokenizer, plans, self._shared())
        return finish(
            batch,
            tokens,
            reasons,
            errors,
            max_length=self.max_length,
            truncation=self.truncation,
            report_cut=self.truncation == "truncate",
        )


@dataclass(frozen=True)
class Encode(_Encoder):
    """Batched step of :func:`encode`: reads ``messages``, adds the encoded columns.

    One tokenizer call per batch for every text piece of every row. Rows the encoder
    rejects keep their place with empty arrays and a ``drop_reason``. The step keeps
    the tokenization of its template's control tokens and glue, and starts it over
    when the tokenizer changes (added tokens, a new normalizer or pre-tokenizer). The
    tokenizer itself is never modified: pieces are tokenized by private copies of its
    Rust backend, so threads may share it.

    >>> tok = getfixture("llama_tokenizer")
    >>> step = Encode(tok, "llama2", max_length=32)
    >>> msgs = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    >>> out = step({"messages": [msgs, [{"role": "user", "content": "no answer"}]]})
    >>> out["drop_reason"]
    [None, 'parse.no_assistant']
    """

    tokenizer: Any
    template: ChatTemplate | str
    _: KW_ONLY
    max_length: int
    loss_on: LossOn = "assistant"
    train_on_eos: bool = True
    truncation: Truncation = "drop"
    column: str = MESSAGES

    def __post_init__(self) -> None:
        if isinstance(self.template, str):
            object.__setattr__(self, "template", get(self.template))
        if not callable(getattr(self.template, "segments", None)):
            raise SftDataError(
                f"Encode: template must be a template or its name, got {self.template!r}"
            )
        check_max_length(self.max_length, optional=False)
        check_choice("loss_on", self.loss_on, ("assistant", "last", "all"))
        check_choice("truncation", self.truncation, ("drop", "truncate", "raise"))
        check_tokenizer(self.tokenizer)
        warn_if_unlike_sentencepiece(self.tokenizer)  # once per tokenizer state
        for token in control_tokens(self.template):
            special_token_id(self.tokenizer, token)  # unknown control token: fail before any work

    def _planner(self) -> PlanCache:
        plans = self.__dict__.get("_plan_cache")
        if plans is None:
            plans = PlanCache(
                self.template,
                loss_on=self.loss_on,
                eos=self.train_on_eos,
                bos=self.tokenizer.bos_token,
            )
            object.__setattr__(self, "_plan_cache", plans)
        return plans

    def _run(self, batch: Mapping[str, list[Any]]) -> tuple[Batch, dict[int, RowError]]:
        reasons = drop_reasons(batch)
        errors: dict[int, RowError] = {}
        if self.column not in batch:
            raise SftDataError(f"Encode: batch has no {self.column!r} column; got {sorted(batch)}")
        plans: list[Row | None] = [None] * batch_len(batch)
        plan = self._planner().plan
        for i, messages in enumerate(batch[self.column]):
            if reasons[i] is None:
                try:
                    plans[i] = plan(messages)  # validates the conversation
                except RowError as e:
                    reasons[i], errors[i] = e.reason, e
        return self._finish(batch, plans, reasons, errors), errors


@dataclass(frozen=True)
class EncodeText(_Encoder):
    """Batched step of :func:`encode_text`: reads ``text``, adds the encoded columns.

    >>> tok = getfixture("llama_tokenizer")
    >>> out = EncodeText(tok, max_length=4)({"text": ["a b", "one two three four five"]})
    >>> out["drop_reason"], tok.convert_ids_to_tokens(out["input_ids"][0])
    ([None, 'encode.too_long'], ['<s>', '▁a', '▁b', '</s>'])
    """

    tokenizer: Any
    _: KW_ONLY
    max_length: int | None = None
    truncation: Truncation = "drop"
    add_bos: bool = True
    add_eos: bool = True
    column: str = TEXT

    def __post_init__(self) -> None:
        check_max_length(self.max_length, optional=True)
        check_choice("truncation", self.truncation, ("drop", "truncate", "raise"))
        check_tokenizer(self.tokenizer)
        warn_if_unlike_sentencepiece(self.tokenizer)  # once per tokenizer state
        for flag, token in (("add_bos", "bos_token"), ("add_eos", "eos_token")):
            if getattr(self, flag) and getattr(self.tokenizer, token, None) is None:
                raise SftDataError(f"EncodeText: {flag}=True but the tokenizer has no {token}")

    def _run(self, batch: Mapping[str, list[Any]]) -> tuple[Batch, dict[int, RowError]]:
        errors: dict[int, RowError] = {}
        if self.column not in batch:
            raise SftDataError(
                f"EncodeText: batch has no {self.column!r} column; got {sorted(batch)}"
            )
        reasons = drop_reasons(batch)
        text_program, empty_program = self._programs()
        plans: list[Row | None] = [None] * batch_len(batch)
        for i, text in enumerate(batch[self.column]):
            if reasons[i] is not None:
                continue
            if not isinstance(text, str):
                errors[i] = RowError(
                    "encode.bad_text", f"text must be str, got {type(text).__name__}"
                )
                reasons[i] = errors[i].reason
                continue
            plans[i] = Row(text_program, [text], []) if text else Row(empty_program, [], [])
        return self._finish(batch, plans, reasons, errors), errors

    def _programs(self) -> tuple[Program, Program]:
        """BOS + the document (one word, all trained) + EOS; and BOS + EOS alone."""
        programs = self.__dict__.get("_plan_cache")
        if programs is None:
            tok = self.tokenizer
            bos = [(SPECIAL, tok.bos_token, True)] if self.add_bos else []
            eos = [(SPECIAL, tok.eos_token, True)] if self.add_eos else []
            programs = (
                Program((*bos, 0, *eos), (START,), (-1,)),
                Program((*bos, *eos), (), ()),
            )
            object.__setattr__(self, "_plan_cache", programs)
        return programs
