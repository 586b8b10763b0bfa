"""Decontamination: drop training rows that overlap evaluation texts.

Two tests, both against named eval sets (``{"gsm8k": [...], "mmlu": [...]}``):

1. **Shared n-gram** (default 13 words, normalised like shingles): every n-gram of
   every eval text goes into one sorted ``uint64`` array; a training row is
   contaminated if any of its n-grams is found there (``searchsorted``, no Python
   set of strings). The first matching n-gram is recorded as text.
2. **Near-duplicate** (optional, ``near_threshold=``): MinHash of the whole row
   against a :class:`MinHashIndex` of each eval set.

::

    train row  "... natalia sold clips to 48 of her friends in april and then ..."
    eval       "Natalia sold clips to 48 of her friends in April, and then she sold"
    shared 13-gram  -> drop_reason="dedup.contaminated:gsm8k",
                       contamination="natalia sold clips to 48 of her friends in april and then she"

An eval text shorter than ``ngram`` words but with at least ``min_words`` (default
``min(8, ngram)``)
is matched as a whole: a training row containing its words in a row is contaminated.
Shorter eval texts only match a training row that normalises to the same words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sftdata._contract import DROP_REASON, Batch
from sftdata.dedup._apply import as_input, column_list, finish, map_columns
from sftdata.dedup._apply import resolve_column as _resolve_column
from sftdata.dedup._hashing import ngram_hashes, ngram_hashes_multi
from sftdata.dedup._index import MinHashIndex
from sftdata.dedup._minhash import MinHashSignatures, batch_texts, signatures_of
from sftdata.dedup._text import Fields

CONTAMINATION = "contamination"
REASON_PREFIX = "dedup.contaminated:"


@dataclass(frozen=True, eq=False)
class EvalNgrams:
    """Sorted n-gram hashes of named eval sets, one table per n-gram length.

    ``tables[n] = (hashes, sets)``: ``hashes`` sorted and unique, ``sets[i]`` the index
    in ``names`` of the first eval set holding ``hashes[i]``. ``tables[ngram]`` holds
    every ``ngram``-gram; an eval text with ``min_words <= m < ngram`` words is one
    entry of ``tables[m]`` (its whole word sequence), matched against the training
    rows' ``m``-grams, so short benchmark questions are still found inside longer rows.

    >>> table = EvalNgrams.build({"quiz": ["what is the capital of france"]}, ngram=3)
    >>> table.lookup(["tell me: what is the capital of France?", "no overlap here"])
    [('quiz', 'what is the'), None]
    >>> short = EvalNgrams.build({"quiz": ["capital of France?"]}, ngram=13, min_words=3)
    >>> short.lookup(["So, what is the capital of france, then?"])
    [('quiz', 'capital of france')]
    """

    tables: dict[int, tuple[np.ndarray, np.ndarray]]
    names: tuple[str, ...]
    ngram: int

    @classmethod
    def build(
        cls, evals: Mapping[str, Sequence[str]], *, ngram: int = 13, min_words: int | None = None
    ) -> EvalNgrams:
        """Hash every n-gram of every eval text; an n-gram in two sets belongs to the first.

        ``min_words`` defaults to ``min(8, ngram)``.
        """
        if not isinstance(evals, Mapping) or not evals:
            raise ValueError("evals must be a non-empty mapping {name: [texts]}")
        if not isinstance(ngram, int) or ngram < 1:
            raise ValueError(f"ngram must be an int >= 1, got {ngram!r}")
        min_words = min(8, ngram) if min_words is None else min_words
        if not isinstance(min_words, int) or not 1 <= min_words <= ngram:
            raise ValueError(f"min_words must be an int in [1, ngram={ngram}], got {min_words!r}")
        parts: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        for k, (name, texts) in enumerate(evals.items()):
            if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
                raise TypeError(f"eval set {name!r} must be a list of str")
            grams = ngram_hashes(list(texts), ngram=ngram)
            length = np.repeat(np.minimum(grams.words_per_doc, ngram), np.diff(grams.offsets))
            length[length < min_words] = ngram  # too short: matches only an equal row
            for m in np.unique(length).tolist():
                h = grams.hashes[length == m]
                parts.setdefault(m, []).append((h, np.full(len(h), k, dtype=np.int32)))
        tables = {m: _sorted_first(p) for m, p in sorted(parts.items(), reverse=True)}
        return cls(tables, tuple(evals), ngram)

    def lookup(self, texts: Sequence[str]) -> list[tuple[str, str] | None]:
        """For each text, ``(eval set name, first shared n-gram)`` or ``None``.

        Longer n-grams are tried first; within a length, the first in the text wins.
        """
        out: list[tuple[str, str] | None] = [None] * len(texts)
        grams_by_len = ngram_hashes_multi(texts, ngrams=list(self.tables))
        for m, (hashes, sets) in self.tables.items():
            grams = grams_by_len[m]
            pos = np.searchsorted(hashes, grams.hashes).clip(0, max(len(hashes) - 1, 0))
            hit_idx = np.flatnonzero(hashes[pos] == grams.hashes)
            doc_of_hit = np.searchsorted(grams.offsets, hit_idx, side="right") - 1
            for j, d in zip(hit_idx.tolist(), doc_of_hit.tolist(), strict=True):
                if out[d] is None:
                    out[d] = (self.names[int(sets[pos[j]])], grams.text(j))
        return out


def _sorted_first(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate (hashes, set) parts, sort by hash, keep the lowest set of each hash."""
    hashes = np.concatenate([h for h, _ in parts])
    sets = np.concatenate([s for _, s in parts])
    order = np.lexsort((sets, hashes))
    hashes, sets = hashes[order], sets[order]
    first = np.concatenate(([True], hashes[1:] != hashes[:-1]))
    return hashes[first], sets[first]


@dataclass(frozen=True, eq=False)
class Decontaminate:
    """Batched step: reject rows sharing an n-gram with an eval set.

    Sets ``drop_reason="dedup.contaminated:<name>"`` and ``contamination`` (the n-gram).
    """

    table: EvalNgrams
    column: str = "text"
    fields: Fields = "all"

    def __post_init__(self) -> None:
        if not isinstance(self.table, EvalNgrams):
            raise TypeError(f"table must be an EvalNgrams, got {type(self.table).__name__}")
        if self.fields not in ("all", "user"):
            raise ValueError(f"fields must be 'all' or 'user', got {self.fields!r}")

    def __call__(self, batch: Mapping[str, list[Any]]) -> Batch:
        texts, reasons = batch_texts(batch, column=self.column, fields=self.fields)
        found = self.table.lookup(texts)
        match: list[str | None] = [None] * len(texts)
        for i, f in enumerate(found):
            if f is not None and reasons[i] is None:
                reasons[i], match[i] = REASON_PREFIX + f[0], f[1]
        out: Batch = dict(batch)
        out[DROP_REASON] = reasons
        out[CONTAMINATION] = match
        return out


def decontaminate(
    data: Any,
    evals: Mapping[str, Sequence[str]],
    *,
    ngram: int = 13,
    min_words: int | None = None,
    near_threshold: float | None = None,
    near_ngram: int = 5,
    num_perm: int = 128,
    seed: int = 1,
    column: str | None = None,
    fields: Fields = "all",
    num_proc: int | None = None,
    batch_size: int = 1000,
) -> tuple[Any, Any]:
    """Drop training rows contaminated by eval texts: ``(kept, rejected)``.

    >>> kept, rejected = decontaminate(
    ...     ["Q: What is the capital of France? A: Paris.", "Q: name a prime. A: 7"],
    ...     {"geo": ["What is the capital of France?"]}, ngram=4)
    >>> [(r["drop_reason"], r["contamination"]) for r in rejected]
    [('dedup.contaminated:geo', 'what is the capital')]
    """
    if near_threshold is not None and not 0.0 < near_threshold < 1.0:
        raise ValueError(f"near_threshold must be in (0, 1) or None, got {near_threshold!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    table = EvalNgrams.build(evals, ngram=ngram, min_words=min_words)
    data = as_input(data)
    col = _resolve_column(data, column)
    step = Decontaminate(table, column=col, fields=fields)
    out = map_columns(
        data, step, keep=[DROP_REASON, CONTAMINATION], num_proc=num_proc, batch_size=batch_size
    )
    reasons: list[str | None] = column_list(out, DROP_REASON)
    match: list[str | None] = column_list(out, CONTAMINATION)
    if near_threshold is not None:
        sig_step = MinHashSignatures(
            column=col, fields=fields, num_perm=num_perm, seed=seed, ngram=near_ngram
        )
        sig, _ = signatures_of(data, sig_step, num_proc=num_proc, batch_size=batch_size)
        for name, texts in evals.items():
            index = MinHashIndex.build(list(texts), num_perm=num_perm, seed=seed, ngram=near_ngram)
            hit, est = index.match(sig, threshold=near_threshold)
            for i in np.flatnonzero(hit >= 0).tolist():
                if reasons[i] is None:
                    reasons[i] = REASON_PREFIX + name
                    match[i] = (
                        f"near-duplicate of {name}[{int(hit[i])}] (estimated Jaccard {est[i]:.2f})"
                    )
    return finish(data, {DROP_REASON: reasons, CONTAMINATION: match})
