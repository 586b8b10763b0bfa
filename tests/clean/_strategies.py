"""Hypothesis strategies for the clean tests: mojibake and ftfy-trigger-heavy text."""

from __future__ import annotations

import string

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
