"""``TrainConfig``: the typed training config, loaded from YAML and validated up front.

A config is checked completely before any model, tokenizer or data file is opened, and
every error names the key (dotted for nested sections) and what it accepts::

    method: lorra        ->  ConfigError: method: got 'lorra'; allowed: 'full', 'lora', 'qlora'
    lora: {alpah: 8}     ->  ConfigError: lora.alpah: unknown key; did you mean 'alpha'? known: ...
    learning_rate: fast  ->  ConfigError: learning_rate: expected a number, got 'fast'

The smallest YAML that trains::

    model: ./tiny-llama          # a local folder (no hub downloads)
    train_files: [data/chat.jsonl]
    output_dir: runs/demo

>>> cfg = TrainConfig.from_dict({"model": "m", "train_files": ["a.jsonl"], "output_dir": "o"})
>>> cfg.method, cfg.lora.r, cfg.optim, cfg.trackers
('lora', 8, 'adamw_torch', ('tensorboard', 'jsonl'))
>>> TrainConfig.from_dict({"model": "m", "train_files": ["a.jsonl"], "output_dir": "o", "method": "lorra"})
Traceback (most recent call last):
...
sfttrain.config.ConfigError: method: got 'lorra'; allowed: 'full', 'lora', 'qlora'
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

Method = Literal["full", "lora", "qlora"]
Optim = Literal["adamw_torch", "adamw_8bit", "paged_adamw_8bit", "paged_adamw_32bit"]
Precision = Literal["fp32", "bf16", "fp16"]
Attention = Literal["sdpa", "flash_attention_2", "eager"]
Scheduler = Literal["linear", "cosine", "constant", "constant_with_warmup"]
Tracker = Literal["tensorboard", "jsonl", "mlflow", "wandb"]
LossOn = Literal["assistant", "last", "all"]
PaddingSide = Literal["right", "left"]
Dedup = Literal["none", "exact", "minhash"]
Stage = Literal["sft", "pretrain", "reward", "dpo", "orpo", "kto", "grpo"]
PreferenceLoss = Literal["sigmoid", "ipo", "hinge", "robust", "simpo"]


class ConfigError(ValueError):
    """A config key is missing, unknown, of the wrong type, or out of its allowed values."""


@dataclass(frozen=True)
class LoraOptions:
    """LoRA adapter shape. ``target_modules``: module names or ``"all-linear"``.

    ``modules_to_save`` are trained in full next to the adapters (``lm_head`` for a
    new or untrained output layer; ``embed_tokens`` after adding tokens).
    """

    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: tuple[str, ...] | Literal["all-linear"] = "all-linear"
    modules_to_save: tuple[str, ...] = ()


@dataclass(frozen=True)
class QuantOptions:
    """bitsandbytes 4-bit weights for ``method: qlora``."""

    quant_type: Literal["nf4", "fp4"] = "nf4"
    double_quant: bool = True
    compute_dtype: Literal["float32", "bfloat16", "float16"] = "float32"


@dataclass(frozen=True)
class PreferenceOptions:
    """Options of the preference stages (``dpo``, ``orpo``, ``kto``, ``reward``).

    ``loss_type`` (dpo only): ``sigmoid`` (DPO), ``ipo``, ``hinge``, ``robust`` (DPO
    with ``label_smoothing``, the assumed share of flipped labels) or ``simpo``
    (reference-free, length-normalised, target margin ``gamma``). ``beta`` is the
    strength of the implicit KL penalty (dpo, kto) and ORPO's odds-ratio weight (orpo).
    ``precompute_ref`` computes the reference log-probs once before training and caches
    them in ``output_dir/ref_logps``. ``desirable_weight`` / ``undesirable_weight``
    weigh KTO's two kinds of rows. ``max_prompt_length`` cuts prompts from the left.
    """

    loss_type: PreferenceLoss = "sigmoid"
    beta: float = 0.1
    label_smoothing: float = 0.0
    gamma: float = 0.5
    precompute_ref: bool = False
    max_prompt_length: int | None = None
    desirable_weight: float = 1.0
    undesirable_weight: float = 1.0


@dataclass(frozen=True)
class GrpoOptions:
    """Online RL (``stage: grpo``): rewards and sampling.

    ``rewards`` are ``"module:function"`` names (called as TRL reward functions:
    ``fn(prompts, completions, **columns) -> list[float]``); ``reward_models`` are
    folders saved by a ``stage: reward`` run. ``num_generations`` completions are sampled
    per prompt (the group whose mean is the baseline); ``beta`` > 0 adds a KL penalty.
    """

    rewards: tuple[str, ...] = ()
    reward_models: tuple[str, ...] = ()
    num_generations: int = 4
    max_new_tokens: int = 64
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    beta: float = 0.0


@dataclass(frozen=True)
class TrackingOptions:
    """Where the ``mlflow`` and ``wandb`` trackers write: local stores unless set otherwise.

    ``mlflow_uri``: default ``sqlite:///<output_dir>/mlflow.db`` (MLflow 3 refuses a bare
    ``file:`` store unless ``MLFLOW_ALLOW_FILE_STORE=true``). ``parent_run_id`` nests
    the run under another (a sweep sets it). ``wandb_mode: offline`` (default) writes
    under ``<output_dir>/wandb``; ``wandb sync`` uploads such a run later.
    """

    mlflow_uri: str | None = None
    experiment: str = "sfttrain"
    run_name: str | None = None
    parent_run_id: str | None = None
    wandb_project: str = "sfttrain"
    wandb_mode: Literal["offline", "online", "disabled"] = "offline"


@dataclass(frozen=True)
class DataFile:
    """One data file with its own ``sftdata.parse`` format (``None``: the config's ``parser``)."""

    path: str
    parser: str | None = None


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs; see the module docstring for the YAML form.

    ``template`` is a built-in sftdata template name, or ``"tokenizer"`` for the
    tokenizer's own ``chat_template``. ``parser`` is an ``sftdata.parse`` row format
    (``openai``, ``alpaca``, ``sharegpt``, ...) or ``None`` when rows already carry
    ``messages``; a data file may name its own (``{path: a.jsonl, parser: alpaca}``). ``pipeline`` lists extra sftdata steps as ``"clean.FixText"`` or
    ``{"step": "clean.QualityFilter", <keyword options>}``. ``warmup`` below 1 is a
    ratio of the total steps, otherwise a step count. ``resume`` is ``"auto"`` (the
    newest complete checkpoint in ``output_dir``, if any), ``"never"``, or a path.
    """

    model: str
    train_files: tuple[str | DataFile, ...]
    output_dir: str
    stage: Stage = "sft"
    # stage: pretrain, a new model: transformers config keys (model_type, sizes); the
    # vocabulary comes from the tokenizer and the initial weights are saved to `model`
    model_config: dict[str, Any] | None = None
    tokenizer: str | None = None
    trust_remote_code: bool = False
    template: str = "tokenizer"
    eval_files: tuple[str | DataFile, ...] = ()
    parser: str | None = None
    pipeline: tuple[Any, ...] = ()
    dedup: Dedup = "none"
    max_length: int = 1024
    packing: bool = True
    padding_side: PaddingSide = "right"
    loss_on: LossOn = "assistant"
    method: Method = "lora"
    lora: LoraOptions = field(default_factory=LoraOptions)
    quant: QuantOptions = field(default_factory=QuantOptions)
    optim: Optim = "adamw_torch"
    learning_rate: float = 2e-4
    weight_decay: float = 0.0
    lr_scheduler: Scheduler = "cosine"
    warmup: float = 0.0
    epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 4
    eval_batch_size: int = 8
    grad_accum: int = 1
    max_grad_norm: float = 1.0
    gradient_checkpointing: bool = False
    precision: Precision = "fp32"
    attn_implementation: Attention = "sdpa"
    seed: int = 0
    logging_steps: int = 10
    save_steps: int = 0
    eval_steps: int = 0
    save_total_limit: int | None = 3
    trackers: tuple[Tracker, ...] = ("tensorboard", "jsonl")
    tracking: TrackingOptions = field(default_factory=TrackingOptions)
    deepspeed: str | None = None
    fsdp: str = ""
    fsdp_config: str | None = None
    resume: str = "auto"
    progress_bar: bool = True
    preference: PreferenceOptions = field(default_factory=PreferenceOptions)
    grpo: GrpoOptions = field(default_factory=GrpoOptions)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build and validate a config from plain data (as read from YAML)."""
        cfg = _build(cls, data, prefix="")
        cfg.validate()
        return cfg

    @classmethod
    def from_yaml(cls, path: str | Path) -> TrainConfig:
        """Read a YAML file; relative data/model paths stay relative to the working directory."""
        import yaml

        text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of keys, got {data!r}")
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, not tuples) that ``from_dict`` reads back to an equal config."""
        return _plain(dataclasses.asdict(self))

    def validate(self) -> None:
        """Cross-key rules; each error names the key(s) involved."""
        _positive(self, "max_length", "batch_size", "eval_batch_size", "grad_accum")
        _positive(self, "logging_steps")
        if self.learning_rate <= 0:
            raise ConfigError(f"learning_rate: must be > 0, got {self.learning_rate}")
        if self.max_steps <= 0 and self.epochs <= 0:
            raise ConfigError("epochs / max_steps: set epochs > 0 or max_steps > 0")
        if self.warmup < 0:
            raise ConfigError(
                f"warmup: must be >= 0 (a ratio below 1, else steps), got {self.warmup}"
            )
        if not self.train_files:
            raise ConfigError("train_files: give at least one data file")
        if self.packing and self.padding_side != "right":
            raise ConfigError("padding_side: packing trains with right padding; set 'right'")
        if self.lora.r <= 0 or self.lora.alpha <= 0 or not 0 <= self.lora.dropout < 1:
            raise ConfigError(f"lora: need r > 0, alpha > 0, 0 <= dropout < 1; got {self.lora}")
        if self.method == "qlora" and self.deepspeed:
            raise ConfigError(
                "method / deepspeed: qlora (bitsandbytes 4-bit) is not used with ZeRO here"
            )
        if self.deepspeed and self.fsdp:
            raise ConfigError("deepspeed / fsdp: choose one of the two")
        if self.resume not in ("auto", "never") and not self.resume:
            raise ConfigError(f"resume: 'auto', 'never' or a checkpoint path, got {self.resume!r}")
        for i, spec in enumerate(self.pipeline):
            _check_step_spec(spec, i)
        _check_pretrain(self)
        _check_stage(self)

    def check_paths(self) -> None:
        """Check that local files exist (model, tokenizer, data, deepspeed); no loading."""
        for key in ("model", "tokenizer", "deepspeed", "fsdp_config"):
            value = getattr(self, key)
            if key == "model" and self.model_config is not None:
                continue  # a new model: its initial weights are written there
            if value is not None and not Path(value).exists():
                raise ConfigError(f"{key}: no such local path {value!r} (hub downloads are off)")
        for key in ("train_files", "eval_files"):
            for f in getattr(self, key):
                p = f if isinstance(f, str) else f.path
                if not Path(p).exists():
                    raise ConfigError(f"{key}: no such file {p!r}")

    @property
    def tokenizer_path(self) -> str:
        return self.tokenizer or self.model


def _check_pretrain(cfg: TrainConfig) -> None:
    """``stage: pretrain`` / ``model_config`` rules."""
    if cfg.model_config is None:
        return
    if cfg.stage != "pretrain":
        raise ConfigError("model_config: a new model is trained with stage: pretrain only")
    if cfg.method != "full":
        raise ConfigError(f"method: a new model (model_config) trains in full, got {cfg.method!r}")
    if cfg.tokenizer is None:
        raise ConfigError(
            "tokenizer: a new model (model_config) needs the tokenizer the shards were cut "
            "with (the shard folder's tokenizer/)"
        )
    if not isinstance(cfg.model_config.get("model_type"), str):
        raise ConfigError("model_config.model_type: required (e.g. 'llama')")


def _check_stage(cfg: TrainConfig) -> None:
    """Rules of the preference / RL options (see :class:`PreferenceOptions`); options a
    stage would ignore are refused rather than silently dropped."""
    p, g = cfg.preference, cfg.grpo
    if p != PreferenceOptions() and cfg.stage not in ("reward", "dpo", "orpo", "kto"):
        raise ConfigError(
            f"preference: used by stages reward, dpo, orpo, kto; stage is {cfg.stage!r}"
        )
    if g != GrpoOptions() and cfg.stage != "grpo":
        raise ConfigError(f"grpo: used by stage grpo only; stage is {cfg.stage!r}")
    if cfg.stage in ("pretrain", "grpo") and cfg.eval_files:
        raise ConfigError(f"eval_files: stage {cfg.stage} does not evaluate held-out files")
    if cfg.stage == "grpo":
        for key in ("deepspeed", "fsdp", "gradient_checkpointing"):
            if getattr(cfg, key):
                raise ConfigError(f"{key}: not passed to GRPO training (stage grpo); unset it")
    if not p.beta > 0:
        raise ConfigError(f"preference.beta: must be > 0, got {p.beta}")
    if not 0 <= p.label_smoothing < 0.5:
        raise ConfigError(
            f"preference.label_smoothing: must be in [0, 0.5), got {p.label_smoothing}"
        )
    if p.label_smoothing and p.loss_type != "robust":
        raise ConfigError("preference.label_smoothing: only used with loss_type: robust")
    if p.loss_type != "sigmoid" and cfg.stage != "dpo":
        raise ConfigError(
            f"preference.loss_type: {p.loss_type!r} is a dpo loss; stage is {cfg.stage!r}"
        )
    if p.gamma < 0:
        raise ConfigError(f"preference.gamma: must be >= 0, got {p.gamma}")
    if p.max_prompt_length is not None and not 0 < p.max_prompt_length < cfg.max_length:
        raise ConfigError(
            f"preference.max_prompt_length: must be in (0, max_length={cfg.max_length}), "
            f"got {p.max_prompt_length}"
        )
    if p.desirable_weight <= 0 or p.undesirable_weight <= 0:
        raise ConfigError("preference.desirable_weight / undesirable_weight: must be > 0")
    if p.precompute_ref and (cfg.stage != "dpo" or p.loss_type == "simpo"):
        raise ConfigError("preference.precompute_ref: only for stage dpo with a reference")
    if cfg.stage == "grpo":
        if not g.rewards and not g.reward_models:
            raise ConfigError("grpo.rewards: stage grpo needs a reward ('module:function')")
        for i, name in enumerate(g.rewards):
            if name.count(":") != 1 or not all(name.split(":")):
                raise ConfigError(f"grpo.rewards[{i}]: expected 'module:function', got {name!r}")
        if g.num_generations < 2:
            raise ConfigError(f"grpo.num_generations: must be >= 2, got {g.num_generations}")
        if (cfg.batch_size * cfg.grad_accum) % g.num_generations:
            raise ConfigError(
                f"grpo.num_generations: batch_size x grad_accum ({cfg.batch_size * cfg.grad_accum}) "
                f"must be a multiple of it ({g.num_generations})"
            )
        if g.max_new_tokens <= 0 or g.temperature <= 0 or not 0 < g.top_p <= 1 or g.beta < 0:
            raise ConfigError(
                "grpo: need max_new_tokens > 0, temperature > 0, 0 < top_p <= 1, beta >= 0"
            )


def _check_step_spec(spec: Any, i: int) -> None:
    name = spec.get("step") if isinstance(spec, dict) else spec
    if not isinstance(name, str) or "." not in name:
        raise ConfigError(
            f"pipeline[{i}]: expected 'module.Step' or {{step: 'module.Step', ...}}, got {spec!r}"
        )


def _positive(cfg: TrainConfig, *keys: str) -> None:
    for key in keys:
        if getattr(cfg, key) <= 0:
            raise ConfigError(f"{key}: must be > 0, got {getattr(cfg, key)}")


def _build(cls: type, data: Any, *, prefix: str) -> Any:
    """Construct dataclass ``cls`` from a mapping, converting and checking each key."""
    where = prefix.rstrip(".") or "config"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"{prefix}{key}: unknown key; {hint}known: {', '.join(fields)}")
    missing = [
        n
        for n, f in fields.items()
        if n not in data
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{prefix}{missing[0]}: required key is missing")
    kwargs = {k: _convert(hints[k], v, f"{prefix}{k}") for k, v in data.items()}
    return cls(**kwargs)


def _convert(tp: Any, value: Any, key: str) -> Any:
    """Check ``value`` against type ``tp`` and convert lists to tuples."""
    origin = typing.get_origin(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _build(tp, {} if value is None else value, prefix=f"{key}.")
    if origin in (Union, types.UnionType):
        errors = []
        for arm in typing.get_args(tp):
            try:
                return _convert(arm, value, key)
            except ConfigError as e:
                errors.append(str(e).split(": ", 1)[-1])
        raise ConfigError(f"{key}: got {value!r}; expected one of: {' | '.join(errors)}")
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{key}: got {value!r}; allowed: {', '.join(map(repr, allowed))}")
        return value
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise ConfigError(f"{key}: expected a mapping of names to values, got {value!r}")
        return dict(value)
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        arm = typing.get_args(tp)[0]
        return tuple(_convert(arm, v, f"{key}[{i}]") for i, v in enumerate(value))
    return _scalar(tp, value, key)


def _scalar(tp: Any, value: Any, key: str) -> Any:
    if tp is Any:
        return value
    if tp is type(None):
        if value is not None:
            raise ConfigError(f"{key}: expected null, got {value!r}")
        return None
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):  # YAML reads 2e-4 as a string
            try:
                return float(value)
            except ValueError:
                raise ConfigError(f"{key}: expected a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported type {tp!r}")  # pragma: no cover - a bug in our hints


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
