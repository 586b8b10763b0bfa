"""Generation speed and KV-cache memory of `sfttrain generate`'s decoding options.

    python benchmarks/generate.py [--hidden 64] [--layers 2] [--new-tokens 48] [--repeats 2]

One process, one tiny Llama built from a config (real 32k sentencepiece vocabulary,
llama2 template), greedy, one prompt at a time, EOS suppressed so every method
decodes exactly ``--new-tokens`` tokens:

* ``plain``          dynamic cache (transformers' default);
* ``static``         preallocated cache, no compilation;
* ``static+compile`` preallocated cache, forward ``torch.compile``-d (the first call,
                     which compiles, is timed apart);
* ``assisted``       a 1-layer draft model of the same vocabulary proposes tokens;
* ``prompt-lookup``  proposals copied from the prompt's n-grams (3 tokens);
* ``batched x8``     the 8 prompts as one left-padded batch (for scale).

Speculative methods pay off when proposals are accepted: a randomly initialised model
accepts few (its draft disagrees; its output repeats little of the prompt), so the
figures are their overhead floor, not their gain on a trained model.

KV cache: the cache after a ``--context``-token teacher-forced pass, bytes of every
tensor it holds, full precision vs hqq 4-bit and 2-bit (the last 128 tokens stay in full
precision); and the perplexity of the next tokens with each cache, the change
quantization makes to the model's predictions.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

PROMPTS = [
    "Repeat after me: the river runs under the old stone bridge every single day.",
    "What colour is the sky?",
    "List the numbers one two three four five six seven eight nine ten.",
    "Say hello.",
    "Name a fruit and a vegetable, then the fruit again, then the vegetable again.",
    "Capital of France?",
    "Write the word garden three times: garden garden garden.",
    "Two plus two?",
]


def _model(root: Path, hidden: int, layers: int, seed: int) -> Path:
    import mistral_common

    from sfttrain import tiny_llama

    sp = Path(mistral_common.__file__).parent / "data" / "tokenizer.model.v1"
    return tiny_llama(
        root / f"m{hidden}x{layers}s{seed}",
        tokenizer_path=sp,
        hidden_size=hidden,
        num_layers=layers,
        seed=seed,
    )


def _time(fn: Any, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def speed(model_dir: Path, draft_dir: Path, new: int, repeats: int) -> dict[str, float]:
    import sftdata as sd
    from sfttrain import DecodeOptions
    from sfttrain._decoding import load_model
    from sfttrain._generate import generate_ids, prompt_ids
    from sfttrain._model import load_tokenizer

    model, tok = load_model(str(model_dir)), load_tokenizer(model_dir)
    draft = load_model(str(draft_dir))
    template = sd.templates.get("llama2")
    prompts = [prompt_ids(tok, template, [{"role": "user", "content": p}]) for p in PROMPTS]
    fixed = {"max_new_tokens": new, "min_new_tokens": new}

    def one_by_one(options: DecodeOptions, draft_model: Any = None) -> Any:
        extra = options.generate_kwargs(draft_model)
        return lambda: [generate_ids(model, tok, [p], extra=extra, **fixed) for p in prompts]

    runs = {
        "plain": one_by_one(DecodeOptions()),
        "static": one_by_one(DecodeOptions(cache="static")),
        "static+compile": one_by_one(DecodeOptions(cache="static", compile=True)),
        "assisted": one_by_one(DecodeOptions(draft=str(draft_dir)), draft),
        "prompt-lookup": one_by_one(DecodeOptions(prompt_lookup=3)),
        "batched x8": lambda: generate_ids(model, tok, prompts, **fixed),
    }
    start = time.perf_counter()
    runs["static+compile"]()  # compiles (and warms every other path's caches)
    print(f"  static+compile first call (compiles): {time.perf_counter() - start:.1f} s")
    runs["plain"]()
    tokens = new * len(prompts)
    return {name: tokens / _time(fn, repeats) for name, fn in runs.items()}


def cache_bytes(cache: Any) -> int:
    """Bytes of every distinct tensor a cache object holds (quantized parts included)."""
    import torch

    seen: set[int] = set()

    def walk(obj: Any, depth: int = 0) -> int:
        if isinstance(obj, torch.Tensor):
            if obj.data_ptr() in seen:
                return 0
            seen.add(obj.data_ptr())
            return obj.numel() * obj.element_size()
        if depth > 4:
            return 0
        if isinstance(obj, dict):
            return sum(walk(v, depth + 1) for v in obj.values())
        if isinstance(obj, list | tuple):
            return sum(walk(v, depth + 1) for v in obj)
        if hasattr(obj, "__dict__"):
            return sum(walk(v, depth + 1) for v in vars(obj).values())
        return 0

    return walk(cache)


def kv_cache(model_dir: Path, context: int) -> dict[str, tuple[int, float]]:
    """(cache bytes, perplexity of the last tokens) per cache kind, teacher-forced."""
    import torch
    from transformers import DynamicCache, QuantizedCache

    from sfttrain._decoding import load_model
    from sfttrain._model import load_tokenizer

    model, tok = load_model(str(model_dir)), load_tokenizer(model_dir)
    data = sorted(Path("examples/data").glob("chat_*.jsonl"))  # the raw files, held out
    text = "\n".join(f.read_text(encoding="utf-8") for f in data)
    ids = torch.tensor([tok(text)["input_ids"][:context]])
    if ids.shape[1] < context:
        raise SystemExit(f"only {ids.shape[1]} tokens of held-out text; lower --context")
    half = context // 2
    out: dict[str, tuple[int, float]] = {}
    for name, make in (
        ("full precision", lambda: DynamicCache(config=model.config)),
        ("hqq 4-bit", lambda: QuantizedCache(backend="hqq", config=model.config, nbits=4)),
        ("hqq 2-bit", lambda: QuantizedCache(backend="hqq", config=model.config, nbits=2)),
    ):
        cache = make()
        losses = []
        with torch.no_grad():
            model(input_ids=ids[:, :half], cache=cache, use_cache=True)
            for i in range(half, ids.shape[1] - 1):  # one token at a time: reads the cache
                logits = model(input_ids=ids[:, i : i + 1], cache=cache).logits
                losses.append(
                    torch.nn.functional.cross_entropy(logits[0, -1:], ids[0, i + 1 : i + 2])
                )
        out[name] = (cache_bytes(cache), float(torch.exp(torch.stack(losses).mean())))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--new-tokens", type=int, default=48)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--context", type=int, default=512)
    p.add_argument("--kv-only", action="store_true", help="only the KV-cache part")
    args = p.parse_args()
    import torch

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        model = _model(Path(tmp), args.hidden, args.layers, seed=0)
        draft = _model(Path(tmp), args.hidden, 1, seed=1)
        rates = {} if args.kv_only else speed(model, draft, args.new_tokens, args.repeats)
        if rates:
            base = rates["plain"]
            print(
                f"\ntokens/s (hidden {args.hidden}, {args.layers} layers, {len(PROMPTS)} prompts)"
            )
        for name, rate in rates.items():
            print(f"  {name:<16} {rate:8.1f} tok/s   x{rate / base:.2f} vs plain")
        print(f"\nKV cache after {args.context} tokens (perplexity of the second half)")
        kv = kv_cache(model, args.context)
        full_bytes, full_ppl = kv["full precision"]
        for name, (size, ppl) in kv.items():
            print(
                f"  {name:<15} {size / 1024:8.1f} KiB  x{size / full_bytes:.2f}   "
                f"perplexity {ppl:10.2f} ({(ppl / full_ppl - 1) * 100:+.2f}%)"
            )


if __name__ == "__main__":
    main()
