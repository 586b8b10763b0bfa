"""bitsandbytes checkpoints: NF4 (4-bit, double-quantized) or LLM.int8 (8-bit) weights.

The merged full-precision model is loaded with a ``BitsAndBytesConfig`` and saved
again: ``model.safetensors`` then holds the packed weights with their quantization
state, and ``config.json`` the ``quantization_config``, so a plain
``AutoModelForCausalLM.from_pretrained(folder)`` reloads it quantized. Embeddings,
norms and ``lm_head`` stay in full precision (bitsandbytes quantizes ``nn.Linear``
layers only, and transformers keeps the output layer out).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["bnb_config", "save_bnb"]


def bnb_config(bits: int) -> Any:
    """The ``BitsAndBytesConfig`` of a ``bits``-bit export (4: NF4, 8: LLM.int8)."""
    import torch
    from transformers import BitsAndBytesConfig

    if bits == 4:
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.float32,
        )
    if bits == 8:
        return BitsAndBytesConfig(load_in_8bit=True)
    raise ValueError(f"bits: got {bits!r}; allowed: 4, 8")


def save_bnb(folder: str | Path, *, bits: int) -> Path:
    """Replace the full-precision weights in ``folder`` by a ``bits``-bit checkpoint."""
    import torch
    from transformers import AutoModelForCausalLM

    try:
        import bitsandbytes  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ValueError("format bnb4/bnb8 needs bitsandbytes (pip install bitsandbytes)") from e
    out = Path(folder)
    device = "cuda:0" if torch.cuda.is_available() else "cpu"
    model = AutoModelForCausalLM.from_pretrained(
        str(out), quantization_config=bnb_config(bits), device_map={"": device}
    )
    for old in out.glob("model*.safetensors*"):
        old.unlink()
    model.save_pretrained(out, safe_serialization=True)
    return out
