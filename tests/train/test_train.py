"""Real training on CPU: a tiny Llama from a config, the real 32k sentencepiece tokenizer.

Tolerances: LoRA save/reload logits are compared exactly (same weights, same ops);
the merged export against base+adapter at atol 1e-5 (the merge adds B·A·scale into
W once, instead of adding the two matmul results: float32 rounding only).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sfttrain import Prepared

from .conftest import base_config, encoded_rows

pytestmark = pytest.mark.slow


def _falls(losses: tuple[float, ...]) -> bool:
    return len(losses) >= 3 and losses[-1] < losses[0] - 0.3


@pytest.mark.parametrize(
    ("method", "extra"),
    [
        ("full", {"learning_rate": 3e-3}),
        ("lora", {}),
        ("qlora", {"optim": "paged_adamw_32bit"}),
    ],
)
def test_loss_falls_on_overfit_set(
    method: str, extra: dict[str, Any], tiny_model_dir: Path, tiny_tokenizer: Any, tmp_path: Path
) -> None:
    """Property: full, LoRA and QLoRA (NF4 + paged AdamW) each lower the loss on 6 chats."""
    from transformers import TrainerCallback

    from sfttrain import train

    seen: dict[str, int] = {}

    class CountLayers(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            kinds = [type(m) for m in kw["model"].modules()]
            seen["linear4bit"] = sum(k.__module__.startswith("bitsandbytes") for k in kinds)
            seen["lora"] = sum(k.__module__.startswith("peft.tuners.lora") for k in kinds)

    cfg = base_config(tiny_model_dir, tmp_path / method, method=method, **extra)
    prepared = Prepared(train=encoded_rows(tiny_tokenizer), eval=None)
    result = train(cfg, prepared=prepared, callbacks=[CountLayers()])
    assert result.steps == 8
    assert _falls(result.losses), result.losses
    logged = [json.loads(x) for x in (tmp_path / method / "metrics.jsonl").read_text().splitlines()]
    first = logged[0]
    for key in ("loss", "grad_norm", "learning_rate", "train_tokens_per_s", "fill", "mem_gb"):
        assert key in first, key
    assert 0 < first["loss_token_fraction"] < 1  # prompts carry no loss
    # 2 layers x 7 linear projections: quantised for qlora only, LoRA-wrapped unless full
    assert seen["linear4bit"] == (14 if method == "qlora" else 0)
    assert (seen["lora"] > 0) == (method != "full")


def _logits(model: Any, ids: Any) -> Any:
    import torch

    model.eval()
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_adapter_reload_and_merged_export(
    tiny_model_dir: Path, tiny_tokenizer: Any, tmp_path: Path
) -> None:
    """Property: a reloaded adapter gives identical logits; the merged export matches (1e-5)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from sfttrain import export, train

    cfg = base_config(tiny_model_dir, tmp_path / "run", max_steps=4)
    result = train(cfg, prepared=Prepared(train=encoded_rows(tiny_tokenizer), eval=None))
    ids = torch.tensor([tiny_tokenizer("The quick brown fox jumps").input_ids])
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    plain = _logits(base, ids)
    with_adapter = PeftModel.from_pretrained(base, str(result.final_dir))
    adapted = _logits(with_adapter, ids)
    assert not torch.allclose(plain, adapted)  # training changed something
    again = _logits(
        PeftModel.from_pretrained(
            AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)), str(result.final_dir)
        ),
        ids,
    )
    assert torch.equal(adapted, again)
    out = export(result.final_dir, tmp_path / "export")
    assert (out / "model.safetensors").is_file()
    merged = AutoModelForCausalLM.from_pretrained(str(out))
    torch.testing.assert_close(_logits(merged, ids), adapted, atol=1e-5, rtol=0)
