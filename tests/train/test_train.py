"""Real training on CPU: a tiny Llama from a config, the real 32k sentencepiece tokenizer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sfttrain import Prepared
from sfttrain._data import pack_rows

from .conftest import base_config, encoded_rows

pytestmark = pytest.mark.slow


def _falls(losses: tuple[float, ...]) -> bool:
    return len(losses) >= 3 and losses[-1] < losses[0] - 0.3


@pytest.mark.parametrize(
    ("method", "extra"),
    [
        ("full", {"learning_rate": 3e-3}),
        ("lora", {}),
        ("lora", {"gradient_checkpointing": True, "packing": True}),
        ("qlora", {"optim": "paged_adamw_32bit"}),
    ],
)
def test_loss_falls_on_overfit_set(
    method: str, extra: dict[str, Any], tiny_model_dir: Path, tiny_tokenizer: Any, tmp_path: Path
) -> None:
    """Property: full, LoRA (also checkpointed + packed) and QLoRA (NF4 + paged AdamW) lower the loss."""
    from transformers import TrainerCallback

    from sfttrain import train

    seen: dict[str, int] = {}

    class CountLayers(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            kinds = [type(m) for m in kw["model"].modules()]
            seen["linear4bit"] = sum(k.__module__.startswith("bitsandbytes") for k in kinds)
            seen["lora"] = sum(k.__module__.startswith("peft.tuners.lora") for k in kinds)

    cfg = base_config(tiny_model_dir, tmp_path / method, method=method, **extra)
    rows = encoded_rows(tiny_tokenizer)
    if cfg.packing:  # sd.pack rows: position_ids restart per sample, no attention_mask
        rows = pack_rows(rows, 128)[0]
        assert "position_ids" in rows.column_names
    prepared = Prepared(train=rows, eval=None)
    result = train(cfg, prepared=prepared, callbacks=[CountLayers()])
    assert result.steps == 6
    assert _falls(result.losses), result.losses
    assert result.tokens_per_s > 0  # counted from every batch, not only logged ones
    logged = [json.loads(x) for x in (tmp_path / method / "metrics.jsonl").read_text().splitlines()]
    first = logged[0]
    for key in ("loss", "grad_norm", "learning_rate", "train_tokens_per_s", "fill", "mem_gb"):
        assert key in first, key
    assert 0 < first["loss_token_fraction"] < 1  # prompts carry no loss
    # 2 layers x 7 linear projections: quantised for qlora only, LoRA-wrapped unless full
    assert seen["linear4bit"] == (14 if method == "qlora" else 0)
    assert (seen["lora"] > 0) == (method != "full")
