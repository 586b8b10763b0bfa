"""Histograms of integer measures, and the PNGs people read at a glance.

Every measure of a row (characters, tokens, user turns) is a whole number, so bins are
whole numbers too: a bin holds the values ``[edge, edge + width)`` with an integer
``width``. Where ``width`` is 1 (turns per row, short rows) each bar stands on its own
value and the axis ticks are integers::

    rows |   ##
         |   ##  ##
         |## ##  ##  ##
         +-----------------
           1   2   3   4    user turns per row

Token plots add one histogram per source and a line at each common context length
(2k / 4k / 8k) inside the data's range; the legend gives the share of rows over it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sftdata._contract import SftDataError

#: Common context lengths: the report gives the share of rows longer than each.
CONTEXT_LENGTHS = (2048, 4096, 8192)
#: What one unit of each measure is (axis labels).
UNITS = {"chars": "characters", "tokens": "tokens", "turns": "user turns"}


def int_histogram(
    values: Sequence[int], bins: int, *, lo: int | None = None, hi: int | None = None
) -> dict[str, Any]:
    """Counts over about ``bins`` bins covering ``[lo, hi]`` (default: the values'
    range). ``width`` (values per bin) is a round number (1, 2, 5 times a power of 10)
    and the edges are multiples of it, so bins read as "0-999, 1000-1999, ...".

    >>> int_histogram([1, 2, 2, 3], 30)
    {'counts': [1, 2, 1], 'edges': [1.0, 2.0, 3.0, 4.0], 'width': 1}
    >>> int_histogram([3, 150, 2999], 30)["edges"][:3], int_histogram([3, 2999], 30)["width"]
    ([0.0, 100.0, 200.0], 100)
    """
    a = np.asarray(values, dtype=np.int64)
    lo = int(a.min()) if lo is None else lo
    hi = int(a.max()) if hi is None else hi
    start, width, n = bin_layout(lo, hi, bins)
    edges = start + width * np.arange(n + 1)
    counts, _ = np.histogram(a, bins=edges)
    return {"counts": [int(c) for c in counts], "edges": [float(e) for e in edges], "width": width}


def bin_layout(lo: int, hi: int, bins: int) -> tuple[int, int, int]:
    """``(start, width, count)`` of about ``bins`` round-width bins covering ``[lo, hi]``:
    bin ``i`` holds ``[start + i * width, start + (i + 1) * width)``.

    >>> bin_layout(3, 2999, 30)
    (0, 100, 30)
    """
    width = _round_up(-(-(hi - lo + 1) // bins))
    if width > 1:
        lo -= lo % width
    return lo, width, -(-(hi - lo + 1) // width)


def _round_up(width: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that is >= ``width``."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= width:
                return m * step
        step *= 10


def share_over(values: Sequence[int], lengths: Sequence[int] = CONTEXT_LENGTHS) -> dict[str, float]:
    """The fraction of ``values`` above each length, keyed ``"2k"``, ``"4k"``, ...

    >>> share_over([100, 3000, 5000, 9000])
    {'2k': 0.75, '4k': 0.5, '8k': 0.25}
    """
    a = np.asarray(values, dtype=np.int64)
    n = max(len(a), 1)
    return {f"{length // 1024}k": float((a > length).sum() / n) for length in lengths}


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the install
        raise SftDataError("save_plots needs matplotlib: pip install 'sftdata[plots]'") from e
    return plt


def _bars(ax: Any, hist: Mapping[str, Any], **style: Any) -> None:
    edges = np.asarray(hist["edges"])
    if hist.get("width", 0) == 1:  # one bar per value, centred on it
        ax.bar(edges[:-1], hist["counts"], width=0.8, align="center", **style)
    else:
        ax.bar(edges[:-1], hist["counts"], width=np.diff(edges), align="edge", **style)


_STYLES = ("--", "-.", ":")


def _context_lines(
    ax: Any, values_max: float, over: Mapping[str, float] | None, *, legend: bool
) -> None:
    """A line at each context length inside the data's range; the legend says the share
    of rows over it."""
    drawn = False
    for length, style in zip(CONTEXT_LENGTHS, _STYLES, strict=True):
        if length <= values_max:
            key = f"{length // 1024}k"
            label = f"{key} ({length}): {over[key]:.1%} of rows over" if over else key
            ax.axvline(length, color="crimson", linestyle=style, linewidth=1.2, label=label)
            drawn = True
    if drawn and legend:
        ax.legend(fontsize=8, loc="upper right", frameon=False)


def plot_histogram(
    path: Path, name: str, hist: Mapping[str, Any], rows: int, over: Mapping[str, float] | None
) -> Path:
    """One measure's histogram as a PNG (see :func:`histogram_figure`)."""
    fig = histogram_figure(name, hist, rows, over)
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)
    return path


def histogram_figure(
    name: str, hist: Mapping[str, Any], rows: int, over: Mapping[str, float] | None
) -> Any:
    """One measure's histogram: units on the axes, integer ticks, one bar per value when
    the bins are single values, context-length lines on a token plot (``over``)."""
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    _bars(ax, hist, color="steelblue")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    width = hist.get("width", 1)
    unit = UNITS.get(name, name)
    bins = "one bar per value" if width == 1 else f"bins of {width} {unit}"
    ax.set_xlabel(f"{unit} per row ({bins})")
    ax.set_ylabel("rows")
    ax.set_title(f"{unit} per kept row ({rows} rows)")
    if over is not None:
        _context_lines(ax, hist["edges"][-1], over, legend=True)
    fig.tight_layout()
    return fig


def plot_by_source(
    path: Path,
    name: str,
    hists: Mapping[str, Mapping[str, Any]],
    over: Mapping[str, Mapping[str, float]],
) -> Path:
    """Small multiples: one histogram per source on a shared x axis, each titled with its
    row count and share of rows over the context lengths."""
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    n = len(hists)
    fig, axes = plt.subplots(n, 1, figsize=(6.4, 1.2 + 1.6 * n), sharex=True, squeeze=False)
    unit = UNITS.get(name, name)
    for ax, (source, hist) in zip(axes[:, 0], hists.items(), strict=True):
        _bars(ax, hist, color="teal")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=3))
        shares = ", ".join(f">{k} {v:.0%}" for k, v in over.get(source, {}).items())
        ax.set_title(f"{source}: {sum(hist['counts'])} rows ({shares})", fontsize=9)
        ax.set_ylabel("rows")
        _context_lines(ax, hist["edges"][-1], None, legend=ax is axes[0, 0])
    axes[-1, 0].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[-1, 0].set_xlabel(f"{unit} per row, by source")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
