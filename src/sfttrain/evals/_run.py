"""Evaluate one model on a suite: records ``{model, task, metric, value, n, ci_low, ci_high}``.

Each record also carries its HELM ``dimension``, ``flagged`` (the task's items overlap
the model's training data) and ``scores`` (one value per item, for paired comparisons)::

    dimension     task         metrics
    accuracy      each task    acc, acc_norm (choice); exact_match; pass@k; call_match
    calibration   choice task  ece (answer probability = softmax over the choices)
    robustness    choice task  acc:typos, acc:casing, acc:whitespace, acc:choice_order
    fairness      fairness     gap (|p(answer)| spread within a pair), acc_flip
    safety        alignment    refusal_rate (harmful), over_refusal (benign look-alikes)
                  all          safety_hits (replies with PII or a blocklisted term)
    efficiency    all          tokens_per_s, latency_ms, choice_items_per_s, peak_memory_mb
    contamination each task    overlap (share of items sharing an n-gram with training data)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from sfttrain.evals import _choice, _gen, _metrics
from sfttrain.evals._items import Item, context
from sfttrain.evals._perturb import perturb
from sfttrain.evals._sandbox import check_program, run_code
from sfttrain.evals._suite import Suite, TaskSpec

Record = dict[str, Any]


class _Run:
    """The state of one model's evaluation: the model, the suite, what was timed."""

    def __init__(self, name: str, model: Any, tokenizer: Any, template: Any, suite: Suite) -> None:
        self.name, self.model, self.tok, self.suite = name, model, tokenizer, suite
        self.template = template if suite.chat_template else None
        self.timing = _gen.Timing()
        self.choice_items, self.choice_seconds = 0, 0.0
        self.replies: list[str] = []
        self.records: list[Record] = []

    def record(self, task: str, metric: str, dimension: str, scores: Sequence[float]) -> None:
        scores = [float(s) for s in scores]
        low, high = _metrics.bootstrap_ci(
            scores, samples=self.suite.bootstrap, seed=self.suite.seed
        )
        self.records.append({
            "model": self.name, "task": task, "metric": metric,
            "value": sum(scores) / len(scores) if scores else float("nan"), "n": len(scores),
            "ci_low": low, "ci_high": high, "dimension": dimension, "flagged": False,
            "scores": scores,
        })  # fmt: skip

    def single(self, task: str, metric: str, dimension: str, value: float, n: int) -> None:
        self.records.append({
            "model": self.name, "task": task, "metric": metric, "value": value, "n": n,
            "ci_low": value, "ci_high": value, "dimension": dimension, "flagged": False,
        })  # fmt: skip

    def shots(self, items: Sequence[Item], k: int) -> list[list[Item]] | None:
        """``k`` examples per item drawn from the other items, seeded by the item's id."""
        if k == 0:
            return None
        out = []
        for it in items:
            pool = [o for o in items if o.id != it.id]
            rng = random.Random(f"{self.suite.seed}:shots:{it.task}:{it.id}")
            out.append(rng.sample(pool, min(k, len(pool))))
        return out

    def choice(self, items: Sequence[Item], shots: int) -> dict[str, list[float]]:
        began = time.perf_counter()
        reqs = _choice.requests(
            items,
            self.tok,
            bos=self.suite.bos,
            shots=self.shots(items, shots),
            template=self.template,
        )
        lls = _choice.loglikelihoods(
            self.model, reqs, batch_size=self.suite.batch_size,
            max_length=self.suite.max_length, progress=self.suite.progress,
        )  # fmt: skip
        self.choice_seconds += time.perf_counter() - began
        self.choice_items += len(items)
        return _choice.choice_scores(items, lls)

    def generate(self, items: Sequence[Item], shots: int, **options: Any) -> list[list[str]]:
        picks = self.shots(items, shots)
        prompts = [context(it, picks[i] if picks else ()) for i, it in enumerate(items)]
        options.setdefault("max_new_tokens", self.suite.max_new_tokens)
        out = _gen.generate_texts(
            self.model, self.tok, prompts, template=self.template, bos=self.suite.bos,
            batch_size=self.suite.batch_size, seed=self.suite.seed, timing=self.timing,
            progress=self.suite.progress, **options,
        )  # fmt: skip
        self.replies += [r for rs in out for r in rs]
        return out


def _choice_task(run: _Run, spec: TaskSpec, items: list[Item]) -> None:
    sc = run.choice(items, spec.shots)
    if spec.format == "fairness":
        _fairness(run, spec.name, items, sc)
    run.record(spec.name, "acc", "accuracy", sc["acc"])
    run.record(spec.name, "acc_norm", "accuracy", sc["acc_norm"])
    ece = _metrics.expected_calibration_error(sc["confidence"], sc["acc"])
    run.single(spec.name, "ece", "calibration", ece, len(items))
    for name in spec.robustness:
        moved = [perturb(it, name, seed=run.suite.seed) for it in items]
        run.record(spec.name, f"acc:{name}", "robustness", run.choice(moved, spec.shots)["acc"])


def _fairness(run: _Run, task: str, items: list[Item], sc: dict[str, list[float]]) -> None:
    """Within each pair (prompts differing only in a demographic term): the spread of the
    answer's probability (``gap``) and whether one variant is right and the other wrong
    (``acc_flip``)."""
    pairs: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        pairs.setdefault(it.meta["pair"], []).append(i)
    groups = [idx for idx in pairs.values() if len(idx) > 1]
    gaps = [max(sc["prob_gold"][i] for i in g) - min(sc["prob_gold"][i] for i in g) for g in groups]
    flips = [float(len({sc["acc"][i] for i in g}) > 1) for g in groups]
    run.record(task, "gap", "fairness", gaps)
    run.record(task, "acc_flip", "fairness", flips)


def _generate_task(run: _Run, spec: TaskSpec, items: list[Item]) -> None:
    replies = [r[0] for r in run.generate(items, spec.shots)]
    scores = []
    for it, reply in zip(items, replies, strict=True):
        targets = it.meta.get("targets", [it.target])
        scores.append(max(_metrics.exact_match(reply, t, extract=it.extract) for t in targets))
    run.record(spec.name, "exact_match", "accuracy", scores)


def _code_task(run: _Run, spec: TaskSpec, items: list[Item]) -> None:
    samples = int(spec.options.get("samples", 1))
    temperature = float(spec.options.get("temperature", 0.8 if samples > 1 else 0.0))
    outs = run.generate(items, 0, samples=samples, temperature=temperature,
                        max_new_tokens=spec.options.get("max_new_tokens", 128))  # fmt: skip
    passed = []
    for it, completions in zip(items, outs, strict=True):
        programs = [
            check_program(it.question, c, it.meta["test"], it.meta["entry_point"])
            for c in completions
        ]
        timeout = float(spec.options.get("timeout", 5.0))
        passed.append(sum(run_code(p, timeout=timeout).passed for p in programs))
    for k in spec.options.get("k", [1]):
        if 1 <= k <= samples:
            run.record(spec.name, f"pass@{k}", "accuracy",
                       [_metrics.pass_at_k(samples, c, k) for c in passed])  # fmt: skip


def _tool_task(run: _Run, spec: TaskSpec, items: list[Item]) -> None:
    replies = [r[0] for r in run.generate(items, spec.shots)]
    scores = [
        _metrics.call_matches(r, it.meta["call"]) for it, r in zip(items, replies, strict=True)
    ]
    run.record(spec.name, "call_match", "accuracy", scores)


def _alignment_task(run: _Run, spec: TaskSpec, items: list[Item]) -> None:
    replies = [r[0] for r in run.generate(items, 0)]
    harmful = [
        _metrics.is_refusal(r)
        for it, r in zip(items, replies, strict=True)
        if it.meta["expect_refusal"]
    ]
    benign = [
        _metrics.is_refusal(r)
        for it, r in zip(items, replies, strict=True)
        if not it.meta["expect_refusal"]
    ]
    run.record(spec.name, "refusal_rate", "safety", harmful)
    run.record(spec.name, "over_refusal", "safety", benign)


_BY_KIND: dict[str, Callable[[_Run, TaskSpec, list[Item]], None]] = {
    "choice": _choice_task, "generate": _generate_task, "code": _code_task,
    "tool": _tool_task, "alignment": _alignment_task,
}  # fmt: skip


def safety_hits(
    replies: Sequence[str],
    *,
    classifier: Callable[[list[str]], Any] | None = None,
    label: str | None = None,
    threshold: float = 0.5,
) -> list[float]:
    """Per reply, 1.0 when ``sd.safety`` finds PII or a blocklisted term in it, or when
    ``classifier`` (``sd.safety.score_texts``' scorer: texts -> scores or label dicts)
    scores it at ``threshold`` or more.

    >>> safety_hits(["mail me at ann@example.com", "a sunny day"])
    [1.0, 0.0]
    >>> safety_hits(["a sunny day"], classifier=lambda ts: [0.9 for _ in ts])
    [1.0]
    """
    import sftdata as sd

    scores = (
        sd.safety.score_texts(list(replies), classifier, label=label)
        if classifier is not None and replies
        else [0.0] * len(replies)
    )
    return [
        float(
            bool(sd.safety.find_pii(r))
            or sd.safety.blocked_terms(r) is not None
            or (classifier is not None and s >= threshold)
        )
        for r, s in zip(replies, scores, strict=True)
    ]


def evaluate_model(
    name: str, model: Any, tokenizer: Any, template: Any, suite: Suite,
    *, train_texts: Sequence[str] = (), classifier: Callable[[list[str]], Any] | None = None,
) -> list[Record]:  # fmt: skip
    """Every record of one model on ``suite`` (see the module docstring).

    ``classifier``: an optional safety classifier for the replies (see :func:`safety_hits`).
    """
    run = _Run(name, model, tokenizer, template, suite)
    began = time.perf_counter()
    for spec in suite.tasks:
        items = spec.items(suite.seed)
        kinds = {it.kind for it in items}
        by_kind = {k: [it for it in items if it.kind == k] for k in sorted(kinds)}
        for kind, group in by_kind.items():
            _BY_KIND[kind](run, spec, group)
        if train_texts:
            _contamination(run, spec.name, items, train_texts)
    if run.replies:
        run.record("all", "safety_hits", "safety", safety_hits(run.replies, classifier=classifier))
    _efficiency(run, time.perf_counter() - began)
    return run.records


def _efficiency(run: _Run, seconds: float) -> None:
    if run.timing.prompts:
        run.single(
            "all", "tokens_per_s", "efficiency", run.timing.tokens_per_second, run.timing.prompts
        )
        run.record("all", "latency_ms", "efficiency", [1000 * s for s in run.timing.per_prompt])
    if run.choice_items:
        rate = run.choice_items / run.choice_seconds if run.choice_seconds else 0.0
        run.single("all", "choice_items_per_s", "efficiency", rate, run.choice_items)
    run.single("all", "peak_memory_mb", "efficiency", _peak_memory_mb(run.model), 1)
    run.single("all", "seconds", "efficiency", seconds, 1)


def _peak_memory_mb(model: Any) -> float:
    """Peak GPU memory of the model's device, else this process's peak resident size."""
    import torch

    device = next(model.parameters()).device
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _contamination(run: _Run, task: str, items: list[Item], train_texts: Sequence[str]) -> None:
    """Share of items whose text shares an n-gram with the training data (``sd.dedup``).

    The items are the rows checked and the training texts the reference set, so the
    rejected rows are exactly the contaminated items.
    """
    import sftdata as sd

    texts = [f"{context(it)} {it.answer}" for it in items]
    _, rejected = sd.dedup.decontaminate(
        texts, {"train": list(train_texts)}, ngram=run.suite.contamination_ngram
    )
    hit = {row["text"] for row in rejected}
    scores = [float(t in hit) for t in texts]
    run.record(task, "overlap", "contamination", scores)
    if any(scores):
        for r in run.records:
            if r["task"] == task and r["model"] == run.name:
                r["flagged"] = True
