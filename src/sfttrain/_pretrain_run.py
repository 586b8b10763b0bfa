"""``train(cfg)`` for ``stage: pretrain``: the trainer over :class:`PretrainBlocks`."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sfttrain._model import load_model, load_tokenizer
from sfttrain._pretrain import PretrainBlocks, collate_blocks, new_model, open_shards
from sfttrain._train import TrainResult, _save_config, training_arguments
from sfttrain._trainer import MeteredCollator, SftTrainer, TokenMeter, resume_from
from sfttrain.config import ConfigError, TrainConfig
from sfttrain.tracking import run_callbacks


class PretrainTrainer(SftTrainer):
    """Walks the dataset in index order: :class:`PretrainBlocks` already holds the shuffle."""

    def _get_train_sampler(self, train_dataset: Any = None) -> Any:
        from torch.utils.data import SequentialSampler

        data = train_dataset if train_dataset is not None else self.train_dataset
        return SequentialSampler(data)  # type: ignore[arg-type]


def pretrain_trainer(cfg: TrainConfig, callbacks: Sequence[Any] = ()) -> PretrainTrainer:
    """Check the shards against the tokenizer, load or build the model, build the trainer."""
    tokenizer = load_tokenizer(cfg.tokenizer_path, trust_remote_code=cfg.trust_remote_code)
    folders = [f if isinstance(f, str) else f.path for f in cfg.train_files]
    shards = open_shards(folders, tokenizer)
    model = new_model(cfg, tokenizer) if cfg.model_config else load_model(cfg)
    limit = getattr(model.config, "max_position_embeddings", None)
    if limit is not None and shards.block_size > limit:
        raise ConfigError(
            f"train_files: block_size {shards.block_size} exceeds the model's "
            f"max_position_embeddings {limit}"
        )
    world = int(os.environ.get("WORLD_SIZE", "1"))
    data = PretrainBlocks(shards, seed=cfg.seed, multiple=cfg.batch_size * world)
    if len(data) == 0:
        raise ConfigError(
            f"train_files: {shards.num_blocks} blocks, fewer than one global batch "
            f"(batch_size {cfg.batch_size} x {world} processes)"
        )
    meter = TokenMeter()
    extra = run_callbacks(cfg, data)
    return PretrainTrainer(
        model=model,
        args=training_arguments(cfg),
        data_collator=MeteredCollator(collate_blocks, meter),
        train_dataset=data,
        processing_class=tokenizer,
        callbacks=[*extra, *callbacks],
        meter=meter,
    )


def pretrain(cfg: TrainConfig, callbacks: Sequence[Any] = ()) -> TrainResult:
    """Causal-LM training on token shard folders (``cfg.stage == "pretrain"``)."""
    from transformers import set_seed

    cfg.check_paths()
    resume = resume_from(cfg.resume, cfg.output_dir)
    set_seed(cfg.seed)
    trainer = pretrain_trainer(cfg, callbacks)
    data = trainer.train_dataset
    assert isinstance(data, PretrainBlocks) and trainer.meter is not None
    if int(os.environ.get("RANK", "0")) == 0:
        s = data.shards
        print(
            f"sfttrain pretrain data: {s.num_blocks} blocks of {s.block_size} tokens in "
            f"{len(s.files)} shards; {len(data)} per epoch",
            flush=True,
        )
    _save_config(cfg)
    trainer.meter.reset()
    start = time.perf_counter()
    out = trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - start
    final = Path(cfg.output_dir) / "final"
    trainer.save_model(str(final))
    world = max(trainer.args.world_size, 1)
    result = TrainResult(
        output_dir=Path(cfg.output_dir),
        final_dir=final,
        steps=int(out.global_step),
        seconds=seconds,
        tokens_per_s=trainer.meter.total_tokens * world / max(seconds, 1e-9),
        losses=tuple(float(h["loss"]) for h in trainer.state.log_history if "loss" in h),
        counts={"blocks": data.shards.num_blocks, "blocks_per_epoch": len(data)},
        resumed_from=resume,
    )
    if trainer.is_world_process_zero():
        print(result.summary(), flush=True)
    return result
