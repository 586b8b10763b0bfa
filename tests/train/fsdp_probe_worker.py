"""Run under ``torchrun --nproc_per_node 2`` on CPU: build a ``transformers.Trainer`` with
``fsdp`` set (gloo) and record what accelerate made of it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(out_dir: str) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments

    args = TrainingArguments(
        output_dir=out_dir, use_cpu=True, ddp_backend="gloo", report_to=["none"],
        fsdp="full_shard auto_wrap",
        fsdp_config={"transformer_layer_cls_to_wrap": ["LlamaDecoderLayer"]},
    )  # fmt: skip
    config = LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=1, num_attention_heads=2)  # fmt: skip
    trainer = Trainer(model=LlamaForCausalLM(config), args=args)
    state = trainer.accelerator.state
    record = {
        "world": torch.distributed.get_world_size(),
        "backend": torch.distributed.get_backend(),
        "args_fsdp": str(args.fsdp),
        "fsdp_config": str(args.fsdp_config),
        "distributed_type": str(state.distributed_type),
        "is_fsdp_enabled": bool(trainer.is_fsdp_enabled),
    }
    Path(out_dir, f"probe{os.environ['RANK']}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main(sys.argv[1])
