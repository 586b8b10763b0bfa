"""``sfttrain train | eval | export | generate | demo``.

::

    sfttrain train examples/lora.yaml                 # distributed: torchrun ... -m sfttrain.cli train x.yaml
    sfttrain eval runs/lora/final --heldout held.jsonl --choices mc.jsonl --generation qa.jsonl
    sfttrain export runs/lora/final runs/lora/export  # --no-merge keeps the adapter separate
    sfttrain generate runs/lora/export --prompt "Name a primary colour."
    sfttrain demo --out runs/demo                     # the whole path on examples/data
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
from sfttrain.config import ConfigError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sfttrain", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train from a YAML config")
    t.add_argument("config")
    t.add_argument("--detach", action="store_true", help="run in the background (log, pid file)")
    e = sub.add_parser("eval", help="held-out loss, multiple choice, generation metrics")
    e.add_argument("model", help="a saved model, export or adapter folder")
    e.add_argument("--heldout", help="chat rows JSONL (messages, or raw rows with --parser)")
    e.add_argument("--parser", help="sftdata.parse format of --heldout rows")
    e.add_argument("--choices", help="JSONL rows: question, choices, answer")
    e.add_argument("--generation", help="JSONL rows: question, answer")
    e.add_argument("--max-length", type=int, default=1024)
    e.add_argument("--batch-size", type=int, default=8)
    e.add_argument("--max-new-tokens", type=int, default=32)
    x = sub.add_parser("export", help="merge LoRA, save safetensors + tokenizer with chat_template")
    x.add_argument("source", help="a run's final/ folder")
    x.add_argument("out")
    x.add_argument("--no-merge", action="store_true", help="keep the LoRA adapter separate")
    g = sub.add_parser("generate", help="chat replies from a saved model or adapter")
    g.add_argument("model")
    g.add_argument("--prompt", action="append", default=[], help="a user message (repeatable)")
    g.add_argument("--system", help="a system message put before each prompt")
    g.add_argument("--max-new-tokens", type=int, default=64)
    g.add_argument("--batch-size", type=int, default=8)
    d = sub.add_parser("demo", help="parse -> clean -> dedup -> encode -> pack -> LoRA -> eval")
    d.add_argument("--out", default="runs/demo")
    d.add_argument("--data", default=None, help="folder of demo data (default: examples/data)")
    d.add_argument("--steps", type=int, default=30)
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
    except (ConfigError, SftDataError, FileNotFoundError) as e:
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
    elif args.command == "eval":
        from sfttrain._eval import evaluate

        results = evaluate(
            args.model,
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

        print(export(args.source, args.out, merge=not args.no_merge))
    elif args.command == "generate":
        from sfttrain._generate import generate

        if not args.prompt:
            raise SftDataError("generate: give at least one --prompt")
        head = [{"role": "system", "content": args.system}] if args.system else []
        convs = [[*head, {"role": "user", "content": p}] for p in args.prompt]
        replies = generate(
            args.model, convs, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size
        )
        for prompt, reply in zip(args.prompt, replies, strict=True):
            print(json.dumps({"prompt": prompt, "reply": reply}, ensure_ascii=False))
    else:
        from sfttrain._demo import demo

        demo(out_dir=args.out, data_dir=args.data, steps=args.steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
