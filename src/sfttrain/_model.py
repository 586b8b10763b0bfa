"""Loading the tokenizer and the model for ``method: full | lora | qlora``.

Everything loads from local folders; ``trust_remote_code`` stays off unless the
config turns it on. What each method trains::

    full    every weight, fp32 master copy
    lora    base frozen, low-rank A/B adapters on ``lora.target_modules``
    qlora   base quantised to 4 bits by bitsandbytes (NF4 / FP4, optional double
            quantisation), LoRA adapters in ``quant.compute_dtype`` on top
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sfttrain.config import ConfigError, TrainConfig

_DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


def load_tokenizer(path: str | Path, *, trust_remote_code: bool = False) -> Any:
    """Load a local tokenizer and make sure it has a pad token.

    Without one, the pad token becomes ``unk`` (or ``eos``): safe, because sftdata's
    collator builds attention masks from real lengths and pads labels with ``-100``.
    """
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path), trust_remote_code=trust_remote_code)
    if tok.pad_token_id is None:
        tok.pad_token = tok.unk_token if tok.unk_token is not None else tok.eos_token
    return tok


def load_model(cfg: TrainConfig) -> Any:
    """The model ``cfg.method`` trains: plain, LoRA-wrapped, or 4-bit + LoRA."""
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {
        "trust_remote_code": cfg.trust_remote_code,
        "attn_implementation": cfg.attn_implementation,
        "dtype": torch.float32,
    }
    if cfg.method == "qlora":
        kwargs["quantization_config"] = _bnb_config(cfg)
        kwargs["device_map"] = {"": _local_device()}
    model = AutoModelForCausalLM.from_pretrained(cfg.model, **kwargs)
    model.config.use_cache = False
    if cfg.method == "full":
        return model
    if cfg.method == "qlora":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=cfg.gradient_checkpointing
        )
    elif cfg.gradient_checkpointing:
        model.activation_checkpointing_enable(
            activation_checkpointing_kwargs={"use_reentrant": False}
        )
        model.enable_input_require_grads()
    return add_lora(model, cfg)


def add_lora(model: Any, cfg: TrainConfig) -> Any:
    """Wrap ``model`` with fresh LoRA adapters shaped by ``cfg.lora``."""
    from peft import LoraConfig, get_peft_model

    targets = cfg.lora.target_modules
    lora = LoraConfig(
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=targets if isinstance(targets, str) else list(targets),
        modules_to_save=list(cfg.lora.modules_to_save) or None,
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(model, lora)
    except ValueError as e:
        raise ConfigError(f"lora.target_modules: {e}") from e


def _bnb_config(cfg: TrainConfig) -> Any:
    import torch
    from transformers import BitsAndBytesConfig

    try:
        import bitsandbytes  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ConfigError("method: qlora needs bitsandbytes (pip install bitsandbytes)") from e
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=cfg.quant.quant_type,
        bnb_4bit_use_double_quant=cfg.quant.double_quant,
        bnb_4bit_compute_dtype=getattr(torch, _DTYPES[cfg.quant.compute_dtype]),
    )


def _local_device() -> str:
    import os

    import torch

    if torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    return "cpu"


def tiny_llama(
    out_dir: str | Path,
    *,
    tokenizer_path: str | Path,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    max_position_embeddings: int = 1024,
    seed: int = 0,
) -> Path:
    """Save a randomly initialised tiny Llama plus its tokenizer to ``out_dir``.

    ``tokenizer_path`` is a folder (or a ``tokenizer.model`` file) of a Llama-family
    sentencepiece tokenizer; the model takes its vocabulary size. Hidden sizes that are
    multiples of 64 keep bitsandbytes' 4-bit CPU kernels happy (they quantise in blocks
    of 64 along the input dimension).

    >>> import tempfile, mistral_common, pathlib
    >>> sp = pathlib.Path(mistral_common.__file__).parent / "data" / "tokenizer.model.v1"
    >>> d = tiny_llama(tempfile.mkdtemp(), tokenizer_path=sp)
    >>> sorted(p.name for p in d.iterdir() if p.suffix in (".json", ".safetensors"))[:2]
    ['config.json', 'generation_config.json']
    """
    import shutil

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    if hidden_size % num_heads:
        raise ValueError(f"hidden_size {hidden_size} must be a multiple of num_heads {num_heads}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    src = Path(tokenizer_path)
    if src.is_file():
        shutil.copy(src, out / "tokenizer.model")
        tok = load_tokenizer(out)
    else:
        tok = load_tokenizer(src)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=max(1, num_heads // 2),
        max_position_embeddings=max_position_embeddings,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
    )
    LlamaForCausalLM(config).save_pretrained(out)
    tok.save_pretrained(out)
    return out
