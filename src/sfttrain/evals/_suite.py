"""An evaluation suite: which tasks, how they are asked, checked before any model loads.

::

    seed: 0                  # few-shot picks, perturbations, bootstrap, sampling
    batch_size: 8
    max_new_tokens: 24
    chat_template: false     # true: each prompt is a user turn of the model's template
    template: llama2         # with chat_template: for models that record no template
    bos: true                # plain prompts start with BOS (lm-eval: add_bos_token=True)
    bootstrap: 1000          # resamples for the 95% intervals
    train_data: []           # files the models were trained on (default: the run's config)
    contamination_ngram: 8
    tasks:
      - {name: mmlu, format: mmlu, file: mmlu.jsonl, shots: 2,
         robustness: [typos, casing, whitespace, choice_order]}
      - {name: gsm8k, format: gsm8k, file: gsm8k.jsonl}
      - {name: needle, format: needle, n: 2, context_words: 120, depths: [0.0, 0.5, 1.0]}
      - {name: code, format: humaneval, file: humaneval.jsonl, samples: 4, k: [1, 2]}
      - {name: alignment, format: alignment, file: builtin:alignment}
      - {name: fairness, format: fairness, file: builtin:fairness}

Files are relative to the suite file; ``builtin:alignment`` and ``builtin:fairness`` are
the small sets shipped with sfttrain.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sftdata import SftDataError
from sfttrain.evals._formats import FORMATS, load_task, needle_items
from sfttrain.evals._items import Item
from sfttrain.evals._perturb import PERTURBATIONS

BUILTIN = Path(__file__).parent / "data"
_TOP = {
    "seed": int, "batch_size": int, "max_new_tokens": int, "chat_template": bool, "bos": bool,
    "bootstrap": int, "train_data": list, "contamination_ngram": int, "tasks": list,
    "max_length": int, "template": str, "progress": bool,
}  # fmt: skip
_TASK = {
    "name": str, "format": str, "file": str, "shots": int, "robustness": list, "limit": int,
    "n": int, "context_words": int, "depths": list, "samples": int, "k": list,
    "temperature": float, "max_new_tokens": int, "timeout": float,
}  # fmt: skip


class SuiteError(SftDataError):
    """A suite file is malformed; the message names the key."""


@dataclass(frozen=True)
class TaskSpec:
    """One task of a suite (see the module docstring for the keys)."""

    name: str
    format: str
    file: Path | None = None
    shots: int = 0
    robustness: tuple[str, ...] = ()
    limit: int | None = None
    options: dict[str, Any] = field(default_factory=dict, compare=False)

    def items(self, seed: int) -> list[Item]:
        """The task's items (generated for ``needle``, read from ``file`` otherwise)."""
        if self.format == "needle":
            o = self.options
            items = needle_items(
                o.get("n", 2), context_words=o.get("context_words", 120),
                depths=tuple(o.get("depths", (0.0, 0.5, 1.0))), seed=seed, task=self.name,
            )  # fmt: skip
        else:
            assert self.file is not None
            items = load_task(self.file, self.format, name=self.name)
        return items[: self.limit] if self.limit else items


@dataclass(frozen=True)
class Suite:
    """A whole suite; :meth:`load` checks every key first."""

    tasks: tuple[TaskSpec, ...]
    seed: int = 0
    batch_size: int = 8
    max_new_tokens: int = 24
    max_length: int = 2048
    chat_template: bool = False
    bos: bool = True
    bootstrap: int = 1000
    train_data: tuple[Path, ...] = ()
    contamination_ngram: int = 8
    template: str | None = None
    progress: bool = True

    @classmethod
    def load(cls, path: str | Path) -> Suite:
        import yaml

        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"no suite file at {str(p)!r}")
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
        return cls.from_dict(data, base=p.parent)

    @classmethod
    def from_dict(cls, data: Any, *, base: Path = Path(".")) -> Suite:
        if not isinstance(data, dict):
            raise SuiteError("suite: expected a mapping at the top")
        _check_keys(data, _TOP, "")
        if not data.get("tasks"):
            raise SuiteError("tasks: give at least one task")
        tasks = tuple(_task(t, i, base) for i, t in enumerate(data["tasks"]))
        names = [t.name for t in tasks]
        if len(set(names)) != len(names):
            raise SuiteError(f"tasks: names must be unique, got {names}")
        top = {k: v for k, v in data.items() if k not in ("tasks", "train_data")}
        for key in ("batch_size", "max_new_tokens", "bootstrap", "contamination_ngram"):
            if key in top and top[key] < 1:
                raise SuiteError(f"{key}: must be >= 1, got {top[key]}")
        train = tuple(_path(f, base, "train_data") for f in data.get("train_data", []))
        return cls(tasks=tasks, train_data=train, **top)


def _check_keys(data: dict[str, Any], known: dict[str, Any], prefix: str) -> None:
    for key, value in data.items():
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise SuiteError(f"{prefix}{key}: unknown key{hint} known: {sorted(known)}")
        kind = known[key]
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            raise SuiteError(f"{prefix}{key}: expected {kind.__name__}, got {value!r}")


def _path(value: Any, base: Path, key: str) -> Path:
    if not isinstance(value, str) or not value:
        raise SuiteError(f"{key}: expected a file name, got {value!r}")
    if value.startswith("builtin:"):
        p = BUILTIN / f"{value.removeprefix('builtin:')}.jsonl"
    else:
        p = Path(value) if Path(value).is_absolute() else base / value
    if not p.is_file():
        raise SuiteError(f"{key}: no file at {str(p)!r}")
    return p


def _task(raw: Any, i: int, base: Path) -> TaskSpec:
    where = f"tasks[{i}]."
    if not isinstance(raw, dict):
        raise SuiteError(f"tasks[{i}]: expected a mapping, got {raw!r}")
    _check_keys(raw, _TASK, where)
    fmt = raw.get("format")
    if fmt not in FORMATS:
        raise SuiteError(f"{where}format: got {fmt!r}; allowed: {sorted(FORMATS)}")
    file = None if fmt == "needle" else _path(raw.get("file"), base, f"{where}file")
    bad = [p for p in raw.get("robustness", []) if p not in PERTURBATIONS]
    if bad:
        raise SuiteError(f"{where}robustness: unknown {bad}; allowed: {list(PERTURBATIONS)}")
    for key in ("shots", "limit", "samples", "n", "context_words"):
        if key in raw and raw[key] < (0 if key == "shots" else 1):
            raise SuiteError(f"{where}{key}: out of range, got {raw[key]}")
    name = raw.get("name") or (file.stem if file else fmt)
    options = {
        k: v
        for k, v in raw.items()
        if k not in ("name", "format", "file", "shots", "robustness", "limit")
    }
    return TaskSpec(
        name=name, format=fmt, file=file, shots=raw.get("shots", 0),
        robustness=tuple(raw.get("robustness", ())), limit=raw.get("limit"), options=options,
    )  # fmt: skip
