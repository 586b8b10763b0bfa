"""FSDP on CPU (accelerate ignores it: shown, and refused up front) and the shipped
DeepSpeed configs checked by DeepSpeed's own config parser."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml

from sfttrain.config import ConfigError

from .conftest import base_config
from .test_resume_ddp import _free_port

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.mark.slow
def test_accelerate_turns_fsdp_off_on_cpu(tmp_path: Path) -> None:
    """Property: two gloo processes with `fsdp` set get a Trainer whose accelerator state
    is MULTI_CPU with FSDP off: accelerate's silent fallback to DDP that sfttrain refuses."""
    worker = Path(__file__).with_name("fsdp_probe_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", str(_free_port()), str(worker), str(tmp_path)]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for rank in (0, 1):
        rec = json.loads((tmp_path / f"probe{rank}.json").read_text())
        assert rec["world"] == 2 and rec["backend"] == "gloo"
        assert rec["args_fsdp"] == "True" and "LlamaDecoderLayer" in rec["fsdp_config"]
        assert rec["distributed_type"] == "DistributedType.MULTI_CPU"
        assert rec["is_fsdp_enabled"] is False


def test_sfttrain_refuses_fsdp_without_gpu(tmp_path: Path) -> None:
    """Property: `fsdp:` on a machine without CUDA is a ConfigError naming fsdp, raised
    before any model or data is opened (the model path does not even exist)."""
    import torch

    from sfttrain import train

    if torch.cuda.is_available():  # pragma: no cover - CPU CI
        pytest.skip("a GPU is present: FSDP is allowed")
    cfg = base_config(tmp_path / "no-model", tmp_path / "run", fsdp="full_shard auto_wrap")
    with pytest.raises(ConfigError, match=r"^fsdp: .*needs GPUs.*MULTI_CPU"):
        train(cfg)
    assert not (tmp_path / "run").exists()


def _resolved_ds_config(example: str) -> dict:
    """The example's DeepSpeed JSON with every "auto" filled in by transformers' own rules
    (``HfTrainerDeepSpeedConfig``), for the Llama-2-7B shape the example trains."""
    from transformers import LlamaConfig
    from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig

    from sfttrain import TrainConfig, training_arguments

    data = yaml.safe_load((EXAMPLES / example).read_text())
    data["deepspeed"] = str(EXAMPLES.parent / data["deepspeed"])
    cfg = TrainConfig.from_dict(data)
    # TrainingArguments without `deepspeed` (which would start DeepSpeed here) and in
    # fp32 (bf16 needs an accelerator); the precision is put back for the resolution.
    args = training_arguments(dataclasses.replace(cfg, deepspeed=None, precision="fp32"))
    args.bf16 = cfg.precision == "bf16"
    hf = HfTrainerDeepSpeedConfig(cfg.deepspeed)
    hf.trainer_config_process(args)
    shape = LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32)
    hf.trainer_config_finalize(args, types.SimpleNamespace(config=shape), num_training_steps=100)
    return dict(hf.config)


@pytest.mark.parametrize(
    ("example", "stage"), [("deepspeed_zero2.yaml", 2), ("deepspeed_zero3.yaml", 3)]
)
def test_shipped_deepspeed_configs_parse(example: str, stage: int) -> None:
    """Property: DeepSpeed's own parser (DeepSpeedConfig) accepts each shipped config as
    sfttrain would hand it over, with the batch arithmetic and ZeRO stage we expect; a
    broken copy is rejected by the same parser."""
    pytest.importorskip("deepspeed", reason="the `deepspeed` extra is not installed")
    from deepspeed.runtime.config import DeepSpeedConfig

    resolved = _resolved_ds_config(example)
    ds = DeepSpeedConfig(resolved)
    assert ds.zero_optimization_stage == stage
    assert ds.train_micro_batch_size_per_gpu == 2 and ds.gradient_accumulation_steps == 8
    assert ds.train_batch_size == 16  # 2 x 8 x 1 process
    assert ds.gradient_clipping == 1.0
    assert resolved["bf16"]["enabled"] is True
    broken = json.loads(json.dumps(resolved))
    broken["zero_optimization"]["stage"] = "three"
    with pytest.raises(Exception, match="stage"):
        DeepSpeedConfig(broken)
