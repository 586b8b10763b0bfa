"""Small real steps used by the pipeline tests (loaded by import path, like a user's own steps)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sftdata._batch import drop_reasons


@dataclass(frozen=True)
class Upper:
    """Upper-case the ``text`` column; ``sleep`` seconds per batch makes a run slow enough to kill."""

    sleep: float = 0.0

    def __call__(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        if self.sleep:
            time.sleep(self.sleep)
        reasons = drop_reasons(batch)
        text = [
            t if r is not None else t.upper() for t, r in zip(batch["text"], reasons, strict=True)
        ]
        return {**batch, "text": text, "drop_reason": reasons}


@dataclass(frozen=True)
class MinLength:
    """Reject rows whose ``text`` has fewer than ``chars`` characters (``test.too_short``)."""

    chars: int = 3

    def __post_init__(self) -> None:
        if self.chars < 0:
            raise ValueError(f"chars must be >= 0, got {self.chars}")

    def __call__(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        reasons = drop_reasons(batch)
        out = [
            r if r is not None else (None if len(t) >= self.chars else "test.too_short")
            for t, r in zip(batch["text"], reasons, strict=True)
        ]
        return {**batch, "drop_reason": out}


def drop_odd_length(ds: Any, *, reason: str = "test.odd") -> tuple[Any, Any]:
    """A global pass: rows whose text has an odd length are rejected."""
    odd = [len(t) % 2 == 1 for t in ds["text"]]
    kept = ds.select([i for i, o in enumerate(odd) if not o])
    rejected = ds.select([i for i, o in enumerate(odd) if o])
    return kept, rejected.add_column("drop_reason", [reason] * len(rejected))
