"""Tokenizers that prefix only the start of a call (Metaspace prepend_scheme="first"):
whole-string families get the ids of the whole rendered string, per-turn families keep
their per-turn pieces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sftdata as sd
from sftdata.templates import token_ids
from tests.encode.conftest import make_chatml_tokenizer
from tests.strategies import conversations, visible_content, words

#: Content without control-token lookalikes: the whole-string reference would read
#: "<|im_end|>" or "</s>" inside content as a control token; we never do.
_plain = st.one_of(words, visible_content.filter(lambda s: "<" not in s))


@pytest.fixture(scope="module")
def first_chatml(llama_tokenizer_dir: Path) -> Any:
    """The LLaMA sentencepiece tokenizer, legacy=False, plus the ChatML control tokens."""
    from transformers import LlamaTokenizer

    tok = LlamaTokenizer.from_pretrained(str(llama_tokenizer_dir), legacy=False)
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    assert "prepend_scheme=first" in str(tok.backend_tokenizer.pre_tokenizer)
    return tok


@pytest.fixture(scope="module")
def truncating_chatml(llama_tokenizer_dir: Path) -> Any:
    """The same tokenizer with truncation set: Encode takes its public-call path."""
    tok = make_chatml_tokenizer(llama_tokenizer_dir)
    tok.backend_tokenizer.enable_truncation(max_length=100_000)
    return tok


@settings(max_examples=30)
@given(messages=conversations(text=_plain), gen=st.booleans())
def test_chatml_ids_equal_whole_string_tokenization(
    messages: list[dict[str, str]], gen: bool, first_chatml: Any
) -> None:
    """Property: sd.encode ids == token_ids == tokenizer(render, add_special_tokens=False)."""
    template = sd.templates.get("chatml")
    whole = first_chatml(template.render(messages), add_special_tokens=False)["input_ids"]
    row = sd.encode(messages, first_chatml, template, max_length=100_000)
    assert row["input_ids"].tolist() == list(whole)
    assert token_ids(template.segments(messages), first_chatml) == list(whole)
    if gen:  # the generation prompt of the same conversation minus its last turn
        prompt = template.render(messages[:-1], add_generation_prompt=True)
        segs = template.segments(messages[:-1], add_generation_prompt=True)
        want = first_chatml(prompt, add_special_tokens=False)["input_ids"]
        assert token_ids(segs, first_chatml) == list(want)


@settings(max_examples=15)
@given(messages=conversations(text=_plain))
def test_text_after_bos_starts_a_call_and_text_after_eos_continues(
    messages: list[dict[str, str]], first_chatml: Any, truncating_chatml: Any
) -> None:
    """Property: vicuna ids == [BOS] + tokenizer(rest of the render) (one string, so text
    after </s> has no word-start prefix), by the Rust and the public path."""
    template = sd.templates.get("vicuna")
    rest = template.render(messages).removeprefix("<s>")
    bos = first_chatml.bos_token_id  # BOS as an id, then the rest as one string
    want = [bos, *first_chatml(rest, add_special_tokens=False)["input_ids"]]
    for tok in (first_chatml, truncating_chatml):
        row = sd.encode(messages, tok, template, max_length=100_000)
        assert row["input_ids"].tolist() == list(want)


def test_per_turn_families_keep_their_word_start_prefix(first_chatml: Any) -> None:
    """llama2 text after <s> starts a call (Meta encodes each pair): '▁[' not '['."""
    msgs = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]
    row = sd.encode(msgs, first_chatml, "llama2", max_length=64)
    assert first_chatml.convert_ids_to_tokens(row["input_ids"].tolist())[1] == "▁["


def test_tokenizer_pre_tokenizer_is_restored(first_chatml: Any) -> None:
    """Encoding leaves the tokenizer's own tokenization unchanged afterwards."""
    before = first_chatml("hello", add_special_tokens=False)["input_ids"]
    sd.Encode(first_chatml, "chatml", max_length=64)(
        {"messages": [[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]]}
    )
    assert first_chatml("hello", add_special_tokens=False)["input_ids"] == before
    assert "prepend_scheme=first" in str(first_chatml.backend_tokenizer.pre_tokenizer)
