"""Preference / RL options of TrainConfig: every bad value names its key before any work."""

from __future__ import annotations

from typing import Any

import pytest

from sfttrain import ConfigError, TrainConfig

BASE = {"model": "m", "train_files": ["a.jsonl"], "output_dir": "o"}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"stage": "rlhf"}, "stage: got 'rlhf'; allowed: 'sft', 'pretrain', 'reward', 'dpo'"),
        ({"stage": "dpo", "preference": {"loss_type": "sigmod"}}, "preference.loss_type: got"),
        ({"stage": "dpo", "preference": {"beta": 0}}, "preference.beta: must be > 0"),
        ({"stage": "dpo", "preference": {"beta": -1.0}}, "preference.beta: must be > 0"),
        ({"stage": "dpo", "preference": {"beta": "big"}}, "preference.beta: expected a number"),
        ({"stage": "dpo", "preference": {"betta": 0.1}}, "preference.betta: unknown key; did you"),
        (
            {"stage": "dpo", "preference": {"loss_type": "robust", "label_smoothing": 0.5}},
            "preference.label_smoothing: must be in [0, 0.5)",
        ),
        (
            {"stage": "dpo", "preference": {"label_smoothing": 0.1}},
            "preference.label_smoothing: only used with loss_type: robust",
        ),
        ({"stage": "orpo", "preference": {"loss_type": "ipo"}}, "preference.loss_type: 'ipo' is"),
        ({"stage": "dpo", "preference": {"gamma": -1}}, "preference.gamma: must be >= 0"),
        (
            {"stage": "dpo", "max_length": 64, "preference": {"max_prompt_length": 64}},
            "preference.max_prompt_length: must be in (0, max_length=64)",
        ),
        (
            {"stage": "dpo", "preference": {"loss_type": "simpo", "precompute_ref": True}},
            "preference.precompute_ref: only for stage dpo with a reference",
        ),
        ({"stage": "kto", "preference": {"desirable_weight": 0}}, "preference.desirable_weight"),
        ({"stage": "grpo"}, "grpo.rewards: stage grpo needs a reward"),
        ({"stage": "grpo", "grpo": {"rewards": ["nomodule"]}}, "grpo.rewards[0]: expected"),
        ({"stage": "grpo", "grpo": {"rewards": "m:f"}}, "grpo.rewards: expected a list"),
        (
            {"stage": "grpo", "grpo": {"rewards": ["m:f"], "num_generations": 1}},
            "grpo.num_generations: must be >= 2",
        ),
        ({"stage": "grpo", "grpo": {"rewards": ["m:f"], "top_p": 0}}, "grpo: need max_new_tokens"),
        ({"preference": {"beta": 0.5}}, "preference: used by stages reward, dpo, orpo, kto"),
        ({"stage": "dpo", "grpo": {"rewards": ["m:f"]}}, "grpo: used by stage grpo only"),
        ({"stage": "pretrain", "eval_files": ["a.jsonl"]}, "eval_files: stage pretrain"),
        (
            {"stage": "grpo", "grpo": {"rewards": ["m:f"]}, "eval_files": ["a.jsonl"]},
            "eval_files: stage grpo",
        ),
        (
            {"stage": "grpo", "grpo": {"rewards": ["m:f"]}, "gradient_checkpointing": True},
            "gradient_checkpointing: not passed to GRPO training",
        ),
    ],
)
def test_bad_preference_config_names_the_key(extra: dict[str, Any], expected: str) -> None:
    """Property: each bad stage / preference / grpo value is a ConfigError naming the key."""
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_dict({**BASE, **extra})
    assert expected in str(err.value)


def test_stage_defaults() -> None:
    """Property: sft is the default stage; dpo defaults to the sigmoid loss, beta 0.1."""
    cfg = TrainConfig.from_dict(BASE)
    assert cfg.stage == "sft"
    dpo = TrainConfig.from_dict({**BASE, "stage": "dpo", "method": "full"})
    assert (dpo.preference.loss_type, dpo.preference.beta, dpo.method) == ("sigmoid", 0.1, "full")
    grpo = TrainConfig.from_dict({**BASE, "stage": "grpo", "grpo": {"rewards": ["m:f"]}})
    assert grpo.grpo.rewards == ("m:f",) and TrainConfig.from_dict(grpo.to_dict()) == grpo
