"""Preference rows for training: read -> parse -> ``sd.EncodePreference`` -> pair batches.

Encoded pair rows (sftdata's contract; labels unshifted, ``-100`` = no loss)::

    prompt_input_ids    <s> [INST] q [/INST]                   an exact prefix of both
    chosen_input_ids    <s> [INST] q [/INST] good </s>         == sd.encode(prompt + chosen)
    chosen_labels       -100 ...             good </s>
    rejected_input_ids  <s> [INST] q [/INST] bad </s>
    rejected_labels     -100 ...             bad </s>

:class:`PairCollator` stacks a batch of B pairs as 2B right-padded rows, the chosen
rows first, so one forward pass scores both sides; :class:`KtoCollator` batches
unpaired rows (``input_ids``, ``labels``, ``kto_label``: desirable or not).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sftdata import DROP_REASON
from sfttrain.config import ConfigError, DataFile, TrainConfig

PAIR_COLUMNS = (
    "prompt_input_ids",
    "chosen_input_ids",
    "chosen_labels",
    "rejected_input_ids",
    "rejected_labels",
)
REF_COLUMNS = ("ref_chosen_logps", "ref_rejected_logps")


def _pad(rows: Sequence[Sequence[int]], value: int, length: int) -> Any:
    import torch

    out = torch.full((len(rows), length), value, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.as_tensor(list(r), dtype=torch.long)
    return out


def _batch(
    ids: Sequence[Sequence[int]], labels: Sequence[Sequence[int]], pad_id: int
) -> dict[str, Any]:
    import torch

    length = max(len(r) for r in ids)
    mask = torch.zeros((len(ids), length), dtype=torch.long)
    for i, r in enumerate(ids):
        mask[i, : len(r)] = 1
    return {
        "input_ids": _pad(ids, pad_id, length),
        "attention_mask": mask,
        "labels": _pad(labels, -100, length),
    }


@dataclass(frozen=True)
class PairCollator:
    """B encoded pairs -> ``input_ids`` / ``attention_mask`` / ``labels`` of shape (2B, L):
    rows 0..B-1 the chosen sequences, rows B..2B-1 the rejected ones, padded by
    ``sd.PreferenceCollator`` (both sides one width); reference log-probs (when
    precomputed) ride along as ``ref_chosen_logps`` / ``ref_rejected_logps``.

    >>> c = PairCollator(pad_token_id=0)
    >>> b = c([{"prompt_input_ids": [1], "chosen_input_ids": [1, 5, 6],
    ...         "chosen_labels": [-100, 5, 6], "rejected_input_ids": [1, 7],
    ...         "rejected_labels": [-100, 7]}])
    >>> b["input_ids"].tolist(), b["labels"].tolist()
    ([[1, 5, 6], [1, 7, 0]], [[-100, 5, 6], [-100, 7, -100]])
    """

    pad_token_id: int

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        import torch

        from sftdata import PreferenceCollator

        pairs = PreferenceCollator(self.pad_token_id)(list(features))
        out = {
            key: torch.cat([pairs[f"chosen_{key}"], pairs[f"rejected_{key}"]]).long()
            for key in ("input_ids", "attention_mask", "labels")
        }
        for key in REF_COLUMNS:
            if key in features[0]:
                out[key] = torch.tensor([float(f[key]) for f in features], dtype=torch.float32)
        return out


@dataclass(frozen=True)
class KtoCollator:
    """Unpaired rows -> padded ``input_ids`` / ``attention_mask`` / ``labels`` plus a
    boolean ``kto_label`` (True = desirable)."""

    pad_token_id: int

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        import torch

        out = _batch(
            [f["input_ids"] for f in features], [f["labels"] for f in features], self.pad_token_id
        )
        out["kto_label"] = torch.tensor([bool(f["kto_label"]) for f in features])
        if "ref_logps" in features[0]:
            out["ref_logps"] = torch.tensor([float(f["ref_logps"]) for f in features])
        return out


def unpair(pairs: Any) -> Any:
    """Pair rows -> KTO rows: each chosen answer desirable, each rejected one not."""
    import datasets

    rows: dict[str, list[Any]] = {"input_ids": [], "labels": [], "kto_label": []}
    for side, label in (("chosen", True), ("rejected", False)):
        rows["input_ids"] += pairs[f"{side}_input_ids"]
        rows["labels"] += pairs[f"{side}_labels"]
        rows["kto_label"] += [label] * len(pairs)
    return datasets.Dataset.from_dict(rows)


def _parse_preference_file(path: str, parser: str | None) -> Any:
    """One file's rows through an ``sftdata.parse`` preference step (rejects kept)."""
    import datasets

    from sftdata._batch import rows_to_batch
    from sfttrain._data import _json_rows, parser_step

    if Path(path).suffix == ".parquet":
        rows = datasets.Dataset.from_parquet(path).to_list()
    else:
        rows = _json_rows(Path(path))
    name = parser or "preference"
    try:
        step = parser_step(name)
    except ConfigError:  # anthropic_hh -> AnthropicHH
        step = parser_step(name.replace("_", ""))
    if not rows:
        return datasets.Dataset.from_dict({DROP_REASON: []})
    out = step(rows_to_batch(rows))
    return datasets.Dataset.from_dict(
        {k: out[k] for k in ("prompt", "chosen", "rejected", DROP_REASON) if k in out}
    )


def encode_pairs(
    files: tuple[str | DataFile, ...],
    tokenizer: Any,
    template: Any,
    cfg: TrainConfig,
    dropped: Counter[str],
) -> tuple[Any, dict[str, int]]:
    """Parse and encode preference files; kept encoded pairs and the counts per stage."""
    import datasets

    import sftdata as sd

    parts = [
        _parse_preference_file(f, cfg.parser)
        if isinstance(f, str)
        else _parse_preference_file(f.path, f.parser or cfg.parser)
        for f in files
    ]
    ds = parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)
    kept, rejected = sd.split_rejects(ds)
    dropped.update(rejected[DROP_REASON] if len(rejected) else [])
    counts = {"read": len(ds), "parsed": len(kept)}
    step = sd.EncodePreference(
        tokenizer,
        template,
        max_length=cfg.max_length,
        max_prompt_length=cfg.preference.max_prompt_length,
    )
    out = sd.apply(kept, step)
    kept, rejected = sd.split_rejects(out)
    dropped.update(rejected[DROP_REASON] if len(rejected) else [])
    counts["encoded"] = len(kept)
    return kept.select_columns(list(PAIR_COLUMNS)), counts


def prepare_pairs(cfg: TrainConfig, tokenizer: Any, template: Any) -> Any:
    """Train (and eval) pairs for a preference stage as a :class:`sfttrain.Prepared`."""
    from sfttrain._data import Prepared

    dropped: Counter[str] = Counter()
    train, counts = encode_pairs(cfg.train_files, tokenizer, template, cfg, dropped)
    if len(train) == 0:
        why = ", ".join(f"{r} {n}" for r, n in dropped.most_common(5))
        raise ConfigError(
            f"no training pairs left: {counts['read']} read, all dropped ({why or 'no rows'})"
        )
    evaluation = None
    if cfg.eval_files:
        evaluation, _ = encode_pairs(cfg.eval_files, tokenizer, template, cfg, Counter())
        counts["eval encoded"] = len(evaluation)
    return Prepared(train=train, eval=evaluation, counts=counts, dropped=dict(dropped))
