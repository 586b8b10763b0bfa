"""Internals of :mod:`sftdata._encode`: tokenization pieces, one batched call, labels.

A *plan* is the list of tokenization pieces of one row, as plain tuples (cheap to
build)::

    (SPECIAL, token, trained)   one control token, looked up by name
    (START, text, ranges)       a text piece that starts a reference tokenizer call
    (CONT, text, ranges)        a text piece continuing the render after a control token
                                ranges: merged char spans [start, end) with loss

START / CONT follow :mod:`sftdata.templates._segments`: they differ only for a tokenizer
that prefixes the start of a call alone (Metaspace ``prepend_scheme="first"``).
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from sftdata._contract import DROP_REASON, IGNORE_INDEX, Batch, RowError, SftDataError
from sftdata.templates import Segment
from sftdata.templates._segments import continuation, no_start_prefix, special_token_id

ENCODED = ("input_ids", "labels", "attention_mask")
SPECIAL, START, CONT = 0, 1, 2

Piece = tuple[int, str, Any]
Plan = list[Piece]


def plan_segments(
    segments: Sequence[Segment], *, loss_on: str, last: int, eos: bool, bos: str | None
) -> Plan:
    """Turn segments into tokenization pieces with the char ranges that carry loss.

    Pieces follow :func:`~sftdata.templates.split_pieces` (one pass, no piece lists): a
    segment is trained with ``loss_on="all"``; else when it is ``train`` (and content,
    unless ``eos``) and, with ``loss_on="last"``, belongs to message ``last``. A text
    piece is START at the render's start, after control token ``bos`` or at a
    ``break_before`` segment, else CONT (as :func:`~sftdata.templates.token_ids`).
    """
    everything, only = loss_on == "all", last if loss_on == "last" else None
    plan: Plan = []
    parts: list[str] = []
    ranges: list[tuple[int, int]] = []
    pos = 0
    kind = START
    for text, special, message, content, train, brk in segments:
        trained = everything or (train and (eos or content) and (only is None or message == only))
        if special or (brk and parts):
            if parts:
                plan.append((kind, "".join(parts), tuple(ranges)))
                parts, ranges, pos = [], [], 0
            if special:
                plan.append((SPECIAL, text, bool(trained)))
                kind = START if text == bos else CONT
                continue
        if brk:
            kind = START
        parts.append(text)
        end = pos + len(text)
        if end > pos and trained:
            if ranges and ranges[-1][1] == pos:
                ranges[-1] = (ranges[-1][0], end)
            else:
                ranges.append((pos, end))
        pos = end
    if parts:
        plan.append((kind, "".join(parts), tuple(ranges)))
    return plan


def tokenize(tokenizer: Any, plans: list[Plan | None]) -> list[tuple[list[int], list[int]] | None]:
    """ONE tokenizer call for all text pieces of all rows (two when a tokenizer prefixes
    only the start of a call and both START and CONT pieces occur); ids and labels per row."""
    never = no_start_prefix(tokenizer)
    if never is None or not any(p[0] == START and p[1] for plan in plans if plan for p in plan):
        texts = [[p[1] for p in plan if p[0] and p[1]] if plan else [] for plan in plans]
        with continuation(tokenizer, never) if never is not None else contextlib.nullcontext():
            spans = _encode_pieces(tokenizer, texts)  # all pieces START, or all CONT
    else:
        spans = _encode_start_and_cont(tokenizer, plans, never)
    special: dict[str, int] = {}
    out: list[tuple[list[int], list[int]] | None] = []
    for plan, row_spans in zip(plans, spans, strict=True):
        if plan is None:
            out.append(None)
            continue
        ids: list[int] = []
        labels: list[int] = []
        k = 0
        for kind, text, trained in plan:
            if kind == SPECIAL:
                tid = special.get(text)
                if tid is None:
                    tid = special[text] = special_token_id(tokenizer, text)
                ids.append(tid)
                labels.append(tid if trained else IGNORE_INDEX)
            elif text:
                enc, a, b, all_ids = row_spans[k]
                k += 1
                piece = all_ids[a:b]
                ids += piece
                if not trained:
                    labels += [IGNORE_INDEX] * (b - a)
                elif trained[0][0] == 0 and trained[0][1] == len(text):  # merged: the only one
                    labels += piece
                else:
                    _label_ranges(enc, a, b, all_ids, trained, labels)
        out.append((ids, labels))
    return out


def _encode_start_and_cont(tokenizer: Any, plans: list[Plan | None], never: Any) -> list[list[Any]]:
    """Token spans of START pieces tokenized as they are, CONT pieces with the start prefix off."""
    start = [[p[1] for p in plan if p[0] == START and p[1]] if plan else [] for plan in plans]
    cont = [[p[1] for p in plan if p[0] == CONT and p[1]] if plan else [] for plan in plans]
    start_spans = _encode_pieces(tokenizer, start)
    with continuation(tokenizer, never):
        cont_spans = _encode_pieces(tokenizer, cont)
    out: list[list[Any]] = []
    for plan, a, b in zip(plans, start_spans, cont_spans, strict=True):
        ia, ib = iter(a), iter(b)
        out.append([next(ia) if p[0] == START else next(ib) for p in plan or () if p[0] and p[1]])
    return out


# A piece's tokens: (Rust Encoding, first token, end token, all ids of that Encoding).
# Offsets inside an Encoding are relative to the piece's own text.
_Span = tuple[Any, int, int, list[int]]


def _encode_pieces(tokenizer: Any, texts: list[list[str]]) -> list[list[_Span]]:
    """Token spans of each text piece of each row: add_special_tokens=False, split_special_tokens=True.

    For a plain tokenizers-backed tokenizer (no truncation/padding set) this calls its
    Rust backend once with each row's pieces as pre-split words: every word is
    normalized, pre-tokenized and tokenized on its own, which is exactly tokenizing each
    piece separately, without one python ``Encoding`` per piece. Any other tokenizer
    goes through its public ``__call__`` on the flat list of pieces.
    """
    backend = _plain_backend(tokenizer)
    if backend is None:
        return _encode_pieces_public(tokenizer, texts)
    rows = [i for i, t in enumerate(texts) if t]
    before = backend.encode_special_tokens
    backend.encode_special_tokens = True  # content that looks like a control token stays text
    try:
        encodings = backend.encode_batch(
            [texts[i] for i in rows], is_pretokenized=True, add_special_tokens=False
        )
    finally:
        backend.encode_special_tokens = before
    out: list[list[_Span]] = [[] for _ in texts]
    for i, enc in zip(rows, encodings, strict=True):
        ids, words = enc.ids, enc.word_ids  # words: the piece of each token, non-decreasing
        bounds = [bisect.bisect_left(words, w) for w in range(len(texts[i]) + 1)]
        out[i] = [(enc, a, b, ids) for a, b in itertools.pairwise(bounds)]
    return out


def _encode_pieces_public(tokenizer: Any, texts: list[list[str]]) -> list[list[_Span]]:
    flat = [t for row in texts for t in row]
    encodings = []
    if flat:
        enc = tokenizer(
            flat,
            add_special_tokens=False,
            return_offsets_mapping=True,
            split_special_tokens=True,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        encodings = list(enc.encodings)
    out: list[list[_Span]] = []
    k = 0
    for row in texts:
        out.append([(e, 0, len(e.ids), e.ids) for e in encodings[k : k + len(row)]])
        k += len(row)
    return out


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


def _label_ranges(
    enc: Any,
    a: int,
    b: int,
    all_ids: list[int],
    trained: tuple[tuple[int, int], ...],
    out_labels: list[int],
) -> None:
    """Append the labels of tokens ``[a, b)``: a token is trained iff its chars overlap a range.

    Offsets grow monotonically, so each range ``[s, e)`` is one run of tokens, found by
    bisection; a zero-width token counts as covering the character it sits on.
    """
    pos = a
    for s, e in trained:
        first = _first_token(enc, pos, b, ending_after=s)
        last = _first_token(enc, first, b, starting_at=e)
        out_labels += [IGNORE_INDEX] * (first - pos)
        out_labels += all_ids[first:last]
        pos = last
    out_labels += [IGNORE_INDEX] * (b - pos)


def _first_token(
    enc: Any, lo: int, hi: int, *, ending_after: int = -1, starting_at: int | None = None
) -> int:
    """First token in ``[lo, hi)`` that ends after char ``ending_after`` (or, with
    ``starting_at``, starts at or after that char); ``hi`` if none. Binary search."""
    while lo < hi:
        mid = (lo + hi) // 2
        start, end = enc.token_to_chars(mid)
        past = (
            start >= starting_at if starting_at is not None else max(end, start + 1) > ending_after
        )
        if past:
            hi = mid
        else:
            lo = mid + 1
    return lo


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for one batch, then restore its state.

    A batch allocates many small acyclic objects (segments, id lists) that reference
    counting frees anyway; letting the collector rescan them costs ~20% of the step.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def apply_limit(
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
    if labels.count(IGNORE_INDEX) == max_length:
        raise RowError(
            "encode.no_trained_tokens", f"truncating {n} to {max_length} tokens leaves no label"
        )
    return ids[:max_length], labels, n - max_length


def finish(
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
                if labels.count(IGNORE_INDEX) == len(labels):  # C-speed scan
                    raise RowError("encode.no_trained_tokens", "no token carries loss")
                n = len(ids)  # fromiter with a count: ~30% cheaper than asarray on short rows
                cols["input_ids"].append(np.fromiter(ids, np.int32, n))
                cols["labels"].append(np.fromiter(labels, np.int32, n))
                cols["attention_mask"].append(np.ones(n, dtype=np.int8))
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


def encoded_features(input_features: Mapping[str, Any] | None, *, truncated: bool) -> Any:
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


def single_row(out: Batch, errors: dict[int, RowError]) -> dict[str, np.ndarray]:
    if 0 in errors:
        raise errors[0]
    keys = [*ENCODED, *(["truncated"] if "truncated" in out else [])]
    return {k: out[k][0] for k in keys}


def control_tokens(template: Any) -> list[str]:
    """The control tokens a template may emit, as far as its fields tell."""
    names = ("bos", "eos", "bos_token", "eos_token")
    tokens = {getattr(template, n, "") for n in names} | set(
        getattr(template, "control_tokens", ())
    )
    return sorted(t for t in tokens if isinstance(t, str) and t)


def check_max_length(value: Any, *, optional: bool) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SftDataError(f"max_length must be a positive int, got {value!r}")


def check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise SftDataError(f"{name} must be one of {allowed}, got {value!r}")


def check_tokenizer(tokenizer: Any) -> None:
    if not callable(tokenizer) or not hasattr(tokenizer, "convert_tokens_to_ids"):
        raise SftDataError(f"expected a transformers tokenizer, got {type(tokenizer).__name__}")
    if not getattr(tokenizer, "is_fast", False):
        raise SftDataError(
            f"{type(tokenizer).__name__} cannot return character offsets; load the tokenizers-"
            "backed (fast) tokenizer of the model, e.g. AutoTokenizer.from_pretrained(path)"
        )
