"""TrainConfig: typed, validated before any work, errors that name the key."""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sfttrain import ConfigError, TrainConfig
from sfttrain import config as C

EXAMPLES = Path(__file__).parents[2] / "examples"
BASE = {"model": "m", "train_files": ["a.jsonl"], "output_dir": "o"}

LITERAL_KEYS = {
    name: typing.get_args(tp)
    for name, tp in typing.get_type_hints(TrainConfig).items()
    if typing.get_origin(tp) is typing.Literal
}


@st.composite
def valid_configs(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = dict(BASE)
    for key, allowed in LITERAL_KEYS.items():
        if draw(st.booleans()):
            data[key] = draw(st.sampled_from(allowed))
    data["padding_side"] = "right"
    data["max_length"] = draw(st.integers(1, 1 << 16))
    data["learning_rate"] = draw(st.floats(1e-7, 1.0))
    data["warmup"] = draw(st.one_of(st.floats(0, 0.99), st.integers(0, 1000).map(float)))
    data["lora"] = {
        "r": draw(st.integers(1, 256)),
        "target_modules": draw(
            st.one_of(
                st.just("all-linear"), st.lists(st.sampled_from(["q_proj", "v_proj"]), min_size=1)
            )
        ),
    }
    data["quant"] = {"quant_type": draw(st.sampled_from(["nf4", "fp4"]))}
    data["trackers"] = draw(st.lists(st.sampled_from(["tensorboard", "jsonl", "mlflow", "wandb"])))
    if data.get("method") == "qlora":
        data.pop("deepspeed", None)
    if data.get("stage") == "grpo":  # online RL needs a reward
        data["grpo"] = {"rewards": ["rewards:length"]}
    return data


@settings(max_examples=40)
@given(valid_configs())
def test_yaml_round_trip(data: dict[str, Any]) -> None:
    """Property: to_dict -> YAML -> from_dict gives back an equal config."""
    cfg = TrainConfig.from_dict(data)
    again = TrainConfig.from_dict(yaml.safe_load(yaml.safe_dump(cfg.to_dict())))
    assert again == cfg


@settings(max_examples=40)
@given(st.sampled_from(sorted(LITERAL_KEYS)), st.text(min_size=1, max_size=12))
def test_bad_choice_names_key_and_allowed_values(key: str, value: str) -> None:
    """Property: a value outside a Literal's choices -> ConfigError naming the key and all choices."""
    if value in LITERAL_KEYS[key]:
        return
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_dict({**BASE, key: value})
    msg = str(err.value)
    assert msg.startswith(f"{key}: ")
    assert all(repr(a) in msg for a in LITERAL_KEYS[key])


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"lora": {"alpah": 8}}, "lora.alpah: unknown key; did you mean 'alpha'?"),
        ({"learning_rat": 1e-4}, "learning_rat: unknown key; did you mean 'learning_rate'?"),
        ({"batch_size": "4"}, "batch_size: expected an integer, got '4'"),
        ({"packing": "yes"}, "packing: expected true/false, got 'yes'"),
        ({"learning_rate": "fast"}, "learning_rate: expected a number, got 'fast'"),
        ({"trackers": ["tb"]}, "trackers[0]: got 'tb'; allowed:"),
        ({"quant": {"quant_type": "int4"}}, "quant.quant_type: got 'int4'; allowed: 'nf4', 'fp4'"),
        ({"train_files": "a.jsonl"}, "train_files: expected a list"),
        (
            {"packing": True, "padding_side": "left"},
            "padding_side: packing trains with right padding",
        ),
        ({"max_steps": -1, "epochs": 0}, "epochs / max_steps"),
        ({"pipeline": ["FixText"]}, "pipeline[0]: expected 'module.Step'"),
        ({"lora": {"dropout": 1.5}}, "lora: need r > 0"),
    ],
)
def test_errors_name_the_key(extra: dict[str, Any], expected: str) -> None:
    """Property: each bad config raises ConfigError whose message starts at the bad key."""
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_dict({**BASE, **extra})
    assert expected in str(err.value)


def test_missing_required_key_is_named() -> None:
    """Property: leaving out a required key names it."""
    with pytest.raises(ConfigError, match="output_dir: required key is missing"):
        TrainConfig.from_dict({"model": "m", "train_files": ["a"]})


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_example_configs_validate(path: Path) -> None:
    """Property: every shipped example config loads and validates; its JSON side files parse."""
    cfg = TrainConfig.from_yaml(path)
    for side in (cfg.deepspeed, cfg.fsdp_config):
        if side is not None:
            assert isinstance(json.loads((EXAMPLES.parent / side).read_text()), dict)
    for f in cfg.train_files:
        p = f if isinstance(f, str) else f.path
        if p.startswith("examples/"):
            assert (EXAMPLES.parent / p).is_file(), p


@pytest.mark.slow  # imports transformers' Trainer
def test_train_checks_paths_before_loading_anything(tmp_path: Path) -> None:
    """Property: a missing local model is reported by key before any model or data is opened."""
    from sfttrain import train

    data = tmp_path / "a.jsonl"
    data.write_text("")
    cfg = TrainConfig.from_dict(
        {**BASE, "model": str(tmp_path / "nope"), "train_files": [str(data)]}
    )
    with pytest.raises(ConfigError, match="model: no such local path"):
        train(cfg)


@pytest.mark.slow  # imports transformers' Trainer
def test_training_arguments_carry_the_config() -> None:
    """Property: optimizer, schedule, warmup ratio and trackers reach TrainingArguments."""
    from sfttrain import training_arguments

    cfg = TrainConfig.from_dict(
        {
            **BASE,
            "optim": "paged_adamw_8bit",
            "warmup": 0.1,
            "lr_scheduler": "linear",
            "trackers": ["jsonl", "tensorboard"],
            "grad_accum": 3,
        }
    )
    args = training_arguments(cfg)
    assert args.optim == "paged_adamw_8bit"
    assert args.warmup_steps == pytest.approx(0.1)
    assert args.lr_scheduler_type == "linear"
    assert args.report_to == ["tensorboard"]  # jsonl is ours, not a transformers reporter
    assert args.gradient_accumulation_steps == 3
    assert args.remove_unused_columns is False


def test_dataclass_defaults_are_valid() -> None:
    """Property: the documented defaults form a valid config."""
    cfg = TrainConfig.from_dict(BASE)
    assert cfg.lora == C.LoraOptions() and cfg.quant == C.QuantOptions()
    assert cfg.trust_remote_code is False
