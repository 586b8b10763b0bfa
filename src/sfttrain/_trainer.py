"""The pieces sfttrain adds to ``transformers.Trainer``: token metrics, JSONL, atomic checkpoints.

Logged at every logging step, next to transformers' ``loss``, ``learning_rate`` and
``grad_norm``::

    train_tokens_per_s     real (non-pad) tokens per second, all processes
    loss_token_fraction    share of real tokens whose label is not -100
    fill                   real tokens / batch slots: packing (or padding) efficiency
    mem_gb                 peak accelerator memory, else the process's resident memory

A checkpoint folder counts as complete only once ``sfttrain_complete.json`` is in it;
that marker is written last, through a temporary file and an atomic rename, so a run
killed while saving leaves a folder that ``resume: auto`` skips.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from transformers import Trainer, TrainerCallback

COMPLETE_MARKER = "sfttrain_complete.json"
_PROGRESS = "progress.json"  # read by sfttrain._jobs.status
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


@dataclass
class TokenMeter:
    """Running counts of what the collator handed to the model since the last reset.

    ``total_tokens`` is never reset: the whole run's count, for its closing summary.
    """

    tokens: int = 0
    loss_tokens: int = 0
    slots: int = 0
    started: float = 0.0
    total_tokens: int = 0

    def reset(self) -> None:
        self.tokens = self.loss_tokens = self.slots = 0
        self.started = time.perf_counter()

    def add(self, features: Sequence[Mapping[str, Any]], batch: Mapping[str, Any]) -> None:
        for f in features:
            labels = f.get("labels")
            n = len(f["input_ids"])
            self.tokens += n
            self.total_tokens += n
            self.loss_tokens += (
                n if labels is None else int(np.count_nonzero(np.asarray(labels) != -100))
            )
        self.slots += int(batch["input_ids"].numel())


@dataclass(frozen=True)
class MeteredCollator:
    """Wrap a collator so every batch it builds is counted by ``meter``."""

    collate: Callable[[Sequence[Mapping[str, Any]]], dict[str, Any]]
    meter: TokenMeter

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        batch = self.collate(features)
        self.meter.add(features, batch)
        return batch


class SftTrainer(Trainer):
    """``transformers.Trainer`` plus token metrics in every log and a checkpoint marker."""

    def __init__(self, *args: Any, meter: TokenMeter | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.meter = meter

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if self.meter is not None and "loss" in logs:
            logs.update(_meter_metrics(self.meter, self.args.world_size))
            self.meter.reset()
        super().log(logs, start_time)

    def _save_checkpoint(self, model: Any, trial: Any) -> None:
        super()._save_checkpoint(model, trial)
        if self.args.should_save:
            folder = Path(str(self.args.output_dir)) / f"checkpoint-{self.state.global_step}"
            write_atomic(folder / COMPLETE_MARKER, json.dumps({"step": self.state.global_step}))


def _meter_metrics(meter: TokenMeter, world_size: int) -> dict[str, float]:
    seconds = max(time.perf_counter() - meter.started, 1e-9)
    out = {
        "train_tokens_per_s": meter.tokens * world_size / seconds,
        "loss_token_fraction": meter.loss_tokens / meter.tokens if meter.tokens else 0.0,
        "fill": meter.tokens / meter.slots if meter.slots else 0.0,
        "mem_gb": memory_gb(),
    }
    return {k: round(v, 4) for k, v in out.items()}


def memory_gb() -> float:
    """Peak CUDA memory when on GPU, else this process's resident set size (GiB)."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**30
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**30


class JsonlLogger(TrainerCallback):
    """Append every log dict (with its step) as one JSON line to ``path`` (main process only)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"step": state.global_step, **logs}) + "\n")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so readers see either nothing or the whole file."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def complete_checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete ``checkpoint-N`` folders in ``output_dir``, oldest first."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        m = _CHECKPOINT.match(p.name)
        if m and (p / COMPLETE_MARKER).is_file():
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


def resume_from(resume: str, output_dir: str | Path) -> str | None:
    """The checkpoint to resume from: ``auto`` = newest complete one, ``never`` = none."""
    if resume == "never":
        return None
    if resume == "auto":
        done = complete_checkpoints(output_dir)
        return str(done[-1]) if done else None
    if not (Path(resume) / COMPLETE_MARKER).is_file():
        raise FileNotFoundError(f"resume: {resume!r} is not a complete sfttrain checkpoint")
    return resume


class ProgressFile(TrainerCallback):
    """Write ``progress.json`` (step, max_steps, start time, now) at every log, main process only."""

    def __init__(self, output_dir: str | Path) -> None:
        self.path = Path(output_dir) / _PROGRESS
        self.started = time.time()
        self.first_step = 0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.started, self.first_step = time.time(), state.global_step
        self._write(state)

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
        self._write(state)

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self._write(state, finished=True)

    def _write(self, state: Any, finished: bool = False) -> None:
        if not state.is_world_process_zero:
            return
        info = {"step": state.global_step, "max_steps": state.max_steps, "started": self.started,
                "first_step": self.first_step, "time": time.time(), "finished": finished,
                "pid": os.getpid()}  # fmt: skip
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{_PROGRESS}.tmp{os.getpid()}")
        tmp.write_text(json.dumps(info), encoding="utf-8")
        os.replace(tmp, self.path)
