"""``sfttrain sweep report SWEEP``: ``report.md``, ``results.csv`` and plots from a sweep.

- every variant's metrics as mean ± std over its seeds;
- the best variant per metric (lower is better for losses, perplexity and seconds);
- deltas against the baseline variant with a 95% paired bootstrap interval: over the
  held-out rows for ``heldout_loss`` (each row's loss averaged over seeds, weighted by
  its tokens), over the seeds both variants ran for the other metrics;
- ``plots/<metric>_vs_<key>.png`` (mean ± std per swept value) and
  ``plots/loss_curves.png`` (every run's training loss from its ``metrics.jsonl``).
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sfttrain.config import ConfigError
from sfttrain.sweep._run import read_results
from sfttrain.sweep._stats import Interval, lower_is_better, mean_std, paired_bootstrap


@dataclass
class VariantStats:
    """One variant's runs: its settings, seeds and metrics per seed."""

    variant: str
    settings: dict[str, Any]
    runs: list[dict[str, Any]] = field(default_factory=list)

    def values(self, metric: str) -> dict[int, float]:
        return {r["seed"]: r["metrics"][metric] for r in self.runs if metric in r["metrics"]}

    def label(self) -> str:
        return ", ".join(f"{k}={_fmt(v)}" for k, v in self.settings.items()) or "base"


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def group(records: list[dict[str, Any]]) -> list[VariantStats]:
    """Records grouped by variant, in first-seen order, runs sorted by seed."""
    out: dict[str, VariantStats] = {}
    for rec in records:
        vs = out.setdefault(rec["variant"], VariantStats(rec["variant"], rec["settings"]))
        vs.runs.append(rec)
    for vs in out.values():
        vs.runs.sort(key=lambda r: r["seed"])
    return list(out.values())


#: recorded for every run, but counts rather than outcomes: in results.csv, not compared
DESCRIPTIVE = ("heldout_tokens", "train_steps")


def metrics_of(variants: list[VariantStats]) -> list[str]:
    names: dict[str, None] = {}
    for vs in variants:
        for r in vs.runs:
            names.update(dict.fromkeys(r["metrics"]))
    return list(names)


def find_baseline(variants: list[VariantStats], wanted: dict[str, Any] | None) -> VariantStats:
    """The variant whose settings match ``wanted`` (default: the first variant)."""
    if not wanted:
        return variants[0]
    for vs in variants:
        if all(vs.settings.get(k) == v for k, v in wanted.items()):
            return vs
    raise ConfigError(f"baseline: {wanted!r} matches no finished variant")


def delta(
    sweep: Path, variant: VariantStats, base: VariantStats, metric: str
) -> tuple[Interval, str] | None:
    """``variant - base`` on ``metric`` with its paired bootstrap interval and what was paired."""
    if metric == "heldout_loss":
        a, b = _row_losses(sweep, variant), _row_losses(sweep, base)
        if a is not None and b is not None and len(a[0]) == len(b[0]) and a[1] == b[1]:
            return paired_bootstrap(a[0], b[0], weights=a[1]), f"{len(a[0])} rows"
    va, vb = variant.values(metric), base.values(metric)
    seeds = sorted(set(va) & set(vb))
    if not seeds:
        return None
    return paired_bootstrap([va[s] for s in seeds], [vb[s] for s in seeds]), f"{len(seeds)} seeds"


def _row_losses(sweep: Path, vs: VariantStats) -> tuple[list[float], list[float]] | None:
    """Each held-out row's loss averaged over the variant's seeds, and its token count."""
    per_seed = []
    for r in vs.runs:
        path = sweep / "runs" / r["run"] / "eval_items.json"
        if not path.is_file():
            return None
        per_seed.append(json.loads(path.read_text(encoding="utf-8")))
    if not per_seed or not per_seed[0] or any(len(p) != len(per_seed[0]) for p in per_seed):
        return None
    tokens = [n for _, n in per_seed[0]]
    losses = [
        sum(-p[i][0] / max(p[i][1], 1) for p in per_seed) / len(per_seed)
        for i in range(len(tokens))
    ]
    return losses, tokens


def write_report(sweep_dir: str | Path, *, baseline: dict[str, Any] | None = None) -> Path:
    """Write ``report.md``, ``results.csv`` and ``plots/`` into the sweep folder."""
    sweep = Path(sweep_dir)
    records = read_results(sweep)
    if not records:
        raise ConfigError(f"sweep report: no finished runs in {sweep / 'results.jsonl'}")
    plan = _plan(sweep)
    variants = group(records)
    metrics = metrics_of(variants)
    base = find_baseline(variants, baseline if baseline is not None else plan.get("baseline"))
    axes = list(plan.get("axes") or {}) or sorted({k for v in variants for k in v.settings})
    _write_csv(sweep / "results.csv", records, axes, metrics)
    compared = [m for m in metrics if m not in DESCRIPTIVE]
    plots = _plots(sweep, variants, axes, compared, records)
    lines = _markdown(sweep, variants, compared, base, axes, plots)
    (sweep / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sweep / "report.md"


def _plan(sweep: Path) -> dict[str, Any]:
    path = sweep / "sweep.json"
    return dict(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else {}


def _write_csv(
    path: Path, records: list[dict[str, Any]], axes: list[str], metrics: list[str]
) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["run", "variant", "seed", *axes, *metrics])
        for r in records:
            row = [r["run"], r["variant"], r["seed"]]
            row += [json.dumps(r["settings"].get(a)) for a in axes]
            row += [r["metrics"].get(m, "") for m in metrics]
            w.writerow(row)


def _markdown(
    sweep: Path,
    variants: list[VariantStats],
    metrics: list[str],
    base: VariantStats,
    axes: list[str],
    plots: list[str],
) -> list[str]:
    runs = sum(len(v.runs) for v in variants)
    lines = [f"# Sweep report: {sweep.name}", "",
             f"{len(variants)} variants, {runs} runs; baseline: {base.label()}.", "",
             "## Metrics (mean ± std over seeds)", ""]  # fmt: skip
    lines += [
        "| " + " | ".join([*axes, "seeds", *metrics]) + " |",
        "|" + "---|" * (len(axes) + 1 + len(metrics)),
    ]
    for vs in variants:
        cells = [_fmt(vs.settings.get(a, "")) for a in axes] + [str(len(vs.runs))]
        for m in metrics:
            mean, std = mean_std(list(vs.values(m).values()))
            cells.append(f"{mean:.4g} ± {std:.2g}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Best variant per metric", ""]
    for m in metrics:
        best = _best(variants, m)
        if best is not None:
            mean, _ = mean_std(list(best.values(m).values()))
            arrow = "lowest" if lower_is_better(m) else "highest"
            lines.append(f"- **{m}** ({arrow}): {best.label()} — {mean:.4g}")
    lines += ["", f"## Deltas against the baseline ({base.label()}), 95% paired bootstrap", ""]
    lines += ["| variant | metric | delta | interval | paired over |", "|---|---|---|---|---|"]
    for vs in variants:
        if vs is base:
            continue
        for m in metrics:
            found = delta(sweep, vs, base, m)
            if found is not None:
                iv, over = found
                mark = " *" if iv.excludes_zero() else ""
                lines.append(f"| {vs.label()} | {m} | {iv.delta:+.4g}{mark} | "
                             f"[{iv.low:+.4g}, {iv.high:+.4g}] | {over} |")  # fmt: skip
    lines += ["", "`*`: the interval excludes 0. Over seeds, an interval from fewer than "
              "5 pairs is coarse (with 2 seeds it is the range of the 2 differences).", "",
              "## Plots", ""]  # fmt: skip
    lines += [f"![{p}](plots/{p})" for p in plots]
    return lines


def _best(variants: list[VariantStats], metric: str) -> VariantStats | None:
    scored = [(mean_std(list(v.values(metric).values()))[0], v) for v in variants]
    scored = [(m, v) for m, v in scored if m == m]  # drop NaN
    if not scored:
        return None
    pick = min if lower_is_better(metric) else max
    return pick(scored, key=lambda t: t[0])[1]


def _plots(
    sweep: Path,
    variants: list[VariantStats],
    axes: list[str],
    metrics: list[str],
    records: list[dict[str, Any]],
) -> list[str]:
    """Metric vs each swept value and overlaid loss curves; [] without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    out_dir = sweep / "plots"
    out_dir.mkdir(exist_ok=True)
    names = []
    shown = [m for m in metrics if m in ("heldout_loss", "train_loss")] or metrics[:1]
    for metric in shown:
        for axis in axes:
            by_value: dict[str, list[float]] = defaultdict(list)
            for vs in variants:
                by_value[_fmt(vs.settings.get(axis))] += list(vs.values(metric).values())
            xs = list(by_value)
            stats = [mean_std(by_value[x]) for x in xs]
            fig, ax = plt.subplots(figsize=(4, 3))
            ax.errorbar(xs, [s[0] for s in stats], yerr=[s[1] for s in stats], fmt="o", capsize=4)
            ax.set_xlabel(axis)
            ax.set_ylabel(metric)
            fig.tight_layout()
            name = f"{metric}_vs_{axis.replace('/', '_')}.png"
            fig.savefig(out_dir / name, dpi=80)
            plt.close(fig)
            names.append(name)
    names.append(_loss_curves(sweep, variants, out_dir, plt))
    return names


def _loss_curves(sweep: Path, variants: list[VariantStats], out_dir: Path, plt: Any) -> str:
    fig, ax = plt.subplots(figsize=(6, 4))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, vs in enumerate(variants):
        for j, r in enumerate(vs.runs):
            path = sweep / "runs" / r["run"] / "metrics.jsonl"
            if not path.is_file():
                continue
            points = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            points = [p for p in points if "loss" in p]
            label = vs.label() if j == 0 else None
            ax.plot([p["step"] for p in points], [p["loss"] for p in points],
                    color=colours[i % len(colours)], alpha=0.8, label=label)  # fmt: skip
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out_dir / "loss_curves.png", dpi=80)
    plt.close(fig)
    return "loss_curves.png"
