r"""``fix_text`` / ``FixText``: mojibake repair, Unicode normalisation, invisible
characters and whitespace, in one idempotent pass.

What one call does (each stage can be switched off)::

    whitespace       "a  \r\n\n\n\nb \t"          -> "a\n\nb"        (max_blank_lines=1)
    strip_html?      "<p>Caf&eacute;</p>"        -> "Café"          (off by default)
    fix_mojibake     "CafÃ©  â€œokâ€\x9d"       -> 'Café  "ok"'    (ftfy.fix_text)
    remove_invisible "zero\u200bwidth\x00"       -> "zerowidth"
    normalization    "e\u0301"                    -> "é"             (NFC; NFKC optional)

>>> fix_text("CafÃ©  \r\n\n\n\nzero\u200bwidth ")
'Café\n\nzerowidth'

Whitespace runs first; the four repair stages then repeat, each change followed by
whitespace again, until they leave the text untouched (at most ``MAX_PASSES``
times), so ``fix_text(fix_text(x)) == fix_text(x)``.

The ftfy stage has a fast path that gives the same output (see
:mod:`sftdata.clean._ftfy_fast`).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sftdata._contract import Batch, RowError, SftDataError
from sftdata._texts import Column, check_column, map_texts, over_preference_rows, step_features
from sftdata.clean._ftfy_fast import SURROGATES, Normalization, ftfy_fix

#: Upper bound on repeated passes (each pass is a no-op scan once the text is clean).
MAX_PASSES = 8

# -- our own stages -----------------------------------------------------------------

_TAG = re.compile(
    r"<(script|style)\b[^>]*>.*?</\1\s*>|<!--.*?-->|<(/?)([A-Za-z][A-Za-z0-9]*)\b[^<>]*>|<![^<>]*>",
    re.IGNORECASE | re.DOTALL,
)
_BLOCK_TAGS = frozenset(
    ["br", "p", "div", "li", "ul", "ol", "tr", "table", "pre", "blockquote"]
    + [f"h{i}" for i in range(1, 7)]
)

#: C0/C1 controls except tab and line breaks, zero-width and bidi-override characters,
#: soft hyphen. ZWJ/ZWNJ (U+200C/D) and LRM/RLM (U+200E/F) are kept: they carry
#: meaning in Persian, Indic scripts, emoji sequences and right-to-left text.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u00ad\u180e\u200b\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]"
)
_LINE_BREAK = re.compile("\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
_SPACE = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_ODD_SPACE_OR_BREAK = re.compile("[\x85\u2028\u2029\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_TRAILING = re.compile("[ \t]+(?=\n)")
_SURROGATE = re.compile(f"[{SURROGATES}]")


def _strip_html(text: str) -> str:
    if "<" not in text and "&" not in text:
        return text

    def tag(m: re.Match[str]) -> str:
        return "\n" if m.group(3) and m.group(3).lower() in _BLOCK_TAGS else ""

    return html.unescape(_TAG.sub(tag, text))


def _fix_surrogates(text: str) -> str:
    if not _SURROGATE.search(text):
        return text
    # pairs become the character they encode; lone halves become U+FFFD
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _whitespace(text: str, max_blank_lines: int) -> str:
    # cheap `in` tests first: most text needs none of these substitutions
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    if "\r" in text or "\x0b" in text or "\x0c" in text:
        text = _LINE_BREAK.sub("\n", text)
    if not text.isascii() and _ODD_SPACE_OR_BREAK.search(text):
        text = _SPACE.sub(" ", _LINE_BREAK.sub("\n", text))
    if " \n" in text or "\t\n" in text:
        text = _TRAILING.sub("", text)
    if "\n" * (max_blank_lines + 2) in text:
        text = re.sub(f"\n{{{max_blank_lines + 2},}}", "\n" * (max_blank_lines + 1), text)
    return text.lstrip("\n").rstrip()


# -- the row function and the step -------------------------------------------------


@dataclass(frozen=True)
class FixText:
    """Batched step of :func:`fix_text` over ``text`` or every message content.

    ::

        text (in)                     text (out)
        "CafÃ©\\r\\n\\r\\n\\r\\nok  "   ->  "Café\\n\\nok"
        None                          ->  None, drop_reason="clean.bad_text"

    Options (keyword-only, validated before any work):

    - ``fix_mojibake``: run ftfy (mojibake, HTML entities, ligatures, widths, line
      breaks, terminal escapes), with the fast path described in the module docs.
    - ``uncurl_quotes``: ftfy's curly-to-straight quote fix (ftfy's default: on).
    - ``normalization``: ``"NFC"`` (default), ``"NFKC"`` (also folds compatibility
      forms such as ``ﬁ`` and ``²``) or ``None``.
    - ``remove_invisible``: drop control, zero-width and bidi-override characters.
    - ``normalize_whitespace``: ``\\r\\n`` and other breaks to ``\\n``, exotic spaces to
      ``" "``, no trailing spaces, at most ``max_blank_lines`` blank lines in a row,
      no blank lines at the start or end.
    - ``strip_html``: remove tags (``<script>``/``<style>`` with their content; block
      tags become line breaks) and unescape entities.
    - ``max_repair_chars``: at most this many characters of one text go through
      ftfy's slow mojibake repair (``None``: no bound); a text needing more is
      rejected with ``clean.too_long``. Clean text of any size is never affected.
    - ``column``: ``"auto"`` (``messages`` if present, else ``text``); ``roles``: the
      message roles to clean (``None`` = all).

    >>> FixText()({"text": ["Ã©tÃ©  ", None]})
    {'text': ['été', None], 'drop_reason': [None, 'clean.bad_text']}
    """

    fix_mojibake: bool = True
    uncurl_quotes: bool = True
    normalization: Normalization | None = "NFC"
    remove_invisible: bool = True
    normalize_whitespace: bool = True
    max_blank_lines: int = 1
    strip_html: bool = False
    max_repair_chars: int | None = 1_000_000
    column: Column = "auto"
    roles: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.normalization not in ("NFC", "NFKC", None):
            raise SftDataError(
                f"FixText.normalization must be 'NFC', 'NFKC' or None, got {self.normalization!r}"
            )
        if isinstance(self.max_blank_lines, bool) or not isinstance(self.max_blank_lines, int):
            raise TypeError(f"FixText.max_blank_lines must be an int, got {self.max_blank_lines!r}")
        if self.max_blank_lines < 0:
            raise SftDataError(f"FixText.max_blank_lines must be >= 0, got {self.max_blank_lines}")
        if self.max_repair_chars is not None and self.max_repair_chars < 0:
            raise SftDataError(
                f"FixText.max_repair_chars must be >= 0 or None, got {self.max_repair_chars}"
            )
        check_column(self.column, what="FixText.column")
        if isinstance(self.roles, str):
            raise TypeError(
                f"FixText.roles must be a tuple of roles, got the string {self.roles!r}"
            )
        if self.roles is not None:
            object.__setattr__(self, "roles", tuple(self.roles))

    def fix(self, text: str) -> str:
        """Clean one string (the row function :func:`fix_text` with these options)."""
        if not isinstance(text, str):
            raise RowError("clean.bad_text", f"text must be str, got {type(text).__name__}")
        # Whitespace first and after every change. When the other stages leave a
        # whitespace-normalised text untouched, it is a fixed point of the whole call
        # (whitespace normalisation is idempotent), so clean text needs one scan.
        text = self._whitespace(text)
        for _ in range(MAX_PASSES):
            fixed = self._repair(text)
            if fixed == text:
                break
            text = self._whitespace(fixed)
        return text

    def _whitespace(self, text: str) -> str:
        return _whitespace(text, self.max_blank_lines) if self.normalize_whitespace else text

    def _repair(self, text: str) -> str:
        if self.strip_html:
            text = _strip_html(text)
        if self.fix_mojibake:
            text = ftfy_fix(
                text,
                normalization=self.normalization,
                uncurl=self.uncurl_quotes,
                max_repair_chars=self.max_repair_chars,
            )
        else:
            text = _fix_surrogates(text)
        if self.remove_invisible and _INVISIBLE.search(text):
            text = _INVISIBLE.sub("", text)
        if self.normalization is not None and not unicodedata.is_normalized(
            self.normalization, text
        ):
            text = unicodedata.normalize(self.normalization, text)
        return text

    def features(self, input_features: Mapping[str, Any]) -> Any:
        """Output ``datasets.Features``: the input's plus ``drop_reason`` (see ``sd.apply``)."""
        return step_features(input_features)

    @over_preference_rows
    def __call__(self, batch: Batch) -> Batch:
        return map_texts(batch, self.fix, step="clean", column=self.column, roles=self.roles)


def fix_text(
    text: str,
    *,
    fix_mojibake: bool = True,
    uncurl_quotes: bool = True,
    normalization: Normalization | None = "NFC",
    remove_invisible: bool = True,
    normalize_whitespace: bool = True,
    max_blank_lines: int = 1,
    strip_html: bool = False,
    max_repair_chars: int | None = 1_000_000,
) -> str:
    """Clean one string; the options are those of :class:`FixText`.

    >>> fix_text("naÃ¯ve\\u200b text \\r\\n")
    'naïve text'
    >>> fix_text("<b>bold</b> &amp; more", strip_html=True)
    'bold & more'

    Raises :class:`~sftdata.RowError` (``clean.bad_text``) when ``text`` is not a str.
    """
    return FixText(
        fix_mojibake=fix_mojibake,
        uncurl_quotes=uncurl_quotes,
        normalization=normalization,
        remove_invisible=remove_invisible,
        normalize_whitespace=normalize_whitespace,
        max_blank_lines=max_blank_lines,
        strip_html=strip_html,
        max_repair_chars=max_repair_chars,
    ).fix(text)
