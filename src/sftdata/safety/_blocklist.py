"""``Blocklist``: reject rows that contain listed words or phrases.

Matching is done on a normalised copy of the text, read as words (runs of letters
and digits); the row is rejected with ``safety.blocklist:<term id>``:

=====================================  ==========================  ===================
evasion                                example                     caught
=====================================  ==========================  ===================
case                                   ``BaD``                     yes (casefold)
full-width / compatibility forms       ``Ｂａｄ``                  yes (NFKC)
accents                                ``bád``                     yes (marks removed)
zero-width / soft-hyphen insertions    ``b\u200bad``               yes (removed)
one repeated separator between letters ``b.a.d``, ``b a d``        yes (see below)
digits / symbols for letters           ``b4d``, ``$hit``           yes (013457@$!)
Cyrillic / Greek look-alike letters    ``bаd`` (Cyrillic а)        yes (small map)
phrase words joined by punctuation     ``online-casino``           yes
mixed separators, doubled letters      ``b.a-d``, ``baad``         no
misspellings, other homoglyphs         ``bda``, ``ƅad``            no
=====================================  ==========================  ===================

Terms match whole words: ``bad`` does not match ``badge`` or ``sinbad``. A run of
single letters joined by one repeated separator is read as one squeezed word, and any
stretch of it counts (``x b a d`` holds ``bad``). Terms in scripts written without
spaces (CJK, kana, Thai) match anywhere, ignoring whitespace. List every inflection
you want caught (``fuck``, ``fucking``): there is no stemming. Cost is linear in the
text: one word split per variant (as written, and with look-alikes mapped).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import regex

from sftdata._batch import drop_reasons
from sftdata._contract import DROP_REASON, Batch, RowError, SftDataError
from sftdata._texts import (
    Column,
    check_column,
    over_preference_rows,
    pick_column,
    row_texts,
    step_features,
)
from sftdata.safety._apply import BAD_ROW

Terms = tuple[tuple[str, tuple[str, ...]], ...]

#: A small English list written for this project: profanity that is rarely wanted in
#: assistant replies. It is a starting point; pass your own ``terms=`` for real use.
DEFAULT_TERMS: dict[str, tuple[str, ...]] = {
    "en.fuck": ("fuck", "fucks", "fucked", "fucker", "fuckers", "fucking", "motherfucker"),
    "en.shit": ("shit", "shits", "shitty", "bullshit", "shithead"),
    "en.cunt": ("cunt", "cunts"),
    "en.asshole": ("asshole", "assholes", "arsehole"),
    "en.bitch": ("bitch", "bitches"),
    "en.dickhead": ("dickhead", "dickheads"),
    "en.wanker": ("wanker", "wankers"),
    "en.twat": ("twat", "twats"),
}

_LOOKALIKE = str.maketrans(
    {
        "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s",
        "!": "i", "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x",
        "і": "i", "ј": "j", "ѕ": "s", "к": "k", "м": "m", "т": "t", "в": "b", "н": "h",
        "α": "a", "ο": "o", "ι": "i", "κ": "k", "ν": "v", "ρ": "p", "τ": "t", "υ": "u",
    }
)  # fmt: skip
_TERM_ID = re.compile(r"[\w.:-]+")
_MARKS = regex.compile(r"[\p{Mn}\p{Cf}]+")  # combining marks, format chars (zero-width)


def normalize(text: str) -> str:
    """The form both terms and texts are matched in: NFKC, casefold, no marks, no format chars.

    >>> normalize("Ｂáｄ\\u200b Word")
    'bad word'
    """
    if text.isascii():  # NFKC and mark removal change nothing here
        return text.lower()
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return unicodedata.normalize("NFC", _MARKS.sub("", text))


def _unspaced(word: str) -> bool:
    """Scripts written without spaces between words: match the term anywhere."""
    return any(
        0x0E00 <= ord(c) <= 0x0EFF  # Thai, Lao
        or 0x2E80 <= ord(c) <= 0x9FFF  # CJK, kana
        or 0xF900 <= ord(c) <= 0xFAFF  # CJK compatibility
        for c in word
    )


_WORD = re.compile(r"[^\W_]+")
# single letters joined by one repeated separator: b.a.d, b a d, b-a-d
# (a look-ahead, so that runs may overlap: "a a.a.a" holds the run "a.a.a")
_SPACED = re.compile(
    r"(?=(?<![^\W_])(?P<run>[^\W_](?P<sep>[\W_])[^\W_](?:(?P=sep)[^\W_]){0,40})"
    r"(?![^\W_]))"
)


class _Index(NamedTuple):
    """Phrases by their first word (longest first), one-word terms, unspaced-script terms."""

    by_first: dict[str, list[tuple[tuple[str, ...], str]]]
    singles: dict[str, str]
    unspaced: tuple[tuple[str, str], ...]


@functools.lru_cache(maxsize=32)
def _index(terms: Terms) -> _Index:
    by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    unspaced: list[tuple[str, str]] = []
    for term_id, phrases in terms:
        for phrase in phrases:
            if _unspaced(phrase):
                unspaced.append(("".join(phrase.split()), term_id))
                continue
            words = tuple(_WORD.findall(phrase))
            if words:
                by_first.setdefault(words[0], []).append((words, term_id))
    for entries in by_first.values():
        entries.sort(key=lambda e: -len(e[0]))
    singles = {
        p[0]: t for entries in by_first.values() for p, t in reversed(entries) if len(p) == 1
    }
    return _Index(by_first, singles, tuple(unspaced))


def _scan_words(index: _Index, text: str) -> tuple[int, str] | None:
    """First listed phrase in ``text`` read as words, with its start offset."""
    words = _WORD.findall(text)
    if index.by_first.keys().isdisjoint(words):  # the common case, at C speed
        return None
    matches = list(_WORD.finditer(text))
    for i, m in enumerate(matches):
        for phrase, term_id in index.by_first.get(m.group(), ()):
            if tuple(w.group() for w in matches[i : i + len(phrase)]) == phrase:
                return m.start(), term_id
    return None


def _continues_run(text: str, start: int, sep: str) -> bool:
    """True when the run at ``start`` is the tail of a longer run (a single letter + ``sep`` before)."""
    return (
        start >= 2
        and text[start - 1] == sep
        and text[start - 2].isalnum()
        and (start == 2 or not text[start - 3].isalnum())
    )


def _scan(index: _Index, text: str) -> tuple[int, str] | None:
    hits = [_scan_words(index, text)]
    singles = index.singles
    sizes = sorted({len(w) for w in singles})
    for m in _SPACED.finditer(text) if singles else ():
        start, sep = m.start(), m.group("sep")
        if _continues_run(text, start, sep):
            continue
        letters = "".join(_WORD.findall(m.group("run")))
        # any stretch of the run may be the word: "x b a d" holds "bad"
        found = [
            (i, singles[letters[i : i + n]])
            for n in sizes
            for i in range(len(letters) - n + 1)
            if letters[i : i + n] in singles
        ]
        if found:
            hits.append((start + 2 * min(found)[0], min(found)[1]))
            break
    # unspaced scripts: whitespace ignored (the offset is in the squeezed text; it only
    # orders hits, so an approximate one is fine)
    squeezed = "".join(text.split()) if index.unspaced else ""
    for phrase, term_id in index.unspaced:
        at = squeezed.find(phrase)
        if at >= 0:
            hits.append((at, term_id))
    found = [h for h in hits if h is not None]
    return min(found) if found else None


def check_terms(
    terms: Mapping[str, Sequence[str]] | Sequence[str], *, what: str = "terms"
) -> Terms:
    """Validate ``{term_id: [phrase, ...]}`` (or a list of phrases, each its own id).

    Phrases are stored normalised (see :func:`normalize`); ids must be non-empty and
    made of letters, digits, ``_ . : -``.
    """
    if isinstance(terms, str):
        raise SftDataError(f"{what} must be a mapping or a list of phrases, not a str")
    if not isinstance(terms, Mapping):
        terms = {"_".join(normalize(str(p)).split()): [p] for p in terms}
    out: list[tuple[str, tuple[str, ...]]] = []
    for term_id, phrases in terms.items():
        if not isinstance(term_id, str) or not _TERM_ID.fullmatch(term_id):
            raise SftDataError(f"{what}: term id {term_id!r} must match {_TERM_ID.pattern}")
        if isinstance(phrases, str) or not all(isinstance(p, str) for p in phrases):
            raise SftDataError(f"{what}[{term_id!r}] must be a list of str phrases")
        normed = tuple(" ".join(normalize(p).split()) for p in phrases)
        if not normed or any(not _WORD.search(p) for p in normed):
            raise SftDataError(f"{what}[{term_id!r}] holds an empty phrase (no letter or digit)")
        out.append((term_id, normed))
    return tuple(sorted(out))


def _first_hit(index: _Index, text: str) -> tuple[int, str] | None:
    normed = normalize(text)
    found = [h for v in {normed, normed.translate(_LOOKALIKE)} if (h := _scan(index, v))]
    return min(found) if found else None


def blocked_terms(
    text: str, *, terms: Mapping[str, Sequence[str]] | Sequence[str] = DEFAULT_TERMS
) -> str | None:
    """The id of the listed term found first in ``text`` (after normalising), or ``None``.

    >>> blocked_terms("what the Ｆ.Ｕ.Ｃ.Ｋ", terms={"f": ["fuck"]})
    'f'
    >>> blocked_terms("a fine sunny day") is None
    True
    """
    if not isinstance(text, str):
        raise RowError("safety.not_text", f"expected str, got {type(text).__name__}")
    hit = _first_hit(_index(check_terms(terms)), text)
    return None if hit is None else hit[1]


@dataclass(frozen=True, kw_only=True)
class Blocklist:
    """Batched step: reject rows whose text holds a listed term (``safety.blocklist:<id>``).

    ``terms`` apply to every row (default :data:`DEFAULT_TERMS`). ``by_language`` maps a
    language code to extra terms used for rows whose ``language_column`` holds that code;
    rows with no known language get ``terms`` only. Every message of a ``messages`` row
    is checked.

    >>> step = Blocklist(terms={"spam.casino": ["online casino"]})
    >>> step({"text": ["Try our ONLINE   Casino!", "a casino night"]})["drop_reason"]
    ['safety.blocklist:spam.casino', None]
    """

    terms: Mapping[str, Sequence[str]] | Sequence[str] | Terms = field(
        default_factory=lambda: dict(DEFAULT_TERMS)
    )
    by_language: Mapping[str, Any] | tuple[tuple[str, Terms], ...] = ()
    language_column: str = "language"
    column: Column = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "terms", check_terms(_as_terms(self.terms)))
        langs = dict(self.by_language)
        for code in langs:
            if not isinstance(code, str) or not code:
                raise SftDataError(f"by_language keys must be language codes, got {code!r}")
        object.__setattr__(
            self,
            "by_language",
            tuple(
                sorted(
                    (c, check_terms(_as_terms(t), what=f"by_language[{c!r}]"))
                    for c, t in langs.items()
                )
            ),
        )
        check_column(self.column)

    def features(self, input_features: Mapping[str, Any]) -> Any:
        """``datasets.Features`` of the output (the input's plus ``drop_reason``)."""
        return step_features(input_features)

    @over_preference_rows
    def __call__(self, batch: Batch) -> Batch:
        column = pick_column(batch, self.column)
        languages = batch.get(self.language_column) or [None] * len(batch[column])
        extra = dict(self.by_language)  # type: ignore[arg-type]
        out: Batch = {k: list(v) for k, v in batch.items()}
        out[DROP_REASON] = drop_reasons(batch)
        for i, value in enumerate(batch[column]):
            if out[DROP_REASON][i] is not None:
                continue
            terms = self.terms + extra.get(languages[i], ())  # type: ignore[operator]
            out[DROP_REASON][i] = _row_reason(value, terms, column)
        return out


def _as_terms(terms: Any) -> Any:
    """Accept the stored (tuple of pairs) form too, so a step can be rebuilt from its fields."""
    if isinstance(terms, tuple) and all(isinstance(t, tuple) and len(t) == 2 for t in terms):
        return dict(terms)
    return terms


def _row_reason(value: Any, terms: Terms, column: str) -> str | None:
    try:
        texts = row_texts(value, column, step=BAD_ROW)
    except RowError as e:
        return e.reason
    index = _index(terms)
    for text in texts:
        hit = _first_hit(index, text)
        if hit is not None:
            return f"safety.blocklist:{hit[1]}"
    return None
