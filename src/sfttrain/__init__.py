"""sfttrain: a thin trainer over transformers + peft + bitsandbytes, fed by sftdata.

>>> import sfttrain
>>> cfg = sfttrain.TrainConfig.from_dict(
...     {"model": "models/tiny", "train_files": ["chat.jsonl"], "output_dir": "runs/x", "method": "qlora"})
>>> cfg.method, cfg.quant.quant_type, cfg.packing
('qlora', 'nf4', True)

``sfttrain.train(cfg)`` trains; ``sfttrain.evaluate``, ``sfttrain.export`` and
``sfttrain.generate`` work on what it saved. Names load lazily, so ``import sfttrain``
does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from sfttrain.config import ConfigError, DataFile, LoraOptions, QuantOptions, TrainConfig

_LAZY_NAMES = {
    "train": "sfttrain._train",
    "TrainResult": "sfttrain._train",
    "training_arguments": "sfttrain._train",
    "evaluate": "sfttrain._eval",
    "heldout_loss": "sfttrain._eval",
    "multiple_choice": "sfttrain._eval",
    "generation_metrics": "sfttrain._eval",
    "export": "sfttrain._export",
    "generate": "sfttrain._generate",
    "generate_replies": "sfttrain._generate",
    "load_for_inference": "sfttrain._generate",
    "load_model": "sfttrain._model",
    "load_tokenizer": "sfttrain._model",
    "tiny_llama": "sfttrain._model",
    "prepare": "sfttrain._data",
    "Prepared": "sfttrain._data",
    "demo": "sfttrain._demo",
    # inference & deployment
    "DecodeOptions": "sfttrain._decoding",
    "write_gguf": "sfttrain._gguf",
    "create_app": "sfttrain._serve",
    "serve": "sfttrain._serve",
    "Limits": "sfttrain._serve_api",
}

__all__ = ["ConfigError", "DataFile", "LoraOptions", "QuantOptions", "TrainConfig", *_LAZY_NAMES]


def __getattr__(name: str) -> Any:
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(_LAZY_NAMES[name]), name)
    raise AttributeError(f"module 'sfttrain' has no attribute {name!r}")
