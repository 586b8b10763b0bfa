"""Trained tokens/s of sfttrain: packing vs padding, and against a plain Trainer baseline.

    python benchmarks/train.py [--rows 96] [--max-length 512] [--batch-size 4] [--repeats 2]

One process, one tiny Llama built from a config (real 32k sentencepiece vocabulary),
full fine-tuning for exactly one epoch over the same encoded chats, whose reply lengths
follow a long-tailed (log-normal) mix as real chat data does:

* ``plain``:   ``transformers.Trainer`` + ``DataCollatorForLanguageModeling(mlm=False)``
               on the encoded rows (the baseline: no label masks, no metrics);
* ``padding``: ``sfttrain.train`` with ``packing: false`` (sftdata's collator, right
               padding, our token meter and logs) at the same batch size and seed, so
               the batches hold the same rows as ``plain``;
* ``packing``: ``sfttrain.train`` with ``packing: true`` (``sd.pack`` to ``max_length``).

Tokens/s counts real (non-pad) tokens: every run sees every token once, so it is
``total tokens / train seconds``. ``overhead`` = ``plain`` rate / ``padding`` rate - 1.
An untimed warm-up run comes first; each configuration then runs ``--repeats`` times,
in a rotated order, and its fastest run counts.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any

WORDS = [
    "the",
    "a",
    "river",
    "stone",
    "light",
    "garden",
    "number",
    "answer",
    "question",
    "small",
    "large",
    "quick",
    "slow",
    "green",
    "blue",
    "window",
    "table",
    "paper",
    "music",
    "city",
    "road",
    "winter",
    "summer",
    "morning",
    "evening",
    "friend",
    "story",
    "plan",
    "model",
    "data",
    "train",
    "test",
    "value",
    "point",
    "line",
    "field",
    "market",
    "bridge",
    "island",
]


def chats(n: int, seed: int) -> list[list[dict[str, str]]]:
    """Synthetic chats: short questions, replies of log-normal length (median ~33 words)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        q = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 16)))
        k = max(3, min(400, int(rng.lognormvariate(3.5, 1.0))))
        a = " ".join(rng.choice(WORDS) for _ in range(k))
        out.append([{"role": "user", "content": q}, {"role": "assistant", "content": a}])
    return out


class Clock:
    """Wall and process CPU seconds between on_train_begin and on_train_end.

    CPU seconds (all threads of this process) move less than wall seconds when other
    jobs share the machine, so both are reported.
    """

    def __init__(self) -> None:
        from transformers import TrainerCallback

        clock = self

        class _Callback(TrainerCallback):
            def on_train_begin(self, *a: Any, **k: Any) -> None:
                clock.wall, clock.cpu = time.perf_counter(), time.process_time()

            def on_train_end(self, *a: Any, **k: Any) -> None:
                clock.wall = time.perf_counter() - clock.wall
                clock.cpu = time.process_time() - clock.cpu

        self.callback = _Callback()
        self.wall = self.cpu = 0.0


def encoded(tokenizer: Any, n: int, max_length: int) -> Any:
    import datasets

    import sftdata as sd

    ds = datasets.Dataset.from_dict({"messages": chats(n, seed=0)})
    step = sd.Encode(tokenizer, "llama2", max_length=max_length, truncation="truncate")
    out = ds.map(step, batched=True, remove_columns=["messages"])
    kept, _ = sd.split_rejects(out)
    return kept.select_columns(["input_ids", "labels", "attention_mask"])


def config(model: Path, out: Path, args: argparse.Namespace, *, packing: bool) -> Any:
    from sfttrain import TrainConfig

    return TrainConfig.from_dict(
        {
            "model": str(model),
            "train_files": ["unused.jsonl"],
            "output_dir": str(out),
            "template": "llama2",
            "method": "full",
            "packing": packing,
            "max_length": args.max_length,
            "epochs": 1.0,
            "batch_size": args.batch_size,
            "learning_rate": 1e-4,
            "logging_steps": 10,
            "trackers": ["jsonl"],
            "progress_bar": False,
            "resume": "never",
        }
    )


def run_ours(model: Path, rows: Any, args: argparse.Namespace, *, packing: bool) -> Clock:
    from sfttrain import Prepared, train
    from sfttrain._data import pack_rows

    data = pack_rows(rows, args.max_length)[0] if packing else rows
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config(model, Path(tmp), args, packing=packing)
        train(cfg, prepared=Prepared(data, None), callbacks=[clock.callback])
    return clock


def run_plain(model: Path, rows: Any, tokenizer: Any, args: argparse.Namespace) -> Clock:
    import torch
    from transformers import (
        AutoModelForCausalLM,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    set_seed(0)
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        targs = TrainingArguments(
            output_dir=tmp, per_device_train_batch_size=args.batch_size, num_train_epochs=1.0,
            learning_rate=1e-4, logging_steps=10, report_to=["none"], disable_tqdm=True,
            save_strategy="no", seed=0, data_seed=0, use_cpu=not torch.cuda.is_available(),
            lr_scheduler_type="cosine", optim="adamw_torch",
        )  # fmt: skip
        trainer = Trainer(
            model=AutoModelForCausalLM.from_pretrained(str(model), dtype=torch.float32),
            args=targs,
            train_dataset=rows.select_columns(["input_ids"]),
            data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False),
            callbacks=[clock.callback],
        )
        trainer.train()
        return clock


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=96)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()

    import mistral_common

    import sfttrain

    sp = Path(mistral_common.__file__).parent / "data" / "tokenizer.model.v1"
    with tempfile.TemporaryDirectory() as tmp:
        model = sfttrain.tiny_llama(Path(tmp) / "tiny", tokenizer_path=sp)
        tokenizer = sfttrain.load_tokenizer(model)
        rows = encoded(tokenizer, args.rows, args.max_length)
        tokens = sum(len(x) for x in rows["input_ids"])
        runs = {
            "plain": lambda: run_plain(model, rows, tokenizer, args),
            "padding": lambda: run_ours(model, rows, args, packing=False),
            "packing": lambda: run_ours(model, rows, args, packing=True),
        }
        run_plain(model, rows.select(range(min(8, len(rows)))), tokenizer, args)  # warm-up
        wall: dict[str, float] = {}
        cpu: dict[str, float] = {}
        names = list(runs)
        for r in range(args.repeats):
            for name in names[r % 3 :] + names[: r % 3]:  # rotate the order between repeats
                clock = runs[name]()
                wall[name] = min(clock.wall, wall.get(name, float("inf")))
                cpu[name] = min(clock.cpu, cpu.get(name, float("inf")))
    report(len(rows), tokens, args, wall, cpu)


def report(
    n: int, tokens: int, args: argparse.Namespace, wall: dict[str, float], cpu: dict[str, float]
) -> None:
    print(f"\n{n} chats, {tokens} tokens, batch {args.batch_size}, max_length {args.max_length}")
    print(f"{'run':<8} {'wall s':>8} {'tokens/s':>10} {'cpu s':>8} {'tokens/cpu-s':>13}")
    for name in ("plain", "padding", "packing"):
        print(
            f"{name:<8} {wall[name]:8.2f} {tokens / wall[name]:10.1f} "
            f"{cpu[name]:8.2f} {tokens / cpu[name]:13.1f}"
        )
    for label, t in (("wall", wall), ("cpu", cpu)):
        print(
            f"[{label}] packing / padding speed-up {t['padding'] / t['packing']:.2f}x (target >= 1.5x); "
            f"overhead vs plain Trainer {t['padding'] / t['plain'] - 1:+.1%} (target <= 5%)"
        )


if __name__ == "__main__":
    main()
