"""Histograms on whole numbers, context-length shares per source, plots with units."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sentencepiece as spm
from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata.stats import report
from sftdata.stats._plots import histogram_figure, int_histogram, share_over


@settings(max_examples=80)
@given(values=st.lists(st.integers(0, 50_000), min_size=1, max_size=60), bins=st.integers(1, 40))
def test_int_histogram_bins_are_whole_numbers(values: list[int], bins: int) -> None:
    """Property: integer edges of one round width; each value counted once, in its bin."""
    h = int_histogram(values, bins)
    edges, width = np.asarray(h["edges"]), h["width"]
    assert all(float(e).is_integer() for e in edges) and set(np.diff(edges)) == {width}
    assert str(width).strip("0") in ("1", "2", "5") and edges[0] % width == 0
    assert edges[0] <= min(values) and max(values) < edges[-1]
    assert len(h["counts"]) <= bins + 1
    expected = Counter(int((v - edges[0]) // width) for v in values)
    assert h["counts"] == [expected.get(k, 0) for k in range(len(h["counts"]))]


def test_turns_plot_has_integer_ticks_and_units() -> None:
    """Example: turns per row get one bar per value, integer ticks and a unit on each axis."""
    convo = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    rows = [{"messages": convo * k} for k in (1, 1, 2, 3, 3, 3, 5)]
    r = report(rows)
    hist = r.histograms["turns"]
    assert hist["width"] == 1 and hist["counts"] == [2, 1, 3, 0, 1]
    fig = histogram_figure("turns", hist, r.counters.kept, None)
    ax = fig.axes[0]
    ticks = [t for t in ax.get_xticks() if 1 <= t <= 5]
    assert ticks and all(float(t).is_integer() for t in ticks)
    assert ax.get_xlabel() == "user turns per row (one bar per value)"
    assert ax.get_ylabel() == "rows" and "7 rows" in ax.get_title()


@pytest.fixture(scope="module")
def sp(sp_model_path: Path) -> Any:
    return spm.SentencePieceProcessor(model_file=str(sp_model_path))


@pytest.mark.slow
def test_token_report_shares_over_context_lengths_per_source(sp: Any, tmp_path: Path) -> None:
    """Example: shares of rows over 2k/4k/8k tokens, overall and per source, equal direct
    counts with sentencepiece; per-source histograms share bins; the plots are written."""
    rng = np.random.default_rng(0)
    texts = [" ".join(["word"] * int(n)) for n in rng.integers(10, 12_000, size=40)]
    sources = ["web" if i % 3 else "books" for i in range(40)]
    r = report({"text": texts, "source": sources}, sp)
    lengths = [len(sp.encode(t)) for t in texts]
    assert r.context is not None
    assert r.context["all"] == {f"{k}k": sum(n > k * 1024 for n in lengths) / 40 for k in (2, 4, 8)}
    for src in ("web", "books"):
        mine = [n for n, s in zip(lengths, sources, strict=True) if s == src]
        assert r.context[src] == share_over(mine)
        assert sum(r.by_source[src]["counts"]) == len(mine)
        assert r.by_source[src]["edges"] == r.by_source["web"]["edges"]
    assert "| rows over | 2k | 4k | 8k |" in r.to_markdown()
    names = [p.name for p in r.save_plots(tmp_path)]
    assert names == ["chars_hist.png", "tokens_hist.png", "tokens_by_source.png"]
    fig = histogram_figure("tokens", r.histograms["tokens"], 40, r.context["all"])
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend[0] == f"2k (2048): {r.context['all']['2k']:.1%} of rows over"
    assert fig.axes[0].get_xlabel().startswith("tokens per row (bins of ")
