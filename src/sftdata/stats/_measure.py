"""``report(ds, tokenizer=None)``: the data distribution of a dataset, part by part.

A report is built in two passes, so that a corpus of any size is measured one part
(a shard, a batch, a table) at a time and never held whole::

    part 0 --measure--> PartStats --+
    part 1 --measure--> PartStats --+--> merge (+) --> PartStats --.report(bins)--> Report
    part 2 --measure--> PartStats --+

:class:`PartStats` holds only counters: drop reasons (:class:`~sftdata.Counters`),
roles, sources, languages, and for each length measure a
:class:`~sftdata.stats._lengths.LengthCounts` (rows per integer length), overall and,
with a tokenizer, per source. Counters add exactly, so splitting a dataset into any
parts and merging gives the same report as measuring it in one go (percentiles and
histograms included). ``report(ds)`` is ``measure(ds).report()``.

Statistics describe the kept rows (no ``drop_reason``); the drop reasons count every
row. A preference row (``prompt`` / ``chosen`` / ``rejected``) is measured over its
three parts, and ``preference`` compares its two answers' lengths (see
:mod:`sftdata.stats._preference`). A ``messages`` row's length is the sum over its
messages' contents, and its tokens are those of the contents alone (no chat template).
Languages come from a ``language`` column if one exists (see
:class:`~sftdata.clean.LangId`), sources from ``source``.

>>> r = report({"text": ["hello world", "hi", None], "drop_reason": [None, None, "x.y"]})
>>> r.rows_in, r.chars["total"], r.counters.dropped
(3, 13, {'x.y': 1})
>>> a, b = measure({"text": ["hello world"]}), measure({"text": ["hi"]})
>>> (a + b).report().chars == report({"text": ["hello world", "hi"]}).chars
True
"""

from __future__ import annotations

import functools
import operator
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

from sftdata._batch import drop_reasons
from sftdata._contract import DROP_REASON, MESSAGES, TEXT, SftDataError
from sftdata._rejects import Counters
from sftdata._texts import PREFERENCE_COLUMNS, is_preference_batch
from sftdata.stats._lengths import LengthCounts
from sftdata.stats._preference import PairStats, measure_pairs
from sftdata.stats._report import Report

__all__ = ["PartStats", "measure", "merge", "report"]

Kind = Literal["text", "messages", "preference"]
#: The columns a report reads; others are never converted to Python objects.
_READ = (TEXT, MESSAGES, *PREFERENCE_COLUMNS, "source", "language", DROP_REASON)


@dataclass(frozen=True)
class PartStats:
    """The mergeable counters of one part (or of several merged with ``+``).

    ``sources`` / ``languages`` / ``tokens_by_source`` are ``None`` when the part had
    no such column (and ``tokens`` when it was measured without a tokenizer); ``turns``
    is ``None`` for ``text`` rows.
    """

    kind: Kind
    counters: Counters
    chars: LengthCounts
    tokens: LengthCounts | None
    turns: LengthCounts | None
    roles: dict[str, int]
    sources: dict[str, int] | None
    languages: dict[str, int] | None
    tokens_by_source: dict[str, LengthCounts] | None
    pairs: PairStats | None

    def __add__(self, other: PartStats) -> PartStats:
        if self.kind != other.kind:
            raise SftDataError(
                f"cannot merge statistics of {self.kind!r} rows with {other.kind!r} rows"
            )
        if (self.tokens is None) != (other.tokens is None):
            raise SftDataError("cannot merge statistics measured with and without a tokenizer")
        return PartStats(
            kind=self.kind,
            counters=self.counters + other.counters,
            chars=self.chars + other.chars,
            tokens=_add(self.tokens, other.tokens),
            turns=_add(self.turns, other.turns),
            roles=_add_counts(self.roles, other.roles),
            sources=_add_grouped(self._sources(), other._sources()),
            languages=_add_grouped(self._languages(), other._languages()),
            tokens_by_source=_add_grouped(self._by_source(), other._by_source()),
            pairs=_add(self.pairs, other.pairs),
        )

    # A part without a `source` column next to one with it: a single table of both
    # would hold nulls there, counted as the source "None". These give that view.
    def _sources(self) -> tuple[dict[str, int] | None, dict[str, int]]:
        return self.sources, _none_group(self.counters.kept, self.counters.kept)

    def _languages(self) -> tuple[dict[str, int] | None, dict[str, int]]:
        return self.languages, _none_group(self.counters.kept, self.counters.kept)

    def _by_source(self) -> tuple[dict[str, LengthCounts] | None, dict[str, LengthCounts]]:
        tokens = self.tokens if self.tokens is not None else LengthCounts.empty()
        return self.tokens_by_source, _none_group(tokens, tokens.n)

    def report(self, *, bins: int = 30) -> Report:
        """The :class:`~sftdata.stats.Report` of these counters (``bins`` histogram bins)."""
        _check_bins(bins)
        measures = {"chars": self.chars, "tokens": self.tokens, "turns": self.turns}
        context, by_source = _token_breakdown(self.tokens, self.tokens_by_source, bins)
        return Report(
            rows_in=self.counters.rows_in,
            counters=self.counters,
            chars=self.chars.summary(),
            tokens=self.tokens.summary() if self.tokens is not None else None,
            turns=self.turns.summary() if self.turns is not None else None,
            roles=dict(sorted(self.roles.items())),
            sources=dict(sorted((self.sources or {}).items())),
            languages=dict(sorted((self.languages or {}).items())),
            histograms={k: v.histogram(bins) for k, v in measures.items() if v is not None and v.n},
            context=context,
            by_source=by_source,
            preference=self.pairs.to_dict() if self.pairs is not None else None,
        )


def _add(a: Any, b: Any) -> Any:
    return None if a is None or b is None else a + b


def _add_counts(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out[k] + v if k in out else v
    return out


def _none_group(value: Any, size: int) -> dict[str, Any]:
    return {"None": value} if size else {}


def _add_grouped(a: tuple[Any, dict[str, Any]], b: tuple[Any, dict[str, Any]]) -> Any:
    """Merge per-group counters; a side without the column counts as one ``"None"`` group."""
    (mine, mine_none), (theirs, theirs_none) = a, b
    if mine is None and theirs is None:
        return None
    return _add_counts(
        mine_none if mine is None else mine, theirs_none if theirs is None else theirs
    )


def _check_bins(bins: Any) -> None:
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise SftDataError(f"report bins must be a positive int, got {bins!r}")


def _token_breakdown(
    tokens: LengthCounts | None, by_source: dict[str, LengthCounts] | None, bins: int
) -> tuple[dict[str, dict[str, float]] | None, dict[str, dict[str, Any]]]:
    """Shares over the context lengths (overall and per source) and per-source token
    histograms on the overall integer bins."""
    if tokens is None or not tokens.n:
        return None, {}
    context = {"all": tokens.share_over()}
    if by_source is None:
        return context, {}
    lo, hi = int(tokens.values[0]), int(tokens.values[-1])
    hists = {}
    for name in sorted(by_source):
        context[name] = by_source[name].share_over()
        hists[name] = by_source[name].histogram(bins, lo=lo, hi=hi)
    return context, hists


def merge(parts: Iterable[PartStats]) -> PartStats:
    """The counters of all ``parts`` added up (at least one part)."""
    it = iter(parts)
    first = next(it, None)
    if first is None:
        raise SftDataError("merge needs at least one PartStats")
    return functools.reduce(operator.add, it, first)


def report(ds: Any, tokenizer: Any = None, *, bins: int = 30) -> Report:
    """Measure ``ds`` (a ``datasets.Dataset``, a ``pyarrow.Table``, a dict of columns or
    a list of rows).

    ``turns`` counts user turns per conversation. ``bins`` is the number of histogram
    bins. See the module docstring for what each number means.

    >>> rows = [{"messages": [{"role": "user", "content": "hi"},
    ...                       {"role": "assistant", "content": "hello"}], "source": "a"}]
    >>> r = report(rows)
    >>> r.roles, r.sources, r.turns["mean"]
    ({'assistant': 1, 'user': 1}, {'a': 1}, 1.0)
    """
    _check_bins(bins)
    return measure(ds, tokenizer).report(bins=bins)


def measure(part: Any, tokenizer: Any = None) -> PartStats:
    """The :class:`PartStats` of one part (same inputs as :func:`report`).

    >>> s = measure({"text": ["ab", "c"], "source": ["web", "books"]})
    >>> s.chars, s.sources
    (LengthCounts({1: 1, 2: 1}), {'books': 1, 'web': 1})
    """
    cols = _columns(part)
    kind: Kind = "preference" if is_preference_batch(cols) else "messages"
    if kind == "preference":  # one messages list per row: prompt, chosen and rejected turns
        rows = zip(*(cols[c] for c in PREFERENCE_COLUMNS), strict=True)
        cols[MESSAGES] = [[m for p in ps if isinstance(p, list) for m in p] for ps in rows]
    elif MESSAGES not in cols:
        kind = "text"
    column = MESSAGES if kind != "text" else TEXT
    if column not in cols:
        raise SftDataError(
            "report needs a 'text' or 'messages' column (or a preference row's 'prompt', "
            f"'chosen', 'rejected'); got {sorted(cols)}"
        )
    reasons = drop_reasons(cols)
    kept = [i for i in range(len(cols[column])) if reasons[i] is None]
    roles: Counter[str] = Counter()
    turns: list[int] = []
    texts = [_row_text(cols[column][i], column, roles, turns) for i in kept]
    tokens = _token_counts(tokenizer, texts) if tokenizer is not None else None
    sources = _values(cols.get("source"), kept)
    return PartStats(
        kind=kind,
        counters=Counters.from_reasons(list(reasons)),
        chars=LengthCounts.of([len(t) for t in texts]),
        tokens=LengthCounts.of(tokens) if tokens is not None else None,
        turns=LengthCounts.of(turns) if kind != "text" else None,
        roles=dict(sorted(roles.items())),
        sources=dict(sorted(Counter(sources).items())) if sources is not None else None,
        languages=_counts(cols.get("language"), kept),
        tokens_by_source=_grouped(tokens, sources) if tokens is not None else None,
        pairs=_pairs(cols, kept, tokenizer) if kind == "preference" else None,
    )


def _columns(ds: Any) -> dict[str, list[Any]]:
    """The columns a report reads, as lists: from a Dataset, an Arrow table, a columnar
    dict or a list of rows."""
    if isinstance(ds, Mapping):
        return {k: list(v) for k, v in ds.items()}
    if isinstance(ds, list):
        keys = list(dict.fromkeys(k for row in ds for k in row))
        return {k: [row.get(k) for row in ds] for k in keys}
    if isinstance(ds, pa.Table):
        return {k: ds.column(k).to_pylist() for k in ds.column_names if k in _READ}
    if hasattr(ds, "column_names"):
        return {k: list(ds[k]) for k in ds.column_names if k in _READ}
    raise SftDataError(
        f"report needs a Dataset, a dict of columns or a list of rows, got {type(ds)}"
    )


def _token_counts(tokenizer: Any, texts: list[str]) -> list[int]:
    """Token counts with a transformers tokenizer (batched) or anything with ``encode``."""
    if callable(tokenizer) and hasattr(tokenizer, "pad_token_id"):
        counts: list[int] = []
        for i in range(0, len(texts), 1024):
            ids = tokenizer(texts[i : i + 1024], add_special_tokens=False)["input_ids"]
            counts += [len(x) for x in ids]
        return counts
    if hasattr(tokenizer, "encode"):
        return [len(tokenizer.encode(t)) for t in texts]
    raise SftDataError(
        "tokenizer must be a transformers tokenizer or have .encode(text), "
        f"got {type(tokenizer).__name__}"
    )


def _row_text(value: Any, column: str, roles: Counter[str], turns: list[int]) -> str:
    """One kept row's text (contents joined for messages); counts roles and turns."""
    if column == TEXT:
        return value if isinstance(value, str) else ""
    msgs = value if isinstance(value, list) else []
    parts: list[str] = []
    for m in msgs:
        if isinstance(m, Mapping):
            roles[str(m.get("role"))] += 1
            content = m.get("content")
            parts.append(content if isinstance(content, str) else "")
    turns.append(sum(1 for m in msgs if isinstance(m, Mapping) and m.get("role") == "user"))
    return "\n".join(parts)


def _values(column: list[Any] | None, rows: list[int]) -> list[str] | None:
    return None if column is None else [str(column[i]) for i in rows]


def _counts(column: list[Any] | None, rows: list[int]) -> dict[str, int] | None:
    values = _values(column, rows)
    return None if values is None else dict(sorted(Counter(values).items()))


def _grouped(tokens: list[int], sources: list[str] | None) -> dict[str, LengthCounts] | None:
    if sources is None:
        return None
    groups: dict[str, list[int]] = {}
    for n, s in zip(tokens, sources, strict=True):
        groups.setdefault(s, []).append(n)
    return {s: LengthCounts.of(v) for s, v in groups.items()}


def _pairs(cols: dict[str, list[Any]], kept: list[int], tokenizer: Any) -> PairStats:
    def count(texts: list[str]) -> list[int]:
        return _token_counts(tokenizer, texts)

    chosen = [cols["chosen"][i] for i in kept]
    rejected = [cols["rejected"][i] for i in kept]
    return measure_pairs(chosen, rejected, count=count if tokenizer is not None else None)
