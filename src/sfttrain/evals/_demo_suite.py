"""The matrix at the end of ``sfttrain demo``: the base model against the fine-tuned one.

Both are asked in the training template (the base model has none of its own, so
``llama2`` is given), on the demo's multiple-choice questions with two perturbations,
a few alignment prompts and the fairness pairs; the demo's chat files are the training
data the contamination column checks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sfttrain.evals._matrix import run_suite
from sfttrain.evals._suite import BUILTIN, Suite, TaskSpec


def demo_matrix(
    base: Path, tuned: Path, data: Path, out: Path, echo: Callable[[str], None]
) -> list[dict[str, Any]]:
    """Evaluate ``base`` and ``tuned``; write ``out/matrix.*`` and echo the headline rows."""
    suite = Suite(
        tasks=(
            TaskSpec(
                "demo_mc", "mc", data / "eval_choices.jsonl", robustness=("casing", "choice_order")
            ),
            TaskSpec("alignment", "alignment", BUILTIN / "alignment.jsonl", limit=4),
            TaskSpec("fairness", "fairness", BUILTIN / "fairness.jsonl", limit=6),
        ),
        chat_template=True,
        template="llama2",
        max_new_tokens=12,
        max_length=512,
        bootstrap=200,
        progress=False,
        train_data=tuple(sorted(data.glob("chat_*.jsonl"))),
    )
    records = run_suite([base, tuned], suite, out)
    by = {(r["model"], r["task"], r["metric"]): r for r in records}
    shown = [("demo_mc", "acc"), ("demo_mc", "acc:choice_order"), ("demo_mc", "overlap"),
             ("demo_mc", "ece"), ("fairness", "gap"), ("alignment", "refusal_rate")]  # fmt: skip
    for task, metric in shown:
        a, b = by.get((str(base), task, metric)), by.get((str(tuned), task, metric))
        if a and b:
            flag = " (flagged: in the training data)" if b.get("flagged") else ""
            echo(
                f"{'matrix':<10} {task} {metric}: base {a['value']:.2f} -> tuned {b['value']:.2f}{flag}"
            )
    echo(f"{'matrix':<10} {out / 'matrix.md'}, {out / 'heatmap.png'}")
    return records
