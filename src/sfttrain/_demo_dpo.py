"""``sfttrain demo --stage dpo``: SFT, then DPO, on the shipped preference pairs.

::

    examples/data/preference/pairs.jsonl  (prompt / chosen / rejected; some broken on purpose)
      -> sd.parse.Preference (rejects with reasons) -> sd.EncodePreference (llama2)
      -> split: train pairs / held-out pairs
      -> SFT a tiny Llama (full) on the chosen answers of the train pairs
      -> DPO with LoRA on the train pairs (reference: the SFT model, adapters off)
      -> reward accuracy and margin before and after DPO, on the train pairs and on
         held-out pairs

Before DPO the policy is its reference, so the implicit rewards are all zero (accuracy
0, margin 0). ``logp accuracy`` is the share of pairs whose chosen answer is more likely
outright. The demo pairs are facts (capitals); a tiny random model cannot learn facts
it never saw, so expect the held-out lines to move little: they are there to be honest.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import sftdata as sd
from sftdata import DROP_REASON

MAX_LENGTH = 128
HELD_OUT = 10


def _pairs(data: Path, tokenizer: Any, echo: Callable[[str], None]) -> Any:
    from sfttrain._pref_data import PAIR_COLUMNS, _parse_preference_file

    parsed = _parse_preference_file(str(data / "preference" / "pairs.jsonl"), "preference")
    kept, rejected = sd.split_rejects(parsed)
    why = ", ".join(sorted(set(rejected[DROP_REASON]))) if len(rejected) else ""
    echo(f"{'parse':<10} {len(parsed):>4} -> {len(kept):>4} pairs   dropped: {why or 'none'}")
    step = sd.EncodePreference(tokenizer, "llama2", max_length=MAX_LENGTH)
    enc, rejected = sd.split_rejects(sd.apply(kept, step))
    echo(f"{'encode':<10} {len(kept):>4} -> {len(enc):>4} pairs   template llama2")
    return enc.select_columns(list(PAIR_COLUMNS))


def _config(base: Path, out: Path, steps: int, **extra: Any) -> Any:
    from sfttrain.config import TrainConfig

    data: dict[str, Any] = {
        "model": str(base),
        "train_files": ["unused.jsonl"],  # data comes in `prepared`
        "output_dir": str(out),
        "template": "llama2",
        "max_length": MAX_LENGTH,
        "max_steps": steps,
        "batch_size": 8,
        "logging_steps": max(1, steps // 5),
        "lr_scheduler": "constant",
        "packing": False,
        "resume": "never",
        "trackers": ["jsonl"],
        "progress_bar": False,
        **extra,
    }
    return TrainConfig.from_dict(data)


def demo_dpo(
    *,
    out_dir: str | Path = "runs/demo-dpo",
    data_dir: str | Path | None = None,
    steps: int = 30,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """SFT then DPO on the demo pairs; returns held-out metrics before and after DPO."""
    import datasets
    from transformers import AutoModelForCausalLM

    from sfttrain._data import Prepared
    from sfttrain._demo import _default_data_dir, _sentencepiece_model
    from sfttrain._dpo import preference_metrics
    from sfttrain._model import load_tokenizer, tiny_llama
    from sfttrain._pref_data import PairCollator
    from sfttrain._train import train

    if steps < 1:
        raise ValueError(f"demo: steps must be >= 1, got {steps}")
    out = Path(out_dir)
    data = Path(data_dir) if data_dir is not None else _default_data_dir()
    if not (data / "preference" / "pairs.jsonl").is_file():
        raise FileNotFoundError(f"demo: no preference/pairs.jsonl in {str(data)!r} (give --data)")
    base = tiny_llama(out / "base", tokenizer_path=_sentencepiece_model())
    tokenizer = load_tokenizer(base)
    pairs = _pairs(data, tokenizer, echo).shuffle(seed=0)
    held, train_pairs = pairs.select(range(HELD_OUT)), pairs.select(range(HELD_OUT, len(pairs)))
    echo(f"{'split':<10} {len(train_pairs)} train pairs, {len(held)} held-out pairs")
    sft_rows = datasets.Dataset.from_dict(
        {"input_ids": train_pairs["chosen_input_ids"], "labels": train_pairs["chosen_labels"]}
    )
    sft_cfg = _config(base, out / "sft", steps, method="full", learning_rate=3e-3)
    sft = train(sft_cfg, prepared=Prepared(train=sft_rows, eval=None))
    echo(f"{'sft':<10} loss {sft.losses[0]:.3f} -> {sft.final_loss:.3f} in {sft.steps} steps")
    beta = 0.1
    collate = PairCollator(pad_token_id=tokenizer.pad_token_id)
    sft_model = AutoModelForCausalLM.from_pretrained(str(sft.final_dir))
    sets = {"train": train_pairs, "held-out": held}
    before = {
        k: preference_metrics(sft_model, v, collate, beta=beta, ref_model=sft_model)
        for k, v in sets.items()
    }
    dpo_cfg = _config(
        sft.final_dir, out / "dpo", steps, stage="dpo", method="lora", learning_rate=3e-3,
        lora={"r": 16, "alpha": 32, "dropout": 0.0}, preference={"beta": beta},
    )  # fmt: skip
    dpo = train(dpo_cfg, prepared=Prepared(train=train_pairs, eval=None))
    echo(f"{'dpo':<10} loss {dpo.losses[0]:.3f} -> {dpo.final_loss:.3f} in {dpo.steps} steps")
    from peft import PeftModel

    policy = PeftModel.from_pretrained(sft_model, str(dpo.final_dir))
    # the reference: the same model with its adapters off
    after = {k: preference_metrics(policy, v, collate, beta=beta) for k, v in sets.items()}
    for split in sets:
        for name, m in (("before", before[split]), ("after", after[split])):
            echo(
                f"{split:<10} {name:<6} DPO: reward accuracy {m['rewards/accuracy']:.2f}, "
                f"margin {m['rewards/margin']:+.3f}, logp accuracy {m['logp_accuracy']:.2f}"
            )
    return {"sft_losses": sft.losses, "dpo_losses": dpo.losses, "before": before, "after": after}
