r"""``ftfy_fix``: ``ftfy.fix_text`` with a line-wise fast path and a time bound.

Fast path: ``ftfy.fix_text`` looks at every line of every text in Python. Most real
text is clean, so we first find the lines where one of its fixers could fire with
C-speed checks (``str.isascii``, one character-class regex, and, on non-ASCII lines
only, ``unicodedata.is_normalized`` and ftfy's own mojibake detector ``BADNESS_RE``)
and hand ftfy only those lines. The lines we skip are exactly what ``ftfy.fix_text``
would return (property-tested against ftfy itself), so the output never depends on
the path.

``BADNESS_RE`` is a 37-branch alternation that Python's regex engine tries at every
position of a line (about 5 MB/s on accented text). Every branch needs one of a few
rare characters (an *anchor*: capital accented letters, currency signs, box drawing,
...; see :func:`_anchors`), and no match is longer than 7 characters, so we look for
anchors with one character class and run ``BADNESS_RE`` only on the few characters
around each::

    line      "... naïve café Übermensch ..."
    anchors                  ^ (Ü)               é, ï: no branch needs them
    searched            [.......]                 Ü +- 6 characters, clipped to the line
"""

from __future__ import annotations

import re
import re._constants as sre
import re._parser as sre_parse
import unicodedata
from collections.abc import Set as AbstractSet
from typing import Any, Literal

import ftfy
from ftfy import badness, chardata

from sftdata._contract import RowError

Normalization = Literal["NFC", "NFKC"]


def _char_class(codepoints: Any) -> str:
    return "".join(re.escape(chr(c)) for c in sorted(set(codepoints)))


_CONTROL = list(chardata.CONTROL_CHARS)
# ASCII text: only HTML entities, ftfy's control characters (incl. ESC) and "\r" can change.
_ASCII_TRIGGER = re.compile(f"[{_char_class(c for c in _CONTROL if c < 128)}]")
_ENTITY = chardata.HTML_ENTITY_RE
# "\r" is no trigger: ftfy only turns it into "\n", which we do for the lines it skips
_SHARED = [
    *_CONTROL,
    *range(0x80, 0xA0),  # C1 controls (incl. U+0085 NEXT LINE)
    0x2028,
    0x2029,
    *chardata.LIGATURES,
    *chardata.WIDTH_MAP,
]
SURROGATES = "\ud800-\udfff"
_QUOTES = "\u02bc\u2018-\u201f"
_TRIGGER = {
    True: re.compile(f"[{_char_class(_SHARED)}{SURROGATES}{_QUOTES}]"),
    False: re.compile(f"[{_char_class(_SHARED)}{SURROGATES}]"),
}
# ftfy tests BADNESS_RE on each non-ASCII line alone (every branch of it needs a
# non-ASCII character). We search the line in place: with MULTILINE, "^" matches at
# the line start as it does for ftfy (the pattern has no lookarounds and no "$").
_NON_ASCII = re.compile("[^\x00-\x7f]")
_BAD_ANY_LINE = re.compile(badness.BADNESS_RE.pattern, badness.BADNESS_RE.flags | re.MULTILINE)


def _item_chars(op: Any, av: Any) -> frozenset[int] | None:
    """The code points one pattern item matches, if it is a plain literal or class."""
    if op is sre.LITERAL:
        return frozenset([av])
    if op is not sre.IN or any(o not in (sre.LITERAL, sre.RANGE) for o, _ in av):
        return None  # a negated class, \s, \w, "." ...: no bounded set
    return frozenset(c for o, a in av for c in ([a] if o is sre.LITERAL else range(a[0], a[1] + 1)))


def _rarity(chars: AbstractSet[int]) -> tuple[int, int, int]:
    """Sort key: small letters (common in prose) first to avoid, then letters, then size."""
    names = [unicodedata.name(chr(c), "") for c in chars]
    return (
        sum(" SMALL LETTER " in n for n in names),
        sum(" LETTER " in n for n in names),
        len(chars),
    )


def _anchors(pattern: re.Pattern[str]) -> tuple[str, int] | None:
    """``(class of anchor characters, longest match)`` for a top-level alternation.

    An anchor of a branch is one of its top-level items (so every match of the branch
    holds one of its characters) whose characters are all non-ASCII; per branch we
    take the one holding the fewest small letters, the characters of real words.
    ``None`` when some branch has no such item or matches are unbounded: then every
    line is searched whole.
    """
    tree = sre_parse.parse(pattern.pattern, pattern.flags)
    width = tree.getwidth()[1]
    if len(tree.data) != 1 or tree.data[0][0] is not sre.BRANCH or width > 64:
        return None
    chosen: set[int] = set()
    for branch in tree.data[0][1][1]:
        sets = [_item_chars(op, av) for op, av in branch.data]
        usable = [s for s in sets if s and min(s) >= 0x80]
        if not usable:
            return None
        chosen |= min(usable, key=_rarity)
    return _char_class(chosen), width


_ANCHORS = _anchors(badness.BADNESS_RE)
_ANCHOR, _WIDTH = (re.compile(f"[{_ANCHORS[0]}]"), _ANCHORS[1]) if _ANCHORS else (None, 0)


def _is_bad_line(text: str, start: int, end: int) -> bool:
    """``BADNESS_RE.search(text[start:end])`` for a whole line, searching near anchors only.

    A match holds an anchor at some ``p`` and lies within ``[p - W + 1, p + W)`` (``W``
    the longest match); ``^`` still matches only at real line starts (``MULTILINE``
    with ``pos``), and the pattern has no lookaround, so a window sees what the line does.
    """
    if _ANCHOR is None:
        return _BAD_ANY_LINE.search(text, start, end) is not None
    pos = start
    while m := _ANCHOR.search(text, pos, end):
        p = m.start()
        stop = min(end, p + _WIDTH)
        if _BAD_ANY_LINE.search(text, max(start, p - _WIDTH + 1), stop):
            return True
        # anchors before stop - W + 1 have windows inside the one just searched
        pos = max(p + 1, stop - _WIDTH + 1)
    return False


def _ftfy_config(normalization: Normalization | None, uncurl: bool) -> ftfy.TextFixerConfig:
    return ftfy.TextFixerConfig(normalization=normalization, uncurl_quotes=uncurl, explain=False)


def ftfy_fix(
    text: str,
    *,
    normalization: Normalization | None = "NFC",
    uncurl: bool = True,
    max_repair_chars: int | None = None,
) -> str:
    """``ftfy.fix_text(text, config)`` with a fast path; same output, always.

    ftfy fixes a text line by line. We find the lines that any of its fixers could
    change with C-speed scans and hand only those lines to ftfy; the other lines are
    returned as they are (with ``\\r`` line breaks made ``\\n``, which is all ftfy
    would do to them). ftfy re-decodes mojibake at well under 1 MB/s, so
    ``max_repair_chars`` bounds the characters handed to it: beyond the bound the
    text is rejected (``RowError("clean.too_long")``) rather than left to run for minutes.

    >>> ftfy_fix("plain ascii") == "plain ascii"
    True
    >>> ftfy_fix("clean line\\nThe Mona Lisa doesnÃ¢â‚¬â„¢t have eyebrows.")
    "clean line\\nThe Mona Lisa doesn't have eyebrows."
    """
    config = _ftfy_config(normalization, uncurl)
    if text.isascii():
        # ASCII lines never need re-decoding, the slow part of ftfy: no bound needed
        patterns, max_repair_chars = [_ASCII_TRIGGER], None
    elif _has_long_line(text, config.max_decode_length):
        # ftfy would cut a line in pieces: keep its exact rules
        _check_budget(len(text), max_repair_chars)
        return ftfy.fix_text(text, config)
    else:
        patterns = [_TRIGGER[uncurl]]
    if "&" in text:
        patterns.append(_ENTITY)
    chunks = _dirty_chunks(text, patterns, normalization=normalization, budget=max_repair_chars)
    if not chunks:
        return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text
    first_lt = text.find("<")
    out, pos = [], 0
    for start, end in chunks:
        out.append(text[pos:start])
        # ftfy stops unescaping HTML for good once a line holding "<" went by
        seen_lt = first_lt != -1 and first_lt < start
        chunk_config = config._replace(unescape_html=False) if seen_lt else config
        out.append(ftfy.fix_text(text[start:end], chunk_config))
        pos = end
    out.append(text[pos:])
    # ftfy output holds no "\r", so this only touches the lines we kept as they were
    return "".join(out).replace("\r\n", "\n").replace("\r", "\n")


def _check_budget(n_chars: int, max_repair_chars: int | None) -> None:
    if max_repair_chars is not None and n_chars > max_repair_chars:
        raise RowError(
            "clean.too_long",
            f"{n_chars} characters need mojibake repair; max_repair_chars={max_repair_chars}",
        )


def _has_long_line(text: str, limit: int) -> bool:
    return len(text) > limit and max(map(len, text.split("\n"))) + 1 > limit


def _line_at(text: str, start: int, end: int) -> tuple[int, int]:
    """The span of the whole lines (with their ``\\n``) that hold ``text[start:end]``."""
    stop = text.find("\n", max(start, end - 1))
    return text.rfind("\n", 0, start) + 1, len(text) if stop == -1 else stop + 1


def _dirty_chunks(
    text: str,
    patterns: list[re.Pattern[str]],
    *,
    normalization: Normalization | None,
    budget: int | None,
) -> list[tuple[int, int]]:
    """Sorted, merged ``(start, end)`` spans of whole lines ftfy could change.

    Each search resumes after the line it hit, so the cost stays linear however many
    hits one line holds. Raises ``clean.too_long`` as soon as the lines found hold
    more than ``budget`` characters (lines hit twice are counted twice: an upper bound).
    """
    spans: list[tuple[int, int]] = []
    total = 0

    def add(span: tuple[int, int]) -> None:
        nonlocal total
        spans.append(span)
        total += span[1] - span[0]
        _check_budget(total, budget)

    for pattern in patterns:
        pos = 0
        while m := pattern.search(text, pos):
            add(_line_at(text, *m.span()))
            pos = spans[-1][1]
    # ftfy runs its mojibake detector on non-ASCII lines only, one line at a time;
    # ASCII lines are also already normalised
    pos = 0
    while m := _NON_ASCII.search(text, pos):
        line = _line_at(text, m.start(), m.start() + 1)
        if _is_bad_line(text, *line) or (
            normalization is not None
            and not unicodedata.is_normalized(normalization, text[line[0] : line[1]])
        ):
            add(line)
        pos = line[1]
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
