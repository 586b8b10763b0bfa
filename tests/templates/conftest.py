"""Fixtures of the templates tests: exact sentencepiece tokenizers, published templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

PUBLISHED = Path(__file__).parents[1] / "fixtures" / "templates" / "published_chat_templates.json"


def published() -> dict[str, dict[str, Any]]:
    """The published chat templates (see tests/fixtures/templates/README.md)."""
    return json.loads(PUBLISHED.read_text(encoding="utf-8"))["templates"]


def sentencepiece_tokenizer(model_path: Path, **kwargs: Any) -> Any:
    """transformers' sentencepiece-backed tokenizer: tokenizes exactly as sentencepiece."""
    from transformers.tokenization_utils_sentencepiece import SentencePieceBackend

    kwargs.setdefault("bos_token", "<s>")
    kwargs.setdefault("eos_token", "</s>")
    return SentencePieceBackend(vocab_file=str(model_path), unk_token="<unk>", **kwargs)


@pytest.fixture(scope="session")
def sp_tokenizer(sp_model_path: Path) -> Any:
    """The LLaMA-family sentencepiece model as a transformers tokenizer (no added tokens)."""
    return sentencepiece_tokenizer(sp_model_path)


@pytest.fixture(scope="session")
def family_tokenizers(sp_model_path: Path) -> dict[str, Any]:
    """Per published family: the sentencepiece tokenizer with the family's control tokens
    added as special tokens and its published ``chat_template`` set."""
    out = {}
    for name, spec in published().items():
        tok = sentencepiece_tokenizer(
            sp_model_path,
            bos_token=spec.get("bos_token", "<s>"),
            eos_token=spec.get("eos_token", "</s>"),
        )
        extra = [t for t in spec["control_tokens"] if t not in (tok.bos_token, tok.eos_token)]
        if extra:
            tok.add_special_tokens({"additional_special_tokens": extra})
        tok.chat_template = spec["chat_template"]
        out[name] = tok
    return out
