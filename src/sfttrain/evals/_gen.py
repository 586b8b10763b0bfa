"""Generation for eval items: plain-text prompts or the chat template, batched, timed.

Plain prompts are tokenized as lm-eval tokenizes them (optional BOS first, no other
special token) and cut at the first blank line; with a template, the prompt is the
user turn rendered with the template's generation prompt, cut at its stop words.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Timing:
    """What generation cost: new tokens, seconds, prompts; tokens/s and latency follow."""

    tokens: int = 0
    seconds: float = 0.0
    prompts: int = 0
    per_prompt: list[float] = field(default_factory=list)

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    @property
    def latency_ms(self) -> float:
        return 1000 * self.seconds / self.prompts if self.prompts else 0.0


def prompt_ids(tokenizer: Any, text: str, *, template: Any = None, bos: bool = True) -> list[int]:
    """Token ids of a prompt: ``text`` as is, or as a user turn of ``template``."""
    if template is not None:
        from sfttrain._generate import prompt_ids as chat_ids

        return chat_ids(tokenizer, template, [{"role": "user", "content": text}])
    first = [tokenizer.bos_token_id] if bos and tokenizer.bos_token_id is not None else []
    return first + tokenizer(text, add_special_tokens=False).input_ids


def _cut(text: str, stops: Sequence[str]) -> str:
    cut = len(text)
    for s in stops:
        k = text.find(s) if s else -1
        if k != -1:
            cut = min(cut, k)
    return text[:cut].strip()


def generate_texts(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    template: Any = None,
    bos: bool = True,
    max_new_tokens: int = 32,
    batch_size: int = 8,
    samples: int = 1,
    temperature: float = 0.0,
    seed: int = 0,
    timing: Timing | None = None,
    progress: bool = False,
) -> list[list[str]]:
    """``samples`` replies per prompt (greedy when ``temperature == 0``), left-padded batches."""
    import torch
    from tqdm.auto import tqdm

    from sftdata import Collator

    if max_new_tokens < 1 or batch_size < 1 or samples < 1:
        raise ValueError("generate_texts: max_new_tokens, batch_size and samples must be >= 1")
    if samples > 1 and temperature <= 0:
        raise ValueError("generate_texts: several samples need temperature > 0")
    stops = [*(getattr(template, "stop_words", ()) or ()), tokenizer.eos_token or ""]
    stops += [] if template is not None else ["\n\n"]
    rows = [prompt_ids(tokenizer, p, template=template, bos=bos) for p in prompts]
    flat = [r for r in rows for _ in range(samples)]
    collate = Collator(tokenizer.pad_token_id, padding_side="left")
    device = next(model.parameters()).device
    model.eval()
    torch.manual_seed(seed)
    texts: list[str] = []
    timing = timing if timing is not None else Timing()
    bar = tqdm(total=len(flat), desc="generate", disable=not progress, unit="reply")
    for start in range(0, len(flat), batch_size):
        batch = collate([{"input_ids": r} for r in flat[start : start + batch_size]])
        width = batch["input_ids"].shape[1]
        options: dict[str, Any] = {"do_sample": temperature > 0}
        options |= {"temperature": temperature} if temperature > 0 else {}
        began = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(
                input_ids=batch["input_ids"].to(device),
                attention_mask=batch["attention_mask"].to(device),
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                **options,
            )
        spent = time.perf_counter() - began
        new = out[:, width:]
        counted = int((new != tokenizer.pad_token_id).sum())
        timing.tokens += counted
        timing.seconds += spent
        timing.prompts += len(new)
        timing.per_prompt += [spent / len(new)] * len(new)
        for seq in new.tolist():
            texts.append(_cut(tokenizer.decode(seq, skip_special_tokens=False), stops))
        bar.update(len(new))
    bar.close()
    return [texts[i * samples : (i + 1) * samples] for i in range(len(rows))]
