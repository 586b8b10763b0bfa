"""Real, tiny scorers for ClassifierFilter tests (module level, so steps using them pickle)."""

from __future__ import annotations


def upper_share(texts: list[str]) -> list[float]:
    """The share of upper-case letters among the letters of each text."""
    return [sum(c.isupper() for c in t) / max(1, sum(c.isalpha() for c in t)) for t in texts]
