"""DPO step time: reference log-probs precomputed once vs computed on the fly; GRPO reward.

    python benchmarks/preference_train.py [--steps 10] [--hidden 128] [--batch-size 8]
    python benchmarks/preference_train.py --grpo [--grpo-steps 12]

One process, one tiny Llama built from a config (real 32k sentencepiece vocabulary),
the shipped demo pairs (``examples/data/preference/pairs.jsonl``) encoded by
``sd.EncodePreference`` (llama2 template). For each method (``full``: the reference is
a frozen copy; ``lora``: the adapter-disabled base) ``sfttrain.train`` runs
``--steps`` DPO steps twice, with ``precompute_ref`` off and on; reported per
configuration: seconds per step (the trainer's own runtime / steps, precompute pass
excluded), the one-off precompute pass, and the on-the-fly / precomputed ratio. An
untimed warm-up run comes first.

``--grpo`` instead runs GRPO (TRL's GRPOTrainer, sftdata prompt ids) on a learnable
reward (``sfttrain.rewards:lowercase_share``, sampling temperature 0.1) and prints the
mean reward of the first and last three steps.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _pairs(tokenizer: Any) -> Any:
    import sftdata as sd
    from sfttrain._pref_data import PAIR_COLUMNS, _parse_preference_file

    parsed = _parse_preference_file(str(ROOT / "examples/data/preference/pairs.jsonl"), None)
    kept, _ = sd.split_rejects(parsed)
    enc, _ = sd.split_rejects(
        sd.apply(kept, sd.EncodePreference(tokenizer, "llama2", max_length=256))
    )
    return enc.select_columns(list(PAIR_COLUMNS))


def _config(model: Path, out: Path, **extra: Any) -> Any:
    from sfttrain import TrainConfig

    return TrainConfig.from_dict(
        {
            "model": str(model), "train_files": ["unused.jsonl"], "output_dir": str(out),
            "template": "llama2", "max_length": 256, "packing": False, "resume": "never",
            "trackers": ["jsonl"], "progress_bar": False, "lr_scheduler": "constant",
            "learning_rate": 1e-3, "logging_steps": 1, "lora": {"dropout": 0.0}, **extra,
        }
    )  # fmt: skip


class _CpuClock:
    """Process CPU seconds spent inside ``trainer.train`` (steadier on a busy machine)."""

    def __init__(self) -> None:
        from transformers import TrainerCallback

        clock = self

        class Callback(TrainerCallback):  # type: ignore[misc]
            def on_train_begin(self, *args: Any, **kwargs: Any) -> None:
                clock.start = time.process_time()

            def on_train_end(self, *args: Any, **kwargs: Any) -> None:
                clock.seconds = time.process_time() - clock.start

        self.start = self.seconds = 0.0
        self.callback = Callback()


def _dpo_run(
    model: Path, pairs: Any, out: Path, method: str, precompute: bool, steps: int, bs: int
) -> dict[str, float]:
    from sfttrain import Prepared, train

    cfg = _config(model, out, stage="dpo", method=method, max_steps=steps, batch_size=bs,
                  preference={"precompute_ref": precompute})  # fmt: skip
    clock = _CpuClock()
    start, cpu = time.perf_counter(), time.process_time()
    result = train(cfg, prepared=Prepared(train=pairs, eval=None), callbacks=[clock.callback])
    total, total_cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"step_s": result.seconds / result.steps, "total_s": total, "train_s": result.seconds,
            "step_cpu": clock.seconds / result.steps, "total_cpu": total_cpu,
            "train_cpu": clock.seconds}  # fmt: skip


def dpo_benchmark(args: argparse.Namespace) -> None:
    from sfttrain import load_tokenizer, tiny_llama
    from sfttrain._demo import _sentencepiece_model

    tmp = Path(tempfile.mkdtemp())
    model = tiny_llama(tmp / "m", tokenizer_path=_sentencepiece_model(), hidden_size=args.hidden,
                       num_layers=args.layers, num_heads=4)  # fmt: skip
    pairs = _pairs(load_tokenizer(model))
    print(f"{len(pairs)} pairs, tiny Llama hidden {args.hidden} x {args.layers} layers, "
          f"batch {args.batch_size} pairs, {args.steps} steps")  # fmt: skip
    _dpo_run(model, pairs, tmp / "warm", "lora", False, 2, args.batch_size)
    rows = []
    for method in ("full", "lora"):
        live = _dpo_run(
            model, pairs, tmp / f"{method}-live", method, False, args.steps, args.batch_size
        )
        pre = _dpo_run(
            model, pairs, tmp / f"{method}-pre", method, True, args.steps, args.batch_size
        )
        # the precompute pass runs before trainer.train: CPU time outside train minus setup's
        setup = live["total_cpu"] - live["train_cpu"]
        rows.append((method, live, pre, max(pre["total_cpu"] - pre["train_cpu"] - setup, 0.0)))
    print("per step: wall seconds (CPU seconds of this process, steadier on a busy machine)")
    print(f"{'method':<6} {'on the fly':>16} {'precomputed':>16} {'ratio (cpu)':>12} "
          f"{'precompute pass cpu s':>22}")  # fmt: skip
    for method, live, pre, once in rows:
        ratio = live["step_cpu"] / pre["step_cpu"]
        a = f"{live['step_s']:.2f} ({live['step_cpu']:.2f})"
        b = f"{pre['step_s']:.2f} ({pre['step_cpu']:.2f})"
        print(f"{method:<6} {a:>16} {b:>16} {ratio:>11.2f}x {once:>22.1f}")


def grpo_benchmark(args: argparse.Namespace) -> None:
    from sfttrain import tiny_llama, train
    from sfttrain._demo import _sentencepiece_model

    tmp = Path(tempfile.mkdtemp())
    model = tiny_llama(tmp / "m", tokenizer_path=_sentencepiece_model())
    data = tmp / "prompts.jsonl"
    prompts = ["Say something.", "Write a word.", "Tell me a fact.", "Name a thing.",
               "Describe the sea.", "Count to three.", "Greet me.", "Say hi."]  # fmt: skip
    data.write_text("".join(json.dumps({"prompt": q}) + "\n" for q in prompts))
    cfg = _config(model, tmp / "grpo", stage="grpo", method="full", train_files=[str(data)],
                  max_steps=args.grpo_steps, batch_size=8, learning_rate=3e-3,
                  grpo={"rewards": ["sfttrain.rewards:lowercase_share"], "num_generations": 4,
                        "max_new_tokens": 8, "temperature": 0.1})  # fmt: skip
    result = train(cfg)
    logs = [json.loads(x) for x in (tmp / "grpo" / "metrics.jsonl").read_text().splitlines()]
    rewards = [x["reward"] for x in logs if "reward" in x]
    print("reward per step:", " ".join(f"{r:.3f}" for r in rewards))
    first, last = sum(rewards[:3]) / 3, sum(rewards[-3:]) / 3
    print(f"GRPO mean reward, first 3 steps {first:.3f} -> last 3 steps {last:.3f} "
          f"({result.steps} steps, {result.seconds / result.steps:.1f} s/step)")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--grpo", action="store_true")
    p.add_argument("--grpo-steps", type=int, default=12)
    args = p.parse_args()
    grpo_benchmark(args) if args.grpo else dpo_benchmark(args)


if __name__ == "__main__":
    main()
