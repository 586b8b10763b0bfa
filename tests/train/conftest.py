"""Fixtures for the trainer tests: a tiny Llama built from a config, a small overfit set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

#: A handful of short chats the tiny model can overfit in a few steps.
OVERFIT_CHATS = [
    [
        {"role": "user", "content": "What colour is the sky?"},
        {"role": "assistant", "content": "Blue."},
    ],
    [{"role": "user", "content": "Two plus two?"}, {"role": "assistant", "content": "Four."}],
    [{"role": "user", "content": "Capital of France?"}, {"role": "assistant", "content": "Paris."}],
    [{"role": "user", "content": "Say hello."}, {"role": "assistant", "content": "Hello there!"}],
    [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Opposite of hot?"},
        {"role": "assistant", "content": "Cold."},
    ],
    [{"role": "user", "content": "Name a fruit."}, {"role": "assistant", "content": "An apple."}],
]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, sp_model_path: Path) -> Path:
    """A randomly initialised 2-layer Llama (hidden 64) with the real 32k tokenizer."""
    from sfttrain import tiny_llama

    return tiny_llama(tmp_path_factory.mktemp("tiny"), tokenizer_path=sp_model_path, seed=0)


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir: Path) -> Any:
    from sfttrain import load_tokenizer

    return load_tokenizer(tiny_model_dir)


def encoded_rows(tokenizer: Any, *, repeat: int = 2) -> Any:
    """OVERFIT_CHATS encoded by sftdata with the llama2 template, as a ``datasets.Dataset``."""
    import datasets

    import sftdata as sd

    template = sd.templates.get("llama2")
    rows = [sd.encode(m, tokenizer, template, max_length=128) for m in OVERFIT_CHATS * repeat]
    return datasets.Dataset.from_list(
        [{"input_ids": list(r["input_ids"]), "labels": list(r["labels"])} for r in rows]
    )


def base_config(model_dir: Path, out: Path, **overrides: Any) -> Any:
    from sfttrain import TrainConfig

    data: dict[str, Any] = {
        "model": str(model_dir),
        "train_files": ["unused.jsonl"],
        "output_dir": str(out),
        "template": "llama2",
        "method": "lora",
        "max_steps": 6,
        "batch_size": 4,
        "logging_steps": 2,
        "learning_rate": 1e-2,
        "lr_scheduler": "constant",
        "packing": False,
        "trackers": ["jsonl"],
        "progress_bar": False,
        "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
    }
    data.update(overrides)
    return TrainConfig.from_dict(data)
