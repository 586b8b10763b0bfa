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
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any, Literal, Protocol

import numpy as np

from sftdata._batch import batch_len, drop_reasons
from sftdata._contract import (
    DROP_REASON,
    IGNORE_INDEX,
    MESSAGES,
    TEXT,
    Batch,
    RowError,
    SftDataError,
)
from sftdata.templates import Segment, get, split_pieces
from sftdata.templates._segments import special_token_id

LossOn = Literal["assistant", "last", "all"]
Truncation = Literal["drop", "truncate", "raise"]
ENCODED = ("input_ids", "labels", "attention_mask")

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
    ``encode.no_trained_tokens``, ``parse.*``) for a row that cannot be used.

    >>> tok = getfixture("llama_tokenizer")
    >>> msgs = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    >>> row = encode(msgs, tok, "llama2", max_length=64)
    >>> tok.decode(row["input_ids"])
    '<s> [INST] Hi [/INST] Hello! </s>'
    >>> tok.decode([t for t in row["labels"] if t != -100])   # the answer and its EOS
    'Hello! </s>'
    """
    step = Encode(
        tokenizer,
        template,
        max_length=max_length,
        loss_on=loss_on,
        train_on_eos=train_on_eos,
        truncation=truncation,
    )
    return _single_row(*step._run({MESSAGES: [messages]}))


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
    return _single_row(*step._run({TEXT: [text]}))


@dataclass(frozen=True)
class Encode:
    """Batched step of :func:`encode`: reads ``messages``, adds the encoded columns.

    One tokenizer call per batch for every text piece of every row. Rows the encoder
    rejects keep their place with empty arrays and a ``drop_reason``.

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
        _check_max_length(self.max_length, optional=False)
        _check_choice("loss_on", self.loss_on, ("assistant", "last", "all"))
        _check_choice("truncation", self.truncation, ("drop", "truncate", "raise"))
        _check_tokenizer(self.tokenizer)
        for token in _control_tokens(self.template):
            special_token_id(self.tokenizer, token)  # unknown control token: fail before any work

    def __call__(self, batch: Mapping[str, list[Any]]) -> Batch:
        return self._run(batch)[0]

    def _run(self, batch: Mapping[str, list[Any]]) -> tuple[Batch, dict[int, RowError]]:
        reasons = drop_reasons(batch)
        errors: dict[int, RowError] = {}
        if self.column not in batch:
            raise SftDataError(f"Encode: batch has no {self.column!r} column; got {sorted(batch)}")
        plans: list[_Plan | None] = [None] * batch_len(batch)
        for i, messages in enumerate(batch[self.column]):
            if reasons[i] is None:
                try:
                    plans[i] = self._plan(messages)
                except RowError as e:
                    reasons[i], errors[i] = e.reason, e
        rows = _tokenize(self.tokenizer, plans)
        cut = self.truncation == "truncate"
        return _finish(batch, rows, reasons, errors, self._limit, report_cut=cut), errors

    def features(self, input_features: Mapping[str, Any] | None = None) -> Any:
        """``datasets.Features`` of the columns this step writes (``sd.apply`` reads it).

        With them pinned, a first batch that happens to be all kept cannot give
        ``drop_reason`` the ``null`` type. ``input_features`` is accepted for the step
        protocol; the carried columns keep their own types.
        """
        return _features(input_features, truncated=self.truncation == "truncate")

    def _plan(self, messages: Any) -> _Plan:
        template: ChatTemplate = self.template  # type: ignore[assignment]
        segments = template.segments(messages)  # validates the conversation
        last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=-1)
        if last < 0:
            raise RowError("parse.no_assistant", "conversation has no assistant turn")
        return _plan_segments(segments, self._is_trained(last))

    def _is_trained(self, last: int) -> _Predicate:
        loss_on, eos = self.loss_on, self.train_on_eos
        if loss_on == "all":
            return lambda seg: True
        if loss_on == "last":
            return lambda seg: seg.train and seg.message == last and (eos or seg.content)
        return lambda seg: seg.train and (eos or seg.content)

    def _limit(self, ids: list[int], labels: list[int]) -> tuple[list[int], list[int], int]:
        return _apply_limit(ids, labels, self.max_length, self.truncation)


@dataclass(frozen=True)
class EncodeText:
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
        _check_max_length(self.max_length, optional=True)
        _check_choice("truncation", self.truncation, ("drop", "truncate", "raise"))
        _check_tokenizer(self.tokenizer)
        for flag, token in (("add_bos", "bos_token"), ("add_eos", "eos_token")):
            if getattr(self, flag) and getattr(self.tokenizer, token, None) is None:
                raise SftDataError(f"EncodeText: {flag}=True but the tokenizer has no {token}")

    def __call__(self, batch: Mapping[str, list[Any]]) -> Batch:
        return self._run(batch)[0]

    def _run(self, batch: Mapping[str, list[Any]]) -> tuple[Batch, dict[int, RowError]]:
        errors: dict[int, RowError] = {}
        if self.column not in batch:
            raise SftDataError(
                f"EncodeText: batch has no {self.column!r} column; got {sorted(batch)}"
            )
        reasons = drop_reasons(batch)
        bos: _Plan = [(True, self.tokenizer.bos_token, True)] if self.add_bos else []
        eos: _Plan = [(True, self.tokenizer.eos_token, True)] if self.add_eos else []
        plans: list[_Plan | None] = [None] * batch_len(batch)
        for i, text in enumerate(batch[self.column]):
            if reasons[i] is not None:
                continue
            if not isinstance(text, str):
                errors[i] = RowError(
                    "encode.bad_text", f"text must be str, got {type(text).__name__}"
                )
                reasons[i] = errors[i].reason
                continue
            plans[i] = [*bos, (False, text, ((0, len(text)),) if text else ()), *eos]
        rows = _tokenize(self.tokenizer, plans)
        cut = self.truncation == "truncate"
        return _finish(batch, rows, reasons, errors, self._limit, report_cut=cut), errors

    def features(self, input_features: Mapping[str, Any] | None = None) -> Any:
        """``datasets.Features`` of the columns this step writes (``sd.apply`` reads it).

        With them pinned, a first batch that happens to be all kept cannot give
        ``drop_reason`` the ``null`` type. ``input_features`` is accepted for the step
        protocol; the carried columns keep their own types.
        """
        return _features(input_features, truncated=self.truncation == "truncate")

    def _limit(self, ids: list[int], labels: list[int]) -> tuple[list[int], list[int], int]:
        if self.max_length is None:
            return ids, labels, 0
        return _apply_limit(ids, labels, self.max_length, self.truncation)


# --------------------------------------------------------------------------- internals


# A plan is the list of tokenization pieces of one row, as plain tuples (cheap to build):
#   (True, token, trained)   one control token, looked up by name
#   (False, text, ranges)    one text piece; ranges: merged char spans [start, end) with loss
_Piece = tuple[bool, str, Any]
_Plan = list[_Piece]
_Predicate = Any  # Callable[[Segment], bool]; Any keeps the lambdas above simple for mypy


def _plan_segments(segments: Sequence[Segment], trained: _Predicate) -> _Plan:
    """Turn segments into tokenization pieces with the char ranges that carry loss."""
    plan: _Plan = []
    for piece in split_pieces(segments):
        head = piece[0]
        if head.special:
            plan.append((True, head.text, bool(trained(head))))
            continue
        if len(piece) == 1:
            n = len(head.text)
            plan.append((False, head.text, ((0, n),) if n and trained(head) else ()))
            continue
        ranges: list[tuple[int, int]] = []
        pos = 0
        for seg in piece:
            end = pos + len(seg.text)
            if end > pos and trained(seg):
                if ranges and ranges[-1][1] == pos:
                    ranges[-1] = (ranges[-1][0], end)
                else:
                    ranges.append((pos, end))
            pos = end
        plan.append((False, "".join(s.text for s in piece), tuple(ranges)))
    return plan


def _tokenize(
    tokenizer: Any, plans: list[_Plan | None]
) -> list[tuple[list[int], list[int]] | None]:
    """ONE tokenizer call for all text pieces of all rows; ids and labels per row."""
    texts = [p[1] for plan in plans if plan for p in plan if not p[0] and p[1]]
    encodings = _encode_texts(tokenizer, texts)
    special: dict[str, int] = {}
    out: list[tuple[list[int], list[int]] | None] = []
    k = 0
    for plan in plans:
        if plan is None:
            out.append(None)
            continue
        ids: list[int] = []
        labels: list[int] = []
        for is_special, text, trained in plan:
            if is_special:
                if text not in special:
                    special[text] = special_token_id(tokenizer, text)
                ids.append(special[text])
                labels.append(special[text] if trained else IGNORE_INDEX)
            elif text:
                _label_piece(encodings[k], trained, len(text), ids, labels)
                k += 1
        out.append((ids, labels))
    return out


def _encode_texts(tokenizer: Any, texts: list[str]) -> list[Any]:
    """Rust ``Encoding`` of each text: add_special_tokens=False, split_special_tokens=True.

    For a plain tokenizers-backed tokenizer with no truncation/padding set, this calls
    its Rust backend directly, which is exactly what ``tokenizer(texts, ...)`` runs
    minus the per-row conversion into python dicts (most of the cost for many short
    pieces). Any other tokenizer goes through its public ``__call__``.
    """
    if not texts:
        return []
    backend = _plain_backend(tokenizer)
    if backend is None:
        enc = tokenizer(
            texts,
            add_special_tokens=False,
            return_offsets_mapping=True,
            split_special_tokens=True,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        return list(enc.encodings)
    before = backend.encode_special_tokens
    backend.encode_special_tokens = True  # content that looks like a control token stays text
    try:
        return list(backend.encode_batch(texts, add_special_tokens=False))
    finally:
        backend.encode_special_tokens = before


def _plain_backend(tokenizer: Any) -> Any:
    try:
        import tokenizers
        from transformers.tokenization_utils_tokenizers import TokenizersBackend
    except ImportError:  # pragma: no cover - both ship with transformers
        return None
    backend = getattr(tokenizer, "_tokenizer", None)
    plain = (
        isinstance(tokenizer, TokenizersBackend)
        and type(tokenizer)._encode_plus is TokenizersBackend._encode_plus
        and isinstance(backend, tokenizers.Tokenizer)
        and backend.truncation is None
        and backend.padding is None
    )
    return backend if plain else None


def _label_piece(
    enc: Any,
    trained: tuple[tuple[int, int], ...],
    n_chars: int,
    out_ids: list[int],
    out_labels: list[int],
) -> None:
    """Append a piece's ids and labels: a token is trained iff its chars overlap a range.

    Each range ``[s, e)`` maps to the run of tokens from the one holding char ``s`` to
    the one holding char ``e - 1``, widened over neighbours that share those chars
    (byte-fallback pieces of one character); a zero-width token counts as covering the
    character it sits on.
    """
    ids = enc.ids
    out_ids.extend(ids)
    if not trained:
        out_labels.extend([IGNORE_INDEX] * len(ids))
        return
    if trained == ((0, n_chars),):
        out_labels.extend(ids)
        return
    n, pos = len(ids), 0
    for s, e in trained:
        first, last = enc.char_to_token(s), enc.char_to_token(e - 1)
        if first is None or last is None:  # a char no token holds: scan the offsets
            first, last = _run_by_offsets(enc.offsets, s, e, pos)
        else:
            while first > pos and _end(enc.token_to_chars(first - 1)) > s:
                first -= 1
            last += 1
            while last < n and enc.token_to_chars(last)[0] < e:
                last += 1
        out_labels.extend([IGNORE_INDEX] * (first - pos))
        out_labels.extend(ids[first:last])
        pos = last
    out_labels.extend([IGNORE_INDEX] * (n - pos))


def _end(span: tuple[int, int]) -> int:
    return max(span[1], span[0] + 1)


def _run_by_offsets(offsets: list[tuple[int, int]], s: int, e: int, lo: int) -> tuple[int, int]:
    first = bisect.bisect_right(offsets, s, lo=lo, key=_end)
    return first, bisect.bisect_left(offsets, e, lo=first, key=lambda o: o[0])


def _apply_limit(
    ids: list[int], labels: list[int], max_length: int, truncation: str
) -> tuple[list[int], list[int], int]:
    n = len(ids)
    if n <= max_length:
        return ids, labels, 0
    if truncation == "raise":
        raise SftDataError(
            f"encoded row has {n} tokens > max_length {max_length} (truncation='raise')"
        )
    if truncation == "drop":
        raise RowError("encode.too_long", f"{n} tokens > max_length {max_length}")
    labels = labels[:max_length]
    if all(t == IGNORE_INDEX for t in labels):
        raise RowError(
            "encode.no_trained_tokens", f"truncating {n} to {max_length} tokens leaves no label"
        )
    return ids[:max_length], labels, n - max_length


def _finish(
    batch: Mapping[str, list[Any]],
    rows: list[tuple[list[int], list[int]] | None],
    reasons: list[str | None],
    errors: dict[int, RowError],
    limit: Any,
    *,
    report_cut: bool,
) -> Batch:
    """Apply the length limit, build numpy columns, keep rejected rows as empty arrays."""
    empty32, empty8 = np.zeros(0, np.int32), np.zeros(0, np.int8)
    cols: dict[str, list[Any]] = {
        "input_ids": [],
        "labels": [],
        "attention_mask": [],
        "truncated": [],
    }
    for i, row in enumerate(rows):
        if row is not None and reasons[i] is None:
            try:
                ids, labels, cut = limit(*row)
                if all(t == IGNORE_INDEX for t in labels):
                    raise RowError("encode.no_trained_tokens", "no token carries loss")
                cols["input_ids"].append(np.asarray(ids, dtype=np.int32))
                cols["labels"].append(np.asarray(labels, dtype=np.int32))
                cols["attention_mask"].append(np.ones(len(ids), dtype=np.int8))
                cols["truncated"].append(cut)
                continue
            except RowError as e:
                reasons[i], errors[i] = e.reason, e
        cols["input_ids"].append(empty32)
        cols["labels"].append(empty32)
        cols["attention_mask"].append(empty8)
        cols["truncated"].append(0)
    out: Batch = {**batch, **{k: cols[k] for k in ENCODED}, DROP_REASON: reasons}
    if report_cut:
        out["truncated"] = cols["truncated"]
    return out


def _features(input_features: Mapping[str, Any] | None, *, truncated: bool) -> Any:
    import datasets

    del input_features  # carried columns are not rewritten
    out: dict[str, Any] = {}
    out["input_ids"] = datasets.List(datasets.Value("int32"))
    out["labels"] = datasets.List(datasets.Value("int32"))
    out["attention_mask"] = datasets.List(datasets.Value("int8"))
    out[DROP_REASON] = datasets.Value("string")
    if truncated:
        out["truncated"] = datasets.Value("int64")
    return datasets.Features(out)


def _single_row(out: Batch, errors: dict[int, RowError]) -> dict[str, np.ndarray]:
    if 0 in errors:
        raise errors[0]
    keys = [*ENCODED, *(["truncated"] if "truncated" in out else [])]
    return {k: out[k][0] for k in keys}


def _control_tokens(template: Any) -> list[str]:
    """The control tokens a template may emit, as far as its fields tell."""
    names = ("bos", "eos", "bos_token", "eos_token")
    tokens = {getattr(template, n, "") for n in names} | set(
        getattr(template, "control_tokens", ())
    )
    return sorted(t for t in tokens if isinstance(t, str) and t)


def _check_max_length(value: Any, *, optional: bool) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SftDataError(f"max_length must be a positive int, got {value!r}")


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise SftDataError(f"{name} must be one of {allowed}, got {value!r}")


def _check_tokenizer(tokenizer: Any) -> None:
    if not callable(tokenizer) or not hasattr(tokenizer, "convert_tokens_to_ids"):
        raise SftDataError(f"expected a transformers tokenizer, got {type(tokenizer).__name__}")
    if not getattr(tokenizer, "is_fast", False):
        raise SftDataError(
            f"{type(tokenizer).__name__} cannot return character offsets; load the tokenizers-"
            "backed (fast) tokenizer of the model, e.g. AutoTokenizer.from_pretrained(path)"
        )
