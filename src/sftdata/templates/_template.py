"""The :class:`Template` data class: what goes around each turn, rendered natively."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from sftdata._contract import RowError, SftDataError, validate_messages
from sftdata.templates._segments import Segment
from sftdata.templates._to_jinja import template_to_jinja

__all__ = ["StripMode", "SystemPlacement", "Template", "spans_of"]

#: ``none``: content as given; ``content``: each message's content ``str.strip()``-ed
#: (a system prompt folded into the first user turn is left as is); ``turn``: the text
#: between a turn's prefix and suffix is stripped as a whole (Meta's Llama-2 reference).
StripMode = Literal["none", "content", "turn"]
#: ``turn``: the system prompt is a turn of its own; ``fold``: it goes inside the first
#: user turn, right after the user prefix (Llama-2, Mistral, Gemma); ``prepend``: it goes
#: right before the first user prefix, in the same turn (xtuner's SYSTEM + INSTRUCTION).
SystemPlacement = Literal["turn", "fold", "prepend"]

_Item = tuple[str, bool, "int | None"]  # (text, is_content, message index)


@dataclass(frozen=True)
class Template:
    """A chat format as plain data: the strings around each turn and where tokens go.

    Rendering a system/user/assistant conversation with ``chatml``::

        <|im_start|>system\\n{system}<|im_end|>\\n
        <|im_start|>user\\n{user}<|im_end|>\\n
        <|im_start|>assistant\\n{answer}<|im_end|>\\n
        ^ assistant_prefix      ^ content ^ suffix ^ after
                                  `----- trained ---'

    Fields: ``bos`` opens the conversation (or every user turn with
    ``bos_per_user_turn``); ``*_prefix`` / ``*_suffix`` wrap each role's content (a
    ``tool_prefix`` of ``None`` means the format has no tool turn);
    ``assistant_suffix`` is the trained end of an answer, ``assistant_after`` the
    untrained glue after it (not after the last message when ``after_last`` is false);
    ``generation_prompt`` is appended when asked, ``end`` otherwise; ``control_tokens``
    lists the control tokens the glue contains; ``per_turn_pieces`` marks each turn (and
    ``assistant_after``) as a tokenization piece of its own. ``{round}`` in the user
    prefix/suffix becomes the 1-based number of the user turn.

    >>> from sftdata import templates
    >>> t = templates.get("chatml")
    >>> t.render([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}])
    '<|im_start|>user\\nhi<|im_end|>\\n<|im_start|>assistant\\nyo<|im_end|>\\n'
    """

    name: str
    bos: str = ""
    eos: str = ""
    system_prefix: str = ""
    system_suffix: str = ""
    user_prefix: str = ""
    user_suffix: str = ""
    assistant_prefix: str = ""
    assistant_suffix: str = ""
    assistant_after: str = ""
    after_last: bool = True
    tool_prefix: str | None = None
    tool_suffix: str = ""
    generation_prompt: str = ""
    end: str = ""
    default_system: str | None = None
    system_placement: SystemPlacement = "turn"
    skip_empty_system: bool = False
    strip: StripMode = "none"
    bos_per_user_turn: bool = False
    per_turn_pieces: bool = False
    control_tokens: tuple[str, ...] = ()
    stop_words: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.name:
            raise SftDataError("Template.name must be a non-empty string")
        if self.strip not in ("none", "content", "turn"):
            raise SftDataError(f"Template.strip must be none|content|turn, got {self.strip!r}")
        if self.system_placement not in ("turn", "fold", "prepend"):
            raise SftDataError(
                "Template.system_placement must be turn|fold|prepend, "
                f"got {self.system_placement!r}"
            )
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("str", "str | None") and not (
                isinstance(value, str) or (value is None and f.type == "str | None")
            ):
                raise SftDataError(f"Template.{f.name} must be a str, got {type(value).__name__}")
        for fname in ("control_tokens", "stop_words"):
            value = getattr(self, fname)
            if not isinstance(value, tuple) or not all(isinstance(t, str) and t for t in value):
                raise SftDataError(f"Template.{fname} must be a tuple of non-empty strings")

    # ------------------------------------------------------------------ rendering
    def segments(
        self, messages: Sequence[Any], *, add_generation_prompt: bool = False
    ) -> list[Segment]:
        """Render ``messages`` into segments (see :class:`~sftdata.templates.Segment`).

        >>> from sftdata import templates
        >>> segs = templates.get("chatml").segments(
        ...     [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}])
        >>> [s.text for s in segs if s.train]
        ['yo', '<|im_end|>']
        """
        msgs = validate_messages(messages, require_assistant=False)
        out = _Builder(self)
        if not self.bos_per_user_turn:
            out.glue(self.bos, None)
        start, system, sys_idx = 0, self.default_system, None
        if msgs[0]["role"] == "system":
            start, system, sys_idx = 1, msgs[0]["content"], 0
        if system is not None and self.skip_empty_system and system == "":
            system = None
        fold: list[_Item] = []
        if system is not None:
            if self.system_placement == "turn":
                item = (system, sys_idx is not None, sys_idx)
                out.turn(sys_idx, self.system_prefix, [item], self.system_suffix)
            else:
                fold = [
                    (self.system_prefix, False, sys_idx),
                    (system, sys_idx is not None, sys_idx),
                    (self.system_suffix, False, sys_idx),
                ]
        rounds = 0
        for i in range(start, len(msgs)):
            rounds += msgs[i]["role"] == "user"
            last = i == len(msgs) - 1
            self._turn(out, i, msgs[i], fold if i == start else [], rounds=rounds, last=last)
        out.glue(self.generation_prompt if add_generation_prompt else self.end, None)
        return out.segments

    def _turn(
        self, out: _Builder, i: int, msg: Any, fold: list[_Item], *, rounds: int, last: bool
    ) -> None:
        role, text = msg["role"], msg["content"]
        head: list[_Item] = fold if self.system_placement == "prepend" else []
        body: list[_Item] = [*fold, (text, True, i)] if not head else [(text, True, i)]
        if role == "user":
            if self.bos_per_user_turn:
                out.glue(self.bos, i, turn_start=True)
            prefix, suffix = self.user_prefix, self.user_suffix
            if "{round}" in prefix or "{round}" in suffix:
                n = str(rounds)
                prefix, suffix = prefix.replace("{round}", n), suffix.replace("{round}", n)
            out.turn(i, prefix, body, suffix, head=head)
        elif role == "assistant":
            out.turn(i, self.assistant_prefix, body, self.assistant_suffix, train=True)
            if self.after_last or not last:
                out.glue(self.assistant_after, i, turn_start=True)
        elif role == "tool" and self.tool_prefix is not None:
            out.turn(i, self.tool_prefix, body, self.tool_suffix)
        else:  # about this conversation, not the template: one rejected row
            raise RowError(
                f"template.unsupported_role:{role}",
                f"template {self.name!r} cannot render message {i} with role {role!r}",
            )

    def render(self, messages: Sequence[Any], *, add_generation_prompt: bool = False) -> str:
        """The rendered conversation: ``"".join`` of :meth:`segments`.

        >>> from sftdata import templates
        >>> templates.get("llama2").render([{"role": "system", "content": "Be brief."},
        ...     {"role": "user", "content": "hi "}, {"role": "assistant", "content": "yo"}])
        '<s>[INST] <<SYS>>\\nBe brief.\\n<</SYS>>\\n\\nhi [/INST] yo </s>'
        """
        segs = self.segments(messages, add_generation_prompt=add_generation_prompt)
        return "".join(s.text for s in segs)

    def spans(self, messages: Sequence[Any]) -> list[tuple[int, int] | None]:
        """Character span of each message's content in :meth:`render`; ``None`` if absent.

        >>> from sftdata import templates
        >>> msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
        >>> t = templates.get("chatml")
        >>> [t.render(msgs)[a:b] for a, b in t.spans(msgs)]
        ['hi', 'yo']
        """
        return spans_of(self.segments(messages), len(messages))

    def to_jinja(self) -> str:
        """An HF ``chat_template`` string rendering exactly the same text.

        >>> from sftdata import templates
        >>> "im_start" in templates.get("chatml").to_jinja()
        True
        """
        return template_to_jinja(self)


def spans_of(segments: Sequence[Segment], n_messages: int) -> list[tuple[int, int] | None]:
    """Char span of each message's content segments within the joined segment texts."""
    spans: list[tuple[int, int] | None] = [None] * n_messages
    pos = 0
    for seg in segments:
        end = pos + len(seg.text)
        if seg.content and seg.message is not None:
            old = spans[seg.message]
            spans[seg.message] = (pos, end) if old is None else (old[0], end)
        pos = end
    return spans


class _Builder:
    """Accumulates segments for one render (mutable helper, never stored).

    Glue strings are cut into segments once per (text, message, train) and reused:
    segments are immutable, so a render only builds its content segments.
    """

    __slots__ = ("_break", "_per_turn", "_tokens", "segments", "t")

    def __init__(self, template: Template) -> None:
        self.t = template
        self.segments: list[Segment] = []
        self._break = False
        self._per_turn = template.per_turn_pieces
        self._tokens = frozenset({template.bos, template.eos, *template.control_tokens} - {""})

    def glue(
        self, text: str, msg: int | None, *, train: bool = False, turn_start: bool = False
    ) -> None:
        if turn_start and self._per_turn:
            self._break = True
        if not text:
            return
        segs = _glue_segments(text, self._tokens, msg, train)
        if self._break:
            self._break = False
            head = segs[0]
            if not head.special:
                self.segments.append(head._replace(break_before=True))
                self.segments.extend(segs[1:])
                return
        self.segments.extend(segs)

    def turn(
        self,
        msg: int | None,
        prefix: str,
        body: list[_Item],
        suffix: str,
        *,
        train: bool = False,
        head: list[_Item] | None = None,
    ) -> None:
        if self._per_turn:
            self._break = True
        if head:
            self._items(head, train=False)
        self.glue(prefix, msg)
        self._items(_strip_body(body, self.t.strip), train=train)
        self.glue(suffix, msg, train=train)

    def _items(self, items: list[_Item], *, train: bool) -> None:
        for text, is_content, idx in items:
            if not is_content:
                self.glue(text, idx)
            elif self._break:
                self._break = False
                self.segments.append(Segment(text, False, idx, True, train, True))
            else:
                self.segments.append(Segment(text, False, idx, True, train))


@functools.lru_cache(maxsize=4096)
def _glue_segments(
    text: str, tokens: frozenset[str], msg: int | None, train: bool
) -> tuple[Segment, ...]:
    """The segments of glue ``text`` of message ``msg`` (reused: segments are immutable)."""
    return tuple(
        Segment(part, special, msg, False, train) for part, special in _cut_glue(text, tokens)
    )


@functools.lru_cache(maxsize=1024)
def _cut_glue(text: str, tokens: frozenset[str]) -> tuple[tuple[str, bool], ...]:
    """``text`` cut at the control tokens: ((part, is_control_token), ...), no empty part."""
    if not text:
        return ()
    ordered = sorted(tokens, key=len, reverse=True)
    parts = re.split("(" + "|".join(map(re.escape, ordered)) + ")", text) if ordered else [text]
    return tuple((p, p in tokens) for p in parts if p)


def _strip_body(body: list[_Item], mode: StripMode) -> list[_Item]:
    if mode == "none":
        return body
    if mode == "content":
        folded = len(body) > 1
        return [
            (t.strip() if c and not (folded and k < len(body) - 1) else t, c, i)
            for k, (t, c, i) in enumerate(body)
        ]
    # "turn": strip the concatenation as a whole, across item boundaries.
    items = list(body)
    for k in range(len(items)):
        t, c, i = items[k]
        items[k] = (t.lstrip(), c, i)
        if items[k][0]:
            break
    for k in range(len(items) - 1, -1, -1):
        t, c, i = items[k]
        items[k] = (t.rstrip(), c, i)
        if items[k][0]:
            break
    return items
