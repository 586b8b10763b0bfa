"""``sfttrain train | eval | export | generate | demo``.

::

    sfttrain train examples/lora.yaml                 # distributed: torchrun ... -m sfttrain.cli train x.yaml
    sfttrain eval runs/lora/final --heldout held.jsonl --choices mc.jsonl --generation qa.jsonl
    sfttrain export runs/lora/final runs/lora/export  # --no-merge keeps the adapter separate
    sfttrain generate runs/lora/export --prompt "Name a primary colour."
    sfttrain demo --out runs/demo                     # the whole path on examples/data
    sfttrain demo --stage dpo --out runs/demo-dpo     # SFT, then DPO on examples/data/preference
    sfttrain score runs/rm/final --data pairs.jsonl   # a reward model's scores, one JSON line a row
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from sftdata import SftDataError
from sfttrain.config import ConfigError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sfttrain", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train from a YAML config")
    t.add_argument("config")
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
    d.add_argument("--stage", choices=["sft", "dpo"], default="sft", help="dpo: SFT, then DPO")
    r = sub.add_parser(
        "score", help="score rows (messages, or prompt/chosen/rejected) with a reward model"
    )
    r.add_argument("model", help="a reward model folder (stage: reward)")
    r.add_argument("--data", required=True, help="JSONL rows")
    r.add_argument("--max-length", type=int, default=1024)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (2 for a bad config or bad input)."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (ConfigError, SftDataError, FileNotFoundError) as e:
        print(f"sfttrain {args.command}: error: {e}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "train":
        from sfttrain._train import train
        from sfttrain.config import TrainConfig

        train(TrainConfig.from_yaml(args.config))
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


if __name__ == "__main__":
    sys.exit(main())
