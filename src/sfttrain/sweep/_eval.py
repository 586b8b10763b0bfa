"""A sweep run's evaluation: held-out loss (kept per row for paired bootstraps), the
optional multiple-choice / generation files, and a hook for an evaluation suite.

The hook: a sweep with ``suite: <anything>`` calls the registered suite runner
``fn(final_dir, suite, run_dir) -> {metric: value}`` after each run and merges its
metrics into the run's record. Register one with :func:`register_suite_runner`; when
none is registered, ``sfttrain.evals.sweep_metrics`` is used if that module provides
it. A sweep naming a ``suite`` with no runner available is refused before any work.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sfttrain.config import ConfigError

SuiteRunner = Callable[[Path, Any, Path], dict[str, float]]
_SUITE_RUNNERS: list[SuiteRunner] = []


def register_suite_runner(fn: SuiteRunner) -> SuiteRunner:
    """Use ``fn(final_dir, suite, run_dir)`` for sweeps that set ``suite:`` (last one wins)."""
    _SUITE_RUNNERS.append(fn)
    return fn


def suite_runner() -> SuiteRunner | None:
    """The registered suite runner, else ``sfttrain.evals.sweep_metrics``, else ``None``."""
    if _SUITE_RUNNERS:
        return _SUITE_RUNNERS[-1]
    try:
        module = importlib.import_module("sfttrain.evals")
    except ImportError:
        return None
    fn = getattr(module, "sweep_metrics", None)
    return fn if callable(fn) else None


def check_eval(eval_spec: dict[str, Any], suite: Any) -> None:
    """Refuse, before any work, a sweep that evaluates nothing or names an unusable suite."""
    if suite is not None and suite_runner() is None:
        raise ConfigError(
            "suite: no evaluation suite runner is available (register one with "
            "sfttrain.sweep.register_suite_runner, or install a build with sfttrain.evals)"
        )
    if suite is None and not any(k in eval_spec for k in ("heldout", "choices", "generation")):
        raise ConfigError("eval: give at least a heldout file (eval: {heldout: path.jsonl})")


def evaluate_run(
    final_dir: Path, run_dir: Path, eval_spec: dict[str, Any], suite: Any
) -> tuple[dict[str, float], list[list[float]]]:
    """Metrics of a trained run, and per held-out row ``[sum of log-probs, tokens]``."""
    metrics: dict[str, float] = {}
    items: list[list[float]] = []
    max_length = int(eval_spec.get("max_length", 1024))
    batch_size = int(eval_spec.get("batch_size", 8))
    if "heldout" in eval_spec:
        scores = heldout_scores(
            final_dir, eval_spec["heldout"], eval_spec.get("parser"), max_length, batch_size
        )
        tokens = sum(n for _, n in scores)
        loss = -sum(s for s, _ in scores) / max(tokens, 1)
        metrics.update(heldout_loss=loss, heldout_tokens=float(tokens))
        items = [[s, float(n)] for s, n in scores]
    if "choices" in eval_spec or "generation" in eval_spec:
        from sfttrain._eval import evaluate

        extra = evaluate(
            final_dir,
            choices=eval_spec.get("choices"),
            generation=eval_spec.get("generation"),
            max_length=max_length,
            batch_size=batch_size,
        )
        for kind, values in extra.items():
            metrics.update({f"{kind}_{k}": float(v) for k, v in values.items() if k != "n"})
    if suite is not None:
        runner = suite_runner()
        assert runner is not None  # checked before the sweep started
        metrics.update({k: float(v) for k, v in runner(final_dir, suite, run_dir).items()})
    return metrics, items


def heldout_scores(
    final_dir: Path, path: str, parser: str | None, max_length: int, batch_size: int
) -> list[tuple[float, int]]:
    """Per held-out row: summed log-probability of its trained tokens and their count."""
    import sftdata as sd
    from sfttrain._data import parse_file
    from sfttrain._eval import label_logprobs
    from sfttrain._generate import load_for_inference

    model, tokenizer, template = load_for_inference(final_dir)
    kept, _ = sd.split_rejects(parse_file(path, parser))
    encoded, _ = sd.split_rejects(
        sd.apply(kept, sd.Encode(tokenizer, template, max_length=max_length))
    )
    return label_logprobs(
        model, encoded.to_list(), pad_token_id=tokenizer.pad_token_id, batch_size=batch_size
    )
