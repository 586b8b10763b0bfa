"""``stage: grpo``: online RL through TRL's ``GRPOTrainer``, prompts in sftdata's ids.

Rows of ``train_files`` carry ``prompt`` (a user message as text, or a message list
ending with a user turn); every other column is handed to the reward functions. Each
prompt is encoded exactly as training and inference encode it (the template's
rendering plus its generation prompt, ``sfttrain.generate``'s ids), ``num_generations``
answers are sampled per prompt, and each answer's advantage is its reward minus the
group mean (scaled by the group's standard deviation).

Rewards, summed:

- ``grpo.rewards``: ``"module:function"``; TRL's calling convention,
  ``fn(prompts, completions, **columns) -> list[float]`` where a completion is
  ``[{"role": "assistant", "content": text}]``;
- ``grpo.reward_models``: folders saved by a ``stage: reward`` run, scoring
  ``prompt + answer`` encoded by sftdata as that reward model was trained.
"""

from __future__ import annotations

import functools
import importlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sfttrain.config import ConfigError, TrainConfig


def load_reward_function(name: str, index: int = 0) -> Callable[..., Any]:
    """``"module:function"`` -> the function (a :class:`ConfigError` names the key)."""
    module_name, _, attr = name.partition(":")
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"grpo.rewards[{index}]: cannot load {name!r} ({e})") from None
    if not callable(fn):
        raise ConfigError(f"grpo.rewards[{index}]: {name!r} is not callable")
    return fn  # type: ignore[no-any-return]


@dataclass
class RewardModelFunction:
    """A saved reward model as a TRL reward function (``__name__`` names it in the logs)."""

    path: str
    max_length: int = 1024
    __name__: str = field(init=False, default="reward_model")
    _loaded: Any = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        self.__name__ = f"reward_model:{Path(self.path).name}"

    def __call__(self, prompts: list[Any], completions: list[Any], **_: Any) -> list[float]:
        from sfttrain._reward import load_reward_for_inference, score_conversations

        if self._loaded is None:
            self._loaded = load_reward_for_inference(self.path)
        model, tokenizer, template = self._loaded
        convs = [[*p, *c] for p, c in zip(prompts, completions, strict=True)]
        return score_conversations(model, tokenizer, template, convs, max_length=self.max_length)


def reward_functions(cfg: TrainConfig) -> list[Any]:
    """Every reward of ``cfg.grpo``, loaded (functions first, then reward models)."""
    fns: list[Any] = [load_reward_function(n, i) for i, n in enumerate(cfg.grpo.rewards)]
    for i, path in enumerate(cfg.grpo.reward_models):
        if not Path(path).is_dir():
            raise ConfigError(f"grpo.reward_models[{i}]: no such folder {path!r}")
        fns.append(RewardModelFunction(path, max_length=cfg.max_length))
    return fns


def prompt_rows(cfg: TrainConfig) -> Any:
    """The ``prompt`` rows of ``cfg.train_files`` as message lists (bad rows counted, dropped)."""
    import datasets

    from sfttrain._data import _json_rows

    rows, bad = [], 0
    for f in cfg.train_files:
        for row in _json_rows(Path(f if isinstance(f, str) else f.path)):
            prompt = row.get("prompt")
            if isinstance(prompt, str) and prompt.strip():
                prompt = [{"role": "user", "content": prompt}]
            if row.get("drop_reason") or not _is_prompt(prompt):
                bad += 1
                continue
            rows.append({**{k: v for k, v in row.items() if k != "drop_reason"}, "prompt": prompt})
    if not rows:
        raise ConfigError(f"train_files: no usable 'prompt' rows for stage grpo ({bad} bad)")
    return datasets.Dataset.from_list(rows), bad


def _is_prompt(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in value)
        and value[-1].get("role") == "user"
    )


def grpo_arguments(cfg: TrainConfig) -> Any:
    """``trl.GRPOConfig`` from ``cfg``: the keys every stage shares plus ``cfg.grpo``."""
    from trl import GRPOConfig

    from sfttrain._train import training_kwargs

    g = cfg.grpo
    return GRPOConfig(
        **training_kwargs(cfg),
        num_generations=g.num_generations,
        max_completion_length=g.max_new_tokens,
        temperature=g.temperature,
        top_p=g.top_p,
        top_k=g.top_k,
        beta=g.beta,
    )


@functools.cache
def _trainer_class() -> Any:
    from trl import GRPOTrainer

    class SftdataGRPOTrainer(GRPOTrainer):  # type: ignore[misc]
        """GRPOTrainer whose prompts are sftdata's ids for the training template."""

        sft_template: Any = None

        def _tokenize_prompts(self, prompts: list[Any]) -> tuple[list[list[int]], None, dict]:
            from sfttrain._generate import prompt_ids

            tok = self.processing_class
            return [prompt_ids(tok, self.sft_template, p) for p in prompts], None, {}

    return SftdataGRPOTrainer


def train_grpo(cfg: TrainConfig, *, callbacks: Sequence[Any] = ()) -> Any:
    """Run GRPO as ``cfg`` says; returns a ``TrainResult`` (losses = the logged losses)."""
    from transformers import set_seed

    from sfttrain._data import get_template
    from sfttrain._export import template_jinja
    from sfttrain._generate import save_template_name
    from sfttrain._model import load_model, load_tokenizer
    from sfttrain._train import TrainResult, _save_config
    from sfttrain._trainer import resume_from
    from sfttrain.tracking import run_callbacks

    cfg.check_paths()
    rewards = reward_functions(cfg)
    dataset, bad = prompt_rows(cfg)
    resume = resume_from(cfg.resume, cfg.output_dir)
    set_seed(cfg.seed)
    tokenizer = load_tokenizer(cfg.tokenizer_path, trust_remote_code=cfg.trust_remote_code)
    template = get_template(cfg.template, tokenizer)
    tokenizer.chat_template = template_jinja(template)
    _save_config(cfg)
    extra = run_callbacks(cfg, dataset)
    trainer = _trainer_class()(
        model=load_model(cfg),
        reward_funcs=rewards,
        args=grpo_arguments(cfg),
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[*extra, *callbacks],
    )
    trainer.sft_template = template
    start = time.perf_counter()
    out = trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - start
    final = Path(cfg.output_dir) / "final"
    trainer.save_model(str(final))
    save_template_name(final, cfg.template, template)
    history = trainer.state.log_history
    result = TrainResult(
        output_dir=Path(cfg.output_dir),
        final_dir=final,
        steps=int(out.global_step),
        seconds=seconds,
        tokens_per_s=0.0,
        losses=tuple(float(h["loss"]) for h in history if "loss" in h),
        counts={"read": len(dataset) + bad, "prompts": len(dataset)},
        resumed_from=resume,
    )
    print(result.summary(), flush=True)
    return result
