"""Batched chat generation with the training template: left padding, stop words.

Prompts are the template's rendering of the conversation plus its generation prompt,
tokenized exactly as sftdata tokenizes training rows (control tokens as single ids,
text pieces on their own): the training template is read as data from the model
folder (``sftdata_template.json``), never re-parsed from a jinja string. Decoding
options (KV cache, compile, draft model, prompt lookup): :mod:`sfttrain._decoding`. Batches are left-padded so every row's next token sits in
the last column::

    P P <s> [INST] hi [/INST]      ->  generate  ->  ... reply </s>
    <s> [INST] what is 2+2 [/INST] ->  generate  ->  ... reply </s>
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sfttrain._decoding import DecodeOptions, load_model

TEMPLATE_FILE = "sfttrain_template.json"
#: The training template as data (:func:`sftdata.templates.load` reads it).
TEMPLATE_DATA = "sftdata_template.json"


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
    options: DecodeOptions | None = None,
    draft_model: Any = None,
) -> list[str]:
    """The assistant's next reply to each conversation (greedy unless ``do_sample``).

    ``options`` picks the KV cache and speculative decoding (:class:`DecodeOptions`);
    with a ``draft_model`` or ``options.prompt_lookup`` rows are decoded one at a time.
    """
    for name, value in (("max_new_tokens", max_new_tokens), ("batch_size", batch_size)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value!r}")
    options = options or DecodeOptions()
    if options.speculative:
        batch_size = 1  # transformers verifies proposals for one sequence at a time
    stops = (*(getattr(template, "stop_words", ()) or ()), tokenizer.eos_token)
    model.eval()
    replies: list[str] = []
    for start in range(0, len(conversations), batch_size):
        prompts = [
            prompt_ids(tokenizer, template, c) for c in conversations[start : start + batch_size]
        ]
        for seq in generate_ids(
            model,
            tokenizer,
            prompts,
            max_new_tokens=max_new_tokens,
            do_sample=do_sample,
            temperature=temperature,
            extra=options.generate_kwargs(draft_model),
        ):
            text = tokenizer.decode(seq, skip_special_tokens=False)
            replies.append(_cut_at_stop(text, stops))
    return replies


def generate_ids(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_p: float = 1.0,
    extra: dict[str, Any] | None = None,
    **generate_kwargs: Any,
) -> list[list[int]]:
    """New token ids for each prompt, generated as one left-padded batch."""
    import torch

    from sftdata import Collator

    collate = Collator(tokenizer.pad_token_id, padding_side="left")
    batch = collate([{"input_ids": list(p)} for p in prompts])
    width = batch["input_ids"].shape[1]
    device = next(model.parameters()).device
    options: dict[str, Any] = {"do_sample": do_sample, **(extra or {}), **generate_kwargs}
    if do_sample:
        options.update(temperature=temperature, top_p=top_p)
    else:  # greedy: no sampling knobs (silences transformers' warnings about them)
        options.update(temperature=None, top_p=None, top_k=None)
    with torch.no_grad():
        out = model.generate(
            input_ids=batch["input_ids"].to(device),
            attention_mask=batch["attention_mask"].to(device),
            max_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            **options,
        )
    return [row.tolist() for row in out[:, width:]]


def save_template_name(folder: str | Path, name: str, template: Any = None) -> None:
    """Record the sftdata template a saved model was trained with: its name in
    ``sfttrain_template.json`` and, given the template, the template itself as data in
    ``sftdata_template.json`` (what :func:`load_template` reads first)."""
    import sftdata as sd

    (Path(folder) / TEMPLATE_FILE).write_text(json.dumps({"template": name}), encoding="utf-8")
    if template is not None:
        sd.templates.save(template, Path(folder) / TEMPLATE_DATA)


def load_template(folder: str | Path, tokenizer: Any) -> Any:
    """The training template of a saved model: the template saved as data, else the
    recorded built-in one, else the tokenizer's jinja ``chat_template``."""
    import sftdata as sd

    if (Path(folder) / TEMPLATE_DATA).is_file():
        return sd.templates.load(Path(folder) / TEMPLATE_DATA)
    path = Path(folder) / TEMPLATE_FILE
    if path.is_file():
        name = json.loads(path.read_text(encoding="utf-8"))["template"]
        if name != "tokenizer":
            return sd.templates.get(name)
    return sd.templates.from_tokenizer(tokenizer)


def load_for_inference(
    path: str | Path, options: DecodeOptions | None = None
) -> tuple[Any, Any, Any]:
    """``(model, tokenizer, template)`` from a saved model folder or a LoRA adapter folder."""
    from sfttrain._model import load_tokenizer

    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"no model folder at {str(folder)!r}")
    tokenizer = load_tokenizer(folder)
    return load_model(str(folder), options), tokenizer, load_template(folder, tokenizer)


def load_draft(path: str | Path, model: Any, options: DecodeOptions | None = None) -> Any:
    """The draft model of assisted decoding; it must share the model's vocabulary."""
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"draft: no model folder at {str(folder)!r}")
    draft = load_model(str(folder), options)
    ours, theirs = model.config.vocab_size, draft.config.vocab_size
    if ours != theirs:
        raise ValueError(f"draft: vocabulary size {theirs} differs from the model's {ours}")
    return draft


def generate(
    model_path: str | Path,
    conversations: Sequence[Sequence[Any]],
    *,
    max_new_tokens: int = 64,
    batch_size: int = 8,
    do_sample: bool = False,
    temperature: float = 1.0,
    options: DecodeOptions | None = None,
) -> list[str]:
    """Load a saved model or adapter and reply to each conversation with its template.

    Prompts are encoded by sftdata with the training template (``sftdata_template.json``
    of an export), never by re-rendering the jinja ``chat_template``.

    >>> generate("runs/demo/export", [[{"role": "user", "content": "hi"}]])  # doctest: +SKIP
    ['Hello! How can I help?']
    """
    model, tokenizer, template = load_for_inference(model_path, options)
    draft = load_draft(options.draft, model, options) if options and options.draft else None
    return generate_replies(
        model,
        tokenizer,
        template,
        conversations,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        do_sample=do_sample,
        temperature=temperature,
        options=options,
        draft_model=draft,
    )
