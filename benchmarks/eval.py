"""Multiple-choice scoring speed: ``sfttrain.evals`` against lm-evaluation-harness.

    python benchmarks/eval.py [--items 200] [--batch 8] [--hidden 64] [--layers 2] [--suite]
                              [--sets letters,texts]

Same model (a randomly initialised Llama built from a config, the real 32k LLaMA
sentencepiece vocabulary), same items, same batch size, same process, CPU:

* ``letters``: ``--items`` synthetic MMLU-format questions (4 options, scored as
  `` A`` .. `` D``: one-token continuations);
* ``texts``: the same questions with the option texts themselves scored (multi-token
  continuations, as in ARC / HellaSwag-style tasks).

Contenders:

* ``ours``: ``evals.requests`` + ``evals.loglikelihoods`` (one packed forward pass per
  item, output layer only on scored rows) + ``evals.choice_scores``;
* ``lm-eval``: ``HFLM(pretrained=model, tokenizer=tok).loglikelihood`` on the same
  (context, continuation) requests (its one-token-continuation cache on, as by default),
  then the same argmax. ``lm-eval e2e`` adds ``simple_evaluate`` on the written task
  YAML (task building and metrics included; local tasks only, its task index skipped).

Both score with the same BOS setting (none) and are checked to pick the same answers.
``--suite`` also times ``examples/evals/suite.yaml`` on the model.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import mistral_common

from sfttrain import evals, load_tokenizer, tiny_llama

WORDS = [
    "river",
    "mill",
    "town",
    "apple",
    "market",
    "morning",
    "rain",
    "hill",
    "bell",
    "noon",
    "library",
    "map",
    "coast",
    "drawer",
    "window",
    "child",
    "fountain",
    "shadow",
    "baker",
    "bread",
    "street",
    "planet",
    "ocean",
    "engine",
    "bridge",
    "mayor",
    "nurse",
    "patient",
    "teacher",
    "student",
    "prize",
    "maths",
    "tenant",
    "rent",
    "driver",
    "light",
]


def _items(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        q = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(12, 40))) + "?"
        choices = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randrange(2, 8))) for _ in range(4)
        ]
        rows.append(
            {"question": q, "choices": choices, "answer": rng.randrange(4), "subject": "misc"}
        )
    return rows


def _ours(model: Any, tok: Any, items: list[Any], batch: int) -> tuple[float, list[int]]:
    began = time.perf_counter()
    lls = evals.loglikelihoods(model, evals.requests(items, tok, bos=False), batch_size=batch)
    evals.choice_scores(items, lls)
    spent = time.perf_counter() - began
    return spent, [max(range(len(x)), key=lambda j: (x[j], -j)) for x in lls]


def _lm_eval(model: Any, tok: Any, items: list[Any], batch: int) -> tuple[float, list[int]]:
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=model, tokenizer=tok, batch_size=batch)
    reqs, owners = [], []
    for i, it in enumerate(items):
        ctx = evals.context(it)
        for j, c in enumerate(it.choices):
            reqs.append(Instance("loglikelihood", {}, (ctx, it.delimiter + c), j))
            owners.append(i)
    began = time.perf_counter()
    out = lm.loglikelihood(reqs, disable_tqdm=True)
    lls: list[list[float]] = [[] for _ in items]
    for i, (ll, _) in zip(owners, out, strict=True):
        lls[i].append(ll)
    evals.choice_scores(items, lls)
    spent = time.perf_counter() - began
    return spent, [max(range(len(x)), key=lambda j: (x[j], -j)) for x in lls]


def _lm_eval_e2e(model: Any, tok: Any, path: Path, fmt: str, batch: int, work: Path) -> float:
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    (name,) = evals.write_lm_eval_tasks(work / fmt, [f"{fmt}={path}"])
    lm = HFLM(pretrained=model, tokenizer=tok, batch_size=batch)
    began = time.perf_counter()
    lm_eval.simple_evaluate(
        model=lm, tasks=[name], batch_size=batch, verbosity="ERROR",
        task_manager=TaskManager(include_path=str(work / fmt), include_defaults=False),
    )  # fmt: skip
    return time.perf_counter() - began


def _ours_e2e(model: Any, tok: Any, path: Path, fmt: str, batch: int) -> float:
    began = time.perf_counter()
    items = evals.load_task(path, fmt)
    evals.choice_scores(
        items, evals.loglikelihoods(model, evals.requests(items, tok, bos=False), batch_size=batch)
    )
    return time.perf_counter() - began


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--suite", action="store_true")
    ap.add_argument("--sets", default="letters,texts", help="which of letters,texts to time")
    args = ap.parse_args()
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(max(1, torch.get_num_threads()))
    work = Path(tempfile.mkdtemp())
    sp = Path(mistral_common.__file__).parent / "data" / "tokenizer.model.v1"
    d = tiny_llama(
        work / "model", tokenizer_path=sp, hidden_size=args.hidden, num_layers=args.layers
    )
    tok, model = load_tokenizer(d), AutoModelForCausalLM.from_pretrained(str(d))
    rows = _items(args.items, 0)
    files = {"mmlu": work / "letters.jsonl", "mc": work / "texts.jsonl"}
    for path in files.values():
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(
        f"model hidden {args.hidden}, {args.layers} layers, vocab {len(tok)}; {args.items} items, batch {args.batch}"
    )
    print(
        f"{'set':<8} {'ours it/s':>10} {'lm-eval it/s':>13} {'ratio':>6}   {'ours e2e':>9} {'lm-eval e2e':>12} {'ratio':>6}"
    )
    for name, fmt in (("letters", "mmlu"), ("texts", "mc")):
        if name not in args.sets.split(","):
            continue
        items = evals.load_task(files[fmt], fmt)
        _ours(model, tok, items[:8], args.batch)  # warm up both
        _lm_eval(model, tok, items[:8], args.batch)
        t_ours, p_ours = _ours(model, tok, items, args.batch)
        t_peer, p_peer = _lm_eval(model, tok, items, args.batch)
        same = sum(a == b for a, b in zip(p_ours, p_peer, strict=True))
        e_ours = _ours_e2e(model, tok, files[fmt], fmt, args.batch)
        e_peer = _lm_eval_e2e(model, tok, files[fmt], fmt, args.batch, work)
        n = len(items)
        print(
            f"{name:<8} {n / t_ours:>10.1f} {n / t_peer:>13.1f} {t_peer / t_ours:>5.2f}x"
            f"   {e_ours:>8.2f}s {e_peer:>11.2f}s {e_peer / e_ours:>5.2f}x   same picks {same}/{n}"
        )
    if args.suite:
        from sfttrain.evals import run_suite

        began = time.perf_counter()
        run_suite(
            [d], Path(__file__).parents[1] / "examples" / "evals" / "suite.yaml", work / "matrix"
        )
        print(
            f"demo suite (examples/evals/suite.yaml) on this model: {time.perf_counter() - began:.1f}s"
        )


if __name__ == "__main__":
    main()
