"""The model's own jinja ``chat_template``, rendered in a sandbox, as segments.

:func:`from_tokenizer` wraps a tokenizer's ``chat_template`` in a
:class:`JinjaTemplate`. Rendering happens in jinja's
``ImmutableSandboxedEnvironment`` with no loader: a template cannot reach Python
internals (``__class__``, ``__globals__``) or read files; trying raises
:class:`~sftdata.SftDataError`.

Segments are recovered by rendering once more with each message's content wrapped in
private-use marker characters: the markers show where each content lands, the text
between contents is glue, cut at the tokenizer's control tokens.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from sftdata._contract import RowError, SftDataError, validate_messages
from sftdata.templates._segments import Segment
from sftdata.templates._template import spans_of

__all__ = ["JinjaTemplate", "from_tokenizer", "render_jinja"]


def _markers(texts: list[str]) -> tuple[str, str]:
    """Two private-use characters that occur in none of ``texts``."""
    used = set("".join(texts))
    free = (chr(c) for c in range(0xE000, 0xF8FF) if chr(c) not in used)
    return next(free), next(free)


class _Sandbox(ImmutableSandboxedEnvironment):
    """Sandbox that fails loudly (instead of rendering nothing) on unsafe access."""

    def unsafe_undefined(self, obj: Any, attribute: str) -> jinja2.Undefined:
        raise SecurityError(
            f"access to attribute {attribute!r} of a {type(obj).__name__!r} object is unsafe"
        )


class _Refused(jinja2.TemplateError):
    """The template itself called ``raise_exception``: it refuses this conversation."""


def _raise_exception(message: str) -> None:
    raise _Refused(message)


def _tojson(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent)


_FILE_NODES = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)


@functools.lru_cache(maxsize=64)
def _compile(source: str) -> jinja2.Template:
    env = _Sandbox(trim_blocks=True, lstrip_blocks=True, loader=None)
    env.globals["raise_exception"] = _raise_exception
    env.filters["tojson"] = _tojson
    try:
        tree = env.parse(source)
        if any(True for _ in tree.find_all(_FILE_NODES)):
            raise SftDataError("chat template may not include, import or extend other files")
        return env.from_string(tree)
    except jinja2.TemplateError as e:
        raise SftDataError(f"chat template does not compile: {e}") from e


def render_jinja(source: str, messages: Sequence[Any], **context: Any) -> str:
    """Render jinja ``source`` with ``messages`` in the sandbox.

    >>> render_jinja("{% for m in messages %}{{ m['content'] }};{% endfor %}",
    ...              [{"role": "user", "content": "hi"}])
    'hi;'
    """
    try:
        return _compile(source).render(messages=list(messages), **context)
    except _Refused as e:  # about this conversation (a role it does not take): one row
        raise RowError("template.refused", f"chat template refused the conversation: {e}") from e
    except SecurityError as e:
        raise SftDataError(f"chat template blocked by the sandbox: {e}") from e
    except jinja2.TemplateError as e:
        raise SftDataError(f"chat template failed to render: {e}") from e


@dataclass(frozen=True)
class JinjaTemplate:
    """A model's jinja ``chat_template`` with the segments/render/spans API of a Template.

    >>> t = JinjaTemplate(name="tiny", source="{% for m in messages %}"
    ...     "{{ '<|' + m['role'] + '|>' + m['content'] + '</s>' }}{% endfor %}",
    ...     eos_token="</s>", control_tokens=("</s>",))
    >>> msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    >>> t.render(msgs)
    '<|user|>hi</s><|assistant|>yo</s>'
    >>> [s.text for s in t.segments(msgs) if s.train]
    ['yo', '</s>']
    """

    name: str
    source: str
    bos_token: str = ""
    eos_token: str = ""
    control_tokens: tuple[str, ...] = ()
    stop_words: tuple[str, ...] = ()

    def _render(self, messages: Sequence[Any], add_generation_prompt: bool) -> str:
        return render_jinja(
            self.source,
            messages,
            add_generation_prompt=add_generation_prompt,
            bos_token=self.bos_token,
            eos_token=self.eos_token,
        )

    def render(self, messages: Sequence[Any], *, add_generation_prompt: bool = False) -> str:
        """The text the template renders for ``messages``."""
        msgs = validate_messages(messages, require_assistant=False)
        return self._render(msgs, add_generation_prompt)

    def segments(
        self, messages: Sequence[Any], *, add_generation_prompt: bool = False
    ) -> list[Segment]:
        """Segments of the rendered conversation (content located with markers)."""
        msgs = validate_messages(messages, require_assistant=False)
        plain = self._render(msgs, add_generation_prompt)
        op, cl = _markers([m["content"] for m in msgs])
        marked = [{**m, "content": f"{op}{k}{op}{m['content']}{cl}"} for k, m in enumerate(msgs)]
        unmarked, found = _unmark(self._render(marked, add_generation_prompt), op, cl)
        before = _align(unmarked, plain)
        if before is None or not all(
            _trimmed(unmarked[a:b], msgs[k]["content"]) for k, a, b in found
        ):
            raise SftDataError(
                f"chat template {self.name!r} transforms message content in a way sftdata "
                "cannot locate (only whitespace stripping is supported); use a built-in template"
            )
        chunks: list[tuple[str, int | None]] = []
        pos = 0
        for k, start, end in found:
            a, b = max(before[start], pos), before[end]
            chunks += [(plain[pos:a], None), (plain[a:b], k)]
            pos = max(b, a)
        chunks.append((plain[pos:], None))
        return _glue_segments(chunks, msgs, self._specials())

    def spans(self, messages: Sequence[Any]) -> list[tuple[int, int] | None]:
        """Character span of each message's content in :meth:`render`."""
        return spans_of(self.segments(messages), len(messages))

    def _specials(self) -> tuple[str, ...]:
        tokens = {self.bos_token, self.eos_token, *self.control_tokens} - {""}
        return tuple(sorted(tokens, key=len, reverse=True))


def _unmark(text: str, op: str, cl: str) -> tuple[str, list[tuple[int, int, int]]]:
    """Remove the markers; return the text and (message, start, end) of each content."""
    parts: list[str] = []
    found: list[tuple[int, int, int]] = []
    pos = size = 0
    for m in re.finditer(
        re.escape(op) + r"(\d+)" + re.escape(op) + "(.*?)" + re.escape(cl), text, re.S
    ):
        parts.append(text[pos : m.start()])
        size += m.start() - pos
        found.append((int(m.group(1)), size, size + len(m.group(2))))
        parts.append(m.group(2))
        size += len(m.group(2))
        pos = m.end()
    parts.append(text[pos:])
    return "".join(parts), found


def _trimmed(shown: str, content: str) -> bool:
    """``shown`` is ``content`` with at most some outer whitespace removed."""
    return shown in content and shown.strip() == content.strip()


def _align(marked: str, plain: str) -> list[int] | None:
    """Match ``plain`` as ``marked`` minus some whitespace (what ``strip`` removed).

    Returns ``before[i]``: how many characters of ``marked[:i]`` survive in ``plain``
    (so a position of ``marked`` maps to one of ``plain``), or ``None`` if ``plain`` is
    not ``marked`` with whitespace removed.
    """
    before = [0] * (len(marked) + 1)
    j = 0
    for i, ch in enumerate(marked):
        if j < len(plain) and ch == plain[j]:
            j += 1
        elif not ch.isspace():
            return None
        before[i + 1] = j
    return before if j == len(plain) else None


def _glue_segments(
    chunks: list[tuple[str, int | None]], msgs: list[Any], specials: tuple[str, ...]
) -> list[Segment]:
    """Turn alternating (glue, content, glue, ...) chunks into segments.

    The glue after a message's content belongs to that message up to and including its
    first control token (its closing; trained after an assistant answer); the rest of
    the glue opens the next message (``None`` after the last one, and for a leading
    control token such as BOS).
    """
    split = re.compile("(" + "|".join(map(re.escape, specials)) + ")") if specials else None
    out: list[Segment] = []
    prev: int | None = None
    for n, (chunk, idx) in enumerate(chunks):
        if idx is not None:
            out.append(Segment(chunk, False, idx, True, msgs[idx]["role"] == "assistant"))
            prev = idx
            continue
        nxt = next((i for _, i in chunks[n + 1 :] if i is not None), None)
        closing = prev is not None
        for part in split.split(chunk) if split is not None else [chunk]:
            if not part:
                continue
            special = part in specials
            if closing and prev is not None:
                train = msgs[prev]["role"] == "assistant"
                out.append(Segment(part, special, prev, False, train))
                closing = not special
            else:
                owner = None if (special and not out) else nxt
                out.append(Segment(part, special, owner, False, False))
        prev = None
    return out


def from_tokenizer(tokenizer: Any, *, name: str | None = None) -> JinjaTemplate:
    """Wrap ``tokenizer.chat_template`` (rendered in a sandbox) as a template.

    The tokenizer's special tokens are the control tokens the glue is cut at.
    """
    source = getattr(tokenizer, "chat_template", None)
    if isinstance(source, dict):
        source = source.get("default")
    if not isinstance(source, str) or not source:
        raise SftDataError(
            "tokenizer has no chat_template; pick a built-in one with sftdata.templates.get(name)"
        )
    specials = [t for t in getattr(tokenizer, "all_special_tokens", []) if isinstance(t, str)]
    added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    specials += [str(tok) for tok in added.values() if getattr(tok, "special", False)]
    eos = getattr(tokenizer, "eos_token", None) or ""
    return JinjaTemplate(
        name=name or getattr(tokenizer, "name_or_path", "") or "tokenizer",
        source=source,
        bos_token=getattr(tokenizer, "bos_token", None) or "",
        eos_token=eos,
        control_tokens=tuple(dict.fromkeys(t for t in specials if t)),
        stop_words=(eos,) if eos else (),
    )
