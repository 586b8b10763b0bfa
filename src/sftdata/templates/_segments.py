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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sftdata._contract import SftDataError

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
    looks like a control token stays text. This is the per-row reference of the
    batched encoder.

    >>> from sftdata import templates
    >>> segs = templates.get("llama2").segments(
    ...     [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}])
    >>> "".join(s.text for s in segs)
    '<s>[INST] hi [/INST] yo </s>'
    """
    ids: list[int] = []
    for piece in split_pieces(segments):
        if piece[0].special:
            ids.append(special_token_id(tokenizer, piece[0].text))
            continue
        text = "".join(seg.text for seg in piece)
        if text:
            enc = tokenizer(text, add_special_tokens=False, split_special_tokens=True)
            ids.extend(int(i) for i in enc["input_ids"])
    return ids
