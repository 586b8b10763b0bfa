"""Plans: the tokenization pieces of one conversation, and a cache of compiled plans.

A *plan* is the list of tokenization pieces of one row, as plain tuples::

    (SPECIAL, token, trained)        one control token, looked up by name
    (START, text, ranges)            a text piece that starts a reference tokenizer call
    (CONT, text, ranges)             a text piece continuing the render after a control token
    (GLUE_START | GLUE_CONT, ...)    the same for a piece with no message content in it:
                                     its tokens depend on the template alone, so the
                                     encoder tokenizes it once and reuses the ids

``ranges`` are the merged char spans ``[start, end)`` of the piece that carry loss.
START / CONT follow :mod:`sftdata.templates._segments`: they differ only for a tokenizer
that prefixes the start of a call alone (Metaspace ``prepend_scheme="first"``).

:func:`plan_segments` turns any template's segments into a plan. :class:`PlanCache`
does the same for a built-in :class:`~sftdata.templates.Template` without rendering
segments per row: a conversation's plan depends on its content only through the content
strings themselves, once the *shape* is fixed (the roles, and which contents are empty
or whitespace). The cache renders each shape once with placeholder contents, compiles
the plan with slots, and fills the slots per row. Property-tested equal to
``plan_segments(template.segments(messages))``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, NamedTuple

from sftdata._contract import RowError
from sftdata.templates import Segment, Template

SPECIAL, START, CONT, GLUE_START, GLUE_CONT = 0, 1, 2, 3, 4
#: how a text kind is tokenized: GLUE_* like START / CONT
TOKENIZE_AS = {START: START, CONT: CONT, GLUE_START: START, GLUE_CONT: CONT}

Piece = tuple[int, str, Any]
Plan = list[Piece]

# One grouped piece: its kind (SPECIAL / START / CONT) and its (segment, trained) parts.
_Group = tuple[int, list[tuple[Segment, bool]]]


def group_segments(
    segments: Sequence[Segment], *, loss_on: str, last: int, eos: bool, bos: str | None
) -> list[_Group]:
    """Cut segments into tokenization pieces and say which segments are trained.

    Pieces follow :func:`~sftdata.templates.split_pieces`: a segment is trained with
    ``loss_on="all"``; else when it is ``train`` (and content, unless ``eos``) and, with
    ``loss_on="last"``, belongs to message ``last``. A text piece is START at the
    render's start, after control token ``bos`` or at a ``break_before`` segment, else
    CONT (as :func:`~sftdata.templates.token_ids`).
    """
    everything, only = loss_on == "all", last if loss_on == "last" else None
    groups: list[_Group] = []
    parts: list[tuple[Segment, bool]] = []
    kind = START
    for seg in segments:
        text, special, message, content, train, brk = seg
        trained = everything or (train and (eos or content) and (only is None or message == only))
        if special or (brk and parts):
            if parts:
                groups.append((kind, parts))
                parts = []
            if special:
                groups.append((SPECIAL, [(seg, bool(trained))]))
                kind = START if text == bos else CONT
                continue
        if brk:
            kind = START
        parts.append((seg, bool(trained)))
    if parts:
        groups.append((kind, parts))
    return groups


def plan_segments(
    segments: Sequence[Segment], *, loss_on: str, last: int, eos: bool, bos: str | None
) -> Plan:
    """The plan of one rendered conversation (see the module docstring)."""
    plan: Plan = []
    for kind, parts in group_segments(segments, loss_on=loss_on, last=last, eos=eos, bos=bos):
        if kind == SPECIAL:
            seg, trained = parts[0]
            plan.append((SPECIAL, seg.text, trained))
            continue
        texts: list[str] = []
        ranges: list[tuple[int, int]] = []
        pos, has_content = 0, False
        for seg, trained in parts:
            end = pos + len(seg.text)
            has_content = has_content or (seg.content and end > pos)
            if end > pos and trained:
                _extend(ranges, pos, end)
            texts.append(seg.text)
            pos = end
        glue = kind + 2 if not has_content else kind
        plan.append((glue, "".join(texts), tuple(ranges)))
    return plan


def _extend(ranges: list[tuple[int, int]], start: int, end: int) -> None:
    if ranges and ranges[-1][1] == start:
        ranges[-1] = (ranges[-1][0], end)
    else:
        ranges.append((start, end))


def last_assistant(messages: Sequence[Any]) -> int:
    """Index of the last assistant message; ``parse.no_assistant`` if there is none."""
    for last in range(len(messages) - 1, -1, -1):
        if messages[last]["role"] == "assistant":
            return last
    raise RowError("parse.no_assistant", "conversation has no assistant turn")


class Program:
    """The fixed layout of a conversation's pieces, with its content pieces as *words*.

    ``layout`` lists the pieces in order: a shared piece (a control token or a glue
    piece, as its plan tuple) or the int ``j`` of the ``j``-th word. For each word,
    ``word_kinds`` says START or CONT and ``word_modes`` how it is trained: ``0`` not
    at all, ``-1`` whole, ``k > 0`` in ``k`` char ranges; ``heads`` is ``h >= 0`` for a
    word trained from char ``h`` to its end (an untrained turn header, then the answer:
    the one range is implied), else ``-1``; the ranges of the other partly trained words
    come with each row. ``chunks`` is filled by the tokenizer: the row's chunk layout in
    its step's shared-piece table; ``guesses`` where each partly trained word's
    training started last time, in tokens (a hint for the offset search).
    """

    __slots__ = ("chunks", "guesses", "heads", "layout", "word_kinds", "word_modes")

    def __init__(
        self,
        layout: tuple[Piece | int, ...],
        word_kinds: tuple[int, ...],
        word_modes: tuple[int, ...],
        heads: tuple[int, ...] | None = None,
    ) -> None:
        self.layout, self.word_kinds, self.word_modes = layout, word_kinds, word_modes
        self.heads = heads if heads is not None else (-1,) * len(word_modes)
        self.chunks: Any = None
        self.guesses = [-1] * sum(mode > 0 for mode in word_modes)


class Row(NamedTuple):
    """One planned conversation: its program, its words' texts, and the trained char
    ranges of its partly trained words without a head (in word order)."""

    program: Program
    words: list[str]
    ranges: list[tuple[tuple[int, int], ...]]


def row_of_plan(plan: Plan) -> Row:
    """A program of its own for one plan (rows the shape cache does not cover): its
    control tokens are shared pieces, all its text pieces words."""
    layout: list[Piece | int] = []
    kinds: list[int] = []
    modes: list[int] = []
    heads: list[int] = []
    words: list[str] = []
    partial: list[tuple[tuple[int, int], ...]] = []
    for piece in plan:
        kind, text, trained = piece
        if kind == SPECIAL:
            layout.append(piece)
            continue
        if not text:
            continue
        kind = TOKENIZE_AS[kind]  # glue of a rendering that may never repeat: not shared
        layout.append(len(words))
        words.append(text)
        kinds.append(kind)
        heads.append(-1)
        if not trained:
            modes.append(0)
        elif len(trained) == 1 and trained[0][0] == 0 and trained[0][1] == len(text):
            modes.append(-1)
        elif len(trained) == 1 and trained[0][1] == len(text):
            modes.append(1)
            heads[-1] = trained[0][0]
        else:
            modes.append(len(trained))
            partial.append(trained)
    program = Program(tuple(layout), tuple(kinds), tuple(modes), tuple(heads))
    return Row(program, words, partial)


def plan_of_row(row: Row) -> Plan:
    """The plan a row stands for (the inverse of :func:`row_of_plan`; for tests)."""
    program, words, partial = row
    plan: Plan = []
    k = 0
    for item in program.layout:
        if not isinstance(item, int):
            plan.append(item)
            continue
        text, mode = words[item], program.word_modes[item]
        ranges: tuple[tuple[int, int], ...] = ()
        if mode == -1:
            ranges = ((0, len(text)),)
        elif mode > 0 and program.heads[item] >= 0:
            ranges = ((program.heads[item], len(text)),)
        elif mode > 0:
            ranges, k = partial[k], k + 1
        plan.append((program.word_kinds[item], text, ranges))
    return plan


# Content slot markers: a private-use character cannot occur in any template's glue.
_MARK = "\ue000"
# Strip operations found on a slot: none, strip, lstrip, rstrip.
_OPS = {f" {_MARK} ": 0, _MARK: 1, f"{_MARK} ": 2, f" {_MARK}": 3}
_EMPTY, _BLANK, _TEXT = 0, 1, 2
_MAX_SHAPES = 4096

# How to fill one word of a compiled shape: its parts, each (glue text, -1, 0, trained)
# or ("", message index, strip op, trained), and whether the row gives its ranges.
_Part = tuple[str, int, int, bool]
_Fill = tuple[tuple[_Part, ...], bool]


class PlanCache:
    """Rows of a template's conversations; for a built-in :class:`Template`, compiled
    once per conversation shape.

    ``plan(messages)`` stands for ``plan_segments(template.segments(messages), ...)``
    with ``last`` = the last assistant turn (:func:`plan_of_row` gives it back), and
    raises the same :class:`RowError`. Rows the fast path cannot key (not a list of
    ``{"role": str, "content": str}`` dicts) and any other template (a jinja one
    renders content-dependent text) go through ``template.segments``.

    With ``generation_prompt=True`` a conversation is rendered with the template's
    generation prompt (``segments(messages, add_generation_prompt=True)``) and needs no
    assistant turn (``last`` is ``-1``: only ``loss_on="all"`` trains anything): the
    plans of prompts waiting for an answer.
    """

    def __init__(
        self,
        template: Any,
        *,
        loss_on: str,
        eos: bool,
        bos: str | None,
        generation_prompt: bool = False,
    ) -> None:
        self.template, self.loss_on, self.eos, self.bos = template, loss_on, eos, bos
        self.generation_prompt = generation_prompt
        self._shapes: dict[
            tuple[Any, ...], tuple[Program, tuple[_Fill, ...]] | RowError | None
        ] = {}
        self._lock = threading.Lock()
        self._fast = type(template) is Template  # a subclass may render differently

    def plan(self, messages: Any) -> Row:
        key = _shape(messages) if self._fast else None
        if key is None:
            return row_of_plan(self.slow_plan(messages))
        try:
            compiled = self._shapes[key]
        except KeyError:
            compiled = self._compile(key)
        if compiled is None:  # a shape the compiler does not understand
            return row_of_plan(self.slow_plan(messages))
        if isinstance(compiled, RowError):  # a fresh error per row, same reason and text
            error = RowError(compiled.reason)
            error.args = compiled.args
            raise error
        program, fills = compiled
        words: list[str] = []
        partial: list[tuple[tuple[int, int], ...]] = []
        for parts, explicit in fills:
            if not explicit and len(parts) == 2:  # the common case: a header and a content
                (a, slot_a, op_a, _), (b, slot_b, op_b, _) = parts
                if slot_a >= 0:
                    a = _content(messages[slot_a]["content"], op_a)
                if slot_b >= 0:
                    b = _content(messages[slot_b]["content"], op_b)
                words.append(a + b)
                continue
            texts: list[str] = []
            ranges: list[tuple[int, int]] = []
            pos = 0
            for text, slot, op, trained in parts:
                if slot >= 0:
                    text = _content(messages[slot]["content"], op)
                end = pos + len(text)
                if trained:
                    if ranges and ranges[-1][1] == pos:
                        ranges[-1] = (ranges[-1][0], end)
                    else:
                        ranges.append((pos, end))
                texts.append(text)
                pos = end
            words.append("".join(texts))
            if explicit:
                partial.append(tuple(ranges))
        return Row(program, words, partial)

    def slow_plan(self, messages: Any) -> Plan:
        # validates the conversation
        segments = self.template.segments(messages, add_generation_prompt=self.generation_prompt)
        last = -1 if self.generation_prompt else last_assistant(messages)
        return plan_segments(segments, loss_on=self.loss_on, last=last, eos=self.eos, bos=self.bos)

    def _compile(self, key: tuple[Any, ...]) -> tuple[Program, tuple[_Fill, ...]] | RowError | None:
        roles, states = key[0::2], key[1::2]
        marks = {_EMPTY: "", _BLANK: " ", _TEXT: f" {_MARK} "}
        shape = [{"role": r, "content": marks[s]} for r, s in zip(roles, states, strict=True)]
        compiled: tuple[Program, tuple[_Fill, ...]] | RowError | None
        try:
            segments = self.template.segments(shape, add_generation_prompt=self.generation_prompt)
            last = -1 if self.generation_prompt else last_assistant(shape)
        except RowError as e:
            compiled = e
        else:
            groups = group_segments(
                segments, loss_on=self.loss_on, last=last, eos=self.eos, bos=self.bos
            )
            try:
                compiled = _compile_groups(groups, states)
            except KeyError:  # a content transformed beyond stripping: no slot for it
                compiled = None
        with self._lock:
            if len(self._shapes) >= _MAX_SHAPES:
                self._shapes.clear()
            self._shapes[key] = compiled
        return compiled


def _content(text: str, op: int) -> str:
    if op == 0:
        return text
    return text.strip() if op == 1 else text.lstrip() if op == 2 else text.rstrip()


def _compile_groups(
    groups: list[_Group], states: Sequence[int]
) -> tuple[Program, tuple[_Fill, ...]]:
    layout: list[Piece | int] = []
    kinds: list[int] = []
    modes: list[int] = []
    heads: list[int] = []
    fills: list[_Fill] = []
    for kind, parts in groups:
        if kind == SPECIAL:
            seg, trained = parts[0]
            layout.append((SPECIAL, seg.text, trained))
            continue
        out = _compile_parts(parts, states)
        if not any(slot >= 0 for _, slot, _, _ in out):  # glue only: a shared piece
            texts = "".join(text for text, _, _, _ in out)
            ranges: list[tuple[int, int]] = []
            pos = 0
            for text, _, _, trained in out:
                if trained:
                    _extend(ranges, pos, pos + len(text))
                pos += len(text)
            layout.append((kind + 2, texts, tuple(ranges)))
            continue
        flags = [trained for _, _, _, trained in out]
        runs = sum(1 for i, t in enumerate(flags) if t and (i == 0 or not flags[i - 1]))
        mode = -1 if all(flags) else runs
        head = len(out[0][0]) if flags == [False, True] and out[0][1] < 0 else -1
        layout.append(len(fills))
        kinds.append(kind)
        modes.append(mode)
        heads.append(head)
        fills.append((tuple(out), mode > 0 and head < 0))
    program = Program(tuple(layout), tuple(kinds), tuple(modes), tuple(heads))
    return program, tuple(fills)


def _compile_parts(parts: list[tuple[Segment, bool]], states: Sequence[int]) -> list[_Part]:
    """A piece's parts: glue texts (adjacent ones with the same training merged) and
    content slots; every part renders non-empty."""
    out: list[_Part] = []
    for seg, trained in parts:
        if seg.content and seg.message is not None and seg.text:
            state = states[seg.message]
            op = _OPS[seg.text] if state == _TEXT else 0 if seg.text == " " else 1
            if state != _EMPTY:
                out.append(("", seg.message, op, trained))
                continue
        if seg.text:  # glue, or a content that renders empty whatever it holds
            if out and out[-1][1] < 0 and out[-1][3] == trained:
                out[-1] = (out[-1][0] + seg.text, -1, 0, trained)
            else:
                out.append((seg.text, -1, 0, trained))
    return out


def _shape(messages: Any) -> tuple[Any, ...] | None:
    """(role, content state, role, content state, ...) or ``None`` to take the slow path."""
    if type(messages) is not list:
        return None
    key: list[Any] = []
    for m in messages:
        if type(m) is not dict:
            return None
        role, content = m.get("role"), m.get("content")
        if type(role) is not str or type(content) is not str:
            return None
        key.append(role)
        key.append(_TEXT if content and not content.isspace() else _BLANK if content else _EMPTY)
    return tuple(key)
