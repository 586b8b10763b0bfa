"""``PreferenceTrainer``: DPO (and its variants), ORPO and KTO on ``transformers.Trainer``.

sftdata's ids are what trains: a batch of B pairs is one (2B, L) forward pass
(chosen rows, then rejected rows; see :class:`sfttrain._pref_data.PairCollator`), each
row scored by the summed log-probs of its labelled tokens. The reference policy is::

    method full          a frozen copy of the starting model (none when precomputed)
    method lora / qlora  the same model with its adapters disabled: no second copy
    precompute_ref       one pass over the data before training, cached in
                         output_dir/ref_logps/ (both methods; the policy then runs alone)
    simpo, orpo          no reference at all

Logged next to ``loss`` (eval adds the ``eval_`` prefix): ``rewards/chosen``,
``rewards/rejected`` (β x policy/reference log-ratio), ``rewards/accuracy`` (share of
pairs whose chosen reward is higher), ``rewards/margin``, ``logps/chosen``,
``logps/rejected``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sfttrain._pref_losses import PairLoss, dpo_loss, kto_loss, orpo_loss, sequence_logps
from sfttrain._trainer import SftTrainer
from sfttrain.config import PreferenceOptions

_FORWARD_KEYS = ("input_ids", "attention_mask")


def forward_logps(model: Any, inputs: dict[str, Any]) -> tuple[Any, Any]:
    """Summed answer log-probs and labelled-token counts of each row of ``inputs``."""
    out = model(**{k: inputs[k] for k in _FORWARD_KEYS}, use_cache=False)
    return sequence_logps(out.logits, inputs["labels"])


def reference_context(model: Any) -> Any:
    """Inside it, a PEFT ``model`` runs as its base (adapters off); else nothing changes."""
    disable = getattr(model, "disable_adapter", None)
    return disable() if callable(disable) else contextlib.nullcontext()


class PreferenceTrainer(SftTrainer):
    """``Trainer`` whose loss is ``stage``'s (dpo, orpo or kto) on encoded preference rows.

    ``ref_model``: the frozen reference for full fine-tuning (``None`` for LoRA/QLoRA,
    whose reference is the adapter-disabled base, for reference-free losses, and when
    the reference log-probs come precomputed in the batch).
    """

    def __init__(
        self,
        *args: Any,
        stage: str,
        options: PreferenceOptions,
        ref_model: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.stage = stage
        self.options = options
        self.ref_model = ref_model
        if ref_model is not None:
            ref_model.requires_grad_(False)
            ref_model.eval()
            ref_model.to(self.args.device)
        self.model_accepts_loss_kwargs = False  # our loss is a per-pair mean, not per-token sum
        self.tokens_seen = 0  # real (non-pad) tokens of the training batches, this process
        self._stats: dict[str, dict[str, list[float]]] = {
            "train": defaultdict(list),
            "eval": defaultdict(list),
        }

    # -- reference ------------------------------------------------------------------

    def reference_logps(self, model: Any, inputs: dict[str, Any]) -> Any:
        """Reference log-probs of every row of the batch (no gradient)."""
        with torch.no_grad():
            if self.ref_model is not None:
                return forward_logps(self.ref_model, inputs)[0]
            with reference_context(self.accelerator.unwrap_model(model)):
                return forward_logps(model, inputs)[0]

    # -- losses ---------------------------------------------------------------------

    def compute_loss(
        self,
        model: Any,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> Any:
        loss, stats = (
            self._kto(model, inputs) if self.stage == "kto" else self._pairs(model, inputs)
        )
        mode = "train" if model.training else "eval"
        if model.training:
            self.tokens_seen += int(inputs["attention_mask"].sum())
        for key, value in stats.items():
            self._stats[mode][key].append(value)
        return (loss, {}) if return_outputs else loss

    def _pairs(self, model: Any, inputs: dict[str, Any]) -> tuple[Any, dict[str, float]]:
        opts = self.options
        logps, n = forward_logps(model, inputs)
        b = logps.size(0) // 2
        (c, r), (nc, nr) = (logps[:b], logps[b:]), (n[:b], n[b:])
        extra: dict[str, float] = {}
        if self.stage == "orpo":
            total, pair = orpo_loss(c, r, nc, nr, beta=opts.beta)
            extra["nll"] = float((-c / nc.clamp(min=1)).mean())
            extra["odds_ratio_loss"] = float(pair.losses.mean())
            loss = total.mean()
        else:
            if opts.loss_type == "simpo":
                ref_c = ref_r = None
            elif "ref_chosen_logps" in inputs:
                ref_c, ref_r = inputs["ref_chosen_logps"], inputs["ref_rejected_logps"]
            else:
                ref = self.reference_logps(model, inputs)
                ref_c, ref_r = ref[:b], ref[b:]
            pair = dpo_loss(
                c, r, ref_c, ref_r,
                loss_type=opts.loss_type, beta=opts.beta, label_smoothing=opts.label_smoothing,
                gamma=opts.gamma, chosen_len=nc, rejected_len=nr,
            )  # fmt: skip
            loss = pair.losses.mean()
        return loss, {**pair_stats(pair, c, r), **extra}

    def _kto(self, model: Any, inputs: dict[str, Any]) -> tuple[Any, dict[str, float]]:
        opts = self.options
        logps, _ = forward_logps(model, inputs)
        ref = inputs.get("ref_logps")
        if ref is None:
            ref = self.reference_logps(model, inputs)
        desirable = inputs["kto_label"].bool()
        # KL estimate z: the batch mean policy/reference log-ratio (detached, >= 0)
        losses, rewards = kto_loss(
            logps, ref, desirable, beta=opts.beta, kl=(logps - ref).mean(),
            desirable_weight=opts.desirable_weight, undesirable_weight=opts.undesirable_weight,
        )  # fmt: skip
        stats = {"kl": float((logps - ref).mean().clamp(min=0))}
        if desirable.any():
            stats["rewards/chosen"] = float(rewards[desirable].mean())
            stats["logps/chosen"] = float(logps[desirable].mean())
        if (~desirable).any():
            stats["rewards/rejected"] = float(rewards[~desirable].mean())
            stats["logps/rejected"] = float(logps[~desirable].mean())
        return losses.mean(), stats

    # -- evaluation and logging -----------------------------------------------------

    def prediction_step(
        self,
        model: Any,
        inputs: dict[str, Any],
        prediction_loss_only: bool,
        ignore_keys: Any = None,
    ) -> tuple[Any, None, None]:
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad(), self.compute_loss_context_manager():
            loss = self.compute_loss(model, inputs)
        return loss.detach(), None, None

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        mode = "eval" if any(k.startswith("eval_") for k in logs) else "train"
        prefix = "eval_" if mode == "eval" else ""
        for key, values in self._stats[mode].items():
            if values:
                logs[f"{prefix}{key}"] = round(float(np.mean(values)), 6)
        self._stats[mode].clear()
        super().log(logs, start_time)


def pair_stats(pair: PairLoss, chosen_logps: Any, rejected_logps: Any) -> dict[str, float]:
    """The logged means of one batch of pairs."""
    margin = pair.chosen_rewards - pair.rejected_rewards
    return {
        "rewards/chosen": float(pair.chosen_rewards.mean()),
        "rewards/rejected": float(pair.rejected_rewards.mean()),
        "rewards/accuracy": float((margin > 0).float().mean()),
        "rewards/margin": float(margin.mean()),
        "logps/chosen": float(chosen_logps.detach().mean()),
        "logps/rejected": float(rejected_logps.detach().mean()),
    }


# -- precomputed reference ---------------------------------------------------------


def cache_key(model_path: str, dataset: Any, extra: str = "") -> str:
    """What the cached reference log-probs depend on: the model, the rows, the options."""
    fingerprint = getattr(dataset, "_fingerprint", None) or str(len(dataset))
    return hashlib.sha256(f"{model_path}|{fingerprint}|{extra}".encode()).hexdigest()[:16]


def precompute_reference(
    model: Any,
    dataset: Any,
    collate: Any,
    *,
    cache_dir: str | Path,
    key: str,
    batch_size: int = 8,
    device: Any = "cpu",
) -> Any:
    """``dataset`` plus the reference log-prob columns, from ``cache_dir`` when there.

    The reference is ``model`` as it is now (adapters disabled for PEFT), so call this
    before training. Pair rows get ``ref_chosen_logps`` / ``ref_rejected_logps``,
    unpaired (KTO) rows ``ref_logps``.
    """
    from tqdm.auto import tqdm

    path = Path(cache_dir) / f"{key}.npy"
    paired = "chosen_input_ids" in dataset.column_names
    if path.is_file():
        values = np.load(path)
    else:
        was_training = model.training
        model.eval()
        chunks = []
        with torch.no_grad(), reference_context(model):
            for start in tqdm(range(0, len(dataset), batch_size), desc="reference log-probs"):
                rows = dataset.select(range(start, min(start + batch_size, len(dataset))))
                batch = {k: v.to(device) for k, v in collate(list(rows)).items()}
                logps = forward_logps(model, batch)[0].float().cpu().numpy()
                chunks.append(logps.reshape(2, -1).T if paired else logps)
        model.train(was_training)
        values = np.concatenate(chunks)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.npy")
        np.save(tmp, values)
        os.replace(tmp, path)  # readers (other ranks, a resumed run) see all or nothing
    if paired:
        dataset = dataset.add_column("ref_chosen_logps", values[:, 0].tolist())
        return dataset.add_column("ref_rejected_logps", values[:, 1].tolist())
    return dataset.add_column("ref_logps", values.tolist())


def preference_metrics(
    model: Any, pairs: Any, collate: Any, *, beta: float, ref_model: Any = None, batch_size: int = 8
) -> dict[str, float]:
    """Implicit-reward accuracy and margin of ``model`` against its reference on ``pairs``,
    plus ``logp_accuracy``: the share of pairs whose chosen answer is more likely outright.

    The reference is ``ref_model``, else ``model`` with its adapters disabled.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    acc, margin, logp_acc = [], [], []
    with torch.no_grad():
        for start in range(0, len(pairs), batch_size):
            rows = list(pairs.select(range(start, min(start + batch_size, len(pairs)))))
            batch = {k: v.to(device) for k, v in collate(rows).items()}
            logps = forward_logps(model, batch)[0]
            if ref_model is not None:
                ref = forward_logps(ref_model, batch)[0]
            else:
                with reference_context(model):
                    ref = forward_logps(model, batch)[0]
            b = logps.size(0) // 2
            m = beta * ((logps[:b] - ref[:b]) - (logps[b:] - ref[b:]))
            acc += (m > 0).float().tolist()
            margin += m.tolist()
            logp_acc += (logps[:b] > logps[b:]).float().tolist()
    model.train(was_training)
    return {
        "rewards/accuracy": float(np.mean(acc)),
        "rewards/margin": float(np.mean(margin)),
        "logp_accuracy": float(np.mean(logp_acc)),
    }
