"""Batched chat generation with the training template: left padding, stop words.

Prompts are the template's rendering of the conversation plus its generation prompt,
tokenized exactly as sftdata tokenizes training rows (control tokens as single ids,
text pieces on their own). Batches are left-padded so every row's next token sits in
the last column::

    P P <s> [INST] hi [/INST]      ->  generate  ->  ... reply </s>
    <s> [INST] what is 2+2 [/INST] ->  generate  ->  ... reply </s>
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TEMPLATE_FILE = "sfttrain_template.json"


def prompt_ids(tokenizer: Any, template: Any, messages: Sequence[Any]) -> list[int]:
    """Token ids of ``messages`` rendered with the generation prompt appended."""
    from sftdata.templates import token_ids

    return token_ids(template.segments(messages, add_generation_prompt=True), tokenizer)


def _cut_at_stop(text: str, stops: Sequence[str]) -> str:
    cut = len(text)
    for s in stops:
        k = text.find(s)
        if s and k != -1:
            cut = min(cut, k)
    return text[:cut].strip()


def generate_replies(
    model: Any,
    tokenizer: Any,
    template: Any,
    conversations: Sequence[Sequence[Any]],
    *,
    max_new_tokens: int = 64,
    batch_size: int = 8,
    do_sample: bool = False,
    temperature: float = 1.0,
) -> list[str]:
    """The assistant's next reply to each conversation (greedy unless ``do_sample``)."""
    import torch

    from sftdata import Collator

    for name, value in (("max_new_tokens", max_new_tokens), ("batch_size", batch_size)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value!r}")
    collate = Collator(tokenizer.pad_token_id, padding_side="left")
    stops = (*(getattr(template, "stop_words", ()) or ()), tokenizer.eos_token)
    device = next(model.parameters()).device
    model.eval()
    replies: list[str] = []
    for start in range(0, len(conversations), batch_size):
        rows = [
            {"input_ids": prompt_ids(tokenizer, template, c)}
            for c in conversations[start : start + batch_size]
        ]
        batch = collate(rows)
        width = batch["input_ids"].shape[1]
        options: dict[str, Any] = {"do_sample": do_sample}
        if do_sample:
            options["temperature"] = temperature
        with torch.no_grad():
            out = model.generate(
                input_ids=batch["input_ids"].to(device),
                attention_mask=batch["attention_mask"].to(device),
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                **options,
            )
        for seq in out[:, width:]:
            text = tokenizer.decode(seq.tolist(), skip_special_tokens=False)
            replies.append(_cut_at_stop(text, stops))
    return replies


def save_template_name(folder: str | Path, name: str) -> None:
    """Record which sftdata template a saved model was trained with."""
    (Path(folder) / TEMPLATE_FILE).write_text(json.dumps({"template": name}), encoding="utf-8")


def load_template(folder: str | Path, tokenizer: Any) -> Any:
    """The training template of a saved model: the recorded built-in one, else the tokenizer's."""
    import sftdata as sd

    path = Path(folder) / TEMPLATE_FILE
    if path.is_file():
        name = json.loads(path.read_text(encoding="utf-8"))["template"]
        if name != "tokenizer":
            return sd.templates.get(name)
    return sd.templates.from_tokenizer(tokenizer)


def load_for_inference(path: str | Path) -> tuple[Any, Any, Any]:
    """``(model, tokenizer, template)`` from a saved model folder or a LoRA adapter folder."""
    from transformers import AutoModelForCausalLM

    from sfttrain._model import load_tokenizer

    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"no model folder at {str(folder)!r}")
    tokenizer = load_tokenizer(folder)
    if (folder / "adapter_config.json").is_file():
        from peft import AutoPeftModelForCausalLM

        model = AutoPeftModelForCausalLM.from_pretrained(str(folder))
    else:
        model = AutoModelForCausalLM.from_pretrained(str(folder))
    return model, tokenizer, load_template(folder, tokenizer)


def generate(
    model_path: str | Path,
    conversations: Sequence[Sequence[Any]],
    *,
    max_new_tokens: int = 64,
    batch_size: int = 8,
    do_sample: bool = False,
    temperature: float = 1.0,
) -> list[str]:
    """Load a saved model or adapter and reply to each conversation with its template.

    >>> generate("runs/demo/export", [[{"role": "user", "content": "hi"}]])  # doctest: +SKIP
    ['Hello! How can I help?']
    """
    model, tokenizer, template = load_for_inference(model_path)
    return generate_replies(
        model,
        tokenizer,
        template,
        conversations,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        do_sample=do_sample,
        temperature=temperature,
    )
