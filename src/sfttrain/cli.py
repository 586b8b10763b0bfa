"""``sfttrain train | eval | export | generate | serve | demo``.

::

    sfttrain train examples/lora.yaml                 # distributed: torchrun ... -m sfttrain.cli train x.yaml
    sfttrain eval runs/lora/final --heldout held.jsonl --choices mc.jsonl --generation qa.jsonl
    sfttrain eval runs/base runs/lora/export --suite examples/evals/suite.yaml --out runs/matrix
    sfttrain eval --compare runs/a/matrix.json runs/b/matrix.json
    sfttrain eval --write-lm-eval-tasks tasks/ --tasks mmlu.jsonl boolq=yes_no.jsonl
    sfttrain eval runs/lora/export --lm-eval sft_mmlu --include-path tasks/
    sfttrain export runs/lora/final runs/lora/export  # --no-merge keeps the adapter separate
    sfttrain generate runs/lora/export --prompt "Name a primary colour."
    sfttrain demo --out runs/demo                     # the whole path on examples/data
    sfttrain export runs/lora/final out --format gguf --gguf-type q8_0   # or bnb4 / bnb8
    sfttrain serve runs/lora/export --port 8000       # OpenAI-compatible API on 127.0.0.1
    sfttrain demo --stage dpo --out runs/demo-dpo     # SFT, then DPO on examples/data/preference
    sfttrain score runs/rm/final --data pairs.jsonl   # a reward model's scores, one JSON line a row
    sfttrain sweep examples/sweeps/data_ablation.yaml [--parallel 2] [--detach]
    sfttrain sweep report runs/sweeps/data_ablation    # report.md, results.csv, plots/
    sfttrain status runs/tiny-cpu                     # step, ETA, last metrics, alive?
    sfttrain plan examples/lora.yaml --gpu-memory 80GB [--gpus 8]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from sftdata import SftDataError
from sfttrain._cli_infer import add_decode_args, add_serve_parser, decode_options, run_serve
from sfttrain._export import EXPORT_FORMATS
from sfttrain._gguf import GGUF_TYPES
from sfttrain.config import ConfigError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sfttrain", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train from a YAML config")
    t.add_argument("config")
    t.add_argument("--detach", action="store_true", help="run in the background (log, pid file)")
    e = sub.add_parser("eval", help="held-out loss, multiple choice, generation metrics")
    e.add_argument("model", nargs="*", help="saved model, export or adapter folders")
    e.add_argument("--heldout", help="chat rows JSONL (messages, or raw rows with --parser)")
    e.add_argument("--parser", help="sftdata.parse format of --heldout rows")
    e.add_argument("--choices", help="JSONL rows: question, choices, answer")
    e.add_argument("--generation", help="JSONL rows: question, answer")
    e.add_argument("--max-length", type=int, default=1024)
    e.add_argument("--batch-size", type=int, default=8)
    e.add_argument("--max-new-tokens", type=int, default=32)
    # --- evaluation suites, lm-eval, the matrix (sfttrain.evals) ---
    e.add_argument("--suite", help="suite YAML: evaluate every MODEL, write the matrix to --out")
    e.add_argument("--out", help="folder for matrix.json, matrix.md, heatmap.png")
    e.add_argument("--lm-eval", dest="lm_eval", help="comma-separated lm-eval task names")
    e.add_argument("--include-path", help="folder of extra lm-eval task YAMLs")
    e.add_argument("--bos", action="store_true", help="lm-eval: add_bos_token=True")
    e.add_argument("--limit", type=int, help="lm-eval: at most this many items per task")
    e.add_argument("--write-lm-eval-tasks", metavar="DIR", help="write lm-eval task YAMLs")
    e.add_argument("--tasks", nargs="+", default=[], help="task files: FILE or FORMAT=FILE")
    e.add_argument("--compare", nargs=2, metavar=("A", "B"), help="two matrix.json files")
    x = sub.add_parser("export", help="merge LoRA, save safetensors + tokenizer with chat_template")
    x.add_argument("source", help="a run's final/ folder")
    x.add_argument("out")
    x.add_argument("--no-merge", action="store_true", help="keep the LoRA adapter separate")
    # -- inference & deployment (issue 14) --
    x.add_argument("--format", choices=EXPORT_FORMATS, default="safetensors")
    x.add_argument("--gguf-type", choices=GGUF_TYPES, default="f16", help="with --format gguf")
    g = sub.add_parser("generate", help="chat replies from a saved model or adapter")
    g.add_argument("model")
    g.add_argument("--prompt", action="append", default=[], help="a user message (repeatable)")
    g.add_argument("--system", help="a system message put before each prompt")
    g.add_argument("--max-new-tokens", type=int, default=64)
    g.add_argument("--batch-size", type=int, default=8)
    add_decode_args(g)  # -- inference & deployment (issue 14) --
    add_serve_parser(sub)
    d = sub.add_parser("demo", help="parse -> clean -> dedup -> encode -> pack -> LoRA -> eval")
    d.add_argument("--out", default="runs/demo")
    d.add_argument("--data", default=None, help="folder of demo data (default: examples/data)")
    d.add_argument("--steps", type=int, default=30)
    d.add_argument("--stage", choices=["sft", "dpo"], default="sft", help="dpo: SFT, then DPO")
    r = sub.add_parser(
        "score", help="score rows (messages, or prompt/chosen/rejected) with a reward model"
    )
    r.add_argument("model", help="a reward model folder (stage: reward)")
    r.add_argument("--data", required=True, help="JSONL rows")
    r.add_argument("--max-length", type=int, default=1024)
    _add_job_commands(sub)
    return p


def _add_job_commands(sub: Any) -> None:
    s = sub.add_parser("sweep", help="train a grid of variants x seeds; `sweep report SWEEP`")
    s.add_argument("target", nargs="+", help="SWEEP.yaml, or: report SWEEP_DIR")
    s.add_argument("--parallel", type=int, default=None, help="runs at once (processes)")
    s.add_argument("--out", default=None, help="the sweep folder (default: `out:` in the YAML)")
    s.add_argument("--baseline", action="append", default=[], help="report: KEY=VALUE (YAML)")
    s.add_argument("--detach", action="store_true", help="run in the background (log, pid file)")
    st = sub.add_parser("status", help="a run's or sweep's progress, ETA, last metrics, alive?")
    st.add_argument("folder")
    st.add_argument("--json", action="store_true")
    pl = sub.add_parser("plan", help="estimate training memory and whether it fits")
    pl.add_argument("config")
    pl.add_argument("--gpu-memory", default="80GB", help="per-device memory, e.g. 24GB, 80GB")
    pl.add_argument("--gpus", type=int, default=1)
    pl.add_argument("--zero", type=int, choices=(0, 1, 2, 3), default=None,
                    help="ZeRO stage (default: from the config's deepspeed file)")  # fmt: skip
    pl.add_argument("--shape", default=None, help="a Llama shape preset when the model is not here")
    pl.add_argument("--json", action="store_true")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (2 for a bad config or bad input)."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (ConfigError, SftDataError, FileNotFoundError, ValueError) as e:
        print(f"sfttrain {args.command}: error: {e}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command in ("sweep", "status", "plan"):
        from sfttrain._cli_jobs import run_job_command

        return run_job_command(args)
    if args.command == "train":
        from sfttrain._train import train
        from sfttrain.config import TrainConfig

        cfg = TrainConfig.from_yaml(args.config)
        if args.detach:
            from sfttrain._jobs import detach

            detach(["train", args.config], cfg.output_dir)
            return 0
        train(cfg)
    elif args.command == "eval" and _evals(args):
        pass
    elif args.command == "eval":
        from sfttrain._eval import evaluate

        if len(args.model) != 1:
            raise SftDataError("eval: give one model folder (or --suite for several)")
        results = evaluate(
            args.model[0],
            heldout=args.heldout,
            choices=args.choices,
            generation=args.generation,
            parser=args.parser,
            max_length=args.max_length,
            batch_size=args.batch_size,
            max_new_tokens=args.max_new_tokens,
        )
        print(json.dumps(results, indent=2))
    elif args.command == "export":
        from sfttrain._export import export

        print(
            export(
                args.source,
                args.out,
                merge=not args.no_merge,
                format=args.format,
                gguf_type=args.gguf_type,
            )
        )
    elif args.command == "generate":
        from sfttrain._generate import generate

        if not args.prompt:
            raise SftDataError("generate: give at least one --prompt")
        head = [{"role": "system", "content": args.system}] if args.system else []
        convs = [[*head, {"role": "user", "content": p}] for p in args.prompt]
        replies = generate(
            args.model,
            convs,
            max_new_tokens=args.max_new_tokens,
            batch_size=args.batch_size,
            options=decode_options(args),
        )
        for prompt, reply in zip(args.prompt, replies, strict=True):
            print(json.dumps({"prompt": prompt, "reply": reply}, ensure_ascii=False))
    elif args.command == "serve":
        return run_serve(args)
    elif args.command == "score":
        from sfttrain._reward import score_rows

        for row in score_rows(args.model, args.data, max_length=args.max_length):
            print(json.dumps(row, ensure_ascii=False, default=str))
    elif args.stage == "dpo":
        from sfttrain._demo_dpo import demo_dpo

        demo_dpo(out_dir=args.out, data_dir=args.data, steps=args.steps)
    else:
        from sfttrain._demo import demo

        demo(out_dir=args.out, data_dir=args.data, steps=args.steps)
    return 0


def _evals(args: argparse.Namespace) -> bool:
    """``sfttrain eval`` with --suite / --lm-eval / --write-lm-eval-tasks / --compare."""
    from sfttrain import evals

    if args.compare:
        print(evals.format_compare(evals.compare(*args.compare)))
    elif args.write_lm_eval_tasks:
        if not args.tasks:
            raise SftDataError("eval --write-lm-eval-tasks: give the task files with --tasks")
        names = evals.write_lm_eval_tasks(args.write_lm_eval_tasks, args.tasks)
        print("\n".join(names))
    elif args.lm_eval:
        if len(args.model) != 1:
            raise SftDataError("eval --lm-eval: give one model folder")
        tasks = [t for t in args.lm_eval.split(",") if t]
        results = evals.run_lm_eval(
            args.model[0], tasks, include_path=args.include_path, batch_size=args.batch_size,
            bos=args.bos, limit=args.limit,
        )  # fmt: skip
        print(json.dumps(results, indent=2, default=str))
    elif args.suite:
        if not args.model or not args.out:
            raise SftDataError("eval --suite: give one or more model folders and --out DIR")
        evals.run_suite(args.model, args.suite, args.out)
        print(f"{args.out}/matrix.json, matrix.md, heatmap.png")
    else:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
