"""Hypothesis strategies for the clean tests: mojibake and ftfy-trigger-heavy text."""

from __future__ import annotations

import re._constants as sre
import re._parser as sre_parse
import string
from typing import Any

from ftfy import badness
from hypothesis import strategies as st

from tests.strategies import plain_text

#: Characters that make ftfy's fixers (or ours) fire, mixed with ordinary ones.
TRICKY = [
    "a", "b", "z", "A", " ", " ", "\n", "\n", "\r", "\t", "&", ";", "#", "<", ">",
    "amp", "&amp;", "&lt;", "&#x41;", "Ã", "Â", "Ã©", "Â ", "â€™", "Ã¨", "©", "€", "§", "¢",
    "\u2019", "\u201c", "\ufb01", "\uff21", "\u3000", "\x00", "\x1b[31m", "\x0b", "\x0c",
    "\x85", "\x9d", "\u2028", "\u0301", "e\u0301", "é", "\ud800", "\udc00", "\xa0",
    "\u200b", "\ufeff", "\u00ad", "\u202e", "ﬂ", "²", "ГўВЂВ", "œ", "×", "\u0300",
]  # fmt: skip

tricky_text = st.lists(st.sampled_from(TRICKY), max_size=30).map("".join)


def _garble(s: str, codec: str) -> str:
    return s.encode("utf-8").decode(codec, errors="replace")


#: UTF-8 text decoded with a single-byte codec: the classic mojibake.
mojibake = st.builds(
    _garble,
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x24F), max_size=40),
    st.sampled_from(["latin-1", "cp1252"]),
)

_word = st.text(
    alphabet=string.ascii_letters + string.digits + ".,;:!?'()-", min_size=1, max_size=10
)
#: Space-separated printable ASCII words (faster to draw than a regex strategy).
ascii_words = st.lists(_word, min_size=1, max_size=12).map(" ".join)
#: Lines of printable ASCII words: text that cleaning must return unchanged.
ascii_clean = st.lists(ascii_words, min_size=1, max_size=5).map("\n".join)

any_text = st.one_of(plain_text, tricky_text, mojibake, ascii_clean)


def _item(op: Any, av: Any) -> st.SearchStrategy[str]:
    """Strings one item of a parsed regex matches (classes: their own characters)."""
    if op is sre.LITERAL:
        return st.just(chr(av))
    if op is sre.IN:
        chars = [chr(a) for o, a in av if o is sre.LITERAL]
        chars += [chr(c) for o, a in av if o is sre.RANGE for c in (a[0], a[1], (a[0] + a[1]) // 2)]
        return st.sampled_from(chars or [" ", "\xa0", "!", "a", "é", "1"])
    if op is sre.ANY:
        return st.sampled_from(["x", " ", "é"])
    if op is sre.MAX_REPEAT:
        lo, hi, sub = av
        return st.lists(_seq(sub), min_size=lo, max_size=min(hi, 2)).map("".join)
    if op is sre.AT:  # "^": a line starts here
        return st.just("\n")
    raise NotImplementedError(op)


def _seq(sub: Any) -> st.SearchStrategy[str]:
    return st.tuples(*(_item(op, av) for op, av in sub.data)).map("".join)


def _item_chars(op: Any, av: Any) -> list[str]:
    if op is sre.LITERAL:
        return [chr(av)]
    if op is sre.IN:
        chars = [chr(a) for o, a in av if o is sre.LITERAL]
        chars += [chr(c) for o, a in av if o is sre.RANGE for c in range(a[0], a[1] + 1)]
        return chars or [" ", "\xa0", "!", "a", "é", "1"]
    if op is sre.MAX_REPEAT:
        lo, _, sub = av
        return [""] * (lo == 0) + ["".join(_item_chars(*sub.data[0])[:1])]
    return {sre.ANY: ["x", " ", "é"], sre.AT: ["\n"]}[op]


def badness_branch_examples() -> list[str]:
    """Matches of every branch of ftfy's BADNESS_RE, each character of each item once.

    Each item runs through its characters while the others hold their first one
    (``^`` is written as a line break; a ``\\s?`` is empty or one space)."""
    tree = sre_parse.parse(badness.BADNESS_RE.pattern, badness.BADNESS_RE.flags)
    out = []
    for branch in tree.data[0][1][1]:
        items = [_item_chars(op, av) for op, av in branch.data]
        first = [chars[0] for chars in items]
        for i, chars in enumerate(items):
            out += ["".join([*first[:i], c, *first[i + 1 :]]) for c in chars]
    return out


def _branch_matches() -> st.SearchStrategy[str]:
    """A would-be match of one branch of ftfy's BADNESS_RE (``^`` written as a line break)."""
    tree = sre_parse.parse(badness.BADNESS_RE.pattern, badness.BADNESS_RE.flags)
    return st.one_of([_seq(b) for b in tree.data[0][1][1]])


_prose = st.text(alphabet=st.sampled_from("ab Z.\n\xa0éöü東京приветλ"), max_size=8)
#: Lines holding near-matches of ftfy's mojibake detector: one alone in prose (the
#: window around its anchor must find it) or several packed together.
badness_text = st.one_of(
    st.tuples(_prose, _branch_matches(), _prose).map("".join),
    st.lists(st.one_of(_branch_matches(), _prose), max_size=8).map("".join),
)
