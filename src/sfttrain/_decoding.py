"""How ``sfttrain generate`` / ``serve`` decode: KV cache, compilation, speculation.

:class:`DecodeOptions` is plain data turned into ``model.generate`` arguments::

    cache="dynamic"     transformers' default cache, grows with the sequence
    cache="static"      preallocated cache (fixed shapes); with compile=True the forward
                        is torch.compile-d once and reused (the first call pays for it)
    cache="quantized"   keys/values stored in kv_bits (2/4/8) by kv_backend (hqq or
                        quanto); recent tokens stay in full precision
    draft=MODEL         assisted decoding: a small model of the same vocabulary proposes
                        tokens, the model checks them in one forward (greedy: identical)
    prompt_lookup=N     the proposal is the N tokens that followed the last n-gram's
                        earlier occurrence in the prompt (no draft model; greedy: identical)

Assisted and prompt-lookup decoding work on one sequence at a time in transformers;
batched callers run those rows one by one.

>>> DecodeOptions(cache="quantized").generate_kwargs()["cache_config"]
{'backend': 'hqq', 'nbits': 4}
>>> DecodeOptions(prompt_lookup=-1)
Traceback (most recent call last):
...
ValueError: prompt_lookup: expected an int >= 0, got -1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["ATTENTION", "CACHES", "DecodeOptions", "load_model"]

Cache = Literal["dynamic", "static", "quantized"]
CACHES = ("dynamic", "static", "quantized")
ATTENTION = ("sdpa", "flash_attention_2", "eager")
_BACKENDS = ("hqq", "quanto")


@dataclass(frozen=True)
class DecodeOptions:
    """Decoding settings (validated on construction; see the module docstring)."""

    cache: Cache = "dynamic"
    compile: bool = False
    kv_bits: int = 4
    kv_backend: str = "hqq"
    draft: str | None = None
    prompt_lookup: int = 0
    attn_implementation: str | None = None

    def __post_init__(self) -> None:
        if self.cache not in CACHES:
            raise ValueError(f"cache: got {self.cache!r}; allowed: {', '.join(CACHES)}")
        if self.compile and self.cache != "static":
            raise ValueError("compile: needs cache='static' (fixed shapes)")
        if self.kv_bits not in (2, 4, 8):
            raise ValueError(f"kv_bits: got {self.kv_bits!r}; allowed: 2, 4, 8")
        if self.kv_backend not in _BACKENDS:
            raise ValueError(f"kv_backend: got {self.kv_backend!r}; allowed: hqq, quanto")
        if not isinstance(self.prompt_lookup, int) or self.prompt_lookup < 0:
            raise ValueError(f"prompt_lookup: expected an int >= 0, got {self.prompt_lookup!r}")
        if self.draft is not None and self.prompt_lookup:
            raise ValueError("draft and prompt_lookup: pick one way of proposing tokens")
        if self.attn_implementation not in (None, *ATTENTION):
            raise ValueError(
                f"attn_implementation: got {self.attn_implementation!r}; "
                f"allowed: {', '.join(ATTENTION)}"
            )

    @property
    def speculative(self) -> bool:
        """Tokens are proposed and verified (one sequence at a time)."""
        return self.draft is not None or self.prompt_lookup > 0

    def generate_kwargs(self, draft_model: Any = None) -> dict[str, Any]:
        """Extra ``model.generate`` arguments for these options."""
        out: dict[str, Any] = {}
        if self.cache == "static":
            out["cache_implementation"] = "static"
            if self.compile:
                from transformers import CompileConfig

                config = CompileConfig(fullgraph=False)
                config._compile_all_devices = True  # type: ignore[assignment]  # transformers compiles on GPUs only by default
                out["compile_config"] = config
            else:
                out["disable_compile"] = True
        elif self.cache == "quantized":
            out["cache_implementation"] = "quantized"
            out["cache_config"] = {"backend": self.kv_backend, "nbits": self.kv_bits}
        if self.prompt_lookup:
            out["prompt_lookup_num_tokens"] = self.prompt_lookup
        if draft_model is not None:
            out["assistant_model"] = draft_model
        return out


def load_model(path: str, options: DecodeOptions | None = None) -> Any:
    """A causal LM from a local folder (full model or LoRA adapter) for inference."""
    from pathlib import Path

    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {}
    if options is not None and options.attn_implementation is not None:
        kwargs["attn_implementation"] = options.attn_implementation
    if (Path(path) / "adapter_config.json").is_file():
        from peft import AutoPeftModelForCausalLM

        model = AutoPeftModelForCausalLM.from_pretrained(path, **kwargs)
    else:
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    model.eval()
    return model
