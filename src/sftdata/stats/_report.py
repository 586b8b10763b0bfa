"""``report(ds, tokenizer=None) -> Report``: the data distribution of a dataset.

::

    rows in 1000 | kept 940 | rejected 60
    length    total     mean   p50   p90   p99    max
    chars     2.1e6     2234   1900  4100  9800   12000
    tokens    5.0e5      532    455   980  2300    2900     (with a tokenizer)
    turns        -       3.1      2     6    10      14     (messages rows)
    + role balance, sources, languages, drop reasons, histograms

Statistics describe the kept rows (no ``drop_reason``); the drop reasons count every
row, through :class:`~sftdata.Counters`. A preference row (``prompt`` / ``chosen`` /
``rejected``) is measured over its three parts, and ``preference`` compares its two
answers' lengths (see :mod:`sftdata.stats._preference`). A ``messages`` row's length is the sum over
its messages' contents, and its tokens are those of the contents alone (no chat
template). Languages come from a ``language`` column if one exists (see
:class:`~sftdata.clean.LangId`), sources from ``source``.

>>> r = report({"text": ["hello world", "hi", None], "drop_reason": [None, None, "x.y"]})
>>> r.rows_in, r.chars["total"], r.counters.dropped
(3, 13, {'x.y': 1})
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sftdata._batch import drop_reasons
from sftdata._contract import MESSAGES, TEXT, SftDataError
from sftdata._rejects import Counters
from sftdata._texts import PREFERENCE_COLUMNS, is_preference_batch
from sftdata.stats._preference import pair_lengths, pair_markdown

PERCENTILES = (50, 90, 99)


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
    histograms: dict[str, dict[str, list[float]]] = field(repr=False)
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
        """Write one PNG histogram per length measure into ``directory``; return the paths.

        Needs matplotlib (``pip install 'sftdata[plots]'``).
        """
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as e:  # pragma: no cover - depends on the install
            raise SftDataError("save_plots needs matplotlib: pip install 'sftdata[plots]'") from e
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, hist in self.histograms.items():
            fig, ax = plt.subplots(figsize=(6, 3.5))
            edges = np.asarray(hist["edges"])
            ax.bar(edges[:-1], hist["counts"], width=np.diff(edges), align="edge")
            ax.set_xlabel(f"{name} per row")
            ax.set_ylabel("rows")
            ax.set_title(f"{name} per kept row")
            path = directory / f"{name}_hist.png"
            fig.tight_layout()
            fig.savefig(path, dpi=100)
            plt.close(fig)
            paths.append(path)
        return paths


def _fmt(v: float) -> str:
    return f"{v:.1f}" if isinstance(v, float) and not float(v).is_integer() else f"{int(v)}"


def _summary(values: Sequence[int]) -> dict[str, float]:
    if not values:
        return {"total": 0, "mean": 0.0, "min": 0, "max": 0, **{f"p{p}": 0.0 for p in PERCENTILES}}
    a = np.asarray(values, dtype=np.int64)
    out: dict[str, float] = {"total": int(a.sum()), "mean": float(a.mean())}
    out.update({f"p{p}": float(np.percentile(a, p)) for p in PERCENTILES})
    out.update(min=int(a.min()), max=int(a.max()))
    return out


def _histogram(values: Sequence[int], bins: int) -> dict[str, list[float]]:
    counts, edges = np.histogram(np.asarray(values, dtype=np.int64), bins=bins)
    return {"counts": [int(c) for c in counts], "edges": [float(e) for e in edges]}


def _columns(ds: Any) -> dict[str, list[Any]]:
    """The data as plain columns: from a Dataset, a columnar dict or a list of rows."""
    if isinstance(ds, Mapping):
        return {k: list(v) for k, v in ds.items()}
    if isinstance(ds, list):
        keys = list(dict.fromkeys(k for row in ds for k in row))
        return {k: [row.get(k) for row in ds] for k in keys}
    if hasattr(ds, "column_names"):
        return {k: list(ds[k]) for k in ds.column_names}
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


def _row_texts(value: Any, column: str, roles: Counter[str], turns: list[int]) -> str:
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


def report(ds: Any, tokenizer: Any = None, *, bins: int = 30) -> Report:
    """Measure ``ds`` (a ``datasets.Dataset``, a dict of columns or a list of rows).

    ``turns`` counts user turns per conversation. ``bins`` is the number of histogram
    bins. See the module docstring for what each number means.

    >>> rows = [{"messages": [{"role": "user", "content": "hi"},
    ...                       {"role": "assistant", "content": "hello"}], "source": "a"}]
    >>> r = report(rows)
    >>> r.roles, r.sources, r.turns["mean"]
    ({'assistant': 1, 'user': 1}, {'a': 1}, 1.0)
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise SftDataError(f"report bins must be a positive int, got {bins!r}")
    cols = _columns(ds)
    pairs = is_preference_batch(cols)
    if pairs:  # one messages list per row: prompt, chosen and rejected turns
        parts = zip(*(cols[c] for c in PREFERENCE_COLUMNS), strict=True)
        cols[MESSAGES] = [[m for p in ps if isinstance(p, list) for m in p] for ps in parts]
    column = MESSAGES if MESSAGES in cols else TEXT if TEXT in cols else None
    if column is None:
        raise SftDataError(
            "report needs a 'text' or 'messages' column (or a preference row's 'prompt', "
            f"'chosen', 'rejected'); got {sorted(cols)}"
        )
    n = len(cols[column])
    reasons = drop_reasons(cols)
    kept = [i for i in range(n) if reasons[i] is None]
    roles: Counter[str] = Counter()
    turns: list[int] = []
    texts = [_row_texts(cols[column][i], column, roles, turns) for i in kept]
    chars = [len(t) for t in texts]
    tokens = _token_counts(tokenizer, texts) if tokenizer is not None else None
    measures = {"chars": chars, "tokens": tokens, "turns": turns if column == MESSAGES else None}
    return Report(
        rows_in=n,
        counters=Counters.from_reasons(list(reasons)),
        chars=_summary(chars),
        tokens=_summary(tokens) if tokens is not None else None,
        turns=_summary(turns) if column == MESSAGES else None,
        roles=dict(sorted(roles.items())),
        sources=_count(cols.get("source"), kept),
        languages=_count(cols.get("language"), kept),
        histograms={k: _histogram(v, bins) for k, v in measures.items() if v},
        preference=_pairs(cols, kept, tokenizer) if pairs else None,
    )


def _pairs(cols: dict[str, list[Any]], kept: list[int], tokenizer: Any) -> dict[str, Any]:
    def count(texts: list[str]) -> list[int]:
        return _token_counts(tokenizer, texts)

    chosen = [cols["chosen"][i] for i in kept]
    rejected = [cols["rejected"][i] for i in kept]
    return pair_lengths(
        chosen, rejected, count=count if tokenizer is not None else None, summary=_summary
    )


def _count(column: list[Any] | None, rows: list[int]) -> dict[str, int]:
    if column is None:
        return {}
    return dict(sorted(Counter(str(column[i]) for i in rows).items()))
