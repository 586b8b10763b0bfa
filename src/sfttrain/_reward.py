"""``stage: reward``: a Bradley-Terry reward model on encoded pairs, and ``score``.

The model is the base with a one-output sequence-classification head
(``AutoModelForSequenceClassification``, ``num_labels=1``) read at the last real
token; ``method: full`` trains every weight, ``lora`` / ``qlora`` train adapters plus
the new head. The loss per pair is -log σ(s_chosen - s_rejected); evaluation reports
``eval_rewards/accuracy``, the share of held-out pairs whose chosen answer scores
higher. ``score(model, rows)`` scores conversations (``messages``) or pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from sfttrain._dpo import PreferenceTrainer
from sfttrain._pref_losses import bradley_terry_loss
from sfttrain.config import ConfigError, TrainConfig


def load_reward_model(cfg: TrainConfig, pad_token_id: int) -> Any:
    """The base model with a scalar head, wrapped as ``cfg.method`` says."""
    from transformers import AutoModelForSequenceClassification

    from sfttrain._model import _bnb_config, _local_device

    kwargs: dict[str, Any] = {
        "num_labels": 1,
        "trust_remote_code": cfg.trust_remote_code,
        "attn_implementation": cfg.attn_implementation,
        "dtype": torch.float32,
    }
    if cfg.method == "qlora":
        kwargs["quantization_config"] = _bnb_config(cfg)
        kwargs["device_map"] = {"": _local_device()}
    model = AutoModelForSequenceClassification.from_pretrained(cfg.model, **kwargs)
    model.config.pad_token_id = pad_token_id  # the head reads the last non-pad token
    model.config.use_cache = False
    if cfg.method == "full":
        return model
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if cfg.method == "qlora":
        model = prepare_model_for_kbit_training(model, cfg.gradient_checkpointing)
    targets = cfg.lora.target_modules
    lora = LoraConfig(
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=targets if isinstance(targets, str) else list(targets),
        modules_to_save=list(cfg.lora.modules_to_save) or None,
        task_type="SEQ_CLS",  # the score head is trained in full next to the adapters
    )
    try:
        return get_peft_model(model, lora)
    except ValueError as e:
        raise ConfigError(f"lora.target_modules: {e}") from e


def sequence_scores(model: Any, inputs: dict[str, Any]) -> Any:
    """One scalar per row of a padded batch."""
    out = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
    return out.logits.squeeze(-1).float()


class RewardTrainer(PreferenceTrainer):
    """Bradley-Terry loss on (chosen, rejected) rows; logs the same ``rewards/*`` keys
    (the rewards being the model's scores)."""

    def _pairs(self, model: Any, inputs: dict[str, Any]) -> tuple[Any, dict[str, float]]:
        scores = sequence_scores(model, inputs)
        b = scores.size(0) // 2
        c, r = scores[:b], scores[b:]
        losses = bradley_terry_loss(c, r)
        margin = (c - r).detach()
        stats = {
            "rewards/chosen": float(c.detach().mean()),
            "rewards/rejected": float(r.detach().mean()),
            "rewards/accuracy": float((margin > 0).float().mean()),
            "rewards/margin": float(margin.mean()),
        }
        return losses.mean(), stats


def pairwise_accuracy(model: Any, pairs: Any, pad_token_id: int, *, batch_size: int = 16) -> float:
    """Share of encoded pairs whose chosen side the reward model scores higher."""
    from sfttrain._pref_data import PairCollator

    collate = PairCollator(pad_token_id=pad_token_id)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    wins = 0
    with torch.no_grad():
        for start in range(0, len(pairs), batch_size):
            rows = list(pairs.select(range(start, min(start + batch_size, len(pairs)))))
            batch = {k: v.to(device) for k, v in collate(rows).items()}
            s = sequence_scores(model, batch)
            b = s.size(0) // 2
            wins += int((s[:b] > s[b:]).sum())
    model.train(was_training)
    return wins / max(len(pairs), 1)


def train_reward(cfg: TrainConfig, *, prepared: Any = None, callbacks: Sequence[Any] = ()) -> Any:
    """Train a reward model on ``cfg``'s preference files (or ``prepared`` pairs)."""
    from sfttrain._pref_train import run_pair_stage

    return run_pair_stage(cfg, _reward_trainer, prepared=prepared, callbacks=callbacks)


def _reward_trainer(
    cfg: TrainConfig, prepared: Any, tokenizer: Any, callbacks: Sequence[Any]
) -> RewardTrainer:
    from sfttrain._pref_data import PairCollator
    from sfttrain._train import training_arguments
    from sfttrain.tracking import run_callbacks

    return RewardTrainer(
        model=load_reward_model(cfg, tokenizer.pad_token_id),
        args=training_arguments(cfg),
        data_collator=PairCollator(pad_token_id=tokenizer.pad_token_id),
        train_dataset=prepared.train,
        eval_dataset=prepared.eval,
        processing_class=tokenizer,
        callbacks=[*run_callbacks(cfg, prepared), *callbacks],
        stage="reward",
        options=cfg.preference,
    )


def load_reward_for_inference(path: str | Path) -> tuple[Any, Any, Any]:
    """``(model, tokenizer, template)`` of a saved reward model (full or LoRA adapter)."""
    from transformers import AutoModelForSequenceClassification

    from sfttrain._generate import load_template
    from sfttrain._model import load_tokenizer

    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"no reward model folder at {str(folder)!r}")
    tokenizer = load_tokenizer(folder)
    if (folder / "adapter_config.json").is_file():
        from peft import AutoPeftModelForSequenceClassification

        model = AutoPeftModelForSequenceClassification.from_pretrained(str(folder), num_labels=1)
    else:
        model = AutoModelForSequenceClassification.from_pretrained(str(folder), num_labels=1)
    model.config.pad_token_id = tokenizer.pad_token_id
    model.eval()
    return model, tokenizer, load_template(folder, tokenizer)


def score_conversations(
    model: Any, tokenizer: Any, template: Any, conversations: Sequence[Any], *,
    max_length: int = 1024, batch_size: int = 16,
) -> list[float]:  # fmt: skip
    """Reward of each full conversation, encoded exactly as training encoded it."""
    import sftdata as sd
    from sfttrain._pref_data import _batch

    device = next(model.parameters()).device
    ids = [
        [
            int(x)
            for x in sd.encode(list(c), tokenizer, template, max_length=max_length)["input_ids"]
        ]
        for c in conversations
    ]
    out: list[float] = []
    with torch.no_grad():
        for start in range(0, len(ids), batch_size):
            chunk = ids[start : start + batch_size]
            batch = _batch(chunk, chunk, tokenizer.pad_token_id)
            batch = {k: v.to(device) for k, v in batch.items()}
            out += sequence_scores(model, batch).tolist()
    return out


def score_rows(
    path: str | Path, data: str | Path, *, max_length: int = 1024
) -> list[dict[str, Any]]:
    """Score every row of a JSONL file: ``messages`` rows get ``score``; preference rows
    (``prompt`` / ``chosen`` / ``rejected``) get ``score_chosen`` and ``score_rejected``.
    A row that cannot be read or parsed comes back with its ``drop_reason``."""
    import sftdata as sd
    from sfttrain._data import _json_rows

    model, tokenizer, template = load_reward_for_inference(path)
    rows = _json_rows(Path(data))
    out: list[dict[str, Any]] = []
    for row in rows:
        if row.get("drop_reason"):
            out.append(row)
            continue
        row = {k: v for k, v in row.items() if k != "drop_reason"}
        try:
            if "chosen" in row:
                pair = sd.parse.preference(row)
                convs = [_full(pair["prompt"], pair[s]) for s in ("chosen", "rejected")]
                c, r = score_conversations(model, tokenizer, template, convs, max_length=max_length)
                out.append({**row, "score_chosen": c, "score_rejected": r})
            else:
                (s,) = score_conversations(
                    model, tokenizer, template, [row["messages"]], max_length=max_length
                )
                out.append({**row, "score": s})
        except (sd.RowError, KeyError, TypeError, ValueError) as e:
            reason = getattr(e, "reason", "score.bad_row")
            out.append({**row, "drop_reason": reason})
    return out


def _full(prompt: list[Any], side: list[Any]) -> list[Any]:
    """A whole conversation from the prompt and an answer (answer-only or full)."""
    return side if side[: len(prompt)] == prompt else [*prompt, *side]
