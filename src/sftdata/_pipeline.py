"""``Pipeline``: several steps run as one step."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sftdata._contract import Batch

Step = Callable[[Batch], Batch]


@dataclass(frozen=True)
class Pipeline:
    """Run ``steps`` in order on a batch; itself a step.

    ``ds.map(Pipeline((sd.parse.Alpaca(), sd.clean.FixText())), batched=True)``.
    Every step sees every row; steps skip rows that already carry a ``drop_reason``,
    so rejects travel to the end with the step that rejected them named in the code.
    """

    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        if isinstance(self.steps, list):
            object.__setattr__(self, "steps", tuple(self.steps))
        for i, s in enumerate(self.steps):
            if not callable(s):
                raise TypeError(f"Pipeline step {i} is not callable: {s!r}")

    def __call__(self, batch: Mapping[str, list[Any]]) -> Batch:
        out: Batch = dict(batch)
        for step in self.steps:
            out = step(out)
        return out
