"""The sweep YAML: a base train config, what to vary, seeds, the data pipeline, the eval.

::

    out: ../../runs/sweeps/ablation   # the sweep folder (relative to this file; --out wins)
    base: ../tiny_cpu.yaml             # a train config file, or the config inline
    pipeline: ../pipelines/sft.yaml    # optional: an `sftdata run` YAML, or its keys inline
    eval: {heldout: ../data/heldout.jsonl}
    grid:                              # every combination ...
      pipeline.steps.dedup.exact: [true, false]   # a pipeline step on / off
      lora.r: [8, 16]                             # any train key, dotted for nested ones
    random: {n: 3, seed: 0}            # ... or n of them drawn at random
    seeds: [0, 1]                      # every variant is trained once per seed
    baseline: {pipeline.steps.dedup.exact: true, lora.r: 8}
    trackers: [jsonl, mlflow]          # optional: replaces base.trackers; mlflow nests runs
    parallel: 1                        # runs at once (--parallel wins)
    keep_checkpoints: false            # a finished run's checkpoints are deleted (final/ stays)
    tiny_model: ../../runs/tiny-llama  # optional: build a tiny random Llama here if missing

Keys under ``pipeline.`` change the data pipeline: ``pipeline.steps.<step>`` is
``true``/``false`` (keep / drop the step) or a mapping (its options);
``pipeline.steps.<step>.<option>`` sets one option; ``pipeline.inputs.<source>``
keeps / drops the inputs of one ``source``; any other ``pipeline.a.b`` sets that key.
Every other key is a train config key. Every variant's train config and pipeline are
validated before any work starts; an error names the key.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sfttrain.config import ConfigError, TrainConfig

_TOP: tuple[str, ...] = (
    "out",
    "base",
    "pipeline",
    "eval",
    "suite",
    "grid",
    "random",
    "seeds",
    "baseline",
)
_TOP += ("tiny_model", "trackers", "parallel", "keep_checkpoints")
#: train config keys holding local paths, resolved against the sweep file's folder
_PATH_KEYS = ("model", "tokenizer", "deepspeed", "fsdp_config")
#: train config keys the sweep owns (set per run)
_OWNED = ("output_dir", "seed")


@dataclass(frozen=True)
class Variant:
    """One point of the sweep: its swept settings and the seed it trains with."""

    settings: dict[str, Any]
    seed: int

    @property
    def key(self) -> str:
        """The settings (without the seed) as canonical JSON: equal settings, equal key."""
        return json.dumps(self.settings, sort_keys=True, default=str)


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep. Build it with :func:`load_sweep`."""

    file: Path
    out: Path
    base: dict[str, Any]
    pipeline: dict[str, Any] | None
    pipeline_base: Path
    eval: dict[str, Any]
    suite: Any
    axes: dict[str, list[Any]]
    variants: tuple[Variant, ...]
    baseline: dict[str, Any] | None
    tiny_model: Path | None = None
    trackers: tuple[str, ...] = ()
    parallel: int = 1
    keep_checkpoints: bool = False
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


def short_hash(*parts: Any, n: int = 10) -> str:
    """A stable hex digest of JSON-serialisable ``parts``."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:n]


def load_sweep(path: str | Path, *, out: str | Path | None = None) -> SweepSpec:
    """Read and validate a sweep YAML (every variant's config too) without doing any work."""
    import yaml

    file = Path(path).resolve()
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: cannot read the sweep: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return parse_sweep(data, file, out=out)


def parse_sweep(data: dict[str, Any], file: Path, *, out: str | Path | None = None) -> SweepSpec:
    """Validate sweep ``data`` read from ``file`` (relative paths resolve against its folder)."""
    here = file.parent
    for k in data:
        if k not in _TOP:
            raise ConfigError(f"{k}: unknown sweep key; known: {', '.join(_TOP)}")
    if out is None and "out" not in data:
        raise ConfigError("out: give the sweep folder (or pass --out)")
    out_dir = Path(out) if out is not None else _join(here, str(data["out"]))
    base = _base(data.get("base"), here)
    pipeline, pipeline_base = _pipeline(data.get("pipeline"), here)
    if pipeline is None and not base.get("train_files"):
        raise ConfigError("base.train_files: give data files, or a `pipeline:` that prepares them")
    axes = _axes(data.get("grid"))
    for key in axes:
        if key.startswith("pipeline.") and pipeline is None:
            raise ConfigError(f"grid.{key}: a pipeline key needs a `pipeline:` in the sweep")
        if key.split(".")[0] in _OWNED:
            raise ConfigError(f"grid.{key}: the sweep sets {key} itself (use `seeds:`)")
    seeds = _seeds(data.get("seeds", [0]))
    points = _points(axes, data.get("random"))
    variants = tuple(Variant(p, s) for p in points for s in seeds)
    baseline = data.get("baseline")
    if baseline is not None and (
        not isinstance(baseline, dict) or not any(_matches(p, baseline) for p in points)
    ):
        raise ConfigError(f"baseline: {baseline!r} names no variant of the grid")
    parallel = data.get("parallel", 1)
    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
        raise ConfigError(f"parallel: must be a positive integer, got {parallel!r}")
    spec = SweepSpec(
        file=file,
        out=out_dir,
        base=base,
        pipeline=pipeline,
        pipeline_base=pipeline_base,
        eval=_eval(data.get("eval"), here),
        suite=data.get("suite"),
        axes=axes,
        variants=variants,
        baseline=baseline,
        tiny_model=_join(here, str(data["tiny_model"])) if data.get("tiny_model") else None,
        trackers=tuple(data.get("trackers") or ()),
        parallel=parallel,
        keep_checkpoints=bool(data.get("keep_checkpoints", False)),
        raw=data,
    )
    for p in points:  # every variant's train config, checked before any work
        train_config(spec, Variant(p, seeds[0]), train_files=["<data>"], output_dir="<run>")
    return spec


def _join(here: Path, p: str) -> Path:
    path = Path(p).expanduser()
    return path if path.is_absolute() else (here / path).resolve()


def _base(value: Any, here: Path) -> dict[str, Any]:
    import yaml

    if isinstance(value, str):
        file = _join(here, value)
        try:
            value = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"base: cannot read {file}: {e}") from None
    if not isinstance(value, dict):
        raise ConfigError("base: give a train config (a mapping, or a path to its YAML)")
    base = copy.deepcopy(value)
    for key in _PATH_KEYS:
        if isinstance(base.get(key), str):
            base[key] = str(_join(here, base[key]))
    for key in ("train_files", "eval_files"):
        files = base.get(key) or []
        base[key] = [
            {**f, "path": str(_join(here, f["path"]))}
            if isinstance(f, dict) and "path" in f
            else str(_join(here, f))
            if isinstance(f, str)
            else f
            for f in files
        ]
    return base


def _pipeline(value: Any, here: Path) -> tuple[dict[str, Any] | None, Path]:
    import yaml

    if value is None:
        return None, here
    if isinstance(value, str):
        file = _join(here, value)
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"pipeline: cannot read {file}: {e}") from None
        return _pipeline_mapping(data), file.parent
    return _pipeline_mapping(value), here


def _pipeline_mapping(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or "inputs" not in data:
        raise ConfigError("pipeline: expected an `sftdata run` spec with `inputs:` and `steps:`")
    # the sweep decides where prepared data goes
    return {k: v for k, v in data.items() if k not in ("output", "rejects", "report")}


def _eval(value: Any, here: Path) -> dict[str, Any]:
    allowed = ("heldout", "choices", "generation", "parser", "max_length", "batch_size")
    value = value or {}
    if not isinstance(value, dict):
        raise ConfigError("eval: expected a mapping like {heldout: data/heldout.jsonl}")
    out = {}
    for k, v in value.items():
        if k not in allowed:
            raise ConfigError(f"eval.{k}: unknown key; known: {', '.join(allowed)}")
        out[k] = str(_join(here, v)) if k in ("heldout", "choices", "generation") else v
        if k in ("heldout", "choices", "generation") and not Path(out[k]).is_file():
            raise ConfigError(f"eval.{k}: no such file {out[k]!r}")
    return out


def _axes(grid: Any) -> dict[str, list[Any]]:
    if grid is None:
        return {}
    if not isinstance(grid, dict):
        raise ConfigError("grid: expected a mapping of key -> list of values")
    for k, v in grid.items():
        if not isinstance(v, list) or not v:
            raise ConfigError(f"grid.{k}: expected a non-empty list of values, got {v!r}")
    return {str(k): list(v) for k, v in grid.items()}


def _seeds(value: Any) -> list[int]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"seeds: expected a non-empty list of integers, got {value!r}")
    for s in value:
        if isinstance(s, bool) or not isinstance(s, int):
            raise ConfigError(f"seeds: expected integers, got {s!r}")
    if len(set(value)) != len(value):
        raise ConfigError(f"seeds: repeated seed in {value}")
    return list(value)


def _points(axes: dict[str, list[Any]], rand: Any) -> list[dict[str, Any]]:
    """The grid's combinations, or ``random.n`` of them drawn with ``random.seed``."""
    keys = list(axes)
    points = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*axes.values())]
    if rand is None:
        return points
    if not isinstance(rand, dict) or set(rand) - {"n", "seed"}:
        raise ConfigError(f"random: expected {{n: N, seed: S}}, got {rand!r}")
    n = rand.get("n")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"random.n: expected a positive integer, got {n!r}")
    rng = random.Random(rand.get("seed", 0))
    return rng.sample(points, min(n, len(points)))


def _matches(point: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(point.get(k) == v for k, v in wanted.items())


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """``set_dotted(d, "lora.r", 16)`` sets ``d["lora"]["r"] = 16`` (creating mappings)."""
    *head, last = key.split(".")
    node = data
    for part in head:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[last] = value


def train_config(
    spec: SweepSpec, variant: Variant, *, train_files: list[Any], output_dir: str
) -> TrainConfig:
    """The variant's validated train config (an error names the swept key)."""
    data = copy.deepcopy(spec.base)
    for key, value in variant.settings.items():
        if not key.startswith("pipeline."):
            set_dotted(data, key, value)
    if spec.pipeline is not None or not data.get("train_files"):
        data["train_files"] = train_files
    if spec.tiny_model is not None and "model" not in data:
        data["model"] = str(spec.tiny_model)
    data["output_dir"] = output_dir
    data["seed"] = variant.seed
    if spec.trackers:
        data["trackers"] = list(spec.trackers)
    swept = ", ".join(f"{k}={v!r}" for k, v in variant.settings.items())
    try:
        cfg = TrainConfig.from_dict(data)
    except ConfigError as e:
        raise ConfigError(f"variant ({swept}): {e}") from None
    if cfg.stage != "sft":  # runs are prepared and evaluated as SFT conversations
        raise ConfigError(
            f"variant ({swept}): stage: a sweep trains stage 'sft' only, got {cfg.stage!r}"
        )
    return cfg
