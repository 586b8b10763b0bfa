"""Segments: a rendered conversation cut into glue, content and control tokens.

A template renders a conversation into a list of :class:`Segment`. Joined, their texts
are the rendered string; each one also says which message it belongs to, whether it is
message content, whether the model learns it, and whether it is one control token::

    segment:   <s>  | [INST]  | hi | [/INST]  | yo | </s>
    special:   yes  | no      | no | no       | no | yes
    message:   None | 0       | 0  | 0        | 1  | 1
    content:   no   | no      | yes| no       | yes| no
    train:     no   | no      | no | no       | yes| yes

:func:`split_pieces` is the one tokenization rule: each control token is a piece of its
own; the texts between them are tokenized as pieces (and ``break_before`` starts a new
piece, where the model family's reference tokenizes turns separately).

A piece *starts a tokenizer call* of the reference when it opens the render, follows
the tokenizer's BOS (which references add as an id, not as text) or starts with a
``break_before`` segment; any other piece *continues* the rendered string after a
control token. The difference matters only for a tokenizer that adds its word-start
prefix at the start of a call and nowhere else (sentencepiece-style Metaspace with
``prepend_scheme="first"``, e.g. Llama/Mistral fast tokenizers loaded with
``legacy=False``): a continuing piece is tokenized without that prefix, exactly as
tokenizing the whole rendered string does (see :func:`continuation`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from sftdata._contract import SftDataError
from sftdata._tokenizer_copies import copies, prefix_off

__all__ = ["Segment", "special_token_id", "split_pieces", "token_ids"]


class Segment(NamedTuple):
    """One run of rendered text (an immutable named tuple: cheap to build, one per run).

    Attributes:
        text: the rendered characters.
        special: ``text`` is exactly one control token (BOS, EOS, ``<|im_end|>``, ...),
            mapped to one id and never split or re-tokenized.
        message: index of the message the segment belongs to; ``None`` for glue outside
            any turn (a leading BOS, the generation prompt).
        content: the (possibly stripped) content of message ``message``; else glue.
        train: the model learns these characters: assistant content and the assistant
            turn's closing glue up to and including its end-of-turn token.
        break_before: the reference tokenizes a new piece from here.

    >>> Segment("hi", special=False, message=0, content=True, train=False)
    Segment(text='hi', special=False, message=0, content=True, train=False, break_before=False)
    """

    text: str
    special: bool
    message: int | None
    content: bool
    train: bool
    break_before: bool = False


def split_pieces(segments: Sequence[Segment]) -> list[list[Segment]]:
    """Group segments into tokenization pieces.

    A special segment is a piece of its own; a text piece starts after each special
    segment and at each segment with ``break_before``; other consecutive text segments
    join one piece.

    >>> s = [Segment("<s>", True, None, False, False), Segment("[INST] ", False, 0, False, False),
    ...      Segment("hi", False, 0, True, False), Segment("yo", False, 1, True, True, True)]
    >>> [["".join(x.text for x in p)] for p in split_pieces(s)]
    [['<s>'], ['[INST] hi'], ['yo']]
    """
    pieces: list[list[Segment]] = []
    current: list[Segment] | None = None
    for seg in segments:
        if seg.special:
            pieces.append([seg])
            current = None
        elif current is None or seg.break_before:
            current = [seg]
            pieces.append(current)
        else:
            current.append(seg)
    return pieces


def special_token_id(tokenizer: Any, token: str) -> int:
    """The id of control token ``token``; :class:`SftDataError` if the tokenizer lacks it.

    Unknown tokens are caught whether the tokenizer answers ``None`` or its unk id.
    """
    tid = tokenizer.convert_tokens_to_ids(token)
    unk = getattr(tokenizer, "unk_token", None)
    if tid is None or (token != unk and tid == getattr(tokenizer, "unk_token_id", None)):
        raise SftDataError(
            f"control token {token!r} of the template is not in the tokenizer's vocabulary; "
            "add it (tokenizer.add_special_tokens) or pick the template of this model family"
        )
    return int(tid)


def token_ids(segments: Sequence[Segment], tokenizer: Any) -> list[int]:
    """Token ids of one rendered conversation, following :func:`split_pieces`.

    Control tokens map to one id each; every text piece is tokenized on its own with
    ``add_special_tokens=False`` and ``split_special_tokens=True``, so content that only
    looks like a control token stays text; a piece that continues the render after a
    control token gets no word-start prefix (see the module docstring). This is the
    per-row reference of the batched encoder.

    >>> from sftdata import templates
    >>> segs = templates.get("llama2").segments(
    ...     [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}])
    >>> "".join(s.text for s in segs)
    '<s>[INST] hi [/INST] yo </s>'
    """
    ids: list[int] = []
    bos = getattr(tokenizer, "bos_token", None)
    made = copies(tokenizer)  # private copies: the user's tokenizer is never changed
    previous: Segment | None = None
    for piece in split_pieces(segments):
        head, before, previous = piece[0], previous, piece[-1]
        if head.special:
            ids.append(special_token_id(tokenizer, head.text))
            continue
        text = "".join(seg.text for seg in piece)
        starts = before is None or head.break_before or (before.special and before.text == bos)
        if not text:
            continue
        if made is not None:
            ids += (made.start if starts else made.cont).encode(text, add_special_tokens=False).ids
            continue
        with public_call(tokenizer, continues=not starts):
            enc = tokenizer(text, add_special_tokens=False, split_special_tokens=True)
        ids.extend(int(i) for i in enc["input_ids"])
    return ids


def no_start_prefix(tokenizer: Any) -> Any:
    """The tokenizer's pre-tokenizer with its start-of-call prefix turned off, or ``None``.

    Not ``None`` only for a tokenizers-backed tokenizer whose pre-tokenizer (or one in
    its ``Sequence``) is a Metaspace with ``prepend_scheme="first"``: it prefixes the
    first word of a call and no other, so a text piece that continues a string after a
    control token must be tokenized with the prefix off to match the whole string.
    """
    backend = getattr(tokenizer, "_tokenizer", None)
    return prefix_off(getattr(backend, "pre_tokenizer", None))


#: Held while sftdata changes a tokenizer it cannot copy (see
#: :mod:`sftdata._tokenizer_copies`) for one call and changes it back, so two threads
#: of sftdata never interleave those changes.
TOKENIZER_LOCK = threading.RLock()


@contextlib.contextmanager
def public_call(tokenizer: Any, *, continues: bool, never: Any = None) -> Iterator[None]:
    """Call a tokenizer that cannot be copied: under :data:`TOKENIZER_LOCK`, with the
    start prefix off when the text ``continues`` a string, and with the backend's
    ``encode_special_tokens`` flag (which transformers sets for
    ``split_special_tokens`` and leaves set) put back afterwards."""
    backend = getattr(tokenizer, "_tokenizer", None)
    with TOKENIZER_LOCK:
        flag = getattr(backend, "encode_special_tokens", None)
        try:
            with continuation(tokenizer, never) if continues else contextlib.nullcontext():
                yield
        finally:
            if backend is not None and flag is not None:
                backend.encode_special_tokens = flag


@contextlib.contextmanager
def continuation(tokenizer: Any, never: Any = None) -> Iterator[None]:
    """Tokenize text that continues a string: no start-of-call prefix (see
    :func:`no_start_prefix`); a no-op for every other tokenizer. ``never`` is that
    pre-tokenizer when the caller already has it. The tokenizer's own pre-tokenizer is
    swapped while the block runs, under :data:`TOKENIZER_LOCK`: other threads calling
    that tokenizer meanwhile see the swap (sftdata itself uses private copies where it
    can, see :mod:`sftdata._tokenizer_copies`)."""
    never = never if never is not None else no_start_prefix(tokenizer)
    if never is None:
        yield
        return
    backend = tokenizer._tokenizer
    with TOKENIZER_LOCK:
        before = backend.pre_tokenizer
        backend.pre_tokenizer = never
        try:
            yield
        finally:
            backend.pre_tokenizer = before
