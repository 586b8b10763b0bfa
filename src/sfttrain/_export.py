"""``export``: a trained run -> a self-contained model folder any HF server can load.

::

    runs/x/final/ (LoRA adapter + tokenizer)          export/ (merge=True)
      adapter_config.json  --base weights (fp32)-->     model.safetensors   base + B·A·alpha/r
      adapter_model.safetensors                          config.json, generation_config.json
      tokenizer files                                    tokenizer files, chat_template = the
      sfttrain_template.json                             training template's jinja

With ``merge=False`` the adapter stays separate (``adapter_*`` files) next to the same
tokenizer. The exported tokenizer's ``apply_chat_template`` renders the same text as
sftdata rendered the training rows; ``sftdata_template.json`` holds the template itself,
which ``sfttrain generate`` / ``serve`` encode prompts with (token-exact for every
template, where one jinja string tokenized as a whole is not: see the README).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from sfttrain._generate import TEMPLATE_DATA, TEMPLATE_FILE, load_template


def template_jinja(template: Any) -> str:
    """The HF ``chat_template`` string of an sftdata template (built-in or jinja-backed)."""
    if hasattr(template, "to_jinja"):
        return str(template.to_jinja())
    return str(template.source)


EXPORT_FORMATS = ("safetensors", "gguf", "bnb4", "bnb8")


def export(
    source: str | Path,
    out_dir: str | Path,
    *,
    merge: bool = True,
    format: str = "safetensors",
    gguf_type: str = "f16",
) -> Path:
    """Write ``source`` (a run's ``final/`` folder, adapter or full model) to ``out_dir``.

    LoRA adapters are merged into base weights loaded in full precision (also for
    QLoRA runs: the merge never goes through 4-bit weights) unless ``merge=False``.
    Weights are saved as safetensors; the tokenizer gets the training template as its
    ``chat_template`` and the template itself is saved as data
    (``sftdata_template.json``, read by :func:`sftdata.templates.load`). Then, by
    ``format``: ``gguf`` adds ``model-<gguf_type>.gguf`` (see :mod:`sfttrain._gguf`);
    ``bnb4`` / ``bnb8`` replace the weights with a bitsandbytes NF4 / int8 checkpoint
    that ``from_pretrained`` reloads quantized. Returns ``out_dir``.
    """
    from sfttrain._gguf import GGUF_TYPES
    from sfttrain._model import load_tokenizer

    if format not in EXPORT_FORMATS:
        raise ValueError(f"format: got {format!r}; allowed: {', '.join(EXPORT_FORMATS)}")
    if format == "gguf" and gguf_type not in GGUF_TYPES:
        raise ValueError(f"gguf_type: got {gguf_type!r}; allowed: {', '.join(GGUF_TYPES)}")
    if format != "safetensors" and not merge:
        raise ValueError(f"format {format!r} needs merged weights (drop merge=False)")
    src, out = Path(source), Path(out_dir)
    if not src.is_dir():
        raise FileNotFoundError(f"export: no model folder at {str(src)!r}")
    if out.resolve() == src.resolve():
        raise ValueError("export: out_dir must differ from the source folder")
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = load_tokenizer(src)
    template = load_template(src, tokenizer)
    _write_weights(src, out, merge=merge)
    tokenizer.chat_template = template_jinja(template)
    tokenizer.save_pretrained(out)
    _save_template(src, out, template)
    if (src / "tokenizer.model").is_file() and not (out / "tokenizer.model").is_file():
        shutil.copy(src / "tokenizer.model", out / "tokenizer.model")
    if format == "gguf":
        from sfttrain._gguf import write_gguf

        write_gguf(
            out,
            out / f"model-{gguf_type}.gguf",
            gguf_type=gguf_type,
            chat_template=tokenizer.chat_template,
            template_data=_template_data(template),
        )
    elif format in ("bnb4", "bnb8"):
        from sfttrain._quant_export import save_bnb

        save_bnb(out, bits=4 if format == "bnb4" else 8)
    return out


def _write_weights(src: Path, out: Path, *, merge: bool) -> None:
    import torch
    from transformers import AutoModelForCausalLM

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


def _template_data(template: Any) -> dict[str, Any] | None:
    import sftdata as sd

    try:
        return sd.templates.to_dict(template)
    except sd.SftDataError:  # a template type of the user's own: the jinja still goes out
        return None


def _save_template(src: Path, out: Path, template: Any) -> None:
    """The template's name file (as trained) and the template as data."""
    if (src / TEMPLATE_FILE).is_file():
        shutil.copy(src / TEMPLATE_FILE, out / TEMPLATE_FILE)
    data = _template_data(template)
    if data is not None:
        (out / TEMPLATE_DATA).write_text(json.dumps(data, indent=1), encoding="utf-8")
