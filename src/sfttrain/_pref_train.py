"""``train(cfg)`` for ``stage: dpo | orpo | kto``: encoded pairs in, an aligned policy out.

The run folder is the SFT one (config, checkpoints with their completion marker,
``final/``, ``metrics.jsonl``, TensorBoard) plus ``ref_logps/`` when the reference
log-probs are precomputed. ``resume: auto`` picks up the newest complete checkpoint and
reuses the cached reference log-probs.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sfttrain._data import Prepared, get_template
from sfttrain._dpo import PreferenceTrainer, cache_key, precompute_reference
from sfttrain._export import template_jinja
from sfttrain._generate import save_template_name
from sfttrain._model import load_model, load_tokenizer
from sfttrain._pref_data import KtoCollator, PairCollator, prepare_pairs, unpair
from sfttrain._trainer import resume_from
from sfttrain.config import TrainConfig
from sfttrain.tracking import run_callbacks


def needs_reference(cfg: TrainConfig) -> bool:
    """Whether the stage's loss compares against a reference policy."""
    if cfg.stage == "orpo":
        return False
    return not (cfg.stage == "dpo" and cfg.preference.loss_type == "simpo")


def build_trainer(
    cfg: TrainConfig, prepared: Prepared, tokenizer: Any, callbacks: Sequence[Any] = ()
) -> PreferenceTrainer:
    """Model, reference, collator and (precomputed) data wired into a trainer."""
    from sfttrain._train import training_arguments

    model = load_model(cfg)
    kto = cfg.stage == "kto"
    collate = (KtoCollator if kto else PairCollator)(pad_token_id=tokenizer.pad_token_id)
    train, evaluation = prepared.train, prepared.eval
    if kto and "kto_label" not in train.column_names:
        train = unpair(train)
        evaluation = unpair(evaluation) if evaluation is not None else None
    ref_model = None
    if needs_reference(cfg) and cfg.preference.precompute_ref:
        train, evaluation = _precomputed(cfg, model, collate, train, evaluation)
    elif needs_reference(cfg) and cfg.method == "full":
        ref_model = copy.deepcopy(model)
    extra = run_callbacks(cfg, prepared)
    return PreferenceTrainer(
        model=model,
        args=training_arguments(cfg),
        data_collator=collate,
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=tokenizer,
        callbacks=[*extra, *callbacks],
        stage=cfg.stage,
        options=cfg.preference,
        ref_model=ref_model,
    )


def _precomputed(cfg: TrainConfig, model: Any, collate: Any, train: Any, evaluation: Any) -> Any:
    import torch

    device = next(model.parameters()).device
    if torch.cuda.is_available() and device.type == "cpu" and cfg.method != "qlora":
        device = torch.device("cuda")
        model.to(device)
    out: list[Any] = []
    for split, ds in (("train", train), ("eval", evaluation)):
        if ds is None:
            out.append(None)
            continue
        key = f"{split}-{cache_key(cfg.model, ds, f'{cfg.precision}|{cfg.stage}')}"
        out.append(
            precompute_reference(
                model,
                ds,
                collate,
                cache_dir=Path(cfg.output_dir) / "ref_logps",
                key=key,
                batch_size=cfg.eval_batch_size,
                device=device,
            )
        )
    return out[0], out[1]


def train_preference(
    cfg: TrainConfig, *, prepared: Prepared | None = None, callbacks: Sequence[Any] = ()
) -> Any:
    """Train ``cfg.stage`` (dpo, orpo, kto) on preference rows; returns a ``TrainResult``.

    ``prepared.train`` holds encoded pairs (``sd.EncodePreference`` columns) or, for
    KTO, unpaired rows with ``input_ids``, ``labels`` and ``kto_label``.
    """
    return run_pair_stage(cfg, build_trainer, prepared=prepared, callbacks=callbacks)


def run_pair_stage(
    cfg: TrainConfig,
    build: Callable[[TrainConfig, Prepared, Any, Sequence[Any]], Any],
    *,
    prepared: Prepared | None = None,
    callbacks: Sequence[Any] = (),
) -> Any:
    """The run of a stage trained on preference pairs (dpo, orpo, kto, reward): read and
    encode the pairs unless ``prepared``, ``build`` the trainer, train (resuming per
    ``cfg.resume``), save ``final/`` with the template; returns a ``TrainResult``."""
    from transformers import set_seed

    from sfttrain._train import TrainResult, _save_config

    if prepared is None:
        cfg.check_paths()
    resume = resume_from(cfg.resume, cfg.output_dir)
    set_seed(cfg.seed)
    tokenizer = load_tokenizer(cfg.tokenizer_path, trust_remote_code=cfg.trust_remote_code)
    template = get_template(cfg.template, tokenizer)
    if prepared is None:
        prepared = prepare_pairs(cfg, tokenizer, template)
        if int(os.environ.get("RANK", "0")) == 0:
            stages = " -> ".join(f"{k} {v}" for k, v in prepared.counts.items())
            print(f"sfttrain data ({cfg.stage}): {stages}", flush=True)
    tokenizer.chat_template = template_jinja(template)
    _save_config(cfg)
    trainer = build(cfg, prepared, tokenizer, callbacks)
    start = time.perf_counter()
    out = trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - start
    final = Path(cfg.output_dir) / "final"
    trainer.save_model(str(final))
    if trainer.is_world_process_zero():
        save_template_name(final, cfg.template, template)
    history = trainer.state.log_history
    result = TrainResult(
        output_dir=Path(cfg.output_dir),
        final_dir=final,
        steps=int(out.global_step),
        seconds=seconds,
        tokens_per_s=trainer.tokens_seen * max(trainer.args.world_size, 1) / max(seconds, 1e-9),
        losses=tuple(float(h["loss"]) for h in history if "loss" in h),
        counts=dict(prepared.counts),
        resumed_from=resume,
    )
    if trainer.is_world_process_zero():
        print(result.summary(), flush=True)
    return result


def train_stage(
    cfg: TrainConfig, *, prepared: Prepared | None = None, callbacks: Sequence[Any] = ()
) -> Any:
    """Run a non-SFT training stage (``reward``, ``dpo``, ``orpo``, ``kto``, ``grpo``)."""
    if cfg.stage == "reward":
        from sfttrain._reward import train_reward

        return train_reward(cfg, prepared=prepared, callbacks=callbacks)
    if cfg.stage == "grpo":
        from sfttrain._grpo import train_grpo

        return train_grpo(cfg, callbacks=callbacks)
    return train_preference(cfg, prepared=prepared, callbacks=callbacks)
