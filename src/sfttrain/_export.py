"""``export``: a trained run -> a self-contained model folder any HF server can load.

::

    runs/x/final/ (LoRA adapter + tokenizer)          export/ (merge=True)
      adapter_config.json  --base weights (fp32)-->     model.safetensors   base + B·A·alpha/r
      adapter_model.safetensors                          config.json, generation_config.json
      tokenizer files                                    tokenizer files, chat_template = the
      sfttrain_template.json                             training template's jinja

With ``merge=False`` the adapter stays separate (``adapter_*`` files) next to the same
tokenizer. The exported tokenizer's ``apply_chat_template`` renders prompts exactly as
sftdata rendered the training rows.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from sfttrain._generate import TEMPLATE_FILE, load_template


def template_jinja(template: Any) -> str:
    """The HF ``chat_template`` string of an sftdata template (built-in or jinja-backed)."""
    if hasattr(template, "to_jinja"):
        return str(template.to_jinja())
    return str(template.source)


def export(source: str | Path, out_dir: str | Path, *, merge: bool = True) -> Path:
    """Write ``source`` (a run's ``final/`` folder, adapter or full model) to ``out_dir``.

    LoRA adapters are merged into base weights loaded in full precision (also for
    QLoRA runs: the merge never goes through 4-bit weights) unless ``merge=False``.
    Weights are saved as safetensors; the tokenizer gets the training template as its
    ``chat_template``. Returns ``out_dir``.
    """
    import torch
    from transformers import AutoModelForCausalLM

    from sfttrain._model import load_tokenizer

    src, out = Path(source), Path(out_dir)
    if not src.is_dir():
        raise FileNotFoundError(f"export: no model folder at {str(src)!r}")
    if out.resolve() == src.resolve():
        raise ValueError("export: out_dir must differ from the source folder")
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = load_tokenizer(src)
    template = load_template(src, tokenizer)
    adapter = src / "adapter_config.json"
    if adapter.is_file() and not merge:
        for name in ("adapter_config.json", "adapter_model.safetensors"):
            shutil.copy(src / name, out / name)
    elif adapter.is_file():
        from peft import PeftModel

        base_path = json.loads(adapter.read_text(encoding="utf-8"))["base_model_name_or_path"]
        base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
        merged = PeftModel.from_pretrained(base, str(src)).merge_and_unload()
        merged.save_pretrained(out, safe_serialization=True)
    else:
        model = AutoModelForCausalLM.from_pretrained(str(src), dtype=torch.float32)
        model.save_pretrained(out, safe_serialization=True)
    tokenizer.chat_template = template_jinja(template)
    tokenizer.save_pretrained(out)
    if (src / TEMPLATE_FILE).is_file():
        shutil.copy(src / TEMPLATE_FILE, out / TEMPLATE_FILE)
    return out
