"""``Blocklist``: reject rows that contain listed words or phrases.

Matching is done on a normalised copy of the text (offsets are not needed: the row is
rejected with ``safety.blocklist:<term id>``):

=====================================  ==========================  ==============
evasion                                example                     caught
=====================================  ==========================  ==============
case                                   ``BaD``                     yes (casefold)
full-width / compatibility forms       ``Ｂａｄ``                  yes (NFKC)
accents                                ``bád``                     yes (marks removed)
zero-width / soft-hyphen insertions    ``b\\u200bad``               yes (removed)
one repeated separator between letters ``b.a.d``, ``b a d``        yes
digits / symbols for letters           ``b4d``, ``$hit``           yes (013457@$!)
Cyrillic / Greek look-alike letters    ``bаd`` (Cyrillic а)        yes (small map)
mixed separators, doubled letters      ``b.a-d``, ``baad``         no
misspellings, words split by ``\\n\\n``  ``bda``                     no
=====================================  ==========================  ==============

Terms match whole words: ``bad`` does not match ``badge`` or ``sinbad``. Terms in
scripts written without spaces (CJK, kana, Thai) match anywhere. List every inflection
you want caught (``fuck``, ``fucking``): there is no stemming.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sftdata._batch import drop_reasons
from sftdata._contract import DROP_REASON, Batch, RowError, SftDataError
from sftdata.safety._apply import Column, check_column, resolve_column, texts_of

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


def normalize(text: str) -> str:
    """The form both terms and texts are matched in: NFKC, casefold, no marks, no format chars.

    >>> normalize("Ｂáｄ\\u200b Word")
    'bad word'
    """
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    kept = (c for c in text if unicodedata.category(c) not in ("Mn", "Cf"))
    return unicodedata.normalize("NFC", "".join(kept))


def _unspaced(word: str) -> bool:
    """Scripts written without spaces between words: match the term anywhere."""
    return any(
        0x0E00 <= ord(c) <= 0x0EFF  # Thai, Lao
        or 0x2E80 <= ord(c) <= 0x9FFF  # CJK, kana
        or 0xF900 <= ord(c) <= 0xFAFF  # CJK compatibility
        for c in word
    )


def _phrase_pattern(phrase: str, n: int) -> str:
    words = phrase.split()
    if _unspaced(phrase):
        return r"\s*".join(re.escape(w) for w in words)
    parts = []
    for j, word in enumerate(words):
        sep = f"s{n}_{j}"
        chars = [re.escape(c) for c in word]
        if len(chars) == 1:
            parts.append(chars[0])
            continue
        # one separator (or none) between letters, the same one throughout the word
        tail = f"(?P={sep})".join(chars[1:])
        parts.append(f"{chars[0]}(?P<{sep}>[\\W_]?){tail}")
    return r"(?<![^\W_])" + r"[\W_]{1,3}".join(parts) + r"(?![^\W_])"


@functools.lru_cache(maxsize=32)
def _compile(terms: Terms) -> tuple[re.Pattern[str], tuple[str, ...]]:
    alternatives: list[str] = []
    ids: list[str] = []
    for term_id, phrases in terms:
        for phrase in phrases:
            alternatives.append(f"(?P<t{len(ids)}>{_phrase_pattern(phrase, len(ids))})")
            ids.append(term_id)
    return re.compile("|".join(alternatives) or r"(?!)"), tuple(ids)


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
        if not normed or any(not p for p in normed):
            raise SftDataError(f"{what}[{term_id!r}] holds an empty phrase")
        out.append((term_id, normed))
    return tuple(sorted(out))


def _first_hit(pattern: re.Pattern[str], ids: tuple[str, ...], text: str) -> tuple[int, str] | None:
    best: tuple[int, str] | None = None
    normed = normalize(text)
    for variant in {normed, normed.translate(_LOOKALIKE)}:
        m = pattern.search(variant)
        if m is not None and m.lastgroup is not None and (best is None or m.start() < best[0]):
            best = (m.start(), ids[int(m.lastgroup[1:])])
    return best


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
    pattern, ids = _compile(check_terms(terms))
    hit = _first_hit(pattern, ids, text)
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

    def __call__(self, batch: Batch) -> Batch:
        column = resolve_column(batch, self.column)
        languages = batch.get(self.language_column) or [None] * len(batch[column])
        extra = dict(self.by_language)  # type: ignore[arg-type]
        out: Batch = {k: list(v) for k, v in batch.items()}
        out[DROP_REASON] = drop_reasons(batch)
        for i, value in enumerate(batch[column]):
            if out[DROP_REASON][i] is not None:
                continue
            terms = self.terms + extra.get(languages[i], ())  # type: ignore[operator]
            out[DROP_REASON][i] = _row_reason(value, terms)
        return out


def _as_terms(terms: Any) -> Any:
    """Accept the stored (tuple of pairs) form too, so a step can be rebuilt from its fields."""
    if isinstance(terms, tuple) and all(isinstance(t, tuple) and len(t) == 2 for t in terms):
        return dict(terms)
    return terms


def _row_reason(value: Any, terms: Terms) -> str | None:
    try:
        texts = texts_of(value)
    except RowError as e:
        return e.reason
    pattern, ids = _compile(terms)
    for text in texts:
        hit = _first_hit(pattern, ids, text)
        if hit is not None:
            return f"safety.blocklist:{hit[1]}"
    return None
