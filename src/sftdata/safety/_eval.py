"""Scoring PII detection against a labelled set (used by ``benchmarks/pii.py`` and the tests).

A labelled line marks each expected span inline as ``⟦type|value⟧``; lines without a
mark are negatives. Blank lines and lines starting with ``#`` are skipped::

    Mail ⟦email|ann@example.com⟧ about build 1.2.3.4   ->  one email, no IP
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sftdata._contract import SftDataError
from sftdata.safety._pii import PII_TYPES, find_pii

_MARK = re.compile(r"⟦([a-z_]+)\|(.*?)⟧")

Gold = tuple[str, int, int]  # (type, start, end)


def parse_labelled(line: str) -> tuple[str, list[Gold]]:
    """Strip the marks from ``line``; return the plain text and the marked spans.

    >>> parse_labelled("call ⟦phone|212-555-0187⟧ now")
    ('call 212-555-0187 now', [('phone', 5, 17)])
    """
    parts: list[str] = []
    gold: list[Gold] = []
    pos = 0
    length = 0
    for m in _MARK.finditer(line):
        kind, value = m.group(1), m.group(2)
        if kind not in PII_TYPES:
            raise SftDataError(f"unknown PII type {kind!r} in labelled line: {line!r}")
        before = line[pos : m.start()]
        parts += [before, value]
        length += len(before)
        gold.append((kind, length, length + len(value)))
        length += len(value)
        pos = m.end()
    parts.append(line[pos:])
    return "".join(parts), gold


@dataclass
class TypeScore:
    """Span-level counts for one type: a prediction counts only on an exact span match."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def score_lines(lines: Iterable[str], *, region: str = "US") -> dict[str, TypeScore]:
    """Precision / recall per type of :func:`find_pii` on labelled lines.

    >>> s = score_lines(["⟦email|a@example.org⟧", "version 1.2.3.4"])
    >>> s["email"].tp, s["ip_address"].fp
    (1, 0)
    """
    scores: dict[str, TypeScore] = {t: TypeScore() for t in PII_TYPES}
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        text, gold = parse_labelled(line)
        predicted: set[Gold] = {(s.type, s.start, s.end) for s in find_pii(text, region=region)}
        expected = set(gold)
        for kind, _, _ in predicted & expected:
            scores[kind].tp += 1
        for kind, _, _ in predicted - expected:
            scores[kind].fp += 1
        for kind, _, _ in expected - predicted:
            scores[kind].fn += 1
    return scores
