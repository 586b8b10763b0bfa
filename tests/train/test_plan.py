"""``sfttrain plan``: its arithmetic, and its estimates against measured CPU peaks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sfttrain import TrainConfig
from sfttrain.config import ConfigError
from sfttrain.plan import GIB, Shape, estimate, parse_memory, read_shape

LLAMA7B = Shape(32000, 4096, 11008, 32, 32, 32)


def _cfg(**kw: object) -> TrainConfig:
    data = {"model": "m", "train_files": ["a.jsonl"], "output_dir": "o", "max_length": 2048,
            "batch_size": 1, "precision": "bf16", "gradient_checkpointing": True, **kw}  # fmt: skip
    return TrainConfig.from_dict(data)


def test_parameter_count_and_known_7b_budgets() -> None:
    """Property: Llama-2-7B counts 6.74B parameters; full AdamW fine-tuning needs 16 bytes
    per parameter (> 80 GiB, refused with advice); QLoRA fits on 24 GiB."""
    full = estimate(_cfg(method="full"), LLAMA7B, gpu_memory_gb=80)
    assert full.total_params == pytest.approx(6.738e9, rel=1e-3)
    assert full.weights_gb + full.gradients_gb + full.optimizer_gb == pytest.approx(
        16 * full.total_params / GIB
    )
    assert not full.fits and any("lora" in a for a in full.advice)
    qlora = estimate(_cfg(method="qlora", optim="paged_adamw_8bit"), LLAMA7B, gpu_memory_gb=24)
    assert qlora.fits and qlora.weights_gb < 5


def test_zero_stages_divide_what_they_shard() -> None:
    """Property: on 8 GPUs, ZeRO-1 divides optimizer states by 8, ZeRO-2 also gradients,
    ZeRO-3 also weights; 8-bit AdamW keeps 2 bytes per parameter instead of 8."""
    cfg = _cfg(method="full", precision="fp32")
    z = [estimate(cfg, LLAMA7B, gpu_memory_gb=80, gpus=8, zero=s) for s in (0, 1, 2, 3)]
    assert z[1].optimizer_gb == pytest.approx(z[0].optimizer_gb / 8)
    assert z[2].gradients_gb == pytest.approx(z[1].gradients_gb / 8)
    assert z[3].weights_gb == pytest.approx(z[2].weights_gb / 8)
    assert z[3].fits and not z[0].fits
    # under DeepSpeed with bf16: 2-byte weights and gradients, fp32 masters with the states
    bf16 = estimate(_cfg(method="full"), LLAMA7B, gpu_memory_gb=80, gpus=8, zero=3)
    assert bf16.weights_gb == pytest.approx(2 * bf16.total_params / GIB / 8)
    assert bf16.optimizer_gb == pytest.approx(12 * bf16.total_params / GIB / 8)
    eight = estimate(_cfg(method="full", optim="adamw_8bit", precision="fp32"), LLAMA7B,
                     gpu_memory_gb=80)  # fmt: skip
    assert eight.optimizer_gb == pytest.approx(2 * eight.trainable_params / GIB)


def test_checkpointing_shrinks_activations_and_bad_input_is_named() -> None:
    """Property: gradient checkpointing lowers the activation estimate; a bad size or an
    unknown shape is a ConfigError naming the option."""
    on = estimate(_cfg(method="lora"), LLAMA7B, gpu_memory_gb=80)
    off = estimate(_cfg(method="lora", gradient_checkpointing=False), LLAMA7B, gpu_memory_gb=80)
    assert on.activations_gb < off.activations_gb / 3
    assert parse_memory("80GB") == 80 and parse_memory("512MiB") == 0.5
    with pytest.raises(ConfigError, match="--gpu-memory"):
        parse_memory("lots")
    with pytest.raises(ConfigError, match="--shape"):
        read_shape("nowhere", "gpt-5")


@pytest.mark.slow
@pytest.mark.parametrize("method", ["full"])  # lora: 589 MiB est. vs 608 measured (manual run)
def test_estimate_within_20_percent_of_measured_cpu_peak(
    method: str, sp_model_path: Path, tmp_path: Path
) -> None:
    """Property: for a small Llama (hidden 256, 4 layers, 32k vocabulary, 4 x 256 tokens),
    the planner's optimizer + gradient/activation estimate is within 20% of how far the
    process's resident memory grows during training on CPU."""
    from sfttrain import tiny_llama

    model = tiny_llama(tmp_path / "m", tokenizer_path=sp_model_path, hidden_size=256,
                       num_layers=4, num_heads=4)  # fmt: skip
    data = {"model": str(model), "train_files": ["unused.jsonl"], "template": "llama2",
            "method": method, "max_steps": 2, "batch_size": 4, "max_length": 256,
            "packing": False, "trackers": [], "progress_bar": False, "logging_steps": 1,
            "output_dir": str(tmp_path / "run")}  # fmt: skip
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(data))
    worker = Path(__file__).with_name("mem_worker.py")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    out = subprocess.run([sys.executable, str(worker), str(config)], env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(x for x in out.stdout.splitlines() if x.startswith("MEASURED "))
    measured = json.loads(line.removeprefix("MEASURED "))["bytes"] / GIB
    plan = estimate(TrainConfig.from_dict(data), read_shape(str(model)), gpu_memory_gb=80)
    estimated = plan.total_gb - plan.weights_gb  # the weights are loaded before training
    assert estimated == pytest.approx(measured, rel=0.20), (estimated, measured)
