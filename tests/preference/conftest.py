"""Fixtures of the preference area: the encode area's tokenizers, and usable template pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import sftdata as sd
from sftdata import SftDataError


def _with_every_control_token(tok: Any) -> Any:
    """``tok`` plus the control tokens of every built-in template it lacks, so that
    llama3, gemma, phi3 and their xtuner variants can be encoded too."""
    wanted = {
        t
        for name in sd.templates.names()
        for tpl in [sd.templates.get(name)]
        for t in (tpl.bos, tpl.eos, *tpl.control_tokens)
        if t
    }
    unk = getattr(tok, "unk_token_id", None)
    missing = sorted(t for t in wanted if tok.convert_tokens_to_ids(t) in (None, unk))
    tok.add_special_tokens({"additional_special_tokens": missing})
    return tok


@pytest.fixture(scope="session")
def pref_tokenizers(llama_tokenizer_dir: Path) -> dict[str, Any]:
    """The four tokenizers the encoder's batch tests use (plain LLaMA, LLaMA + ChatML
    tokens, LLaMA legacy=False + ChatML tokens, a byte-level BPE with ChatML tokens), and
    LLaMA and the BPE with every built-in template's control tokens."""
    from transformers import LlamaTokenizer

    from tests.encode.conftest import make_bpe_chatml_tokenizer, make_chatml_tokenizer

    first = LlamaTokenizer.from_pretrained(str(llama_tokenizer_dir), legacy=False)
    first.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    every = LlamaTokenizer.from_pretrained(str(llama_tokenizer_dir))
    return {
        "llama": LlamaTokenizer.from_pretrained(str(llama_tokenizer_dir)),
        "chatml": make_chatml_tokenizer(llama_tokenizer_dir),
        "first": first,
        "bpe": make_bpe_chatml_tokenizer(),
        "llama_every": _with_every_control_token(every),
        "bpe_every": _with_every_control_token(make_bpe_chatml_tokenizer()),
    }


@pytest.fixture(scope="session")
def usable_pairs(pref_tokenizers: dict[str, Any]) -> list[tuple[str, str]]:
    """(template, tokenizer) names where the tokenizer has every control token: every
    built-in template appears (with the *_every tokenizers at least)."""
    pairs = []
    for tok_name, tok in pref_tokenizers.items():
        for name in sd.templates.names():
            try:
                sd.EncodePreference(tok, name, max_length=8)
            except SftDataError:
                continue
            pairs.append((name, tok_name))
    return pairs


@pytest.fixture(scope="session")
def chatml_tokenizer(pref_tokenizers: dict[str, Any]) -> Any:
    return pref_tokenizers["chatml"]
