"""Text normalisation shared by exact dedup, MinHash shingling and decontamination.

Two normal forms live here:

* :func:`normalize_text`, the configurable form exact dedup hashes (case, whitespace,
  punctuation, Unicode form are each a switch);
* :func:`words`, the fixed form shingles are cut from. It folds case (``casefold``,
  then ASCII lowercase), compatibility forms and diacritics (NFKD, drop nonspacing
  marks, NFC again), and treats every character that is not a letter, number or
  (spacing) mark as a separator. Scripts written without spaces between words
  (Han, Hiragana, Katakana) are split into one "word" per character, so a Chinese
  or Japanese sentence still yields n-grams of characters rather than one giant
  word; Hangul, Indic and alphabetic scripts split on the separators as usual.

Speed: ASCII runs go through one ``bytes.translate`` table; only the non-ASCII runs
of a text are Unicode-normalised (folding is per character, so doing it run by run
gives the same words as folding the whole text).

::

    "Héllo,  WORLD! 東京"  --words-->  ["hello", "world", "東", "京"]
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from typing import Any, Literal

import regex

from sftdata._contract import TEXT, RowError
from sftdata._texts import MESSAGE_COLUMNS
from sftdata._texts import pick_column as step_column

UnicodeForm = Literal["NFC", "NFKC", "NFD", "NFKD"]
Fields = Literal["all", "user"]

_NON_ASCII_RUN = re.compile(r"([^\x00-\x7f]+)")
_CJK = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}]")
_NON_WORD = regex.compile(r"[^\x00-\x7f\p{L}\p{N}\p{M}]+")
_MARKS = regex.compile(r"\p{Mn}+")
_PUNCT = regex.compile(r"[\p{P}\p{S}]+")
_SPACE = re.compile(r"\s+")
# byte tables: lowercase ASCII letters, keep digits, blank other ASCII; bytes >= 0x80
# (UTF-8 of non-ASCII letters) are blanked by the ASCII table, kept by the UTF-8 one
_ASCII_TABLE = bytes(
    c + 32 if 65 <= c <= 90 else c if (97 <= c <= 122 or 48 <= c <= 57) else 32 for c in range(256)
)
_UTF8_TABLE = _ASCII_TABLE[:128] + bytes(range(128, 256))


def words(text: str) -> list[str]:
    """The words of ``text`` after case, width and diacritic folding.

    >>> words("Crème brûlée, PLEASE!")
    ['creme', 'brulee', 'please']
    >>> words("我爱北京")
    ['我', '爱', '北', '京']
    """
    return folded_bytes(text).decode("utf-8").split()


def folded_bytes(text: str) -> bytes:
    """The words of ``text`` as UTF-8, separated by runs of ASCII spaces (no other bytes).

    What the hashing kernel consumes.

    >>> folded_bytes("Ça va? Très BIEN.")
    b'ca va  tres bien '
    """
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_TABLE)
    parts = _NON_ASCII_RUN.split(text)  # odd items are the non-ASCII runs
    for i in range(1, len(parts), 2):
        parts[i] = _fold_run(parts[i])
    return "".join(parts).encode("utf-8").translate(_UTF8_TABLE)


def _fold_run(run: str) -> str:
    run = unicodedata.normalize("NFKD", run.casefold())
    run = unicodedata.normalize("NFC", _MARKS.sub("", run))
    run = _NON_WORD.sub(" ", run)
    return _CJK.sub(r" \g<0> ", run)


def shingles(text: str, *, ngram: int = 5) -> list[str]:
    """Word ``ngram``-grams of ``text``, each the words joined by one space.

    A text with fewer than ``ngram`` words (even none) is one shingle: all its words.
    This is the set a MinHash signature summarises.

    >>> shingles("The cat sat on the mat", ngram=3)
    ['the cat sat', 'cat sat on', 'sat on the', 'on the mat']
    >>> shingles("Hi there", ngram=3)
    ['hi there']
    """
    if ngram < 1:
        raise ValueError(f"ngram must be >= 1, got {ngram}")
    ws = folded_bytes(text).decode("utf-8").split()
    if len(ws) < ngram:
        return [" ".join(ws)]
    return [" ".join(ws[i : i + ngram]) for i in range(len(ws) - ngram + 1)]


def normalize_text(
    text: str,
    *,
    lowercase: bool = True,
    whitespace: bool = True,
    punctuation: bool = False,
    unicode_form: UnicodeForm | None = "NFKC",
) -> str:
    """The normal form exact dedup compares: each rule is a switch.

    ``unicode_form`` applies first, then ``lowercase`` (casefold), ``punctuation``
    (drop punctuation and symbols), ``whitespace`` (collapse runs to one space, strip).

    >>> normalize_text("  Hello,\\n\\tWorld!  ")
    'hello, world!'
    >>> normalize_text("Hello, World!", punctuation=True)
    'hello world'
    """
    if unicode_form is not None:
        text = unicodedata.normalize(unicode_form, text)
    if lowercase:
        text = text.casefold()
    if punctuation:
        text = _PUNCT.sub(" " if whitespace else "", text)
    if whitespace:
        text = _SPACE.sub(" ", text).strip()
    return text


def document_text(
    row: Mapping[str, Any], *, column: str, fields: Fields = "all", sep: str = "\n"
) -> str:
    """The text of one row that dedup looks at.

    ``column="text"``: the string itself. ``column="messages"``: each turn as
    ``role: content`` on its own line (``fields="user"`` keeps only user turns: the
    same prompt with different answers is a duplicate prompt).

    >>> document_text({"messages": [{"role": "user", "content": "Hi"},
    ...                             {"role": "assistant", "content": "Hello"}]},
    ...               column="messages", fields="user")
    'user: Hi'
    """
    value = row.get(column)
    if column not in MESSAGE_COLUMNS:
        if not isinstance(value, str):
            raise RowError(
                f"dedup.bad_{column}", f"column {column!r} must be str, got {type(value).__name__}"
            )
        return value
    turns = _turns(value, fields)
    return sep.join(f"{role}: {content}" for role, content in turns)


def canonical_messages(value: Any, *, fields: Fields = "all") -> str:
    """A canonical JSON serialisation of a conversation (``fields="user"``: user turns).

    >>> canonical_messages([{"content": "Hi", "role": "user"}])
    '[["user","Hi"]]'
    """
    return json.dumps(_turns(value, fields), ensure_ascii=False, separators=(",", ":"))


def _turns(value: Any, fields: Fields) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        raise RowError("dedup.bad_messages", f"messages must be a list, got {type(value).__name__}")
    out: list[tuple[str, str]] = []
    for i, m in enumerate(value):
        if not isinstance(m, Mapping) or not isinstance(m.get("content"), str):
            raise RowError("dedup.bad_messages", f"message {i} has no str 'content'")
        role = str(m.get("role"))
        if fields == "all" or role == "user":
            out.append((role, m["content"]))
    return out


def pick_column(columns: list[str], column: str | None) -> str:
    """``column`` if given and present, else ``messages`` or ``text``, whichever exists:
    the rule of the clean and safety steps (:func:`sftdata._texts.pick_column`)."""
    if not columns:  # no rows at all: nothing to read, any name will do
        return column or TEXT
    return step_column(dict.fromkeys(columns), column if column is not None else "auto")
