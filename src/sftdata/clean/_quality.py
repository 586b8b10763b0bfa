"""``QualityFilter`` / ``quality_reasons``: Gopher / C4-style document heuristics.

Each rule reads one statistic of the text and rejects with a stable reason::

    reason                                   rule (default threshold, source)
    quality.too_short / quality.too_long     50 <= words <= 100_000            (Gopher)
    quality.mean_word_length                 3 <= mean word length <= 10       (Gopher)
    quality.symbol_ratio                     "#" per word and "..."/"…" per word <= 0.1 (Gopher)
    quality.bullet_lines                     lines starting with a bullet <= 0.9 (Gopher)
    quality.ellipsis_lines                   lines ending in an ellipsis <= 0.3  (Gopher)
    quality.alpha_words                      words with a letter >= 0.8         (Gopher)
    quality.stop_words                       >= 2 distinct stop words of the row's language
                                             (Gopher's English list: the be to of and that have with)
    quality.repetition.dup_line_frac         duplicate lines <= 0.30 of lines   (Gopher)
    quality.repetition.dup_para_frac         duplicate paragraphs <= 0.30        (Gopher)
    quality.repetition.dup_line_char_frac    chars in duplicate lines <= 0.20    (Gopher)
    quality.repetition.dup_para_char_frac    chars in duplicate paragraphs <= 0.20 (Gopher)
    quality.repetition.top_<n>gram           chars in the most frequent n-gram:
                                             n=2: 0.20, 3: 0.18, 4: 0.16       (Gopher)
    quality.repetition.dup_<n>gram           chars in repeated n-grams:
                                             n=5..10: 0.15 .. 0.10             (Gopher)

Source: Rae et al. 2021, "Scaling Language Models: Methods, Analysis & Insights from
Training Gopher", appendix A (MassiveWeb quality and repetition filters). Words are
whitespace-separated tokens; lines split on ``\\n``, paragraphs on blank lines; a
duplicate is any occurrence after the first. Every threshold is a field; ``None``
switches its rule off.

>>> quality_reasons("buy now " * 40)  # doctest: +ELLIPSIS
['quality.stop_words', 'quality.repetition.top_2gram', ...]

The defaults suit web-scale pretraining text. Chat answers are short, so
:meth:`QualityFilter.chat` keeps only the length cap and the repetition rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from itertools import filterfalse
from typing import Any

from sftdata._contract import Batch, SftDataError
from sftdata._texts import Column, check_column, judge_texts, over_preference_rows, step_features
from sftdata.clean._ngrams import repetition_chars

#: Gopher's English stop words (a document must hold at least two of them).
GOPHER_STOP_WORDS: tuple[str, ...] = ("and", "be", "have", "of", "that", "the", "to", "with")
BULLETS = ("•", "‣", "◦", "●", "▪", "-", "*", "·", "–")
ELLIPSES = ("...", "…")
_PUNCT = "\"'.,;:!?()[]{}«»“”‘’"


@dataclass(frozen=True)
class QualityFilter:
    """Batched step: reject rows whose text fails a quality rule (first failure wins).

    ::

        text                                  drop_reason
        "A normal paragraph of prose ..."     None
        "click here click here click ..."     quality.repetition.dup_5gram
        "ok"                                  quality.too_short

    ``messages`` rows: the contents of the turns in ``roles`` (default: the assistant
    turns, the text the model learns to write) are joined with a blank line and judged
    as one document; ``roles=None`` judges every turn. ``stop_words`` maps a language
    code to its list; the row's language is read from ``language_column`` (written by
    :class:`~sftdata.clean.LangId`) and falls back to ``default_language``; with no
    list for the language the stop-word rule is skipped for that row.

    >>> QualityFilter(min_words=3, min_stop_words=None)({"text": ["too short", "long enough now"]})
    {'text': ['too short', 'long enough now'], 'drop_reason': ['quality.too_short', None]}
    """

    min_words: int | None = 50
    max_words: int | None = 100_000
    min_mean_word_length: float | None = 3.0
    max_mean_word_length: float | None = 10.0
    max_symbol_word_ratio: float | None = 0.1
    max_bullet_line_frac: float | None = 0.9
    max_ellipsis_line_frac: float | None = 0.3
    min_alpha_word_frac: float | None = 0.8
    min_stop_words: int | None = 2
    stop_words: Any = (("en", GOPHER_STOP_WORDS),)
    default_language: str | None = "en"
    language_column: str = "language"
    max_dup_line_frac: float | None = 0.30
    max_dup_para_frac: float | None = 0.30
    max_dup_line_char_frac: float | None = 0.20
    max_dup_para_char_frac: float | None = 0.20
    max_top_ngram_char_frac: Any = ((2, 0.20), (3, 0.18), (4, 0.16))
    max_dup_ngram_char_frac: Any = (
        (5, 0.15),
        (6, 0.14),
        (7, 0.13),
        (8, 0.12),
        (9, 0.11),
        (10, 0.10),
    )
    roles: tuple[str, ...] | None = ("assistant",)
    column: Column = "auto"

    def __post_init__(self) -> None:
        _validate(self)
        # canonical, sorted tuples: the same fingerprint in every process
        object.__setattr__(self, "stop_words", _canonical_stop_words(self.stop_words))
        for name in ("max_top_ngram_char_frac", "max_dup_ngram_char_frac"):
            value = getattr(self, name)
            items = value.items() if isinstance(value, Mapping) else value
            object.__setattr__(self, name, tuple(sorted((int(n), float(t)) for n, t in items)))
        if isinstance(self.roles, str):
            raise TypeError(f"QualityFilter.roles must be a tuple of roles, got {self.roles!r}")
        if self.roles is not None:
            object.__setattr__(self, "roles", tuple(self.roles))

    @classmethod
    def chat(cls, **overrides: Any) -> QualityFilter:
        """A preset for chat answers: length cap, word-length cap and repetition rules only.

        >>> QualityFilter.chat()({"text": ["Paris."]})["drop_reason"]
        [None]
        """
        off = dict.fromkeys(
            ["min_words", "min_mean_word_length", "max_symbol_word_ratio",
             "max_bullet_line_frac", "max_ellipsis_line_frac", "min_alpha_word_frac",
             "min_stop_words"],
        )  # fmt: skip
        return cls(**{**off, **overrides})

    def reasons(self, text: str, *, language: str | None = None) -> list[str]:
        """Every rule ``text`` fails, in the table's order (empty = keep).

        A text over ``max_words`` stops at ``quality.too_long``: the other statistics
        are not computed for it.
        """
        return list(_iter_reasons(self, text, language or self.default_language))

    def features(self, input_features: Mapping[str, Any]) -> Any:
        """Output ``datasets.Features``: the input's plus ``drop_reason`` (see ``sd.apply``)."""
        return step_features(input_features)

    @over_preference_rows
    def __call__(self, batch: Batch) -> Batch:
        langs = batch.get(self.language_column)

        def judge(text: str, i: int) -> str | None:
            lang = (langs[i] if langs is not None else None) or self.default_language
            return next(_iter_reasons(self, text, lang), None)

        return judge_texts(batch, judge, step="quality", column=self.column, roles=self.roles)


def quality_reasons(text: str, *, language: str | None = None, **options: Any) -> list[str]:
    """The quality rules ``text`` fails; ``options`` are :class:`QualityFilter` fields.

    >>> quality_reasons("The quick brown fox jumps over the lazy dog with grace.", min_words=5)
    []
    >>> quality_reasons("zzzzzzzzzzzzzzzzzzzzzzz qqqqqqqqqqqqqqqqqq", min_words=None)
    ['quality.mean_word_length', 'quality.stop_words']
    """
    return QualityFilter(**options).reasons(text, language=language)


def _canonical_stop_words(value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``{lang: words}`` or ``((lang, words), ...)`` as sorted tuples (stable fingerprint)."""
    pairs = value.items() if isinstance(value, Mapping) else value
    try:
        out = []
        for lang, words in pairs:
            if isinstance(words, str) or not all(isinstance(w, str) for w in words):
                raise TypeError(f"the words of {lang!r} must be a list of str")
            out.append((str(lang), tuple(sorted({w.lower() for w in words}))))
    except (TypeError, ValueError) as e:
        raise SftDataError(
            f"QualityFilter.stop_words must map a language code to a list of words: {e}"
        ) from e
    return tuple(sorted(out))


def _validate(f: QualityFilter) -> None:
    for fld in fields(f):
        value = getattr(f, fld.name)
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if fld.name.endswith(("_frac", "_ratio")) and is_number and not 0 <= value <= 1:
            raise SftDataError(f"QualityFilter.{fld.name} must be in [0, 1], got {value!r}")
    for lo, hi in (("min_words", "max_words"), ("min_mean_word_length", "max_mean_word_length")):
        a, b = getattr(f, lo), getattr(f, hi)
        if a is not None and b is not None and a > b:
            raise SftDataError(f"QualityFilter.{lo}={a} is above {hi}={b}")
    for name in ("max_top_ngram_char_frac", "max_dup_ngram_char_frac"):
        value = getattr(f, name)
        items = value.items() if isinstance(value, Mapping) else value
        for n, t in items:
            if not (isinstance(n, int) and n >= 1 and 0 <= t <= 1):
                raise SftDataError(
                    f"QualityFilter.{name}: need (n >= 1, 0 <= frac <= 1), got {(n, t)}"
                )
    check_column(f.column, what="QualityFilter.column")


def _iter_reasons(f: QualityFilter, text: str, language: str | None) -> Iterator[str]:
    words = text.split()
    n = len(words)
    if f.max_words is not None and n > f.max_words:
        yield "quality.too_long"
        return
    if f.min_words is not None and n < f.min_words:
        yield "quality.too_short"
    yield from _word_rules(f, text, words, language)
    yield from _repetition_rules(f, text, words)


def _word_rules(
    f: QualityFilter, text: str, words: list[str], language: str | None
) -> Iterator[str]:
    n = max(len(words), 1)
    mean_len = sum(map(len, words)) / n
    if (f.min_mean_word_length is not None and mean_len < f.min_mean_word_length) or (
        f.max_mean_word_length is not None and mean_len > f.max_mean_word_length
    ):
        yield "quality.mean_word_length"
    if f.max_symbol_word_ratio is not None:
        dots = sum(text.count(e) for e in ELLIPSES)
        if max(text.count("#"), dots) / n > f.max_symbol_word_ratio:
            yield "quality.symbol_ratio"
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    n_lines = max(len(lines), 1)
    if f.max_bullet_line_frac is not None:
        bullets = sum(ln.startswith(BULLETS) for ln in lines)
        if bullets / n_lines > f.max_bullet_line_frac:
            yield "quality.bullet_lines"
    limit = f.max_ellipsis_line_frac
    if limit is not None and sum(ln.endswith(ELLIPSES) for ln in lines) / n_lines > limit:
        yield "quality.ellipsis_lines"
    if f.min_alpha_word_frac is not None and _alpha_words(words) / n < f.min_alpha_word_frac:
        yield "quality.alpha_words"
    stop = dict(f.stop_words).get(language) if language else None
    enough = f.min_stop_words
    if enough is not None and stop is not None and _stop_words_found(words, stop, enough) < enough:
        yield "quality.stop_words"


def _alpha_words(words: list[str]) -> int:
    """How many words hold a letter: ``str.isalpha`` settles most words in C; only
    the others (``"it,"``, ``"2024"``) are looked at character by character."""
    return sum(map(str.isalpha, words)) + sum(map(_has_letter, filterfalse(str.isalpha, words)))


def _stop_words_found(words: list[str], stop: tuple[str, ...], enough: int) -> int:
    """Distinct stop words among ``words`` (stripped of punctuation, lowercased), or a
    count of at least ``enough`` found without stripping (most prose has them bare)."""
    distinct = set(words)
    if sum(w in distinct for w in stop) >= enough:
        return enough
    return len({w.strip(_PUNCT).lower() for w in distinct} & set(stop))


def _dup_fracs(parts: Sequence[str]) -> tuple[float, float]:
    """(fraction of parts that repeat an earlier one, fraction of their characters)."""
    seen: set[str] = set()
    dup = dup_chars = total_chars = 0
    for p in parts:
        total_chars += len(p)
        if p in seen:
            dup += 1
            dup_chars += len(p)
        seen.add(p)
    return dup / max(len(parts), 1), dup_chars / max(total_chars, 1)


def _repetition_rules(f: QualityFilter, text: str, words: list[str]) -> Iterator[str]:
    pre = "quality.repetition."
    lines = [ln for ln in text.split("\n") if ln.strip()]
    paras = [p.strip() for p in text.split("\n\n") if p.strip()]
    for name, parts in (("line", lines), ("para", paras)):
        frac, char_frac = _dup_fracs(parts)
        limit, char_limit = (
            getattr(f, f"max_dup_{name}_frac"),
            getattr(f, f"max_dup_{name}_char_frac"),
        )
        if limit is not None and frac > limit:
            yield f"{pre}dup_{name}_frac"
        if char_limit is not None and char_frac > char_limit:
            yield f"{pre}dup_{name}_char_frac"
    total = sum(map(len, words)) or 1
    tops, dups = f.max_top_ngram_char_frac, f.max_dup_ngram_char_frac
    top_chars, dup_chars = repetition_chars(words, [n for n, _ in tops], [n for n, _ in dups])
    for (n, limit), chars in zip(tops, top_chars, strict=True):
        if chars / total > limit:
            yield f"{pre}top_{n}gram"
    for (n, limit), chars in zip(dups, dup_chars, strict=True):
        if chars / total > limit:
            yield f"{pre}dup_{n}gram"


_ASCII_LETTER = re.compile(r"[A-Za-z]")


def _has_letter(word: str) -> bool:
    """``any(c.isalpha() for c in word)``, by one regex search for an ASCII word."""
    if word.isascii():
        return _ASCII_LETTER.search(word) is not None
    return any(c.isalpha() for c in word)
