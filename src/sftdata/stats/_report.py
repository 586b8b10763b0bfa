"""``Report``: what :func:`~sftdata.stats.report` measured, as JSON, Markdown and PNGs.

::

    rows in 1000 | kept 940 | rejected 60
    length    total     mean   p50   p90   p99    max
    chars     2.1e6     2234   1900  4100  9800   12000
    tokens    5.0e5      532    455   980  2300    2900     (with a tokenizer)
    turns        -       3.1      2     6    10      14     (messages rows)
    + role balance, sources, languages, drop reasons, histograms

With a tokenizer, also the share of rows over common context lengths, overall and per
source (``context``), and token histograms per source (``by_source``)::

    rows over   2k     4k    8k
    all         12%    3%    0%
    web         20%    5%    0%

How the numbers are measured (and merged across parts) is in
:mod:`sftdata.stats._measure`; this module only presents them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sftdata._rejects import Counters
from sftdata.stats._lengths import PERCENTILES
from sftdata.stats._plots import plot_by_source, plot_histogram
from sftdata.stats._preference import pair_markdown

__all__ = ["Report"]


@dataclass(frozen=True)
class Report:
    """What :func:`report` measured. ``to_dict`` / ``to_markdown`` / ``save_plots``."""

    rows_in: int
    counters: Counters
    chars: dict[str, float]
    tokens: dict[str, float] | None
    turns: dict[str, float] | None
    roles: dict[str, int]
    sources: dict[str, int]
    languages: dict[str, int]
    histograms: dict[str, dict[str, Any]] = field(repr=False)
    #: share of rows over 2k/4k/8k tokens: ``{"all": {"2k": 0.12, ...}, source: {...}}``
    context: dict[str, dict[str, float]] | None = None
    #: token histograms per source, all on the same integer bins
    by_source: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    preference: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain builtins only: ``json.dumps(report.to_dict())`` always works."""
        return {
            "rows_in": self.rows_in,
            "kept": self.counters.kept,
            "rejected": self.counters.rejected,
            "drop_reasons": dict(self.counters.dropped),
            "chars": self.chars,
            "tokens": self.tokens,
            "turns": self.turns,
            "roles": self.roles,
            "sources": self.sources,
            "languages": self.languages,
            "histograms": self.histograms,
            "preference": self.preference,
            "context": self.context,
            "token_histograms_by_source": self.by_source,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def to_markdown(self) -> str:
        """A Markdown summary: overview, length table, then one table per breakdown."""
        c = self.counters
        out = [
            "| rows in | kept | rejected |",
            "|---:|---:|---:|",
            f"| {self.rows_in} | {c.kept} | {c.rejected} |",
            "",
            "| length | total | mean | " + " | ".join(f"p{p}" for p in PERCENTILES) + " | max |",
            "|---|---:|---:|" + "---:|" * len(PERCENTILES) + "---:|",
        ]
        for name in ("chars", "tokens", "turns"):
            s = getattr(self, name)
            if s is not None:
                cells = [s["total"], s["mean"], *(s[f"p{p}"] for p in PERCENTILES), s["max"]]
                out.append(f"| {name} | " + " | ".join(_fmt(v) for v in cells) + " |")
        if self.preference is not None:
            out += pair_markdown(self.preference, _fmt)
        if self.context:
            out += ["", "| rows over | " + " | ".join(self.context["all"]) + " |"]
            out.append("|---|" + "---:|" * len(self.context["all"]))
            for group, shares in self.context.items():
                out.append(f"| {group} | " + " | ".join(f"{v:.1%}" for v in shares.values()) + " |")
        for title, counts in (
            ("role", self.roles),
            ("source", self.sources),
            ("language", self.languages),
            ("drop reason", c.dropped),
        ):
            if counts:
                out += ["", f"| {title} | rows |", "|---|---:|"]
                out += [f"| {k} | {v} |" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])]
        return "\n".join(out) + "\n"

    def save(self, directory: str | Path, *, plots: bool = True) -> list[Path]:
        """Write ``report.json``, ``report.md`` and (``plots``) the PNG histograms."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "report.json").write_text(self.to_json() + "\n", encoding="utf-8")
        (directory / "report.md").write_text(self.to_markdown(), encoding="utf-8")
        paths = [directory / "report.json", directory / "report.md"]
        return paths + (self.save_plots(directory) if plots else [])

    def save_plots(self, directory: str | Path) -> list[Path]:
        """Write one PNG histogram per length measure into ``directory`` (and, with a
        tokenizer, ``tokens_by_source.png``); return the paths.

        Needs matplotlib (``pip install 'sftdata[plots]'``).
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        rows = self.counters.kept
        paths = []
        for name, hist in self.histograms.items():
            over = self.context["all"] if name == "tokens" and self.context else None
            paths.append(plot_histogram(directory / f"{name}_hist.png", name, hist, rows, over))
        if self.by_source:
            path = directory / "tokens_by_source.png"
            paths.append(plot_by_source(path, "tokens", self.by_source, self.context or {}))
        return paths


def _fmt(v: float) -> str:
    return f"{v:.1f}" if isinstance(v, float) and not float(v).is_integer() else f"{int(v)}"
