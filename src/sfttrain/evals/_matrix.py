"""The evaluation matrix: models x (dimension, task, metric), written as JSON, Markdown, PNG.

::

    sfttrain eval runs/base runs/sft/export --suite examples/evals/suite.yaml --out runs/matrix
    sfttrain eval --compare runs/a/matrix.json runs/b/matrix.json

``matrix.json`` is a list of records ``{model, task, metric, value, n, ci_low, ci_high}``
(plus ``dimension``, ``flagged`` and the per-item ``scores``); ``matrix.md`` has one
row per model and the columns grouped by dimension; a score on a task that overlaps
the model's training data is flagged (``*``). ``heatmap.png`` colours each column
from its worst to its best model.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sfttrain.evals._metrics import paired_bootstrap

DIMENSIONS = (
    "accuracy", "calibration", "robustness", "fairness", "safety", "efficiency", "contamination",
)  # fmt: skip
LOWER_IS_BETTER = {
    "ece", "gap", "acc_flip", "over_refusal", "safety_hits", "latency_ms", "peak_memory_mb",
    "seconds", "overlap",
}  # fmt: skip


def train_texts(model_path: str | Path, extra: Sequence[Path] = ()) -> list[str]:
    """Texts of the training data: ``extra`` files, else the run's ``sfttrain_config.yaml``."""
    files = list(extra) or _run_train_files(Path(model_path))
    texts: list[str] = []
    for f in files:
        for line in Path(f).read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    texts.append(" ".join(_strings(json.loads(line))))
                except json.JSONDecodeError:
                    texts.append(line)
    return [t for t in texts if t.strip()]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _run_train_files(folder: Path) -> list[Path]:
    import yaml

    for d in (folder, *list(folder.resolve().parents)[:2]):
        cfg = d / "sfttrain_config.yaml"
        if cfg.is_file():
            data = yaml.safe_load(cfg.read_text(encoding="utf-8")) or {}
            files = [
                f if isinstance(f, str) else f.get("path", "") for f in data.get("train_files", [])
            ]
            return [Path(f) for f in files if f and Path(f).is_file()]
    return []


def run_suite(
    models: Sequence[str | Path],
    suite: Any,
    out_dir: str | Path | None = None,
    *,
    classifier: Any = None,
) -> list[dict[str, Any]]:
    """Evaluate each model folder on ``suite`` (a :class:`Suite` or a YAML path); write the matrix.

    ``classifier``: a safety classifier hook for the replies (``sd.safety.score_texts``).
    """
    from sfttrain.evals._run import evaluate_model
    from sfttrain.evals._suite import Suite

    suite = suite if isinstance(suite, Suite) else Suite.load(suite)
    records: list[dict[str, Any]] = []
    for path in models:
        model, tokenizer, template = _load(path, suite.chat_template and not suite.template)
        if template is None and suite.template:
            import sftdata as sd

            template = sd.templates.get(suite.template)
        texts = train_texts(path, suite.train_data)
        records += evaluate_model(
            str(path), model, tokenizer, template, suite, train_texts=texts, classifier=classifier
        )
    if out_dir is not None:
        write_matrix(records, out_dir)
    return records


def _load(path: str | Path, need_template: bool) -> tuple[Any, Any, Any]:
    """Model, tokenizer and template; a base model without a template is fine for plain prompts."""
    from sftdata import SftDataError
    from sfttrain._generate import load_for_inference

    try:
        return load_for_inference(path)
    except SftDataError:
        if need_template:
            raise
    from transformers import AutoModelForCausalLM

    from sfttrain._model import load_tokenizer

    return AutoModelForCausalLM.from_pretrained(str(path)), load_tokenizer(path), None


def _columns(records: Sequence[dict[str, Any]]) -> list[tuple[str, str, str]]:
    seen: dict[tuple[str, str, str], None] = {}
    for r in sorted(records, key=lambda r: DIMENSIONS.index(r.get("dimension", "accuracy"))):
        seen.setdefault((r.get("dimension", "accuracy"), r["task"], r["metric"]), None)
    return list(seen)


def write_matrix(records: Sequence[dict[str, Any]], out_dir: str | Path) -> Path:
    """``matrix.json``, ``matrix.md`` and ``heatmap.png`` (if matplotlib is installed)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "matrix.json").write_text(json.dumps(list(records), indent=1), encoding="utf-8")
    (out / "matrix.md").write_text(to_markdown(records), encoding="utf-8")
    with contextlib.suppress(ImportError):  # matplotlib: the plots / dev extras
        heatmap(records, out / "heatmap.png")
    return out / "matrix.json"


def _table(
    records: Sequence[dict[str, Any]],
) -> tuple[list[str], list[tuple[str, str, str]], dict[Any, Any]]:
    models = list(dict.fromkeys(r["model"] for r in records))
    cells = {
        (r["model"], r.get("dimension", "accuracy"), r["task"], r["metric"]): r for r in records
    }
    return models, _columns(records), cells


def to_markdown(records: Sequence[dict[str, Any]]) -> str:
    """One row per model; columns ``task metric`` grouped under their dimension."""
    models, cols, cells = _table(records)
    lines = []
    for dim in DIMENSIONS:
        group = [c for c in cols if c[0] == dim]
        if not group:
            continue
        lines += [
            f"### {dim}",
            "",
            "| model | " + " | ".join(f"{t} {m}" for _, t, m in group) + " |",
        ]
        lines.append("|---" * (len(group) + 1) + "|")
        for model in models:
            row = [_cell(cells.get((model, *c))) for c in group]
            lines.append(f"| {model} | " + " | ".join(row) + " |")
        lines.append("")
    lines.append("`*`: the task overlaps the model's training data (see contamination).")
    return "\n".join(lines) + "\n"


def _cell(r: dict[str, Any] | None) -> str:
    if r is None:
        return ""
    v = r["value"]
    text = f"{v:.3g}" if abs(v) >= 100 else f"{v:.3f}"
    if r["ci_low"] != r["ci_high"] and not math.isnan(r["ci_low"]):
        text += f" [{r['ci_low']:.2f}, {r['ci_high']:.2f}]"
    return text + ("*" if r.get("flagged") else "")


def heatmap(records: Sequence[dict[str, Any]], path: str | Path) -> None:
    """Models x metrics; each column scaled from its worst (0) to its best (1) model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models, cols, cells = _table(records)
    grid, text = [], []
    for model in models:
        values = [cells[(model, *c)]["value"] if (model, *c) in cells else math.nan for c in cols]
        grid.append(values)
        text.append(["" if math.isnan(v) else f"{v:.2g}" for v in values])
    scaled = [[0.5] * len(cols) for _ in models]
    for j, (_, _, metric) in enumerate(cols):
        col = [grid[i][j] for i in range(len(models)) if not math.isnan(grid[i][j])]
        lo, hi = (min(col), max(col)) if col else (0.0, 0.0)
        for i in range(len(models)):
            v = grid[i][j]
            s = 0.5 if math.isnan(v) or hi == lo else (v - lo) / (hi - lo)
            scaled[i][j] = 1 - s if metric.split(":")[0] in LOWER_IS_BETTER else s
    fig, ax = plt.subplots(figsize=(max(6, 0.55 * len(cols)), 1.2 + 0.5 * len(models)))
    ax.imshow(scaled, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(
        range(len(cols)),
        [f"{d[:4]}|{t} {m}" for d, t, m in cols],
        rotation=70,
        ha="right",
        fontsize=7,
    )
    ax.set_yticks(range(len(models)), [Path(m).name or m for m in models], fontsize=8)
    for i in range(len(models)):
        for j in range(len(cols)):
            ax.text(j, i, text[i][j], ha="center", va="center", fontsize=6)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def compare(
    a_path: str | Path, b_path: str | Path, *, samples: int = 1000, seed: int = 0
) -> list[dict[str, Any]]:
    """Per ``(task, metric)`` in both files: ``b - a`` with a paired bootstrap 95% interval.

    Records pair by task and metric when each file holds one model, else by model too.
    Without per-item scores on both sides (or with different item counts) the interval
    is left empty (NaN).
    """
    a = json.loads(Path(a_path).read_text(encoding="utf-8"))
    b = json.loads(Path(b_path).read_text(encoding="utf-8"))
    one = len({r["model"] for r in a}) == 1 and len({r["model"] for r in b}) == 1

    def key(r: dict[str, Any]) -> tuple[str, ...]:
        return (r["task"], r["metric"]) if one else (r["model"], r["task"], r["metric"])

    right = {key(r): r for r in b}
    rows = []
    for ra in a:
        rb = right.get(key(ra))
        if rb is None:
            continue
        sa, sb = ra.get("scores"), rb.get("scores")
        if sa and sb and len(sa) == len(sb):
            delta, low, high = paired_bootstrap(sa, sb, samples=samples, seed=seed)
        else:
            delta, low, high = rb["value"] - ra["value"], math.nan, math.nan
        rows.append({
            "task": ra["task"], "metric": ra["metric"], "dimension": ra.get("dimension", ""),
            "a": ra["value"], "b": rb["value"], "delta": delta, "ci_low": low, "ci_high": high,
        })  # fmt: skip
    return rows


def format_compare(rows: Sequence[dict[str, Any]]) -> str:
    """A plain-text table of :func:`compare`'s rows; ``!`` marks an interval that excludes 0."""
    out = [f"{'task':<14} {'metric':<20} {'a':>9} {'b':>9} {'delta':>9}  95% interval"]
    for r in rows:
        sure = not math.isnan(r["ci_low"]) and (r["ci_low"] > 0 or r["ci_high"] < 0)
        out.append(
            f"{r['task']:<14} {r['metric']:<20} {r['a']:>9.4g} {r['b']:>9.4g} {r['delta']:>+9.4g}"
            f"  [{r['ci_low']:+.4g}, {r['ci_high']:+.4g}]" + (" !" if sure else "")
        )
    return "\n".join(out)
