"""``train(config)``: sftdata rows in, a fine-tuned model (or adapter) out.

The run folder after ``train``::

    output_dir/
      sfttrain_config.yaml      the config as run (export / eval read the template here)
      checkpoint-N/             transformers checkpoints, complete once the marker is in
      final/                    the trained model or LoRA adapter + tokenizer
      metrics.jsonl             one JSON line per logging step (tracker "jsonl")
      runs/                     TensorBoard event files (tracker "tensorboard")
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sfttrain._data import Prepared, collator, get_template, prepare
from sfttrain._export import template_jinja
from sfttrain._generate import save_template_name
from sfttrain._model import load_model, load_tokenizer
from sfttrain._trainer import (
    MeteredCollator,
    SftTrainer,
    TokenMeter,
    resume_from,
)
from sfttrain.config import ConfigError, TrainConfig

CONFIG_NAME = "sfttrain_config.yaml"
PREFERENCE_STAGES = ("reward", "dpo", "orpo", "kto", "grpo")


@dataclass(frozen=True)
class TrainResult:
    """What a run did: steps, time, speed, the logged losses and where the model is."""

    output_dir: Path
    final_dir: Path
    steps: int
    seconds: float
    tokens_per_s: float
    losses: tuple[float, ...]
    counts: dict[str, int] = field(default_factory=dict)
    resumed_from: str | None = None

    @property
    def final_loss(self) -> float | None:
        return self.losses[-1] if self.losses else None

    def summary(self) -> str:
        """One line: steps, time, tokens/s, final loss, where the model is."""
        loss = "n/a" if self.final_loss is None else f"{self.final_loss:.4f}"
        return (
            f"sfttrain: {self.steps} steps in {self.seconds:.1f}s, "
            f"{self.tokens_per_s:,.0f} tokens/s, final loss {loss}, model in {self.final_dir}"
        )


def training_arguments(cfg: TrainConfig) -> Any:
    """``transformers.TrainingArguments`` for ``cfg`` (see :func:`training_kwargs`)."""
    from transformers import TrainingArguments

    return TrainingArguments(**training_kwargs(cfg))


def training_kwargs(cfg: TrainConfig) -> dict[str, Any]:
    """The ``TrainingArguments`` keys every stage shares (GRPO's config adds its own);
    trackers other than tensorboard are sfttrain's own callbacks (sfttrain.tracking)."""
    import torch

    on_gpu = torch.cuda.is_available()
    report: list[str] = [t for t in cfg.trackers if t == "tensorboard"] or ["none"]
    return dict(
        output_dir=cfg.output_dir,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.eval_batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup if cfg.warmup < 1 else int(cfg.warmup),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        max_grad_norm=cfg.max_grad_norm,
        optim=cfg.optim,
        # LoRA / QLoRA models get checkpointing in load_model (inputs must require grad)
        activation_checkpointing=cfg.gradient_checkpointing and cfg.method == "full",
        bf16=cfg.precision == "bf16",
        fp16=cfg.precision == "fp16",
        seed=cfg.seed,
        data_seed=cfg.seed,
        logging_steps=cfg.logging_steps,
        save_strategy="steps" if cfg.save_steps > 0 else "no",
        save_steps=cfg.save_steps if cfg.save_steps > 0 else 500,
        save_total_limit=cfg.save_total_limit,
        eval_strategy="steps" if cfg.eval_steps > 0 and cfg.eval_files else "no",
        eval_steps=cfg.eval_steps if cfg.eval_steps > 0 else None,
        report_to=report,
        deepspeed=cfg.deepspeed,
        fsdp=cfg.fsdp,
        fsdp_config=cfg.fsdp_config,
        remove_unused_columns=False,
        disable_tqdm=not cfg.progress_bar,
        use_cpu=not on_gpu,
        ddp_backend="gloo" if not on_gpu and _distributed() else None,
    )


def check_devices(cfg: TrainConfig) -> None:
    """Refuse ``fsdp`` without a GPU: accelerate (1.16) turns FSDP on only for accelerator
    backends; with ``use_cpu`` its state stays ``MULTI_CPU`` and the Trainer silently
    trains plain DDP with every weight replicated (tests/train/test_fsdp_deepspeed.py)."""
    import torch

    if cfg.fsdp and not torch.cuda.is_available():
        raise ConfigError(
            f"fsdp: {cfg.fsdp!r} needs GPUs; on CPU accelerate ignores it and trains plain "
            "DDP (distributed_type MULTI_CPU). Unset fsdp for CPU runs."
        )


def _distributed() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def train(
    cfg: TrainConfig, *, prepared: Prepared | None = None, callbacks: Sequence[Any] = ()
) -> TrainResult:
    """Train as ``cfg`` says; ``prepared`` skips reading ``cfg.train_files`` (already encoded).

    ``callbacks`` are extra ``transformers.TrainerCallback`` objects. Checks paths
    before loading anything, resumes per ``cfg.resume``, saves the final model (or
    adapter) and tokenizer to ``output_dir/final`` and prints a one-line summary.
    """
    from transformers import set_seed

    check_devices(cfg)
    if cfg.stage == "pretrain":  # token shards, causal LM: its own data path
        from sfttrain._pretrain_run import pretrain

        return pretrain(cfg, callbacks)
    if cfg.stage in PREFERENCE_STAGES:  # reward, dpo, orpo, kto, grpo
        from sfttrain._pref_train import train_stage

        return train_stage(cfg, prepared=prepared, callbacks=callbacks)
    if prepared is None:
        cfg.check_paths()
    resume = resume_from(cfg.resume, cfg.output_dir)
    set_seed(cfg.seed)
    tokenizer = load_tokenizer(cfg.tokenizer_path, trust_remote_code=cfg.trust_remote_code)
    template = get_template(cfg.template, tokenizer)
    if prepared is None:
        prepared = prepare(cfg, tokenizer, template)
        stages = " -> ".join(f"{k} {v}" for k, v in prepared.counts.items())
        if int(os.environ.get("RANK", "0")) == 0:
            print(f"sfttrain data: {stages}", flush=True)
    # Every saved tokenizer (checkpoints, final) carries the training format.
    tokenizer.chat_template = template_jinja(template)
    trainer = _trainer(cfg, prepared, tokenizer, callbacks)
    _save_config(cfg)
    assert trainer.meter is not None
    trainer.meter.reset()
    start = time.perf_counter()
    out = trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - start
    final = Path(cfg.output_dir) / "final"
    trainer.save_model(str(final))
    if trainer.is_world_process_zero():
        save_template_name(final, cfg.template, template)
    history = trainer.state.log_history
    world = max(trainer.args.world_size, 1)  # approximation: ranks see similar token counts
    result = TrainResult(
        output_dir=Path(cfg.output_dir),
        final_dir=final,
        steps=int(out.global_step),
        seconds=seconds,
        tokens_per_s=trainer.meter.total_tokens * world / max(seconds, 1e-9),
        losses=tuple(float(h["loss"]) for h in history if "loss" in h),
        counts=dict(prepared.counts),
        resumed_from=resume,
    )
    if trainer.is_world_process_zero():
        print(result.summary(), flush=True)
    return result


def _trainer(
    cfg: TrainConfig, prepared: Prepared, tokenizer: Any, callbacks: Sequence[Any]
) -> SftTrainer:
    from sfttrain.tracking import run_callbacks

    meter = TokenMeter()
    extra = run_callbacks(cfg, prepared)
    return SftTrainer(
        model=load_model(cfg),
        args=training_arguments(cfg),
        data_collator=MeteredCollator(collator(tokenizer, cfg), meter),
        train_dataset=prepared.train,
        eval_dataset=prepared.eval,
        processing_class=tokenizer,
        callbacks=[*extra, *callbacks],
        meter=meter,
    )


def _save_config(cfg: TrainConfig) -> None:
    import yaml

    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / CONFIG_NAME).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")
