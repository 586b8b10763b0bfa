"""``sfttrain plan config.yaml --gpu-memory 80GB [--gpus N]``: will this run fit?

Per device, in GiB, for the config's method, precision, optimizer, ZeRO stage, batch size
and sequence length::

    weights      full / LoRA: 4 bytes per parameter (sfttrain loads fp32 masters) or, under
                 DeepSpeed with bf16/fp16, 2; QLoRA: NF4 linear layers at 4.5 bits
                 (4.127 with double quantisation), the rest fp32, plus the adapters
    gradients    4 bytes per trainable parameter (2 under DeepSpeed bf16/fp16)
    optimizer    AdamW 8 bytes per trainable parameter, 8-bit AdamW 2 (paged variants: the
                 same bytes, but pageable to CPU memory under pressure); DeepSpeed bf16/fp16
                 adds a 4-byte fp32 master copy
    activations  per token and layer: the tensors the backward pass keeps (norms, q/k/v,
                 attention output, the MLP's four intermediate tensors; attention scores
                 too with eager attention), or only the layer input with gradient
                 checkpointing (plus one layer recomputed); and the logits, which the loss
                 keeps in fp32 (vocabulary x tokens x 4: logits, log-softmax, and the
                 gradients of both)

The peak is weights + optimizer states + the larger of activations and gradients: the
gradients fill in during the backward pass while the activations are freed (and are set
to None after each step). Checked against measured CPU peaks of tiny Llamas within 20%
(tests/train/test_plan.py).

ZeRO stage 1 divides the optimizer states by the number of GPUs, stage 2 also the
gradients, stage 3 also the weights. Estimates are for a Llama-shaped model read from the
model folder's ``config.json`` (or a ``--shape`` preset when the folder is not here).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sfttrain.config import ConfigError, TrainConfig

GIB = 2**30
#: Llama-family shapes for models that are not on this machine (``--shape``)
SHAPES: dict[str, dict[str, int]] = {
    "llama-2-7b": {"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008,
                   "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32},
    "llama-2-13b": {"vocab_size": 32000, "hidden_size": 5120, "intermediate_size": 13824,
                    "num_hidden_layers": 40, "num_attention_heads": 40, "num_key_value_heads": 40},
    "llama-3-8b": {"vocab_size": 128256, "hidden_size": 4096, "intermediate_size": 14336,
                   "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8},
    "llama-2-70b": {"vocab_size": 32000, "hidden_size": 8192, "intermediate_size": 28672,
                    "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8},
}  # fmt: skip


@dataclass(frozen=True)
class Shape:
    """What the estimate needs of a Llama-shaped model."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    tie_word_embeddings: bool = False

    @property
    def kv_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads * self.num_key_value_heads

    def linears(self) -> list[tuple[int, int]]:
        """``(in, out)`` of every linear layer in the decoder stack (not the LM head)."""
        h, i, kv = self.hidden_size, self.intermediate_size, self.kv_dim
        per_layer = [(h, h), (h, kv), (h, kv), (h, h), (h, i), (h, i), (i, h)]
        return per_layer * self.num_hidden_layers

    def params(self) -> dict[str, int]:
        h, v = self.hidden_size, self.vocab_size
        linear = sum(a * b for a, b in self.linears())
        norms = h * (2 * self.num_hidden_layers + 1)
        head = 0 if self.tie_word_embeddings else v * h
        return {"embed": v * h, "linear": linear, "norms": norms, "lm_head": head}


def read_shape(model: str, preset: str | None = None) -> Shape:
    """The model's shape from ``model/config.json``, or a named preset."""
    if preset is not None:
        if preset not in SHAPES:
            raise ConfigError(f"--shape: got {preset!r}; known: {', '.join(SHAPES)}")
        return Shape(**SHAPES[preset], tie_word_embeddings=False)
    path = Path(model) / "config.json"
    if not path.is_file():
        raise ConfigError(
            f"model: no {path} here; give --shape ({', '.join(SHAPES)}) to plan for it anyway"
        )
    c = json.loads(path.read_text(encoding="utf-8"))
    heads = c["num_attention_heads"]
    return Shape(
        vocab_size=c["vocab_size"], hidden_size=c["hidden_size"],
        intermediate_size=c["intermediate_size"], num_hidden_layers=c["num_hidden_layers"],
        num_attention_heads=heads, num_key_value_heads=c.get("num_key_value_heads") or heads,
        tie_word_embeddings=bool(c.get("tie_word_embeddings", False)),
    )  # fmt: skip


def parse_memory(text: str) -> float:
    """``"80GB"`` / ``"24GiB"`` / ``"80"`` -> GiB (GB read as GiB, as GPU vendors print them)."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*(g|gb|gib|m|mb|mib|t|tb|tib)?\s*", text.lower())
    if not m:
        raise ConfigError(f"--gpu-memory: expected a size like 80GB, got {text!r}")
    scale = {"m": 1 / 1024, "t": 1024}.get((m.group(2) or "g")[0], 1.0)
    return float(m.group(1)) * scale


@dataclass(frozen=True)
class Plan:
    """The estimate per device, in GiB, and the verdict."""

    weights_gb: float
    gradients_gb: float
    optimizer_gb: float
    activations_gb: float
    total_gb: float
    available_gb: float
    fits: bool
    trainable_params: int
    total_params: int
    zero_stage: int
    gpus: int
    advice: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        rows = [("weights", self.weights_gb), ("gradients", self.gradients_gb),
                ("optimizer states", self.optimizer_gb), ("activations", self.activations_gb),
                ("total", self.total_gb)]  # fmt: skip
        lines = [f"{name:<17} {gb:8.2f} GiB" for name, gb in rows]
        head = (f"sfttrain plan: {self.total_params / 1e6:,.1f}M parameters, "
                f"{self.trainable_params / 1e6:,.2f}M trained; ZeRO {self.zero_stage}, "
                f"{self.gpus} GPU(s)")  # fmt: skip
        verdict = "fits" if self.fits else "does NOT fit"
        tail = f"per device: {self.total_gb:.2f} of {self.available_gb:.0f} GiB -> {verdict}"
        return "\n".join([head, *lines, tail, *(f"  - {a}" for a in self.advice)])


def trainable(cfg: TrainConfig, shape: Shape) -> int:
    """Parameters the optimizer updates for ``cfg.method``."""
    p = shape.params()
    if cfg.method == "full":
        return sum(p.values())
    r = cfg.lora.r
    n = sum(r * (a + b) for a, b in shape.linears())  # all-linear
    for module in cfg.lora.modules_to_save:
        n += p["lm_head"] if "lm_head" in module else p["embed"] if "embed" in module else 0
    return n


def activation_bytes(cfg: TrainConfig, shape: Shape, *, element: int) -> float:
    """Bytes kept for the backward pass at the peak, per device."""
    tokens = cfg.batch_size * cfg.max_length
    h, i, kv = shape.hidden_size, shape.intermediate_size, shape.kv_dim
    per_layer = 9 * h + 3 * kv + 4 * i  # elements per token (see the module docstring)
    if cfg.attn_implementation == "eager":
        per_layer += 2 * shape.num_attention_heads * cfg.max_length
    layers = shape.num_hidden_layers
    if cfg.gradient_checkpointing:
        stack = tokens * element * (h * layers + per_layer)
    else:
        stack = tokens * element * per_layer * layers
    logits = tokens * shape.vocab_size * 4 * 4
    return float(stack + logits)


def estimate(
    cfg: TrainConfig, shape: Shape, *, gpu_memory_gb: float, gpus: int = 1, zero: int = 0
) -> Plan:
    """The memory ``cfg`` needs per device on ``gpus`` devices with ZeRO stage ``zero``."""
    if gpus < 1:
        raise ConfigError(f"--gpus: must be >= 1, got {gpus}")
    p = shape.params()
    total = sum(p.values())
    n_train = trainable(cfg, shape)
    half = cfg.precision in ("bf16", "fp16")
    ds = zero > 0 and half  # DeepSpeed keeps half-precision weights and fp32 masters
    if cfg.method == "qlora":
        bits = 4.127 if cfg.quant.double_quant else 4.5
        weights = p["linear"] * bits / 8 + (total - p["linear"]) * 4 + n_train * 4
    else:
        weights = float(total * (2 if ds else 4))
    grads = float(n_train * (2 if ds else 4))
    opt_per = 2 if cfg.optim in ("adamw_8bit", "paged_adamw_8bit") else 8
    optimizer = float(n_train * (opt_per + (4 if ds else 0)))
    optimizer /= gpus if zero >= 1 else 1
    grads /= gpus if zero >= 2 else 1
    weights /= gpus if zero >= 3 else 1
    acts = activation_bytes(cfg, shape, element=2 if half else 4)
    gb = [x / GIB for x in (weights, grads, optimizer, acts)]
    need = gb[0] + gb[2] + max(gb[1], gb[3])
    fits = need <= gpu_memory_gb * 0.95  # leave ~5% for the CUDA context and fragmentation
    return Plan(
        weights_gb=gb[0], gradients_gb=gb[1], optimizer_gb=gb[2], activations_gb=gb[3],
        total_gb=need, available_gb=gpu_memory_gb, fits=fits, trainable_params=n_train,
        total_params=total, zero_stage=zero, gpus=gpus,
        advice=tuple(_advice(cfg, gb, fits, zero, gpus)),
    )  # fmt: skip


def _advice(cfg: TrainConfig, gb: list[float], fits: bool, zero: int, gpus: int) -> list[str]:
    weights, _, optimizer, acts = gb
    out: list[str] = []
    if not fits and acts > max(weights, optimizer) and not cfg.gradient_checkpointing:
        out.append("set gradient_checkpointing: true (activations are the largest part)")
    if not fits and acts > weights:
        out.append("lower batch_size (raise grad_accum to keep the effective batch) or max_length")
    if not fits and cfg.optim == "adamw_torch" and optimizer > 0.2 * sum(gb):
        out.append("optim: paged_adamw_8bit (optimizer states 4x smaller, pageable)")
    if not fits and cfg.method == "full":
        out.append("method: lora (or qlora) trains a small fraction of the weights")
    if not fits and gpus > 1 and zero < 3:
        out.append(f"DeepSpeed ZeRO-{min(zero + 1, 3)} shards more state across the {gpus} GPUs")
    if not fits and cfg.method == "lora":
        out.append("method: qlora stores the base weights in 4 bits")
    if not fits and not out:
        out.append("more GPUs with ZeRO-3, or a smaller model")
    return out


def plan_from_yaml(
    path: str | Path, *, gpu_memory: str = "80GB", gpus: int = 1, zero: int | None = None,
    shape: str | None = None,
) -> Plan:  # fmt: skip
    """``sfttrain plan``: read the config, its ZeRO stage (unless given) and the model shape."""
    cfg = TrainConfig.from_yaml(path)
    if zero is None:
        zero = 0
        if cfg.deepspeed and Path(cfg.deepspeed).is_file():
            ds = json.loads(Path(cfg.deepspeed).read_text(encoding="utf-8"))
            zero = int(ds.get("zero_optimization", {}).get("stage", 0))
    return estimate(
        cfg, read_shape(cfg.model, shape), gpu_memory_gb=parse_memory(gpu_memory), gpus=gpus,
        zero=zero,
    )  # fmt: skip
